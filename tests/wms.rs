//! The WMS at `/wms`, over the demo catalogue and its real COGs: GDAL's own
//! WMS driver reads GetMaps (1.3.0, EPSG:2154 and EPSG:4326 with its
//! latitude-first axis order, 1.1.1) through a real HTTP server and the
//! pixels equal `gdalwarp` of the same source; capabilities in both
//! versions; TIME, OPACITY, TRANSPARENT/BGCOLOR, formats; GetFeatureInfo
//! values equal `gdallocationinfo`; legends; every exception code.

mod common;

use common::*;
use gdal::Dataset;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use serde_json::Value;
use std::process::Command;
use std::sync::OnceLock;
use tuilerie::api::{self, AppState};

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

fn config() -> tuilerie::config::Config {
    let mut c = common::config(false);
    c.raster.roots = vec![demo().dir.path().to_path_buf()];
    c.raster.threads = 2;
    c.cache.disk_dir = None;
    c.wms.max_width = 2048;
    c.wms.max_height = 2048;
    c
}

/// A demo Sentinel-2 item with rasters: (item, the WGS84 bounds of its
/// (scaled-down) rasters).
fn s2_item() -> (Value, [f64; 4]) {
    let root = std::path::absolute(demo().dir.path()).unwrap();
    let item = tuilerie::demo::items(&root)
        .into_iter()
        .flat_map(|(_, list)| list)
        .find(|i| i["collection"] == "sentinel-2-l2a")
        .unwrap();
    let ds = Dataset::open(href(&item, "B04")).unwrap();
    let g = ds.geo_transform().unwrap();
    let (w, h) = ds.raster_size();
    let native = [g[0], g[3] + g[5] * h as f64, g[0] + g[1] * w as f64, g[3]];
    let mut from = ds.spatial_ref().unwrap();
    from.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut to = SpatialRef::from_epsg(4326).unwrap();
    to.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let b = CoordTransform::new(&from, &to)
        .unwrap()
        .transform_bounds(&native, 21)
        .unwrap();
    (item, b)
}

fn href(item: &Value, asset: &str) -> String {
    item["assets"][asset]["href"].as_str().unwrap().to_string()
}

/// A real HTTP server over the demo (GDAL's WMS driver needs one).
fn server() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        let db = demo().db.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let state = actix_web::web::Data::new(AppState::new(open_db(&db).await, config()));
                let server = actix_web::HttpServer::new(move || api::app(state.clone()))
                    .workers(2)
                    .bind(("127.0.0.1", 0))
                    .unwrap();
                tx.send(server.addrs()[0].port()).unwrap();
                server.run().await.unwrap();
            })
        });
        rx.recv().unwrap()
    })
}

fn xml(reply: &Reply) -> roxmltree::Document<'_> {
    let text = std::str::from_utf8(&reply.body).unwrap();
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, options)
        .unwrap_or_else(|e| panic!("not XML ({e}): {text}"))
}

fn child<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
    n.children().find(|c| c.tag_name().name() == name)
}

fn children<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    n.children()
        .filter(|c| c.tag_name().name() == name)
        .collect()
}

fn text_of(n: roxmltree::Node, name: &str) -> String {
    child(n, name)
        .and_then(|c| c.text())
        .unwrap_or("")
        .to_string()
}

/// The exception code of a ServiceExceptionReport.
fn exception_code(reply: &Reply) -> String {
    let doc = xml(reply);
    let e = doc
        .descendants()
        .find(|n| n.tag_name().name() == "ServiceException")
        .unwrap_or_else(|| panic!("no ServiceException in {}", reply.text()));
    e.attribute("code").unwrap_or("").to_string()
}

fn decode(reply: &Reply) -> image::DynamicImage {
    assert_eq!(reply.status, 200, "{}", reply.text());
    image::load_from_memory(&reply.body).unwrap()
}

