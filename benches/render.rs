//! Render pipeline benchmarks (criterion): one tile through the whole engine,
//! then each stage of it through the crate's lower-level public functions.
//!
//! ```sh
//! cargo bench --bench render                      # everything (~4 min on 2 cores)
//! cargo bench --bench render -- --quick           # a quick pass
//! cargo bench --bench render -- engine_tile/s2    # a filter (criterion regex)
//! ```
//!
//! Data: the real rasters of `../shared/data/rasters/` (always there) and, when
//! present, the big synthetic COGs of the tile benchmark in
//! `/tmp/peers-tiles/data` (`PEERS_TILES_DATA` overrides the directory;
//! `benches/tiles/README.md` says how to make them). A case whose file is
//! missing is skipped with a message.
//!
//! * `engine_tile/*`: `Engine::tile` (read, warp, colour, PNG) with one GDAL
//!   thread, from a current-thread tokio runtime: the time of one tile, and on
//!   one thread its wall time is about its CPU time. `*_hot` asks for the same
//!   tile over and over (its blocks stay decoded in GDAL's block cache, as for
//!   a popular tile); `*_cycle` walks through up to 48 distinct tiles spread
//!   over the raster, with the GDAL block cache limited to 64 MB (the
//!   `BENCH_GDAL_CACHE_MB` variable changes it) so that their blocks are
//!   decoded again on every request (the file itself stays in the OS page
//!   cache). `*_render` is `Engine::render`: the same without encoding.
//! * `warp_map`, `read`, `resample`, `to_rgba`, `encode`: the stages of the
//!   `*_hot` tiles, on the bench thread. `read/*_cold` opens a fresh dataset
//!   before every iteration (not timed), so blocks are read and decompressed.
//!   Values are per tile (all its bands).
//!
//! Not reachable through the public API, and therefore not measured on their
//! own: the validity mask and mask merging inside `render::render_planes`
//! (`glue/valid_mask_replica` times a copy of that loop written here), the
//! dataset LRU and transform cache of a GDAL thread (`pool::Workspace` has no
//! public constructor), and the hop to the GDAL thread; they are what is left
//! of `engine_tile/*_render` once the stages are subtracted.

use criterion::{BatchSize, Criterion};
use gdal::Dataset;
use gdal::raster::ResampleAlg;
use gdal::spatial_ref::CoordTransform;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tuilerie::raster::colormap::Colormap;
use tuilerie::raster::encode::encode;
use tuilerie::raster::pool::spatial_ref;
use tuilerie::raster::read::{DatasetInfo, read_window};
use tuilerie::raster::render::{Planes, to_rgba};
use tuilerie::raster::tms::{self, TileMatrixSet};
use tuilerie::raster::warp::{self, Mapping};
use tuilerie::raster::{
    AssetSource, Engine, EngineOptions, Format, Grid, ItemSource, Output, RenderParams, Resampling,
    Rgba,
};

/// Distinct tiles of a `*_cycle` case, at most.
const CYCLE_TILES: usize = 48;

/// The engine and the runtime its futures run on.
struct Context {
    rt: tokio::runtime::Runtime,
    engine: Engine,
}

impl Context {
    fn new(roots: Vec<PathBuf>) -> Context {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let engine = Engine::start(&EngineOptions {
            threads: 1,
            queue: 16,
            datasets: 16,
            roots,
            allowed_hosts: Vec::new(),
            max_items: 1,
        })
        .expect("raster engine");
        Context { rt, engine }
    }

    fn render(&self, case: &Case, grid: &Grid) -> Option<Rgba> {
        self.rt
            .block_on(
                self.engine
                    .render(case.item.clone(), case.params.clone(), grid.clone()),
            )
            .unwrap_or_else(|e| panic!("{}: render failed: {e}", case.name))
    }

    fn tile(&self, case: &Case, grid: &Grid) -> Option<Vec<u8>> {
        self.rt
            .block_on(self.engine.tile(
                case.item.clone(),
                case.params.clone(),
                grid.clone(),
                Output::new(Format::Png),
            ))
            .unwrap_or_else(|e| panic!("{}: tile failed: {e}", case.name))
            .map(|e| e.bytes)
    }
}

