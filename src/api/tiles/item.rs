//! Endpoints of one item: tiles, TileJSON, WMTS, preview, point, statistics, info.

use super::query::{Query, SIZE_PARAMS, format, render_params};
use super::respond::cached;
use super::source::item_source;
use super::tms::{TILEJSON_PARAMS, forward_query, minmax_zoom, tilejson_doc, wmts_doc};
use super::{
    DEFAULT_TMS, document_tms, engine, load_collection, load_item, parse_tile, renders_of,
    tile_grid, tile_matrix_set, tilesize, wmts_sets,
};
use crate::api::AppState;
use crate::api::auth::scope;
use crate::api::error::{ApiError, ApiResult};
use crate::api::links::{Base, segment};
use crate::cache::{CacheKey, CachedTile};
use crate::catalog::StoredItem;
use crate::raster::{ItemSource, Output, RenderParams};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// An item, its raster view and the rendering the request asks for.
pub struct Resolved {
    /// The stored item.
    pub item: StoredItem,
    /// What the engine reads.
    pub source: ItemSource,
    /// WGS84 bbox of the item.
    pub bbox: Option<[f64; 4]>,
    /// Rendering parameters.
    pub params: Arc<RenderParams>,
    /// The collection's preset zoom range, if any.
    pub zooms: Option<(u8, u8)>,
}

/// Loads the item and its collection's presets, and parses the rendering.
pub async fn resolve(
    req: &HttpRequest,
    state: &AppState,
    collection: &str,
    id: &str,
    q: &Query,
) -> ApiResult<Resolved> {
    let scope = scope(req, state);
    let item = load_item(state, &scope, collection, id).await?;
    let stored = load_collection(state, &scope, collection).await?;
    let presets = renders_of(state, &stored);
    let params = render_params(
        q,
        presets.renders.as_ref(),
        presets.default_preset.as_deref(),
    )?;
    let zooms = minmax_zoom(q, &presets)?;
    let (source, bbox) = item_source(&item)?;
    if source.assets.is_empty() {
        return Err(ApiError::not_found(format!(
            "item {collection}/{id} has no raster asset to render"
        )));
    }
    Ok(Resolved {
        item,
        source,
        bbox,
        params: Arc::new(params),
        zooms,
    })
}

/// `GET /collections/{c}/items/{i}/tiles/{tms}/{z}/{x}/{y}[@2x][.fmt]`
pub async fn tile(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String, String, String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id, tms, z, x, y) = path.into_inner();
    tile_response(&req, &state, &collection, &id, &tms, &z, &x, &y).await
}

/// `GET /collections/{c}/items/{i}/tiles/{z}/{x}/{y}` (WebMercatorQuad)
pub async fn tile_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String, String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id, z, x, y) = path.into_inner();
    tile_response(&req, &state, &collection, &id, DEFAULT_TMS, &z, &x, &y).await
}

#[allow(clippy::too_many_arguments)]
async fn tile_response(
    req: &HttpRequest,
    state: &AppState,
    collection: &str,
    id: &str,
    tms: &str,
    z: &str,
    x: &str,
    y: &str,
) -> ApiResult<HttpResponse> {
    let q = Query::parse(req.query_string());
    q.check(&[])?;
    let tms = tile_matrix_set(tms)?;
    let (address, ext) = parse_tile(z, x, y)?;
    let grid = tile_grid(tms, address, tilesize(&q)?)?;
    let format = format(&q, ext.as_deref())?;
    let r = resolve(req, state, collection, id, &q).await?;
    let key = CacheKey::new(&[
        "item-tile",
        collection,
        id,
        &r.item.updated.to_string(),
        tms.id(),
        &format!("{}/{}/{}/{}", address.z, address.x, address.y, grid.width),
        format.extension(),
        &r.params.key(),
    ]);
    let engine = engine(state)?;
    cached(req, state, key, async move {
        let encoded = engine
            .tile(r.source, r.params, grid, Output::new(format))
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "tile {}/{}/{} of {} is outside item {collection}/{id}",
                    address.z,
                    address.x,
                    address.y,
                    tms.id()
                ))
            })?;
        Ok((
            CachedTile::new(encoded.bytes.into(), format.media_type()),
            Vec::new(),
        ))
    })
    .await
}

