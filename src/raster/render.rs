//! Rendering: from an item's assets to RGBA pixels on a target grid.
//!
//! Parameters follow titiler and the STAC render extension: `assets`,
//! `asset_bidx`, `bidx`, `expression`, `rescale`, `colormap_name` /
//! `colormap`, `nodata`, `resampling`. Rendering an item runs on a GDAL
//! thread: open the assets, decide which bands feed the image ([`Plan`]),
//! read and resample them ([`render_planes`]), then colour them
//! ([`to_rgba`]).

use super::colormap::Colormap;
use super::encode::Rgba;
use super::error::{RasterError, Result};
use super::expr::Expression;
use super::href::HrefPolicy;
use super::pool::Workspace;
use super::read::{DatasetInfo, read_window};
use super::warp::{Grid, Resampling, map, resample, resample_nearest};
use gdal::raster::{GdalDataType, ResampleAlg};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the catalogue says about one band of an asset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BandMeta {
    /// Band name (`B04`, `B3`, …) from `eo:bands` / `bands`.
    pub name: Option<String>,
    /// Common name (`red`, `nir`, …).
    pub common_name: Option<String>,
}

/// A raster asset: where it is and what its bands are.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetSource {
    /// The href as the catalogue stores it (resolved by the engine).
    pub href: String,
    /// Band metadata, in band order (may be empty).
    pub bands: Vec<BandMeta>,
}

/// An item as the raster engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemSource {
    /// A unique name (`collection/id`), for caches and messages.
    pub key: String,
    /// Changes whenever the item changes (its `updated` time, …).
    pub version: String,
    /// Raster assets by key.
    pub assets: BTreeMap<String, AssetSource>,
}

/// Rendering parameters.
#[derive(Debug, Clone, Default)]
pub struct RenderParams {
    /// Asset keys to read; empty: `visual`, or the item's only raster asset,
    /// or the assets named in the expression.
    pub assets: Vec<String>,
    /// Bands per asset (`asset_bidx=MS|3,2,1`).
    pub asset_bidx: Vec<(String, Vec<usize>)>,
    /// Bands (1-based) of every listed asset.
    pub bidx: Vec<usize>,
    /// Band math, `;`-separated for several outputs.
    pub expression: Option<String>,
    /// (min, max) per output band; one pair applies to all.
    pub rescale: Vec<(f64, f64)>,
    /// Colormap and the text it was given as (for cache keys).
    pub colormap: Option<(String, Colormap)>,
    /// Overrides the assets' nodata value.
    pub nodata: Option<f64>,
    /// Resampling kernel.
    pub resampling: Resampling,
}

impl RenderParams {
    /// A canonical text of every parameter, for cache keys.
    pub fn key(&self) -> String {
        format!(
            "a={:?};ab={:?};b={:?};e={:?};r={:?};c={:?};n={:?};rs={:?}",
            self.assets,
            self.asset_bidx,
            self.bidx,
            self.expression,
            self.rescale,
            self.colormap.as_ref().map(|c| &c.0),
            self.nodata.map(f64::to_bits),
            self.resampling
        )
    }

    /// Checks what can be checked without data.
    pub fn validate(&self) -> Result<()> {
        for (lo, hi) in &self.rescale {
            if !(lo.is_finite() && hi.is_finite()) || lo == hi {
                return Err(RasterError::param(format!(
                    "rescale {lo},{hi}: min and max must be finite and different"
                )));
            }
        }
        if self
            .bidx
            .iter()
            .chain(self.asset_bidx.iter().flat_map(|(_, b)| b))
            .any(|&b| b == 0)
        {
            return Err(RasterError::param("band indexes (bidx) start at 1"));
        }
        if let Some(e) = &self.expression {
            let outputs = Expression::parse_many(e)?.len();
            if outputs != 1 && outputs != 3 {
                return Err(RasterError::param(format!(
                    "the expression gives {outputs} bands; give 1 (grey or colormap) or 3 (RGB), separated by ';'"
                )));
            }
        }
        Ok(())
    }
}

/// One band that feeds the image.
#[derive(Debug, Clone, PartialEq)]
struct Input {
    asset: String,
    band: usize,
}

