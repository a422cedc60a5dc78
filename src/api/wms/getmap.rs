//! GetMap: each layer is a mosaic of its collection's items over the
//! requested box (newest first, filtered by TIME), layers composited
//! bottom first with their opacity, encoded in the requested format.

use super::capabilities::root_name;
use super::exception::{ExceptionMode, WmsError, WmsResult};
use super::layers::{self, Layer};
use super::params::{ImageOptions, Kvp, MapRequest, Version, image_options, map_request};
use super::time;
use crate::api::AppState;
use crate::api::auth::scope;
use crate::api::tiles::engine;
use crate::api::tiles::respond::cached;
use crate::api::tiles::source::item_source;
use crate::cache::{CacheKey, CachedTile};
use crate::catalog::datetime::Interval;
use crate::catalog::geometry::Bounds;
use crate::catalog::query::Spatial;
use crate::catalog::{Scope, SearchQuery, StoredItem};
use crate::raster::crs::transform_bounds;
use crate::raster::engine::{Window, window_of};
use crate::raster::legend::{LINE, draw_text, wrap};
use crate::raster::{Grid, ItemSource, Output, RenderParams, Rgba};
use actix_web::{HttpRequest, HttpResponse};
use std::collections::HashSet;
use std::sync::Arc;

/// A requested layer, ready to render.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The layer.
    pub layer: Arc<Layer>,
    /// Its rendering.
    pub params: Arc<RenderParams>,
    /// Its opacity.
    pub opacity: f64,
    /// TIME intervals (`None`: the latest acquisition at each pixel).
    pub times: Option<Vec<Interval>>,
}

/// Resolves `LAYERS`/`STYLES`/`OPACITY`/`TIME` (the root layer stands for
/// every layer in its default style).
pub async fn resolve(
    state: &AppState,
    scope: &Scope,
    names: &[String],
    styles: &[String],
    opacity: &[f64],
    time: Option<&str>,
) -> WmsResult<Vec<Resolved>> {
    let mut out = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let style = styles.get(k).map(String::as_str).unwrap_or("");
        let opacity = opacity.get(k).copied().unwrap_or(1.0);
        let chosen: Vec<(Arc<Layer>, &str)> = if name == root_name(state) {
            if !(style.is_empty() || style.eq_ignore_ascii_case(layers::DEFAULT_STYLE)) {
                return Err(WmsError::new(
                    "StyleNotDefined",
                    "STYLES",
                    format!("the root layer '{name}' has only the default style"),
                ));
            }
            layers::visible(state, scope)
                .await?
                .iter()
                .map(|c| (layers::layer_of(state, c), ""))
                .collect()
        } else {
            vec![(layers::find(state, scope, name).await?, style)]
        };
        for (layer, style) in chosen {
            let params = Arc::new(layer.params(style)?);
            let times = match time {
                None => None,
                Some(raw) => {
                    let days = layers::days(state, scope, &layer).await?;
                    time::parse(raw, days.extent())?
                }
            };
            out.push(Resolved {
                layer,
                params,
                opacity,
                times,
            });
        }
    }
    Ok(out)
}

/// The request box in WGS84 (for the catalogue search).
pub fn wgs84_box(map: &MapRequest) -> WmsResult<[f64; 4]> {
    let b = transform_bounds(&map.crs.definition, "EPSG:4326", map.bbox).map_err(|e| {
        WmsError::invalid(
            "BBOX",
            format!("BBOX has no extent in longitude/latitude: {e}"),
        )
    })?;
    Ok([
        b[0].clamp(-180.0, 180.0),
        b[1].clamp(-90.0, 90.0),
        b[2].clamp(-180.0, 180.0),
        b[3].clamp(-90.0, 90.0),
    ])
}

/// Items of a layer over a WGS84 box, newest first (newest TIME value
/// first for lists), at most `limit`.
pub async fn items(
    state: &AppState,
    scope: &Scope,
    layer: &str,
    times: Option<&[Interval]>,
    wgs84: [f64; 4],
    limit: usize,
) -> WmsResult<Vec<StoredItem>> {
    let mut intervals: Vec<Option<Interval>> = match times {
        None => vec![None],
        Some(list) => list.iter().copied().map(Some).collect(),
    };
    intervals.sort_by_key(|i| std::cmp::Reverse(i.and_then(|i| i.start)));
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for interval in intervals {
        let mut query = SearchQuery::all(limit);
        query.collections = vec![layer.to_string()];
        query.spatial = Some(Spatial::Boxes(vec![Bounds {
            minx: wgs84[0],
            miny: wgs84[1],
            maxx: wgs84[2],
            maxy: wgs84[3],
        }]));
        query.datetime = interval;
        let page = state.catalog.search(scope, &query).await?;
        for item in page.items {
            if out.len() < limit && seen.insert(item.id.clone()) {
                out.push(item);
            }
        }
    }
    Ok(out)
}

