//! Tiles, TileJSON, WMTS, previews, point values and statistics of items
//! and collection mosaics (titiler-pgstac-compatible paths).
//!
//! Handlers parse the request, find the item(s) in the catalogue with the
//! caller's scope, and hand [`crate::raster`] an [`ItemSource`] and a grid.

pub mod item;
pub mod mosaic;
pub mod query;
pub mod respond;
pub mod source;
pub mod tms;

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::catalog::{CatalogError, Scope, StoredCollection, StoredItem};
use crate::raster::tms::{TILE_SIZE, TileMatrixSet};
use crate::raster::{Format, Grid};
use actix_web::web;
use source::{CollectionRender, collection_render};
use std::sync::Arc;

/// Registers the raster routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let c = "/collections/{collection}";
    let i = "/collections/{collection}/items/{item}";
    cfg.route("/tileMatrixSets", web::get().to(tms::list))
        .route("/tileMatrixSets/{tms}", web::get().to(tms::one))
        .route(
            &format!("{i}/tiles/{{tms}}/{{z}}/{{x}}/{{y}}"),
            web::get().to(item::tile),
        )
        .route(
            &format!("{i}/tiles/{{z}}/{{x}}/{{y}}"),
            web::get().to(item::tile_default),
        )
        .route(
            &format!("{i}/tilejson.json"),
            web::get().to(item::tilejson_default),
        )
        .route(
            &format!("{i}/{{tms}}/tilejson.json"),
            web::get().to(item::tilejson),
        )
        .route(
            &format!("{i}/WMTSCapabilities.xml"),
            web::get().to(item::wmts_default),
        )
        .route(
            &format!("{i}/{{tms}}/WMTSCapabilities.xml"),
            web::get().to(item::wmts),
        )
        .route(&format!("{i}/preview"), web::get().to(item::preview_png))
        .route(
            &format!("{i}/preview.{{format}}"),
            web::get().to(item::preview),
        )
        .route(&format!("{i}/point/{{lonlat}}"), web::get().to(item::point))
        .route(&format!("{i}/statistics"), web::get().to(item::statistics))
        .route(&format!("{i}/info"), web::get().to(item::info))
        .route(
            &format!("{c}/tiles/{{tms}}/{{z}}/{{x}}/{{y}}"),
            web::get().to(mosaic::tile),
        )
        .route(
            &format!("{c}/tiles/{{z}}/{{x}}/{{y}}"),
            web::get().to(mosaic::tile_default),
        )
        .route(
            &format!("{c}/tilejson.json"),
            web::get().to(mosaic::tilejson_default),
        )
        .route(
            &format!("{c}/{{tms}}/tilejson.json"),
            web::get().to(mosaic::tilejson),
        )
        .route(
            &format!("{c}/WMTSCapabilities.xml"),
            web::get().to(mosaic::wmts_default),
        )
        .route(
            &format!("{c}/{{tms}}/WMTSCapabilities.xml"),
            web::get().to(mosaic::wmts),
        );
}

/// The default tile matrix set of short paths.
pub const DEFAULT_TMS: &str = "WebMercatorQuad";

