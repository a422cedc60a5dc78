//! The WMS view of the catalogue: one layer per visible collection, one
//! style per `renders` preset, and the named root layer that stands for
//! all of them.

use super::exception::{WmsError, WmsResult};
use super::time::TimeDimension;
use crate::api::AppState;
use crate::api::tiles::query::{Query, render_params};
use crate::api::tiles::renders_of;
use crate::api::tiles::source::CollectionRender;
use crate::catalog::datetime::Micros;
use crate::catalog::{CollectionQuery, Scope, StoredCollection};
use crate::raster::RenderParams;
use serde_json::Value;
use std::sync::Arc;

/// A style of a layer.
#[derive(Debug, Clone)]
pub struct Style {
    /// Name (the preset key).
    pub name: String,
    /// Title (the preset's title, else its key).
    pub title: String,
}

/// A collection as a WMS layer.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Name: the collection id.
    pub name: String,
    /// Title.
    pub title: String,
    /// Abstract: the collection's description.
    pub description: String,
    /// Keywords.
    pub keywords: Vec<String>,
    /// WGS84 extent (west, south, east, north).
    pub bbox: [f64; 4],
    /// Styles, the default first.
    pub styles: Vec<Style>,
    /// Licence and providers, for the attribution.
    pub attribution: Option<String>,
    /// The collection's version (changes with its items).
    pub updated: Micros,
    /// Temporal extent from the collection document (first, last), days.
    pub temporal: Option<(Option<Micros>, Option<Micros>)>,
    /// Rendering presets.
    pub render: Arc<CollectionRender>,
    /// `classification:classes` of the item assets: value → name.
    pub classes: Vec<(f64, String)>,
}

/// The name of the default style of layers without presets.
pub const DEFAULT_STYLE: &str = "default";