/// Item sources with the pixel window of the grid each covers.
fn sources(
    items: &[StoredItem],
    grid: &Grid,
    versions: &mut String,
) -> WmsResult<Vec<(ItemSource, Option<Window>)>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        versions.push_str(&item.id);
        versions.push('@');
        versions.push_str(&item.updated.to_string());
        versions.push('\n');
        let (source, bbox) = item_source(item)?;
        if source.assets.is_empty() {
            continue;
        }
        let window = bbox
            .and_then(|b| transform_bounds("EPSG:4326", &grid.crs, b).ok())
            .and_then(|b| window_of(grid, b));
        out.push((source, window));
    }
    Ok(out)
}

/// Answers GetMap, drawing errors into the image when `EXCEPTIONS` asks.
pub async fn respond(
    req: &HttpRequest,
    state: &AppState,
    kvp: &Kvp,
    version: Version,
) -> WmsResult<HttpResponse> {
    let max = (state.config.wms.max_width, state.config.wms.max_height);
    let options = image_options(kvp, max);
    match get_map(req, state, kvp, version).await {
        Ok(r) => Ok(r),
        Err(e) => match (options.exceptions, options.size) {
            (ExceptionMode::Xml, _) | (_, None) => Err(e),
            (mode, Some(size)) => exception_image(state, &e, mode, size, options).await,
        },
    }
}

async fn get_map(
    req: &HttpRequest,
    state: &AppState,
    kvp: &Kvp,
    version: Version,
) -> WmsResult<HttpResponse> {
    let max = (state.config.wms.max_width, state.config.wms.max_height);
    let map = map_request(kvp, version, max, |c| state.wms.crs(c))?;
    let scope = scope(req, state);
    let layers = resolve(
        state,
        &scope,
        &map.layers,
        &map.styles,
        &map.opacity,
        map.time.as_deref(),
    )
    .await?;
    let engine = engine(state)?;
    let wgs84 = wgs84_box(&map)?;
    let grid = Grid {
        crs: map.crs.definition.clone(),
        bounds: map.bbox,
        width: map.width,
        height: map.height,
    };
    let mut versions = String::new();
    let mut plan = Vec::with_capacity(layers.len());
    for l in &layers {
        let found = items(
            state,
            &scope,
            &l.layer.name,
            l.times.as_deref(),
            wgs84,
            engine.max_items(),
        )
        .await?;
        versions.push_str(&format!(
            "{}|{}|{}\n",
            l.layer.name,
            l.params.key(),
            l.opacity
        ));
        plan.push((
            sources(&found, &grid, &mut versions)?,
            l.params.clone(),
            l.opacity,
        ));
    }
    let key = CacheKey::new(&[
        "wms-map",
        &map.crs.definition,
        &format!("{:?}", map.bbox),
        &format!("{}x{}", map.width, map.height),
        map.format.extension(),
        &format!("{}{:?}", map.transparent, map.bgcolor),
        &versions,
    ]);
    let output = Output {
        format: map.format,
        transparent: map.transparent,
        background: map.bgcolor,
    };
    cached(req, state, key, async move {
        let mut canvas: Option<Rgba> = None;
        let mut painted = 0;
        for (sources, params, opacity) in plan {
            let (image, report) = engine.mosaic_image(sources, params, grid.clone()).await?;
            painted += report.items_read;
            if let Some(image) = image {
                match canvas.as_mut() {
                    None if opacity >= 1.0 => canvas = Some(image),
                    None => {
                        let mut c = Rgba::transparent(grid.width, grid.height);
                        c.draw_over(&image, opacity);
                        canvas = Some(c);
                    }
                    Some(c) => c.draw_over(&image, opacity),
                }
            }
        }
        let canvas = canvas.unwrap_or_else(|| Rgba::transparent(grid.width, grid.height));
        let encoded = engine.encode(canvas, output).await?;
        Ok((
            CachedTile::new(encoded.bytes.into(), map.format.media_type()),
            vec![("X-Mosaic-Items", painted.to_string())],
        ))
    })
    .await
    .map_err(WmsError::from)
}

/// An INIMAGE or BLANK exception: an image of the requested size.
async fn exception_image(
    state: &AppState,
    error: &WmsError,
    mode: ExceptionMode,
    (width, height): (usize, usize),
    options: ImageOptions,
) -> WmsResult<HttpResponse> {
    let format = options.format.unwrap_or_default();
    let mut image = Rgba::transparent(width, height);
    if !options.transparent {
        let [r, g, b] = options.bgcolor;
        for p in image.data.chunks_exact_mut(4) {
            p.copy_from_slice(&[r, g, b, 255]);
        }
    }
    if mode == ExceptionMode::InImage {
        let text = match error.code {
            Some(code) => format!("{code}: {}", error.message),
            None => error.message.clone(),
        };
        for (k, line) in wrap(&text, width.saturating_sub(8)).iter().enumerate() {
            draw_text(&mut image, 4, 4 + k * LINE, line, [200, 0, 0, 255]);
        }
    }
    let encoded = engine(state)?
        .encode(
            image,
            Output {
                format,
                transparent: options.transparent,
                background: options.bgcolor,
            },
        )
        .await?;
    Ok(HttpResponse::Ok()
        .content_type(format.media_type())
        .insert_header(("X-WMS-Exception", error.code.unwrap_or("ServerError")))
        .body(encoded.bytes))
}