/// Which bands are read and how they become output planes.
#[derive(Debug, Clone)]
pub struct Plan {
    inputs: Vec<Input>,
    /// Expressions and, per expression variable, the input it reads.
    expressions: Vec<(Expression, Vec<usize>)>,
    /// Every input is 8-bit and shown as is.
    bytes: bool,
}

impl Plan {
    /// Number of output planes.
    pub fn outputs(&self) -> usize {
        if self.expressions.is_empty() {
            self.inputs.len()
        } else {
            self.expressions.len()
        }
    }

    /// Names of the output planes (`b1`, `b2`… or the asset/band names).
    pub fn output_names(&self) -> Vec<String> {
        if self.expressions.is_empty() {
            let single = self.inputs.iter().all(|i| i.asset == self.inputs[0].asset);
            self.inputs
                .iter()
                .map(|i| {
                    if single {
                        format!("b{}", i.band)
                    } else {
                        format!("{}_b{}", i.asset, i.band)
                    }
                })
                .collect()
        } else {
            (1..=self.expressions.len())
                .map(|k| format!("b{k}"))
                .collect()
        }
    }

    /// Inputs as `(asset, band)`.
    pub fn inputs(&self) -> Vec<(String, usize)> {
        self.inputs
            .iter()
            .map(|i| (i.asset.clone(), i.band))
            .collect()
    }
}

/// Resolved hrefs (GDAL paths) of an item's assets.
pub type Paths = BTreeMap<String, String>;

