//! GetFeatureInfo: the values of the rendered bands under a pixel, and the
//! items they come from (newest first), as text, HTML, XML or GeoJSON.

use super::capabilities::root_name;
use super::exception::{WmsError, WmsResult};
use super::getmap::{items, resolve};
use super::params::{Kvp, Version, map_request, names};
use super::xml::{Xml, escape};
use crate::api::AppState;
use crate::api::auth::scope;
use crate::api::tiles::engine;
use crate::api::tiles::source::item_source;
use crate::raster::RasterError;
use crate::raster::crs::transform_point;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

/// Info formats offered.
const FORMATS: &[&str] = &["text/plain", "text/html", "text/xml", "application/json"];

/// The values one item gives at the point.
#[derive(Debug, Clone)]
struct Feature {
    layer: String,
    collection: String,
    item: String,
    datetime: Option<String>,
    bands: Vec<(String, Option<f64>)>,
}

/// Answers GetFeatureInfo.
pub async fn respond(
    req: &HttpRequest,
    state: &AppState,
    kvp: &Kvp,
    version: Version,
) -> WmsResult<HttpResponse> {
    let max = (state.config.wms.max_width, state.config.wms.max_height);
    // FORMAT is part of the map description but plays no role here.
    let kvp = kvp.with_default("FORMAT", "image/png");
    let map = map_request(&kvp, version, max, |c| state.wms.crs(c))?;
    let query_layers = names(kvp.require("QUERY_LAYERS")?);
    let info_format = kvp.get("INFO_FORMAT").unwrap_or("text/plain").trim();
    let info_format = info_format
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !FORMATS.contains(&info_format.as_str()) {
        return Err(WmsError::new(
            "InvalidFormat",
            "INFO_FORMAT",
            format!(
                "INFO_FORMAT '{info_format}' is not one of {}",
                FORMATS.join(", ")
            ),
        ));
    }
    let (i_name, j_name) = match version {
        Version::V130 => ("I", "J"),
        Version::V111 => ("X", "Y"),
    };
    let pixel = |name: &'static str, other: &'static str, size: usize| -> WmsResult<usize> {
        let raw = kvp
            .get(name)
            .or_else(|| kvp.get(other))
            .ok_or_else(|| WmsError::missing(name))?;
        raw.trim()
            .parse::<usize>()
            .ok()
            .filter(|v| *v < size)
            .ok_or_else(|| {
                WmsError::new(
                    "InvalidPoint",
                    name,
                    format!("{name} '{raw}' is not a pixel of the {size}-pixel map"),
                )
            })
    };
    let i = pixel(i_name, if i_name == "I" { "X" } else { "I" }, map.width)?;
    let j = pixel(j_name, if j_name == "J" { "Y" } else { "J" }, map.height)?;
    let count = match kvp.get("FEATURE_COUNT") {
        None => 1,
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=50).contains(n))
            .ok_or_else(|| {
                WmsError::invalid(
                    "FEATURE_COUNT",
                    format!("FEATURE_COUNT '{v}' is not 1 to 50"),
                )
            })?,
    };
    for q in &query_layers {
        if q == root_name(state) {
            return Err(WmsError::new(
                "LayerNotQueryable",
                "QUERY_LAYERS",
                format!(
                    "layer '{q}' (the root of all layers) is not queryable; query one of its layers"
                ),
            ));
        }
        if !map.layers.contains(q) {
            return Err(WmsError::new(
                "LayerNotDefined",
                "QUERY_LAYERS",
                format!("QUERY_LAYERS names '{q}', which is not in LAYERS"),
            ));
        }
    }
    // Styles of the queried layers as requested in LAYERS/STYLES.
    let styles: Vec<String> = query_layers
        .iter()
        .map(|q| {
            map.layers
                .iter()
                .position(|l| l == q)
                .and_then(|k| map.styles.get(k).cloned())
                .unwrap_or_default()
        })
        .collect();
    let scope = scope(req, state);
    let resolved = resolve(
        state,
        &scope,
        &query_layers,
        &styles,
        &[],
        map.time.as_deref(),
    )
    .await?;
    let [minx, miny, maxx, maxy] = map.bbox;
    let x = minx + (i as f64 + 0.5) * (maxx - minx) / map.width as f64;
    let y = maxy - (j as f64 + 0.5) * (maxy - miny) / map.height as f64;
    let (lon, lat) = transform_point(&map.crs.definition, "EPSG:4326", x, y)
        .map_err(|e| WmsError::new("InvalidPoint", i_name, e.to_string()))?;
    let engine = engine(state)?;
    let e = 1e-7;
    let mut features = Vec::new();
    for layer in &resolved {
        let found = items(
            state,
            &scope,
            &layer.layer.name,
            layer.times.as_deref(),
            [lon - e, lat - e, lon + e, lat + e],
            engine.max_items(),
        )
        .await?;
        let mut kept = 0;
        for item in &found {
            if kept == count {
                break;
            }
            let (source, _) = item_source(item)?;
            if source.assets.is_empty() {
                continue;
            }
            let values = match engine.point(source, layer.params.clone(), lon, lat).await {
                Ok(v) => v,
                Err(RasterError::BadAsset(m)) => {
                    tracing::warn!(item = %item.id, "GetFeatureInfo: item skipped: {m}");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if values.values.iter().all(Option::is_none) {
                continue;
            }
            kept += 1;
            let properties: Value = serde_json::from_str(&item.properties).unwrap_or(Value::Null);
            features.push(Feature {
                layer: layer.layer.name.clone(),
                collection: item.collection.clone(),
                item: item.id.clone(),
                datetime: properties
                    .get("datetime")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                bands: values.band_names.into_iter().zip(values.values).collect(),
            });
        }
    }
    let (media_type, body) = match info_format.as_str() {
        "text/html" => ("text/html; charset=utf-8", html(&features, lon, lat)),
        "text/xml" => ("text/xml; charset=utf-8", xml(&features, lon, lat)),
        "application/json" => ("application/json", geojson(&features, lon, lat)),
        _ => ("text/plain; charset=utf-8", text(&features, lon, lat)),
    };
    Ok(HttpResponse::Ok().content_type(media_type).body(body))
}

fn value_text(v: Option<f64>) -> String {
    match v {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => format!("{v}"),
        None => "nodata".into(),
    }
}

fn text(features: &[Feature], lon: f64, lat: f64) -> String {
    let mut out = format!("GetFeatureInfo at lon {lon:.6}, lat {lat:.6}\n");
    if features.is_empty() {
        out.push_str("no data at this point\n");
    }
    for f in features {
        out.push_str(&format!(
            "\nLayer '{}'\n  item {} (collection {}, datetime {})\n",
            f.layer,
            f.item,
            f.collection,
            f.datetime.as_deref().unwrap_or("-")
        ));
        for (band, v) in &f.bands {
            out.push_str(&format!("    {band} = {}\n", value_text(*v)));
        }
    }
    out
}

fn html(features: &[Feature], lon: f64, lat: f64) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>GetFeatureInfo</title></head><body>\n\
         <p>Values at lon {lon:.6}, lat {lat:.6}</p>\n"
    );
    if features.is_empty() {
        out.push_str("<p>No data at this point.</p>\n");
    }
    for f in features {
        out.push_str(&format!(
            "<table border=\"1\"><caption>{} — {} ({})</caption>\n<tr><th>band</th><th>value</th></tr>\n",
            escape(&f.layer),
            escape(&f.item),
            escape(f.datetime.as_deref().unwrap_or("-"))
        ));
        for (band, v) in &f.bands {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td></tr>\n",
                escape(band),
                value_text(*v)
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

fn xml(features: &[Feature], lon: f64, lat: f64) -> String {
    let mut x = Xml::new();
    let (lon, lat) = (format!("{lon}"), format!("{lat}"));
    x.open("FeatureInfoResponse", &[("lon", &lon), ("lat", &lat)]);
    for f in features {
        let datetime = f.datetime.clone().unwrap_or_default();
        x.open(
            "Feature",
            &[
                ("layer", &f.layer),
                ("collection", &f.collection),
                ("item", &f.item),
                ("datetime", &datetime),
            ],
        );
        for (band, v) in &f.bands {
            x.text("Value", &[("band", band)], &value_text(*v));
        }
        x.close();
    }
    x.finish()
}

fn geojson(features: &[Feature], lon: f64, lat: f64) -> String {
    let features: Vec<Value> = features
        .iter()
        .map(|f| {
            let values: serde_json::Map<String, Value> = f
                .bands
                .iter()
                .map(|(b, v)| (b.clone(), v.map_or(Value::Null, |v| json!(v))))
                .collect();
            json!({
                "type": "Feature",
                "id": f.item,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "layer": f.layer,
                    "collection": f.collection,
                    "item": f.item,
                    "datetime": f.datetime,
                    "values": values,
                }
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features}).to_string()
}
