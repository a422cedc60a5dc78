//! Demo data: realistic, deterministic STAC items for the six shipped
//! collections, written as newline-delimited JSON.
//!
//! Footprints follow the real grids and places (Sentinel-2 MGRS tiles over
//! France, Pléiades and SPOT scenes over French cities, TropiSCO tiles over
//! French Guiana), times follow the real revisit patterns, and cloud cover
//! follows the seasons, so searches and sorts have something to find.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A small deterministic generator (SplitMix64): same seed, same demo.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// A lon/lat box as a closed polygon ring.
fn polygon(w: f64, s: f64, e: f64, n: f64) -> Value {
    let (w, s, e, n) = (round(w, 6), round(s, 6), round(e, 6), round(n, 6));
    json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]})
}

/// A box of `km` × `km` centred on a point.
fn square(lon: f64, lat: f64, km: f64) -> (f64, f64, f64, f64) {
    let dlat = km / 111.32 / 2.0;
    let dlon = km / (111.32 * lat.to_radians().cos()) / 2.0;
    (lon - dlon, lat - dlat, lon + dlon, lat + dlat)
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

fn cog(href: String, title: &str, roles: &[&str]) -> Value {
    json!({"href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized", "title": title, "roles": roles})
}

fn thumbnail(href: String) -> Value {
    json!({"href": href, "type": "image/png", "title": "Thumbnail", "roles": ["thumbnail"]})
}

fn item(
    collection: &str,
    id: &str,
    geometry: Value,
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
    json!({
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": exts,
        "id": id,
        "collection": collection,
        "geometry": geometry,
        "properties": properties,
        "links": [{"rel": "license", "href": "https://theia.cnes.fr/atdistrib/rocket/#/help", "type": "text/html"}],
        "assets": assets,
    })
}

/// Where the demo's rasters live (the raster engine writes them there).
fn href(root: &Path, collection: &str, id: &str, file: &str) -> String {
    root.join("rasters")
        .join(collection)
        .join(id)
        .join(file)
        .display()
        .to_string()
}

/// Sentinel-2 MGRS tiles over France: (tile, UTM zone, centre lon, centre lat, relative orbit).
const S2_TILES: &[(&str, u32, f64, f64, u32)] = &[
    ("31TCJ", 31, 1.32, 43.78, 51),  // Toulouse
    ("31TDH", 31, 1.94, 42.85, 51),  // Ariège / Pyrénées
    ("31TEJ", 31, 3.55, 43.80, 8),   // Montpellier
    ("31TFJ", 31, 4.86, 43.80, 108), // Avignon / Mont Ventoux
    ("31UDQ", 31, 2.34, 48.65, 51),  // Paris
    ("31TFL", 31, 4.95, 45.60, 108), // Lyon
    ("30TXQ", 30, -0.61, 44.75, 94), // Bordeaux
    ("31UES", 31, 3.10, 50.45, 8),   // Lille / Dunkerque
];

/// Places for Pléiades and SPOT scenes: (name, lon, lat).
const PLACES: &[(&str, f64, f64)] = &[
    ("toulouse", 1.444, 43.604),
    ("paris", 2.352, 48.857),
    ("lyon", 4.835, 45.764),
    ("marseille", 5.370, 43.296),
    ("bordeaux", -0.579, 44.838),
    ("nantes", -1.554, 47.218),
    ("lille", 3.057, 50.629),
    ("strasbourg", 7.752, 48.573),
    ("montpellier", 3.877, 43.611),
    ("grenoble", 5.724, 45.188),
    ("mont-ventoux", 5.279, 44.174),
    ("dunkerque", 2.377, 51.034),
    ("cayenne", -52.330, 4.938),
    ("saint-denis-reunion", 55.448, -20.882),
];

fn sentinel2(root: &Path, rng: &mut Rng) -> Vec<Value> {
    let mut out = Vec::new();
    let start = Utc
        .with_ymd_and_hms(2023, 1, 2, 10, 30, 0)
        .single()
        .unwrap_or_default();
    for (n, (tile, zone, lon, lat, orbit)) in S2_TILES.iter().enumerate() {
        let (w, s, e, nn) = square(*lon, *lat, 109.8);
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
            let assets = json!({
                "B02": cog(href(root, "sentinel-2-l2a", &id, "B02.tif"), "Blue (B02), 10 m", &["data", "reflectance"]),
                "B03": cog(href(root, "sentinel-2-l2a", &id, "B03.tif"), "Green (B03), 10 m", &["data", "reflectance"]),
                "B04": cog(href(root, "sentinel-2-l2a", &id, "B04.tif"), "Red (B04), 10 m", &["data", "reflectance"]),
                "B05": cog(href(root, "sentinel-2-l2a", &id, "B05.tif"), "Red edge (B05), 20 m", &["data", "reflectance"]),
                "B06": cog(href(root, "sentinel-2-l2a", &id, "B06.tif"), "Red edge (B06), 20 m", &["data", "reflectance"]),
                "B07": cog(href(root, "sentinel-2-l2a", &id, "B07.tif"), "Red edge (B07), 20 m", &["data", "reflectance"]),
                "B08": cog(href(root, "sentinel-2-l2a", &id, "B08.tif"), "Near infrared (B08), 10 m", &["data", "reflectance"]),
                "visual": cog(href(root, "sentinel-2-l2a", &id, "TCI.tif"), "True colour image", &["visual"]),
                "thumbnail": thumbnail(href(root, "sentinel-2-l2a", &id, "thumbnail.png")),
            });
            let props = json!({
                "title": format!("Sentinel-2 L2A {tile} {}", t.format("%Y-%m-%d")),
                "datetime": rfc3339(t),
                "platform": platform,
                "constellation": "sentinel-2",
                "instruments": ["msi"],
                "gsd": 10,
                "eo:cloud_cover": cloud_cover(rng, t),
                "proj:epsg": 32600 + zone,
                "mgrs:utm_zone": zone,
                "mgrs:latitude_band": &tile[2..3],
                "mgrs:grid_square": &tile[3..5],
                "sat:orbit_state": "descending",
                "sat:relative_orbit": orbit,
                "view:sun_azimuth": round(rng.range(140.0, 165.0), 2),
                "view:sun_elevation": sun_elevation(*lat, t),
                "view:incidence_angle": round(rng.range(2.0, 10.0), 2),
                "created": rfc3339(t + Duration::hours(20)),
                "updated": rfc3339(t + Duration::hours(20)),
            });
            out.push(item(
                "sentinel-2-l2a",
                &id,
                polygon(w, s, e, nn),
                props,
                assets,
                &["eo", "proj", "view", "sat", "mgrs"],
            ));
        }
    }
    out
}

