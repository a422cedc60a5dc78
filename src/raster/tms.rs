//! The OGC tile matrix sets the server offers, and the documents that describe
//! tiles to clients: TileJSON 3.0.0, WMTS 1.0.0 GetCapabilities (RESTful) and
//! the OGC Two Dimensional Tile Matrix Set 2.0 JSON encoding.
//!
//! Three sets are offered, all with 256 × 256 pixel tiles and a quadtree
//! (each zoom level halves the resolution of the previous one):
//!
//! * [`WebMercatorQuad`](https://docs.ogc.org/is/17-083r4/17-083r4.html#toc58),
//!   EPSG:3857, exactly as OGC 17-083r4 (and morecantile) define it: origin
//!   (-20037508.3427892, 20037508.3427892), one tile at zoom 0, zooms 0–24.
//! * [`WorldCRS84Quad`](https://docs.ogc.org/is/17-083r4/17-083r4.html#toc59),
//!   OGC CRS84 (longitude, latitude), 2 × 1 tiles of 180° × 180° at zoom 0,
//!   zooms 0–18, as OGC 17-083r4 defines it.
//! * `LambertFrance93Quad`, our own set for metropolitan France in
//!   Lambert-93 (EPSG:2154), defined below.
//!
//! # `LambertFrance93Quad`
//!
//! Fixed here once and for all, so that tile addresses never depend on the
//! PROJ database installed:
//!
//! * CRS: EPSG:2154 (RGF93 v1 / Lambert-93), axes easting, northing.
//! * The EPSG area of use of EPSG:2154 (France onshore and offshore, mainland
//!   and Corsica: 9.86° W – 10.38° E, 41.15° N – 51.56° N), reprojected with
//!   PROJ with densified edges, spans x −378 305.81 … 1 320 649.57 m and
//!   y 6 005 280.99 … 7 235 612.72 m: 1 698 955 m wide, 1 230 332 m high.
//! * Zoom 0 is one 256 × 256 tile, a square of 1 699 840 m (**6640 m/px**)
//!   that covers that area: centred on it vertically, its top-left corner
//!   rounded to the kilometre, **origin (−379 000, 7 470 000)**. The set's
//!   extent is therefore (−379 000, 5 770 160, 1 320 840, 7 470 000), and its
//!   WGS84 bounding box about 13.20° W – 12.41° E, 38.29° N – 54.30° N.
//! * Each zoom halves the resolution, 6640 / 2^z m/px, with 2^z × 2^z tiles;
//!   zooms 0–21 (3.17 mm/px at zoom 21).
//! * Zoom 14 (0.405 m/px) is the native zoom of 0.5 m Pléiades imagery (zoom
//!   13, 0.81 m/px, would lose detail); zoom 10 (6.48 m/px) is the native zoom
//!   of 10 m Sentinel-2 imagery (zoom 9 is 12.97 m/px).
//!
//! A test checks the grid against the area of use that GDAL/PROJ reports.
//!
//! Nothing here knows about HTTP: documents are returned as
//! [`serde_json::Value`] or [`String`].

use std::cell::RefCell;
use std::f64::consts::PI;
use std::fmt::Write as _;

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use serde_json::{Value, json};

use super::error::{RasterError, Result};

/// Width and height, in pixels, of every tile of every set.
pub const TILE_SIZE: u32 = 256;

/// Semi-major axis of WGS 84, the sphere of Web Mercator.
const EARTH_RADIUS: f64 = 6_378_137.0;

/// Half the width of the Web Mercator square: π × 6378137 m.
const MERCATOR_HALF_EXTENT: f64 = PI * EARTH_RADIUS;

/// Latitude of the top and bottom edges of the Web Mercator square.
const MERCATOR_MAX_LAT: f64 = 85.051_128_779_806_59;

/// Metres per degree on the equator, as OGC uses to turn degrees into scale
/// denominators (2π × 6378137 / 360).
const METRES_PER_DEGREE: f64 = 2.0 * PI * EARTH_RADIUS / 360.0;

/// The standardized rendering pixel size of OGC: 0.28 mm.
const OGC_PIXEL_SIZE: f64 = 0.000_28;

/// Points per edge when densifying a bounding box before reprojecting it.
const DENSIFY_POINTS: i32 = 21;

/// A tile matrix set: a CRS, an origin at the top-left corner of the matrix,
/// and one tile matrix per zoom level, each with half the resolution of the
/// previous one and twice as many columns and rows.
///
/// Tiles are addressed by zoom `z`, column `x` (0 on the west edge, growing
/// eastwards) and row `y` (0 on the north edge, growing southwards).
#[derive(Debug, PartialEq)]
pub struct TileMatrixSet {
    id: &'static str,
    title: &'static str,
    description: &'static str,
    epsg: u32,
    crs_uri: &'static str,
    /// The URN that WMTS `ows:SupportedCRS` uses.
    crs_urn: &'static str,
    /// The URI of the set in the OGC register, for the standard sets.
    uri: Option<&'static str>,
    /// The OGC well-known scale set: (URI for the JSON encoding, URN for WMTS).
    well_known_scale_set: Option<(&'static str, &'static str)>,
    ordered_axes: [&'static str; 2],
    /// (x, y) of the top-left corner, x = easting / longitude.
    origin: [f64; 2],
    /// CRS units per pixel at zoom 0.
    z0_resolution: f64,
    /// (columns, rows) at zoom 0.
    z0_matrix: (u64, u64),
    max_zoom: u8,
    /// Metres per CRS unit, for scale denominators.
    metres_per_unit: f64,
    /// The WGS84 (lon/lat) box outside which the set has no tile; inputs of
    /// [`TileMatrixSet::from_wgs84`] are clipped to it before reprojection.
    wgs84_domain: [f64; 4],
}

/// `WebMercatorQuad` of OGC 17-083r4: EPSG:3857, zooms 0–24.
const WEB_MERCATOR_QUAD: TileMatrixSet = TileMatrixSet {
    id: "WebMercatorQuad",
    title: "Google Maps Compatible for the World",
    description: "Web Mercator quadtree of OGC 17-083r4 (EPSG:3857), one tile at zoom 0.",
    epsg: 3857,
    crs_uri: "http://www.opengis.net/def/crs/EPSG/0/3857",
    crs_urn: "urn:ogc:def:crs:EPSG::3857",
    uri: Some("http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"),
    well_known_scale_set: Some((
        "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible",
    )),
    ordered_axes: ["X", "Y"],
    origin: [-MERCATOR_HALF_EXTENT, MERCATOR_HALF_EXTENT],
    z0_resolution: 2.0 * MERCATOR_HALF_EXTENT / TILE_SIZE as f64,
    z0_matrix: (1, 1),
    max_zoom: 24,
    metres_per_unit: 1.0,
    wgs84_domain: [-180.0, -MERCATOR_MAX_LAT, 180.0, MERCATOR_MAX_LAT],
};

/// `WorldCRS84Quad` of OGC 17-083r4: OGC CRS84 (longitude, latitude),
/// 2 × 1 tiles at zoom 0, zooms 0–18.
const WORLD_CRS84_QUAD: TileMatrixSet = TileMatrixSet {
    id: "WorldCRS84Quad",
    title: "CRS84 for the World",
    description: "Equirectangular quadtree of OGC 17-083r4 (OGC CRS84, longitude then \
                  latitude), two 180° × 180° tiles at zoom 0.",
    epsg: 4326,
    crs_uri: "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    crs_urn: "urn:ogc:def:crs:OGC:1.3:CRS84",
    uri: Some("http://www.opengis.net/def/tilematrixset/OGC/1.0/WorldCRS84Quad"),
    well_known_scale_set: None,
    ordered_axes: ["Lon", "Lat"],
    origin: [-180.0, 90.0],
    z0_resolution: 180.0 / TILE_SIZE as f64,
    z0_matrix: (2, 1),
    max_zoom: 18,
    metres_per_unit: METRES_PER_DEGREE,
    wgs84_domain: [-180.0, -90.0, 180.0, 90.0],
};

/// `LambertFrance93Quad`: see the module documentation for its definition.
const LAMBERT_FRANCE_93_QUAD: TileMatrixSet = TileMatrixSet {
    id: "LambertFrance93Quad",
    title: "Lambert-93 quadtree for metropolitan France",
    description: "Quadtree in RGF93 v1 / Lambert-93 (EPSG:2154) whose zoom 0 tile, a \
                  1699840 m square with its top-left corner at (-379000, 7470000), covers \
                  the EPSG area of use of Lambert-93 (metropolitan France and Corsica, \
                  onshore and offshore); 6640 m/px at zoom 0, halved at each zoom.",
    epsg: 2154,
    crs_uri: "http://www.opengis.net/def/crs/EPSG/0/2154",
    crs_urn: "urn:ogc:def:crs:EPSG::2154",
    uri: None,
    well_known_scale_set: None,
    ordered_axes: ["E", "N"],
    origin: [-379_000.0, 7_470_000.0],
    z0_resolution: 6640.0,
    z0_matrix: (1, 1),
    max_zoom: 21,
    metres_per_unit: 1.0,
    // The WGS84 bounding box of the zoom 0 square (13.20° W – 12.41° E,
    // 38.29° N – 54.30° N), rounded outwards.
    wgs84_domain: [-13.3, 38.2, 12.5, 54.4],
};

static SETS: [TileMatrixSet; 3] = [WEB_MERCATOR_QUAD, WORLD_CRS84_QUAD, LAMBERT_FRANCE_93_QUAD];

/// Every tile matrix set the server offers: `WebMercatorQuad`,
/// `WorldCRS84Quad` and `LambertFrance93Quad`, in that order.
pub fn all() -> &'static [TileMatrixSet] {
    &SETS
}

