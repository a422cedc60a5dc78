//! `/viewer`: the web viewer (MapLibre GL JS, bundled from `viewer/` by the
//! build script and embedded in the binary), its configuration
//! (`/viewer/config.json`, from the `[viewer]` settings) and its files
//! (`/viewer/assets/…`, content-hashed names, cached for a year).
//!
//! `GET /` from a browser (an `Accept` that prefers `text/html` to JSON) is
//! redirected here by [`wants_html`]; API clients still get the landing page.

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::links::Base;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Component, Path};
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/viewer_assets.rs"));

/// `Cache-Control` of content-hashed files.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Registers `/viewer`, `/viewer/config.json` and `/viewer/{file}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/viewer", web::get().to(index))
        .route("/viewer/config.json", web::get().to(config))
        .route("/viewer/{file:.+}", web::get().to(asset));
}

/// An embedded file and its entity tag.
struct Embedded {
    bytes: &'static [u8],
    etag: String,
}

fn embedded() -> &'static HashMap<&'static str, Embedded> {
    static TABLE: OnceLock<HashMap<&'static str, Embedded>> = OnceLock::new();
    TABLE.get_or_init(|| {
        VIEWER_ASSETS
            .iter()
            .map(|(path, bytes)| {
                let etag = format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(bytes));
                (*path, Embedded { bytes, etag })
            })
            .collect()
    })
}

/// The content type of a file, by its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A file of the viewer: from `viewer.assets_dir` when set, else embedded.
/// `None` when there is no such file.
fn file(state: &AppState, path: &str) -> ApiResult<Option<(Cow<'static, [u8]>, String)>> {
    let Some(dir) = &state.config.viewer.assets_dir else {
        return Ok(embedded()
            .get(path)
            .map(|e| (Cow::Borrowed(e.bytes), e.etag.clone())));
    };
    // Development: only plain relative paths, never `..` or absolute ones.
    let relative = Path::new(path);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Ok(None);
    }
    match std::fs::read(dir.join(relative)) {
        Ok(bytes) => {
            let etag = format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(&bytes));
            Ok(Some((Cow::Owned(bytes), etag)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ApiError::internal(format!(
            "viewer file {}: {e}",
            dir.join(relative).display()
        ))),
    }
}

fn disabled() -> ApiError {
    ApiError::not_found("the web viewer is disabled (viewer.enabled = false)")
}

fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn respond(
    req: &HttpRequest,
    bytes: Vec<u8>,
    etag: String,
    content_type: &str,
    cache: &str,
) -> HttpResponse {
    let mut res = if not_modified(req, &etag) {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok().content_type(content_type).body(bytes)
    };
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(cache) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Escapes text for an HTML attribute value.
fn attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `GET /viewer`: the page, with its base URL filled in (so that its relative
/// URLs work behind a proxy and with or without a trailing slash).
pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if !state.config.viewer.enabled {
        return Err(disabled());
    }
    let Some((bytes, _)) = file(&state, "index.html")? else {
        return Err(ApiError::internal("the viewer has no index.html"));
    };
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    let page = String::from_utf8_lossy(&bytes)
        .replace("%BASE%", &attribute(&base.url("/viewer/")))
        .into_bytes();
    let etag = format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(&page));
    Ok(respond(
        &req,
        page,
        etag,
        "text/html; charset=utf-8",
        "no-cache",
    ))
}

/// `GET /viewer/config.json`: what the page needs from the server's settings.
pub async fn config(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let v = &state.config.viewer;
    if !v.enabled {
        return Err(disabled());
    }
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    let basemap = (!v.basemap_url.is_empty()).then(|| {
        json!({
            "url": v.basemap_url,
            "attribution": v.basemap_attribution,
            "max_zoom": v.basemap_max_zoom,
        })
    });
    let doc = json!({
        "title": state.config.catalog.title,
        "api": base.url(""),
        "wms": base.url("/wms?SERVICE=WMS&REQUEST=GetCapabilities"),
        "basemap": basemap,
        "center": v.center,
        "zoom": v.zoom,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(doc))
}

/// `GET /viewer/{file}`: a file of the bundle.
pub async fn asset(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if !state.config.viewer.enabled {
        return Err(disabled());
    }
    let path = path.into_inner();
    let Some((bytes, etag)) = file(&state, &path)? else {
        return Err(ApiError::not_found(format!("no viewer file '{path}'")));
    };
    let cache = if path.starts_with("assets/") && state.config.viewer.assets_dir.is_none() {
        IMMUTABLE
    } else {
        "no-cache"
    };
    Ok(respond(
        &req,
        bytes.into_owned(),
        etag,
        content_type(&path),
        cache,
    ))
}

/// True when the request's `Accept` header prefers HTML to JSON (a browser):
/// `text/html` or `application/xhtml+xml` with a higher quality than any
/// JSON type. `*/*` alone (curl, most HTTP libraries) is not a preference.
pub fn wants_html(req: &HttpRequest) -> bool {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let (mut html, mut json) = (0.0_f32, 0.0_f32);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "text/html" | "application/xhtml+xml" => html = html.max(q),
            "application/json" | "application/geo+json" | "application/*" => json = json.max(q),
            _ => {}
        }
    }
    html > 0.0 && html > json
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn accept(value: &str) -> bool {
        wants_html(
            &TestRequest::default()
                .insert_header((header::ACCEPT, value))
                .to_http_request(),
        )
    }

    #[test]
    fn browsers_want_html_api_clients_do_not() {
        assert!(accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(accept("text/html"));
        assert!(!accept("*/*"));
        assert!(!accept("application/json"));
        assert!(!accept("application/json, text/html"));
        assert!(!accept("text/html;q=0.5, application/json"));
        assert!(!accept("text/html;q=0"));
        assert!(!wants_html(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type("assets/main-AB12.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("assets/main-AB12.css"),
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.unknown"), "application/octet-stream");
    }

    #[test]
    fn the_bundle_is_embedded() {
        assert!(embedded().contains_key("index.html"));
    }
}
