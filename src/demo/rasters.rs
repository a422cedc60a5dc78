//! Writes the demo rasters: Cloud-Optimized GeoTIFFs for every raster asset
//! of every demo item, under `<dir>/rasters/<collection>/<scene>/[<variant>/]`.
//!
//! Pixels are built in memory ([`super::products`]), written to a GDAL `MEM`
//! dataset and copied with the `COG` driver (DEFLATE, horizontal or
//! floating-point predictor, 256-pixel tiles, overviews averaged — or
//! nearest for classes). Scenes are generated in parallel, into
//! `rasters.partial/` renamed to `rasters/` once complete, with a version
//! marker: a later run with the same version and scale does nothing.

use super::geography::Biome;
use super::products::{self, Sentinel2Season};
use super::scenes::{DataType, Grid, Kind, RasterFile, Scene, layout, srs};
use gdal::DriverManager;
use gdal::Metadata;
use gdal::raster::{Buffer, ColorInterpretation, GdalType, RasterCreationOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// Version of the generated content: bump it whenever the pixels, grids or
/// layout change, so that existing demo directories are regenerated.
pub const VERSION: u32 = 1;

/// Name of the marker file in `rasters/`.
pub const MARKER: &str = "VERSION";

/// Why the rasters could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RasterWriteError {
    /// A file or directory operation failed.
    #[error("demo rasters: {0}")]
    Io(#[from] std::io::Error),
    /// GDAL failed.
    #[error("demo rasters: GDAL: {0}")]
    Gdal(#[from] gdal::errors::GdalError),
    /// The scale is not in (0, 1].
    #[error("demo rasters: scale must be in (0, 1], not {0}")]
    Scale(f64),
}

/// Result of the raster writer.
pub type Result<T, E = RasterWriteError> = std::result::Result<T, E>;

/// What [`write_rasters`] did.
#[derive(Debug, Clone, Default)]
pub struct RasterStats {
    /// Whether the rasters were generated (false: they were up to date).
    pub generated: bool,
    /// Number of raster files.
    pub files: usize,
    /// Their total size (bytes).
    pub bytes: u64,
    /// Files and bytes per collection.
    pub collections: Vec<(&'static str, usize, u64)>,
    /// Wall-clock time (s).
    pub seconds: f64,
}

impl RasterStats {
    /// Total size in MB (10⁶ bytes).
    pub fn megabytes(&self) -> f64 {
        self.bytes as f64 / 1e6
    }
}

/// Writes the rasters of every demo item under `dir/rasters` (unless they
/// are already there in this [`VERSION`]).
pub fn write_rasters(dir: &Path) -> Result<RasterStats> {
    write_rasters_scaled(dir, 1.0)
}

/// [`write_rasters`] with every scene's extent multiplied by `scale` (in
/// (0, 1]), keeping resolutions and top-left corners: a quicker set of
/// smaller rasters, each inside its item's footprint, for tests.
pub fn write_rasters_scaled(dir: &Path, scale: f64) -> Result<RasterStats> {
    if !(scale > 0.0 && scale <= 1.0) {
        return Err(RasterWriteError::Scale(scale));
    }
    let started = Instant::now();
    let root = std::path::absolute(dir)?;
    let target = root.join("rasters");
    let marker = format!("tuilerie demo rasters version {VERSION} scale {scale}\n");
    let up_to_date = std::fs::read_to_string(target.join(MARKER)).is_ok_and(|m| m == marker)
        && expected_files().iter().all(|p| root.join(p).is_file());
    if !up_to_date {
        let partial = root.join("rasters.partial");
        if partial.exists() {
            std::fs::remove_dir_all(&partial)?;
        }
        std::fs::create_dir_all(&partial)?;
        generate(&partial, scale)?;
        std::fs::write(partial.join(MARKER), &marker)?;
        if target.exists() {
            std::fs::remove_dir_all(&target)?;
        }
        std::fs::rename(&partial, &target)?;
    }
    let mut stats = usage(&root)?;
    stats.generated = !up_to_date;
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}

/// Paths (relative to the demo directory) of every raster file.
pub fn expected_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for scene in &layout().scenes {
        for f in scene.kind.files() {
            if scene.variants.is_empty() {
                out.push(scene.relative_path(None, f.file));
            }
            for v in &scene.variants {
                out.push(scene.relative_path(Some(v), f.file));
            }
        }
    }
    out
}

/// Files and bytes of the expected rasters, per collection.
fn usage(root: &Path) -> Result<RasterStats> {
    let mut stats = RasterStats::default();
    for scene in &layout().scenes {
        let collection = scene.kind.collection();
        let mut files = 0;
        let mut bytes = 0;
        let variants: Vec<Option<&str>> = if scene.variants.is_empty() {
            vec![None]
        } else {
            scene.variants.iter().map(|v| Some(v.as_str())).collect()
        };
        for v in variants {
            for f in scene.kind.files() {
                bytes += std::fs::metadata(root.join(scene.relative_path(v, f.file)))?.len();
                files += 1;
            }
        }
        match stats.collections.iter_mut().find(|c| c.0 == collection) {
            Some(c) => {
                c.1 += files;
                c.2 += bytes;
            }
            None => stats.collections.push((collection, files, bytes)),
        }
        stats.files += files;
        stats.bytes += bytes;
    }
    Ok(stats)
}

/// Relative cost of a scene, to start the longest first.
fn cost(scene: &Scene) -> usize {
    let pixels = scene.grid.width * scene.grid.height;
    match scene.kind {
        Kind::Pleiades | Kind::Spot => pixels * 3,
        Kind::Sentinel2 => pixels * 6,
        Kind::Lai => pixels * 12,
        Kind::Biomass => pixels * 5,
        Kind::Tropisco => pixels * 4,
    }
}

/// Generates every scene into `out` (the future `rasters/` directory), on
/// as many threads as there are cores.
fn generate(out: &Path, scale: f64) -> Result<()> {
    let mut scenes: Vec<&Scene> = layout().scenes.iter().collect();
    scenes.sort_by_key(|s| std::cmp::Reverse(cost(s)));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let error: Mutex<Option<RasterWriteError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(scene) = scenes.get(i) else { break };
                    if let Err(e) = write_scene(out, scene, scale) {
                        failed.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    match error.into_inner() {
        Ok(Some(e)) => Err(e),
        _ => Ok(()),
    }
}

/// Where a scene's file goes under `out` (which stands for `rasters/`).
fn path_in(out: &Path, scene: &Scene, variant: Option<&str>, file: &str) -> Result<PathBuf> {
    let rel = scene.relative_path(variant, file);
    let rel = rel.strip_prefix("rasters").unwrap_or(&rel);
    let path = out.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    Ok(path)
}

/// Field-node spacing (pixels) of a product: nodes a few metres apart.
fn field_step(kind: Kind) -> usize {
    match kind {
        Kind::Sentinel2 => 3,
        Kind::Pleiades => 16,
        Kind::Spot => 5,
        Kind::Tropisco => 2,
        Kind::Lai | Kind::Biomass => 1,
    }
}

/// Generates and writes every file of a scene.
fn write_scene(out: &Path, scene: &Scene, scale: f64) -> Result<()> {
    let grid = scene.scaled_grid(scale);
    let ctx = products::context(&scene.footprint);
    let files = scene.kind.files();
    let step = field_step(scene.kind);
    match scene.kind {
        Kind::Sentinel2 => {
            let surfaces = products::surfaces(&ctx, &grid, step)?;
            let temperate = ctx.biome == Biome::Temperate;
            for (k, variant) in scene.variants.iter().enumerate() {
                let Sentinel2Season { bands, tci } =
                    products::sentinel2_season(&surfaces, &grid, k, temperate);
                for (f, band) in files.iter().zip(bands) {
                    let path = path_in(out, scene, Some(variant), f.file)?;
                    write_cog(&path, &grid.coarsen(f.factor), vec![band], f)?;
                }
                if let Some(f) = files.iter().find(|f| f.asset == "visual") {
                    let path = path_in(out, scene, Some(variant), f.file)?;
                    write_cog(&path, &grid, tci, f)?;
                }
            }
        }
        Kind::Pleiades | Kind::Spot => {
            let v = products::vhr(&ctx, &grid, step)?;
            let (pan, ms) = (&files[0], &files[1]);
            write_cog(
                &path_in(out, scene, None, pan.file)?,
                &grid,
                vec![v.pan],
                pan,
            )?;
            write_cog(
                &path_in(out, scene, None, ms.file)?,
                &grid.coarsen(ms.factor),
                v.ms,
                ms,
            )?;
        }
        Kind::Lai => {
            let months = products::lai_months(&ctx, &grid)?;
            for (variant, m) in scene.variants.iter().zip(months) {
                let (lai, err, flag) = (&files[0], &files[1], &files[2]);
                write_cog(
                    &path_in(out, scene, Some(variant), lai.file)?,
                    &grid,
                    vec![m.lai],
                    lai,
                )?;
                write_cog(
                    &path_in(out, scene, Some(variant), err.file)?,
                    &grid,
                    vec![m.err],
                    err,
                )?;
                write_cog(
                    &path_in(out, scene, Some(variant), flag.file)?,
                    &grid,
                    vec![m.qflag],
                    flag,
                )?;
            }
        }
        Kind::Biomass => {
            let first = scene
                .variants
                .first()
                .and_then(|v| v.parse::<i32>().ok())
                .unwrap_or(2019);
            let years = products::biomass_years(
                &ctx,
                &grid,
                &scene.footprint,
                &scene.key,
                first,
                scene.variants.len(),
            )?;
            for (variant, y) in scene.variants.iter().zip(years) {
                let (agb, sd) = (&files[0], &files[1]);
                write_cog(
                    &path_in(out, scene, Some(variant), agb.file)?,
                    &grid,
                    vec![y.agb],
                    agb,
                )?;
                write_cog(
                    &path_in(out, scene, Some(variant), sd.file)?,
                    &grid,
                    vec![y.sd],
                    sd,
                )?;
            }
        }
        Kind::Tropisco => {
            let weeks = products::tropisco_weeks(&ctx, &grid, &scene.footprint, &scene.key)?;
            let f = &files[0];
            for (variant, classes) in scene.variants.iter().zip(weeks) {
                write_cog(
                    &path_in(out, scene, Some(variant), f.file)?,
                    &grid,
                    vec![classes],
                    f,
                )?;
            }
        }
    }
    Ok(())
}

/// DEFLATE level: 1 is twice as fast as the default 6 for about 6 % more
/// bytes on these rasters.
const DEFLATE_LEVEL: u32 = 1;

/// Tile size of the COGs (pixels).
const BLOCK: usize = 256;

/// Overview levels of a raster: halvings until it fits in one tile, as the
/// COG driver's default does, but at least one, so that even small (scaled)
/// rasters have the full COG layout.
fn overview_levels(grid: &Grid) -> usize {
    let mut size = grid.width.max(grid.height);
    let mut levels = 0;
    while size > BLOCK {
        size = size.div_ceil(2);
        levels += 1;
    }
    levels.max(1)
}

/// COG creation options for a file.
fn cog_options(f: &RasterFile, grid: &Grid) -> RasterCreationOptions {
    let predictor = match f.dtype {
        DataType::F32 => "FLOATING_POINT",
        DataType::U8 | DataType::U16 => "STANDARD",
    };
    let resampling = if f.classified { "NEAREST" } else { "AVERAGE" };
    RasterCreationOptions::from_iter([
        "COMPRESS=DEFLATE".to_string(),
        format!("LEVEL={DEFLATE_LEVEL}"),
        format!("PREDICTOR={predictor}"),
        "OVERVIEW_COMPRESS=DEFLATE".to_string(),
        format!("OVERVIEW_PREDICTOR={predictor}"),
        format!("OVERVIEW_RESAMPLING={resampling}"),
        format!("BLOCKSIZE={BLOCK}"),
        format!("OVERVIEW_COUNT={}", overview_levels(grid)),
    ])
}

/// Writes bands (each `grid.width` × `grid.height`, row-major) as a COG.
fn write_cog<T: GdalType + Copy>(
    path: &Path,
    grid: &Grid,
    bands: Vec<Vec<T>>,
    f: &RasterFile,
) -> Result<()> {
    let mem = DriverManager::get_driver_by_name("MEM")?;
    let mut ds = mem.create_with_band_type::<T, _>("", grid.width, grid.height, bands.len())?;
    ds.set_geo_transform(&grid.geo_transform())?;
    ds.set_spatial_ref(&srs(grid.epsg)?)?;
    let rgb = f.asset == "visual" && bands.len() == 3;
    for (i, data) in bands.into_iter().enumerate() {
        let mut band = ds.rasterband(i + 1)?;
        band.set_no_data_value(f.nodata)?;
        if rgb {
            band.set_color_interpretation(match i {
                0 => ColorInterpretation::RedBand,
                1 => ColorInterpretation::GreenBand,
                _ => ColorInterpretation::BlueBand,
            })?;
        }
        band.set_description(&band_description(f, i))?;
        let mut buffer = Buffer::new((grid.width, grid.height), data);
        band.write((0, 0), (grid.width, grid.height), &mut buffer)?;
    }
    let cog = DriverManager::get_driver_by_name("COG")?;
    ds.create_copy(&cog, path, &cog_options(f, grid))?;
    Ok(())
}

/// A band's description, as GDAL shows it.
fn band_description(f: &RasterFile, band: usize) -> String {
    match (f.asset, band) {
        ("MS", 0) => "B0 blue".into(),
        ("MS", 1) => "B1 green".into(),
        ("MS", 2) => "B2 red".into(),
        ("MS", 3) => "B3 near infrared".into(),
        ("visual", 0) => "red (B04)".into(),
        ("visual", 1) => "green (B03)".into(),
        ("visual", 2) => "blue (B02)".into(),
        ("PAN", _) => "panchromatic".into(),
        (asset, _) => asset.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files a scene writes under `out`, with their bytes.
    fn written(out: &Path, scene: &Scene) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let variants: Vec<Option<&str>> = if scene.variants.is_empty() {
            vec![None]
        } else {
            scene
                .variants
                .iter()
                .take(3)
                .map(|v| Some(v.as_str()))
                .collect()
        };
        for v in variants {
            for f in scene.kind.files() {
                let rel = scene.relative_path(v, f.file);
                let path = out.join(rel.strip_prefix("rasters").unwrap());
                files.push((rel, std::fs::read(&path).unwrap()));
            }
        }
        files
    }

    #[test]
    fn the_same_scene_twice_is_the_same_bytes() {
        for (kind, key) in [(Kind::Pleiades, "cayenne"), (Kind::Tropisco, "22NCL")] {
            let scene = layout().scene(kind, key).unwrap();
            let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            write_scene(a.path(), scene, 0.1).unwrap();
            write_scene(b.path(), scene, 0.1).unwrap();
            let (a, b) = (written(a.path(), scene), written(b.path(), scene));
            assert!(!a.is_empty());
            for ((path, x), (_, y)) in a.iter().zip(&b) {
                assert!(x == y, "{} differs", path.display());
            }
        }
    }

    #[test]
    fn small_rasters_still_get_an_overview() {
        let grid = |n: usize| Grid {
            epsg: 4326,
            x0: 0.0,
            y0: 0.0,
            dx: 1.0,
            dy: 1.0,
            width: n,
            height: n,
        };
        assert_eq!(overview_levels(&grid(75)), 1);
        assert_eq!(overview_levels(&grid(256)), 1);
        assert_eq!(overview_levels(&grid(600)), 2);
        assert_eq!(overview_levels(&grid(1280)), 3);
    }

    #[test]
    fn scales_outside_zero_to_one_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            write_rasters_scaled(dir.path(), 0.0),
            Err(RasterWriteError::Scale(_))
        ));
        assert!(matches!(
            write_rasters_scaled(dir.path(), 1.5),
            Err(RasterWriteError::Scale(_))
        ));
    }
}
