//! The demo rasters, checked with GDAL against what the demo items promise.
//!
//! They are generated once per test binary with `write_rasters_scaled` at
//! [`SCALE`] (smaller extents, same resolutions and top-left corners: the
//! full set takes minutes in a debug build), through the same code path as
//! the full-size `write_rasters`.

use gdal::Dataset;
use gdal::Metadata;
use gdal::raster::GdalDataType;
use gdal::spatial_ref::CoordTransform;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tuilerie::demo::scenes::{DataType, Kind, RasterFile, layout, srs};
use tuilerie::demo::{self, RasterStats};

/// Extent factor of the generated rasters.
const SCALE: f64 = 0.3;

/// The demo directory with the rasters, generated once.
fn generated() -> &'static (tempfile::TempDir, RasterStats) {
    static DIR: OnceLock<(tempfile::TempDir, RasterStats)> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let stats = demo::write_rasters_scaled(dir.path(), SCALE).unwrap();
        eprintln!(
            "generated {} files, {:.1} MB, in {:.1} s (scale {SCALE})",
            stats.files,
            stats.megabytes(),
            stats.seconds
        );
        (dir, stats)
    })
}

/// The demo items with hrefs into the generated directory.
fn items() -> Vec<Value> {
    let root = std::path::absolute(generated().0.path()).unwrap();
    demo::items(&root)
        .into_iter()
        .flat_map(|(_, list)| list)
        .collect()
}

/// The product file an asset of a collection is.
fn spec(collection: &str, asset: &str) -> &'static RasterFile {
    let kind = [
        Kind::Sentinel2,
        Kind::Pleiades,
        Kind::Spot,
        Kind::Lai,
        Kind::Biomass,
        Kind::Tropisco,
    ]
    .into_iter()
    .find(|k| k.collection() == collection)
    .unwrap();
    kind.files().iter().find(|f| f.asset == asset).unwrap()
}

/// What GDAL says about one file.
#[derive(Debug, Clone)]
struct Info {
    epsg: u32,
    transform: [f64; 6],
    size: (usize, usize),
    bands: usize,
    dtype: GdalDataType,
    nodata: Option<f64>,
    block: (usize, usize),
    overviews: i32,
    layout: Option<String>,
    /// Lon/lat of the corners: lower-left, lower-right, upper-right, upper-left.
    corners: [(f64, f64); 4],
}

fn info(path: &str) -> Info {
    let ds = Dataset::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let epsg = ds.spatial_ref().unwrap().auth_code().unwrap() as u32;
    let gt = ds.geo_transform().unwrap();
    let (w, h) = ds.raster_size();
    let band = ds.rasterband(1).unwrap();
    let (x0, y0, x1, y1) = (
        gt[0],
        gt[3],
        gt[0] + gt[1] * w as f64,
        gt[3] + gt[5] * h as f64,
    );
    let mut xs = vec![x0, x1, x1, x0];
    let mut ys = vec![y1, y1, y0, y0];
    if epsg != 4326 {
        CoordTransform::new(&srs(epsg).unwrap(), &srs(4326).unwrap())
            .unwrap()
            .transform_coords(&mut xs, &mut ys, &mut [])
            .unwrap();
    }
    Info {
        epsg,
        transform: [gt[1], gt[2], gt[0], gt[4], gt[5], gt[3]],
        size: (w, h),
        bands: ds.raster_count(),
        dtype: band.band_type(),
        nodata: band.no_data_value(),
        block: band.block_size(),
        overviews: band.overview_count().unwrap(),
        layout: ds.metadata_item("LAYOUT", "IMAGE_STRUCTURE"),
        corners: [
            (xs[0], ys[0]),
            (xs[1], ys[1]),
            (xs[2], ys[2]),
            (xs[3], ys[3]),
        ],
    }
}

fn gdal_type(t: DataType) -> GdalDataType {
    match t {
        DataType::U8 => GdalDataType::UInt8,
        DataType::U16 => GdalDataType::UInt16,
        DataType::F32 => GdalDataType::Float32,
    }
}

/// Band 1 (or `band`) of a file as numbers, with the no-data value.
fn pixels(path: &str, band: usize) -> (Vec<f64>, (usize, usize), Option<f64>) {
    let ds = Dataset::open(path).unwrap();
    let b = ds.rasterband(band).unwrap();
    let buffer = b.read_band_as::<f64>().unwrap();
    let (shape, data) = buffer.into_shape_and_vec();
    (data, shape, b.no_data_value())
}