#[actix_web::test]
async fn capabilities_in_both_versions() {
    let app = app(demo().db.clone(), config()).await;
    let (item, _) = s2_item();
    let day = &item["properties"]["datetime"].as_str().unwrap()[..10];

    let r = get(&app, "/wms?SERVICE=WMS&REQUEST=GetCapabilities").await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/xml"), "{}", r.content_type);
    let doc = xml(&r);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "WMS_Capabilities");
    assert_eq!(root.attribute("version"), Some("1.3.0"));
    let sequence = root.attribute("updateSequence").unwrap().to_string();
    let top = child(child(root, "Capability").unwrap(), "Layer").unwrap();
    assert_eq!(top.attribute("queryable"), Some("0"));
    let crs: Vec<String> = children(top, "CRS")
        .iter()
        .map(|c| c.text().unwrap().to_string())
        .collect();
    for needed in [
        "CRS:84",
        "EPSG:4326",
        "EPSG:3857",
        "EPSG:2154",
        "EPSG:32631",
    ] {
        assert!(crs.contains(&needed.to_string()), "{needed} in {crs:?}");
    }
    let layers = children(top, "Layer");
    let names: Vec<String> = layers.iter().map(|l| text_of(*l, "Name")).collect();
    for c in [
        "sentinel-2-l2a",
        "pleiades",
        "spot-6-7",
        "lai",
        "biomass",
        "tropisco",
    ] {
        assert!(names.contains(&c.to_string()), "{c} in {names:?}");
    }
    for layer in &layers {
        assert_eq!(layer.attribute("queryable"), Some("1"));
        let boxes = children(*layer, "BoundingBox");
        let by_crs = |c: &str| {
            boxes
                .iter()
                .find(|b| b.attribute("CRS") == Some(c))
                .map(|b| {
                    ["minx", "miny", "maxx", "maxy"]
                        .map(|k| b.attribute(k).unwrap().parse::<f64>().unwrap())
                })
        };
        // EPSG:4326 boxes are latitude first in 1.3.0; CRS:84 longitude first.
        let lonlat = by_crs("CRS:84").unwrap();
        let latlon = by_crs("EPSG:4326").unwrap();
        assert_eq!(lonlat, [latlon[1], latlon[0], latlon[3], latlon[2]]);
        assert!(by_crs("EPSG:3857").is_some());
        let geo = child(*layer, "EX_GeographicBoundingBox").unwrap();
        assert_eq!(
            text_of(geo, "westBoundLongitude").parse::<f64>().unwrap(),
            lonlat[0]
        );
        let styles = children(*layer, "Style");
        assert!(!styles.is_empty());
        for style in styles {
            let legend = child(style, "LegendURL").unwrap();
            let url = child(legend, "OnlineResource")
                .unwrap()
                .attributes()
                .find(|a| a.name() == "href")
                .unwrap()
                .value()
                .to_string();
            // The legend answers at the advertised size.
            let path = url
                .split_once("/wms?")
                .map(|(_, q)| format!("/wms?{q}"))
                .unwrap();
            let img = decode(&get(&app, &path).await);
            assert_eq!(
                (img.width().to_string(), img.height().to_string()),
                (
                    legend.attribute("width").unwrap().to_string(),
                    legend.attribute("height").unwrap().to_string()
                ),
                "{url}"
            );
        }
    }
    let s2 = layers
        .iter()
        .find(|l| text_of(**l, "Name") == "sentinel-2-l2a")
        .unwrap();
    let styles: Vec<String> = children(*s2, "Style")
        .iter()
        .map(|s| text_of(*s, "Name"))
        .collect();
    assert_eq!(styles[0], "visual", "the default preset comes first");
    for preset in ["truecolor", "falsecolor", "ndvi"] {
        assert!(styles.contains(&preset.to_string()));
    }
    let time = child(*s2, "Dimension").unwrap();
    assert_eq!(time.attribute("name"), Some("time"));
    let values: Vec<&str> = time.text().unwrap().split(',').collect();
    assert!(values.contains(&day), "{day} in the TIME values");
    assert_eq!(time.attribute("default"), values.last().copied());

    // 1.1.1: SRS, LatLonBoundingBox, Extent, its own media type.
    let r = get(
        &app,
        "/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1",
    )
    .await;
    assert!(r.content_type.starts_with("application/vnd.ogc.wms_xml"));
    let doc = xml(&r);
    assert_eq!(doc.root_element().tag_name().name(), "WMT_MS_Capabilities");
    let top = child(child(doc.root_element(), "Capability").unwrap(), "Layer").unwrap();
    assert!(
        children(top, "SRS")
            .iter()
            .any(|s| s.text() == Some("EPSG:4326"))
    );
    let s2 = children(top, "Layer")
        .into_iter()
        .find(|l| text_of(*l, "Name") == "sentinel-2-l2a")
        .unwrap();
    let ll = child(s2, "LatLonBoundingBox").unwrap();
    let b4326 = children(s2, "BoundingBox")
        .into_iter()
        .find(|b| b.attribute("SRS") == Some("EPSG:4326"))
        .unwrap();
    assert_eq!(
        ll.attribute("minx"),
        b4326.attribute("minx"),
        "lon first in 1.1.1"
    );
    assert!(child(s2, "Extent").unwrap().text().unwrap().contains(day));

    // Negotiation: the highest version not above the one asked.
    for (asked, answered) in [("1.2.0", "1.1.1"), ("2.0.0", "1.3.0"), ("1.0.0", "1.1.1")] {
        let r = get(
            &app,
            &format!("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION={asked}"),
        )
        .await;
        assert_eq!(xml(&r).root_element().attribute("version"), Some(answered));
    }
    // UPDATESEQUENCE: the current one is an exception, an older one is not.
    let r = get(
        &app,
        &format!("/wms?SERVICE=WMS&REQUEST=GetCapabilities&UPDATESEQUENCE={sequence}"),
    )
    .await;
    assert_eq!(exception_code(&r), "CurrentUpdateSequence");
    let r = get(
        &app,
        "/wms?SERVICE=WMS&REQUEST=GetCapabilities&UPDATESEQUENCE=1",
    )
    .await;
    assert_eq!(r.status, 200);

    // Behind a proxy: the configured public URL.
    let mut c = config();
    c.server.public_url = Some("https://maps.example.org/tuilerie".into());
    let proxied = common::app(demo().db.clone(), c).await;
    let r = get(&proxied, "/wms?SERVICE=WMS&REQUEST=GetCapabilities").await;
    assert!(
        r.text()
            .contains("xlink:href=\"https://maps.example.org/tuilerie/wms?\""),
        "OnlineResource from server.public_url"
    );
}