fn vhr(root: &Path, rng: &mut Rng, collection: &str, count: usize) -> Vec<Value> {
    let pleiades = collection == "pleiades";
    let (km, gsd_pan, gsd_ms) = if pleiades {
        (20.0, 0.5, 2.0)
    } else {
        (60.0, 1.5, 6.0)
    };
    let mut out = Vec::new();
    let t0 = Utc
        .with_ymd_and_hms(2019, 1, 1, 10, 0, 0)
        .single()
        .unwrap_or_default();
    for k in 0..count {
        let (name, lon, lat) = PLACES[k % PLACES.len()];
        let t = t0 + Duration::seconds((rng.range(0.0, 5.0 * 365.0 * 86400.0)) as i64);
        let platform = match (pleiades, rng.unit() < 0.5) {
            (true, true) => "pleiades-1a",
            (true, false) => "pleiades-1b",
            (false, true) => "spot-6",
            (false, false) => "spot-7",
        };
        let (w, s, e, n) = square(
            lon + rng.range(-0.05, 0.05),
            lat + rng.range(-0.05, 0.05),
            km * rng.range(0.8, 1.0),
        );
        let prefix = if pleiades { "PHR" } else { "SPOT" };
        let id = format!(
            "{prefix}_{}_{}",
            t.format("%Y%m%dT%H%M%S"),
            name.to_uppercase()
        );
        let zone = ((lon + 180.0) / 6.0).floor() as u32 + 1;
        let epsg = if lat >= 0.0 {
            32600 + zone
        } else {
            32700 + zone
        };
        let sensor = if pleiades { "Pléiades" } else { "SPOT 6/7" };
        let assets = json!({
            "PAN": cog(href(root, collection, &id, "PAN.tif"), &format!("Panchromatic, {gsd_pan} m"), &["data"]),
            "MS": cog(href(root, collection, &id, "MS.tif"), &format!("Multispectral B0-B3, {gsd_ms} m"), &["data"]),
            "metadata": {"href": href(root, collection, &id, "DIM.XML"), "type": "application/xml", "title": "DIMAP metadata", "roles": ["metadata"]},
            "thumbnail": thumbnail(href(root, collection, &id, "thumbnail.png")),
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
            "proj:epsg": epsg,
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
            polygon(w, s, e, n),
            props,
            assets,
            &["eo", "proj", "view", "sat"],
        ));
    }
    out
}