/// The tile matrix set whose id is exactly `id` (case-sensitive).
pub fn get(id: &str) -> Option<&'static TileMatrixSet> {
    SETS.iter().find(|s| s.id == id)
}

impl TileMatrixSet {
    /// The identifier, e.g. `WebMercatorQuad`.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// A human-readable title.
    pub fn title(&self) -> &'static str {
        self.title
    }

    /// The EPSG code of the CRS: 3857, 4326 (for OGC CRS84, which is EPSG:4326
    /// with longitude first) or 2154.
    pub fn epsg(&self) -> u32 {
        self.epsg
    }

    /// The OGC URI of the CRS, e.g. `http://www.opengis.net/def/crs/EPSG/0/3857`,
    /// or `http://www.opengis.net/def/crs/OGC/1.3/CRS84` for `WorldCRS84Quad`.
    pub fn crs_uri(&self) -> &'static str {
        self.crs_uri
    }

    /// The most detailed zoom level; levels go from 0 to this one.
    pub fn max_zoom(&self) -> u8 {
        self.max_zoom
    }

    /// (columns, rows) of the tile matrix at zoom `z`. Not checked against
    /// [`max_zoom`](Self::max_zoom); saturates at `u64::MAX`.
    pub fn matrix_size(&self, z: u8) -> (u64, u64) {
        let factor = 1u64.checked_shl(u32::from(z)).unwrap_or(0);
        if factor == 0 {
            return (u64::MAX, u64::MAX);
        }
        (
            self.z0_matrix.0.saturating_mul(factor),
            self.z0_matrix.1.saturating_mul(factor),
        )
    }

    /// CRS units (metres, or degrees for `WorldCRS84Quad`) per pixel at zoom
    /// `z`. Not checked against [`max_zoom`](Self::max_zoom).
    pub fn resolution(&self, z: u8) -> f64 {
        // Multiplying by a power of two is exact.
        self.z0_resolution * 0.5f64.powi(i32::from(z))
    }

    /// The OGC scale denominator at zoom `z`: resolution × metres per CRS unit
    /// / 0.28 mm. Degrees count as 2π × 6378137 / 360 m.
    pub fn scale_denominator(&self, z: u8) -> f64 {
        self.resolution(z) * self.metres_per_unit / OGC_PIXEL_SIZE
    }

    /// The extent of the set, (minx, miny, maxx, maxy) in its CRS.
    pub fn extent(&self) -> [f64; 4] {
        let span = self.z0_resolution * f64::from(TILE_SIZE);
        [
            self.origin[0],
            self.origin[1] - span * self.z0_matrix.1 as f64,
            self.origin[0] + span * self.z0_matrix.0 as f64,
            self.origin[1],
        ]
    }

    /// Width and height, in CRS units, of one tile at zoom `z`.
    fn tile_span(&self, z: u8) -> f64 {
        self.resolution(z) * f64::from(TILE_SIZE)
    }

    /// Bounds (minx, miny, maxx, maxy) in the set's CRS, x = easting/longitude. Out-of-range z/x/y →
    /// RasterError::NotFound with a message like "tile 5/40/3 does not exist in WebMercatorQuad (x and y go up to 31)".
    pub fn tile_bounds(&self, z: u8, x: u64, y: u64) -> Result<[f64; 4]> {
        if z > self.max_zoom {
            return Err(RasterError::NotFound(format!(
                "tile {z}/{x}/{y} does not exist in {} (zoom levels go from 0 to {})",
                self.id, self.max_zoom
            )));
        }
        let (cols, rows) = self.matrix_size(z);
        if x >= cols || y >= rows {
            let limits = if cols == rows {
                format!("x and y go up to {}", cols - 1)
            } else {
                format!("x goes up to {} and y up to {}", cols - 1, rows - 1)
            };
            return Err(RasterError::NotFound(format!(
                "tile {z}/{x}/{y} does not exist in {} ({limits})",
                self.id
            )));
        }
        let span = self.tile_span(z);
        let (x, y) = (x as f64, y as f64);
        Ok([
            self.origin[0] + x * span,
            self.origin[1] - (y + 1.0) * span,
            self.origin[0] + (x + 1.0) * span,
            self.origin[1] - y * span,
        ])
    }

    /// Inclusive (xmin, ymin, xmax, ymax) tile indices covering CRS bounds at z, clamped to the matrix; None if outside.
    ///
    /// Bounds that merely touch a tile (share an edge with it, to a millionth
    /// of a tile) do not select it, so the bounds of a tile give back that tile
    /// alone. Also `None` for a zoom beyond [`max_zoom`](Self::max_zoom) and
    /// for bounds that are not finite or have min > max.
    pub fn tile_range(&self, z: u8, bounds: [f64; 4]) -> Option<(u64, u64, u64, u64)> {
        let [minx, miny, maxx, maxy] = bounds;
        if z > self.max_zoom || bounds.iter().any(|v| !v.is_finite()) || minx > maxx || miny > maxy
        {
            return None;
        }
        let (cols, rows) = self.matrix_size(z);
        let span = self.tile_span(z);
        // Fractional tile coordinates, snapped to whole tiles when within a
        // millionth of one so that floating-point noise does not add a tile.
        let snap = |v: f64| {
            let r = v.round();
            if (v - r).abs() < 1e-6 { r } else { v }
        };
        let fx0 = snap((minx - self.origin[0]) / span);
        let fx1 = snap((maxx - self.origin[0]) / span);
        let fy0 = snap((self.origin[1] - maxy) / span);
        let fy1 = snap((self.origin[1] - miny) / span);
        let range = |lo: f64, hi: f64, n: u64| -> Option<(u64, u64)> {
            let n = n as f64;
            // Outside the matrix, or (for bounds of non-zero size) only
            // touching its edge; a point on the edge is in the edge tile.
            let outside = hi < 0.0 || lo > n;
            let touching = lo < hi && (hi <= 0.0 || lo >= n);
            if outside || touching {
                return None;
            }
            let first = lo.floor();
            let last = (hi.ceil() - 1.0).max(first);
            let first = first.clamp(0.0, n - 1.0);
            let last = last.clamp(0.0, n - 1.0);
            Some((first as u64, last as u64))
        };
        let (xmin, xmax) = range(fx0, fx1, cols)?;
        let (ymin, ymax) = range(fy0, fy1, rows)?;
        Some((xmin, ymin, xmax, ymax))
    }

    /// The coarsest zoom whose resolution is at least as fine as `resolution` (clamped to 0..=max_zoom).
    ///
    /// `resolution` is in CRS units per pixel (degrees for `WorldCRS84Quad`).
    /// A resolution finer than the finest level, zero, negative or NaN gives
    /// [`max_zoom`](Self::max_zoom).
    pub fn zoom_for_resolution(&self, resolution: f64) -> u8 {
        if resolution.is_nan() || resolution <= 0.0 {
            return self.max_zoom;
        }
        // Tolerate rounding: a resolution within a millionth of a level is that level.
        let target = resolution * (1.0 + 1e-6);
        (0..=self.max_zoom)
            .find(|&z| self.resolution(z) <= target)
            .unwrap_or(self.max_zoom)
    }

    /// WGS84 (lon/lat) bounds → bounds in the set's CRS (edges densified, clamped to the set's extent).
    ///
    /// Bounds whose west edge is east of their east edge (crossing the
    /// antimeridian) are taken as spanning all longitudes. Latitudes are clamped
    /// to ±90° and longitudes to ±180°. The bounds are first clipped to the area
    /// where the set has tiles (±85.05° of latitude for `WebMercatorQuad`).
    ///
    /// Errors: [`RasterError::InvalidParameter`] for non-finite bounds or
    /// south > north; [`RasterError::NotFound`] when the bounds lie outside the
    /// set; [`RasterError::Internal`] if GDAL/PROJ cannot reproject.
    pub fn from_wgs84(&self, bounds: [f64; 4]) -> Result<[f64; 4]> {
        let [mut west, south, mut east, north] = bounds;
        if bounds.iter().any(|v| !v.is_finite()) || south > north {
            return Err(RasterError::param(format!(
                "invalid WGS84 bounds {bounds:?}: expected finite [west, south, east, north] \
                 with south <= north"
            )));
        }
        if west > east {
            (west, east) = (-180.0, 180.0);
        }
        let d = self.wgs84_domain;
        let clipped = [
            west.clamp(-180.0, 180.0).max(d[0]),
            south.clamp(-90.0, 90.0).max(d[1]),
            east.clamp(-180.0, 180.0).min(d[2]),
            north.clamp(-90.0, 90.0).min(d[3]),
        ];
        let outside = || {
            RasterError::NotFound(format!(
                "the WGS84 bounds {bounds:?} lie outside the tile matrix set {}",
                self.id
            ))
        };
        if clipped[0] > clipped[2] || clipped[1] > clipped[3] {
            return Err(outside());
        }
        let projected = if self.epsg == 4326 {
            clipped
        } else {
            with_transform_from_wgs84(self.epsg, |t| {
                t.transform_bounds(&clipped, DENSIFY_POINTS).map_err(|e| {
                    RasterError::Internal(format!(
                        "cannot reproject {clipped:?} to EPSG:{}: {e}",
                        self.epsg
                    ))
                })
            })?
        };
        let e = self.extent();
        let out = [
            projected[0].max(e[0]),
            projected[1].max(e[1]),
            projected[2].min(e[2]),
            projected[3].min(e[3]),
        ];
        if out[0] > out[2] || out[1] > out[3] {
            return Err(outside());
        }
        Ok(out)
    }

    /// The OGC Two Dimensional Tile Matrix Set 2.0 JSON document of this set (id, title, crs, orderedAxes, tileMatrices with id, scaleDenominator, cellSize, cornerOfOrigin, pointOfOrigin, tileWidth/Height, matrixWidth/Height), with `links` pointing at `self_url`.
    pub fn ogc_json(&self, self_url: &str) -> Value {
        let tile_matrices: Vec<Value> = (0..=self.max_zoom)
            .map(|z| {
                let (cols, rows) = self.matrix_size(z);
                json!({
                    "id": z.to_string(),
                    "scaleDenominator": self.scale_denominator(z),
                    "cellSize": self.resolution(z),
                    "cornerOfOrigin": "topLeft",
                    "pointOfOrigin": self.origin,
                    "tileWidth": TILE_SIZE,
                    "tileHeight": TILE_SIZE,
                    "matrixWidth": cols,
                    "matrixHeight": rows,
                })
            })
            .collect();
        let e = self.extent();
        let mut doc = json!({
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "crs": self.crs_uri,
            "orderedAxes": self.ordered_axes,
            "boundingBox": {
                "lowerLeft": [e[0], e[1]],
                "upperRight": [e[2], e[3]],
                "crs": self.crs_uri,
                "orderedAxes": self.ordered_axes,
            },
            "tileMatrices": tile_matrices,
            "links": [{
                "rel": "self",
                "type": "application/json",
                "title": format!("The {} tile matrix set", self.id),
                "href": self_url,
            }],
        });
        if let Some(uri) = self.uri {
            doc["uri"] = json!(uri);
        }
        if let Some((wkss, _)) = self.well_known_scale_set {
            doc["wellKnownScaleSet"] = json!(wkss);
        }
        doc
    }
}

