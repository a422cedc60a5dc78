//! What the engine knows of a dataset, and reading windows of its bands.

use super::colormap::Colormap;
use super::error::{RasterError, Result};
use gdal::Dataset;
use gdal::raster::{ColorInterpretation, ColorTable, GdalDataType, ResampleAlg};

/// One band.
#[derive(Debug, Clone)]
pub struct BandInfo {
    /// Pixel type.
    pub data_type: GdalDataType,
    /// Declared nodata value.
    pub nodata: Option<f64>,
    /// The band has a mask of its own or shared by the dataset (not just nodata).
    pub masked: bool,
    /// The band is an alpha channel.
    pub alpha: bool,
}

/// Size, georeferencing and structure of a dataset.
#[derive(Debug, Clone)]
pub struct DatasetInfo {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Affine geotransform (GDAL convention).
    pub geo_transform: [f64; 6],
    /// Its inverse.
    pub inverse: [f64; 6],
    /// CRS as WKT.
    pub crs: String,
    /// Bands, 0-based here (band `n` of GDAL is `bands[n - 1]`).
    pub bands: Vec<BandInfo>,
    /// Overview sizes of the first band, finest first.
    pub overviews: Vec<(usize, usize)>,
    /// The first band's colour table (a palette), as a discrete colormap.
    pub palette: Option<Colormap>,
}

impl DatasetInfo {
    /// Reads the structure of an open dataset.
    pub fn read(ds: &Dataset) -> Result<DatasetInfo> {
        let (width, height) = ds.raster_size();
        let geo_transform = ds.geo_transform().map_err(|_| {
            RasterError::BadAsset("the asset is not georeferenced (no geotransform)".into())
        })?;
        let inverse = invert(&geo_transform)?;
        let crs = ds.spatial_ref().and_then(|s| s.to_wkt()).map_err(|_| {
            RasterError::BadAsset("the asset has no coordinate reference system".into())
        })?;
        if crs.trim().is_empty() {
            return Err(RasterError::BadAsset(
                "the asset has no coordinate reference system".into(),
            ));
        }
        let mut bands = Vec::new();
        let mut overviews = Vec::new();
        let mut palette = None;
        for n in 1..=ds.raster_count() {
            let band = ds.rasterband(n)?;
            let flags = band.mask_flags()?;
            let alpha = band.color_interpretation() == ColorInterpretation::AlphaBand;
            bands.push(BandInfo {
                data_type: band.band_type(),
                nodata: band.no_data_value(),
                masked: !flags.is_all_valid()
                    && !flags.is_nodata()
                    && (flags.is_per_dataset() || flags.is_alpha()),
                alpha,
            });
            if n == 1 {
                palette = band
                    .color_table()
                    .and_then(|t| palette_of(&t, bands[0].nodata));
                for o in 0..band.overview_count()?.max(0) as usize {
                    overviews.push(band.overview(o)?.size());
                }
            }
        }
        if bands.is_empty() {
            return Err(RasterError::BadAsset("the asset has no raster band".into()));
        }
        Ok(DatasetInfo {
            width,
            height,
            geo_transform,
            inverse,
            crs,
            bands,
            overviews,
            palette,
        })
    }

    /// Checks a 1-based band index.
    pub fn band(&self, n: usize) -> Result<&BandInfo> {
        if n == 0 || n > self.bands.len() {
            return Err(RasterError::param(format!(
                "band {n} does not exist (the asset has {} band{})",
                self.bands.len(),
                if self.bands.len() == 1 { "" } else { "s" }
            )));
        }
        Ok(&self.bands[n - 1])
    }

    /// Pixel size (absolute x, y) in CRS units at full resolution.
    pub fn pixel_size(&self) -> (f64, f64) {
        let g = &self.geo_transform;
        (
            (g[1] * g[1] + g[2] * g[2]).sqrt(),
            (g[4] * g[4] + g[5] * g[5]).sqrt(),
        )
    }

    /// Bounds (minx, miny, maxx, maxy) in the dataset's CRS.
    pub fn bounds(&self) -> [f64; 4] {
        let g = &self.geo_transform;
        let corners = [
            (0.0, 0.0),
            (self.width as f64, 0.0),
            (0.0, self.height as f64),
            (self.width as f64, self.height as f64),
        ];
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for (px, py) in corners {
            let x = g[0] + px * g[1] + py * g[2];
            let y = g[3] + px * g[4] + py * g[5];
            b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
        }
        b
    }
}

/// A colour table as a discrete colormap (the nodata entry transparent).
fn palette_of(table: &ColorTable, nodata: Option<f64>) -> Option<Colormap> {
    let mut classes = serde_json::Map::new();
    for i in 0..table.entry_count().min(65536) {
        let Some(c) = table.entry_as_rgb(i) else {
            continue;
        };
        let alpha = if nodata == Some(i as f64) { 0 } else { c.a };
        classes.insert(
            i.to_string(),
            serde_json::json!([
                c.r.clamp(0, 255),
                c.g.clamp(0, 255),
                c.b.clamp(0, 255),
                alpha.clamp(0, 255)
            ]),
        );
    }
    if classes.is_empty() || classes.len() > super::colormap::MAX_ENTRIES {
        return None;
    }
    Colormap::from_json(&serde_json::Value::Object(classes).to_string()).ok()
}

/// Inverse of an affine geotransform.
pub fn invert(g: &[f64; 6]) -> Result<[f64; 6]> {
    let det = g[1] * g[5] - g[2] * g[4];
    if det.abs() < 1e-300 || !det.is_finite() {
        return Err(RasterError::BadAsset(
            "the asset's geotransform cannot be inverted".into(),
        ));
    }
    let inv_det = 1.0 / det;
    Ok([
        (g[2] * g[3] - g[0] * g[5]) * inv_det,
        g[5] * inv_det,
        -g[2] * inv_det,
        (-g[1] * g[3] + g[0] * g[4]) * inv_det,
        -g[4] * inv_det,
        g[1] * inv_det,
    ])
}

/// A window `(x, y, width, height)` of a band (or of one of its overviews),
/// read as f32 into a `buffer` (width, height) — the window's size, or
/// smaller to let GDAL decimate it with `decimate` — and a validity mask when
/// the band has one (nodata and NaN are handled by the caller).
pub fn read_window(
    ds: &Dataset,
    band: usize,
    overview: Option<usize>,
    window: (usize, usize, usize, usize),
    buffer: (usize, usize),
    decimate: ResampleAlg,
    with_mask: bool,
) -> Result<(Vec<f32>, Option<Vec<u8>>)> {
    let (x, y, w, h) = window;
    let full = ds.rasterband(band)?;
    let band = match overview {
        Some(o) => full.overview(o)?,
        None => full,
    };
    let args = (buffer != (w, h)).then_some(decimate);
    let mut values = vec![0f32; buffer.0 * buffer.1];
    band.read_into_slice::<f32>((x as isize, y as isize), (w, h), buffer, &mut values, args)
        .map_err(|e| RasterError::BadAsset(format!("cannot read the asset ({e})")))?;
    let mask = if with_mask {
        let m = band.open_mask_band()?;
        let mut mask = vec![0u8; buffer.0 * buffer.1];
        let args = (buffer != (w, h)).then_some(ResampleAlg::NearestNeighbour);
        m.read_into_slice::<u8>((x as isize, y as isize), (w, h), buffer, &mut mask, args)
            .map_err(|e| RasterError::BadAsset(format!("cannot read the asset's mask ({e})")))?;
        Some(mask)
    } else {
        None
    };
    Ok((values, mask))
}
