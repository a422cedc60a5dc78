//! Collection mosaics: every item of a collection (filtered by datetime,
//! CQL2, ids) painted in order — newest first unless `sortby` says
//! otherwise — until the tile is full.

use super::query::{MOSAIC_PARAMS, Query, format, render_params};
use super::respond::cached;
use super::source::item_source;
use super::tms::{TILEJSON_PARAMS, forward_query, minmax_zoom, tilejson_doc, wmts_doc};
use super::{
    DEFAULT_TMS, document_tms, engine, load_collection, parse_tile, renders_of, tile_grid,
    tile_matrix_set, tilesize, wmts_sets,
};
use crate::api::AppState;
use crate::api::auth::scope;
use crate::api::error::{ApiError, ApiResult};
use crate::api::links::{Base, segment};
use crate::cache::{CacheKey, CachedTile};
use crate::catalog::SearchQuery;
use crate::raster::Output;
use actix_web::{HttpRequest, HttpResponse, web};
use indexmap::IndexMap;
use stac::api::{GetItems, GetSearch};
use std::sync::Arc;

/// `GET /collections/{c}/tiles/{tms}/{z}/{x}/{y}[@2x][.fmt]`
pub async fn tile(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String, String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, tms, z, x, y) = path.into_inner();
    tile_response(&req, &state, &collection, &tms, &z, &x, &y).await
}

/// `GET /collections/{c}/tiles/{z}/{x}/{y}` (WebMercatorQuad)
pub async fn tile_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, z, x, y) = path.into_inner();
    tile_response(&req, &state, &collection, DEFAULT_TMS, &z, &x, &y).await
}

/// The catalogue search behind a mosaic tile.
fn mosaic_query(
    state: &AppState,
    q: &Query,
    collection: &str,
    bbox: [f64; 4],
) -> ApiResult<SearchQuery> {
    let [w, s, e, n] = bbox;
    let bbox = format!(
        "{},{},{},{}",
        w.clamp(-180.0, 180.0),
        s.clamp(-90.0, 90.0),
        e.clamp(-180.0, 180.0),
        n.clamp(-90.0, 90.0)
    );
    let get = GetSearch {
        items: GetItems {
            limit: None,
            bbox: Some(bbox),
            datetime: q.one("datetime")?.map(str::to_string),
            fields: None,
            sortby: q.one("sortby")?.map(str::to_string),
            filter_crs: None,
            filter_lang: q.one("filter-lang")?.map(str::to_string),
            filter: q.one("filter")?.map(str::to_string),
            additional_fields: IndexMap::new(),
        },
        intersects: None,
        ids: q.one("ids")?.map(str::to_string),
        collections: None,
    };
    let mut query = SearchQuery::from_get(get, state.limits)?;
    query.collections = vec![collection.to_string()];
    query.limit = engine(state)?.max_items();
    Ok(query)
}

#[allow(clippy::too_many_arguments)]
async fn tile_response(
    req: &HttpRequest,
    state: &AppState,
    collection: &str,
    tms: &str,
    z: &str,
    x: &str,
    y: &str,
) -> ApiResult<HttpResponse> {
    let q = Query::parse(req.query_string());
    q.check(&[MOSAIC_PARAMS])?;
    let tms = tile_matrix_set(tms)?;
    let (address, ext) = parse_tile(z, x, y)?;
    let grid = tile_grid(tms, address, tilesize(&q)?)?;
    let format = format(&q, ext.as_deref())?;
    let scope = scope(req, state);
    let stored = load_collection(state, &scope, collection).await?;
    let presets = renders_of(state, &stored);
    let params = Arc::new(render_params(
        &q,
        presets.renders.as_ref(),
        presets.default_preset.as_deref(),
    )?);
    let wgs84 = tms
        .to_wgs84(grid.bounds)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let query = mosaic_query(state, &q, collection, wgs84)?;
    let page = state.catalog.search(&scope, &query).await?;
    let mut versions = String::new();
    let mut sources = Vec::with_capacity(page.items.len());
    for item in &page.items {
        versions.push_str(&item.id);
        versions.push('@');
        versions.push_str(&item.updated.to_string());
        versions.push('\n');
        let (source, bbox) = item_source(item)?;
        if !source.assets.is_empty() {
            let window = bbox.and_then(|b| footprint_window(tms, &grid, b));
            sources.push((source, window));
        }
    }
    let key = CacheKey::new(&[
        "mosaic-tile",
        collection,
        tms.id(),
        &format!("{}/{}/{}/{}", address.z, address.x, address.y, grid.width),
        format.extension(),
        &params.key(),
        &versions,
    ]);
    let engine = engine(state)?;
    cached(req, state, key, async move {
        let (encoded, report) = engine
            .mosaic(sources, params, grid, Output::new(format))
            .await?;
        let extra = vec![
            ("X-Mosaic-Items", report.items_read.to_string()),
            ("X-Mosaic-Failed", report.items_failed.to_string()),
        ];
        let tile = match encoded {
            Some(e) => CachedTile::new(e.bytes.into(), format.media_type()),
            None => CachedTile::new(Default::default(), format.media_type()),
        };
        Ok((tile, extra))
    })
    .await
}