fn lai(root: &Path) -> Vec<Value> {
    let tiles = [
        ("X18Y03", -10.0, 40.0, 10.0, 60.0),
        ("X17Y06", -60.0, -10.0, -40.0, 10.0),
    ];
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
        for (tile, w, s, e, n) in tiles {
            let id = format!("LAI_MONTHLY_{}_{tile}", start.format("%Y%m"));
            let assets = json!({
                "lai": cog(href(root, "lai", &id, "LAI.tif"), "Leaf Area Index (m²/m²)", &["data"]),
                "lai_err": cog(href(root, "lai", &id, "LAI_ERR.tif"), "LAI uncertainty", &["quality"]),
                "qflag": cog(href(root, "lai", &id, "QFLAG.tif"), "Quality flags", &["quality"]),
                "thumbnail": thumbnail(href(root, "lai", &id, "thumbnail.png")),
            });
            let props = json!({
                "title": format!("LAI monthly composite {} {tile}", start.format("%B %Y")),
                "datetime": null,
                "start_datetime": rfc3339(start),
                "end_datetime": rfc3339(end),
                "constellation": "sentinel-3",
                "instruments": ["olci"],
                "gsd": 300,
                "proj:epsg": 4326,
                "created": rfc3339(next + Duration::days(4)),
                "updated": rfc3339(next + Duration::days(4)),
            });
            out.push(item(
                "lai",
                &id,
                polygon(w, s, e, n),
                props,
                assets,
                &["proj"],
            ));
        }
    }
    out
}

fn biomass(root: &Path) -> Vec<Value> {
    let regions = [
        ("GUYANE", -54.6, 2.1, -51.6, 5.8),
        ("GABON", 8.7, -3.9, 14.5, 2.3),
    ];
    let mut out = Vec::new();
    for year in 2019..=2023 {
        let start = Utc
            .with_ymd_and_hms(year, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let end = Utc
            .with_ymd_and_hms(year, 12, 31, 23, 59, 59)
            .single()
            .unwrap_or_default();
        for (region, w, s, e, n) in regions {
            let id = format!("AGB_{year}_{region}");
            let assets = json!({
                "agb": cog(href(root, "biomass", &id, "AGB.tif"), "Above-ground biomass (Mg/ha)", &["data"]),
                "agb_sd": cog(href(root, "biomass", &id, "AGB_SD.tif"), "Above-ground biomass standard deviation (Mg/ha)", &["quality"]),
                "thumbnail": thumbnail(href(root, "biomass", &id, "thumbnail.png")),
            });
            let props = json!({
                "title": format!("Above-ground biomass {year} {}", region.to_lowercase()),
                "datetime": null,
                "start_datetime": rfc3339(start),
                "end_datetime": rfc3339(end),
                "gsd": 25,
                "proj:epsg": 4326,
                "created": rfc3339(end + Duration::days(90)),
                "updated": rfc3339(end + Duration::days(90)),
            });
            out.push(item(
                "biomass",
                &id,
                polygon(w, s, e, n),
                props,
                assets,
                &["proj"],
            ));
        }
    }
    out
}

fn tropisco(root: &Path) -> Vec<Value> {
    let tiles = [
        ("22NCL", 22, -53.45, 4.75),
        ("22NBL", 22, -54.35, 4.75),
        ("22NCK", 22, -53.45, 3.85),
        ("21NZF", 21, -55.25, 4.75),
    ];
    let mut out = Vec::new();
    let first_monday = Utc
        .with_ymd_and_hms(2023, 1, 2, 0, 0, 0)
        .single()
        .unwrap_or_default();
    for week in 0..52 {
        let start = first_monday + Duration::weeks(week);
        let end = start + Duration::days(7) - Duration::seconds(1);
        for (tile, zone, lon, lat) in tiles {
            let (w, s, e, n) = square(lon, lat, 109.8);
            let id = format!("TROPISCO_{}_{}", start.format("%G-W%V"), tile);
            let assets = json!({
                "forest_loss": cog(href(root, "tropisco", &id, "FOREST_LOSS.tif"), "Forest loss classes", &["data"]),
                "alerts": {"href": href(root, "tropisco", &id, "ALERTS.geojson"), "type": "application/geo+json", "title": "Forest loss alerts (polygons)", "roles": ["data"]},
                "thumbnail": thumbnail(href(root, "tropisco", &id, "thumbnail.png")),
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
                "gsd": 10,
                "proj:epsg": 32600 + zone,
                "mgrs:utm_zone": zone,
                "mgrs:latitude_band": &tile[2..3],
                "mgrs:grid_square": &tile[3..5],
                "created": rfc3339(end + Duration::days(2)),
                "updated": rfc3339(end + Duration::days(2)),
            });
            out.push(item(
                "tropisco",
                &id,
                polygon(w, s, e, n),
                props,
                assets,
                &["proj", "mgrs"],
            ));
        }
    }
    out
}

/// The demo items of every collection, `(collection, items)`.
pub fn items(root: &Path) -> Vec<(&'static str, Vec<Value>)> {
    let mut rng = Rng(0x7475_696c_6572_6965); // "tuilerie"
    vec![
        ("sentinel-2-l2a", sentinel2(root, &mut rng)),
        ("pleiades", vhr(root, &mut rng, "pleiades", 60)),
        ("spot-6-7", vhr(root, &mut rng, "spot-6-7", 40)),
        ("lai", lai(root)),
        ("biomass", biomass(root)),
        ("tropisco", tropisco(root)),
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
}
