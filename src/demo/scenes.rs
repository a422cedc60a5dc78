//! Where the demo rasters are: one scene per place and product, its pixel
//! grid in its own projection, its footprint in WGS84, its variants (seasons,
//! months, years, weeks) and its files.
//!
//! Both the items ([`super::items`]) and the rasters
//! ([`super::rasters::write_rasters`]) are built from this one layout, so the
//! catalogue describes exactly what is on disk.

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::OnceLock;

/// The products the demo generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Sentinel-2 L2A: seven reflectance bands and a true-colour image.
    Sentinel2,
    /// Pléiades: panchromatic 0.5 m and multispectral 2 m.
    Pleiades,
    /// SPOT 6-7: panchromatic 1.5 m and multispectral 6 m.
    Spot,
    /// Monthly leaf area index.
    Lai,
    /// Yearly above-ground biomass.
    Biomass,
    /// Weekly TropiSCO forest loss classes.
    Tropisco,
}

impl Kind {
    /// The STAC collection of the product.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Sentinel2 => "sentinel-2-l2a",
            Kind::Pleiades => "pleiades",
            Kind::Spot => "spot-6-7",
            Kind::Lai => "lai",
            Kind::Biomass => "biomass",
            Kind::Tropisco => "tropisco",
        }
    }

    /// The product's raster files.
    pub fn files(self) -> &'static [RasterFile] {
        match self {
            Kind::Sentinel2 => S2_FILES,
            Kind::Pleiades | Kind::Spot => VHR_FILES,
            Kind::Lai => LAI_FILES,
            Kind::Biomass => BIOMASS_FILES,
            Kind::Tropisco => TROPISCO_FILES,
        }
    }

    /// The coarsest grid factor among the product's files.
    fn coarsest(self) -> usize {
        self.files().iter().map(|f| f.factor).max().unwrap_or(1)
    }
}

/// Pixel data types of the demo rasters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// 8-bit unsigned.
    U8,
    /// 16-bit unsigned.
    U16,
    /// 32-bit float.
    F32,
}

impl DataType {
    /// The name STAC and GDAL use.
    pub fn name(self) -> &'static str {
        match self {
            DataType::U8 => "uint8",
            DataType::U16 => "uint16",
            DataType::F32 => "float32",
        }
    }
}

/// One raster file of a product.
#[derive(Debug, Clone, Copy)]
pub struct RasterFile {
    /// The item asset that points at it.
    pub asset: &'static str,
    /// File name.
    pub file: &'static str,
    /// Its pixels are this many scene pixels wide.
    pub factor: usize,
    /// Pixel type.
    pub dtype: DataType,
    /// Number of bands.
    pub bands: usize,
    /// No-data value of every band, if any.
    pub nodata: Option<f64>,
    /// Whether values are classes (nearest-neighbour overviews) rather than
    /// measurements (averaged overviews).
    pub classified: bool,
}

const fn file(
    asset: &'static str,
    file: &'static str,
    factor: usize,
    dtype: DataType,
    bands: usize,
    nodata: Option<f64>,
    classified: bool,
) -> RasterFile {
    RasterFile {
        asset,
        file,
        factor,
        dtype,
        bands,
        nodata,
        classified,
    }
}

/// Sentinel-2 files: the 10 m and 20 m bands and the true-colour image.
pub const S2_FILES: &[RasterFile] = &[
    file("B02", "B02.tif", 1, DataType::U16, 1, Some(0.0), false),
    file("B03", "B03.tif", 1, DataType::U16, 1, Some(0.0), false),
    file("B04", "B04.tif", 1, DataType::U16, 1, Some(0.0), false),
    file("B05", "B05.tif", 2, DataType::U16, 1, Some(0.0), false),
    file("B06", "B06.tif", 2, DataType::U16, 1, Some(0.0), false),
    file("B07", "B07.tif", 2, DataType::U16, 1, Some(0.0), false),
    file("B08", "B08.tif", 1, DataType::U16, 1, Some(0.0), false),
    file("visual", "TCI.tif", 1, DataType::U8, 3, Some(0.0), false),
];

