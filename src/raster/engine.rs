//! The raster engine: the GDAL pool, the href policy and the operations the
//! API offers (tiles, mosaics, previews, point values, statistics, info).

use super::encode::{Format, Rgba, encode};
use super::error::{RasterError, Result};
use super::href::HrefPolicy;
use super::pool::{GdalPool, Workspace, spatial_ref};
use super::render::{
    ItemSource, RenderParams, colormap_for, native_grid, open_assets, percentile, plan,
    render_item, render_planes, rescale_for, sorted_valid, to_rgba,
};
use super::warp::{Grid, Resampling};
use gdal::spatial_ref::CoordTransform;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// GDAL threads.
    pub threads: usize,
    /// Jobs that may wait for a GDAL thread before requests get "busy".
    pub queue: usize,
    /// Open datasets kept per GDAL thread.
    pub datasets: usize,
    /// Local directories assets may be read from.
    pub roots: Vec<PathBuf>,
    /// Remote hosts (and `s3://bucket`s) assets may be read from.
    pub allowed_hosts: Vec<String>,
    /// Most items painted into one mosaic tile.
    pub max_items: usize,
}

/// An encoded image.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Their format.
    pub format: Format,
}

/// How a mosaic tile was made.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MosaicReport {
    /// Items painted (or tried) before the tile was full.
    pub items_read: usize,
    /// Items skipped because their assets could not be read.
    pub items_failed: usize,
    /// Every pixel was filled.
    pub full: bool,
}

/// Output options of an image.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Image format.
    pub format: Format,
    /// Keep transparency (false: composite over `background`).
    pub transparent: bool,
    /// Background colour for opaque formats.
    pub background: [u8; 3],
}

impl Output {
    /// Transparent output in `format`.
    pub fn new(format: Format) -> Output {
        Output {
            format,
            transparent: true,
            background: [0, 0, 0],
        }
    }
}

/// Statistics of one output band.
#[derive(Debug, Clone, Serialize)]
pub struct BandStatistics {
    /// Smallest valid value.
    pub min: f64,
    /// Largest valid value.
    pub max: f64,
    /// Mean of valid values.
    pub mean: f64,
    /// Standard deviation.
    pub std: f64,
    /// Median.
    pub median: f64,
    /// Valid pixels counted.
    pub count: usize,
    /// Pixels masked (nodata, outside).
    pub masked_pixels: usize,
    /// Share of valid pixels, in percent.
    pub valid_percent: f64,
    /// 2nd percentile.
    pub percentile_2: f64,
    /// 98th percentile.
    pub percentile_98: f64,
    /// Histogram: counts and bin edges.
    pub histogram: (Vec<usize>, Vec<f64>),
}

/// Values of every output band at a point.
#[derive(Debug, Clone, Serialize)]
pub struct PointValues {
    /// (lon, lat).
    pub coordinates: [f64; 2],
    /// One value per output band (`None`: nodata or outside).
    pub values: Vec<Option<f64>>,
    /// Band names (`b1`, … or `asset_bN`).
    pub band_names: Vec<String>,
}

/// What GDAL says about an asset.
#[derive(Debug, Clone, Serialize)]
pub struct AssetInfo {
    /// Bounds in the asset's CRS.
    pub bounds: [f64; 4],
    /// Bounds in WGS84 (lon/lat).
    pub wgs84_bounds: Option<[f64; 4]>,
    /// `EPSG:n` when known, else the WKT.
    pub crs: String,
    /// Width, height.
    pub size: [usize; 2],
    /// Pixel size in CRS units.
    pub resolution: [f64; 2],
    /// Pixel types per band.
    pub dtypes: Vec<String>,
    /// Nodata per band.
    pub nodata: Vec<Option<f64>>,
    /// Number of bands.
    pub count: usize,
    /// Overview sizes.
    pub overviews: Vec<[usize; 2]>,
}

/// The raster engine.
pub struct Engine {
    pool: GdalPool,
    hrefs: Arc<HrefPolicy>,
    threads: usize,
    max_items: usize,
}

impl Engine {
    /// Starts the GDAL threads.
    pub fn start(options: &EngineOptions) -> Result<Engine> {
        // Never write .aux.xml side files next to the data.
        gdal::config::set_config_option("GDAL_PAM_ENABLED", "NO")?;
        gdal::config::set_config_option("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")?;
        let threads = options.threads.max(1);
        Ok(Engine {
            pool: GdalPool::start(threads, options.queue, options.datasets)?,
            hrefs: Arc::new(HrefPolicy::new(&options.roots, &options.allowed_hosts)),
            threads,
            max_items: options.max_items.max(1),
        })
    }

