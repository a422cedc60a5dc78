//! Tiles of the demo catalogue: every collection's default rendering (its
//! first `renders` preset) of a demo item draws a recognisable tile from
//! the demo COGs, through the real application; LAI's nodata is transparent
//! exactly where `gdalwarp` says; TropiSCO's classes keep the preset's colours.

mod common;

use common::*;
use gdal::Dataset;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use tuilerie::raster::tms;

// These suites look at the whole catalogue, licensed collections included:
// they call as the demo's scientist (access control: tests/access.rs).
async fn get<S, B>(app: &S, uri: &str) -> Reply
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    get_as(app, uri, SCIENTIST).await
}

/// The demo store and (smaller, same-resolution) demo rasters, once.
fn demo() -> &'static RasterDemo {
    raster_demo()
}

fn items() -> Vec<Value> {
    let root = std::path::absolute(demo().dir.path()).unwrap();
    tuilerie::demo::items(&root)
        .into_iter()
        .flat_map(|(_, list)| list)
        .collect()
}

fn wgs84_centre(path: &Path) -> (f64, f64) {
    let ds = Dataset::open(path).unwrap();
    let g = ds.geo_transform().unwrap();
    let (w, h) = ds.raster_size();
    let (x, y) = (g[0] + g[1] * w as f64 / 2.0, g[3] + g[5] * h as f64 / 2.0);
    let mut from = ds.spatial_ref().unwrap();
    from.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut to = SpatialRef::from_epsg(4326).unwrap();
    to.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let t = CoordTransform::new(&from, &to).unwrap();
    let (mut xs, mut ys, mut zs) = ([x], [y], [0.0]);
    t.transform_coords(&mut xs, &mut ys, &mut zs).unwrap();
    (xs[0], ys[0])
}

fn tile_at(z: u8, lon: f64, lat: f64) -> (u64, u64) {
    let t = tms::get("WebMercatorQuad").unwrap();
    let b = t.from_wgs84([lon, lat, lon, lat]).unwrap();
    let (x, y, _, _) = t.tile_range(z, b).unwrap();
    (x, y)
}

fn config() -> tuilerie::config::Config {
    let mut c = common::config(false);
    c.raster.roots = vec![demo().dir.path().to_path_buf()];
    c.raster.threads = 2;
    c.cache.disk_dir = None;
    c
}

#[actix_web::test]
async fn every_collection_renders_its_default_preset() {
    let app = app(demo().db.clone(), config()).await;
    let items = items();
    for collection in [
        "sentinel-2-l2a",
        "pleiades",
        "spot-6-7",
        "lai",
        "biomass",
        "tropisco",
    ] {
        let item = items
            .iter()
            .find(|i| i["collection"] == collection)
            .unwrap();
        let id = item["id"].as_str().unwrap();
        let base = format!("/collections/{collection}/items/{id}");
        let tj = get(&app, &format!("{base}/WebMercatorQuad/tilejson.json")).await;
        assert_eq!(tj.status, 200, "{collection}: {}", tj.text());
        let maxzoom = tj.json()["maxzoom"].as_u64().unwrap() as u8;
        // The first raster asset's centre, at the preset's max zoom (the rasters are small).
        let href = item["assets"]
            .as_object()
            .unwrap()
            .values()
            .find(|a| a["href"].as_str().unwrap_or("").ends_with(".tif"))
            .unwrap()["href"]
            .as_str()
            .unwrap()
            .to_string();
        let (lon, lat) = wgs84_centre(Path::new(&href));
        // Biomass (250 m) is shown down to z15: look nearer its own resolution.
        let z = if collection == "biomass" { 11 } else { maxzoom };
        let (x, y) = tile_at(z, lon, lat);
        let r = get(
            &app,
            &format!("{base}/tiles/WebMercatorQuad/{z}/{x}/{y}.png"),
        )
        .await;
        assert_eq!(r.status, 200, "{collection} z{z}: {}", r.text());
        let img = image::load_from_memory(&r.body).unwrap().to_rgba8();
        let opaque = img.pixels().filter(|p| p.0[3] > 0).count();
        let colours: HashSet<[u8; 4]> = img.pixels().map(|p| p.0).collect();
        eprintln!(
            "{collection} {id} z{z}: {opaque} opaque px, {} colours",
            colours.len()
        );
        assert!(
            opaque > 256 * 256 / 4,
            "{collection}: mostly transparent ({opaque})"
        );
        assert!(
            colours.len() >= 2,
            "{collection}: a flat tile ({} colours)",
            colours.len()
        );
        if collection != "tropisco" {
            assert!(
                colours.len() > 50,
                "{collection}: not recognisable ({} colours)",
                colours.len()
            );
        }
        if collection == "tropisco" {
            // Only the preset's class colours appear.
            let allowed: HashSet<[u8; 4]> = [
                [26, 110, 50, 255],
                [222, 205, 160, 255],
                [230, 20, 30, 255],
                [255, 150, 40, 255],
            ]
            .into();
            assert!(
                colours.iter().all(|c| c[3] == 0 || allowed.contains(c)),
                "{colours:?}"
            );
        }
    }
}

#[actix_web::test]
async fn lai_nodata_is_transparent_where_gdalwarp_says() {
    let app = app(demo().db.clone(), config()).await;
    let items = items();
    let item = items.iter().find(|i| i["collection"] == "lai").unwrap();
    let id = item["id"].as_str().unwrap();
    let href = item["assets"]["lai"]["href"].as_str().unwrap().to_string();
    let (lon, lat) = wgs84_centre(Path::new(&href));
    let (z, (x, y)) = (8, tile_at(8, lon, lat));
    let r = get(&app, &format!("/collections/lai/items/{id}/tiles/WebMercatorQuad/{z}/{x}/{y}.png?render=lai&resampling=nearest")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let img = image::load_from_memory(&r.body).unwrap().to_rgba8();
    let b = tms::get("WebMercatorQuad")
        .unwrap()
        .tile_bounds(z, x, y)
        .unwrap();
    let out = tempfile::Builder::new().suffix(".tif").tempfile().unwrap();
    let ok = Command::new("gdalwarp")
        .args([
            "-q",
            "-overwrite",
            "-r",
            "near",
            "-et",
            "0",
            "-dstalpha",
            "-t_srs",
            "EPSG:3857",
        ])
        .args([
            "-te",
            &b[0].to_string(),
            &b[1].to_string(),
            &b[2].to_string(),
            &b[3].to_string(),
        ])
        .args(["-ts", "256", "256", &href])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(ok.success());
    let ds = Dataset::open(out.path()).unwrap();
    let alpha = ds
        .rasterband(2)
        .unwrap()
        .read_as::<u8>((0, 0), (256, 256), (256, 256), None)
        .unwrap();
    let mismatches = img
        .pixels()
        .zip(alpha.data())
        .filter(|(p, a)| (p.0[3] > 0) != (**a > 0))
        .count();
    let transparent = alpha.data().iter().filter(|a| **a == 0).count();
    eprintln!("lai {z}/{x}/{y}: {transparent} nodata px in the reference, {mismatches} mismatches");
    assert!(mismatches <= 65536 / 500, "{mismatches}");
}
