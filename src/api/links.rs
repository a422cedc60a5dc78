//! Absolute links: every href is built from the configured public URL, or from
//! the request (scheme and host, honouring `Forwarded`/`X-Forwarded-*`).

use actix_web::HttpRequest;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};

/// Characters escaped in a path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// Characters escaped in a query value.
const QUERY_VALUE: &AsciiSet = &SEGMENT
    .add(b'&')
    .add(b'=')
    .add(b'+')
    .add(b'[')
    .add(b']')
    .add(b'\'');

/// Percent-encodes an id for use as a path segment.
pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Percent-encodes a query-string value.
pub fn query_value(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// Media types used in links and responses.
pub mod media {
    /// JSON.
    pub const JSON: &str = "application/json";
    /// GeoJSON (items and item collections).
    pub const GEOJSON: &str = "application/geo+json";
    /// JSON Schema (queryables).
    pub const SCHEMA: &str = "application/schema+json";
    /// OpenAPI 3.0 JSON.
    pub const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";
    /// HTML.
    pub const HTML: &str = "text/html";
}

/// The base URL links are built from, without a trailing slash.
#[derive(Debug, Clone)]
pub struct Base(pub String);

impl Base {
    /// The configured public URL, else the request's scheme and host.
    pub fn of(req: &HttpRequest, public_url: Option<&str>) -> Base {
        match public_url {
            Some(url) => Base(url.trim_end_matches('/').to_string()),
            None => {
                let info = req.connection_info();
                Base(format!("{}://{}", info.scheme(), info.host()))
            }
        }
    }

    /// An absolute URL for a path starting with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }

    /// A link object.
    pub fn link(&self, rel: &str, media_type: &str, path: &str) -> Value {
        json!({"rel": rel, "type": media_type, "href": self.url(path)})
    }

    /// A link object with a title.
    pub fn titled(&self, rel: &str, media_type: &str, path: &str, title: &str) -> Value {
        json!({"rel": rel, "type": media_type, "href": self.url(path), "title": title})
    }

    /// The links every item carries, as a comma-separated JSON fragment.
    pub fn item_links(&self, collection: &str, id: &str) -> String {
        let c = segment(collection);
        let collection_url = self.url(&format!("/collections/{c}"));
        let self_url = format!("{collection_url}/items/{}", segment(id));
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        let xyz = q(&format!(
            "{self_url}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
        ));
        let tilejson = q(&format!("{self_url}/WebMercatorQuad/tilejson.json"));
        let wmts = q(&format!("{self_url}/WMTSCapabilities.xml"));
        let layer = q(id);
        let (self_url, collection_url, root_url) =
            (q(&self_url), q(&collection_url), q(&self.url("/")));
        format!(
            "{{\"rel\":\"self\",\"type\":\"application/geo+json\",\"href\":{self_url}}},\
             {{\"rel\":\"parent\",\"type\":\"application/json\",\"href\":{collection_url}}},\
             {{\"rel\":\"collection\",\"type\":\"application/json\",\"href\":{collection_url}}},\
             {{\"rel\":\"root\",\"type\":\"application/json\",\"href\":{root_url}}},\
             {{\"rel\":\"xyz\",\"type\":\"image/png\",\"title\":\"Tiles (default rendering)\",\"href\":{xyz}}},\
             {{\"rel\":\"tilejson\",\"type\":\"application/json\",\"title\":\"TileJSON\",\"href\":{tilejson}}},\
             {{\"rel\":\"wmts\",\"type\":\"application/xml\",\"title\":\"WMTS\",\"wmts:layer\":{layer},\"href\":{wmts}}}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_ids() {
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(query_value("a&b=c+d"), "a%26b%3Dc%2Bd");
    }

    #[test]
    fn item_links_are_json() {
        let base = Base("http://h\"x".into());
        let links: Value =
            serde_json::from_str(&format!("[{}]", base.item_links("c", "i d"))).unwrap();
        assert_eq!(links[0]["href"], "http://h\"x/collections/c/items/i%20d");
    }
}