/// A rendering of one raster on one tile matrix set at one zoom.
struct Case {
    name: &'static str,
    path: PathBuf,
    tms: &'static TileMatrixSet,
    z: u8,
    item: ItemSource,
    params: Arc<RenderParams>,
    /// Input bands (1-based), as the rendering reads them.
    bands: Vec<usize>,
}

#[derive(Clone, Copy)]
enum Style {
    /// Bands 1, 2, 3, linear `0..max`.
    Rgb(f64),
    /// Bands 1, 2, 3 shown as they are (8-bit).
    RgbBytes,
    /// Band 1, linear `0..max`, viridis.
    Viridis(f64),
    /// Band 1, linear `0..max`, grey.
    Grey(f64),
}

impl Case {
    fn new(
        name: &'static str,
        path: PathBuf,
        tms_id: &str,
        z: u8,
        style: Style,
        resampling: Resampling,
    ) -> Option<Case> {
        if !path.exists() {
            eprintln!("render bench: {name} skipped: {} is absent", path.display());
            return None;
        }
        let path = path.canonicalize().expect("canonical path");
        let mut params = RenderParams {
            assets: vec!["visual".into()],
            resampling,
            ..RenderParams::default()
        };
        let bands = match style {
            Style::Rgb(max) => {
                params.rescale = vec![(0.0, max)];
                vec![1, 2, 3]
            }
            Style::RgbBytes => vec![1, 2, 3],
            Style::Viridis(max) => {
                params.rescale = vec![(0.0, max)];
                let viridis = Colormap::named("viridis").expect("viridis");
                params.colormap = Some(("viridis".into(), viridis));
                vec![1]
            }
            Style::Grey(max) => {
                params.rescale = vec![(0.0, max)];
                vec![1]
            }
        };
        params.bidx = bands.clone();
        let href = path.to_str().expect("UTF-8 path").to_string();
        let item = ItemSource {
            key: format!("bench/{name}"),
            version: "1".into(),
            assets: BTreeMap::from([(
                "visual".to_string(),
                AssetSource {
                    href,
                    bands: Vec::new(),
                },
            )]),
        };
        Some(Case {
            name,
            path,
            tms: tms::get(tms_id).expect("tile matrix set"),
            z,
            item,
            params: Arc::new(params),
            bands,
        })
    }

    fn grid(&self, x: u64, y: u64) -> Grid {
        Grid {
            crs: format!("EPSG:{}", self.tms.epsg()),
            bounds: self.tms.tile_bounds(self.z, x, y).expect("tile bounds"),
            width: 256,
            height: 256,
        }
    }
}

/// The tiles a case is measured on.
struct Tiles {
    /// Near the middle of the raster, fully covered by data when possible.
    hot: Grid,
    hot_xy: (u64, u64),
    /// Distinct tiles with data, spread over the raster.
    cycle: Vec<Grid>,
}

/// Tiles of the case's zoom whose corners and centre all fall inside the raster.
fn tiles_inside(case: &Case) -> Vec<(u64, u64)> {
    let ds = Dataset::open(&case.path).expect("open raster");
    let info = DatasetInfo::read(&ds).expect("raster info");
    let srs = spatial_ref(&info.crs).expect("raster CRS");
    let wgs84 = CoordTransform::new(&srs, &spatial_ref("EPSG:4326").expect("EPSG:4326"))
        .expect("to WGS84")
        .transform_bounds(&info.bounds(), 21)
        .expect("WGS84 bounds");
    let Ok(bounds) = case.tms.from_wgs84(wgs84) else {
        return Vec::new();
    };
    let Some((x0, y0, x1, y1)) = case.tms.tile_range(case.z, bounds) else {
        return Vec::new();
    };
    let tms_srs = spatial_ref(&format!("EPSG:{}", case.tms.epsg())).expect("TMS CRS");
    let to_raster = CoordTransform::new(&tms_srs, &srs).expect("TMS to raster");
    let g = info.inverse;
    let (w, h) = (info.width as f64, info.height as f64);
    let mut inside = Vec::new();
    for y in y0..=y1 {
        for x in x0..=x1 {
            let [a, b, c, d] = case.tms.tile_bounds(case.z, x, y).expect("tile bounds");
            let mut xs = [a, c, a, c, (a + c) / 2.0];
            let mut ys = [b, b, d, d, (b + d) / 2.0];
            if to_raster
                .transform_coords(&mut xs, &mut ys, &mut [])
                .is_err()
            {
                continue;
            }
            let all_in = xs.iter().zip(&ys).all(|(x, y)| {
                let px = g[0] + x * g[1] + y * g[2];
                let py = g[3] + x * g[4] + y * g[5];
                (0.0..=w).contains(&px) && (0.0..=h).contains(&py)
            });
            if all_in {
                inside.push((x, y));
            }
        }
    }
    inside
}