fn asset_names(item: &ItemSource) -> String {
    item.assets.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// The assets to read when the request names none.
fn default_assets(item: &ItemSource, params: &RenderParams) -> Result<Vec<String>> {
    if !params.assets.is_empty() {
        for a in &params.assets {
            if !item.assets.contains_key(a) {
                return Err(RasterError::param(format!(
                    "asset '{a}' is not a raster asset of {} (raster assets: {})",
                    item.key,
                    asset_names(item)
                )));
            }
        }
        return Ok(params.assets.clone());
    }
    if let Some(e) = &params.expression {
        let mut named = Vec::new();
        for expr in Expression::parse_many(e)? {
            for v in expr.variables() {
                let key = item.assets.keys().find(|k| {
                    k.as_str() == v || k.eq_ignore_ascii_case(v) || v.starts_with(&format!("{k}_b"))
                });
                if let Some(k) = key
                    && !named.contains(k)
                {
                    named.push(k.clone());
                }
            }
        }
        if !named.is_empty() {
            return Ok(named);
        }
    }
    if item.assets.contains_key("visual") {
        return Ok(vec!["visual".into()]);
    }
    if item.assets.len() == 1 {
        return Ok(item.assets.keys().cloned().collect());
    }
    Err(RasterError::param(format!(
        "say which assets to show with assets= (raster assets of {}: {})",
        item.key,
        asset_names(item)
    )))
}

/// Data bands (not alpha) of a dataset, 1-based.
fn data_bands(info: &DatasetInfo) -> Vec<usize> {
    (1..=info.bands.len())
        .filter(|&n| !info.bands[n - 1].alpha)
        .collect()
}

/// The bands shown when the request picks none: all data bands, the
/// red/green/blue ones in that order when the catalogue names them, at
/// most three.
fn default_bands(meta: &[BandMeta], info: &DatasetInfo) -> Vec<usize> {
    let bands = data_bands(info);
    if bands.len() > 3 {
        let find = |name: &str| {
            meta.iter()
                .position(|m| m.common_name.as_deref() == Some(name))
                .map(|p| p + 1)
        };
        if let (Some(r), Some(g), Some(b)) = (find("red"), find("green"), find("blue")) {
            return vec![r, g, b];
        }
        return bands[..3].to_vec();
    }
    bands
}

/// Decides which bands feed the image; `infos` are the opened assets.
pub fn plan(
    item: &ItemSource,
    params: &RenderParams,
    assets: &[String],
    infos: &BTreeMap<String, Arc<DatasetInfo>>,
) -> Result<Plan> {
    let info = |a: &str| {
        infos
            .get(a)
            .ok_or_else(|| RasterError::Internal(format!("asset {a} was not opened")))
    };
    let bands_of = |a: &str| -> Option<&Vec<usize>> {
        params
            .asset_bidx
            .iter()
            .find(|(k, _)| k == a)
            .map(|(_, b)| b)
            .or((!params.bidx.is_empty()).then_some(&params.bidx))
    };
    let mut inputs: Vec<Input> = Vec::new();
    let mut add = |asset: &str, band: usize| -> Result<usize> {
        info(asset)?.band(band)?;
        let input = Input {
            asset: asset.to_string(),
            band,
        };
        Ok(match inputs.iter().position(|i| *i == input) {
            Some(p) => p,
            None => {
                inputs.push(input);
                inputs.len() - 1
            }
        })
    };
    let mut expressions = Vec::new();
    if let Some(text) = &params.expression {
        for expr in Expression::parse_many(text)? {
            let mut vars = Vec::new();
            for v in expr.variables() {
                let (asset, band) = resolve_variable(item, params, assets, v, bands_of)?;
                vars.push(add(&asset, band)?);
            }
            expressions.push((expr, vars));
        }
    } else {
        for a in assets {
            let chosen = match bands_of(a) {
                Some(b) => b.clone(),
                None => default_bands(
                    item.assets
                        .get(a)
                        .map(|s| s.bands.as_slice())
                        .unwrap_or(&[]),
                    info(a)?,
                ),
            };
            for b in chosen {
                add(a, b)?;
            }
        }
        if inputs.len() != 1 && inputs.len() != 3 {
            return Err(RasterError::param(format!(
                "{} bands are selected; choose 1 (grey or colormap) or 3 (RGB) with bidx or asset_bidx",
                inputs.len()
            )));
        }
    }
    let mut bytes = expressions.is_empty();
    for i in &inputs {
        bytes &= info(&i.asset)?.band(i.band)?.data_type == GdalDataType::UInt8;
    }
    let plan = Plan {
        inputs,
        expressions,
        bytes,
    };
    if plan.outputs() != 3 && plan.outputs() != 1 {
        return Err(RasterError::param("choose 1 or 3 output bands"));
    }
    if plan.outputs() == 3 && params.colormap.is_some() {
        return Err(RasterError::param(
            "a colormap applies to one band; this rendering has three",
        ));
    }
    Ok(plan)
}

/// Which asset band an expression variable names: an asset key (its first
/// or chosen band), a band name or common name of a listed asset, `bN`
/// (band N of the first asset), or `asset_bN`.
fn resolve_variable<'a>(
    item: &ItemSource,
    params: &RenderParams,
    assets: &[String],
    v: &str,
    bands_of: impl Fn(&str) -> Option<&'a Vec<usize>>,
) -> Result<(String, usize)> {
    let _ = params;
    if let Some(a) = assets.iter().find(|a| a.as_str() == v) {
        return Ok((
            a.clone(),
            bands_of(a).and_then(|b| b.first().copied()).unwrap_or(1),
        ));
    }
    for a in assets {
        if let Some(meta) = item.assets.get(a) {
            for (k, m) in meta.bands.iter().enumerate() {
                let named =
                    |n: &Option<String>| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(v));
                if named(&m.name) || named(&m.common_name) {
                    return Ok((a.clone(), k + 1));
                }
            }
        }
    }
    let band_number = |s: &str| {
        s.strip_prefix('b')
            .or_else(|| s.strip_prefix('B'))
            .and_then(|n| n.parse::<usize>().ok())
    };
    for a in assets {
        if let Some(rest) = v.strip_prefix(a.as_str()).and_then(|r| r.strip_prefix('_'))
            && let Some(n) = band_number(rest)
        {
            return Ok((a.clone(), n));
        }
    }
    if let (Some(n), Some(a)) = (band_number(v), assets.first()) {
        return Ok((a.clone(), n));
    }
    if let Some(a) = assets.iter().find(|a| a.eq_ignore_ascii_case(v)) {
        return Ok((a.clone(), 1));
    }
    Err(RasterError::param(format!(
        "expression: '{v}' is neither an asset ({}), a band name of one, nor bN",
        assets.join(", ")
    )))
}

/// Output planes on a grid, before colouring.
#[derive(Debug, Clone)]
pub struct Planes {
    /// Grid width.
    pub width: usize,
    /// Grid height.
    pub height: usize,
    /// One plane per output band.
    pub values: Vec<Vec<f32>>,
    /// Pixels where every input is valid.
    pub valid: Vec<bool>,
    /// Every input is 8-bit and shown as is (no default rescale needed).
    pub bytes: bool,
}