thread_local! {
    /// Transformations from WGS84 to the sets' CRSs, by EPSG code: creating one
    /// queries the PROJ database, so each thread keeps those it has made.
    static FROM_WGS84: RefCell<Vec<(u32, CoordTransform)>> = const { RefCell::new(Vec::new()) };
}

/// A spatial reference for `epsg` with the traditional GIS axis order
/// (longitude/easting first).
fn spatial_ref(epsg: u32) -> Result<SpatialRef> {
    let mut srs = SpatialRef::from_epsg(epsg)
        .map_err(|e| RasterError::Internal(format!("cannot load EPSG:{epsg}: {e}")))?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

thread_local! {
    /// This thread's EPSG:n → WGS84 transformations.
    static TO_WGS84: RefCell<Vec<(u32, CoordTransform)>> = const { RefCell::new(Vec::new()) };
}

impl TileMatrixSet {
    /// Bounds in the set's CRS → WGS84 (lon/lat) bounds, edges densified.
    pub fn to_wgs84(&self, bounds: [f64; 4]) -> Result<[f64; 4]> {
        if self.epsg == 4326 {
            return Ok(bounds);
        }
        TO_WGS84.with(|cache| {
            let mut cache = cache.borrow_mut();
            let index = match cache.iter().position(|(code, _)| *code == self.epsg) {
                Some(i) => i,
                None => {
                    let transform =
                        CoordTransform::new(&spatial_ref(self.epsg)?, &spatial_ref(4326)?)
                            .map_err(|e| {
                                RasterError::Internal(format!(
                                    "cannot transform from EPSG:{} to EPSG:4326: {e}",
                                    self.epsg
                                ))
                            })?;
                    cache.push((self.epsg, transform));
                    cache.len() - 1
                }
            };
            cache[index]
                .1
                .transform_bounds(&bounds, DENSIFY_POINTS)
                .map_err(|e| RasterError::Internal(format!("cannot reproject {bounds:?}: {e}")))
        })
    }
}

/// Runs `f` with this thread's WGS84 → EPSG:`epsg` transformation.
fn with_transform_from_wgs84<T>(
    epsg: u32,
    f: impl FnOnce(&CoordTransform) -> Result<T>,
) -> Result<T> {
    FROM_WGS84.with(|cache| {
        let mut cache = cache.borrow_mut();
        let index = match cache.iter().position(|(code, _)| *code == epsg) {
            Some(i) => i,
            None => {
                let transform = CoordTransform::new(&spatial_ref(4326)?, &spatial_ref(epsg)?)
                    .map_err(|e| {
                        RasterError::Internal(format!(
                            "cannot transform from EPSG:4326 to EPSG:{epsg}: {e}"
                        ))
                    })?;
                cache.push((epsg, transform));
                cache.len() - 1
            }
        };
        f(&cache[index].1)
    })
}

/// TileJSON 3.0.0 for a layer.
///
/// `tile_url_template` holds `{z}`, `{x}` and `{y}`; `wgs84_bounds` is
/// (west, south, east, north). The centre is the middle of the bounds (across
/// the antimeridian when west > east) at `minzoom`. `attribution`, which may
/// hold HTML, is left out when `None`.
pub fn tilejson(
    name: &str,
    tile_url_template: &str,
    minzoom: u8,
    maxzoom: u8,
    wgs84_bounds: [f64; 4],
    attribution: Option<&str>,
) -> Value {
    let [west, south, east, north] = wgs84_bounds;
    let mut centre_lon = if west <= east {
        (west + east) / 2.0
    } else {
        (west + east + 360.0) / 2.0
    };
    if centre_lon > 180.0 {
        centre_lon -= 360.0;
    }
    let mut doc = json!({
        "tilejson": "3.0.0",
        "name": name,
        "tiles": [tile_url_template],
        "scheme": "xyz",
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": wgs84_bounds,
        "center": [centre_lon, (south + north) / 2.0, minzoom],
    });
    if let Some(attribution) = attribution {
        doc["attribution"] = json!(attribution);
    }
    doc
}

/// One layer of a WMTS capabilities document, see [`wmts_capabilities`].
#[derive(Debug, Clone, Copy)]
pub struct WmtsLayer<'a> {
    /// The layer's `ows:Identifier`, used in tile URLs.
    pub identifier: &'a str,
    /// The layer's `ows:Title`.
    pub title: &'a str,
    /// The layer's `ows:Abstract`, if any.
    pub abstract_: Option<&'a str>,
    /// (west, south, east, north) in WGS84; also gives the
    /// `TileMatrixSetLimits` of every set.
    pub wgs84_bounds: [f64; 4],
    /// MIME types of the tiles, e.g. `image/png`; `image/png` if empty.
    pub formats: &'a [&'a str],
    /// The RESTful tile URL template, with `{TileMatrixSet}`, `{TileMatrix}`,
    /// `{TileRow}` and `{TileCol}`. It may also hold `{FormatExtension}`,
    /// which is replaced in the `ResourceURL` of each format by that format's
    /// file extension (`png`, `jpg`, `webp`, `tif`, …).
    pub resource_template: &'a str,
    /// The least detailed zoom level (tile matrix) with tiles.
    pub minzoom: u8,
    /// The most detailed zoom level with tiles; clamped to each set's
    /// maximum.
    pub maxzoom: u8,
}