/// Looks up a tile matrix set (404 when unknown).
pub fn tile_matrix_set(id: &str) -> ApiResult<&'static TileMatrixSet> {
    crate::raster::tms::get(id).ok_or_else(|| {
        ApiError::not_found(format!(
            "tile matrix set '{id}' is not one of {}",
            crate::raster::tms::all()
                .iter()
                .map(|t| t.id())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The tile matrix set of a TileJSON document: the path's, else
/// `tileMatrixSetId=`, else WebMercatorQuad.
pub fn document_tms(q: &query::Query, in_path: Option<&str>) -> ApiResult<&'static TileMatrixSet> {
    match in_path {
        Some(t) => tile_matrix_set(t),
        None => tile_matrix_set(q.one("tileMatrixSetId")?.unwrap_or(DEFAULT_TMS)),
    }
}

/// The tile matrix sets of a WMTS document: the path's, else all.
pub fn wmts_sets(in_path: Option<&str>) -> ApiResult<Vec<&'static TileMatrixSet>> {
    Ok(match in_path {
        Some(t) => vec![tile_matrix_set(t)?],
        None => crate::raster::tms::all().iter().collect(),
    })
}

/// A tile address from the path: `{y}` may carry `@2x` and an extension.
#[derive(Debug, Clone, Copy)]
pub struct TileAddress {
    /// Zoom.
    pub z: u8,
    /// Column.
    pub x: u64,
    /// Row.
    pub y: u64,
    /// 1 (256 px) or 2 (512 px).
    pub scale: usize,
}

/// Parses `z`, `x` and `y[@Nx][.ext]`; returns the address and the extension.
pub fn parse_tile(z: &str, x: &str, tail: &str) -> ApiResult<(TileAddress, Option<String>)> {
    let (rest, ext) = match tail.split_once('.') {
        Some((r, e)) => (r, Some(e.to_string())),
        None => (tail, None),
    };
    let (y, scale) = match rest.split_once('@') {
        Some((y, s)) => {
            let scale = match s {
                "1x" => 1,
                "2x" => 2,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "tile scale '@{s}' is not @1x or @2x"
                    )));
                }
            };
            (y, scale)
        }
        None => (rest, 1),
    };
    let bad =
        |what: &str, v: &str| ApiError::not_found(format!("{what} '{v}' is not a tile index"));
    Ok((
        TileAddress {
            z: z.parse().map_err(|_| bad("zoom", z))?,
            x: x.parse().map_err(|_| bad("column", x))?,
            y: y.parse().map_err(|_| bad("row", y))?,
            scale,
        },
        ext,
    ))
}

/// The pixel grid of a tile (404 when out of the set's range).
pub fn tile_grid(tms: &TileMatrixSet, t: TileAddress, tilesize: Option<usize>) -> ApiResult<Grid> {
    let bounds = tms
        .tile_bounds(t.z, t.x, t.y)
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let size = tilesize.unwrap_or(TILE_SIZE as usize * t.scale);
    Ok(Grid {
        crs: format!("EPSG:{}", tms.epsg()),
        bounds,
        width: size,
        height: size,
    })
}

/// `tilesize=256|512`.
pub fn tilesize(q: &query::Query) -> ApiResult<Option<usize>> {
    match q.one("tilesize")? {
        None => Ok(None),
        Some("256") => Ok(Some(256)),
        Some("512") => Ok(Some(512)),
        Some(other) => Err(ApiError::bad_request(format!(
            "tilesize {other} is not 256 or 512"
        ))),
    }
}

/// A collection, or 404.
pub async fn load_collection(
    state: &AppState,
    scope: &Scope,
    collection: &str,
) -> ApiResult<StoredCollection> {
    state
        .catalog
        .collection(scope, collection)
        .await?
        .ok_or_else(|| CatalogError::CollectionNotFound(collection.to_string()).into())
}

/// An item, or 404 naming what is missing.
pub async fn load_item(
    state: &AppState,
    scope: &Scope,
    collection: &str,
    id: &str,
) -> ApiResult<StoredItem> {
    match state.catalog.item(scope, collection, id).await? {
        Some(item) => Ok(item),
        None => {
            load_collection(state, scope, collection).await?;
            Err(CatalogError::ItemNotFound {
                collection: collection.to_string(),
                item: id.to_string(),
            }
            .into())
        }
    }
}

/// A collection's presets, parsed once per collection version.
pub fn renders_of(state: &AppState, c: &StoredCollection) -> Arc<CollectionRender> {
    let key = (c.id.clone(), c.updated);
    if let Some(r) = state.renders.get(&key) {
        return r;
    }
    let r = Arc::new(collection_render(c));
    state.renders.insert(key, r.clone());
    r
}

/// The engine, or 503 when it could not start.
pub fn engine(state: &AppState) -> ApiResult<&crate::raster::Engine> {
    state.engine.as_deref().ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the raster engine is not running (see the server log)",
        )
    })
}

/// A media type's format name for messages.
pub fn format_name(f: Format) -> &'static str {
    f.extension()
}