/// `gdalwarp -r bilinear -et 0` of one band onto a grid; (values, valid).
fn warp(src: &str, crs: &str, b: [f64; 4], size: usize) -> (Vec<f64>, Vec<bool>) {
    let out = tempfile::Builder::new().suffix(".tif").tempfile().unwrap();
    let status = Command::new("gdalwarp")
        .args([
            "-q",
            "-overwrite",
            "-r",
            "bilinear",
            "-et",
            "0",
            "-dstalpha",
        ])
        .args(["-t_srs", crs, "-te"])
        .args(b.map(|v| v.to_string()))
        .args(["-ts", &size.to_string(), &size.to_string(), src])
        .arg(out.path())
        .status()
        .expect("gdalwarp must be installed (apt install gdal-bin)");
    assert!(status.success());
    let ds = Dataset::open(out.path()).unwrap();
    let read = |k: usize| {
        ds.rasterband(k)
            .unwrap()
            .read_as::<f64>((0, 0), (size, size), (size, size), None)
            .unwrap()
            .data()
            .to_vec()
    };
    let alpha = read(2);
    (read(1), alpha.iter().map(|a| *a > 0.0).collect())
}

/// Reads a GetMap through GDAL's WMS driver (a service description with
/// one block of `size` pixels, so that GDAL asks exactly for our grid).
fn gdal_wms(
    port: u16,
    version: &str,
    crs: &str,
    b: [f64; 4],
    size: usize,
    extra: &str,
) -> Vec<Vec<u8>> {
    let crs_tag = if version == "1.3.0" { "CRS" } else { "SRS" };
    // WMS 1.3.0 boxes in EPSG:4326 are latitude first (GDAL's "WMS:" URL
    // syntax does this by itself; a service description says it).
    let order = if version == "1.3.0" && crs == "EPSG:4326" {
        "yxYX"
    } else {
        "xyXY"
    };
    let description = format!(
        "<GDAL_WMS><Service name=\"WMS\"><Version>{version}</Version>\
         <ServerUrl>http://127.0.0.1:{port}/wms?{extra}</ServerUrl>\
         <{crs_tag}>{crs}</{crs_tag}><ImageFormat>image/png</ImageFormat>\
         <Layers>sentinel-2-l2a</Layers><Styles>truecolor</Styles><Transparent>FALSE</Transparent>\
         <BBoxOrder>{order}</BBoxOrder></Service>\
         <DataWindow><UpperLeftX>{}</UpperLeftX><UpperLeftY>{}</UpperLeftY>\
         <LowerRightX>{}</LowerRightX><LowerRightY>{}</LowerRightY>\
         <SizeX>{size}</SizeX><SizeY>{size}</SizeY></DataWindow>\
         <BandsCount>3</BandsCount><BlockSizeX>{size}</BlockSizeX><BlockSizeY>{size}</BlockSizeY>\
         <OverviewCount>0</OverviewCount><Cache/></GDAL_WMS>",
        b[0], b[3], b[2], b[1]
    );
    let dir = tempfile::tempdir().unwrap();
    let xml_path = dir.path().join("service.xml");
    std::fs::write(&xml_path, description).unwrap();
    let out = dir.path().join("out.tif");
    let output = Command::new("gdal_translate")
        .args(["-q", "--config", "GDAL_DEFAULT_WMS_CACHE_PATH"])
        .arg(dir.path().join("cache"))
        .arg(&xml_path)
        .arg(&out)
        .output()
        .expect("gdal_translate must be installed (apt install gdal-bin)");
    assert!(
        output.status.success(),
        "GDAL's WMS driver failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ds = Dataset::open(&out).unwrap();
    (1..=3)
        .map(|k| {
            ds.rasterband(k)
                .unwrap()
                .read_as::<u8>((0, 0), (size, size), (size, size), None)
                .unwrap()
                .data()
                .to_vec()
        })
        .collect()
}

#[test]
fn gdal_wms_driver_reads_what_gdalwarp_makes() {
    let port = server();
    let (item, bbox) = s2_item();
    let instant = item["properties"]["datetime"].as_str().unwrap();
    let (lon, lat) = ((bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0);
    let size = 256;
    // Well inside the (scaled-down) rasters.
    let (dx, dy) = ((bbox[2] - bbox[0]) * 0.35, (bbox[3] - bbox[1]) * 0.35);
    let to = |epsg: u32, x: f64, y: f64| -> (f64, f64) {
        let mut from = SpatialRef::from_epsg(4326).unwrap();
        from.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let mut to = SpatialRef::from_epsg(epsg).unwrap();
        to.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let (mut xs, mut ys, mut zs) = ([x], [y], [0.0]);
        CoordTransform::new(&from, &to)
            .unwrap()
            .transform_coords(&mut xs, &mut ys, &mut zs)
            .unwrap();
        (xs[0], ys[0])
    };
    let (cx, cy) = to(2154, lon, lat);
    let cases = [
        (
            "1.3.0",
            "EPSG:2154",
            [cx - 300.0, cy - 300.0, cx + 300.0, cy + 300.0],
        ),
        (
            "1.3.0",
            "EPSG:4326",
            [lon - dx, lat - dy, lon + dx, lat + dy],
        ),
        (
            "1.1.1",
            "EPSG:4326",
            [lon - dx, lat - dy, lon + dx, lat + dy],
        ),
    ];
    let time = format!("TIME={instant}&");
    for (version, crs, b) in cases {
        let got = gdal_wms(port, version, crs, b, size, &time);
        let mut compared = 0;
        let mut off = 0;
        for (k, asset) in ["B04", "B03", "B02"].iter().enumerate() {
            let (values, valid) = warp(&href(&item, asset), crs, b, size);
            for (p, v) in values.iter().enumerate() {
                if !valid[p] {
                    continue;
                }
                compared += 1;
                let expected = (v / 3000.0 * 255.0).round().clamp(0.0, 255.0) as i32;
                if (i32::from(got[k][p]) - expected).abs() > 1 {
                    off += 1;
                }
            }
        }
        assert!(
            compared > 3 * size * size * 9 / 10,
            "{crs}: the box {b:?} is inside the item {bbox:?} ({compared} valid)"
        );
        eprintln!(
            "WMS {version} {crs}: {off} of {compared} values differ from gdalwarp by more than 1 DN"
        );
        // Bilinear sampling positions agree with gdalwarp's to 0.002 px:
        // only rounding at the 0.5 boundary may differ.
        assert!(
            off * 1000 <= compared,
            "WMS {version} {crs}: {off} of {compared} values differ from gdalwarp by more than 1"
        );
    }
}

#[actix_web::test]
async fn getmap_options_time_and_overlays() {
    let app = app(demo().db.clone(), config()).await;
    let (item, bbox) = s2_item();
    let (lon, lat) = ((bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0);
    // Half inside the item, half outside (east of it).
    let b = format!(
        "{},{},{},{}",
        lat - 0.01,
        bbox[2] - 0.01,
        lat + 0.01,
        bbox[2] + 0.01
    );
    let instant = item["properties"]["datetime"].as_str().unwrap();
    let base = format!(
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=sentinel-2-l2a&STYLES=truecolor\
         &CRS=EPSG:4326&BBOX={b}&WIDTH=200&HEIGHT=100&TIME={instant}&DPI=96&MAP_RESOLUTION=96"
    );
    // TRANSPARENT=TRUE: alpha, transparent outside the item.
    let img = decode(&get(&app, &format!("{base}&FORMAT=image/png&TRANSPARENT=TRUE")).await);
    assert_eq!((img.width(), img.height()), (200, 100));
    let rgba = img.to_rgba8();
    assert_eq!(rgba.get_pixel(10, 50).0[3], 255, "inside the item");
    assert_eq!(rgba.get_pixel(190, 50).0[3], 0, "outside the item");
    // FALSE (any case): no alpha channel, BGCOLOR outside.
    let img = decode(
        &get(
            &app,
            &format!("{base}&FORMAT=image/png&transparent=false&BGCOLOR=0x3366CC"),
        )
        .await,
    );
    assert!(!img.color().has_alpha());
    assert_eq!(img.to_rgb8().get_pixel(190, 50).0, [0x33, 0x66, 0xCC]);
    for (format, kind) in [
        ("image/jpeg", image::ImageFormat::Jpeg),
        ("image/webp", image::ImageFormat::WebP),
    ] {
        let r = get(&app, &format!("{base}&FORMAT={format}")).await;
        assert_eq!(r.content_type, format);
        assert_eq!(image::guess_format(&r.body).unwrap(), kind);
    }
    // TIME outside the items' days: InvalidDimensionValue; within the
    // extent but with no item there: a transparent map.
    let r = get(
        &app,
        &format!("{base}&FORMAT=image/png").replace(instant, "1990-01-01"),
    )
    .await;
    assert_eq!(exception_code(&r), "InvalidDimensionValue");
    // OPACITY: NDVI at 0.5 over true colour is the even mix of the two.
    let two = format!(
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=sentinel-2-l2a,sentinel-2-l2a\
         &STYLES=truecolor,ndvi&OPACITY=1,0.5&CRS=EPSG:4326&BBOX={b}&WIDTH=200&HEIGHT=100\
         &TIME={instant}&FORMAT=image/png&TRANSPARENT=TRUE"
    );
    let mixed = decode(&get(&app, &two).await).to_rgba8();
    let under =
        decode(&get(&app, &format!("{base}&FORMAT=image/png&TRANSPARENT=TRUE")).await).to_rgba8();
    let over = decode(
        &get(
            &app,
            &format!("{base}&FORMAT=image/png&TRANSPARENT=TRUE").replace("truecolor", "ndvi"),
        )
        .await,
    )
    .to_rgba8();
    let (a, o, m) = (
        under.get_pixel(10, 50).0,
        over.get_pixel(10, 50).0,
        mixed.get_pixel(10, 50).0,
    );
    for c in 0..3 {
        let even = (i32::from(a[c]) + i32::from(o[c])) / 2;
        assert!(
            (i32::from(m[c]) - even).abs() <= 1,
            "{a:?} + {o:?} -> {m:?}"
        );
    }
    assert_ne!(m, a);
    // The root layer paints every collection; without TIME, the latest item.
    let r = get(
        &app,
        &format!(
            "/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=tuilerie&STYLES=&SRS=EPSG:4326\
             &BBOX={},{},{},{}&WIDTH=64&HEIGHT=64&FORMAT=image/png&TRANSPARENT=TRUE",
            lon - 0.005,
            lat - 0.005,
            lon + 0.005,
            lat + 0.005
        ),
    )
    .await;
    assert_eq!(decode(&r).to_rgba8().get_pixel(32, 32).0[3], 255);
}

#[actix_web::test]
async fn feature_info_gives_the_source_values() {
    let app = app(demo().db.clone(), config()).await;
    let (item, bbox) = s2_item();
    let instant = item["properties"]["datetime"].as_str().unwrap();
    let (lon, lat) = ((bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0);
    let b = [lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01];
    let (i, j) = (37usize, 81usize);
    let size = 100.0;
    // The centre of pixel (i, j) in lon/lat.
    let px = b[0] + (i as f64 + 0.5) * (b[2] - b[0]) / size;
    let py = b[3] - (j as f64 + 0.5) * (b[3] - b[1]) / size;
    let expected: Vec<f64> = ["B04", "B03", "B02"]
        .iter()
        .map(|asset| {
            let out = Command::new("gdallocationinfo")
                .args(["-valonly", "-wgs84"])
                .arg(href(&item, asset))
                .args([px.to_string(), py.to_string()])
                .output()
                .unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    let query = |version: &str, extra: &str| {
        let (crs, bbox, ij) = if version == "1.3.0" {
            (
                "CRS=EPSG:4326",
                format!("{},{},{},{}", b[1], b[0], b[3], b[2]),
                format!("I={i}&J={j}"),
            )
        } else {
            (
                "SRS=EPSG:4326",
                format!("{},{},{},{}", b[0], b[1], b[2], b[3]),
                format!("X={i}&Y={j}"),
            )
        };
        format!(
            "/wms?SERVICE=WMS&VERSION={version}&REQUEST=GetFeatureInfo&LAYERS=sentinel-2-l2a\
             &QUERY_LAYERS=sentinel-2-l2a&STYLES=truecolor&{crs}&BBOX={bbox}&WIDTH=100&HEIGHT=100\
             &{ij}&TIME={instant}{extra}"
        )
    };
    for version in ["1.3.0", "1.1.1"] {
        let r = get(&app, &query(version, "&INFO_FORMAT=application/json")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        let f = &v["features"][0];
        assert_eq!(f["properties"]["item"], item["id"]);
        assert_eq!(f["properties"]["datetime"], item["properties"]["datetime"]);
        let values: Vec<f64> = f["properties"]["values"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(values, expected, "{version}");
    }
    let id = item["id"].as_str().unwrap();
    for (format, needle) in [
        ("text/plain", id.to_string()),
        ("text/html", format!("<caption>sentinel-2-l2a — {id}")),
        ("text/xml", format!("item=\"{id}\"")),
    ] {
        let r = get(&app, &query("1.3.0", &format!("&INFO_FORMAT={format}"))).await;
        assert!(r.content_type.starts_with(format), "{}", r.content_type);
        assert!(r.text().contains(&needle), "{format}: {}", r.text());
        assert!(r.text().contains(&format!("{}", expected[0])));
    }
    if let Ok(doc) = roxmltree::Document::parse(
        &get(&app, &query("1.3.0", "&INFO_FORMAT=text/xml"))
            .await
            .text(),
    ) {
        assert_eq!(doc.root_element().tag_name().name(), "FeatureInfoResponse");
    } else {
        panic!("text/xml GetFeatureInfo is not XML");
    }
    let r = get(&app, &query("1.3.0", "").replace("I=37", "I=100")).await;
    assert_eq!(exception_code(&r), "InvalidPoint");
    let r = get(&app, &query("1.3.0", "&INFO_FORMAT=application/pdf")).await;
    assert_eq!(exception_code(&r), "InvalidFormat");
    let r = get(
        &app,
        &query("1.3.0", "").replace("QUERY_LAYERS=sentinel-2-l2a", "QUERY_LAYERS=tuilerie"),
    )
    .await;
    assert_eq!(exception_code(&r), "LayerNotQueryable");
}

#[actix_web::test]
async fn legends_show_ramps_and_classes() {
    let app = app(demo().db.clone(), config()).await;
    let legend = |layer: &str, style: &str| {
        format!(
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetLegendGraphic&LAYER={layer}&STYLE={style}&FORMAT=image/png"
        )
    };
    // TropiSCO's classes: every visible colour of the preset is in the image.
    let collection: Value =
        serde_json::from_str(&std::fs::read_to_string("collections/tropisco.json").unwrap())
            .unwrap();
    let img = decode(&get(&app, &legend("tropisco", "classes")).await).to_rgba8();
    let colours: Vec<[u8; 4]> = img.pixels().map(|p| p.0).collect();
    for (_, c) in collection["renders"]["classes"]["colormap"]
        .as_object()
        .unwrap()
    {
        let c: Vec<u8> = c
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        if c[3] > 0 {
            assert!(
                colours.contains(&[c[0], c[1], c[2], c[3]]),
                "{c:?} in the legend"
            );
        }
    }
    // LAI: a colour bar, taller than the class list, with a given size honoured.
    let bar = decode(&get(&app, &legend("lai", "lai")).await);
    assert!(bar.height() > img.height());
    let sized = decode(
        &get(
            &app,
            &format!("{}&WIDTH=40&HEIGHT=120", legend("lai", "lai")),
        )
        .await,
    );
    assert_eq!((sized.width(), sized.height()), (40, 120));
    let r = get(&app, &legend("lai", "nope")).await;
    assert_eq!(exception_code(&r), "StyleNotDefined");
    let r = get(&app, &legend("nope", "")).await;
    assert_eq!(exception_code(&r), "LayerNotDefined");
}

#[actix_web::test]
async fn exceptions_have_the_right_codes_and_never_500() {
    let app = app(demo().db.clone(), config()).await;
    let map = |version: &str, crs: &str, rest: &str| {
        format!(
            "/wms?SERVICE=WMS&VERSION={version}&REQUEST=GetMap&{crs}&WIDTH=64&HEIGHT=64\
             &FORMAT=image/png&BBOX=43,1,44,2&{rest}"
        )
    };
    let cases = [
        (
            map("1.3.0", "CRS=EPSG:4326", "LAYERS=nope&STYLES="),
            "LayerNotDefined",
            "1.3.0",
        ),
        (
            map("1.3.0", "CRS=EPSG:4326", "LAYERS=lai&STYLES=nope"),
            "StyleNotDefined",
            "1.3.0",
        ),
        (
            map("1.3.0", "CRS=EPSG:27700", "LAYERS=lai&STYLES="),
            "InvalidCRS",
            "1.3.0",
        ),
        (
            map("1.1.1", "SRS=EPSG:27700", "LAYERS=lai&STYLES="),
            "InvalidSRS",
            "1.1.1",
        ),
        (
            map("1.3.0", "CRS=EPSG:4326", "LAYERS=lai&STYLES=").replace("image/png", "image/gif"),
            "InvalidFormat",
            "1.3.0",
        ),
        (
            map(
                "1.3.0",
                "CRS=EPSG:4326",
                "LAYERS=lai&STYLES=&TIME=1850-01-01",
            ),
            "InvalidDimensionValue",
            "1.3.0",
        ),
        (
            map("1.3.0", "CRS=EPSG:4326", "LAYERS=lai&STYLES=&TIME=soon"),
            "InvalidDimensionValue",
            "1.3.0",
        ),
        (
            map("1.3.0", "CRS=EPSG:4326", "LAYERS=lai&STYLES=&TIME="),
            "MissingDimensionValue",
            "1.3.0",
        ),
        (
            map("1.3.0", "CRS=EPSG:4326", "LAYERS=lai&STYLES=").replace("43,1,44,2", "44,1,43,2"),
            "InvalidParameterValue",
            "1.3.0",
        ),
        (
            map("1.3.0", "CRS=EPSG:4326", "LAYERS=lai&STYLES=").replace("WIDTH=64", "WIDTH=9999"),
            "InvalidParameterValue",
            "1.3.0",
        ),
        (
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetStyles".to_string(),
            "OperationNotSupported",
            "1.3.0",
        ),
        (
            "/wms?SERVICE=WMS&VERSION=1.3.0".to_string(),
            "MissingParameterValue",
            "1.3.0",
        ),
        (
            "/wms?SERVICE=WFS&REQUEST=GetCapabilities".to_string(),
            "InvalidParameterValue",
            "1.3.0",
        ),
    ];
    for (uri, code, version) in cases {
        let r = get(&app, &uri).await;
        assert_eq!(r.status, 400, "{uri}: {}", r.text());
        let expected_type = if version == "1.3.0" {
            "text/xml"
        } else {
            "application/vnd.ogc.se_xml"
        };
        assert_eq!(r.content_type, expected_type, "{uri}");
        assert_eq!(exception_code(&r), code, "{uri}");
        assert_eq!(
            xml(&r).root_element().attribute("version"),
            Some(version),
            "{uri}"
        );
    }
    // INIMAGE: the message drawn in an image of the requested size; BLANK:
    // just the background.
    let bad = map("1.3.0", "CRS=EPSG:4326", "LAYERS=nope&STYLES=");
    let img = decode(&get(&app, &format!("{bad}&EXCEPTIONS=INIMAGE")).await).to_rgba8();
    assert_eq!(img.dimensions(), (64, 64));
    assert!(
        img.pixels().any(|p| p.0 == [200, 0, 0, 255]),
        "red text drawn"
    );
    let img = decode(
        &get(
            &app,
            &format!("{bad}&EXCEPTIONS=application/vnd.ogc.se_blank&BGCOLOR=0x00FF00"),
        )
        .await,
    )
    .to_rgb8();
    assert!(img.pixels().all(|p| p.0 == [0, 255, 0]));
}
