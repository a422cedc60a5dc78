//! The raster endpoints over real rasters (`../shared/data/rasters`), through
//! the real application: tiles compared pixel by pixel with `gdalwarp`
//! references, TileJSON, WMTS, previews, point values, statistics, errors
//! and the tile cache.
//!
//! Fails (does not skip) when `../shared/data/rasters` or `gdalwarp` is absent:
//! CI always has both.

mod common;

use common::*;
use gdal::Dataset;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tuilerie::config::Config;
use tuilerie::raster::tms;

const COLLECTION: &str = "real-rasters";

fn rasters() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/rasters");
    assert!(
        dir.is_dir(),
        "the raster tests need ../shared/data/rasters beside the repository"
    );
    dir.canonicalize().unwrap()
}

/// Items: id → file (relative to the rasters dir).
const RASTERS: &[(&str, &str)] = &[
    ("landsat-rgb", "landsat/rasterio_RGB.byte.tif"),
    (
        "s2-b01-utm",
        "sentinel-2/T31TDH_20180101T105441_B01_cog.tif",
    ),
    (
        "s2-b01-l93",
        "lambert93/T31TDH_20180101T105441_B01_L93_crop_cog.tif",
    ),
    ("phr-dsm", "pleiades/DSM_PHR_Dunkerque.tif"),
    (
        "worldcover",
        "thematic/ESA_WorldCover_10m_2021_v200_N00E006_Map.tif",
    ),
    ("srtm-ventoux", "dem/srtm90_N44E005_Ventoux_UTM31_cog.tif"),
    ("s2-tci", "sentinel-2/34SGA_20200318/TCI.tif"),
];

fn item(id: &str, href: &str, bbox: [f64; 4]) -> Value {
    let [w, s, e, n] = bbox;
    json!({
        "type": "Feature", "stac_version": "1.0.0", "id": id, "collection": COLLECTION,
        "bbox": bbox,
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {"datetime": "2023-06-01T10:00:00Z"},
        "assets": {"data": {"href": href, "type": "image/tiff; application=geotiff", "roles": ["data"]}},
        "links": []
    })
}

struct Fixture {
    _dir: tempfile::TempDir,
    db: Db,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(build_fixture)
}

/// A store with the real rasters as items (a private one for tests that
/// write): SQLite, or a fresh PostgreSQL database with `TUILERIE_TEST_POSTGRES`.
fn build_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path(), "t.db");
    let root = rasters();
    let mut lines = Vec::new();
    lines.push(json!({
        "type": "Collection", "stac_version": "1.0.0", "id": COLLECTION,
        "description": "Real rasters of ../shared/data", "license": "other",
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                   "temporal": {"interval": [["2000-01-01T00:00:00Z", null]]}},
        "links": []
    }));
    for (id, file) in RASTERS {
        let path = root.join(file);
        lines.push(item(id, &path.display().to_string(), wgs84_bounds(&path)));
    }
    let b = wgs84_bounds(&root.join(RASTERS[0].1));
    lines.push(item(
        "missing",
        &root.join("landsat/nope.tif").display().to_string(),
        b,
    ));
    lines.push(item("outside", "/etc/hostname", b));
    lines.push(item(
        "broken",
        &root
            .join("pleiades/phr_ventoux_left_image.geom")
            .display()
            .to_string(),
        b,
    ));
    let collection = dir.path().join("collection.json");
    std::fs::write(&collection, lines[0].to_string()).unwrap();
    let items = dir.path().join("items.ndjson");
    std::fs::write(
        &items,
        lines[1..]
            .iter()
            .map(|l| l.to_string() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let db2 = db.clone();
    // On its own thread: callers may be inside an async runtime.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let inputs = [
            collection.display().to_string(),
            items.display().to_string(),
        ];
        drop(load_store(&rt, &db2, &inputs));
        rt.shutdown_background();
    })
    .join()
    .unwrap();
    Fixture { _dir: dir, db }
}

fn raster_config() -> Config {
    let mut c = config(false);
    c.raster.roots = vec![rasters()];
    c.raster.threads = 2;
    c.cache.disk_dir = None;
    c
}

fn decode(body: &[u8]) -> image::RgbaImage {
    image::load_from_memory(body)
        .unwrap_or_else(|e| panic!("not an image ({e}): {}", String::from_utf8_lossy(body)))
        .to_rgba8()
}

