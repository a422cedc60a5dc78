//! Rendering parameters from a query string (titiler- and STAC-render-compatible).
//!
//! Unlike the STAC endpoints, some parameters may repeat (`bidx=1&bidx=2`,
//! `rescale=0,3000&rescale=0,2000`, `assets=B04&assets=B03`); comma-separated
//! lists work too. A collection's `renders` preset (`render=<key>`) gives
//! defaults that explicit parameters override.

use crate::api::error::{ApiError, ApiResult};
use crate::raster::colormap::Colormap;
use crate::raster::{Format, RenderParams, Resampling};
use serde_json::Value;

/// Parameters every image endpoint understands.
const RENDER_PARAMS: &[&str] = &[
    "assets",
    "asset_bidx",
    "bidx",
    "expression",
    "asset_as_band",
    "rescale",
    "colormap_name",
    "colormap",
    "nodata",
    "resampling",
    "resampling_method",
    "render",
    "format",
    "tilesize",
    "return_mask",
    // Authentication and cache busting, ignored here.
    "api_key",
    "t",
    "_",
];

/// Extra parameters of collection mosaics.
pub const MOSAIC_PARAMS: &[&str] = &["datetime", "filter", "filter-lang", "sortby", "ids"];

/// Extra parameters of previews and statistics.
pub const SIZE_PARAMS: &[&str] = &["max_size", "width", "height", "histogram_bins"];

/// A multi-valued query string.
#[derive(Debug, Default, Clone)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses a raw query string. An `api_key` credential stays in (the
    /// authentication middleware reads it; documents forward it into the
    /// tile URLs they advertise) but never reaches rendering.
    pub fn parse(raw: &str) -> Query {
        Query(
            url::form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Every value of a parameter.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of a parameter that may be given once.
    pub fn one(&self, key: &str) -> ApiResult<Option<&str>> {
        let all = self.all(key);
        match all.len() {
            0 => Ok(None),
            1 => Ok(Some(all[0])),
            _ => Err(ApiError::bad_request(format!(
                "parameter '{key}' is given more than once"
            ))),
        }
    }

    /// Rejects parameters not in the lists.
    pub fn check(&self, extra: &[&[&str]]) -> ApiResult<()> {
        for (k, _) in &self.0 {
            let known = RENDER_PARAMS.contains(&k.as_str())
                || k == crate::api::auth::KEY_PARAM
                || extra.iter().any(|list| list.contains(&k.as_str()));
            if !known {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter '{k}' (rendering parameters: {})",
                    RENDER_PARAMS[..15].join(", ")
                )));
            }
        }
        Ok(())
    }

    /// True when the request says anything about what to render.
    pub fn has_render_choice(&self) -> bool {
        self.0.iter().any(|(k, _)| {
            matches!(
                k.as_str(),
                "assets" | "asset_bidx" | "bidx" | "expression" | "render"
            )
        })
    }
}

fn split(values: &[&str]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn band_list(text: &str, what: &str) -> ApiResult<Vec<usize>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "{what}: '{s}' is not a band index (1, 2, …)"
            ))),
        })
        .collect()
}

fn rescale_pair(text: &str) -> ApiResult<(f64, f64)> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let bad = || {
        ApiError::bad_request(format!(
            "rescale '{text}' is not 'min,max' (e.g. rescale=0,3000)"
        ))
    };
    if parts.len() != 2 {
        return Err(bad());
    }
    let lo: f64 = parts[0].parse().map_err(|_| bad())?;
    let hi: f64 = parts[1].parse().map_err(|_| bad())?;
    if !lo.is_finite() || !hi.is_finite() || lo == hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

fn nodata_value(text: &str) -> ApiResult<f64> {
    match text.trim().to_ascii_lowercase().as_str() {
        "nan" => Ok(f64::NAN),
        t => t.parse::<f64>().map_err(|_| {
            ApiError::bad_request(format!("nodata '{text}' is not a number or 'nan'"))
        }),
    }
}

