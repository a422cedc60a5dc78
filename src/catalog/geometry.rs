//! Footprints and boxes in WGS 84 longitude/latitude.

use super::error::{CatalogError, Result};
use geo::{BoundingRect, Intersects};
use geozero::{CoordDimensions, ToGeo, ToWkb, wkb::Wkb};

/// Tolerance for coordinates slightly past ±180/±90 (rounding in real items).
const RANGE_SLACK: f64 = 1e-6;

/// An axis-aligned box. `minx > maxx` never holds here: boxes crossing the
/// antimeridian are split by [`Bounds::from_stac_bbox_split`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// West.
    pub minx: f64,
    /// South.
    pub miny: f64,
    /// East.
    pub maxx: f64,
    /// North.
    pub maxy: f64,
}

impl Bounds {
    /// Checks a STAC bbox (4 or 6 numbers) and returns its 2D part as given
    /// (west may exceed east when crossing the antimeridian).
    pub fn from_stac_bbox(bbox: &[f64]) -> std::result::Result<[f64; 4], String> {
        let b = match bbox.len() {
            4 => [bbox[0], bbox[1], bbox[2], bbox[3]],
            6 => {
                if bbox[2] > bbox[5] {
                    return Err("minimum elevation is greater than maximum elevation".into());
                }
                [bbox[0], bbox[1], bbox[3], bbox[4]]
            }
            n => return Err(format!("expected 4 or 6 numbers, got {n}")),
        };
        if b.iter().any(|v| !v.is_finite()) {
            return Err("coordinates must be finite numbers".into());
        }
        let [w, s, e, n] = b;
        for lon in [w, e] {
            if !(-180.0 - RANGE_SLACK..=180.0 + RANGE_SLACK).contains(&lon) {
                return Err(format!("longitude {lon} is outside [-180, 180]"));
            }
        }
        for lat in [s, n] {
            if !(-90.0 - RANGE_SLACK..=90.0 + RANGE_SLACK).contains(&lat) {
                return Err(format!("latitude {lat} is outside [-90, 90]"));
            }
        }
        if s > n {
            return Err(format!("south {s} is greater than north {n}"));
        }
        Ok(b)
    }

    /// Like [`Bounds::from_stac_bbox`], split in two at the antimeridian when
    /// west > east.
    pub fn from_stac_bbox_split(bbox: &[f64]) -> std::result::Result<Vec<Bounds>, String> {
        let [w, s, e, n] = Self::from_stac_bbox(bbox)?;
        Ok(if w <= e {
            vec![Bounds {
                minx: w,
                miny: s,
                maxx: e,
                maxy: n,
            }]
        } else {
            vec![
                Bounds {
                    minx: w,
                    miny: s,
                    maxx: 180.0,
                    maxy: n,
                },
                Bounds {
                    minx: -180.0,
                    miny: s,
                    maxx: e,
                    maxy: n,
                },
            ]
        })
    }

    /// True when the two boxes share at least a point.
    pub fn intersects(&self, other: &Bounds) -> bool {
        self.minx <= other.maxx
            && self.maxx >= other.minx
            && self.miny <= other.maxy
            && self.maxy >= other.miny
    }

    /// The STAC bbox array `[w, s, e, n]` as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&[self.minx, self.miny, self.maxx, self.maxy])
            .unwrap_or_else(|_| String::from("null"))
    }

    /// The box as a polygon.
    pub fn to_geo(&self) -> geo::Geometry<f64> {
        geo::Geometry::Rect(geo::Rect::new(
            geo::coord! { x: self.minx, y: self.miny },
            geo::coord! { x: self.maxx, y: self.maxy },
        ))
    }
}

/// An item footprint: the geometry, its bounds, and its WKB encoding.
#[derive(Debug, Clone)]
pub struct Footprint {
    /// The geometry.
    pub geometry: geo::Geometry<f64>,
    /// Its bounding box.
    pub bounds: Bounds,
    /// Its WKB encoding (2D), as stores keep it.
    pub wkb: Vec<u8>,
}

impl Footprint {
    /// Parses a GeoJSON geometry in WGS 84 and checks its coordinates.
    pub fn from_geojson(json: &str) -> Result<Footprint> {
        let parsed: geojson::Geometry = serde_json::from_str(json)
            .map_err(|e| CatalogError::object(format!("geometry is not valid GeoJSON: {e}")))?;
        check_rings(&parsed.value)?;
        let geometry: geo::Geometry<f64> = (&parsed.value)
            .try_into()
            .map_err(|e| CatalogError::object(format!("geometry is not valid GeoJSON: {e}")))?;
        Self::from_geo(geometry)
    }