/// Pléiades and SPOT files: panchromatic, and four multispectral bands at
/// four times the pixel size.
pub const VHR_FILES: &[RasterFile] = &[
    file("PAN", "PAN.tif", 1, DataType::U16, 1, Some(0.0), false),
    file("MS", "MS.tif", 4, DataType::U16, 4, Some(0.0), false),
];

/// LAI files: the index, its uncertainty and quality flags.
pub const LAI_FILES: &[RasterFile] = &[
    file("lai", "LAI.tif", 1, DataType::F32, 1, Some(-9999.0), false),
    file(
        "lai_err",
        "LAI_ERR.tif",
        1,
        DataType::F32,
        1,
        Some(-9999.0),
        false,
    ),
    file("qflag", "QFLAG.tif", 1, DataType::U8, 1, Some(0.0), true),
];

/// Biomass files: the estimate and its standard deviation.
pub const BIOMASS_FILES: &[RasterFile] = &[
    file("agb", "AGB.tif", 1, DataType::F32, 1, Some(-9999.0), false),
    file(
        "agb_sd",
        "AGB_SD.tif",
        1,
        DataType::F32,
        1,
        Some(-9999.0),
        false,
    ),
];

/// TropiSCO files: forest loss classes.
pub const TROPISCO_FILES: &[RasterFile] = &[file(
    "forest_loss",
    "FOREST_LOSS.tif",
    1,
    DataType::U8,
    1,
    Some(0.0),
    true,
)];

/// A pixel grid: north-up, in a CRS given by its EPSG code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    /// EPSG code of the CRS.
    pub epsg: u32,
    /// X of the left edge.
    pub x0: f64,
    /// Y of the top edge.
    pub y0: f64,
    /// Pixel width (CRS units).
    pub dx: f64,
    /// Pixel height (CRS units, positive).
    pub dy: f64,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

impl Grid {
    /// GDAL geotransform.
    pub fn geo_transform(&self) -> [f64; 6] {
        [self.x0, self.dx, 0.0, self.y0, 0.0, -self.dy]
    }

    /// STAC `proj:transform` (the affine coefficients, row-major).
    pub fn proj_transform(&self) -> [f64; 6] {
        [self.dx, 0.0, self.x0, 0.0, -self.dy, self.y0]
    }

    /// The same area with pixels `k` times wider.
    pub fn coarsen(&self, k: usize) -> Grid {
        Grid {
            dx: self.dx * k as f64,
            dy: self.dy * k as f64,
            width: self.width / k,
            height: self.height / k,
            ..*self
        }
    }

    /// The middle part of the grid, `scale` times as wide and high, in
    /// whole multiples of `multiple` pixels (and moved by whole multiples,
    /// so that coarser files stay aligned).
    pub fn scaled(&self, scale: f64, multiple: usize) -> Grid {
        let m = multiple.max(1);
        let shrink =
            |n: usize| (((n as f64 * scale) / m as f64).round() as usize).clamp(1, n / m) * m;
        let (width, height) = (shrink(self.width), shrink(self.height));
        let (dc, dr) = (
            (self.width - width) / 2 / m * m,
            (self.height - height) / 2 / m * m,
        );
        Grid {
            x0: self.x0 + dc as f64 * self.dx,
            y0: self.y0 - dr as f64 * self.dy,
            width,
            height,
            ..*self
        }
    }

    /// Pixel size in metres (approximate for geographic grids).
    pub fn pixel_metres(&self) -> f64 {
        if self.epsg == 4326 {
            let lat = (self.y0 - self.dy * self.height as f64 / 2.0).to_radians();
            self.dy * 111_320.0 * (self.dx / self.dy * lat.cos()).sqrt()
        } else {
            self.dx
        }
    }

    /// The four corners in CRS units: lower-left, lower-right, upper-right,
    /// upper-left.
    pub fn corners(&self) -> [(f64, f64); 4] {
        let (x1, y1) = (
            self.x0 + self.dx * self.width as f64,
            self.y0 - self.dy * self.height as f64,
        );
        [(self.x0, y1), (x1, y1), (x1, self.y0), (self.x0, self.y0)]
    }
}