/// Picks the tiles of a case (renders candidates to keep tiles with data).
fn select_tiles(ctx: &Context, case: &Case) -> Option<Tiles> {
    let inside = tiles_inside(case);
    if inside.is_empty() {
        eprintln!(
            "render bench: {} skipped: no {} z{} tile lies inside {}",
            case.name,
            case.tms.id(),
            case.z,
            case.path.display()
        );
        return None;
    }
    let n = inside.len() as f64;
    let cx = inside.iter().map(|t| t.0 as f64).sum::<f64>() / n;
    let cy = inside.iter().map(|t| t.1 as f64).sum::<f64>() / n;
    let mut by_distance = inside.clone();
    by_distance.sort_by(|a, b| {
        let d = |t: &(u64, u64)| (t.0 as f64 - cx).powi(2) + (t.1 as f64 - cy).powi(2);
        d(a).total_cmp(&d(b))
    });
    // The opaque tile nearest the middle, else the fullest of the 25 nearest.
    let mut best: Option<((u64, u64), usize)> = None;
    for &xy in by_distance.iter().take(25) {
        let filled = ctx
            .render(case, &case.grid(xy.0, xy.1))
            .map_or(0, |r| r.filled());
        if best.is_none_or(|(_, f)| filled > f) {
            best = Some((xy, filled));
        }
        if filled == 256 * 256 {
            break;
        }
    }
    let (hot_xy, filled) = best?;
    if filled == 0 {
        eprintln!(
            "render bench: {} skipped: the tiles near the middle are empty",
            case.name
        );
        return None;
    }
    // Spread over the raster: every k-th tile in row order.
    let stride = inside.len().div_ceil(CYCLE_TILES).max(1);
    let cycle: Vec<Grid> = inside
        .iter()
        .step_by(stride)
        .map(|&(x, y)| case.grid(x, y))
        .filter(|g| ctx.render(case, g).is_some_and(|r| r.filled() > 0))
        .collect();
    eprintln!(
        "render bench: {}: {} z{} tile {}/{} ({:.0} % filled), {} tiles inside, {} in the cycle",
        case.name,
        case.tms.id(),
        case.z,
        hot_xy.0,
        hot_xy.1,
        100.0 * filled as f64 / 65536.0,
        inside.len(),
        cycle.len()
    );
    Some(Tiles {
        hot: case.grid(hot_xy.0, hot_xy.1),
        hot_xy,
        cycle,
    })
}

fn data_dirs() -> (PathBuf, PathBuf) {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/rasters");
    let peers = std::env::var_os("PEERS_TILES_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/peers-tiles/data"));
    (shared, peers)
}

