//! Coordinate reference systems as clients name them (`EPSG:2154`,
//! `CRS:84`): what they are, which axis comes first, and transforms of
//! points and boxes between them.
//!
//! Transforms are built once per thread and kept (a PROJ transformation
//! object may not move between threads).

use super::error::{RasterError, Result};
use super::pool::spatial_ref;
use gdal::spatial_ref::{CoordTransform, SpatialRef};
use std::cell::RefCell;
use std::collections::HashMap;

/// What a named CRS is.
#[derive(Debug, Clone, PartialEq)]
pub struct CrsFacts {
    /// The name as given, upper-cased (`EPSG:4326`, `CRS:84`).
    pub name: String,
    /// The definition GDAL reads (`CRS:84` → `EPSG:4326` in lon/lat order).
    pub definition: String,
    /// True when its authority puts latitude/northing first (EPSG:4326,
    /// EPSG:4171, EPSG:3035…): WMS 1.3.0 boxes then come in that order.
    pub northing_first: bool,
    /// True for geographic (degree) CRSs.
    pub geographic: bool,
    /// A human-readable name (`RGF93 v1 / Lambert-93`).
    pub title: String,
    /// Where it may be used: WGS84 (west, south, east, north).
    pub area: Option<[f64; 4]>,
}

/// Reads a CRS name: `EPSG:n`, `CRS:84` (WGS84 lon/lat), `OGC:CRS84`, or the
/// OGC URN/URL forms of an EPSG code.
pub fn describe(name: &str) -> Result<CrsFacts> {
    let upper = name.trim().to_ascii_uppercase();
    let code = epsg_code(&upper);
    let (definition, crs84) = match (upper.as_str(), code) {
        ("CRS:84" | "OGC:CRS84", _) => ("EPSG:4326".to_string(), true),
        (_, Some(code)) => (format!("EPSG:{code}"), false),
        _ => {
            return Err(RasterError::param(format!(
                "CRS '{name}' is not an EPSG code (EPSG:n) or CRS:84"
            )));
        }
    };
    let srs = SpatialRef::from_definition(&definition)
        .map_err(|_| RasterError::param(format!("CRS '{name}' is unknown")))?;
    // SAFETY: the handle is valid for the lifetime of `srs`; both functions
    // only read the object.
    let (lat_long, northing_easting) = unsafe {
        (
            gdal_sys::OSREPSGTreatsAsLatLong(srs.to_c_hsrs()) != 0,
            gdal_sys::OSREPSGTreatsAsNorthingEasting(srs.to_c_hsrs()) != 0,
        )
    };
    Ok(CrsFacts {
        name: if crs84 {
            "CRS:84".to_string()
        } else {
            definition.clone()
        },
        northing_first: !crs84 && (lat_long || northing_easting),
        geographic: srs.is_geographic(),
        title: srs.name().unwrap_or_else(|| definition.clone()),
        area: srs.area_of_use().map(|a| {
            [
                a.west_lon_degree,
                a.south_lat_degree,
                a.east_lon_degree,
                a.north_lat_degree,
            ]
        }),
        definition,
    })
}

/// The EPSG code of `EPSG:n`, `urn:ogc:def:crs:EPSG::n` or
/// `http://www.opengis.net/def/crs/EPSG/0/n` (upper-cased input).
fn epsg_code(upper: &str) -> Option<u32> {
    let tail = upper
        .strip_prefix("EPSG:")
        .or_else(|| upper.strip_prefix("URN:OGC:DEF:CRS:EPSG::"))
        .or_else(|| upper.strip_prefix("HTTP://WWW.OPENGIS.NET/DEF/CRS/EPSG/0/"))?;
    tail.parse().ok().filter(|c| *c > 0)
}

thread_local! {
    static TRANSFORMS: RefCell<HashMap<(String, String), CoordTransform>> =
        RefCell::new(HashMap::new());
}

