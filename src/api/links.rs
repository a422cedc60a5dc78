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

    /// The links every item carries, as a comma-separated JSON fragment
    /// (written in one buffer: ten of them go into every search page).
    pub fn item_links(&self, collection: &str, id: &str) -> String {
        // Percent-encoded segments hold no character JSON escapes; the base
        // URL and the id (the WMTS layer) may.
        let quoted = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        let base = quoted(&self.0);
        let base = &base[1..base.len() - 1];
        let collection_url = format!("{base}/collections/{}", segment(collection));
        let item_url = format!("{collection_url}/items/{}", segment(id));
        let layer = quoted(id);
        format!(
            "{{\"rel\":\"self\",\"type\":\"application/geo+json\",\"href\":\"{item_url}\"}},\
             {{\"rel\":\"parent\",\"type\":\"application/json\",\"href\":\"{collection_url}\"}},\
             {{\"rel\":\"collection\",\"type\":\"application/json\",\"href\":\"{collection_url}\"}},\
             {{\"rel\":\"root\",\"type\":\"application/json\",\"href\":\"{base}/\"}},\
             {{\"rel\":\"xyz\",\"type\":\"image/png\",\"title\":\"Tiles (default rendering)\",\"href\":\"{item_url}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png\"}},\
             {{\"rel\":\"tilejson\",\"type\":\"application/json\",\"title\":\"TileJSON\",\"href\":\"{item_url}/WebMercatorQuad/tilejson.json\"}},\
             {{\"rel\":\"wmts\",\"type\":\"application/xml\",\"title\":\"WMTS\",\"wmts:layer\":{layer},\"href\":\"{item_url}/WMTSCapabilities.xml\"}}"
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
        assert_eq!(links[3]["href"], "http://h\"x/");
        assert_eq!(
            links[4]["href"],
            "http://h\"x/collections/c/items/i%20d/tiles/WebMercatorQuad/{z}/{x}/{y}.png"
        );
        assert_eq!(links[6]["wmts:layer"], "i d");
    }
}
