//! Image responses through the tile cache: ETag, 304, Cache-Control, X-Cache.

use crate::api::AppState;
use crate::api::error::ApiResult;
use crate::cache::{CacheKey, CachedTile};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use std::future::Future;

fn matches(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// The response for a tile (or an empty tile: 204).
pub fn respond(
    req: &HttpRequest,
    state: &AppState,
    tile: &CachedTile,
    cache: &str,
    extra: &[(&str, String)],
) -> HttpResponse {
    let control = state.config.cache.cache_control.as_str();
    if matches(req, &tile.etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, tile.etag.clone()))
            .insert_header((header::CACHE_CONTROL, control))
            .insert_header(("X-Cache", cache))
            .finish();
    }
    let mut builder = if tile.is_empty() {
        HttpResponse::NoContent()
    } else {
        HttpResponse::Ok()
    };
    builder
        .insert_header((header::ETAG, tile.etag.clone()))
        .insert_header((header::CACHE_CONTROL, control))
        .insert_header(("X-Cache", cache));
    for (k, v) in extra {
        builder.insert_header((*k, v.clone()));
    }
    if tile.is_empty() {
        builder.finish()
    } else {
        builder
            .content_type(tile.media_type.clone())
            .body(tile.bytes.clone())
    }
}

/// Answers from the cache, or produces, caches and answers.
pub async fn cached<F>(
    req: &HttpRequest,
    state: &AppState,
    key: CacheKey,
    produce: F,
) -> ApiResult<HttpResponse>
where
    F: Future<Output = ApiResult<(CachedTile, Vec<(&'static str, String)>)>>,
{
    if let Some(tile) = state.tiles.get(&key).await {
        return Ok(respond(req, state, &tile, "hit", &[]));
    }
    let (tile, extra) = produce.await?;
    state.tiles.insert(key, tile.clone()).await;
    Ok(respond(req, state, &tile, "miss", &extra))
}