fn item_path(collection: &str, id: &str) -> String {
    format!("/collections/{}/items/{}", segment(collection), segment(id))
}

/// `GET /collections/{c}/items/{i}/{tms}/tilejson.json`
pub async fn tilejson(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id, tms) = path.into_inner();
    tilejson_response(&req, &state, &collection, &id, Some(&tms)).await
}

/// `GET /collections/{c}/items/{i}/tilejson.json[?tileMatrixSetId=…]`
pub async fn tilejson_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id) = path.into_inner();
    tilejson_response(&req, &state, &collection, &id, None).await
}

async fn tilejson_response(
    req: &HttpRequest,
    state: &AppState,
    collection: &str,
    id: &str,
    tms: Option<&str>,
) -> ApiResult<HttpResponse> {
    let q = Query::parse(req.query_string());
    q.check(&[TILEJSON_PARAMS])?;
    let tms = document_tms(&q, tms)?;
    let r = resolve(req, state, collection, id, &q).await?;
    let base = Base::of(req, state.config.server.public_url.as_deref());
    let bounds = r.bbox.unwrap_or([-180.0, -85.0, 180.0, 85.0]);
    let zooms = match r.zooms {
        Some(z) => z,
        None => native_zooms(state, &r, tms).await?,
    };
    let title = format!("{collection} {id}");
    let doc = tilejson_doc(
        &q,
        &base.url(&item_path(collection, id)),
        tms,
        &title,
        bounds,
        zooms,
        None,
    )?;
    Ok(HttpResponse::Ok().json(doc))
}

/// Zoom range from the data: the native resolution (max) down to the
/// zoom where the first asset fits in one tile (min).
async fn native_zooms(
    state: &AppState,
    r: &Resolved,
    tms: &crate::raster::tms::TileMatrixSet,
) -> ApiResult<(u8, u8)> {
    let info = engine(state)?
        .info(r.source.clone(), r.params.clone())
        .await?;
    let Some((_, first)) = info.first() else {
        return Ok((0, tms.max_zoom()));
    };
    let Some(b) = first.wgs84_bounds else {
        return Ok((0, tms.max_zoom()));
    };
    // Resolution in the set's units from the WGS84 extent and the pixel count.
    let native = tms
        .from_wgs84(b)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let res = ((native[2] - native[0]) / first.size[0] as f64)
        .min((native[3] - native[1]) / first.size[1] as f64);
    let maxzoom = tms.zoom_for_resolution(res);
    let whole = (native[2] - native[0]).max(native[3] - native[1]) / 256.0;
    let minzoom = tms
        .zoom_for_resolution(whole)
        .saturating_sub(1)
        .min(maxzoom);
    Ok((minzoom, maxzoom))
}

/// `GET /collections/{c}/items/{i}/{tms}/WMTSCapabilities.xml`
pub async fn wmts(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id, tms) = path.into_inner();
    wmts_response(&req, &state, &collection, &id, Some(&tms)).await
}

/// `GET /collections/{c}/items/{i}/WMTSCapabilities.xml` (every tile matrix set)
pub async fn wmts_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id) = path.into_inner();
    wmts_response(&req, &state, &collection, &id, None).await
}

async fn wmts_response(
    req: &HttpRequest,
    state: &AppState,
    collection: &str,
    id: &str,
    tms: Option<&str>,
) -> ApiResult<HttpResponse> {
    let q = Query::parse(req.query_string());
    q.check(&[TILEJSON_PARAMS])?;
    let sets = wmts_sets(tms)?;
    let r = resolve(req, state, collection, id, &q).await?;
    let base = Base::of(req, state.config.server.public_url.as_deref());
    let bounds = r.bbox.unwrap_or([-180.0, -85.0, 180.0, 85.0]);
    let (minzoom, maxzoom) = r.zooms.unwrap_or((0, 24));
    let template = format!(
        "{}/tiles/{{TileMatrixSet}}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.{{FormatExtension}}{}",
        base.url(&item_path(collection, id)),
        forward_query(&q)
    );
    let xml = wmts_doc(
        &base.url(req.path()),
        &[(id.to_string(), format!("{collection} {id}"), template)],
        bounds,
        (minzoom, maxzoom),
        &sets,
    );
    Ok(HttpResponse::Ok().content_type("application/xml").body(xml))
}

