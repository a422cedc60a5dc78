//! Demo data: realistic, deterministic STAC items for the six shipped
//! collections, written as newline-delimited JSON, and the rasters they
//! point at, generated as Cloud-Optimized GeoTIFFs.
//!
//! Items follow the real grids and places (Sentinel-2 MGRS tiles over
//! France, Pléiades and SPOT scenes over French cities, TropiSCO tiles over
//! French Guiana), times follow the real revisit patterns, and cloud cover
//! follows the seasons, so searches and sorts have something to find.
//!
//! The rasters are small windows of those products at their native
//! resolutions ([`scenes`]), drawn from one synthetic world ([`landscape`]):
//! every item's geometry and bbox are the footprint of the rasters it
//! points at, and items of the same place and season share their files.
//!
//! - [`items`] and [`write`]: the items (no rasters needed).
//! - [`write_rasters`]: the rasters under `<dir>/rasters/`.

pub mod geography;
pub mod landscape;
pub mod noise;
pub mod products;
pub mod rasters;
pub mod scenes;
pub mod spectra;

pub use rasters::{RasterStats, RasterWriteError, write_rasters, write_rasters_scaled};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use geography::TOWNS;
use noise::Rng;
use scenes::{
    BIOMASS_RES, Footprint, Kind, LAI_RES, Layout, S2_TILES, Scene, TROPISCO_RES, TROPISCO_TILES,
    layout, season_of_month,
};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// A footprint as a GeoJSON polygon (counter-clockwise, closed) and its
/// bbox, rounded to 1e-7 degrees (about a centimetre).
fn geometry(footprint: &Footprint) -> (Value, Value) {
    let ring: Vec<[f64; 2]> = footprint
        .0
        .iter()
        .chain(std::iter::once(&footprint.0[0]))
        .map(|(x, y)| [round(*x, 7), round(*y, 7)])
        .collect();
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for [x, y] in &ring {
        b = [b[0].min(*x), b[1].min(*y), b[2].max(*x), b[3].max(*y)];
    }
    (json!({"type": "Polygon", "coordinates": [ring]}), json!(b))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Cloud cover in %, cloudier in winter, with scene-to-scene noise.
fn cloud_cover(rng: &mut Rng, t: DateTime<Utc>) -> f64 {
    let season = ((t.ordinal() as f64 - 15.0) / 365.0 * std::f64::consts::TAU).cos(); // 1 in January
    let mean = 45.0 + 25.0 * season;
    round((mean + rng.range(-40.0, 40.0)).clamp(0.0, 100.0), 2)
}

/// Sun elevation at about 10:30 local solar time (rough but seasonal).
fn sun_elevation(lat: f64, t: DateTime<Utc>) -> f64 {
    let decl = 23.44 * ((284.0 + t.ordinal() as f64) / 365.0 * std::f64::consts::TAU).sin();
    round(90.0 - lat + decl - 12.0, 2)
}

/// A COG asset, with its projection shape and transform when it is one of
/// the scene's raster files.
fn cog(href: String, title: &str, roles: &[&str], scene: &Scene, file: Option<&str>) -> Value {
    let mut asset = json!({"href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized", "title": title, "roles": roles});
    if let Some(f) = file.and_then(|f| scene.kind.files().iter().find(|r| r.file == f)) {
        let g = scene.file_grid(f);
        asset["proj:shape"] = json!([g.height, g.width]);
        asset["proj:transform"] = json!(g.proj_transform());
    }
    asset
}

fn thumbnail(href: String) -> Value {
    json!({"href": href, "type": "image/png", "title": "Thumbnail", "roles": ["thumbnail"]})
}

fn item(
    collection: &str,
    id: &str,
    footprint: &Footprint,
    properties: Value,
    assets: Value,
    extensions: &[&str],
) -> Value {
    let exts: Vec<String> = extensions
        .iter()
        .map(|e| {
            match *e {
                "eo" => "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                "proj" => "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                "view" => "https://stac-extensions.github.io/view/v1.0.0/schema.json",
                "sat" => "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
                "mgrs" => "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
                other => other,
            }
            .to_string()
        })
        .collect();
    let (geometry, bbox) = geometry(footprint);
    json!({
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": exts,
        "id": id,
        "collection": collection,
        "geometry": geometry,
        "bbox": bbox,
        "properties": properties,
        "links": [{"rel": "license", "href": "https://theia.cnes.fr/atdistrib/rocket/#/help", "type": "text/html"}],
        "assets": assets,
    })
}

/// Where a scene's file lives (the rasters are written there by
/// [`write_rasters`]).
fn href(root: &Path, scene: &Scene, variant: Option<&str>, file: &str) -> String {
    root.join(scene.relative_path(variant, file))
        .display()
        .to_string()
}

/// Ground sampling distance (m) of a geographic grid, at the equator.
fn geographic_gsd(res_degrees: f64) -> f64 {
    (res_degrees * 111_320.0).round()
}

fn sentinel2(root: &Path, rng: &mut Rng, l: &Layout) -> Vec<Value> {
    let mut out = Vec::new();
    let start = Utc
        .with_ymd_and_hms(2023, 1, 2, 10, 30, 0)
        .single()
        .unwrap_or_default();
    for (n, s2) in S2_TILES.iter().enumerate() {
        let (tile, zone, lat, orbit) = (s2.tile, s2.zone, s2.lat, s2.orbit);
        // The layout has a scene for every row of the tables.
        let Some(scene) = l.scene(Kind::Sentinel2, tile) else {
            continue;
        };
        for k in 0..73 {
            let t = start
                + Duration::days(5 * k + (n as i64 % 5))
                + Duration::seconds((rng.range(0.0, 900.0)) as i64);
            let platform = if k % 2 == 0 {
                "sentinel-2a"
            } else {
                "sentinel-2b"
            };
            let id = format!(
                "S2{}_MSIL2A_{}_R{:03}_T{}",
                &platform[platform.len() - 1..].to_uppercase(),
                t.format("%Y%m%dT%H%M%S"),
                orbit,
                tile
            );
            let season = scenes::SEASONS[season_of_month(t.month())].0;
            let v = Some(season);
            let band = |file: &str, title: &str| {
                cog(
                    href(root, scene, v, file),
                    title,
                    &["data", "reflectance"],
                    scene,
                    Some(file),
                )
            };
            let assets = json!({
                "B02": band("B02.tif", "Blue (B02), 10 m"),
                "B03": band("B03.tif", "Green (B03), 10 m"),
                "B04": band("B04.tif", "Red (B04), 10 m"),
                "B05": band("B05.tif", "Red edge (B05), 20 m"),
                "B06": band("B06.tif", "Red edge (B06), 20 m"),
                "B07": band("B07.tif", "Red edge (B07), 20 m"),
                "B08": band("B08.tif", "Near infrared (B08), 10 m"),
                "visual": cog(href(root, scene, v, "TCI.tif"), "True colour image", &["visual"], scene, Some("TCI.tif")),
                "thumbnail": thumbnail(href(root, scene, v, "thumbnail.png")),
            });
            let props = json!({
                "title": format!("Sentinel-2 L2A {tile} {}", t.format("%Y-%m-%d")),
                "datetime": rfc3339(t),
                "platform": platform,
                "constellation": "sentinel-2",
                "instruments": ["msi"],
                "gsd": 10,
                "eo:cloud_cover": cloud_cover(rng, t),
                "proj:epsg": scene.grid.epsg,
                "mgrs:utm_zone": zone,
                "mgrs:latitude_band": &tile[2..3],
                "mgrs:grid_square": &tile[3..5],
                "sat:orbit_state": "descending",
                "sat:relative_orbit": orbit,
                "view:sun_azimuth": round(rng.range(140.0, 165.0), 2),
                "view:sun_elevation": sun_elevation(lat, t),
                "view:incidence_angle": round(rng.range(2.0, 10.0), 2),
                "created": rfc3339(t + Duration::hours(20)),
                "updated": rfc3339(t + Duration::hours(20)),
            });
            out.push(item(
                "sentinel-2-l2a",
                &id,
                &scene.footprint,
                props,
                assets,
                &["eo", "proj", "view", "sat", "mgrs"],
            ));
        }
    }
    out
}

fn vhr(root: &Path, rng: &mut Rng, l: &Layout, kind: Kind, count: usize) -> Vec<Value> {
    let pleiades = kind == Kind::Pleiades;
    let collection = kind.collection();
    let (gsd_pan, gsd_ms) = if pleiades { (0.5, 2.0) } else { (1.5, 6.0) };
    let mut out = Vec::new();
    let t0 = Utc
        .with_ymd_and_hms(2019, 1, 1, 10, 0, 0)
        .single()
        .unwrap_or_default();
    for k in 0..count {
        let place = &TOWNS[k % TOWNS.len()];
        let (name, lat) = (place.name, place.lat);
        let Some(scene) = l.scene(kind, name) else {
            continue;
        };
        let t = t0 + Duration::seconds((rng.range(0.0, 5.0 * 365.0 * 86400.0)) as i64);
        let platform = match (pleiades, rng.unit() < 0.5) {
            (true, true) => "pleiades-1a",
            (true, false) => "pleiades-1b",
            (false, true) => "spot-6",
            (false, false) => "spot-7",
        };
        let prefix = if pleiades { "PHR" } else { "SPOT" };
        let id = format!(
            "{prefix}_{}_{}",
            t.format("%Y%m%dT%H%M%S"),
            name.to_uppercase()
        );
        let sensor = if pleiades { "Pléiades" } else { "SPOT 6/7" };
        let assets = json!({
            "PAN": cog(href(root, scene, None, "PAN.tif"), &format!("Panchromatic, {gsd_pan} m"), &["data"], scene, Some("PAN.tif")),
            "MS": cog(href(root, scene, None, "MS.tif"), &format!("Multispectral B0-B3, {gsd_ms} m"), &["data"], scene, Some("MS.tif")),
            "metadata": {"href": href(root, scene, None, "DIM.XML"), "type": "application/xml", "title": "DIMAP metadata", "roles": ["metadata"]},
            "thumbnail": thumbnail(href(root, scene, None, "thumbnail.png")),
        });
        let props = json!({
            "title": format!("{sensor} {} {}", name.replace('-', " "), t.format("%Y-%m-%d")),
            "description": format!("{sensor} ortho scene over {}, licensed through DINAMIS", name.replace('-', " ")),
            "keywords": [name, if pleiades { "pleiades" } else { "spot" }, "dinamis"],
            "datetime": rfc3339(t),
            "platform": platform,
            "constellation": if pleiades { "pleiades" } else { "spot" },
            "instruments": [if pleiades { "hiri" } else { "naomi" }],
            "gsd": gsd_pan,
            "eo:cloud_cover": cloud_cover(rng, t),
            "proj:epsg": scene.grid.epsg,
            "view:off_nadir": round(rng.range(0.0, 28.0), 2),
            "view:incidence_angle": round(rng.range(0.0, 30.0), 2),
            "view:azimuth": round(rng.range(0.0, 360.0), 2),
            "view:sun_azimuth": round(rng.range(120.0, 170.0), 2),
            "view:sun_elevation": sun_elevation(lat, t),
            "sat:orbit_state": "descending",
            "created": rfc3339(t + Duration::days(1)),
            "updated": rfc3339(t + Duration::days(1)),
        });
        out.push(item(
            collection,
            &id,
            &scene.footprint,
            props,
            assets,
            &["eo", "proj", "view", "sat"],
        ));
    }
    out
}

fn lai(root: &Path, l: &Layout) -> Vec<Value> {
    let mut out = Vec::new();
    for month in 1..=12u32 {
        let start = Utc
            .with_ymd_and_hms(2023, month, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let next = if month == 12 {
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default()
        } else {
            Utc.with_ymd_and_hms(2023, month + 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default()
        };
        let end = next - Duration::seconds(1);
        let variant = format!("2023-{month:02}");
        let v = Some(variant.as_str());
        for (tile, ..) in scenes::LAI_TILES {
            let Some(scene) = l.scene(Kind::Lai, tile) else {
                continue;
            };
            let id = format!("LAI_MONTHLY_{}_{tile}", start.format("%Y%m"));
            let assets = json!({
                "lai": cog(href(root, scene, v, "LAI.tif"), "Leaf Area Index (m²/m²)", &["data"], scene, Some("LAI.tif")),
                "lai_err": cog(href(root, scene, v, "LAI_ERR.tif"), "LAI uncertainty", &["quality"], scene, Some("LAI_ERR.tif")),
                "qflag": cog(href(root, scene, v, "QFLAG.tif"), "Quality flags", &["quality"], scene, Some("QFLAG.tif")),
                "thumbnail": thumbnail(href(root, scene, v, "thumbnail.png")),
            });
            let props = json!({
                "title": format!("LAI monthly composite {} {tile}", start.format("%B %Y")),
                "datetime": null,
                "start_datetime": rfc3339(start),
                "end_datetime": rfc3339(end),
                "constellation": "sentinel-3",
                "instruments": ["olci"],
                "gsd": geographic_gsd(LAI_RES),
                "proj:epsg": scene.grid.epsg,
                "created": rfc3339(next + Duration::days(4)),
                "updated": rfc3339(next + Duration::days(4)),
            });
            out.push(item("lai", &id, &scene.footprint, props, assets, &["proj"]));
        }
    }
    out
}

fn biomass(root: &Path, l: &Layout) -> Vec<Value> {
    let mut out = Vec::new();
    for year in scenes::BIOMASS_YEARS {
        let start = Utc
            .with_ymd_and_hms(year, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let end = Utc
            .with_ymd_and_hms(year, 12, 31, 23, 59, 59)
            .single()
            .unwrap_or_default();
        let variant = year.to_string();
        let v = Some(variant.as_str());
        for (region, ..) in scenes::BIOMASS_REGIONS {
            let Some(scene) = l.scene(Kind::Biomass, region) else {
                continue;
            };
            let id = format!("AGB_{year}_{region}");
            let assets = json!({
                "agb": cog(href(root, scene, v, "AGB.tif"), "Above-ground biomass (Mg/ha)", &["data"], scene, Some("AGB.tif")),
                "agb_sd": cog(href(root, scene, v, "AGB_SD.tif"), "Above-ground biomass standard deviation (Mg/ha)", &["quality"], scene, Some("AGB_SD.tif")),
                "thumbnail": thumbnail(href(root, scene, v, "thumbnail.png")),
            });
            let props = json!({
                "title": format!("Above-ground biomass {year} {}", region.to_lowercase()),
                "datetime": null,
                "start_datetime": rfc3339(start),
                "end_datetime": rfc3339(end),
                "gsd": geographic_gsd(BIOMASS_RES),
                "proj:epsg": scene.grid.epsg,
                "created": rfc3339(end + Duration::days(90)),
                "updated": rfc3339(end + Duration::days(90)),
            });
            out.push(item(
                "biomass",
                &id,
                &scene.footprint,
                props,
                assets,
                &["proj"],
            ));
        }
    }
    out
}

fn tropisco(root: &Path, l: &Layout) -> Vec<Value> {
    let mut out = Vec::new();
    let first_monday = Utc
        .with_ymd_and_hms(2023, 1, 2, 0, 0, 0)
        .single()
        .unwrap_or_default();
    for week in 0..scenes::TROPISCO_WEEKS as i64 {
        let start = first_monday + Duration::weeks(week);
        let end = start + Duration::days(7) - Duration::seconds(1);
        let variant = start.format("%G-W%V").to_string();
        let v = Some(variant.as_str());
        for (tile, zone, ..) in TROPISCO_TILES {
            let Some(scene) = l.scene(Kind::Tropisco, tile) else {
                continue;
            };
            let id = format!("TROPISCO_{}_{}", start.format("%G-W%V"), tile);
            let assets = json!({
                "forest_loss": cog(href(root, scene, v, "FOREST_LOSS.tif"), "Forest loss classes", &["data"], scene, Some("FOREST_LOSS.tif")),
                "alerts": {"href": href(root, scene, v, "ALERTS.geojson"), "type": "application/geo+json", "title": "Forest loss alerts (polygons)", "roles": ["data"]},
                "thumbnail": thumbnail(href(root, scene, v, "thumbnail.png")),
            });
            let props = json!({
                "title": format!("TropiSCO forest loss, week {} of {}, {tile}", start.format("%V"), start.format("%G")),
                "keywords": ["deforestation", "forest loss", "guyane", "sentinel-1"],
                "datetime": null,
                "start_datetime": rfc3339(start),
                "end_datetime": rfc3339(end),
                "platform": if week % 2 == 0 { "sentinel-1a" } else { "sentinel-1c" },
                "constellation": "sentinel-1",
                "instruments": ["c-sar"],
                "gsd": TROPISCO_RES,
                "proj:epsg": scene.grid.epsg,
                "mgrs:utm_zone": zone,
                "mgrs:latitude_band": &tile[2..3],
                "mgrs:grid_square": &tile[3..5],
                "created": rfc3339(end + Duration::days(2)),
                "updated": rfc3339(end + Duration::days(2)),
            });
            out.push(item(
                "tropisco",
                &id,
                &scene.footprint,
                props,
                assets,
                &["proj", "mgrs"],
            ));
        }
    }
    out
}

/// The demo items of every collection, `(collection, items)`, with asset
/// hrefs under `root/rasters/`. Pure: computes the rasters' layout (once per
/// process) but reads and writes nothing.
pub fn items(root: &Path) -> Vec<(&'static str, Vec<Value>)> {
    let mut rng = Rng(0x7475_696c_6572_6965); // "tuilerie"
    let l = layout();
    vec![
        ("sentinel-2-l2a", sentinel2(root, &mut rng, l)),
        ("pleiades", vhr(root, &mut rng, l, Kind::Pleiades, 60)),
        ("spot-6-7", vhr(root, &mut rng, l, Kind::Spot, 40)),
        ("lai", lai(root, l)),
        ("biomass", biomass(root, l)),
        ("tropisco", tropisco(root, l)),
    ]
}

/// Writes the demo items as `items/<collection>.ndjson` under `dir`; returns the files.
pub fn write(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let root = std::path::absolute(dir)?;
    let items_dir = root.join("items");
    std::fs::create_dir_all(&items_dir)?;
    let mut files = Vec::new();
    for (collection, list) in items(&root) {
        let path = items_dir.join(format!("{collection}.ndjson"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        for item in list {
            serde_json::to_writer(&mut out, &item)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        files.push(path);
    }
    Ok(files)
}

/// The raster assets of an item: asset key → href, for every asset whose
/// file the demo generates (not thumbnails, metadata or alerts).
pub fn raster_assets(item: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(assets) = item["assets"].as_object() {
        for (key, asset) in assets {
            let cog = asset["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("image/tiff"));
            if cog {
                out.insert(key.clone(), asset["href"].clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ItemContext, parse_item};

    #[test]
    fn demo_items_are_valid_and_deterministic() {
        let a = items(Path::new("/demo"));
        let b = items(Path::new("/demo"));
        assert_eq!(
            serde_json::to_string(&a[0].1).unwrap(),
            serde_json::to_string(&b[0].1).unwrap()
        );
        let mut ids = std::collections::HashSet::new();
        for (collection, list) in &a {
            assert!(list.len() >= 10, "{collection}");
            for item in list {
                let doc = parse_item(&item.to_string(), &ItemContext::default()).unwrap();
                assert_eq!(doc.collection, *collection);
                assert!(
                    ids.insert((doc.collection.clone(), doc.id.clone())),
                    "duplicate {}",
                    doc.id
                );
            }
        }
    }

    #[test]
    fn every_raster_asset_is_a_generated_file() {
        let expected: std::collections::HashSet<String> = rasters::expected_files()
            .iter()
            .map(|p| Path::new("/demo").join(p).display().to_string())
            .collect();
        let mut used = std::collections::HashSet::new();
        for (_, list) in items(Path::new("/demo")) {
            for item in &list {
                for (key, href) in raster_assets(item) {
                    let href = href.as_str().unwrap().to_string();
                    assert!(expected.contains(&href), "{} {key}: {href}", item["id"]);
                    used.insert(href);
                }
            }
        }
        // And every generated file is used by some item.
        assert_eq!(used.len(), expected.len());
    }

    #[test]
    fn geometry_is_the_footprint() {
        let all = items(Path::new("/demo"));
        let s2 = &all[0].1[0];
        let scene = layout().scene(Kind::Sentinel2, "31TCJ").unwrap();
        let bbox = scene.footprint.bbox();
        for (i, v) in s2["bbox"].as_array().unwrap().iter().enumerate() {
            assert!((v.as_f64().unwrap() - bbox[i]).abs() < 1e-6);
        }
        assert_eq!(s2["properties"]["proj:epsg"], 32631);
        assert_eq!(s2["assets"]["B05"]["proj:shape"], json!([300, 300]));
        assert_eq!(s2["assets"]["B04"]["proj:shape"], json!([600, 600]));
    }
}
