//! From catalogue records to what the raster engine reads.

use crate::api::error::{ApiError, ApiResult};
use crate::catalog::{StoredCollection, StoredItem};
use crate::raster::{AssetSource, BandMeta, ItemSource};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct ItemDoc {
    #[serde(default)]
    bbox: Vec<f64>,
    #[serde(default)]
    assets: BTreeMap<String, AssetDoc>,
}

#[derive(Deserialize)]
struct AssetDoc {
    href: String,
    #[serde(rename = "type")]
    media_type: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(rename = "eo:bands", default)]
    eo_bands: Vec<BandDoc>,
    #[serde(default)]
    bands: Vec<BandDoc>,
}

#[derive(Deserialize)]
struct BandDoc {
    name: Option<String>,
    #[serde(alias = "eo:common_name")]
    common_name: Option<String>,
}

/// True for assets GDAL can render: GeoTIFF / COG / JPEG 2000 media types,
/// or `.tif`/`.tiff`/`.jp2`/`.vrt` hrefs without a media type.
fn is_raster(asset: &AssetDoc) -> bool {
    if asset
        .roles
        .iter()
        .any(|r| r == "thumbnail" || r == "overview")
    {
        return false;
    }
    match asset.media_type.as_deref() {
        Some(t) => {
            let t = t.to_ascii_lowercase();
            t.starts_with("image/tiff") || t.starts_with("image/jp2") || t.contains("geotiff")
        }
        None => {
            let h = asset.href.to_ascii_lowercase();
            [".tif", ".tiff", ".jp2", ".vrt"]
                .iter()
                .any(|e| h.ends_with(e))
        }
    }
}

/// An item's raster assets and WGS84 bbox.
pub fn item_source(item: &StoredItem) -> ApiResult<(ItemSource, Option<[f64; 4]>)> {
    let doc: ItemDoc = serde_json::from_str(&item.doc)
        .map_err(|e| ApiError::internal(format!("stored item {} is unreadable: {e}", item.id)))?;
    let assets = doc
        .assets
        .into_iter()
        .filter(|(_, a)| is_raster(a))
        .map(|(k, a)| {
            let bands = if a.bands.is_empty() {
                a.eo_bands
            } else {
                a.bands
            };
            let bands = bands
                .into_iter()
                .map(|b| BandMeta {
                    name: b.name,
                    common_name: b.common_name,
                })
                .collect();
            (
                k,
                AssetSource {
                    href: a.href,
                    bands,
                },
            )
        })
        .collect();
    let bbox = match doc.bbox.as_slice() {
        [w, s, e, n] | [w, s, _, e, n, _] => Some([*w, *s, *e, *n]),
        _ => None,
    };
    Ok((
        ItemSource {
            key: format!("{}/{}", item.collection, item.id),
            version: item.updated.to_string(),
            assets,
        },
        bbox,
    ))
}

/// What the tile endpoints need of a collection.
#[derive(Debug, Clone, Default)]
pub struct CollectionRender {
    /// The `renders` presets.
    pub renders: Option<Map<String, Value>>,
    /// The preset used when a request chooses nothing.
    pub default_preset: Option<String>,
    /// Title, for TileJSON and WMTS.
    pub title: Option<String>,
    /// Spatial extent (the first bbox), WGS84.
    pub bbox: Option<[f64; 4]>,
    /// Attribution text from the providers.
    pub attribution: Option<String>,
}

/// Presets preferred as the default rendering, in order.
const DEFAULT_PRESETS: &[&str] = &["default", "visual", "truecolor", "true-color", "rgb"];

/// Reads a collection's presets, title and extent.
pub fn collection_render(c: &StoredCollection) -> CollectionRender {
    let Ok(doc) = serde_json::from_str::<Value>(&c.doc) else {
        return CollectionRender::default();
    };
    let renders = doc.get("renders").and_then(Value::as_object).cloned();
    let default_preset = renders.as_ref().and_then(|r| {
        DEFAULT_PRESETS
            .iter()
            .find(|k| r.contains_key(**k))
            .map(|k| k.to_string())
            .or_else(|| r.keys().next().cloned())
    });
    let bbox = doc
        .pointer("/extent/spatial/bbox/0")
        .and_then(Value::as_array)
        .and_then(|b| {
            let v: Vec<f64> = b.iter().filter_map(Value::as_f64).collect();
            match v.as_slice() {
                [w, s, e, n] | [w, s, _, e, n, _] => Some([*w, *s, *e, *n]),
                _ => None,
            }
        });
    let attribution = doc.get("providers").and_then(Value::as_array).map(|p| {
        p.iter()
            .filter_map(|p| p.get("name").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(", ")
    });
    CollectionRender {
        renders,
        default_preset,
        title: doc.get("title").and_then(Value::as_str).map(str::to_string),
        bbox,
        attribution: attribution.filter(|a| !a.is_empty()),
    }
}