    /// Opens an asset's bytes for a download (within the href policy).
    pub async fn open_asset(&self, href: &str) -> Result<super::asset::AssetReader> {
        let (hrefs, href) = (self.hrefs.clone(), href.to_string());
        tokio::task::spawn_blocking(move || super::asset::AssetReader::open(&hrefs, &href))
            .await
            .map_err(|e| RasterError::Internal(format!("opening the asset failed: {e}")))?
    }

    /// Most items painted into one mosaic tile.
    pub fn max_items(&self) -> usize {
        self.max_items
    }

    /// Renders and encodes one item on a grid; `None` when it does not overlap.
    pub async fn tile(
        &self,
        item: ItemSource,
        params: Arc<RenderParams>,
        grid: Grid,
        output: Output,
    ) -> Result<Option<Encoded>> {
        let hrefs = self.hrefs.clone();
        self.pool
            .run(move |ws| {
                // A tile over the item but all nodata is a transparent tile.
                let Some(image) = render_item(ws, &hrefs, &item, &params, &grid)? else {
                    return Ok(None);
                };
                finish(&image, output).map(Some)
            })
            .await
    }

    /// Paints items in order until every pixel is filled ("first opaque
    /// wins"), at most [`Engine::max_items`]; `None` when nothing was painted.
    /// Each item may come with the pixel window `(x, y, width, height)` of
    /// the grid its footprint covers: only that part is rendered.
    pub async fn mosaic(
        &self,
        items: Vec<(ItemSource, Option<Window>)>,
        params: Arc<RenderParams>,
        grid: Grid,
        output: Output,
    ) -> Result<(Option<Encoded>, MosaicReport)> {
        let (canvas, report) = self.mosaic_image(items, params, grid).await?;
        match canvas {
            Some(canvas) => Ok((Some(self.encode(canvas, output).await?), report)),
            None => Ok((None, report)),
        }
    }

    /// [`Engine::mosaic`] without encoding (WMS composites several).
    pub async fn mosaic_image(
        &self,
        items: Vec<(ItemSource, Option<Window>)>,
        params: Arc<RenderParams>,
        grid: Grid,
    ) -> Result<(Option<Rgba>, MosaicReport)> {
        let mut canvas = Rgba::transparent(grid.width, grid.height);
        let total = grid.width * grid.height;
        let mut filled = 0;
        let mut report = MosaicReport::default();
        let grid = Arc::new(grid);
        let mut queue = items.into_iter().take(self.max_items).peekable();
        // Items are rendered a few at a time on the GDAL threads and painted
        // in order; the loop stops as soon as the tile is full.
        while queue.peek().is_some() && filled < total {
            let batch: Vec<_> = queue.by_ref().take(self.threads * 2).collect();
            let jobs = batch.into_iter().map(|(item, window)| {
                let (hrefs, params, grid) = (self.hrefs.clone(), params.clone(), grid.clone());
                // Each item always on the same GDAL thread: its datasets are
                // opened once, not once per thread.
                let route = route_of(&item.key);
                self.pool.run_on(route, move |ws| {
                    let key = item.key.clone();
                    let (sub, x0, y0) = match window {
                        Some(w) => (sub_grid(&grid, w), w.0, w.1),
                        None => ((*grid).clone(), 0, 0),
                    };
                    Ok(render_item(ws, &hrefs, &item, &params, &sub)
                        .map(|image| image.map(|i| (i, x0, y0)))
                        .map_err(|e| (key, e)))
                })
            });
            for result in futures_util::future::join_all(jobs).await {
                report.items_read += 1;
                match result {
                    Ok(Ok(Some((image, x0, y0)))) if filled < total => {
                        filled += canvas.fill_from_at(&image, x0, y0)
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err((key, RasterError::BadAsset(m)))) => {
                        report.items_failed += 1;
                        tracing::warn!(item = %key, "mosaic: item skipped: {m}");
                    }
                    Ok(Err((_, e))) | Err(e) => return Err(e),
                }
            }
        }
        report.full = filled == total;
        Ok(((filled > 0).then_some(canvas), report))
    }

    /// Encodes an image on the GDAL threads (it is CPU work too).
    pub async fn encode(&self, image: Rgba, output: Output) -> Result<Encoded> {
        self.pool.run(move |_| finish(&image, output)).await
    }

    /// The whole item (its first asset's extent, in its CRS), at most
    /// `max_size` pixels on the longer side.
    pub async fn preview(
        &self,
        item: ItemSource,
        params: Arc<RenderParams>,
        max_size: usize,
        output: Output,
    ) -> Result<Encoded> {
        let hrefs = self.hrefs.clone();
        self.pool
            .run(move |ws| {
                let opened = open_assets(ws, &hrefs, &item, &params)?;
                let grid = native_grid(opened.first()?, max_size);
                let image = render_item(ws, &hrefs, &item, &params, &grid)?
                    .unwrap_or_else(|| Rgba::transparent(grid.width, grid.height));
                finish(&image, output)
            })
            .await
    }