/// Runs `f` with the transform between two GDAL definitions (x = easting
/// or longitude on both sides).
fn with_transform<T>(
    from: &str,
    to: &str,
    f: impl FnOnce(&CoordTransform) -> Result<T>,
) -> Result<T> {
    TRANSFORMS.with(|cell| {
        let mut map = cell.borrow_mut();
        let key = (from.to_string(), to.to_string());
        if !map.contains_key(&key) {
            if map.len() > 128 {
                map.clear();
            }
            let t = CoordTransform::new(&spatial_ref(from)?, &spatial_ref(to)?).map_err(|e| {
                RasterError::param(format!("no transformation from {from} to {to}: {e}"))
            })?;
            map.insert(key.clone(), t);
        }
        let t = map
            .get(&key)
            .ok_or_else(|| RasterError::Internal("transform cache lost an entry".into()))?;
        f(t)
    })
}

/// A box `(minx, miny, maxx, maxy)` from one CRS definition to another,
/// edges densified so that curved edges are covered.
pub fn transform_bounds(from: &str, to: &str, bounds: [f64; 4]) -> Result<[f64; 4]> {
    if from == to {
        return Ok(bounds);
    }
    with_transform(from, to, |t| {
        let b = t.transform_bounds(&bounds, 21).map_err(|e| {
            RasterError::param(format!(
                "cannot transform {bounds:?} from {from} to {to}: {e}"
            ))
        })?;
        if b.iter().all(|v| v.is_finite()) {
            Ok(b)
        } else {
            Err(RasterError::param(format!(
                "{bounds:?} has no finite image from {from} in {to}"
            )))
        }
    })
}

/// A point from one CRS definition to another.
pub fn transform_point(from: &str, to: &str, x: f64, y: f64) -> Result<(f64, f64)> {
    if from == to {
        return Ok((x, y));
    }
    with_transform(from, to, |t| {
        let (mut xs, mut ys, mut zs) = ([x], [y], [0.0]);
        t.transform_coords(&mut xs, &mut ys, &mut zs)
            .map_err(|e| RasterError::param(format!("cannot transform ({x}, {y}): {e}")))?;
        if xs[0].is_finite() && ys[0].is_finite() {
            Ok((xs[0], ys[0]))
        } else {
            Err(RasterError::param(format!(
                "({x}, {y}) has no image from {from} in {to}"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_order_follows_the_authority() {
        let wgs84 = describe("EPSG:4326").unwrap();
        assert!(wgs84.northing_first && wgs84.geographic);
        assert!(describe("epsg:4171").unwrap().northing_first);
        let crs84 = describe("CRS:84").unwrap();
        assert!(!crs84.northing_first && crs84.geographic);
        assert_eq!(crs84.definition, "EPSG:4326");
        let lambert = describe("EPSG:2154").unwrap();
        assert!(!lambert.northing_first && !lambert.geographic);
        assert!(lambert.title.contains("Lambert-93"), "{}", lambert.title);
        assert!(!describe("EPSG:3857").unwrap().northing_first);
        assert!(describe("EPSG:3035").unwrap().northing_first);
        assert_eq!(
            describe("urn:ogc:def:crs:EPSG::32631").unwrap().name,
            "EPSG:32631"
        );
    }

    #[test]
    fn unknown_crs_are_parameter_errors() {
        for bad in ["EPSG:999999", "EPSG:abc", "foo", "EPSG:0", ""] {
            assert!(
                matches!(describe(bad), Err(RasterError::InvalidParameter(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn transforms_round_trip() {
        let (x, y) = transform_point("EPSG:4326", "EPSG:2154", 3.0, 46.5).unwrap();
        assert!((x - 700_000.0).abs() < 1.0 && (y - 6_600_000.0).abs() < 1.0);
        let b = transform_bounds("EPSG:2154", "EPSG:4326", [600e3, 6.5e6, 800e3, 6.7e6]).unwrap();
        assert!(
            b[0] < 3.0 && b[2] > 3.0 && b[1] < 46.5 && b[3] > 46.5,
            "{b:?}"
        );
    }
}