/// Engine cases: (case, measure a cycle of distinct tiles too, measure `Engine::render` too).
fn cases() -> Vec<(Case, bool, bool)> {
    let (shared, peers) = data_dirs();
    let wm = "WebMercatorQuad";
    let l93 = "LambertFrance93Quad";
    let near = Resampling::Nearest;
    let s2 = || peers.join("s2_32631_10m.tif");
    let phr = || peers.join("phr_2154_50cm.tif");
    let list = [
        // Sentinel-2-like 10 m, 4 x uint16, UTM 31N: native zoom, then overviews.
        (
            Case::new("s2_z14", s2(), wm, 14, Style::Rgb(3000.0), near),
            true,
            true,
        ),
        (
            Case::new(
                "s2_z14_bilinear",
                s2(),
                wm,
                14,
                Style::Rgb(3000.0),
                Resampling::Bilinear,
            ),
            false,
            false,
        ),
        (
            Case::new("s2_z11", s2(), wm, 11, Style::Rgb(3000.0), near),
            true,
            false,
        ),
        (
            Case::new("s2_z10", s2(), wm, 10, Style::Rgb(3000.0), near),
            false,
            false,
        ),
        // LAI-like float32, EPSG:4326, 0.001°, viridis.
        (
            Case::new(
                "lai_z10",
                peers.join("lai_4326.tif"),
                wm,
                10,
                Style::Viridis(7.0),
                near,
            ),
            true,
            false,
        ),
        // Pleiades-like 0.5 m, EPSG:2154, in Web Mercator (native z18).
        (
            Case::new("phr_z18", phr(), wm, 18, Style::Rgb(3000.0), near),
            false,
            false,
        ),
        // Lambert-93 tile matrix set: same CRS (Pleiades z14, native) and
        // UTM → Lambert-93 (S2 z10, native).
        (
            Case::new("l93_phr_z14", phr(), l93, 14, Style::Rgb(3000.0), near),
            true,
            false,
        ),
        (
            Case::new("l93_s2_z10", s2(), l93, 10, Style::Rgb(3000.0), near),
            false,
            false,
        ),
        // Real rasters.
        (
            Case::new(
                "real_s2_b01_z12",
                shared.join("sentinel-2/T31TDH_20180101T105441_B01_cog.tif"),
                wm,
                12,
                Style::Grey(3000.0),
                near,
            ),
            true,
            false,
        ),
        (
            Case::new(
                "real_tci_z11",
                shared.join("sentinel-2/34SGA_20200318/TCI.tif"),
                wm,
                11,
                Style::RgbBytes,
                near,
            ),
            false,
            false,
        ),
        (
            Case::new(
                "real_l93_b01_z7",
                shared.join("lambert93/T31TDH_20180101T105441_B01_L93_crop_cog.tif"),
                l93,
                7,
                Style::Grey(3000.0),
                near,
            ),
            false,
            false,
        ),
    ];
    list.into_iter()
        .filter_map(|(c, cycle, render)| c.map(|c| (c, cycle, render)))
        .collect()
}

fn engine_benches(c: &mut Criterion, ctx: &Context, selected: &[(Case, Tiles, bool, bool)]) {
    let mut group = c.benchmark_group("engine_tile");
    for (case, tiles, cycle, render) in selected {
        let png = ctx.tile(case, &tiles.hot).expect("the hot tile has data");
        eprintln!(
            "render bench: {} hot tile {}/{}: PNG of {} bytes",
            case.name,
            tiles.hot_xy.0,
            tiles.hot_xy.1,
            png.len()
        );
        group.bench_function(format!("{}_hot", case.name), |b| {
            b.iter(|| black_box(ctx.tile(case, black_box(&tiles.hot))))
        });
        if *cycle && !tiles.cycle.is_empty() {
            let mut k = 0;
            group.bench_function(format!("{}_cycle", case.name), |b| {
                b.iter(|| {
                    let grid = &tiles.cycle[k % tiles.cycle.len()];
                    k += 1;
                    black_box(ctx.tile(case, black_box(grid)))
                })
            });
        }
        if *render {
            group.bench_function(format!("{}_render", case.name), |b| {
                b.iter(|| black_box(ctx.render(case, black_box(&tiles.hot))))
            });
        }
    }
    group.finish();
}

/// A dataset opened on the bench thread, and its structure.
struct Opened {
    ds: Dataset,
    info: DatasetInfo,
}

fn open(path: &Path) -> Opened {
    let ds = Dataset::open(path).expect("open raster");
    let info = DatasetInfo::read(&ds).expect("raster info");
    Opened { ds, info }
}

fn decimation(r: Resampling) -> ResampleAlg {
    match r {
        Resampling::Nearest => ResampleAlg::NearestNeighbour,
        _ => ResampleAlg::Average,
    }
}