/// A footprint: the lon/lat of a grid's four corners (lower-left,
/// lower-right, upper-right, upper-left).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footprint(pub [(f64, f64); 4]);

impl Footprint {
    /// (west, south, east, north).
    pub fn bbox(&self) -> [f64; 4] {
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for (x, y) in self.0 {
            b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
        }
        b
    }
}

/// One scene: a product over one place, with all its variants.
#[derive(Debug, Clone)]
pub struct Scene {
    /// The product.
    pub kind: Kind,
    /// Directory name under `rasters/<collection>/`: tile, place or region.
    pub key: String,
    /// The finest grid (factor 1).
    pub grid: Grid,
    /// The grid's footprint in WGS84.
    pub footprint: Footprint,
    /// Variant directory names (seasons, months, years, weeks); empty when
    /// the scene has a single set of files.
    pub variants: Vec<String>,
}

impl Scene {
    /// A file's grid.
    pub fn file_grid(&self, f: &RasterFile) -> Grid {
        self.grid.coarsen(f.factor)
    }

    /// The file's path relative to the demo directory.
    pub fn relative_path(&self, variant: Option<&str>, file: &str) -> std::path::PathBuf {
        let mut p = std::path::PathBuf::from("rasters")
            .join(self.kind.collection())
            .join(&self.key);
        if let Some(v) = variant {
            p.push(v);
        }
        p.join(file)
    }

    /// The grid shrunk by `scale` (1 = full size), keeping whole pixels of
    /// every file.
    pub fn scaled_grid(&self, scale: f64) -> Grid {
        if scale >= 1.0 {
            self.grid
        } else {
            self.grid.scaled(scale, self.kind.coarsest())
        }
    }
}

/// Sentinel-2 seasons: directory name and the month it shows.
///
/// Three seasons: leaf-off (November to March), green crops (April to
/// June) and harvest (July to October, leaves still on).
pub const SEASONS: &[(&str, u32)] = &[("winter", 1), ("spring", 5), ("summer", 8)];

/// The Sentinel-2 season (index into [`SEASONS`]) of a month.
pub fn season_of_month(month: u32) -> usize {
    match month {
        4..=6 => 1,
        7..=10 => 2,
        _ => 0,
    }
}

/// A Sentinel-2 MGRS tile of the demo.
#[derive(Debug, Clone, Copy)]
pub struct S2Tile {
    /// MGRS tile name.
    pub tile: &'static str,
    /// UTM zone.
    pub zone: u32,
    /// Latitude of the tile's centre (sun elevations).
    pub lat: f64,
    /// Relative orbit.
    pub orbit: u32,
    /// Centre (lon, lat) of the window we generate.
    pub window: (f64, f64),
}

const fn s2(tile: &'static str, zone: u32, lat: f64, orbit: u32, window: (f64, f64)) -> S2Tile {
    S2Tile {
        tile,
        zone,
        lat,
        orbit,
        window,
    }
}

/// Sentinel-2 MGRS tiles over France.
pub const S2_TILES: &[S2Tile] = &[
    s2("31TCJ", 31, 43.78, 51, (1.405, 43.635)), // Toulouse, north-west
    s2("31TDH", 31, 42.85, 51, (1.75, 42.66)),   // Ariège / Pyrénées
    s2("31TEJ", 31, 43.80, 8, (3.90, 43.55)),    // Montpellier's lagoons
    s2("31TFJ", 31, 43.80, 108, (5.279, 44.174)), // Mont Ventoux
    s2("31UDQ", 31, 48.65, 51, (2.352, 48.857)), // Paris
    s2("31TFL", 31, 45.60, 108, (4.86, 45.75)),  // Lyon
    s2("30TXQ", 30, 44.75, 94, (-0.55, 44.84)),  // Bordeaux
    s2("31UES", 31, 50.45, 8, (3.09, 50.60)),    // Lille
];

/// Side of the generated Sentinel-2 windows (m).
pub const S2_SIDE: f64 = 6_000.0;
/// Side of the Pléiades scenes (m).
pub const PLEIADES_SIDE: f64 = 640.0;
/// Side of the SPOT scenes (m).
pub const SPOT_SIDE: f64 = 1_920.0;