/// A WMTS 1.0.0 GetCapabilities document (RESTful) with one layer per entry of `layers`.
///
/// Each layer is linked to every set of `sets` that its bounds intersect at
/// some zoom in `minzoom..=maxzoom`, with `TileMatrixSetLimits` computed from
/// its bounds; a layer that no set covers is left out (WMTS requires at least
/// one link per layer). `Contents` describes each set of `sets` with all its
/// tile matrices. `capabilities_url` is the URL of this document, given as
/// `ServiceMetadataURL`. There is no `ows:OperationsMetadata`: the service is
/// RESTful only (OWS 1.1 would require at least two KVP-style operations
/// there), and clients take tile URLs from each layer's `ResourceURL`.
///
/// Clients that ignore `TileMatrixSetLimits` (GDAL 3.6 does for the zoom
/// range) may ask for tiles outside the limits; the server should answer
/// those with 404 or 204, which GDAL and QGIS take as empty tiles.
pub fn wmts_capabilities(
    service_title: &str,
    capabilities_url: &str,
    layers: &[WmtsLayer],
    sets: &[&TileMatrixSet],
) -> String {
    let mut out = String::with_capacity(4096 + 2048 * layers.len());
    let url = xml_escape(capabilities_url);
    let _ = write!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd" version="1.0.0">
  <ows:ServiceIdentification>
    <ows:Title>{title}</ows:Title>
    <ows:ServiceType>OGC WMTS</ows:ServiceType>
    <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>
  </ows:ServiceIdentification>
  <Contents>
"#,
        title = xml_escape(service_title),
    );
    for layer in layers {
        write_layer(&mut out, layer, sets);
    }
    for set in sets {
        write_tile_matrix_set(&mut out, set);
    }
    let _ = write!(
        out,
        "  </Contents>\n  <ServiceMetadataURL xlink:href=\"{url}\"/>\n</Capabilities>\n"
    );
    out
}

/// Writes one `Layer` element, or nothing if no set covers the layer.
fn write_layer(out: &mut String, layer: &WmtsLayer, sets: &[&TileMatrixSet]) {
    // (set, bounds in its CRS, limits per zoom)
    let mut links = Vec::new();
    for set in sets {
        let Ok(bounds) = set.from_wgs84(layer.wgs84_bounds) else {
            continue;
        };
        let limits: Vec<(u8, (u64, u64, u64, u64))> = (layer.minzoom
            ..=layer.maxzoom.min(set.max_zoom))
            .filter_map(|z| set.tile_range(z, bounds).map(|r| (z, r)))
            .collect();
        if !limits.is_empty() {
            links.push((*set, bounds, limits));
        }
    }
    if links.is_empty() {
        return;
    }
    let [west, south, east, north] = layer.wgs84_bounds;
    let (west, east) = if west > east {
        (-180.0, 180.0)
    } else {
        (west, east)
    };
    let _ = writeln!(out, "    <Layer>");
    let _ = writeln!(
        out,
        "      <ows:Title>{}</ows:Title>",
        xml_escape(layer.title)
    );
    if let Some(abstract_) = layer.abstract_ {
        let _ = writeln!(
            out,
            "      <ows:Abstract>{}</ows:Abstract>",
            xml_escape(abstract_)
        );
    }
    let _ = write!(
        out,
        "      <ows:WGS84BoundingBox crs=\"urn:ogc:def:crs:OGC:2:84\">\n        \
         <ows:LowerCorner>{west} {south}</ows:LowerCorner>\n        \
         <ows:UpperCorner>{east} {north}</ows:UpperCorner>\n      \
         </ows:WGS84BoundingBox>\n"
    );
    let _ = writeln!(
        out,
        "      <ows:Identifier>{}</ows:Identifier>",
        xml_escape(layer.identifier)
    );
    for (set, b, _) in &links {
        // All our CRSs have x (easting or longitude) first.
        let _ = write!(
            out,
            "      <ows:BoundingBox crs=\"{}\">\n        \
             <ows:LowerCorner>{} {}</ows:LowerCorner>\n        \
             <ows:UpperCorner>{} {}</ows:UpperCorner>\n      \
             </ows:BoundingBox>\n",
            set.crs_urn, b[0], b[1], b[2], b[3]
        );
    }
    let _ = write!(
        out,
        "      <Style isDefault=\"true\">\n        \
         <ows:Title>Default</ows:Title>\n        \
         <ows:Identifier>default</ows:Identifier>\n      \
         </Style>\n"
    );
    let default_formats = ["image/png"];
    let formats: &[&str] = if layer.formats.is_empty() {
        &default_formats
    } else {
        layer.formats
    };
    for format in formats {
        let _ = writeln!(out, "      <Format>{}</Format>", xml_escape(format));
    }
    for (set, _, limits) in &links {
        let _ = writeln!(out, "      <TileMatrixSetLink>");
        let _ = writeln!(out, "        <TileMatrixSet>{}</TileMatrixSet>", set.id);
        let _ = writeln!(out, "        <TileMatrixSetLimits>");
        for (z, (xmin, ymin, xmax, ymax)) in limits {
            let _ = write!(
                out,
                "          <TileMatrixLimits>\n            \
                 <TileMatrix>{z}</TileMatrix>\n            \
                 <MinTileRow>{ymin}</MinTileRow>\n            \
                 <MaxTileRow>{ymax}</MaxTileRow>\n            \
                 <MinTileCol>{xmin}</MinTileCol>\n            \
                 <MaxTileCol>{xmax}</MaxTileCol>\n          \
                 </TileMatrixLimits>\n"
            );
        }
        let _ = writeln!(out, "        </TileMatrixSetLimits>");
        let _ = writeln!(out, "      </TileMatrixSetLink>");
    }
    for format in formats {
        let template = layer
            .resource_template
            .replace("{FormatExtension}", format_extension(format));
        let _ = writeln!(
            out,
            "      <ResourceURL format=\"{}\" resourceType=\"tile\" template=\"{}\"/>",
            xml_escape(format),
            xml_escape(&template)
        );
    }
    let _ = writeln!(out, "    </Layer>");
}