/// Reads the mapping's window of every band: values and, when the band has
/// one, its mask.
fn read_bands(
    o: &Opened,
    bands: &[usize],
    m: &Mapping,
    r: Resampling,
) -> Vec<(Vec<f32>, Option<Vec<u8>>)> {
    bands
        .iter()
        .map(|&b| {
            read_window(
                &o.ds,
                b,
                m.overview,
                m.window,
                m.buffer,
                decimation(r),
                o.info.bands[b - 1].masked,
            )
            .expect("read window")
        })
        .collect()
}

/// Validity of the source pixels (a copy of the loop inside `render_planes`).
fn valid_mask(values: &[f32], mask: Option<&[u8]>, nodata: Option<f64>) -> Vec<bool> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            !v.is_nan()
                && mask.is_none_or(|m| m[i] != 0)
                && nodata.is_none_or(|nd| nd.is_nan() || v != nd as f32)
        })
        .collect()
}

fn stage_benches(c: &mut Criterion, selected: &[(Case, Tiles, bool, bool)], stages: &[&str]) {
    let mut to_encode: Vec<(String, Rgba)> = Vec::new();
    for name in stages {
        let Some((case, tiles, _, _)) = selected.iter().find(|(c, ..)| c.name == *name) else {
            continue;
        };
        let grid = &tiles.hot;
        let o = open(&case.path);
        let srs = |d: &str| spatial_ref(d).expect("CRS");
        let t = CoordTransform::new(&srs(&grid.crs), &srs(&o.info.crs)).expect("transform");
        let mapping = |r: Resampling| {
            warp::map(&t, &o.info, grid, r)
                .expect("map")
                .expect("the tile overlaps the raster")
        };
        let nb = case.bands.len();
        let three = nb == 3;

        let mut g = c.benchmark_group("warp_map");
        g.bench_function(case.name, |b| {
            b.iter(|| warp::map(&t, &o.info, black_box(grid), Resampling::Nearest))
        });
        g.finish();

        let m = mapping(Resampling::Nearest);
        eprintln!(
            "render bench: {}: overview {:?}, window {:?}, buffer {:?}, {:.2} buffer px per tile px",
            case.name, m.overview, m.window, m.buffer, m.scale
        );
        let mut g = c.benchmark_group("read");
        g.bench_function(format!("{}_x{nb}_hot", case.name), |b| {
            b.iter(|| read_bands(&o, &case.bands, black_box(&m), Resampling::Nearest))
        });
        g.bench_function(format!("{}_x{nb}_cold", case.name), |b| {
            b.iter_batched(
                || {
                    let fresh = open(&case.path);
                    // Structure read as the engine's cached datasets have it.
                    let _ = fresh.ds.rasterband(1).and_then(|b| b.overview_count());
                    fresh
                },
                |fresh| {
                    let read = read_bands(&fresh, &case.bands, &m, Resampling::Nearest);
                    (fresh, read)
                },
                BatchSize::PerIteration,
            )
        });
        g.finish();

        // Planes as render_planes makes them (nearest).
        let read = read_bands(&o, &case.bands, &m, Resampling::Nearest);
        let src_valid: Vec<Vec<bool>> = read
            .iter()
            .zip(&case.bands)
            .map(|((v, mask), &b)| valid_mask(v, mask.as_deref(), o.info.bands[b - 1].nodata))
            .collect();
        let n = grid.width * grid.height;
        let indices = m.nearest_indices();
        let mut planes = Planes {
            width: grid.width,
            height: grid.height,
            values: Vec::new(),
            valid: vec![false; n],
            bytes: false,
        };
        for ((values, _), valid) in read.iter().zip(&src_valid) {
            let (mut out, mut out_valid) = (vec![0f32; n], vec![false; n]);
            warp::resample_nearest(&indices, values, valid, &mut out, &mut out_valid);
            for (any, ok) in planes.valid.iter_mut().zip(&out_valid) {
                *any |= ok;
            }
            planes.values.push(out);
        }

        let mut g = c.benchmark_group("glue");
        g.bench_function(format!("{}_x{nb}_valid_mask_replica", case.name), |b| {
            b.iter(|| {
                read.iter()
                    .zip(&case.bands)
                    .map(|((v, mask), &band)| {
                        valid_mask(black_box(v), mask.as_deref(), o.info.bands[band - 1].nodata)
                    })
                    .collect::<Vec<_>>()
            })
        });
        g.finish();

        let mut g = c.benchmark_group("resample");
        g.bench_function(format!("{}_nearest_indices", case.name), |b| {
            b.iter(|| black_box(&m).nearest_indices())
        });
        let mut out = vec![0f32; n];
        let mut out_valid = vec![false; n];
        g.bench_function(format!("{}_x{nb}_nearest", case.name), |b| {
            b.iter(|| {
                for ((values, _), valid) in read.iter().zip(&src_valid) {
                    warp::resample_nearest(
                        black_box(&indices),
                        values,
                        valid,
                        &mut out,
                        &mut out_valid,
                    );
                }
                black_box(&out);
            })
        });
        if three {
            for r in [Resampling::Bilinear, Resampling::Cubic, Resampling::Average] {
                let mr = mapping(r);
                let read_r = read_bands(&o, &case.bands, &mr, r);
                let valid_r: Vec<Vec<bool>> = read_r
                    .iter()
                    .zip(&case.bands)
                    .map(|((v, mask), &b)| {
                        valid_mask(v, mask.as_deref(), o.info.bands[b - 1].nodata)
                    })
                    .collect();
                let kernel = format!("{r:?}").to_ascii_lowercase();
                g.bench_function(format!("{}_x{nb}_{kernel}", case.name), |b| {
                    b.iter(|| {
                        for ((values, _), valid) in read_r.iter().zip(&valid_r) {
                            warp::resample(
                                black_box(&mr),
                                values,
                                valid,
                                r,
                                &mut out,
                                &mut out_valid,
                            );
                        }
                        black_box(&out);
                    })
                });
            }
        }
        g.finish();

        let colormap = case.params.colormap.as_ref().map(|(_, c)| c);
        let rescale = case.params.rescale.clone();
        let image = to_rgba(&planes, &rescale, colormap).expect("to_rgba");
        let mut g = c.benchmark_group("to_rgba");
        let what = if colormap.is_some() {
            "viridis"
        } else {
            "rescale"
        };
        g.bench_function(format!("{}_x{nb}_{what}", case.name), |b| {
            b.iter(|| to_rgba(black_box(&planes), &rescale, colormap))
        });
        g.finish();
        to_encode.push((case.name.to_string(), image));
    }

    let mut g = c.benchmark_group("encode");
    for (name, image) in &to_encode {
        let formats: &[Format] = if image.is_opaque() {
            &[Format::Png, Format::Jpeg, Format::Webp]
        } else {
            &[Format::Png, Format::Webp]
        };
        for &format in formats {
            let bytes = encode(image, format, true, [0, 0, 0]).expect("encode");
            eprintln!(
                "render bench: {name} as {}: {} bytes ({} %)",
                format.extension(),
                bytes.len(),
                100 * bytes.len() / image.data.len()
            );
            g.bench_function(format!("{name}_{}", format.extension()), |b| {
                b.iter(|| encode(black_box(image), format, true, [0, 0, 0]))
            });
        }
    }
    g.finish();
}

fn main() {
    let cache_mb: i64 = std::env::var("BENCH_GDAL_CACHE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    // SAFETY: a plain setter of GDAL's global block cache size.
    unsafe { gdal_sys::GDALSetCacheMax64(cache_mb << 20) };
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let (shared, peers) = data_dirs();
    let roots: Vec<PathBuf> = [shared, peers].into_iter().filter(|p| p.exists()).collect();
    let ctx = Context::new(roots);
    let selected: Vec<(Case, Tiles, bool, bool)> = cases()
        .into_iter()
        .filter_map(|(case, cycle, render)| {
            let tiles = select_tiles(&ctx, &case)?;
            Some((case, tiles, cycle, render))
        })
        .collect();
    engine_benches(&mut c, &ctx, &selected);
    stage_benches(
        &mut c,
        &selected,
        &[
            "s2_z14",
            "s2_z11",
            "lai_z10",
            "real_tci_z11",
            "real_s2_b01_z12",
        ],
    );
    c.final_summary();
}