/// LAI tiles: (tile, west, south, east, north) of the generated window, in
/// degrees, at [`LAI_RES`].
pub const LAI_TILES: &[(&str, f64, f64, f64, f64)] = &[
    ("X18Y03", -1.5, 42.25, 7.5, 45.5),
    ("X17Y06", -54.5, 2.5, -51.5, 6.0),
];
/// LAI pixel size (degrees): 1/112°, about 1 km.
pub const LAI_RES: f64 = 1.0 / 112.0;

/// Biomass regions: (region, west, south, east, north) of the generated
/// window, at [`BIOMASS_RES`].
pub const BIOMASS_REGIONS: &[(&str, f64, f64, f64, f64)] = &[
    ("GUYANE", -53.0, 4.25, -52.0, 5.25),
    ("GABON", 11.0, -0.7, 12.0, 0.3),
];
/// Biomass pixel size (degrees): 1/448°, about 250 m.
pub const BIOMASS_RES: f64 = 1.0 / 448.0;
/// Biomass years.
pub const BIOMASS_YEARS: std::ops::RangeInclusive<i32> = 2019..=2023;

/// TropiSCO MGRS tiles: (tile, UTM zone, centre lon, centre lat).
pub const TROPISCO_TILES: &[(&str, u32, f64, f64)] = &[
    ("22NCL", 22, -53.45, 4.75),
    ("22NBL", 22, -54.35, 4.75),
    ("22NCK", 22, -53.45, 3.85),
    ("21NZF", 21, -55.25, 4.75),
];
/// Side of the generated TropiSCO windows (m).
pub const TROPISCO_SIDE: f64 = 12_000.0;
/// TropiSCO pixel size (m).
pub const TROPISCO_RES: f64 = 20.0;
/// TropiSCO weeks (ISO weeks of 2023).
pub const TROPISCO_WEEKS: usize = 52;

/// The CRS of a very-high-resolution scene at a place: Lambert-93 in
/// metropolitan France, the local UTM zone overseas.
pub fn vhr_epsg(lon: f64, lat: f64) -> u32 {
    if (-6.0..10.0).contains(&lon) && (41.0..52.0).contains(&lat) {
        2154
    } else {
        let zone = ((lon + 180.0) / 6.0).floor() as u32 + 1;
        if lat >= 0.0 {
            32600 + zone
        } else {
            32700 + zone
        }
    }
}

/// The whole layout: every scene of every product.
#[derive(Debug)]
pub struct Layout {
    /// The scenes.
    pub scenes: Vec<Scene>,
    /// Why some scenes fell back to approximate WGS84 grids (PROJ failed).
    pub warning: Option<String>,
}

impl Layout {
    /// A scene by product and key.
    pub fn scene(&self, kind: Kind, key: &str) -> Option<&Scene> {
        self.scenes.iter().find(|s| s.kind == kind && s.key == key)
    }
}

/// The layout, computed once per process.
pub fn layout() -> &'static Layout {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    LAYOUT.get_or_init(build_layout)
}

/// Coordinate transforms between WGS84 lon/lat and projected CRSs.
struct Projector {
    cache: HashMap<u32, (CoordTransform, CoordTransform)>,
}

impl Projector {
    fn new() -> Projector {
        Projector {
            cache: HashMap::new(),
        }
    }

    fn transforms(&mut self, epsg: u32) -> gdal::errors::Result<&(CoordTransform, CoordTransform)> {
        match self.cache.entry(epsg) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(v) => {
                let wgs84 = srs(4326)?;
                let crs = srs(epsg)?;
                Ok(v.insert((
                    CoordTransform::new(&wgs84, &crs)?,
                    CoordTransform::new(&crs, &wgs84)?,
                )))
            }
        }
    }

    /// Lon/lat to CRS coordinates.
    fn forward(&mut self, epsg: u32, lon: f64, lat: f64) -> gdal::errors::Result<(f64, f64)> {
        if epsg == 4326 {
            return Ok((lon, lat));
        }
        let (x, y) = ([lon], [lat]);
        let (mut x, mut y) = (x, y);
        self.transforms(epsg)?
            .0
            .transform_coords(&mut x, &mut y, &mut [])?;
        Ok((x[0], y[0]))
    }

    /// The lon/lat of a grid's corners.
    fn footprint(&mut self, grid: &Grid) -> gdal::errors::Result<Footprint> {
        let corners = grid.corners();
        if grid.epsg == 4326 {
            return Ok(Footprint(corners));
        }
        let mut xs: Vec<f64> = corners.iter().map(|c| c.0).collect();
        let mut ys: Vec<f64> = corners.iter().map(|c| c.1).collect();
        self.transforms(grid.epsg)?
            .1
            .transform_coords(&mut xs, &mut ys, &mut [])?;
        Ok(Footprint([
            (xs[0], ys[0]),
            (xs[1], ys[1]),
            (xs[2], ys[2]),
            (xs[3], ys[3]),
        ]))
    }
}

