//! GetCapabilities: the service, its operations and one layer per visible
//! collection under a named root layer, in WMS 1.1.1 or 1.3.0.

use super::exception::{WmsError, WmsResult};
use super::layers::{self, Layer};
use super::legend::legend_of;
use super::params::{Kvp, Version};
use super::time::TimeDimension;
use super::xml::Xml;
use crate::api::AppState;
use crate::api::auth::scope;
use crate::api::links::Base;
use crate::raster::crs::{CrsFacts, transform_bounds};
use actix_web::{HttpRequest, HttpResponse};
use std::sync::Arc;

/// Name of the root layer (all collections, not queryable).
pub fn root_name(state: &AppState) -> &str {
    &state.config.catalog.id
}

/// Answers GetCapabilities.
pub async fn respond(
    req: &HttpRequest,
    state: &AppState,
    kvp: &Kvp,
    version: Version,
) -> WmsResult<HttpResponse> {
    let scope = scope(req, state);
    let collections = layers::visible(state, &scope).await?;
    let sequence = collections.iter().map(|c| c.updated).max().unwrap_or(0);
    if let Some(asked) = kvp.get("UPDATESEQUENCE").map(str::trim) {
        match asked.parse::<i64>() {
            Ok(n) if n == sequence => {
                return Err(WmsError::new(
                    "CurrentUpdateSequence",
                    "UPDATESEQUENCE",
                    format!("update sequence {n} is the current one"),
                ));
            }
            Ok(n) if n > sequence => {
                return Err(WmsError::new(
                    "InvalidUpdateSequence",
                    "UPDATESEQUENCE",
                    format!("update sequence {n} is newer than the current one ({sequence})"),
                ));
            }
            Ok(_) => {}
            Err(_) => {
                return Err(WmsError::new(
                    "InvalidUpdateSequence",
                    "UPDATESEQUENCE",
                    format!("update sequence '{asked}' is not one this service issued"),
                ));
            }
        }
    }
    let base = Base::of(req, state.config.server.public_url.as_deref());
    // A key given as `api_key` goes into every URL of the document: clients
    // such as QGIS call the advertised URLs, and could not send it otherwise.
    let api_key = crate::api::auth::key_param(req).filter(|k| !k.is_empty());
    let key = format!(
        "{}|{scope:?}|{}|{sequence}|{}",
        version.as_str(),
        base.0,
        api_key.as_deref().unwrap_or("")
    );
    let doc = match state.wms.capabilities.get(&key) {
        Some(doc) => doc,
        None => {
            let mut layers = Vec::with_capacity(collections.len());
            for c in &collections {
                let layer = layers::layer_of(state, c);
                let time = layers::time_dimension(state, &scope, &layer).await?;
                layers.push((layer, time));
            }
            let doc = Arc::new(document(
                state,
                version,
                &base,
                api_key.as_deref(),
                sequence,
                &layers,
            ));
            state.wms.capabilities.insert(key, doc.clone());
            doc
        }
    };
    let media_type = match version {
        Version::V130 => "text/xml; charset=utf-8",
        Version::V111 => "application/vnd.ogc.wms_xml; charset=utf-8",
    };
    Ok(HttpResponse::Ok()
        .content_type(media_type)
        .body(doc.as_str().to_string()))
}