/// The assets a rendering reads, opened.
pub struct Opened {
    /// Asset keys, in the order they were asked for.
    pub assets: Vec<String>,
    /// Their GDAL paths.
    pub paths: Paths,
    /// Their structure.
    pub infos: BTreeMap<String, Arc<DatasetInfo>>,
}

impl Opened {
    /// The first asset's structure.
    pub fn first(&self) -> Result<&Arc<DatasetInfo>> {
        self.assets
            .first()
            .and_then(|a| self.infos.get(a))
            .ok_or_else(|| RasterError::Internal("no asset opened".into()))
    }
}

/// Resolves (through the href policy) and opens the assets a rendering reads.
pub fn open_assets(
    ws: &mut Workspace,
    hrefs: &HrefPolicy,
    item: &ItemSource,
    params: &RenderParams,
) -> Result<Opened> {
    let assets = default_assets(item, params)?;
    let mut infos = BTreeMap::new();
    let mut paths = BTreeMap::new();
    for a in &assets {
        let source = item
            .assets
            .get(a)
            .ok_or_else(|| RasterError::Internal(format!("asset {a} vanished")))?;
        let path = hrefs.resolve(&source.href)?;
        let info = ws
            .dataset(&path, Some(&item.version))
            .map_err(|e| match e {
                RasterError::BadAsset(m) => {
                    RasterError::BadAsset(format!("asset '{a}' of {}: {m}", item.key))
                }
                other => other,
            })?
            .info
            .clone();
        infos.insert(a.clone(), info);
        paths.insert(a.clone(), path);
    }
    Ok(Opened {
        assets,
        paths,
        infos,
    })
}

fn decimation_kernel(r: Resampling) -> ResampleAlg {
    match r {
        Resampling::Nearest => ResampleAlg::NearestNeighbour,
        _ => ResampleAlg::Average,
    }
}

/// Reads, resamples and combines the item's bands on `grid`; `None` when
/// the item does not overlap the grid.
pub fn render_planes(
    ws: &mut Workspace,
    item: &ItemSource,
    paths: &Paths,
    params: &RenderParams,
    plan: &Plan,
    grid: &Grid,
) -> Result<Option<Planes>> {
    let n = grid.width * grid.height;
    let mut planes: Vec<Vec<f32>> = vec![Vec::new(); plan.inputs.len()];
    // Band math needs every input; bands shown as they are follow GDAL: a
    // pixel is transparent when every band is nodata.
    let mut valid = vec![true; n];
    let mut any_valid = vec![false; n];
    let mut assets: Vec<&str> = plan.inputs.iter().map(|i| i.asset.as_str()).collect();
    assets.dedup();
    assets.sort_unstable();
    assets.dedup();
    for asset in assets {
        let path = paths
            .get(asset)
            .ok_or_else(|| RasterError::Internal(format!("asset {asset} has no resolved path")))?;
        let (open, t) = ws.dataset_and_transform(path, Some(&item.version), &grid.crs)?;
        let Some(m) = map(t, &open.info, grid, params.resampling)? else {
            return Ok(None);
        };
        let nearest = (params.resampling == Resampling::Nearest).then(|| m.nearest_indices());
        for (k, input) in plan.inputs.iter().enumerate() {
            if input.asset != asset {
                continue;
            }
            let band = open.info.band(input.band)?;
            let (values, mask) = read_window(
                &open.dataset,
                input.band,
                m.overview,
                m.window,
                m.buffer,
                decimation_kernel(params.resampling),
                band.masked,
            )?;
            let nodata = params.nodata.or(band.nodata);
            let src_valid: Vec<bool> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    !v.is_nan()
                        && mask.as_ref().is_none_or(|m| m[i] != 0)
                        && nodata.is_none_or(|nd| if nd.is_nan() { true } else { v != nd as f32 })
                })
                .collect();
            let mut out = vec![0f32; n];
            let mut out_valid = vec![false; n];
            match &nearest {
                Some(indices) => {
                    resample_nearest(indices, &values, &src_valid, &mut out, &mut out_valid)
                }
                None => resample(
                    &m,
                    &values,
                    &src_valid,
                    params.resampling,
                    &mut out,
                    &mut out_valid,
                ),
            }
            for ((all, any), ok) in valid.iter_mut().zip(any_valid.iter_mut()).zip(&out_valid) {
                *all &= ok;
                *any |= ok;
            }
            planes[k] = out;
        }
    }
    if plan.expressions.is_empty() {
        valid = any_valid;
    }
    if !valid.iter().any(|&v| v) {
        return Ok(Some(Planes {
            width: grid.width,
            height: grid.height,
            values: vec![vec![0.0; n]; plan.outputs()],
            valid,
            bytes: plan.bytes,
        }));
    }
    let values = if plan.expressions.is_empty() {
        planes
    } else {
        let mut outputs = Vec::new();
        for (expr, vars) in &plan.expressions {
            let inputs: Vec<&[f32]> = vars.iter().map(|&i| planes[i].as_slice()).collect();
            let out = expr.evaluate(&inputs, n);
            for (ok, v) in valid.iter_mut().zip(&out) {
                *ok &= !v.is_nan();
            }
            outputs.push(out);
        }
        outputs
    };
    Ok(Some(Planes {
        width: grid.width,
        height: grid.height,
        values,
        valid,
        bytes: plan.bytes,
    }))
}

