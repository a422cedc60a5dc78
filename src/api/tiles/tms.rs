//! `/tileMatrixSets`, and the TileJSON and WMTS documents of items and mosaics.

use super::query::Query;
use super::source::CollectionRender;
use super::tile_matrix_set;
use crate::api::AppState;
use crate::api::error::{ApiError, ApiResult};
use crate::api::links::{Base, query_value};
use crate::raster::tms::{TileMatrixSet, WmtsLayer, tilejson, wmts_capabilities};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

/// Parameters of TileJSON and WMTS documents (besides the rendering ones,
/// which are passed on to the tile URLs).
pub const TILEJSON_PARAMS: &[&str] = &[
    "tileMatrixSetId",
    "tile_format",
    "tile_scale",
    "minzoom",
    "maxzoom",
    // Mosaic filters, passed on too.
    "datetime",
    "filter",
    "filter-lang",
    "sortby",
    "ids",
];

/// Parameters that describe the document, not the tiles.
const DOCUMENT_ONLY: &[&str] = &[
    "tileMatrixSetId",
    "tile_format",
    "tile_scale",
    "minzoom",
    "maxzoom",
];

/// `GET /tileMatrixSets`
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    let sets: Vec<Value> = crate::raster::tms::all()
        .iter()
        .map(|t| {
            let url = base.url(&format!("/tileMatrixSets/{}", t.id()));
            json!({
                "id": t.id(),
                "title": t.title(),
                "crs": t.crs_uri(),
                "links": [{"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                           "type": "application/json", "href": url}],
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "tileMatrixSets": sets,
        "links": [{"rel": "self", "type": "application/json", "href": base.url("/tileMatrixSets")}],
    }))
}

/// `GET /tileMatrixSets/{id}`
pub async fn one(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tms = tile_matrix_set(&path.into_inner())?;
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    let url = base.url(&format!("/tileMatrixSets/{}", tms.id()));
    Ok(HttpResponse::Ok().json(tms.ogc_json(&url)))
}

/// The request's query without the document-only parameters, as `?…` (or empty).
pub fn forward_query(q: &Query) -> String {
    let kept: Vec<String> =
        q.0.iter()
            .filter(|(k, _)| !DOCUMENT_ONLY.contains(&k.as_str()))
            .map(|(k, v)| format!("{}={}", query_value(k), query_value(v)))
            .collect();
    if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    }
}

fn zoom(q: &Query, key: &str) -> ApiResult<Option<u8>> {
    q.one(key)?
        .map(|v| {
            v.parse::<u8>()
                .map_err(|_| ApiError::bad_request(format!("{key} '{v}' is not a zoom level")))
        })
        .transpose()
}

/// The zoom range: `minzoom`/`maxzoom`, else the preset's `minmax_zoom`.
pub fn minmax_zoom(q: &Query, presets: &CollectionRender) -> ApiResult<Option<(u8, u8)>> {
    let preset = match q.one("render")? {
        Some(k) => Some(k.to_string()),
        None if !q.has_render_choice() => presets.default_preset.clone(),
        None => None,
    };
    let from_preset = preset
        .and_then(|k| {
            presets
                .renders
                .as_ref()?
                .get(&k)?
                .get("minmax_zoom")?
                .as_array()
                .cloned()
        })
        .and_then(|z| Some((z.first()?.as_u64()? as u8, z.get(1)?.as_u64()? as u8)));
    let (min, max) = (zoom(q, "minzoom")?, zoom(q, "maxzoom")?);
    Ok(match (min, max, from_preset) {
        (None, None, p) => p,
        (a, b, p) => Some((
            a.or(p.map(|p| p.0)).unwrap_or(0),
            b.or(p.map(|p| p.1)).unwrap_or(22),
        )),
    })
}

/// A TileJSON 3.0 document for tiles under `base_url/tiles/{tms}/…`.
pub fn tilejson_doc(
    q: &Query,
    base_url: &str,
    tms: &TileMatrixSet,
    name: &str,
    bounds: [f64; 4],
    (minzoom, maxzoom): (u8, u8),
    attribution: Option<&str>,
) -> ApiResult<Value> {
    let format = crate::raster::Format::parse(q.one("tile_format")?.unwrap_or("png"))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let scale = match q.one("tile_scale")? {
        None | Some("1") => "",
        Some("2") => "@2x",
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "tile_scale {other} is not 1 or 2"
            )));
        }
    };
    let template = format!(
        "{base_url}/tiles/{}/{{z}}/{{x}}/{{y}}{scale}.{}{}",
        tms.id(),
        format.extension(),
        forward_query(q)
    );
    let maxzoom = maxzoom.min(tms.max_zoom());
    Ok(tilejson(
        name,
        &template,
        minzoom.min(maxzoom),
        maxzoom,
        bounds,
        attribution,
    ))
}

/// A WMTS capabilities document with one layer per `(identifier, title, template)`.
pub fn wmts_doc(
    url: &str,
    layers: &[(String, String, String)],
    bounds: [f64; 4],
    (minzoom, maxzoom): (u8, u8),
    sets: &[&TileMatrixSet],
) -> String {
    let formats = ["image/png", "image/jpeg", "image/webp"];
    let layers: Vec<WmtsLayer> = layers
        .iter()
        .map(|(id, title, template)| WmtsLayer {
            identifier: id,
            title,
            abstract_: None,
            wgs84_bounds: bounds,
            formats: &formats,
            resource_template: template,
            minzoom,
            maxzoom,
        })
        .collect();
    wmts_capabilities("Tuilerie", url, &layers, sets)
}