impl Layer {
    /// Reads a stored collection.
    pub fn of(state: &AppState, c: &StoredCollection) -> Layer {
        let render = renders_of(state, c);
        let doc: Value = serde_json::from_str(&c.doc).unwrap_or(Value::Null);
        let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
        let mut styles = Vec::new();
        if let Some(renders) = &render.renders {
            let default = render.default_preset.as_deref();
            let mut keys: Vec<&String> = renders.keys().collect();
            keys.sort_by_key(|k| Some(k.as_str()) != default);
            for key in keys {
                let title = renders
                    .get(key.as_str())
                    .and_then(|p| p.get("title"))
                    .and_then(Value::as_str)
                    .unwrap_or(key)
                    .to_string();
                styles.push(Style {
                    name: key.clone(),
                    title,
                });
            }
        }
        if styles.is_empty() {
            styles.push(Style {
                name: DEFAULT_STYLE.into(),
                title: "Default rendering".into(),
            });
        }
        let temporal = doc
            .pointer("/extent/temporal/interval/0")
            .and_then(Value::as_array)
            .map(|i| {
                let at = |k: usize| {
                    i.get(k)
                        .and_then(Value::as_str)
                        .and_then(crate::catalog::datetime::parse_rfc3339)
                };
                (at(0), at(1))
            });
        let licence = text("license");
        let attribution = match (&render.attribution, licence) {
            (Some(a), Some(l)) => Some(format!("{a} ({l})")),
            (a, l) => a.clone().or(l),
        };
        Layer {
            name: c.id.clone(),
            title: render.title.clone().unwrap_or_else(|| c.id.clone()),
            description: text("description").unwrap_or_default(),
            keywords: doc
                .get("keywords")
                .and_then(Value::as_array)
                .map(|k| {
                    k.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            bbox: render.bbox.unwrap_or([-180.0, -90.0, 180.0, 90.0]),
            styles,
            attribution,
            updated: c.updated,
            temporal,
            classes: classes(&doc),
            render,
        }
    }

    /// The rendering of a style (empty or `default`: the default preset).
    pub fn params(&self, style: &str) -> WmsResult<RenderParams> {
        let style = style.trim();
        let renders = self.render.renders.as_ref();
        let chosen = if style.is_empty()
            || (style.eq_ignore_ascii_case(DEFAULT_STYLE)
                && !renders.is_some_and(|r| r.contains_key(style)))
        {
            None
        } else if renders.is_some_and(|r| r.contains_key(style)) {
            Some(style)
        } else {
            return Err(WmsError::new(
                "StyleNotDefined",
                "STYLES",
                format!(
                    "style '{style}' is not a style of layer '{}' (styles: {})",
                    self.name,
                    self.styles
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        let q = Query(
            chosen
                .map(|s| vec![("render".to_string(), s.to_string())])
                .unwrap_or_default(),
        );
        render_params(&q, renders, self.render.default_preset.as_deref()).map_err(WmsError::from)
    }

    /// The style name a request's style resolves to.
    pub fn style_name(&self, style: &str) -> String {
        let style = style.trim();
        if style.is_empty() || style.eq_ignore_ascii_case(DEFAULT_STYLE) {
            self.styles
                .first()
                .map(|s| s.name.clone())
                .unwrap_or_default()
        } else {
            style.to_string()
        }
    }
}

/// `classification:classes` of the first item asset that has them.
fn classes(doc: &Value) -> Vec<(f64, String)> {
    let Some(assets) = doc.get("item_assets").and_then(Value::as_object) else {
        return Vec::new();
    };
    for asset in assets.values() {
        let lists = std::iter::once(asset.get("classification:classes")).chain(
            asset
                .get("bands")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|b| b.get("classification:classes")),
        );
        for list in lists.flatten() {
            let found: Vec<(f64, String)> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    let value = c.get("value")?.as_f64()?;
                    let name = c
                        .get("description")
                        .or_else(|| c.get("name"))?
                        .as_str()?
                        .to_string();
                    Some((value, name))
                })
                .collect();
            if !found.is_empty() {
                return found;
            }
        }
    }
    Vec::new()
}

/// A collection's layer, read once per collection version.
pub fn layer_of(state: &AppState, c: &StoredCollection) -> Arc<Layer> {
    let key = (c.id.clone(), c.updated);
    if let Some(layer) = state.wms.layers.get(&key) {
        return layer;
    }
    let layer = Arc::new(Layer::of(state, c));
    state.wms.layers.insert(key, layer.clone());
    layer
}

/// Every collection the caller may see.
pub async fn visible(state: &AppState, scope: &Scope) -> WmsResult<Vec<StoredCollection>> {
    let mut out = Vec::new();
    let page_size = 1000;
    loop {
        let page = state
            .catalog
            .collections(
                scope,
                &CollectionQuery {
                    limit: page_size,
                    offset: out.len(),
                    ..Default::default()
                },
            )
            .await?;
        let n = page.collections.len();
        out.extend(page.collections);
        if n < page_size || out.len() as u64 >= page.number_matched {
            return Ok(out);
        }
    }
}

/// One layer by name, `LayerNotDefined` when absent or invisible.
pub async fn find(state: &AppState, scope: &Scope, name: &str) -> WmsResult<Arc<Layer>> {
    match state.catalog.collection(scope, name).await? {
        Some(c) => Ok(layer_of(state, &c)),
        None => Err(WmsError::new(
            "LayerNotDefined",
            "LAYERS",
            format!("layer '{name}' is not offered by this service"),
        )),
    }
}

/// The acquisition days of a layer's items (ascending); `exact` is false
/// when the store could not list them and they are the ends of the
/// collection's temporal extent.
#[derive(Debug, Clone, Default)]
pub struct Days {
    /// Midnights (UTC, microseconds).
    pub days: Vec<Micros>,
    /// True when every day is listed.
    pub exact: bool,
}

impl Days {
    /// (first, last) day.
    pub fn extent(&self) -> Option<(Micros, Micros)> {
        Some((*self.days.first()?, *self.days.last()?))
    }
}

/// The acquisition days of a layer, cached per collection version.
pub async fn days(state: &AppState, scope: &Scope, layer: &Layer) -> WmsResult<Arc<Days>> {
    let key = (layer.name.clone(), layer.updated);
    if let Some(d) = state.wms.days.get(&key) {
        return Ok(d);
    }
    let days = match state.catalog.item_days(scope, &layer.name).await? {
        Some(days) => Days { days, exact: true },
        None => match layer.temporal {
            Some((Some(a), b)) => {
                let day = 86_400_000_000;
                let end = b.unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
                Days {
                    days: vec![a - a.rem_euclid(day), end - end.rem_euclid(day)],
                    exact: false,
                }
            }
            _ => Days::default(),
        },
    };
    let days = Arc::new(days);
    state.wms.days.insert(key, days.clone());
    Ok(days)
}

/// The TIME dimension of a layer.
pub async fn time_dimension(
    state: &AppState,
    scope: &Scope,
    layer: &Layer,
) -> WmsResult<Option<TimeDimension>> {
    let days = days(state, scope, layer).await?;
    let max = if days.exact {
        state.config.wms.max_time_values
    } else {
        1
    };
    Ok(super::time::dimension(&days.days, max))
}