/// The tile (of a set) containing a WGS84 point.
fn tile_at(set: &str, z: u8, lon: f64, lat: f64) -> (u64, u64) {
    let t = tms::get(set).unwrap();
    let b = t.from_wgs84([lon, lat, lon, lat]).unwrap();
    let (x0, y0, _, _) = t.tile_range(z, b).unwrap();
    (x0, y0)
}

fn centre(file: &str) -> (f64, f64) {
    let b = wgs84_bounds(&rasters().join(file));
    ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)
}

/// `gdalwarp -r near -et 0` of the source onto the tile: every band and an alpha band.
fn reference(
    file: &str,
    set: &str,
    z: u8,
    x: u64,
    y: u64,
    size: usize,
) -> (Vec<Vec<f64>>, Vec<bool>) {
    let t = tms::get(set).unwrap();
    let b = t.tile_bounds(z, x, y).unwrap();
    let out = tempfile::Builder::new().suffix(".tif").tempfile().unwrap();
    let status = Command::new("gdalwarp")
        .args([
            "-q",
            "-overwrite",
            "-r",
            "near",
            "-et",
            "0",
            "-dstalpha",
            "-of",
            "GTiff",
        ])
        .args(["-t_srs", &format!("EPSG:{}", t.epsg())])
        .args([
            "-te",
            &b[0].to_string(),
            &b[1].to_string(),
            &b[2].to_string(),
            &b[3].to_string(),
        ])
        .args(["-ts", &size.to_string(), &size.to_string()])
        .arg(rasters().join(file))
        .arg(out.path())
        .status()
        .expect("gdalwarp must be installed (apt install gdal-bin)");
    assert!(status.success());
    let ds = Dataset::open(out.path()).unwrap();
    let n = ds.raster_count();
    let mut bands = Vec::new();
    for k in 1..n {
        let buf = ds
            .rasterband(k)
            .unwrap()
            .read_as::<f64>((0, 0), (size, size), (size, size), None)
            .unwrap();
        bands.push(buf.data().to_vec());
    }
    let alpha = ds
        .rasterband(n)
        .unwrap()
        .read_as::<u8>((0, 0), (size, size), (size, size), None)
        .unwrap();
    (bands, alpha.data().iter().map(|&a| a > 0).collect())
}

/// Reference band and rescale of each RGB channel.
type Channels = [(usize, (f64, f64)); 3];

fn to_byte(v: f64, (lo, hi): (f64, f64)) -> i32 {
    ((v - lo) / (hi - lo) * 255.0).round().clamp(0.0, 255.0) as i32
}

struct Comparison {
    pixels: usize,
    alpha_mismatch: usize,
    value_mismatch: usize,
    valid: usize,
}

/// Compares a tile with its reference: `channels` maps each RGB channel to
/// a reference band and rescale (grey: the same band thrice).
fn compare(
    tile: &image::RgbaImage,
    reference: &(Vec<Vec<f64>>, Vec<bool>),
    channels: &[(usize, (f64, f64)); 3],
) -> Comparison {
    let (bands, valid) = reference;
    let mut c = Comparison {
        pixels: valid.len(),
        alpha_mismatch: 0,
        value_mismatch: 0,
        valid: 0,
    };
    for (k, px) in tile.pixels().enumerate() {
        let ours = px.0[3] > 0;
        if ours != valid[k] {
            c.alpha_mismatch += 1;
            continue;
        }
        if !ours {
            continue;
        }
        c.valid += 1;
        let bad = channels.iter().enumerate().any(|(ch, (band, range))| {
            (i32::from(px.0[ch]) - to_byte(bands[*band][k], *range)).abs() > 1
        });
        if bad {
            c.value_mismatch += 1;
            if std::env::var("DEBUG_MISMATCH").is_ok() && c.value_mismatch < 15 {
                eprintln!(
                    "  px {} {}: ours {:?} ref {:?}",
                    k % 256,
                    k / 256,
                    px.0,
                    channels
                        .iter()
                        .map(|(b, r)| to_byte(bands[*b][k], *r))
                        .collect::<Vec<_>>()
                );
            }
        }
    }
    c
}