    /// The geodesic area on the WGS 84 ellipsoid, in km² (what quotas count).
    pub fn area_km2(&self) -> f64 {
        use geo::GeodesicArea;
        self.geometry.geodesic_area_unsigned() / 1.0e6
    }

    /// Wraps a geometry, checking that it is in longitude/latitude.
    pub fn from_geo(geometry: geo::Geometry<f64>) -> Result<Footprint> {
        let rect = geometry
            .bounding_rect()
            .ok_or_else(|| CatalogError::object("geometry is empty"))?;
        let bounds = Bounds {
            minx: rect.min().x,
            miny: rect.min().y,
            maxx: rect.max().x,
            maxy: rect.max().y,
        };
        Bounds::from_stac_bbox(&[bounds.minx, bounds.miny, bounds.maxx, bounds.maxy]).map_err(
            |e| CatalogError::object(format!("geometry must be WGS 84 longitude/latitude: {e}")),
        )?;
        let wkb = geometry
            .to_wkb(CoordDimensions::xy())
            .map_err(|e| CatalogError::object(format!("geometry cannot be encoded: {e}")))?;
        Ok(Footprint {
            geometry,
            bounds,
            wkb,
        })
    }
}

/// Checks what GeoJSON requires of polygon rings and line strings
/// (RFC 7946 §3.1.4, §3.1.6): enough positions, rings closed.
fn check_rings(value: &geojson::GeometryValue) -> Result<()> {
    use geojson::GeometryValue as G;
    let ring = |r: &Vec<geojson::Position>| -> Result<()> {
        if r.len() < 4 {
            return Err(CatalogError::object(format!(
                "geometry is not valid GeoJSON: a polygon ring needs at least 4 positions, got {}",
                r.len()
            )));
        }
        if r.first() != r.last() {
            return Err(CatalogError::object(
                "geometry is not valid GeoJSON: a polygon ring must end where it starts",
            ));
        }
        Ok(())
    };
    match value {
        G::Polygon { coordinates } => coordinates.iter().try_for_each(ring),
        G::MultiPolygon { coordinates } => coordinates.iter().flatten().try_for_each(ring),
        G::LineString { coordinates } if coordinates.len() < 2 => Err(CatalogError::object(
            "geometry is not valid GeoJSON: a line string needs at least 2 positions",
        )),
        G::MultiLineString { coordinates } if coordinates.iter().any(|l| l.len() < 2) => {
            Err(CatalogError::object(
                "geometry is not valid GeoJSON: a line string needs at least 2 positions",
            ))
        }
        G::GeometryCollection { geometries } => {
            geometries.iter().try_for_each(|g| check_rings(&g.value))
        }
        _ => Ok(()),
    }
}

/// Decodes a stored WKB footprint.
pub fn from_wkb(wkb: &[u8]) -> Option<geo::Geometry<f64>> {
    Wkb(wkb).to_geo().ok()
}

/// True when a stored WKB footprint intersects the geometry.
pub fn wkb_intersects(wkb: &[u8], other: &geo::Geometry<f64>) -> bool {
    from_wkb(wkb).is_some_and(|g| g.intersects(other))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_checks() {
        assert!(Bounds::from_stac_bbox(&[0.0, 0.0, 1.0, 1.0]).is_ok());
        assert!(Bounds::from_stac_bbox(&[0.0, 0.0, 0.0, 1.0, 1.0, 10.0]).is_ok());
        assert!(Bounds::from_stac_bbox(&[0.0, 1.0, 1.0, 0.0]).is_err());
        assert!(Bounds::from_stac_bbox(&[0.0, 0.0, 1.0]).is_err());
        assert!(Bounds::from_stac_bbox(&[0.0, 0.0, 200.0, 1.0]).is_err());
        assert_eq!(
            Bounds::from_stac_bbox_split(&[170.0, 0.0, -170.0, 1.0])
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn footprint_round_trips_wkb() {
        let fp = Footprint::from_geojson(
            r#"{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]}"#,
        )
        .unwrap();
        assert_eq!(fp.bounds.maxx, 2.0);
        let inside = Bounds {
            minx: 1.0,
            miny: 1.0,
            maxx: 3.0,
            maxy: 3.0,
        }
        .to_geo();
        let outside = Bounds {
            minx: 5.0,
            miny: 5.0,
            maxx: 6.0,
            maxy: 6.0,
        }
        .to_geo();
        assert!(wkb_intersects(&fp.wkb, &inside));
        assert!(!wkb_intersects(&fp.wkb, &outside));
    }

    #[test]
    fn rejects_projected_coordinates() {
        let err = Footprint::from_geojson(r#"{"type":"Point","coordinates":[500000,4800000]}"#)
            .unwrap_err();
        assert!(err.to_string().contains("longitude"));
    }
}