fn named_colormap(name: &str) -> ApiResult<(String, Colormap)> {
    let cm = Colormap::named(name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "colormap_name '{name}' is not one of {}",
            crate::raster::colormap::NAMES
                .iter()
                .filter(|n| !n.ends_with("_r"))
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    Ok((format!("name:{}", name.to_ascii_lowercase()), cm))
}

fn json_colormap(text: &str) -> ApiResult<(String, Colormap)> {
    let cm = Colormap::from_json(text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((format!("json:{text}"), cm))
}

/// Applies a STAC render-extension preset (a collection's `renders` entry).
fn apply_preset(params: &mut RenderParams, preset: &Value) -> ApiResult<()> {
    let bad = |what: &str| {
        ApiError::internal(format!(
            "the collection's render preset has an invalid '{what}'"
        ))
    };
    if let Some(a) = preset.get("assets").and_then(Value::as_array) {
        params.assets = a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
    }
    if let Some(b) = preset.get("bidx").and_then(Value::as_array) {
        params.bidx = b
            .iter()
            .map(|v| {
                v.as_u64()
                    .filter(|&n| n >= 1)
                    .map(|n| n as usize)
                    .ok_or_else(|| bad("bidx"))
            })
            .collect::<ApiResult<_>>()?;
    }
    if let Some(e) = preset.get("expression").and_then(Value::as_str) {
        params.expression = Some(e.to_string());
    }
    if let Some(r) = preset.get("rescale").and_then(Value::as_array) {
        params.rescale = r
            .iter()
            .map(|pair| {
                let p = pair.as_array().ok_or_else(|| bad("rescale"))?;
                match (
                    p.first().and_then(Value::as_f64),
                    p.get(1).and_then(Value::as_f64),
                ) {
                    (Some(a), Some(b)) if a != b => Ok((a, b)),
                    _ => Err(bad("rescale")),
                }
            })
            .collect::<ApiResult<_>>()?;
    }
    if let Some(n) = preset.get("nodata") {
        params.nodata = match n {
            Value::Number(x) => x.as_f64(),
            Value::String(s) => Some(nodata_value(s).map_err(|_| bad("nodata"))?),
            _ => None,
        };
    }
    if let Some(name) = preset.get("colormap_name").and_then(Value::as_str) {
        params.colormap = Some(named_colormap(name).map_err(|_| bad("colormap_name"))?);
    }
    if let Some(c) = preset.get("colormap").filter(|c| !c.is_null()) {
        params.colormap = Some(json_colormap(&c.to_string()).map_err(|_| bad("colormap"))?);
    }
    if let Some(r) = preset.get("resampling").and_then(Value::as_str) {
        params.resampling = Resampling::parse(r).map_err(|_| bad("resampling"))?;
    }
    Ok(())
}

/// Rendering parameters: the preset (`render=`, or `default` when the request
/// chooses nothing), then the request's own parameters.
pub fn render_params(
    q: &Query,
    renders: Option<&serde_json::Map<String, Value>>,
    default_preset: Option<&str>,
) -> ApiResult<RenderParams> {
    let mut p = RenderParams::default();
    let preset_key = match q.one("render")? {
        Some(k) => Some(k),
        None if !q.has_render_choice() => default_preset,
        None => None,
    };
    if let Some(key) = preset_key {
        let preset = renders.and_then(|r| r.get(key)).ok_or_else(|| {
            let known: Vec<&str> = renders
                .map(|r| r.keys().map(String::as_str).collect())
                .unwrap_or_default();
            ApiError::bad_request(format!(
                "render '{key}' is not a preset of this collection (presets: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        apply_preset(&mut p, preset)?;
    }
    let assets = split(&q.all("assets"));
    if !assets.is_empty() {
        p.assets = assets;
        p.bidx.clear();
        p.expression = None;
    }
    for v in q.all("asset_bidx") {
        let (asset, bands) = v.split_once('|').ok_or_else(|| {
            ApiError::bad_request(format!("asset_bidx '{v}' is not 'asset|1,2,3'"))
        })?;
        p.asset_bidx
            .push((asset.to_string(), band_list(bands, "asset_bidx")?));
    }
    let bidx = q.all("bidx");
    if !bidx.is_empty() {
        p.bidx = bidx
            .iter()
            .map(|b| band_list(b, "bidx"))
            .collect::<ApiResult<Vec<_>>>()?
            .concat();
    }
    if let Some(e) = q.one("expression")? {
        p.expression = Some(e.to_string());
    }
    let rescale = q.all("rescale");
    if !rescale.is_empty() {
        // `rescale=0,3000,0,2000` (pairs in one value) is accepted too.
        let mut pairs = Vec::new();
        for r in rescale {
            let numbers: Vec<&str> = r.split(',').collect();
            if numbers.len() > 2 && numbers.len().is_multiple_of(2) {
                for pair in numbers.chunks(2) {
                    pairs.push(rescale_pair(&pair.join(","))?);
                }
            } else {
                pairs.push(rescale_pair(r)?);
            }
        }
        p.rescale = pairs;
    }
    if let Some(n) = q.one("nodata")? {
        p.nodata = Some(nodata_value(n)?);
    }
    match (q.one("colormap_name")?, q.one("colormap")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give colormap_name or colormap, not both",
            ));
        }
        (Some(name), None) => p.colormap = Some(named_colormap(name)?),
        (None, Some(json)) => p.colormap = Some(json_colormap(json)?),
        (None, None) => {}
    }
    if let Some(r) = q.one("resampling")?.or(q.one("resampling_method")?) {
        p.resampling = Resampling::parse(r).map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    p.validate()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(p)
}

/// The output format: the path's extension, else `format=`, else PNG.
pub fn format(q: &Query, extension: Option<&str>) -> ApiResult<Format> {
    let parse = |s: &str| Format::parse(s).map_err(|e| ApiError::bad_request(e.to_string()));
    match (extension, q.one("format")?) {
        (Some(ext), _) => parse(ext),
        (None, Some(f)) => parse(f),
        (None, None) => Ok(Format::Png),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_and_comma_separated() {
        let q =
            Query::parse("assets=B04&assets=B03,B02&bidx=1&bidx=2,3&rescale=0,3000&rescale=0,2000");
        let p = render_params(&q, None, None).unwrap();
        assert_eq!(p.assets, ["B04", "B03", "B02"]);
        assert_eq!(p.bidx, [1, 2, 3]);
        assert_eq!(p.rescale, [(0.0, 3000.0), (0.0, 2000.0)]);
        let q = Query::parse("rescale=0,1,2,3");
        assert_eq!(
            render_params(&q, None, None).unwrap().rescale,
            [(0.0, 1.0), (2.0, 3.0)]
        );
    }

    #[test]
    fn presets_then_overrides() {
        let renders = json!({"ndvi": {"assets": ["B04", "B08"], "expression": "(B08-B04)/(B08+B04)",
            "rescale": [[-1, 1]], "colormap_name": "rdylgn", "nodata": 0}});
        let r = renders.as_object().unwrap();
        let p = render_params(&Query::parse("render=ndvi&rescale=0,1"), Some(r), None).unwrap();
        assert_eq!(p.expression.as_deref(), Some("(B08-B04)/(B08+B04)"));
        assert_eq!(p.rescale, [(0.0, 1.0)]);
        assert_eq!(p.nodata, Some(0.0));
        assert!(p.colormap.is_some());
        // The default preset applies only when nothing is chosen.
        let p = render_params(&Query::parse(""), Some(r), Some("ndvi")).unwrap();
        assert!(p.expression.is_some());
        let p = render_params(&Query::parse("assets=B02"), Some(r), Some("ndvi")).unwrap();
        assert!(p.expression.is_none());
        assert!(render_params(&Query::parse("render=nope"), Some(r), None).is_err());
    }

    #[test]
    fn bad_values_are_400() {
        for q in [
            "rescale=1",
            "rescale=a,b",
            "rescale=3,3",
            "bidx=0",
            "bidx=x",
            "colormap_name=nope",
            "colormap={",
            "nodata=abc",
            "resampling=lanczos9",
            "expression=(b1",
            "expression=b1;b2",
            "asset_bidx=B04",
            "colormap_name=viridis&colormap={\"1\":[0,0,0,255]}",
            "expression=b1&expression=b2",
        ] {
            let e = render_params(&Query::parse(q), None, None).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{q}: {e}");
        }
        assert!(Query::parse("foo=1").check(&[]).is_err());
        assert!(
            Query::parse("datetime=2023")
                .check(&[MOSAIC_PARAMS])
                .is_ok()
        );
    }
}