fn max_size(state: &AppState, q: &Query) -> ApiResult<usize> {
    let limit = state.config.raster.max_preview_size;
    match q.one("max_size")? {
        None => Ok(1024.min(limit)),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=limit).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "max_size {s} is not between 1 and {limit}"
            ))),
        },
    }
}

/// `GET /collections/{c}/items/{i}/preview` (PNG)
pub async fn preview_png(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id) = path.into_inner();
    preview_response(&req, &state, &collection, &id, None).await
}

/// `GET /collections/{c}/items/{i}/preview.{fmt}`
pub async fn preview(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id, fmt) = path.into_inner();
    preview_response(&req, &state, &collection, &id, Some(&fmt)).await
}

async fn preview_response(
    req: &HttpRequest,
    state: &AppState,
    collection: &str,
    id: &str,
    ext: Option<&str>,
) -> ApiResult<HttpResponse> {
    let q = Query::parse(req.query_string());
    q.check(&[SIZE_PARAMS])?;
    let format = format(&q, ext)?;
    let size = max_size(state, &q)?;
    let r = resolve(req, state, collection, id, &q).await?;
    let key = CacheKey::new(&[
        "item-preview",
        collection,
        id,
        &r.item.updated.to_string(),
        &size.to_string(),
        format.extension(),
        &r.params.key(),
    ]);
    let engine = engine(state)?;
    cached(req, state, key, async move {
        let encoded = engine
            .preview(r.source, r.params, size, Output::new(format))
            .await?;
        Ok((
            CachedTile::new(encoded.bytes.into(), format.media_type()),
            Vec::new(),
        ))
    })
    .await
}

/// `GET /collections/{c}/items/{i}/point/{lon},{lat}`
pub async fn point(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id, lonlat) = path.into_inner();
    let q = Query::parse(req.query_string());
    q.check(&[])?;
    let (lon, lat) = lonlat
        .split_once(',')
        .and_then(|(a, b)| Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?)))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "point '{lonlat}' is not 'lon,lat' (e.g. 1.44,43.6)"
            ))
        })?;
    let r = resolve(&req, &state, &collection, &id, &q).await?;
    let values = engine(&state)?.point(r.source, r.params, lon, lat).await?;
    Ok(HttpResponse::Ok().json(values))
}

/// `GET /collections/{c}/items/{i}/statistics`
pub async fn statistics(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id) = path.into_inner();
    let q = Query::parse(req.query_string());
    q.check(&[SIZE_PARAMS])?;
    let size = max_size(&state, &q)?;
    let bins = match q.one("histogram_bins")? {
        None => 10,
        Some(b) => b
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("histogram_bins {b} is not 1..1000")))?,
    };
    let r = resolve(&req, &state, &collection, &id, &q).await?;
    let stats = engine(&state)?
        .statistics(r.source, r.params, size, bins)
        .await?;
    let mut out = Map::new();
    for (name, s) in stats {
        out.insert(name, json!(s));
    }
    Ok(HttpResponse::Ok().json(Value::Object(out)))
}

/// `GET /collections/{c}/items/{i}/info`
pub async fn info(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id) = path.into_inner();
    let q = Query::parse(req.query_string());
    q.check(&[])?;
    let mut r = resolve(&req, &state, &collection, &id, &q).await?;
    // Every raster asset unless the request names some.
    if q.all("assets").is_empty() {
        let mut p = (*r.params).clone();
        p.assets = r.source.assets.keys().cloned().collect();
        p.expression = None;
        r.params = Arc::new(p);
    }
    let infos = engine(&state)?.info(r.source, r.params).await?;
    let mut out = Map::new();
    for (asset, info) in infos {
        out.insert(asset, json!(info));
    }
    Ok(HttpResponse::Ok().json(Value::Object(out)))
}