/// Mean and standard deviation of the valid pixels, and the correlation
/// of each valid pixel with its right-hand and lower neighbours: high for
/// landscapes, near zero for white noise.
fn statistics(data: &[f64], (w, h): (usize, usize), nodata: Option<f64>) -> (f64, f64, f64) {
    let valid = |v: f64| nodata != Some(v);
    let values: Vec<f64> = data.iter().copied().filter(|v| valid(*v)).collect();
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for r in 0..h {
        for c in 0..w {
            let a = data[r * w + c];
            for (rr, cc) in [(r, c + 1), (r + 1, c)] {
                if rr >= h || cc >= w {
                    continue;
                }
                let b = data[rr * w + cc];
                if valid(a) && valid(b) {
                    sxy += (a - mean) * (b - mean);
                    sxx += (a - mean).powi(2);
                    syy += (b - mean).powi(2);
                }
            }
        }
    }
    (mean, sd, sxy / (sxx * syy).sqrt().max(1e-12))
}

#[test]
fn every_raster_asset_is_a_cog_as_the_item_describes() {
    let mut seen: HashMap<String, Info> = HashMap::new();
    let mut per_collection: BTreeMap<String, usize> = BTreeMap::new();
    for item in items() {
        let collection = item["collection"].as_str().unwrap();
        let epsg = item["properties"]["proj:epsg"].as_u64().unwrap() as u32;
        let bbox: Vec<f64> = item["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let footprint: Vec<(f64, f64)> = item["geometry"]["coordinates"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        let assets = demo::raster_assets(&item);
        assert!(!assets.is_empty(), "{}", item["id"]);
        for (key, href) in assets {
            let href = href.as_str().unwrap().to_string();
            let i = seen
                .entry(href.clone())
                .or_insert_with(|| info(&href))
                .clone();
            let f = spec(collection, &key);
            let asset = &item["assets"][&key];
            let what = format!("{} {key} ({href})", item["id"]);
            // COG layout: tiles, overviews, the COG marker.
            assert_eq!(i.layout.as_deref(), Some("COG"), "{what}");
            assert_eq!(i.block, (256, 256), "{what}");
            assert!(i.overviews >= 1, "{what}");
            // What the item promises.
            assert_eq!(i.epsg, epsg, "{what}");
            assert_eq!(i.bands, f.bands, "{what}");
            assert_eq!(i.dtype, gdal_type(f.dtype), "{what}");
            assert_eq!(i.nodata, f.nodata, "{what}");
            let promised: Vec<f64> = asset["proj:transform"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            // The promised resolution, on the promised pixel grid.
            for k in [0, 1, 3, 4] {
                assert!(
                    (i.transform[k] - promised[k]).abs() < 1e-12,
                    "{what}: {:?} vs {promised:?}",
                    i.transform
                );
            }
            for (k, res) in [(2, promised[0]), (5, promised[4])] {
                let shift = (i.transform[k] - promised[k]) / res;
                assert!(
                    (shift - shift.round()).abs() < 1e-6,
                    "{what}: {:?} vs {promised:?}",
                    i.transform
                );
            }
            let shape = &asset["proj:shape"];
            let (rows, cols) = (
                shape[0].as_u64().unwrap() as usize,
                shape[1].as_u64().unwrap() as usize,
            );
            // Scaled down from the promised shape.
            assert!(i.size.0 <= cols && i.size.1 <= rows, "{what}");
            assert!(
                (i.size.0 as f64 - cols as f64 * SCALE).abs() <= 4.0,
                "{what}"
            );
            // Inside the item's bbox.
            for (x, y) in i.corners {
                assert!(
                    x >= bbox[0] - 1e-6
                        && x <= bbox[2] + 1e-6
                        && y >= bbox[1] - 1e-6
                        && y <= bbox[3] + 1e-6,
                    "{what}: corner {x},{y} outside {bbox:?}"
                );
            }
            // Centred in it (to a few pixels).
            let centre = |c: &[(f64, f64)]| {
                let n = c.len() as f64;
                (
                    c.iter().map(|p| p.0).sum::<f64>() / n,
                    c.iter().map(|p| p.1).sum::<f64>() / n,
                )
            };
            let (a, b) = (centre(&i.corners), centre(&footprint[..4]));
            let tolerance = 4.0 * promised[0].abs() * if epsg == 4326 { 1.0 } else { 1e-5 };
            assert!(
                (a.0 - b.0).abs() < tolerance && (a.1 - b.1).abs() < tolerance,
                "{what}: centre {a:?} vs {b:?}"
            );
        }
        *per_collection.entry(collection.to_string()).or_default() += 1;
    }
    assert_eq!(per_collection.len(), 6, "{per_collection:?}");
    assert_eq!(seen.len(), generated().1.files);
    // The promised CRSs.
    let epsgs = |c: &str| -> Vec<u32> {
        let mut v: Vec<u32> = layout()
            .scenes
            .iter()
            .filter(|s| s.kind.collection() == c)
            .map(|s| s.grid.epsg)
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(epsgs("sentinel-2-l2a"), vec![32630, 32631]);
    assert_eq!(epsgs("pleiades"), vec![2154, 32622, 32740]);
    assert_eq!(epsgs("spot-6-7"), vec![2154, 32622, 32740]);
    assert_eq!(epsgs("lai"), vec![4326]);
    assert_eq!(epsgs("biomass"), vec![4326]);
    assert_eq!(epsgs("tropisco"), vec![32621, 32622]);
}

#[test]
fn resolutions_are_native() {
    let l = layout();
    let res = |kind: Kind, file: &str| {
        let s = l.scenes.iter().find(|s| s.kind == kind).unwrap();
        let f = kind.files().iter().find(|f| f.file == file).unwrap();
        s.file_grid(f).dx
    };
    assert_eq!(res(Kind::Sentinel2, "B04.tif"), 10.0);
    assert_eq!(res(Kind::Sentinel2, "B05.tif"), 20.0);
    assert_eq!(res(Kind::Pleiades, "PAN.tif"), 0.5);
    assert_eq!(res(Kind::Pleiades, "MS.tif"), 2.0);
    assert_eq!(res(Kind::Spot, "PAN.tif"), 1.5);
    assert_eq!(res(Kind::Spot, "MS.tif"), 6.0);
    assert_eq!(res(Kind::Tropisco, "FOREST_LOSS.tif"), 20.0);
    assert!((res(Kind::Lai, "LAI.tif") - 1.0 / 112.0).abs() < 1e-12);
}

/// The generated files of a collection's asset.
fn files_of(collection: &str, asset: &str) -> Vec<String> {
    let mut out: Vec<String> = items()
        .iter()
        .filter(|i| i["collection"] == collection)
        .map(|i| i["assets"][asset]["href"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn values_vary_smoothly_with_realistic_magnitudes() {
    // (collection, asset, band, minimum standard deviation, valid range)
    type Case = (&'static str, &'static str, usize, f64, (f64, f64));
    let cases: &[Case] = &[
        ("sentinel-2-l2a", "B04", 1, 20.0, (1.0, 10_000.0)),
        ("sentinel-2-l2a", "B08", 1, 50.0, (1.0, 10_000.0)),
        ("sentinel-2-l2a", "B06", 1, 30.0, (1.0, 10_000.0)),
        ("sentinel-2-l2a", "visual", 2, 2.0, (1.0, 255.0)),
        ("pleiades", "PAN", 1, 20.0, (1.0, 10_000.0)),
        ("pleiades", "MS", 4, 20.0, (1.0, 10_000.0)),
        ("spot-6-7", "PAN", 1, 20.0, (1.0, 10_000.0)),
        ("spot-6-7", "MS", 3, 20.0, (1.0, 10_000.0)),
        ("lai", "lai", 1, 0.05, (0.0, 7.0)),
        ("lai", "lai_err", 1, 0.005, (0.0, 2.0)),
        ("biomass", "agb", 1, 5.0, (0.0, 450.0)),
        ("biomass", "agb_sd", 1, 1.0, (0.0, 200.0)),
    ];
    for (collection, asset, band, min_sd, range) in cases {
        let files = files_of(collection, asset);
        let mut varied = 0;
        let (mut min_r, mut lowest_sd) = (f64::MAX, f64::MAX);
        for path in &files {
            let (data, shape, nodata) = pixels(path, *band);
            let (mean, sd, correlation) = statistics(&data, shape, nodata);
            let what = format!(
                "{collection} {asset} {path}: mean {mean:.2} sd {sd:.2} r {correlation:.2}"
            );
            lowest_sd = lowest_sd.min(sd);
            if sd > *min_sd {
                varied += 1;
                min_r = min_r.min(correlation);
                // Where values vary, neighbours agree: shapes, not noise
                // (white noise would give 0; towns' street grids at 20 m
                // bring it down to about 0.55).
                assert!(correlation > 0.5, "noisy: {what}");
            }
            for v in data.iter().filter(|v| nodata != Some(**v)) {
                assert!(*v >= range.0 && *v <= range.1, "{v} out of range: {what}");
            }
        }
        eprintln!(
            "{collection} {asset}: {} files, {varied} varied, min sd {lowest_sd:.3}, min r {min_r:.2}",
            files.len()
        );
        // A crop of these scaled rasters may fall on a uniform lake, not
        // the products.
        assert!(
            varied * 10 >= files.len() * 9,
            "flat: {collection} {asset}: only {varied} of {} files vary",
            files.len()
        );
    }
}

/// Mean of the valid pixels of band `band`.
fn mean(path: &str, band: usize) -> f64 {
    let (data, shape, nodata) = pixels(path, band);
    statistics(&data, shape, nodata).0
}

#[test]
fn seasons_months_years_and_weeks_differ() {
    let all = items();
    let href = |id_part: &str, asset: &str| -> String {
        all.iter()
            .find(|i| i["id"].as_str().unwrap().contains(id_part))
            .unwrap_or_else(|| panic!("{id_part}"))["assets"][asset]["href"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Sentinel-2 over Toulouse: June and September are different files,
    // and the harvest shows.
    let toulouse = |month: &str| -> String {
        all.iter()
            .find(|i| {
                i["id"].as_str().unwrap().ends_with("_T31TCJ")
                    && i["properties"]["datetime"]
                        .as_str()
                        .unwrap()
                        .starts_with(month)
            })
            .unwrap()["assets"]["visual"]["href"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (june, september) = (toulouse("2023-06"), toulouse("2023-09"));
    assert_ne!(june, september);
    // Mean change of the true-colour red per pixel (0-255).
    let ((a, ..), (b, ..)) = (pixels(&june, 1), pixels(&september, 1));
    let change = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64;
    assert!(change > 8.0, "June and September look alike ({change})");
    // LAI over France: summer above winter.
    let (january, july) = (
        mean(&href("LAI_MONTHLY_202301_X18Y03", "lai"), 1),
        mean(&href("LAI_MONTHLY_202307_X18Y03", "lai"), 1),
    );
    assert!(july > january + 0.5, "July {july}, January {january}");
    // TropiSCO: losses accumulate week after week, and some are this week's.
    let mut this_week = 0usize;
    for tile in ["22NCL", "22NBL", "22NCK", "21NZF"] {
        let mut earlier = 0usize;
        for week in 1..=52 {
            let (data, ..) = pixels(
                &href(&format!("TROPISCO_2023-W{week:02}_{tile}"), "forest_loss"),
                1,
            );
            let count = |class: f64| data.iter().filter(|v| **v == class).count();
            assert!(data.iter().all(|v| (0.0..=4.0).contains(v)));
            assert!(count(1.0) > 0, "{tile} week {week}: no forest");
            assert!(
                count(4.0) >= earlier,
                "{tile} week {week}: losses disappeared"
            );
            earlier = count(4.0);
            this_week += count(3.0);
        }
    }
    assert!(this_week > 0, "no loss during any week");
    // Biomass: clearings lower the mean over the years.
    let (first, last) = (
        mean(&href("AGB_2019_GUYANE", "agb"), 1),
        mean(&href("AGB_2023_GUYANE", "agb"), 1),
    );
    assert!(last <= first, "2019 {first}, 2023 {last}");
}

#[test]
fn an_up_to_date_directory_is_left_alone() {
    let (dir, first) = generated();
    let again = demo::write_rasters_scaled(dir.path(), SCALE).unwrap();
    assert!(first.generated);
    assert!(!again.generated);
    assert_eq!((again.files, again.bytes), (first.files, first.bytes));
    let marker = dir
        .path()
        .join("rasters")
        .join(tuilerie::demo::rasters::MARKER);
    assert!(std::fs::read_to_string(marker).unwrap().contains("version"));
    // Every file the items point at is there, and nothing else.
    let mut on_disk = Vec::new();
    walk(&dir.path().join("rasters"), &mut on_disk);
    let tifs = on_disk
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tif"))
        .count();
    assert_eq!(tifs, first.files);
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}