    /// Values of the rendering's output bands at a WGS84 point.
    pub async fn point(
        &self,
        item: ItemSource,
        params: Arc<RenderParams>,
        lon: f64,
        lat: f64,
    ) -> Result<PointValues> {
        if !(lon.is_finite()
            && lat.is_finite()
            && (-180.0..=180.0).contains(&lon)
            && (-90.0..=90.0).contains(&lat))
        {
            return Err(RasterError::param(format!(
                "point {lon},{lat} is not a longitude,latitude pair"
            )));
        }
        let hrefs = self.hrefs.clone();
        self.pool
            .run(move |ws| {
                let opened = open_assets(ws, &hrefs, &item, &params)?;
                let plan = plan(&item, &params, &opened.assets, &opened.infos)?;
                let e = 1e-9;
                let grid = Grid {
                    crs: "EPSG:4326".into(),
                    bounds: [lon - e, lat - e, lon + e, lat + e],
                    width: 1,
                    height: 1,
                };
                let mut p = (*params).clone();
                p.resampling = Resampling::Nearest;
                let planes = render_planes(ws, &item, &opened.paths, &p, &plan, &grid)?;
                let values = match planes {
                    Some(planes) if planes.valid[0] => planes
                        .values
                        .iter()
                        .map(|v| Some(f64::from(v[0])))
                        .collect(),
                    _ => vec![None; plan.outputs()],
                };
                Ok(PointValues {
                    coordinates: [lon, lat],
                    values,
                    band_names: plan.output_names(),
                })
            })
            .await
    }

    /// Statistics of the rendering's output bands over the whole item, read
    /// at most `max_size` pixels on the longer side (overviews).
    pub async fn statistics(
        &self,
        item: ItemSource,
        params: Arc<RenderParams>,
        max_size: usize,
        bins: usize,
    ) -> Result<Vec<(String, BandStatistics)>> {
        let hrefs = self.hrefs.clone();
        self.pool
            .run(move |ws| {
                let opened = open_assets(ws, &hrefs, &item, &params)?;
                let plan = plan(&item, &params, &opened.assets, &opened.infos)?;
                let grid = native_grid(opened.first()?, max_size);
                let Some(planes) = render_planes(ws, &item, &opened.paths, &params, &plan, &grid)?
                else {
                    return Ok(Vec::new());
                };
                Ok(plan
                    .output_names()
                    .into_iter()
                    .zip(&planes.values)
                    .map(|(name, v)| (name, band_statistics(v, &planes.valid, bins)))
                    .collect())
            })
            .await
    }

    /// What GDAL says about each asset the rendering reads.
    pub async fn info(
        &self,
        item: ItemSource,
        params: Arc<RenderParams>,
    ) -> Result<Vec<(String, AssetInfo)>> {
        let hrefs = self.hrefs.clone();
        self.pool
            .run(move |ws| {
                let opened = open_assets(ws, &hrefs, &item, &params)?;
                let mut out = Vec::new();
                for (key, info) in &opened.infos {
                    let bounds = info.bounds();
                    let wgs84_bounds = wgs84(ws, &info.crs, bounds).ok();
                    let (rx, ry) = info.pixel_size();
                    out.push((
                        key.clone(),
                        AssetInfo {
                            bounds,
                            wgs84_bounds,
                            crs: crs_name(&info.crs),
                            size: [info.width, info.height],
                            resolution: [rx, ry],
                            dtypes: info
                                .bands
                                .iter()
                                .map(|b| b.data_type.name().to_ascii_lowercase())
                                .collect(),
                            nodata: info.bands.iter().map(|b| b.nodata).collect(),
                            count: info.bands.len(),
                            overviews: info.overviews.iter().map(|&(w, h)| [w, h]).collect(),
                        },
                    ));
                }
                Ok(out)
            })
            .await
    }

    /// Renders an item without encoding (tests, benchmarks, WMS compositing).
    pub async fn render(
        &self,
        item: ItemSource,
        params: Arc<RenderParams>,
        grid: Grid,
    ) -> Result<Option<Rgba>> {
        let hrefs = self.hrefs.clone();
        self.pool
            .run(move |ws| {
                let opened = open_assets(ws, &hrefs, &item, &params)?;
                let plan = plan(&item, &params, &opened.assets, &opened.infos)?;
                let Some(planes) = render_planes(ws, &item, &opened.paths, &params, &plan, &grid)?
                else {
                    return Ok(None);
                };
                let rescale = rescale_for(ws, &item, &opened, &params, &plan, planes.bytes)?;
                to_rgba(&planes, &rescale, colormap_for(&params, &plan, &opened)).map(Some)
            })
            .await
    }
}