/// A spatial reference with lon/lat (x/y) axis order.
pub fn srs(epsg: u32) -> gdal::errors::Result<SpatialRef> {
    let mut s = SpatialRef::from_epsg(epsg)?;
    s.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(s)
}

/// A square window of `side` metres around a point, in `epsg`, snapped to
/// multiples of `snap` metres, with `res`-metre pixels.
fn projected_grid(
    p: &mut Projector,
    epsg: u32,
    centre: (f64, f64),
    side: f64,
    res: f64,
    snap: f64,
) -> gdal::errors::Result<Grid> {
    let (cx, cy) = p.forward(epsg, centre.0, centre.1)?;
    let n = (side / res).round() as usize;
    Ok(Grid {
        epsg,
        x0: ((cx - side / 2.0) / snap).round() * snap,
        y0: ((cy + side / 2.0) / snap).round() * snap,
        dx: res,
        dy: res,
        width: n,
        height: n,
    })
}

/// A geographic window (degrees) at `res` degrees per pixel.
fn geographic_grid(w: f64, s: f64, e: f64, n: f64, res: f64) -> Grid {
    Grid {
        epsg: 4326,
        x0: w,
        y0: n,
        dx: res,
        dy: res,
        width: ((e - w) / res).round() as usize,
        height: ((n - s) / res).round() as usize,
    }
}

/// The stand-in when PROJ cannot place a projected scene: a WGS84 grid
/// over the same square, with about the same pixel size.
fn fallback_grid(centre: (f64, f64), side: f64, res: f64) -> Grid {
    let n = (side / res).round() as usize;
    let dy = res / 111_320.0;
    let dx = dy / centre.1.to_radians().cos().max(0.1);
    Grid {
        epsg: 4326,
        x0: centre.0 - dx * n as f64 / 2.0,
        y0: centre.1 + dy * n as f64 / 2.0,
        dx,
        dy,
        width: n,
        height: n,
    }
}

/// Places a projected scene, falling back to WGS84 if PROJ fails.
#[allow(clippy::too_many_arguments)]
fn place(
    p: &mut Projector,
    warnings: &mut Vec<String>,
    kind: Kind,
    key: &str,
    epsg: u32,
    centre: (f64, f64),
    side: f64,
    res: f64,
    snap: f64,
    variants: Vec<String>,
) -> Scene {
    let placed = projected_grid(p, epsg, centre, side, res, snap)
        .and_then(|grid| Ok((grid, p.footprint(&grid)?)));
    let (grid, footprint) = match placed {
        Ok(ok) => ok,
        Err(e) => {
            warnings.push(format!("{} {key}: EPSG:{epsg}: {e}", kind.collection()));
            let grid = fallback_grid(centre, side, res);
            (grid, Footprint(grid.corners()))
        }
    };
    Scene {
        kind,
        key: key.to_string(),
        grid,
        footprint,
        variants,
    }
}