/// Asserts a near-perfect match: the approximate transformer (≤ 0.05 px)
/// may pick the neighbouring source pixel exactly at pixel boundaries, so a
/// handful of pixels out of 65,536 may differ; nothing more.
fn assert_faithful(what: &str, c: &Comparison) {
    let limit = c.pixels / 500; // 0.2 %
    eprintln!(
        "{what}: {} valid px, alpha mismatches {}, value mismatches {} (limit {limit})",
        c.valid, c.alpha_mismatch, c.value_mismatch
    );
    assert!(c.valid > c.pixels / 10, "{what}: the tile is almost empty");
    assert!(
        c.alpha_mismatch <= limit && c.value_mismatch <= limit,
        "{what}: too many pixels differ from gdalwarp"
    );
}

#[actix_web::test]
async fn tiles_match_gdalwarp_in_every_tile_matrix_set() {
    let app = app(fixture().db.clone(), raster_config()).await;
    // (item, file, set, zoom, query, channels)
    let grey = |range| [(0, range), (0, range), (0, range)];
    let cases: Vec<(&str, &str, &str, u8, String, Channels)> = vec![
        (
            "landsat-rgb",
            RASTERS[0].1,
            "WebMercatorQuad",
            9,
            String::new(),
            [(0, (0.0, 255.0)), (1, (0.0, 255.0)), (2, (0.0, 255.0))],
        ),
        (
            "landsat-rgb",
            RASTERS[0].1,
            "WorldCRS84Quad",
            8,
            String::new(),
            [(0, (0.0, 255.0)), (1, (0.0, 255.0)), (2, (0.0, 255.0))],
        ),
        (
            "s2-b01-utm",
            RASTERS[1].1,
            "WebMercatorQuad",
            11,
            "rescale=0,3000".into(),
            grey((0.0, 3000.0)),
        ),
        (
            "s2-b01-utm",
            RASTERS[1].1,
            "WorldCRS84Quad",
            10,
            "rescale=0,3000".into(),
            grey((0.0, 3000.0)),
        ),
        (
            "s2-b01-utm",
            RASTERS[1].1,
            "LambertFrance93Quad",
            7,
            "rescale=0,3000".into(),
            grey((0.0, 3000.0)),
        ),
        (
            "s2-b01-l93",
            RASTERS[2].1,
            "LambertFrance93Quad",
            7,
            "rescale=500,2500".into(),
            grey((500.0, 2500.0)),
        ),
        (
            "phr-dsm",
            RASTERS[3].1,
            "WebMercatorQuad",
            17,
            "rescale=0,40".into(),
            grey((0.0, 40.0)),
        ),
        (
            "srtm-ventoux",
            RASTERS[5].1,
            "LambertFrance93Quad",
            8,
            "rescale=200,1900".into(),
            grey((200.0, 1900.0)),
        ),
        (
            "s2-tci",
            RASTERS[6].1,
            "WebMercatorQuad",
            13,
            String::new(),
            [(0, (0.0, 255.0)), (1, (0.0, 255.0)), (2, (0.0, 255.0))],
        ),
    ];
    for (id, file, set, z, query, channels) in cases {
        let (lon, lat) = centre(file);
        let (x, y) = tile_at(set, z, lon, lat);
        let uri =
            format!("/collections/{COLLECTION}/items/{id}/tiles/{set}/{z}/{x}/{y}.png?{query}");
        let r = get(&app, &uri).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        assert_eq!(r.content_type, "image/png");
        let tile = decode(&r.body);
        assert_eq!(tile.dimensions(), (256, 256));
        let reference = reference(file, set, z, x, y, 256);
        assert_faithful(
            &format!("{id} {set} {z}/{x}/{y}"),
            &compare(&tile, &reference, &channels),
        );
    }
}