/// The pixels of a tile an item's WGS84 bbox covers (plus a margin), or
/// `None` to render the whole tile.
fn footprint_window(
    tms: &crate::raster::tms::TileMatrixSet,
    grid: &crate::raster::Grid,
    bbox: [f64; 4],
) -> Option<crate::raster::engine::Window> {
    crate::raster::engine::window_of(grid, tms.from_wgs84(bbox).ok()?)
}

fn collection_path(collection: &str) -> String {
    format!("/collections/{}", segment(collection))
}

/// `GET /collections/{c}/{tms}/tilejson.json`
pub async fn tilejson(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, tms) = path.into_inner();
    tilejson_response(&req, &state, &collection, Some(&tms)).await
}

/// `GET /collections/{c}/tilejson.json[?tileMatrixSetId=…]`
pub async fn tilejson_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    tilejson_response(&req, &state, &path.into_inner(), None).await
}

async fn tilejson_response(
    req: &HttpRequest,
    state: &AppState,
    collection: &str,
    tms: Option<&str>,
) -> ApiResult<HttpResponse> {
    let q = Query::parse(req.query_string());
    q.check(&[TILEJSON_PARAMS])?;
    let tms = document_tms(&q, tms)?;
    let scope = scope(req, state);
    let stored = load_collection(state, &scope, collection).await?;
    let presets = renders_of(state, &stored);
    render_params(
        &q,
        presets.renders.as_ref(),
        presets.default_preset.as_deref(),
    )?;
    let base = Base::of(req, state.config.server.public_url.as_deref());
    let zooms = minmax_zoom(&q, &presets)?.unwrap_or((0, 18));
    let doc = tilejson_doc(
        &q,
        &base.url(&collection_path(collection)),
        tms,
        presets.title.as_deref().unwrap_or(collection),
        presets.bbox.unwrap_or([-180.0, -85.0, 180.0, 85.0]),
        zooms,
        presets.attribution.as_deref(),
    )?;
    Ok(HttpResponse::Ok().json(doc))
}

/// `GET /collections/{c}/{tms}/WMTSCapabilities.xml`
pub async fn wmts(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, tms) = path.into_inner();
    wmts_response(&req, &state, &collection, Some(&tms)).await
}

/// `GET /collections/{c}/WMTSCapabilities.xml` (every tile matrix set; one
/// layer per render preset when the request names none)
pub async fn wmts_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    wmts_response(&req, &state, &path.into_inner(), None).await
}

async fn wmts_response(
    req: &HttpRequest,
    state: &AppState,
    collection: &str,
    tms: Option<&str>,
) -> ApiResult<HttpResponse> {
    let q = Query::parse(req.query_string());
    q.check(&[TILEJSON_PARAMS])?;
    let sets = wmts_sets(tms)?;
    let scope = scope(req, state);
    let stored = load_collection(state, &scope, collection).await?;
    let presets = renders_of(state, &stored);
    render_params(
        &q,
        presets.renders.as_ref(),
        presets.default_preset.as_deref(),
    )?;
    let base = Base::of(req, state.config.server.public_url.as_deref());
    let root = base.url(&collection_path(collection));
    let title = presets
        .title
        .clone()
        .unwrap_or_else(|| collection.to_string());
    let template = |query: String| {
        format!(
            "{root}/tiles/{{TileMatrixSet}}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.{{FormatExtension}}{query}"
        )
    };
    let mut layers = Vec::new();
    match (&presets.renders, q.has_render_choice()) {
        (Some(renders), false) => {
            for (key, preset) in renders {
                let mut with = q.clone();
                with.0.push(("render".into(), key.clone()));
                let name = preset
                    .get("title")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or(key);
                layers.push((
                    format!("{collection}.{key}"),
                    format!("{title} — {name}"),
                    template(forward_query(&with)),
                ));
            }
        }
        _ => layers.push((collection.to_string(), title, template(forward_query(&q)))),
    }
    let zooms = minmax_zoom(&q, &presets)?.unwrap_or((0, 18));
    let xml = wmts_doc(
        &base.url(req.path()),
        &layers,
        presets.bbox.unwrap_or([-180.0, -85.0, 180.0, 85.0]),
        zooms,
        &sets,
    );
    Ok(HttpResponse::Ok().content_type("application/xml").body(xml))
}