/// Writes one `Contents/TileMatrixSet` element with all the set's matrices.
fn write_tile_matrix_set(out: &mut String, set: &TileMatrixSet) {
    let _ = writeln!(out, "    <TileMatrixSet>");
    let _ = writeln!(
        out,
        "      <ows:Title>{}</ows:Title>",
        xml_escape(set.title)
    );
    let _ = writeln!(out, "      <ows:Identifier>{}</ows:Identifier>", set.id);
    let e = set.extent();
    let _ = write!(
        out,
        "      <ows:BoundingBox crs=\"{}\">\n        \
         <ows:LowerCorner>{} {}</ows:LowerCorner>\n        \
         <ows:UpperCorner>{} {}</ows:UpperCorner>\n      \
         </ows:BoundingBox>\n",
        set.crs_urn, e[0], e[1], e[2], e[3]
    );
    let _ = writeln!(
        out,
        "      <ows:SupportedCRS>{}</ows:SupportedCRS>",
        set.crs_urn
    );
    if let Some((_, urn)) = set.well_known_scale_set {
        let _ = writeln!(out, "      <WellKnownScaleSet>{urn}</WellKnownScaleSet>");
    }
    // WMTS gives TopLeftCorner in the CRS's axis order. EPSG:3857 and
    // EPSG:2154 are easting, northing and OGC CRS84 is longitude, latitude,
    // so x comes first for all our sets (EPSG:4326 itself would be "90 -180").
    let (ox, oy) = (set.origin[0], set.origin[1]);
    for z in 0..=set.max_zoom {
        let (cols, rows) = set.matrix_size(z);
        let _ = write!(
            out,
            "      <TileMatrix>\n        \
             <ows:Identifier>{z}</ows:Identifier>\n        \
             <ScaleDenominator>{}</ScaleDenominator>\n        \
             <TopLeftCorner>{ox} {oy}</TopLeftCorner>\n        \
             <TileWidth>{TILE_SIZE}</TileWidth>\n        \
             <TileHeight>{TILE_SIZE}</TileHeight>\n        \
             <MatrixWidth>{cols}</MatrixWidth>\n        \
             <MatrixHeight>{rows}</MatrixHeight>\n      \
             </TileMatrix>\n",
            set.scale_denominator(z)
        );
    }
    let _ = writeln!(out, "    </TileMatrixSet>");
}

/// The usual file extension of a tile MIME type.
fn format_extension(format: &str) -> &str {
    let mime = format.split(';').next().unwrap_or(format).trim();
    match mime {
        "image/jpeg" | "image/jpg" => "jpg",
        "image/tiff" | "image/geotiff" => "tif",
        "application/x-protobuf" | "application/vnd.mapbox-vector-tile" => "pbf",
        _ => mime.rsplit('/').next().unwrap_or(mime),
    }
}