#[actix_web::test]
async fn nodata_is_transparent_and_palettes_apply() {
    let app = app(fixture().db.clone(), raster_config()).await;
    // The landsat scene's corners are nodata (0): a tile over its edge is
    // partly transparent, exactly where gdalwarp's alpha is 0.
    let file = RASTERS[0].1;
    let b = wgs84_bounds(&rasters().join(file));
    let (x, y) = tile_at("WebMercatorQuad", 9, b[0] + 0.3, (b[1] + b[3]) / 2.0);
    let r = get(
        &app,
        &format!("/collections/{COLLECTION}/items/landsat-rgb/tiles/WebMercatorQuad/9/{x}/{y}.png"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tile = decode(&r.body);
    let transparent = tile.pixels().filter(|p| p.0[3] == 0).count();
    assert!(
        transparent > 1000,
        "corner tile should be partly transparent ({transparent})"
    );
    let expected = reference(file, "WebMercatorQuad", 9, x, y, 256);
    let c = compare(
        &tile,
        &expected,
        &[(0, (0.0, 255.0)), (1, (0.0, 255.0)), (2, (0.0, 255.0))],
    );
    assert_faithful("landsat corner", &c);

    // WorldCover: a paletted byte raster; the palette's colours come out.
    let file = RASTERS[4].1;
    let (lon, lat) = centre(file);
    let (x, y) = tile_at("WorldCRS84Quad", 13, lon, lat);
    let r = get(
        &app,
        &format!("/collections/{COLLECTION}/items/worldcover/tiles/WorldCRS84Quad/13/{x}/{y}.png"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tile = decode(&r.body);
    let (bands, valid) = reference(file, "WorldCRS84Quad", 13, x, y, 256);
    let ds = Dataset::open(rasters().join(file)).unwrap();
    let band = ds.rasterband(1).unwrap();
    let table = band.color_table().unwrap();
    let mut mismatches = 0;
    for (k, px) in tile.pixels().enumerate() {
        if !valid[k] {
            mismatches += usize::from(px.0[3] != 0);
            continue;
        }
        let c = table.entry_as_rgb(bands[0][k] as usize).unwrap();
        let expected = [c.r as u8, c.g as u8, c.b as u8];
        mismatches += usize::from(px.0[..3] != expected);
    }
    eprintln!("worldcover palette: {mismatches} mismatches");
    assert!(mismatches <= 65536 / 500, "{mismatches} pixels differ");
}

#[actix_web::test]
async fn colormaps_expressions_and_formats() {
    let app = app(fixture().db.clone(), raster_config()).await;
    let (lon, lat) = centre(RASTERS[1].1);
    let (x, y) = tile_at("WebMercatorQuad", 11, lon, lat);
    let base =
        format!("/collections/{COLLECTION}/items/s2-b01-utm/tiles/WebMercatorQuad/11/{x}/{y}");
    // A ramp: every valid pixel takes a colour of viridis at its rescaled value.
    let r = get(
        &app,
        &format!("{base}.png?rescale=0,3000&colormap_name=viridis"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let viridis = tuilerie::raster::colormap::Colormap::named("viridis").unwrap();
    let (bands, valid) = reference(RASTERS[1].1, "WebMercatorQuad", 11, x, y, 256);
    let tile = decode(&r.body);
    let mut bad = 0;
    for (k, px) in tile.pixels().enumerate() {
        if valid[k] && px.0[3] != 0 {
            let want = viridis.ramp(to_byte(bands[0][k], (0.0, 3000.0)) as u8);
            bad += usize::from((0..3).any(|c| (i32::from(px.0[c]) - i32::from(want[c])).abs() > 8));
        }
    }
    assert!(bad < 200, "{bad} pixels off the ramp");
    // An expression on the band, same answer as rescaling the band itself.
    let a = get(&app, &format!("{base}.png?expression=b1*2&rescale=0,6000")).await;
    let b = get(&app, &format!("{base}.png?rescale=0,3000")).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let (a, b) = (decode(&a.body), decode(&b.body));
    let differing = a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
    assert!(differing < 100, "{differing}");
    // A discrete colormap on raw values.
    let cm = r#"{"0":[0,0,0,0],"1":[255,0,0,255]}"#;
    let r = get(
        &app,
        &format!(
            "{base}.png?expression={}&colormap={}",
            urlencode("b1>1000"),
            urlencode(cm)
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tile = decode(&r.body);
    let red = tile.pixels().filter(|p| p.0 == [255, 0, 0, 255]).count();
    let expected = bands[0]
        .iter()
        .zip(&valid)
        .filter(|(v, ok)| **ok && **v > 1000.0)
        .count();
    assert!(
        red.abs_diff(expected) < 150,
        "red {red} vs expected {expected}"
    );
    // Formats and sizes.
    for (suffix, media) in [
        (".jpg", "image/jpeg"),
        (".webp", "image/webp"),
        ("@2x.png", "image/png"),
    ] {
        let r = get(&app, &format!("{base}{suffix}?rescale=0,3000")).await;
        assert_eq!(r.status, 200, "{suffix}: {}", r.text());
        assert_eq!(r.content_type, media);
        let img = decode(&r.body);
        let side = if suffix.starts_with('@') { 512 } else { 256 };
        assert_eq!(img.dimensions(), (side, side));
    }
    for resampling in ["bilinear", "cubic", "average"] {
        let r = get(
            &app,
            &format!("{base}.png?rescale=0,3000&resampling={resampling}"),
        )
        .await;
        assert_eq!(r.status, 200, "{resampling}: {}", r.text());
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[actix_web::test]
async fn errors_are_clear_4xx_and_5xx_json() {
    let app = app(fixture().db.clone(), raster_config()).await;
    let (lon, lat) = centre(RASTERS[0].1);
    let (x, y) = tile_at("WebMercatorQuad", 9, lon, lat);
    let tile = |id: &str, q: &str| {
        format!("/collections/{COLLECTION}/items/{id}/tiles/WebMercatorQuad/9/{x}/{y}.png{q}")
    };
    get(&app, &tile("landsat-rgb", "?rescale=1"))
        .await
        .assert_error(400, "rescale");
    get(&app, &tile("landsat-rgb", "?bidx=7"))
        .await
        .assert_error(400, "band 7");
    get(&app, &tile("landsat-rgb", "?assets=nope"))
        .await
        .assert_error(400, "nope");
    get(&app, &tile("landsat-rgb", "?colormap_name=nope"))
        .await
        .assert_error(400, "colormap");
    get(&app, &tile("landsat-rgb", "?expression=(b1"))
        .await
        .assert_error(400, "expression");
    get(&app, &tile("landsat-rgb", "?bidx=1,2"))
        .await
        .assert_error(400, "2 bands");
    let no_ext =
        format!("/collections/{COLLECTION}/items/landsat-rgb/tiles/WebMercatorQuad/9/{x}/{y}");
    get(&app, &format!("{no_ext}?format=gif"))
        .await
        .assert_error(400, "gif");
    get(&app, &format!("{no_ext}.gif"))
        .await
        .assert_error(400, "gif");
    assert_eq!(
        get(&app, &format!("{no_ext}?format=jpg"))
            .await
            .content_type,
        "image/jpeg"
    );
    get(&app, &tile("landsat-rgb", "?foo=1"))
        .await
        .assert_error(400, "foo");
    get(&app, &tile("no-such-item", ""))
        .await
        .assert_error(404, "no-such-item");
    get(&app, &tile("missing", ""))
        .await
        .assert_error(502, "does not exist");
    get(&app, &tile("outside", "")).await.assert_error(403, "");
    get(&app, &tile("broken", ""))
        .await
        .assert_error(502, "broken");
    let r = get(
        &app,
        &format!("/collections/{COLLECTION}/items/landsat-rgb/tiles/WebMercatorQuad/30/0/0.png"),
    )
    .await;
    r.assert_error(404, "");
    let r = get(
        &app,
        &format!("/collections/{COLLECTION}/items/landsat-rgb/tiles/WebMercatorQuad/2/9/0.png"),
    )
    .await;
    r.assert_error(404, "");
    get(
        &app,
        &format!("/collections/{COLLECTION}/items/landsat-rgb/tiles/Nope/2/1/1.png"),
    )
    .await
    .assert_error(404, "Nope");
    // A tile of the set, but away from the item.
    get(
        &app,
        &format!("/collections/{COLLECTION}/items/landsat-rgb/tiles/WebMercatorQuad/9/0/0.png"),
    )
    .await
    .assert_error(404, "outside");
    get(
        &app,
        &format!("/collections/{COLLECTION}/items/landsat-rgb/point/abc"),
    )
    .await
    .assert_error(400, "lon,lat");
    get(
        &app,
        &format!("/collections/{COLLECTION}/items/landsat-rgb/point/500,1"),
    )
    .await
    .assert_error(400, "longitude");
}

#[actix_web::test]
async fn point_statistics_info_preview() {
    let app = app(fixture().db.clone(), raster_config()).await;
    // Point: the value gdallocationinfo reads.
    let file = rasters().join(RASTERS[5].1);
    let (lon, lat) = (5.2786, 44.1738);
    let out = Command::new("gdallocationinfo")
        .args(["-valonly", "-wgs84"])
        .arg(&file)
        .args([lon.to_string(), lat.to_string()])
        .output()
        .unwrap();
    let expected: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let r = get(
        &app,
        &format!("/collections/{COLLECTION}/items/srtm-ventoux/point/{lon},{lat}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["values"][0].as_f64().unwrap(), expected, "{v}");
    assert_eq!(v["band_names"][0], "b1");
    // Statistics over the overview: min/max within the band's true range.
    let r = get(
        &app,
        &format!("/collections/{COLLECTION}/items/srtm-ventoux/statistics"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let s = &r.json()["b1"];
    let ds = Dataset::open(&file).unwrap();
    let mm = ds
        .rasterband(1)
        .unwrap()
        .compute_raster_min_max(false)
        .unwrap();
    assert!(
        s["min"].as_f64().unwrap() >= mm.min && s["max"].as_f64().unwrap() <= mm.max,
        "{s}"
    );
    assert!(
        s["max"].as_f64().unwrap() > s["min"].as_f64().unwrap() + 500.0,
        "{s}"
    );
    assert_eq!(s["histogram"][0].as_array().unwrap().len(), 10);
    // Info.
    let r = get(
        &app,
        &format!("/collections/{COLLECTION}/items/s2-b01-utm/info"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let i = &r.json()["data"];
    assert_eq!(i["crs"], "EPSG:32631");
    assert_eq!(i["size"], json!([1830, 1830]));
    assert_eq!(i["dtypes"], json!(["uint16"]));
    // Preview: the whole raster, longer side max_size, default rescale from the data.
    let r = get(
        &app,
        &format!("/collections/{COLLECTION}/items/srtm-ventoux/preview.png?max_size=300"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let img = decode(&r.body);
    assert_eq!(img.height(), 300);
    let distinct: std::collections::HashSet<u8> = img.pixels().map(|p| p.0[0]).collect();
    assert!(distinct.len() > 100, "a default rescale spreads the values");
}

#[actix_web::test]
async fn cache_etag_and_documents() {
    let app = app(fixture().db.clone(), raster_config()).await;
    let (lon, lat) = centre(RASTERS[1].1);
    let (x, y) = tile_at("WebMercatorQuad", 11, lon, lat);
    let uri = format!(
        "/collections/{COLLECTION}/items/s2-b01-utm/tiles/WebMercatorQuad/11/{x}/{y}.png?rescale=0,2000"
    );
    let a = get(&app, &uri).await;
    assert_eq!(a.headers.get("x-cache").unwrap().to_str().unwrap(), "miss");
    let b = get(&app, &uri).await;
    assert_eq!(b.headers.get("x-cache").unwrap().to_str().unwrap(), "hit");
    assert_eq!(a.body, b.body);
    let etag = a.headers.get("etag").unwrap().to_str().unwrap().to_string();
    assert!(etag.starts_with('"'));
    let r = call(
        &app,
        actix_web::test::TestRequest::get()
            .uri(&uri)
            .insert_header(("If-None-Match", etag.as_str()))
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 304);
    assert!(
        a.headers
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    // TileJSON with the rendering passed on, WMTS with every set.
    let r = get(&app, &format!("/collections/{COLLECTION}/items/s2-b01-utm/WebMercatorQuad/tilejson.json?rescale=0,2000")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tj = r.json();
    let template = tj["tiles"][0].as_str().unwrap();
    assert!(
        template.contains("/tiles/WebMercatorQuad/{z}/{x}/{y}.png?rescale=0%2C2000")
            || template.contains("rescale=0,2000"),
        "{template}"
    );
    assert!(
        tj["maxzoom"].as_u64().unwrap() >= 10 && tj["maxzoom"].as_u64().unwrap() <= 12,
        "{tj}"
    );
    let tile_uri = local(
        &template
            .replace("{z}", "11")
            .replace("{x}", &x.to_string())
            .replace("{y}", &y.to_string()),
    );
    assert_eq!(get(&app, &tile_uri).await.status, 200);
    let r = get(
        &app,
        &format!("/collections/{COLLECTION}/items/s2-b01-utm/WMTSCapabilities.xml"),
    )
    .await;
    assert_eq!(r.status, 200);
    let xml = r.text();
    for set in ["WebMercatorQuad", "WorldCRS84Quad", "LambertFrance93Quad"] {
        assert!(xml.contains(set), "{set}");
    }
    // Items carry web-map links; the xyz template serves the default rendering.
    let item = get(&app, &format!("/collections/{COLLECTION}/items/s2-b01-utm"))
        .await
        .json();
    let link = |rel: &str| {
        item["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == rel)
            .unwrap_or_else(|| panic!("no {rel} link"))
            .clone()
    };
    let xyz = link("xyz")["href"].as_str().unwrap().to_string();
    let r = get(
        &app,
        &local(
            &xyz.replace("{z}", "11")
                .replace("{x}", &x.to_string())
                .replace("{y}", &y.to_string()),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        get(&app, &local(link("tilejson")["href"].as_str().unwrap()))
            .await
            .status,
        200
    );
    assert_eq!(link("wmts")["wmts:layer"], "s2-b01-utm");
    let c = get(&app, &format!("/collections/{COLLECTION}"))
        .await
        .json();
    assert!(
        c["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "xyz")
    );
    let r = get(&app, "/tileMatrixSets").await;
    assert_eq!(r.json()["tileMatrixSets"].as_array().unwrap().len(), 3);
    let r = get(&app, "/tileMatrixSets/LambertFrance93Quad").await;
    assert_eq!(
        r.json()["crs"],
        "http://www.opengis.net/def/crs/EPSG/0/2154"
    );
}

#[actix_web::test]
async fn collection_mosaic_paints_items_in_order() {
    let app = app(fixture().db.clone(), raster_config()).await;
    // Over the S2 scene: the UTM and the Lambert-93 copies of B01 overlap.
    let (lon, lat) = centre(RASTERS[2].1);
    let (x, y) = tile_at("WebMercatorQuad", 10, lon, lat);
    let uri = format!(
        "/collections/{COLLECTION}/tiles/WebMercatorQuad/10/{x}/{y}.png?assets=data&rescale=0,3000&ids=s2-b01-utm,s2-b01-l93"
    );
    let r = get(&app, &uri).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mosaic = decode(&r.body);
    let items: usize = r
        .headers
        .get("x-mosaic-items")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(items >= 1, "{items}");
    let single = get(&app, &format!(
        "/collections/{COLLECTION}/items/s2-b01-utm/tiles/WebMercatorQuad/10/{x}/{y}.png?assets=data&rescale=0,3000"
    )).await;
    let single = decode(&single.body);
    // The mosaic is at least as full as either item alone.
    let opaque = |i: &image::RgbaImage| i.pixels().filter(|p| p.0[3] > 0).count();
    assert!(opaque(&mosaic) >= opaque(&single));
    // Nowhere near any item: 204.
    let r = get(
        &app,
        &format!("/collections/{COLLECTION}/tiles/WebMercatorQuad/10/0/0.png?assets=data"),
    )
    .await;
    assert_eq!(r.status, 204);
    // Bad filters are 400.
    get(
        &app,
        &format!(
            "/collections/{COLLECTION}/tiles/WebMercatorQuad/10/{x}/{y}.png?datetime=yesterday"
        ),
    )
    .await
    .assert_error(400, "datetime");
    let r = get(
        &app,
        &format!("/collections/{COLLECTION}/WebMercatorQuad/tilejson.json?assets=data"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[actix_web::test]
async fn a_saturated_engine_answers_503_with_retry_after() {
    let mut c = raster_config();
    c.raster.threads = 1;
    c.raster.queue = 1;
    c.cache.memory_mb = 0;
    let app = app(fixture().db.clone(), c).await;
    let (lon, lat) = centre(RASTERS[1].1);
    let requests: Vec<_> = (0..24)
        .map(|k| {
            // Different tiles (no cache), all at once.
            let (x, y) = tile_at("WebMercatorQuad", 13, lon + 0.02 * (k % 6) as f64, lat + 0.02 * (k / 6) as f64);
            let uri = format!("/collections/{COLLECTION}/items/s2-b01-utm/tiles/WebMercatorQuad/13/{x}/{y}.png?rescale=0,{}", 3000 + k);
            actix_web::test::TestRequest::get().uri(&uri).to_request()
        })
        .map(|req| actix_web::test::call_service(&app, req))
        .collect();
    let responses = futures_util::future::join_all(requests).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    let busy: Vec<_> = responses
        .iter()
        .filter(|r| r.status().as_u16() == 503)
        .collect();
    assert!(
        !busy.is_empty(),
        "24 concurrent tiles on a queue of 1 should overflow: {statuses:?}"
    );
    assert_eq!(busy[0].headers().get("retry-after").unwrap(), "1");
    assert!(statuses.contains(&200));
}

#[actix_web::test]
async fn an_updated_item_is_never_served_from_a_stale_cache() {
    let own = build_fixture();
    let mut c = raster_config();
    c.auth.admin_token = Some(ADMIN_TOKEN.into());
    let app = app(own.db.clone(), c).await;
    let (lon, lat) = centre(RASTERS[1].1);
    let (x, y) = tile_at("WebMercatorQuad", 11, lon, lat);
    let uri = format!(
        "/collections/{COLLECTION}/items/s2-b01-utm/tiles/WebMercatorQuad/11/{x}/{y}.png?rescale=0,3000"
    );
    let first = get(&app, &uri).await;
    assert_eq!(get(&app, &uri).await.headers.get("x-cache").unwrap(), "hit");
    // Point the item at another raster: the next tile is rendered anew, from the new file.
    let href = rasters().join(RASTERS[2].1).display().to_string();
    let patch = actix_web::test::TestRequest::patch()
        .uri(&format!("/collections/{COLLECTION}/items/s2-b01-utm"))
        .insert_header(("Authorization", format!("Bearer {ADMIN_TOKEN}")))
        .set_json(json!({"assets": {"data": {"href": href, "type": "image/tiff; application=geotiff", "roles": ["data"]}}}))
        .to_request();
    let r = call(&app, patch).await;
    assert!(r.status < 300, "{}", r.text());
    let second = get(&app, &uri).await;
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(second.headers.get("x-cache").unwrap(), "miss");
    assert_ne!(
        first.body, second.body,
        "the tile must come from the new raster"
    );
}

/// Snapshots of a few renderings (`tests/snapshots/*.png`), so that a change
/// of rendering shows up in review. `UPDATE_SNAPSHOTS=1` rewrites them.
#[actix_web::test]
async fn rendering_snapshots() {
    let app = app(fixture().db.clone(), raster_config()).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let update = std::env::var("UPDATE_SNAPSHOTS").is_ok();
    let cases = [
        (
            "landsat-rgb-z9",
            RASTERS[0].1,
            "landsat-rgb",
            "WebMercatorQuad",
            9,
            "",
        ),
        (
            "s2-b01-viridis-z11",
            RASTERS[1].1,
            "s2-b01-utm",
            "WebMercatorQuad",
            11,
            "rescale=0,3000&colormap_name=viridis",
        ),
        (
            "s2-b01-l93-z7",
            RASTERS[2].1,
            "s2-b01-l93",
            "LambertFrance93Quad",
            7,
            "rescale=500,2500&resampling=bilinear",
        ),
        (
            "worldcover-palette-z12",
            RASTERS[4].1,
            "worldcover",
            "WorldCRS84Quad",
            12,
            "",
        ),
        (
            "srtm-terrain-z10",
            RASTERS[5].1,
            "srtm-ventoux",
            "WebMercatorQuad",
            10,
            "rescale=200,1900&colormap_name=terrain",
        ),
    ];
    let mut failures = Vec::new();
    for (name, file, id, set, z, query) in cases {
        // WorldCover's tile is mostly sea: look at São Tomé.
        let (lon, lat) = if id == "worldcover" {
            (6.62, 0.25)
        } else {
            centre(file)
        };
        let (x, y) = tile_at(set, z, lon, lat);
        let r = get(
            &app,
            &format!("/collections/{COLLECTION}/items/{id}/tiles/{set}/{z}/{x}/{y}.png?{query}"),
        )
        .await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let path = dir.join(format!("{name}.png"));
        if update || !path.exists() {
            assert!(
                update,
                "snapshot {} is missing: run with UPDATE_SNAPSHOTS=1 and commit it",
                path.display()
            );
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &r.body).unwrap();
            continue;
        }
        let (got, want) = (decode(&r.body), decode(&std::fs::read(&path).unwrap()));
        let differing = got
            .pixels()
            .zip(want.pixels())
            .filter(|(a, b)| a.0.iter().zip(b.0.iter()).any(|(p, q)| p.abs_diff(*q) > 1))
            .count();
        if got.dimensions() != want.dimensions() || differing > 0 {
            let out =
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/snapshots/{name}.png"));
            std::fs::create_dir_all(out.parent().unwrap()).unwrap();
            std::fs::write(&out, &r.body).unwrap();
            failures.push(format!(
                "{name}: {differing} pixels differ (new rendering in {})",
                out.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