/// A stable hash of an item key, to pick its GDAL thread.
fn route_of(key: &str) -> u64 {
    // FNV-1a.
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A pixel window `(x, y, width, height)` of a grid.
pub type Window = (usize, usize, usize, usize);

/// The pixels of a grid that `bounds` (in the grid's CRS) covers, plus a
/// margin of 2 pixels; `None` when they miss the grid.
pub fn window_of(grid: &Grid, bounds: [f64; 4]) -> Option<Window> {
    let [minx, miny, maxx, maxy] = grid.bounds;
    let (rx, ry) = (
        (maxx - minx) / grid.width as f64,
        (maxy - miny) / grid.height as f64,
    );
    let x0 = ((bounds[0] - minx) / rx).floor() - 2.0;
    let x1 = ((bounds[2] - minx) / rx).ceil() + 2.0;
    let y0 = ((maxy - bounds[3]) / ry).floor() - 2.0;
    let y1 = ((maxy - bounds[1]) / ry).ceil() + 2.0;
    if ![x0, x1, y0, y1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let clamp = |v: f64, max: usize| v.clamp(0.0, max as f64) as usize;
    let (x0, x1) = (clamp(x0, grid.width), clamp(x1, grid.width));
    let (y0, y1) = (clamp(y0, grid.height), clamp(y1, grid.height));
    (x1 > x0 && y1 > y0).then_some((x0, y0, x1 - x0, y1 - y0))
}

/// The part of a grid under a window.
fn sub_grid(grid: &Grid, (x, y, w, h): Window) -> Grid {
    let [minx, miny, maxx, maxy] = grid.bounds;
    let (rx, ry) = (
        (maxx - minx) / grid.width as f64,
        (maxy - miny) / grid.height as f64,
    );
    let (w, h) = (
        w.min(grid.width - x.min(grid.width)).max(1),
        h.min(grid.height - y.min(grid.height)).max(1),
    );
    Grid {
        crs: grid.crs.clone(),
        bounds: [
            minx + x as f64 * rx,
            maxy - (y + h) as f64 * ry,
            minx + (x + w) as f64 * rx,
            maxy - y as f64 * ry,
        ],
        width: w,
        height: h,
    }
}

fn finish(image: &Rgba, output: Output) -> Result<Encoded> {
    Ok(Encoded {
        bytes: encode(image, output.format, output.transparent, output.background)?,
        format: output.format,
    })
}

/// `EPSG:n` for a WKT with an EPSG authority, else the WKT.
fn crs_name(wkt: &str) -> String {
    spatial_ref(wkt)
        .ok()
        .and_then(|s| {
            let name = s.auth_name()?;
            let code = s.auth_code().ok()?;
            Some(format!("{name}:{code}"))
        })
        .unwrap_or_else(|| wkt.to_string())
}

/// Bounds transformed to WGS84 lon/lat (densified edges).
fn wgs84(ws: &mut Workspace, crs: &str, b: [f64; 4]) -> Result<[f64; 4]> {
    let t: &CoordTransform = ws.transform(crs, "EPSG:4326")?;
    let bounds = t
        .transform_bounds(&b, 21)
        .map_err(|e| RasterError::BadAsset(format!("cannot transform bounds: {e}")))?;
    Ok(bounds)
}

fn band_statistics(values: &[f32], valid: &[bool], bins: usize) -> BandStatistics {
    let sorted = sorted_valid(values, valid);
    let count = sorted.len();
    let masked_pixels = values.len() - count;
    let (min, max) = match (sorted.first(), sorted.last()) {
        (Some(a), Some(b)) => (f64::from(*a), f64::from(*b)),
        _ => (f64::NAN, f64::NAN),
    };
    let mean = sorted.iter().map(|&v| f64::from(v)).sum::<f64>() / count.max(1) as f64;
    let var = sorted
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / count.max(1) as f64;
    let bins = bins.clamp(1, 1000);
    let mut counts = vec![0usize; bins];
    let width = if max > min {
        (max - min) / bins as f64
    } else {
        1.0
    };
    for &v in &sorted {
        let k = (((f64::from(v) - min) / width) as usize).min(bins - 1);
        counts[k] += 1;
    }
    let edges = (0..=bins).map(|k| min + k as f64 * width).collect();
    BandStatistics {
        min,
        max,
        mean,
        std: var.sqrt(),
        median: percentile(&sorted, 50.0),
        count,
        masked_pixels,
        valid_percent: if values.is_empty() {
            0.0
        } else {
            100.0 * count as f64 / values.len() as f64
        },
        percentile_2: percentile(&sorted, 2.0),
        percentile_98: percentile(&sorted, 98.0),
        histogram: (counts, edges),
    }
}