/// Escapes text for XML element content and attribute values.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab, LF and CR are not allowed in XML 1.0.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(a: [f64; 4], b: [f64; 4], tol: f64) {
        for i in 0..4 {
            assert!(
                (a[i] - b[i]).abs() <= tol,
                "{a:?} != {b:?} (index {i}, tolerance {tol})"
            );
        }
    }

    fn wmq() -> &'static TileMatrixSet {
        get("WebMercatorQuad").unwrap()
    }
    fn crs84() -> &'static TileMatrixSet {
        get("WorldCRS84Quad").unwrap()
    }
    fn l93() -> &'static TileMatrixSet {
        get("LambertFrance93Quad").unwrap()
    }

    #[test]
    fn registry() {
        let ids: Vec<_> = all().iter().map(|s| s.id()).collect();
        assert_eq!(
            ids,
            ["WebMercatorQuad", "WorldCRS84Quad", "LambertFrance93Quad"]
        );
        assert!(get("webmercatorquad").is_none());
        assert!(get("").is_none());
        assert_eq!(wmq().epsg(), 3857);
        assert_eq!(crs84().epsg(), 4326);
        assert_eq!(l93().epsg(), 2154);
        assert_eq!(
            wmq().crs_uri(),
            "http://www.opengis.net/def/crs/EPSG/0/3857"
        );
        assert_eq!(
            crs84().crs_uri(),
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        );
        assert_eq!(
            l93().crs_uri(),
            "http://www.opengis.net/def/crs/EPSG/0/2154"
        );
        assert_eq!(
            (wmq().max_zoom(), crs84().max_zoom(), l93().max_zoom()),
            (24, 18, 21)
        );
        assert_eq!(wmq().title(), "Google Maps Compatible for the World");
    }

    #[test]
    fn web_mercator_z0_z1() {
        let s = wmq();
        let h = 20_037_508.342_789_244;
        assert_eq!(s.matrix_size(0), (1, 1));
        assert_eq!(s.matrix_size(1), (2, 2));
        assert_eq!(s.matrix_size(24), (1 << 24, 1 << 24));
        assert_close(s.tile_bounds(0, 0, 0).unwrap(), [-h, -h, h, h], 1e-6);
        assert_close(s.tile_bounds(1, 0, 0).unwrap(), [-h, 0.0, 0.0, h], 1e-6);
        assert_close(s.tile_bounds(1, 1, 1).unwrap(), [0.0, -h, h, 0.0], 1e-6);
        assert!((s.resolution(0) - 156_543.033_928_041).abs() < 1e-6);
        assert!((s.scale_denominator(0) - 559_082_264.028_717_8).abs() < 1e-4);
        assert!((s.scale_denominator(24) - 33.323_899_747_652_87).abs() < 1e-9);
    }

    #[test]
    fn web_mercator_reference_tile() {
        assert_close(
            wmq().tile_bounds(14, 8218, 5945).unwrap(),
            [63595.607533, 5493682.096912, 66041.592438, 5496128.081817],
            1e-6,
        );
    }

    #[test]
    fn world_crs84_z0_z1() {
        let s = crs84();
        assert_eq!(s.matrix_size(0), (2, 1));
        assert_eq!(s.matrix_size(1), (4, 2));
        assert_eq!(s.tile_bounds(0, 0, 0).unwrap(), [-180.0, -90.0, 0.0, 90.0]);
        assert_eq!(s.tile_bounds(0, 1, 0).unwrap(), [0.0, -90.0, 180.0, 90.0]);
        assert_eq!(s.tile_bounds(1, 0, 0).unwrap(), [-180.0, 0.0, -90.0, 90.0]);
        assert_eq!(s.tile_bounds(1, 3, 1).unwrap(), [90.0, -90.0, 180.0, 0.0]);
        assert_eq!(s.resolution(0), 0.703125);
        assert!((s.scale_denominator(0) - 279_541_132.014_358_9).abs() < 1e-4);
        assert_eq!(s.extent(), [-180.0, -90.0, 180.0, 90.0]);
    }

    #[test]
    fn lambert_z0_z1() {
        let s = l93();
        assert_eq!(s.matrix_size(0), (1, 1));
        assert_eq!(s.matrix_size(1), (2, 2));
        assert_eq!(s.resolution(0), 6640.0);
        assert_eq!(
            s.tile_bounds(0, 0, 0).unwrap(),
            [-379_000.0, 5_770_160.0, 1_320_840.0, 7_470_000.0]
        );
        assert_eq!(
            s.tile_bounds(1, 1, 0).unwrap(),
            [470_920.0, 6_620_080.0, 1_320_840.0, 7_470_000.0]
        );
        assert_eq!(
            s.tile_bounds(1, 0, 1).unwrap(),
            [-379_000.0, 5_770_160.0, 470_920.0, 6_620_080.0]
        );
        // About 3 mm at the finest level.
        assert!((s.resolution(21) - 0.003_166).abs() < 1e-6);
        assert_eq!(s.scale_denominator(0), 6640.0 / 0.00028);
    }

    /// The hard-coded Lambert grid covers the EPSG area of use of EPSG:2154
    /// as GDAL/PROJ computes it, and its WGS84 domain covers the grid.
    #[test]
    fn lambert_covers_area_of_use() {
        let srs = spatial_ref(2154).unwrap();
        let area = srs.area_of_use().unwrap();
        let aou = [
            area.west_lon_degree,
            area.south_lat_degree,
            area.east_lon_degree,
            area.north_lat_degree,
        ];
        let projected =
            with_transform_from_wgs84(2154, |t| Ok(t.transform_bounds(&aou, 201)?)).unwrap();
        let e = l93().extent();
        assert!(
            e[0] <= projected[0] && e[1] <= projected[1],
            "{e:?} vs {projected:?}"
        );
        assert!(
            e[2] >= projected[2] && e[3] >= projected[3],
            "{e:?} vs {projected:?}"
        );
        // A square.
        assert_eq!(e[2] - e[0], e[3] - e[1]);
        // from_wgs84 of the whole area of use is its projection, unclipped.
        assert_close(l93().from_wgs84(aou).unwrap(), projected, 1.0);

        let back = CoordTransform::new(&srs, &spatial_ref(4326).unwrap())
            .unwrap()
            .transform_bounds(&e, 201)
            .unwrap();
        let d = l93().wgs84_domain;
        assert!(d[0] <= back[0] && d[1] <= back[1] && d[2] >= back[2] && d[3] >= back[3]);
        // The domain is the grid's box rounded outwards, not much more.
        assert!(back[0] - d[0] < 0.2 && d[3] - back[3] < 0.2);
    }

    #[test]
    fn lambert_native_zooms() {
        let s = l93();
        assert_eq!(s.zoom_for_resolution(0.5), 14);
        assert_eq!(s.zoom_for_resolution(10.0), 10);
        assert!(s.resolution(13) > 0.5 && s.resolution(14) <= 0.5);
        assert!(s.resolution(9) > 10.0 && s.resolution(10) <= 10.0);
    }

    #[test]
    fn out_of_range() {
        let err = wmq().tile_bounds(5, 40, 3).unwrap_err();
        assert!(matches!(err, RasterError::NotFound(_)));
        assert_eq!(
            err.to_string(),
            "tile 5/40/3 does not exist in WebMercatorQuad (x and y go up to 31)"
        );
        assert!(wmq().tile_bounds(5, 31, 31).is_ok());
        assert!(wmq().tile_bounds(5, 3, 32).is_err());
        let err = wmq().tile_bounds(25, 0, 0).unwrap_err();
        assert!(matches!(err, RasterError::NotFound(_)));
        assert_eq!(
            err.to_string(),
            "tile 25/0/0 does not exist in WebMercatorQuad (zoom levels go from 0 to 24)"
        );
        let err = crs84().tile_bounds(0, 0, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tile 0/0/1 does not exist in WorldCRS84Quad (x goes up to 1 and y up to 0)"
        );
        assert!(crs84().tile_bounds(0, 1, 0).is_ok());
        assert!(crs84().tile_bounds(19, 0, 0).is_err());
        assert!(l93().tile_bounds(22, 0, 0).is_err());
        assert!(l93().tile_bounds(21, (1 << 21) - 1, (1 << 21) - 1).is_ok());
        assert!(l93().tile_bounds(21, 1 << 21, 0).is_err());
        // Extreme zooms do not panic.
        assert_eq!(wmq().matrix_size(255), (u64::MAX, u64::MAX));
        assert!(wmq().tile_bounds(255, u64::MAX, u64::MAX).is_err());
    }

    #[test]
    fn tile_range_round_trips() {
        for set in all() {
            for z in [0, 1, 3, 7, 12, set.max_zoom()] {
                let (cols, rows) = set.matrix_size(z);
                for (x, y) in [
                    (0, 0),
                    (cols - 1, rows - 1),
                    (cols / 2, rows / 3),
                    (cols / 3, rows - 1),
                ] {
                    let b = set.tile_bounds(z, x, y).unwrap();
                    assert_eq!(
                        set.tile_range(z, b),
                        Some((x, y, x, y)),
                        "{} {z}/{x}/{y}",
                        set.id()
                    );
                    // A point inside the tile gives the tile too.
                    let c = [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0];
                    assert_eq!(
                        set.tile_range(z, [c[0], c[1], c[0], c[1]]),
                        Some((x, y, x, y))
                    );
                    // Each tile of a range's corners is in the range.
                    if x + 2 < cols && y + 2 < rows {
                        let far = set.tile_bounds(z, x + 2, y + 2).unwrap();
                        let union = [b[0], far[1], far[2], b[3]];
                        assert_eq!(set.tile_range(z, union), Some((x, y, x + 2, y + 2)));
                    }
                }
            }
        }
    }

    #[test]
    fn tile_range_clamps_and_rejects() {
        let s = wmq();
        let h = 20_037_508.342_789_244;
        assert_eq!(s.tile_range(2, [-1e9, -1e9, 1e9, 1e9]), Some((0, 0, 3, 3)));
        assert_eq!(
            s.tile_range(2, [-1e9, 0.1, -h + 1e5, 1e9]),
            Some((0, 0, 0, 1))
        );
        // Outside, or only touching the edge.
        assert_eq!(s.tile_range(2, [h + 1e5, 0.0, h + 2e5, 1.0]), None);
        assert_eq!(s.tile_range(2, [h, 0.0, h + 2e5, 1.0]), None);
        assert_eq!(s.tile_range(2, [0.0, h + 1e5, 1.0, h + 2e5]), None);
        assert_eq!(s.tile_range(2, [0.0, -h - 2e5, 1.0, -h]), None);
        assert_eq!(s.tile_range(2, [-h - 2e5, 0.0, -h, 1.0]), None);
        // A point on the edge of the extent is in the edge tile.
        assert_eq!(s.tile_range(2, [h, 1e5, h, 1e5]), Some((3, 1, 3, 1)));
        // Invalid bounds or zoom.
        assert_eq!(s.tile_range(2, [1.0, 0.0, 0.0, 1.0]), None);
        assert_eq!(s.tile_range(2, [f64::NAN, 0.0, 0.0, 1.0]), None);
        assert_eq!(s.tile_range(25, [0.0, 0.0, 1.0, 1.0]), None);
        // Whole world in CRS84.
        assert_eq!(
            crs84().tile_range(3, [-180.0, -90.0, 180.0, 90.0]),
            Some((0, 0, 15, 7))
        );
    }

    #[test]
    fn zoom_for_resolution() {
        let s = wmq();
        assert_eq!(s.zoom_for_resolution(1e9), 0);
        assert_eq!(s.zoom_for_resolution(s.resolution(0)), 0);
        assert_eq!(s.zoom_for_resolution(s.resolution(0) * 0.99), 1);
        assert_eq!(s.zoom_for_resolution(s.resolution(12)), 12);
        assert_eq!(s.zoom_for_resolution(s.resolution(12) * (1.0 + 1e-12)), 12);
        assert_eq!(s.zoom_for_resolution(s.resolution(12) * 0.999), 13);
        assert_eq!(s.zoom_for_resolution(10.0), 14); // 9.55 m/px
        assert_eq!(s.zoom_for_resolution(1e-6), 24);
        assert_eq!(s.zoom_for_resolution(0.0), 24);
        assert_eq!(s.zoom_for_resolution(f64::NAN), 24);
        assert_eq!(crs84().zoom_for_resolution(0.703125), 0);
        assert_eq!(crs84().zoom_for_resolution(0.0001), 13);
    }

    #[test]
    fn from_wgs84() {
        // Toulouse.
        let b = l93().from_wgs84([1.2, 43.45, 1.6, 43.75]).unwrap();
        assert!(b[0] > 520_000.0 && b[2] < 590_000.0, "{b:?}");
        assert!(b[1] > 6_250_000.0 && b[3] < 6_310_000.0, "{b:?}");
        assert!(b[0] < 560_000.0 && b[2] > 570_000.0, "{b:?}");

        // Web Mercator: clamped to the square.
        let h = 20_037_508.342_789_244;
        assert_close(
            wmq().from_wgs84([-180.0, -90.0, 180.0, 90.0]).unwrap(),
            [-h, -h, h, h],
            1e-3,
        );
        let paris = wmq().from_wgs84([2.35, 48.85, 2.35, 48.85]).unwrap();
        assert!((paris[0] - 261_600.803).abs() < 1e-2 && (paris[1] - 6_249_447.753).abs() < 1e-2);
        // Antimeridian: all longitudes.
        let a = wmq().from_wgs84([170.0, -20.0, -170.0, -10.0]).unwrap();
        assert!((a[0] + h).abs() < 1e-3 && (a[2] - h).abs() < 1e-3);

        // CRS84: identity.
        assert_eq!(
            crs84().from_wgs84([1.0, 2.0, 3.0, 4.0]).unwrap(),
            [1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(
            crs84().from_wgs84([-200.0, -95.0, 200.0, 95.0]).unwrap(),
            [-180.0, -90.0, 180.0, 90.0]
        );

        // Outside the Lambert set: Réunion.
        let err = l93().from_wgs84([55.2, -21.4, 55.9, -20.8]).unwrap_err();
        assert!(matches!(err, RasterError::NotFound(_)), "{err}");
        // Straddling: clipped to the set's extent.
        let world = l93().from_wgs84([-180.0, -90.0, 180.0, 90.0]).unwrap();
        assert_eq!(world, l93().extent());
        // Invalid.
        assert!(matches!(
            wmq().from_wgs84([0.0, 10.0, 1.0, 5.0]),
            Err(RasterError::InvalidParameter(_))
        ));
        assert!(matches!(
            wmq().from_wgs84([f64::NAN, 0.0, 1.0, 5.0]),
            Err(RasterError::InvalidParameter(_))
        ));
    }

    #[test]
    fn ogc_json() {
        let doc = wmq().ogc_json("https://example.org/tileMatrixSets/WebMercatorQuad");
        assert_eq!(doc["id"], "WebMercatorQuad");
        assert_eq!(doc["crs"], "http://www.opengis.net/def/crs/EPSG/0/3857");
        assert_eq!(
            doc["uri"],
            "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
        );
        assert_eq!(doc["orderedAxes"], json!(["X", "Y"]));
        let tms = doc["tileMatrices"].as_array().unwrap();
        assert_eq!(tms.len(), 25);
        assert_eq!(tms[0]["id"], "0");
        assert_eq!(tms[0]["cornerOfOrigin"], "topLeft");
        assert_eq!(tms[0]["tileWidth"], 256);
        assert_eq!(tms[0]["matrixWidth"], 1);
        assert_eq!(tms[24]["matrixHeight"], 1u64 << 24);
        let sd = tms[0]["scaleDenominator"].as_f64().unwrap();
        assert!((sd - 559_082_264.028_717_8).abs() < 1e-4);
        let origin = tms[3]["pointOfOrigin"].as_array().unwrap();
        assert!((origin[0].as_f64().unwrap() + 20_037_508.342_789_2).abs() < 1e-6);
        assert_eq!(doc["links"][0]["rel"], "self");
        assert_eq!(
            doc["links"][0]["href"],
            "https://example.org/tileMatrixSets/WebMercatorQuad"
        );

        let doc = crs84().ogc_json("x");
        assert_eq!(doc["crs"], "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
        assert_eq!(doc["orderedAxes"], json!(["Lon", "Lat"]));
        assert_eq!(doc["tileMatrices"][0]["matrixWidth"], 2);
        assert_eq!(doc["tileMatrices"][0]["matrixHeight"], 1);
        assert_eq!(
            doc["tileMatrices"][0]["pointOfOrigin"],
            json!([-180.0, 90.0])
        );
        assert_eq!(doc["tileMatrices"][0]["cellSize"], 0.703125);
        assert!(doc.get("wellKnownScaleSet").is_none());

        let doc = l93().ogc_json("x");
        assert_eq!(doc["tileMatrices"].as_array().unwrap().len(), 22);
        assert_eq!(doc["tileMatrices"][0]["cellSize"], 6640.0);
        assert!(doc.get("uri").is_none());
    }

    #[test]
    fn tilejson_fields() {
        let doc = tilejson(
            "ortho",
            "https://example.org/tiles/{z}/{x}/{y}.png",
            3,
            17,
            [1.0, 43.0, 2.0, 44.0],
            Some("© IGN"),
        );
        assert_eq!(doc["tilejson"], "3.0.0");
        assert_eq!(doc["name"], "ortho");
        assert_eq!(
            doc["tiles"],
            json!(["https://example.org/tiles/{z}/{x}/{y}.png"])
        );
        assert_eq!(doc["minzoom"], 3);
        assert_eq!(doc["maxzoom"], 17);
        assert_eq!(doc["bounds"], json!([1.0, 43.0, 2.0, 44.0]));
        assert_eq!(doc["center"], json!([1.5, 43.5, 3]));
        assert_eq!(doc["attribution"], "© IGN");
        assert_eq!(doc["scheme"], "xyz");

        let doc = tilejson("a", "t", 0, 5, [170.0, -10.0, -170.0, 10.0], None);
        assert!(doc.get("attribution").is_none());
        assert_eq!(doc["center"], json!([180.0, 0.0, 0]));
        let doc = tilejson("a", "t", 0, 5, [160.0, -10.0, -170.0, 10.0], None);
        assert_eq!(doc["center"], json!([175.0, 0.0, 0]));
    }

    /// Unescapes the five predefined XML entities, panicking on a raw `<` or
    /// `&` that does not start one of them.
    fn unescape(raw: &str) -> String {
        assert!(!raw.contains('<'), "raw < in {raw:?}");
        let mut out = String::new();
        let mut rest = raw;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            let (entity, c) = [
                ("&amp;", '&'),
                ("&lt;", '<'),
                ("&gt;", '>'),
                ("&quot;", '"'),
                ("&apos;", '\''),
            ]
            .into_iter()
            .find(|(e, _)| rest[i..].starts_with(e))
            .unwrap_or_else(|| panic!("bad entity in {raw:?}"));
            out.push(c);
            rest = &rest[i + entity.len()..];
        }
        out.push_str(rest);
        out
    }

    /// A small well-formedness check: one root element, balanced and properly
    /// nested tags, quoted attributes with distinct names, only the
    /// predefined entities. Returns the text of every element with the path of
    /// local names leading to it, and the attributes of every element.
    #[allow(clippy::type_complexity)]
    fn parse(xml: &str) -> (Vec<(String, String)>, Vec<(String, Vec<(String, String)>)>) {
        let body = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
            .expect("XML declaration");
        let local = |name: &str| name.rsplit(':').next().unwrap().to_string();
        let mut stack: Vec<String> = Vec::new();
        let mut texts = Vec::new();
        let mut elements = Vec::new();
        let mut roots = 0;
        let mut rest = body;
        while !rest.is_empty() {
            let Some(open) = rest.find('<') else {
                assert!(
                    rest.trim().is_empty() || !stack.is_empty(),
                    "text outside the root"
                );
                let text = unescape(rest).trim().to_string();
                assert!(text.is_empty(), "text after the root: {text:?}");
                break;
            };
            let text = unescape(&rest[..open]).trim().to_string();
            if !text.is_empty() {
                assert!(!stack.is_empty(), "text outside the root: {text:?}");
                texts.push((stack.join("/"), text));
            }
            let close = rest[open..].find('>').expect("unterminated tag") + open;
            let tag = &rest[open + 1..close];
            rest = &rest[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let top = stack.pop().expect("closing tag without opening one");
                assert_eq!(local(name.trim()), top, "mismatched closing tag");
                continue;
            }
            let (tag, self_closing) = match tag.strip_suffix('/') {
                Some(t) => (t, true),
                None => (tag, false),
            };
            let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
            let name = &tag[..name_end];
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, ':' | '_' | '-' | '.')),
                "bad element name {name:?}"
            );
            // Attributes: name="value" pairs.
            let mut attrs: Vec<(String, String)> = Vec::new();
            let mut a = tag[name_end..].trim_start();
            while !a.is_empty() {
                let eq = a.find('=').expect("attribute without value");
                let attr = a[..eq].trim().to_string();
                assert!(!attr.is_empty() && !attr.contains(char::is_whitespace));
                assert!(attrs.iter().all(|(n, _)| *n != attr), "duplicate {attr}");
                let after = &a[eq + 1..];
                assert!(after.starts_with('"'), "unquoted attribute {attr}");
                let end = after[1..].find('"').expect("unterminated attribute") + 1;
                attrs.push((attr, unescape(&after[1..end])));
                a = after[end + 1..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            stack.push(local(name));
            elements.push((stack.join("/"), attrs));
            if self_closing {
                stack.pop();
            }
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
        assert_eq!(roots, 1, "exactly one root element");
        (texts, elements)
    }

    #[test]
    fn xml_checker_rejects_malformed() {
        let ok = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a x=\"1&amp;2\"><b>t &lt; u</b><c/></a>\n";
        let (texts, elements) = parse(ok);
        assert_eq!(texts, [("a/b".to_string(), "t < u".to_string())]);
        assert_eq!(elements[0].1, [("x".to_string(), "1&2".to_string())]);
        for bad in [
            "<a><b></a></b>",
            "<a><b></b>",
            "<a></a><a></a>",
            "<a>x & y</a>",
            "<a x=1></a>",
            "<a x=\"1\" x=\"2\"></a>",
            "<a>&nbsp;</a>",
        ] {
            let doc = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{bad}");
            assert!(
                std::panic::catch_unwind(|| parse(&doc)).is_err(),
                "accepted {bad}"
            );
        }
    }

    fn texts_at<'a>(texts: &'a [(String, String)], path: &str) -> Vec<&'a str> {
        texts
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, t)| t.as_str())
            .collect()
    }

    #[test]
    fn wmts_document() {
        let formats = ["image/png", "image/jpeg"];
        let layers = [
            WmtsLayer {
                identifier: "toulouse",
                title: "Toulouse <ortho> & co",
                abstract_: Some("Pléiades \"0.5 m\""),
                wgs84_bounds: [1.2, 43.45, 1.6, 43.75],
                formats: &formats,
                resource_template: "https://ex.org/tiles/toulouse/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{FormatExtension}?a=1&b=2",
                minzoom: 8,
                maxzoom: 12,
            },
            WmtsLayer {
                identifier: "reunion",
                title: "Réunion",
                abstract_: None,
                wgs84_bounds: [55.2, -21.4, 55.9, -20.8],
                formats: &[],
                resource_template: "https://ex.org/r/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png",
                minzoom: 0,
                maxzoom: 30,
            },
        ];
        let sets: Vec<&TileMatrixSet> = all().iter().collect();
        let xml = wmts_capabilities(
            "Tuilerie & friends",
            "https://ex.org/wmts/1.0.0/WMTSCapabilities.xml?x=1&y=2",
            &layers,
            &sets,
        );
        assert!(xml.contains("Toulouse &lt;ortho&gt; &amp; co"));
        assert!(xml.contains("Pléiades &quot;0.5 m&quot;"));
        assert!(xml.contains("Style isDefault=\"true\""));
        assert!(xml.contains(
            "<ServiceMetadataURL xlink:href=\"https://ex.org/wmts/1.0.0/WMTSCapabilities.xml?x=1&amp;y=2\"/>"
        ));
        assert!(xml.contains(
            "<ResourceURL format=\"image/jpeg\" resourceType=\"tile\" \
             template=\"https://ex.org/tiles/toulouse/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.jpg?a=1&amp;b=2\"/>"
        ));
        let (texts, elements) = parse(&xml);
        let attrs = |path: &str| -> Vec<Vec<(&str, &str)>> {
            elements
                .iter()
                .filter(|(p, _)| p == path)
                .map(|(_, a)| a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
                .collect()
        };
        let root = &attrs("Capabilities")[0];
        assert!(root.contains(&("version", "1.0.0")));
        assert!(root.contains(&("xmlns", "http://www.opengis.net/wmts/1.0")));
        assert!(root.contains(&("xmlns:ows", "http://www.opengis.net/ows/1.1")));
        assert_eq!(
            attrs("Capabilities/Contents/Layer/Style"),
            [[("isDefault", "true")], [("isDefault", "true")]]
        );
        assert_eq!(
            attrs("Capabilities/Contents/Layer/ResourceURL"),
            [
                vec![
                    ("format", "image/png"),
                    ("resourceType", "tile"),
                    (
                        "template",
                        "https://ex.org/tiles/toulouse/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png?a=1&b=2"
                    )
                ],
                vec![
                    ("format", "image/jpeg"),
                    ("resourceType", "tile"),
                    (
                        "template",
                        "https://ex.org/tiles/toulouse/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.jpg?a=1&b=2"
                    )
                ],
                vec![
                    ("format", "image/png"),
                    ("resourceType", "tile"),
                    (
                        "template",
                        "https://ex.org/r/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png"
                    )
                ],
            ]
        );
        assert_eq!(
            texts_at(&texts, "Capabilities/Contents/Layer/Title"),
            ["Toulouse <ortho> & co", "Réunion"]
        );
        assert_eq!(
            texts_at(&texts, "Capabilities/Contents/Layer/Abstract"),
            ["Pléiades \"0.5 m\""]
        );
        assert_eq!(
            texts_at(
                &texts,
                "Capabilities/Contents/Layer/WGS84BoundingBox/LowerCorner"
            ),
            ["1.2 43.45", "55.2 -21.4"]
        );
        assert_eq!(
            texts_at(&texts, "Capabilities/ServiceIdentification/Title"),
            ["Tuilerie & friends"]
        );
        assert_eq!(
            texts_at(&texts, "Capabilities/Contents/Layer/Identifier"),
            ["toulouse", "reunion"]
        );
        assert_eq!(
            texts_at(&texts, "Capabilities/Contents/Layer/Format"),
            ["image/png", "image/jpeg", "image/png"]
        );
        // Toulouse is in the three sets, Réunion not in Lambert-93.
        assert_eq!(
            texts_at(
                &texts,
                "Capabilities/Contents/Layer/TileMatrixSetLink/TileMatrixSet"
            ),
            [
                "WebMercatorQuad",
                "WorldCRS84Quad",
                "LambertFrance93Quad",
                "WebMercatorQuad",
                "WorldCRS84Quad"
            ]
        );
        assert_eq!(
            texts_at(&texts, "Capabilities/Contents/TileMatrixSet/SupportedCRS"),
            [
                "urn:ogc:def:crs:EPSG::3857",
                "urn:ogc:def:crs:OGC:1.3:CRS84",
                "urn:ogc:def:crs:EPSG::2154"
            ]
        );
        let corners = texts_at(
            &texts,
            "Capabilities/Contents/TileMatrixSet/TileMatrix/TopLeftCorner",
        );
        assert_eq!(corners.len(), 25 + 19 + 22);
        assert_eq!(corners[0], "-20037508.342789244 20037508.342789244");
        assert_eq!(corners[25], "-180 90");
        assert_eq!(corners[44], "-379000 7470000");
        assert_eq!(
            texts_at(
                &texts,
                "Capabilities/Contents/TileMatrixSet/WellKnownScaleSet"
            ),
            ["urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible"]
        );

        // The limits are the tile ranges of the layer's bounds.
        let limit = |name: &str| {
            texts_at(
                &texts,
                &format!(
                    "Capabilities/Contents/Layer/TileMatrixSetLink/TileMatrixSetLimits/TileMatrixLimits/{name}"
                ),
            )
        };
        let (matrices, min_rows, max_rows, min_cols, max_cols) = (
            limit("TileMatrix"),
            limit("MinTileRow"),
            limit("MaxTileRow"),
            limit("MinTileCol"),
            limit("MaxTileCol"),
        );
        // Toulouse: 5 zooms in each of 3 sets; Réunion: 25 + 19 zooms.
        assert_eq!(matrices.len(), 15 + 25 + 19);
        let mut i = 0;
        for (layer, set_ids) in [
            (
                &layers[0],
                &["WebMercatorQuad", "WorldCRS84Quad", "LambertFrance93Quad"][..],
            ),
            (&layers[1], &["WebMercatorQuad", "WorldCRS84Quad"][..]),
        ] {
            for id in set_ids {
                let set = get(id).unwrap();
                let b = set.from_wgs84(layer.wgs84_bounds).unwrap();
                for z in layer.minzoom..=layer.maxzoom.min(set.max_zoom()) {
                    let (x0, y0, x1, y1) = set.tile_range(z, b).unwrap();
                    assert_eq!(matrices[i], z.to_string());
                    assert_eq!(
                        [min_cols[i], min_rows[i], max_cols[i], max_rows[i]],
                        [x0, y0, x1, y1]
                            .map(|v| v.to_string())
                            .each_ref()
                            .map(|s| s.as_str()),
                        "{} {id} z{z}",
                        layer.identifier
                    );
                    i += 1;
                }
            }
        }
        // Toulouse at z12 in WebMercatorQuad and WorldCRS84Quad: the tiles
        // morecantile gives for the same box.
        assert_eq!(
            [
                matrices[4],
                min_cols[4],
                max_cols[4],
                min_rows[4],
                max_rows[4]
            ],
            ["12", "2061", "2066", "1493", "1498"]
        );
        assert_eq!(
            [
                matrices[9],
                min_cols[9],
                max_cols[9],
                min_rows[9],
                max_rows[9]
            ],
            ["12", "4123", "4132", "1052", "1059"]
        );

        // A layer outside every set is left out; an empty document is still valid.
        let xml = wmts_capabilities("t", "u", &layers[1..], &[l93()]);
        let (texts, _) = parse(&xml);
        assert!(texts_at(&texts, "Capabilities/Contents/Layer/Identifier").is_empty());
        assert_eq!(
            texts_at(&texts, "Capabilities/Contents/TileMatrixSet/Identifier"),
            ["LambertFrance93Quad"]
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(xml_escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(format_extension("image/png"), "png");
        assert_eq!(format_extension("image/jpeg"), "jpg");
        assert_eq!(format_extension("image/tiff; application=geotiff"), "tif");
        assert_eq!(format_extension("image/webp"), "webp");
    }
}
