//! GetLegendGraphic: a colour bar for colormaps, a class list for
//! classified products, the channels of colour composites.

use super::exception::{WmsError, WmsResult};
use super::layers::{self, Layer};
use super::params::{Kvp, Version, image_format};
use crate::api::AppState;
use crate::api::auth::scope;
use crate::api::tiles::engine;
use crate::raster::legend::Legend;
use crate::raster::{Output, RenderParams};
use actix_web::{HttpRequest, HttpResponse};

/// What each output band of a rendering shows, without reading data.
pub fn output_labels(params: &RenderParams) -> Vec<String> {
    if let Some(e) = &params.expression {
        return e.split(';').map(|s| s.trim().to_string()).collect();
    }
    match (params.assets.as_slice(), params.bidx.as_slice()) {
        ([asset], bands) if !bands.is_empty() => {
            bands.iter().map(|b| format!("{asset} b{b}")).collect()
        }
        (assets, _) => assets.to_vec(),
    }
}

/// The legend of a layer's style.
pub fn legend_of(layer: &Layer, style: &str) -> WmsResult<Legend> {
    let params = layer.params(style)?;
    let name = layer.style_name(style);
    let title = layer
        .styles
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.title.clone())
        .unwrap_or(name);
    Ok(Legend::of(
        &title,
        &params,
        &output_labels(&params),
        &layer.classes,
    ))
}

/// Answers GetLegendGraphic (`LAYER`, `STYLE`, `FORMAT`, optional
/// `WIDTH`/`HEIGHT`, `TRANSPARENT`).
pub async fn respond(
    req: &HttpRequest,
    state: &AppState,
    kvp: &Kvp,
    _version: Version,
) -> WmsResult<HttpResponse> {
    let name = kvp.require("LAYER")?;
    let format = match kvp.get("FORMAT") {
        Some(f) => image_format(f)?,
        None => crate::raster::Format::Png,
    };
    let scope = scope(req, state);
    let layer = layers::find(state, &scope, name).await.map_err(|mut e| {
        e.locator = Some("LAYER");
        e
    })?;
    let legend = legend_of(&layer, kvp.get("STYLE").unwrap_or("")).map_err(|mut e| {
        e.locator = Some("STYLE");
        e
    })?;
    let dimension = |key: &'static str| -> WmsResult<Option<usize>> {
        match kvp.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=2048).contains(n))
                .map(Some)
                .ok_or_else(|| {
                    WmsError::invalid(key, format!("{key} '{v}' is not between 1 and 2048"))
                }),
        }
    };
    let (natural_w, natural_h) = legend.size();
    let size = match (dimension("WIDTH")?, dimension("HEIGHT")?) {
        (None, None) => None,
        (w, h) => Some((w.unwrap_or(natural_w), h.unwrap_or(natural_h))),
    };
    let transparent = kvp
        .get("TRANSPARENT")
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("true"));
    let image = legend.draw(size, (!transparent).then_some([255, 255, 255]));
    let encoded = engine(state)?
        .encode(
            image,
            Output {
                format,
                transparent,
                background: [255, 255, 255],
            },
        )
        .await?;
    Ok(HttpResponse::Ok()
        .content_type(format.media_type())
        .insert_header(("Cache-Control", state.config.cache.cache_control.as_str()))
        .body(encoded.bytes))
}