fn build_layout() -> Layout {
    let mut p = Projector::new();
    let mut warnings = Vec::new();
    let mut scenes = Vec::new();
    let seasons: Vec<String> = SEASONS.iter().map(|s| s.0.to_string()).collect();
    for t in S2_TILES {
        scenes.push(place(
            &mut p,
            &mut warnings,
            Kind::Sentinel2,
            t.tile,
            32600 + t.zone,
            t.window,
            S2_SIDE,
            10.0,
            60.0,
            seasons.clone(),
        ));
    }
    for t in super::geography::TOWNS {
        let epsg = vhr_epsg(t.lon, t.lat);
        let centre = (t.lon, t.lat);
        scenes.push(place(
            &mut p,
            &mut warnings,
            Kind::Pleiades,
            t.name,
            epsg,
            centre,
            PLEIADES_SIDE,
            0.5,
            2.0,
            Vec::new(),
        ));
        scenes.push(place(
            &mut p,
            &mut warnings,
            Kind::Spot,
            t.name,
            epsg,
            centre,
            SPOT_SIDE,
            1.5,
            6.0,
            Vec::new(),
        ));
    }
    let months: Vec<String> = (1..=12).map(|m| format!("2023-{m:02}")).collect();
    for (tile, w, s, e, n) in LAI_TILES {
        let grid = geographic_grid(*w, *s, *e, *n, LAI_RES);
        scenes.push(Scene {
            kind: Kind::Lai,
            key: tile.to_string(),
            grid,
            footprint: Footprint(grid.corners()),
            variants: months.clone(),
        });
    }
    let years: Vec<String> = BIOMASS_YEARS.map(|y| y.to_string()).collect();
    for (region, w, s, e, n) in BIOMASS_REGIONS {
        let grid = geographic_grid(*w, *s, *e, *n, BIOMASS_RES);
        scenes.push(Scene {
            kind: Kind::Biomass,
            key: region.to_string(),
            grid,
            footprint: Footprint(grid.corners()),
            variants: years.clone(),
        });
    }
    let weeks: Vec<String> = (1..=TROPISCO_WEEKS)
        .map(|w| format!("2023-W{w:02}"))
        .collect();
    for (tile, zone, lon, lat) in TROPISCO_TILES {
        scenes.push(place(
            &mut p,
            &mut warnings,
            Kind::Tropisco,
            tile,
            32600 + zone,
            (*lon, *lat),
            TROPISCO_SIDE,
            TROPISCO_RES,
            TROPISCO_RES,
            weeks.clone(),
        ));
    }
    Layout {
        scenes,
        warning: (!warnings.is_empty()).then(|| warnings.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_are_where_they_should_be() {
        let l = layout();
        assert!(l.warning.is_none(), "{:?}", l.warning);
        let toulouse = l.scene(Kind::Pleiades, "toulouse").unwrap();
        assert_eq!(toulouse.grid.epsg, 2154);
        assert_eq!((toulouse.grid.width, toulouse.grid.height), (1280, 1280));
        let b = toulouse.footprint.bbox();
        assert!(
            b[0] < 1.444 && b[2] > 1.444 && b[1] < 43.604 && b[3] > 43.604,
            "{b:?}"
        );
        // About 640 m wide.
        assert!(((b[2] - b[0]) * 111.32 * 43.6f64.to_radians().cos() - 0.64).abs() < 0.03);
        assert_eq!(l.scene(Kind::Pleiades, "cayenne").unwrap().grid.epsg, 32622);
        assert_eq!(
            l.scene(Kind::Spot, "saint-denis-reunion")
                .unwrap()
                .grid
                .epsg,
            32740
        );
        let s2 = l.scene(Kind::Sentinel2, "30TXQ").unwrap();
        assert_eq!(s2.grid.epsg, 32630);
        assert_eq!(s2.grid.x0 % 60.0, 0.0);
    }

    #[test]
    fn grids_scale_in_whole_coarse_pixels() {
        let g = Grid {
            epsg: 2154,
            x0: 0.0,
            y0: 0.0,
            dx: 0.5,
            dy: 0.5,
            width: 2000,
            height: 2000,
        };
        let s = g.scaled(0.3, 4);
        assert_eq!(s.width % 4, 0);
        assert_eq!(s.width, 600);
        // Centred, moved by whole coarse pixels.
        assert_eq!(s.x0, 700.0 * 0.5);
        assert_eq!(s.y0, -700.0 * 0.5);
        assert_eq!(s.coarsen(4).width, 150);
        assert_eq!(g.proj_transform(), [0.5, 0.0, 0.0, 0.0, -0.5, 0.0]);
    }
}