/// Formats a coordinate without noise.
fn num(v: f64) -> String {
    let s = format!("{v:.8}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// The layer box in a CRS (clipped to the CRS's area of use), in the
/// version's axis order.
fn crs_box(crs: &CrsFacts, wgs84: [f64; 4], version: Version) -> Option<[f64; 4]> {
    let mut b = wgs84;
    if let Some(area) = crs.area {
        b = [
            b[0].max(area[0]),
            b[1].max(area[1]),
            b[2].min(area[2]),
            b[3].min(area[3]),
        ];
        if b[0] >= b[2] || b[1] >= b[3] {
            return None;
        }
    }
    if crs.definition == "EPSG:3857" {
        b[1] = b[1].max(-85.051_128);
        b[3] = b[3].min(85.051_128);
    }
    let t = transform_bounds("EPSG:4326", &crs.definition, b).ok()?;
    Some(if version == Version::V130 && crs.northing_first {
        [t[1], t[0], t[3], t[2]]
    } else {
        t
    })
}

fn bounding_boxes(x: &mut Xml, state: &AppState, version: Version, wgs84: [f64; 4]) {
    let attr = match version {
        Version::V130 => "CRS",
        Version::V111 => "SRS",
    };
    for crs in &state.wms.crs {
        if version == Version::V111 && crs.name == "CRS:84" {
            continue;
        }
        if let Some(b) = crs_box(crs, wgs84, version) {
            let (minx, miny, maxx, maxy) = (num(b[0]), num(b[1]), num(b[2]), num(b[3]));
            x.empty(
                "BoundingBox",
                &[
                    (attr, &crs.name),
                    ("minx", &minx),
                    ("miny", &miny),
                    ("maxx", &maxx),
                    ("maxy", &maxy),
                ],
            );
        }
    }
}

fn geographic_box(x: &mut Xml, version: Version, b: [f64; 4]) {
    let [w, s, e, n] = [num(b[0]), num(b[1]), num(b[2]), num(b[3])];
    match version {
        Version::V130 => {
            x.open("EX_GeographicBoundingBox", &[])
                .text("westBoundLongitude", &[], &w)
                .text("eastBoundLongitude", &[], &e)
                .text("southBoundLatitude", &[], &s)
                .text("northBoundLatitude", &[], &n)
                .close();
        }
        Version::V111 => {
            x.empty(
                "LatLonBoundingBox",
                &[("minx", &w), ("miny", &s), ("maxx", &e), ("maxy", &n)],
            );
        }
    }
}

fn online(x: &mut Xml, href: &str) {
    x.empty(
        "OnlineResource",
        &[
            ("xmlns:xlink", "http://www.w3.org/1999/xlink"),
            ("xlink:type", "simple"),
            ("xlink:href", href),
        ],
    );
}

fn operation(x: &mut Xml, name: &str, formats: &[&str], href: &str) {
    x.open(name, &[]);
    for f in formats {
        x.text("Format", &[], f);
    }
    x.open("DCPType", &[]).open("HTTP", &[]).open("Get", &[]);
    online(x, href);
    x.close().close().close().close();
}

fn keywords(x: &mut Xml, words: &[String]) {
    if words.is_empty() {
        return;
    }
    x.open("KeywordList", &[]);
    for w in words {
        x.text("Keyword", &[], w);
    }
    x.close();
}

fn time_dimension(x: &mut Xml, version: Version, time: &TimeDimension) {
    match version {
        Version::V130 => {
            x.text(
                "Dimension",
                &[
                    ("name", "time"),
                    ("units", "ISO8601"),
                    ("default", &time.default),
                    ("nearestValue", "0"),
                ],
                &time.values,
            );
        }
        Version::V111 => {
            x.empty("Dimension", &[("name", "time"), ("units", "ISO8601")]);
            x.text(
                "Extent",
                &[
                    ("name", "time"),
                    ("default", &time.default),
                    ("nearestValue", "0"),
                ],
                &time.values,
            );
        }
    }
}

/// The capabilities document.
pub fn document(
    state: &AppState,
    version: Version,
    base: &Base,
    api_key: Option<&str>,
    sequence: i64,
    layers: &[(Arc<Layer>, Option<TimeDimension>)],
) -> String {
    let config = &state.config;
    let href = match api_key {
        Some(k) => format!(
            "{}{}={}&",
            base.url("/wms?"),
            crate::api::auth::KEY_PARAM,
            crate::api::links::query_value(k)
        ),
        None => base.url("/wms?"),
    };
    let sequence = sequence.to_string();
    let mut x = Xml::new();
    match version {
        Version::V130 => {
            x.open(
                "WMS_Capabilities",
                &[
                    ("version", "1.3.0"),
                    ("updateSequence", &sequence),
                    ("xmlns", "http://www.opengis.net/wms"),
                    ("xmlns:xlink", "http://www.w3.org/1999/xlink"),
                    ("xmlns:sld", "http://www.opengis.net/sld"),
                    ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
                    (
                        "xsi:schemaLocation",
                        "http://www.opengis.net/wms http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd \
                         http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd",
                    ),
                ],
            );
        }
        Version::V111 => {
            x.raw("<!DOCTYPE WMT_MS_Capabilities SYSTEM \"http://schemas.opengis.net/wms/1.1.1/WMS_MS_Capabilities.dtd\">\n");
            x.open(
                "WMT_MS_Capabilities",
                &[("version", "1.1.1"), ("updateSequence", &sequence)],
            );
        }
    }
    let title = config.wms.title.as_deref().unwrap_or(&config.catalog.title);
    let description = config
        .wms
        .r#abstract
        .as_deref()
        .unwrap_or(&config.catalog.description);
    x.open("Service", &[]);
    x.text(
        "Name",
        &[],
        if version == Version::V130 {
            "WMS"
        } else {
            "OGC:WMS"
        },
    );
    x.text("Title", &[], title)
        .text("Abstract", &[], description);
    keywords(
        &mut x,
        &["STAC".into(), "Earth observation".into(), "WMS".into()],
    );
    online(&mut x, &base.url("/"));
    x.text("Fees", &[], "none")
        .text("AccessConstraints", &[], "none");
    if version == Version::V130 {
        x.text("MaxWidth", &[], &config.wms.max_width.to_string())
            .text("MaxHeight", &[], &config.wms.max_height.to_string());
    }
    x.close();

    x.open("Capability", &[]).open("Request", &[]);
    let caps_format = match version {
        Version::V130 => "text/xml",
        Version::V111 => "application/vnd.ogc.wms_xml",
    };
    operation(&mut x, "GetCapabilities", &[caps_format], &href);
    operation(
        &mut x,
        "GetMap",
        &["image/png", "image/jpeg", "image/webp"],
        &href,
    );
    operation(
        &mut x,
        "GetFeatureInfo",
        &["text/plain", "text/html", "text/xml", "application/json"],
        &href,
    );
    let legend_op = match version {
        Version::V130 => "sld:GetLegendGraphic",
        Version::V111 => "GetLegendGraphic",
    };
    operation(&mut x, legend_op, &["image/png"], &href);
    x.close();
    x.open("Exception", &[]);
    let exception_formats: &[&str] = match version {
        Version::V130 => &["XML", "INIMAGE", "BLANK"],
        Version::V111 => &[
            "application/vnd.ogc.se_xml",
            "application/vnd.ogc.se_inimage",
            "application/vnd.ogc.se_blank",
        ],
    };
    for f in exception_formats {
        x.text("Format", &[], f);
    }
    x.close();

    // The root layer: every CRS, the union of the extents.
    let union = layers.iter().fold(None, |acc: Option<[f64; 4]>, (l, _)| {
        Some(match acc {
            None => l.bbox,
            Some(a) => [
                a[0].min(l.bbox[0]),
                a[1].min(l.bbox[1]),
                a[2].max(l.bbox[2]),
                a[3].max(l.bbox[3]),
            ],
        })
    });
    let union = union.unwrap_or([-180.0, -90.0, 180.0, 90.0]);
    x.open("Layer", &[("queryable", "0")]);
    x.text("Name", &[], root_name(state))
        .text("Title", &[], title)
        .text("Abstract", &[], description);
    let crs_tag = match version {
        Version::V130 => "CRS",
        Version::V111 => "SRS",
    };
    for crs in &state.wms.crs {
        if version == Version::V111 && crs.name == "CRS:84" {
            continue;
        }
        x.text(crs_tag, &[], &crs.name);
    }
    geographic_box(&mut x, version, union);
    bounding_boxes(&mut x, state, version, union);
    for (layer, time) in layers {
        x.open("Layer", &[("queryable", "1"), ("opaque", "0")]);
        x.text("Name", &[], &layer.name)
            .text("Title", &[], &layer.title)
            .text("Abstract", &[], &layer.description);
        keywords(&mut x, &layer.keywords);
        geographic_box(&mut x, version, layer.bbox);
        bounding_boxes(&mut x, state, version, layer.bbox);
        if let Some(time) = time {
            time_dimension(&mut x, version, time);
        }
        if let Some(a) = &layer.attribution {
            x.open("Attribution", &[]).text("Title", &[], a).close();
        }
        for style in &layer.styles {
            x.open("Style", &[]);
            x.text("Name", &[], &style.name)
                .text("Title", &[], &style.title);
            if let Ok(legend) = legend_of(layer, &style.name) {
                let (w, h) = legend.size();
                let url = format!(
                    "{href}SERVICE=WMS&VERSION={}&REQUEST=GetLegendGraphic&LAYER={}&STYLE={}&FORMAT=image/png",
                    version.as_str(),
                    crate::api::links::segment(&layer.name),
                    crate::api::links::segment(&style.name),
                );
                x.open(
                    "LegendURL",
                    &[("width", &w.to_string()), ("height", &h.to_string())],
                );
                x.text("Format", &[], "image/png");
                online(&mut x, &url);
                x.close();
            }
            x.close();
        }
        x.close();
    }
    x.finish()
}