/// A grid covering a whole dataset in its own CRS, at most `max_size`
/// pixels on its longer side.
pub fn native_grid(info: &DatasetInfo, max_size: usize) -> Grid {
    let bounds = info.bounds();
    let (w, h) = (info.width as f64, info.height as f64);
    let k = (max_size as f64 / w.max(h)).min(1.0);
    Grid {
        crs: info.crs.clone(),
        bounds,
        width: ((w * k).round() as usize).max(1),
        height: ((h * k).round() as usize).max(1),
    }
}

/// The `p`-th percentile (0..=100) of sorted values.
pub fn percentile(sorted: &[f32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)])
}

/// Valid values of a plane, sorted.
pub fn sorted_valid(values: &[f32], valid: &[bool]) -> Vec<f32> {
    let mut v: Vec<f32> = values
        .iter()
        .zip(valid)
        .filter(|(_, ok)| **ok)
        .map(|(v, _)| *v)
        .collect();
    v.sort_unstable_by(f32::total_cmp);
    v
}

/// The default rescale of a rendering: 2nd–98th percentiles of each output
/// plane over the whole item (read from overviews), computed once per
/// item version and rendering on each GDAL thread.
pub fn default_rescale(
    ws: &mut Workspace,
    item: &ItemSource,
    paths: &Paths,
    params: &RenderParams,
    plan: &Plan,
    first: &DatasetInfo,
) -> Result<Vec<(f64, f64)>> {
    let key = format!("{}@{}:{}", item.key, item.version, params.key());
    if let Some(r) = ws.memo(&key) {
        return Ok(r);
    }
    let grid = native_grid(first, 256);
    let mut quick = params.clone();
    quick.resampling = Resampling::Nearest;
    let ranges = match render_planes(ws, item, paths, &quick, plan, &grid)? {
        Some(p) => p
            .values
            .iter()
            .map(|v| {
                let s = sorted_valid(v, &p.valid);
                let (lo, hi) = (percentile(&s, 2.0), percentile(&s, 98.0));
                if lo.is_nan() {
                    (0.0, 1.0)
                } else if hi > lo {
                    (lo, hi)
                } else {
                    (lo, lo + 1.0)
                }
            })
            .collect(),
        None => vec![(0.0, 1.0); plan.outputs()],
    };
    ws.remember(key, ranges.clone());
    Ok(ranges)
}

/// A linear rescale to 0..=255 (rounded, clamped).
#[derive(Clone, Copy)]
struct ByteScale {
    lo: f32,
    k: f32,
}

impl ByteScale {
    fn new((lo, hi): (f64, f64)) -> ByteScale {
        ByteScale {
            lo: lo as f32,
            k: (255.0 / (hi - lo)) as f32,
        }
    }

    #[inline]
    fn apply(self, v: f32) -> u8 {
        // NaN → 0; the cast saturates, +0.5 rounds the non-negative values.
        ((v - self.lo) * self.k + 0.5).clamp(0.0, 255.0) as u8
    }
}

/// Colours output planes: one plane through the colormap (classes on raw
/// values, ramps after rescaling) or as grey, three planes as RGB; invalid
/// pixels are transparent.
pub fn to_rgba(
    planes: &Planes,
    rescale: &[(f64, f64)],
    colormap: Option<&Colormap>,
) -> Result<Rgba> {
    let n = planes.width * planes.height;
    let mut image = Rgba::transparent(planes.width, planes.height);
    let range = |k: usize| -> ByteScale {
        ByteScale::new(
            rescale
                .get(k)
                .or(rescale.first())
                .copied()
                .unwrap_or((0.0, 255.0)),
        )
    };
    match planes.values.len() {
        1 => {
            let values = &planes.values[0];
            match colormap {
                Some(c) if !c.is_ramp() => c.apply_classes(values, &planes.valid, &mut image.data),
                _ => {
                    let r = range(0);
                    let idx: Vec<u8> = values.iter().map(|&v| r.apply(v)).collect();
                    match colormap {
                        Some(c) => c.apply_ramp(&idx, &planes.valid, &mut image.data),
                        None => {
                            for ((p, &i), &ok) in
                                image.data.chunks_exact_mut(4).zip(&idx).zip(&planes.valid)
                            {
                                if ok {
                                    p.copy_from_slice(&[i, i, i, 255]);
                                }
                            }
                        }
                    }
                }
            }
        }
        3 => {
            let (r0, r1, r2) = (range(0), range(1), range(2));
            let [a, b, c] = [&planes.values[0], &planes.values[1], &planes.values[2]];
            // One plane at a time (loops the compiler vectorises), then interleave.
            let bytes = |plane: &[f32], r: ByteScale| -> Vec<u8> {
                plane.iter().map(|&v| r.apply(v)).collect()
            };
            let (ba, bb, bc) = (bytes(a, r0), bytes(b, r1), bytes(c, r2));
            for (k, px) in image.data.chunks_exact_mut(4).enumerate().take(n) {
                if planes.valid[k] {
                    px.copy_from_slice(&[ba[k], bb[k], bc[k], 255]);
                }
            }
        }
        other => {
            return Err(RasterError::param(format!(
                "{other} output bands cannot be shown; choose 1 or 3"
            )));
        }
    }
    Ok(image)
}

/// Renders one item on a grid: `None` when it does not overlap.
pub fn render_item(
    ws: &mut Workspace,
    hrefs: &HrefPolicy,
    item: &ItemSource,
    params: &RenderParams,
    grid: &Grid,
) -> Result<Option<Rgba>> {
    let opened = open_assets(ws, hrefs, item, params)?;
    let plan = plan(item, params, &opened.assets, &opened.infos)?;
    let Some(planes) = render_planes(ws, item, &opened.paths, params, &plan, grid)? else {
        return Ok(None);
    };
    let rescale = rescale_for(ws, item, &opened, params, &plan, planes.bytes)?;
    to_rgba(&planes, &rescale, colormap_for(params, &plan, &opened)).map(Some)
}

/// The colormap to apply: the request's, else the palette of a single
/// paletted band shown as is.
pub fn colormap_for<'a>(
    params: &'a RenderParams,
    plan: &Plan,
    opened: &'a Opened,
) -> Option<&'a Colormap> {
    if let Some((_, c)) = &params.colormap {
        return Some(c);
    }
    match (
        plan.inputs.as_slice(),
        plan.expressions.is_empty(),
        params.rescale.is_empty(),
    ) {
        ([input], true, true) if input.band == 1 => {
            opened.infos.get(&input.asset)?.palette.as_ref()
        }
        _ => None,
    }
}

/// The rescale to apply: the request's, none for 8-bit data shown as is
/// and for classified colormaps, else the item's default.
pub fn rescale_for(
    ws: &mut Workspace,
    item: &ItemSource,
    opened: &Opened,
    params: &RenderParams,
    plan: &Plan,
    bytes: bool,
) -> Result<Vec<(f64, f64)>> {
    let discrete = colormap_for(params, plan, opened).is_some_and(|c| !c.is_ramp());
    if !params.rescale.is_empty() || discrete || bytes {
        return Ok(params.rescale.clone());
    }
    let first = opened.first()?.clone();
    default_rescale(ws, item, &opened.paths, params, plan, &first)
}
