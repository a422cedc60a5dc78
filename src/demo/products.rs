//! Pixel arrays of each demo product, computed from the landscape on a
//! scene's grid. No I/O here: [`super::rasters`] writes what these return.

use super::geography::{Biome, world};
use super::landscape::{
    CROPS_MEDITERRANEAN, CROPS_SOUTH_WEST, Context, Cover, Fields, Surface, Tree, field,
};
use super::noise::{Rng, fbm, smoothstep, value};
use super::scenes::{Footprint, Grid, SEASONS, TROPISCO_WEEKS, srs};
use super::spectra::{BANDS, farmland_lai, lai, reflectance, snowy};
use gdal::spatial_ref::CoordTransform;

/// Pixel → world coordinates of a grid: exact world coordinates on a
/// lattice every [`WorldMap::STEP`] pixels, bilinear in between.
pub struct WorldMap {
    cols: usize,
    rows: usize,
    points: Vec<(f64, f64)>,
}

impl WorldMap {
    /// Lattice spacing (pixels).
    pub const STEP: usize = 64;

    /// The map of a grid (PROJ for projected grids).
    pub fn new(grid: &Grid) -> gdal::errors::Result<WorldMap> {
        let cols = grid.width.div_ceil(Self::STEP) + 2;
        let rows = grid.height.div_ceil(Self::STEP) + 2;
        let mut xs = Vec::with_capacity(cols * rows);
        let mut ys = Vec::with_capacity(cols * rows);
        for j in 0..rows {
            for i in 0..cols {
                xs.push(grid.x0 + (i * Self::STEP) as f64 * grid.dx);
                ys.push(grid.y0 - (j * Self::STEP) as f64 * grid.dy);
            }
        }
        if grid.epsg != 4326 {
            let to_lonlat = CoordTransform::new(&srs(grid.epsg)?, &srs(4326)?)?;
            to_lonlat.transform_coords(&mut xs, &mut ys, &mut [])?;
        }
        let points = xs
            .iter()
            .zip(&ys)
            .map(|(lon, lat)| world(*lon, *lat))
            .collect();
        Ok(WorldMap { cols, rows, points })
    }

    /// World coordinates at fractional pixel coordinates (pixel `c` spans
    /// `c` to `c + 1`).
    #[inline]
    pub fn at(&self, col: f64, row: f64) -> (f64, f64) {
        let s = Self::STEP as f64;
        let i = ((col / s).max(0.0) as usize).min(self.cols - 2);
        let j = ((row / s).max(0.0) as usize).min(self.rows - 2);
        let (tx, ty) = (col / s - i as f64, row / s - j as f64);
        let p = |i: usize, j: usize| self.points[j * self.cols + i];
        let (a, b, c, d) = (p(i, j), p(i + 1, j), p(i, j + 1), p(i + 1, j + 1));
        let top = (a.0 + (b.0 - a.0) * tx, a.1 + (b.1 - a.1) * tx);
        let bottom = (c.0 + (d.0 - c.0) * tx, c.1 + (d.1 - c.1) * tx);
        (
            top.0 + (bottom.0 - top.0) * ty,
            top.1 + (bottom.1 - top.1) * ty,
        )
    }
}

/// The landscape's smooth fields on nodes every `step` pixels, with relief
/// shading, interpolated to pixels one row at a time.
pub struct FieldGrid {
    nodes: Vec<Fields>,
    ni: usize,
    nj: usize,
    step: usize,
}

impl FieldGrid {
    /// Fields of a grid on nodes every `step` pixels, with detail down to
    /// `lod` metres (default: three node spacings).
    pub fn new(
        ctx: &Context,
        map: &WorldMap,
        grid: &Grid,
        step: usize,
        lod: Option<f64>,
        shaded: bool,
    ) -> FieldGrid {
        let step = step.max(1);
        let ni = grid.width / step + 2;
        let nj = grid.height / step + 2;
        let spacing = grid.pixel_metres() * step as f64;
        let lod = lod.unwrap_or(3.0 * spacing);
        let mut nodes = Vec::with_capacity(ni * nj);
        for j in 0..nj {
            for i in 0..ni {
                let (x, y) = map.at((i * step) as f64, (j * step) as f64);
                nodes.push(ctx.fields(x, y, lod));
            }
        }
        let mut g = FieldGrid {
            nodes,
            ni,
            nj,
            step,
        };
        if shaded {
            g.shade(grid, spacing);
        }
        g
    }

    /// Relief shading at every node from its neighbours' elevations.
    fn shade(&mut self, grid: &Grid, spacing: f64) {
        let (sx, sy) = if grid.epsg == 4326 {
            let lat = (grid.y0 - grid.dy * grid.height as f64 / 2.0).to_radians();
            let k = self.step as f64 * 111_320.0;
            (grid.dx * k * lat.cos(), grid.dy * k)
        } else {
            (spacing, spacing)
        };
        let z = |g: &FieldGrid, i: usize, j: usize| g.nodes[j * g.ni + i].get(field::ELEVATION);
        let mut shades = Vec::with_capacity(self.nodes.len());
        for j in 0..self.nj {
            for i in 0..self.ni {
                let (i0, i1) = (i.saturating_sub(1), (i + 1).min(self.ni - 1));
                let (j0, j1) = (j.saturating_sub(1), (j + 1).min(self.nj - 1));
                let dzdx = (z(self, i1, j) - z(self, i0, j)) / ((i1 - i0).max(1) as f64 * sx);
                let dzdy = (z(self, i, j0) - z(self, i, j1)) / ((j1 - j0).max(1) as f64 * sy);
                shades.push(Context::shade(dzdx, dzdy));
            }
        }
        for (n, s) in self.nodes.iter_mut().zip(shades) {
            n.0[field::SHADE] = s;
        }
    }

    /// The fields of every pixel of row `row` (`width` pixels): node rows
    /// blended once, then each pixel between two blended nodes.
    pub fn row(&self, row: usize, width: usize, out: &mut Vec<Fields>) {
        let s = self.step as f64;
        let pos = (row as f64 + 0.5) / s;
        let j = (pos as usize).min(self.nj - 2);
        let ty = pos - j as f64;
        let (upper, lower) = (
            &self.nodes[j * self.ni..(j + 1) * self.ni],
            &self.nodes[(j + 1) * self.ni..(j + 2) * self.ni],
        );
        let blended: Vec<Fields> = upper
            .iter()
            .zip(lower)
            .map(|(a, b)| Fields::lerp(a, b, ty))
            .collect();
        out.clear();
        for col in 0..width {
            let p = (col as f64 + 0.5) / s;
            let i = (p as usize).min(self.ni - 2);
            out.push(Fields::lerp(&blended[i], &blended[i + 1], p - i as f64));
        }
    }
}

/// The context of a scene: everything within reach of its footprint.
pub fn context(footprint: &Footprint) -> Context {
    let b = footprint.bbox();
    Context::new((b[0], b[1], b[2], b[3]))
}

/// Sub-pixel samples of a pixel: a pixel integrates its whole area, so
/// where the ground changes within a pixel (streets, roofs and courtyards
/// of towns) it is sampled at four points; elsewhere the four are one.
pub type Samples = [Surface; 4];

/// Built-up intensity above which pixels are sampled four times.
const SUPERSAMPLE_URBAN: f64 = 0.25;

/// The surface samples of every pixel of a grid (row-major).
pub fn surfaces(ctx: &Context, grid: &Grid, step: usize) -> gdal::errors::Result<Vec<Samples>> {
    let map = WorldMap::new(grid)?;
    let fields = FieldGrid::new(ctx, &map, grid, step, None, true);
    let px = grid.pixel_metres();
    let mut out = Vec::with_capacity(grid.width * grid.height);
    let mut row = Vec::new();
    for r in 0..grid.height {
        fields.row(r, grid.width, &mut row);
        for (c, f) in row.iter().enumerate() {
            let (c, r) = (c as f64, r as f64);
            if f.get(field::URBAN) > SUPERSAMPLE_URBAN {
                let at = |dx: f64, dy: f64| {
                    let (x, y) = map.at(c + dx, r + dy);
                    ctx.surface(f, x, y, px)
                };
                out.push([
                    at(0.25, 0.25),
                    at(0.75, 0.25),
                    at(0.25, 0.75),
                    at(0.75, 0.75),
                ]);
            } else {
                let (x, y) = map.at(c + 0.5, r + 0.5);
                out.push([ctx.surface(f, x, y, px); 4]);
            }
        }
    }
    Ok(out)
}

/// Reflectance of a pixel: the mean of its samples' (computed once when
/// they are all the same).
fn pixel_reflectance(samples: &Samples, month: u32, temperate: bool) -> [f32; BANDS] {
    if samples[1..].iter().all(|s| *s == samples[0]) {
        return reflectance(&samples[0], month, temperate);
    }
    let mut sum = [0.0f32; BANDS];
    for s in samples {
        for (a, v) in sum.iter_mut().zip(reflectance(s, month, temperate)) {
            *a += v / 4.0;
        }
    }
    sum
}

/// Reflectance ×10 000 as an unsigned 16-bit value, never the no-data 0,
/// saturating at 10 000 (sunlit snow).
#[inline]
fn dn(v: f32) -> u16 {
    // Positive after the clamp: adding a half and truncating rounds (and
    // avoids the slow libm call).
    (v.clamp(1.0, 10_000.0) + 0.5) as u16
}

/// A Sentinel-2 season: the seven bands (B02, B03, B04, B05, B06, B07,
/// B08; B05-B07 averaged to 20 m) and the true-colour image (3 × 8 bits).
pub struct Sentinel2Season {
    /// Bands in file order (10 m bands `width` × `height`, 20 m bands a
    /// quarter of that).
    pub bands: Vec<Vec<u16>>,
    /// Red, green and blue planes of the true-colour image.
    pub tci: Vec<Vec<u8>>,
}

/// True-colour 8-bit value of a reflectance ×10 000 (a gentle stretch, as
/// Sentinel-2 TCI images saturate around 0.3); never the no-data 0.
#[inline]
fn tci(v: u16) -> u8 {
    (255.0 * (v as f32 / 3000.0).clamp(0.0, 1.0).powf(1.0 / 1.3))
        .round()
        .clamp(1.0, 255.0) as u8
}

/// Averages 2 × 2 blocks of a band (`width` × `height`, both even).
fn halve(band: &[f32], width: usize, height: usize) -> Vec<u16> {
    let (w2, h2) = (width / 2, height / 2);
    let mut out = Vec::with_capacity(w2 * h2);
    for r in 0..h2 {
        for c in 0..w2 {
            let i = 2 * r * width + 2 * c;
            let sum = band[i] + band[i + 1] + band[i + width] + band[i + width + 1];
            out.push(dn(sum / 4.0));
        }
    }
    out
}

/// One Sentinel-2 season of a tile from its surfaces.
pub fn sentinel2_season(
    surfaces: &[Samples],
    grid: &Grid,
    season: usize,
    temperate: bool,
) -> Sentinel2Season {
    let month = SEASONS[season.min(SEASONS.len() - 1)].1;
    let n = grid.width * grid.height;
    let mut full: Vec<Vec<f32>> = (0..BANDS).map(|_| Vec::with_capacity(n)).collect();
    for s in surfaces {
        let r = pixel_reflectance(s, month, temperate);
        for (b, v) in full.iter_mut().zip(r) {
            b.push(v);
        }
    }
    let ten = |b: &Vec<f32>| b.iter().map(|v| dn(*v)).collect::<Vec<u16>>();
    let bands = vec![
        ten(&full[0]),
        ten(&full[1]),
        ten(&full[2]),
        halve(&full[3], grid.width, grid.height),
        halve(&full[4], grid.width, grid.height),
        halve(&full[5], grid.width, grid.height),
        ten(&full[6]),
    ];
    let tci = vec![
        bands[2].iter().map(|v| tci(*v)).collect(),
        bands[1].iter().map(|v| tci(*v)).collect(),
        bands[0].iter().map(|v| tci(*v)).collect(),
    ];
    Sentinel2Season { bands, tci }
}

/// A Pléiades or SPOT scene: panchromatic band and four multispectral
/// bands (blue, green, red, near infrared) at a quarter of the resolution.
pub struct VhrScene {
    /// Panchromatic band.
    pub pan: Vec<u16>,
    /// Multispectral bands B0 (blue), B1 (green), B2 (red), B3 (NIR).
    pub ms: Vec<Vec<u16>>,
}

/// Month shown by the Pléiades and SPOT scenes (one summer scene per place).
pub const VHR_MONTH: u32 = 7;

/// A Pléiades or SPOT scene over `grid` (the panchromatic grid).
pub fn vhr(ctx: &Context, grid: &Grid, step: usize) -> gdal::errors::Result<VhrScene> {
    let map = WorldMap::new(grid)?;
    let fields = FieldGrid::new(ctx, &map, grid, step, None, true);
    let px = grid.pixel_metres();
    let temperate = ctx.biome == Biome::Temperate;
    let (w, h) = (grid.width, grid.height);
    let (w4, h4) = (w / 4, h / 4);
    let mut pan = Vec::with_capacity(w * h);
    let mut sums = vec![[0.0f32; 4]; w4 * h4];
    let mut row = Vec::new();
    for r in 0..h {
        fields.row(r, w, &mut row);
        for (c, f) in row.iter().enumerate() {
            let (x, y) = map.at(c as f64 + 0.5, r as f64 + 0.5);
            let s = ctx.surface(f, x, y, px);
            let v = reflectance(&s, VHR_MONTH, temperate);
            let (b, g, red, nir) = (v[0], v[1], v[2], v[6]);
            pan.push(dn(0.15 * b + 0.30 * g + 0.33 * red + 0.22 * nir));
            if r / 4 < h4 && c / 4 < w4 {
                let acc = &mut sums[(r / 4) * w4 + c / 4];
                acc[0] += b;
                acc[1] += g;
                acc[2] += red;
                acc[3] += nir;
            }
        }
    }
    let ms = (0..4)
        .map(|k| sums.iter().map(|a| dn(a[k] / 16.0)).collect())
        .collect();
    Ok(VhrScene { pan, ms })
}

/// No-data value of the floating-point products.
pub const FLOAT_NODATA: f32 = -9999.0;

/// Rounds to a multiple of 1/256: exact in binary, so float planes compress.
#[inline]
fn quantise(v: f32) -> f32 {
    (v * 256.0).round() / 256.0
}

/// One month of LAI: the index, its uncertainty and quality flags.
pub struct LaiMonth {
    /// Leaf area index (m²/m²), -9999 over water.
    pub lai: Vec<f32>,
    /// Its uncertainty (m²/m²), -9999 over water.
    pub err: Vec<f32>,
    /// Quality flags: 1 land, 2 water, 4 snow, 8 gap-filled, 16 uncertain.
    pub qflag: Vec<u8>,
}

/// LAI quality flag bits.
pub mod qflag {
    /// Land pixel: LAI computed.
    pub const LAND: u8 = 1;
    /// Sea or lake: no LAI.
    pub const WATER: u8 = 2;
    /// Snow on the ground.
    pub const SNOW: u8 = 4;
    /// No clear observation this month: filled from neighbouring months.
    pub const FILLED: u8 = 8;
    /// Uncertainty above 1.
    pub const UNCERTAIN: u8 = 16;
}

/// Cloudiness (0-1) of a month and biome: more gaps in winter in Europe,
/// in the rainy season in the tropics.
fn cloudiness(month: u32, biome: Biome) -> f64 {
    let t = (month as f64 - 1.0) / 12.0 * std::f64::consts::TAU;
    match biome {
        Biome::Temperate => 0.45 + 0.3 * t.cos(),
        _ => 0.55 + 0.3 * (t - 0.9).cos(),
    }
}

/// The twelve months of LAI over a geographic grid.
pub fn lai_months(ctx: &Context, grid: &Grid) -> gdal::errors::Result<Vec<LaiMonth>> {
    let map = WorldMap::new(grid)?;
    let fields = FieldGrid::new(ctx, &map, grid, 1, Some(1.5 * grid.pixel_metres()), false);
    let n = grid.width * grid.height;
    let mut months: Vec<LaiMonth> = (0..12)
        .map(|_| LaiMonth {
            lai: Vec::with_capacity(n),
            err: Vec::with_capacity(n),
            qflag: Vec::with_capacity(n),
        })
        .collect();
    // Farmland: south-western and Mediterranean crop mixes, blended by place.
    let open: Vec<(f32, f32)> = (1..=12)
        .map(|m| {
            if ctx.biome == Biome::Temperate {
                (
                    farmland_lai(CROPS_SOUTH_WEST, m),
                    farmland_lai(CROPS_MEDITERRANEAN, m),
                )
            } else {
                let v = farmland_lai(ctx.crops(), m);
                (v, v)
            }
        })
        .collect();
    let mut row = Vec::new();
    for r in 0..grid.height {
        fields.row(r, grid.width, &mut row);
        for (c, f) in row.iter().enumerate() {
            let (x, y) = map.at(c as f64 + 0.5, r as f64 + 0.5);
            let pixel = LaiPixel::new(ctx, f, x, y);
            for (m, out) in months.iter_mut().enumerate() {
                pixel.month(ctx, m as u32 + 1, open[m], out);
            }
        }
    }
    Ok(months)
}

/// What the LAI of a pixel depends on, whatever the month.
struct LaiPixel {
    water: bool,
    med: f32,
    urban: f32,
    forest: f32,
    conifer: f32,
    scrub: f32,
    alpine: f32,
    savanna: f32,
    vigour: f32,
    surface: Surface,
    /// Two smooth patterns whose mix, turning with the months, places
    /// each month's clouds.
    clouds: (f64, f64),
}

impl LaiPixel {
    fn new(ctx: &Context, f: &Fields, x: f64, y: f64) -> LaiPixel {
        let s = |k: usize, a: f64, b: f64| smoothstep(a, b, f.get(k)) as f32;
        let elevation = f.get(field::ELEVATION);
        LaiPixel {
            water: f.get(field::COAST) < 0.0 || f.get(field::LAKE) < 0.0,
            urban: s(field::URBAN, 0.3, 0.75),
            // Fractions of a kilometre pixel: the fine detail that a
            // 1 km rendering lacks would spread the edges this much.
            forest: s(field::FOREST, -0.25, 0.25),
            conifer: s(field::CONIFER, -0.3, 0.3),
            med: f.get(field::MED) as f32,
            scrub: s(field::SCRUB, -0.2, 0.2)
                * if ctx.biome == Biome::Temperate {
                    1.0
                } else {
                    0.0
                },
            alpine: smoothstep(1700.0, 2100.0, elevation) as f32,
            savanna: s(field::SAVANNA, -0.3, 0.3),
            vigour: (f.get(field::TEXTURE) * 0.4 + 0.5 * fbm(0x1A1, x, y, 20_000.0, 3000.0)) as f32,
            clouds: (
                fbm(0xC10D, x, y, 150_000.0, 15_000.0) * 2.0,
                fbm(0xC10E, x, y, 150_000.0, 15_000.0) * 2.0,
            ),
            surface: Surface {
                cover: Cover::Alpine,
                vigour: 0.0,
                bright: (f.get(field::SOIL) * 0.5) as f32,
                fill: 1.0,
                shade: 1.0,
                elevation: elevation as f32,
            },
        }
    }

    fn month(&self, ctx: &Context, month: u32, open: (f32, f32), out: &mut LaiMonth) {
        let open = open.0 * (1.0 - self.med) + open.1 * self.med;
        if self.water {
            out.lai.push(FLOAT_NODATA);
            out.err.push(FLOAT_NODATA);
            out.qflag.push(qflag::WATER);
            return;
        }
        let v = self.vigour;
        let value = match ctx.biome {
            Biome::Tropical => {
                let forest = lai(Cover::Trees(Tree::Tropical), month, v);
                let savanna = lai(Cover::Savanna, month, v);
                let open = lai(Cover::Crop(super::landscape::Crop::Abattis), month, v);
                let wild = self.forest * forest
                    + (1.0 - self.forest) * (self.savanna * savanna + (1.0 - self.savanna) * open);
                wild * (1.0 - self.urban) + 0.3 * self.urban
            }
            _ => {
                let trees = self.conifer * lai(Cover::Trees(Tree::Conifer), month, v)
                    + (1.0 - self.conifer) * lai(Cover::Trees(Tree::Broadleaf), month, v);
                let scrub = lai(Cover::Scrub, month, v);
                let low = self.scrub * scrub + (1.0 - self.scrub) * open * (1.0 + 0.2 * v);
                let land = self.forest * trees + (1.0 - self.forest) * low;
                let high = lai(Cover::Alpine, month, v);
                let land = land * (1.0 - self.alpine) + high * self.alpine;
                land * (1.0 - self.urban) + 0.4 * self.urban
            }
        };
        let snow = snowy(&self.surface, month, ctx.biome == Biome::Temperate);
        let value = if snow { value.min(0.3) } else { value }.clamp(0.0, 7.0);
        let phase = month as f64 * 2.4;
        let pattern = self.clouds.0 * phase.cos() + self.clouds.1 * phase.sin();
        let clouds = cloudiness(month, ctx.biome) + 0.35 * pattern;
        let filled = clouds > 0.75;
        let err =
            (0.12 + 0.08 * value + if filled { 0.5 } else { 0.0 } + 0.3 * clouds.max(0.0) as f32)
                .clamp(0.0, 2.0);
        let mut flag = qflag::LAND;
        if snow {
            flag |= qflag::SNOW;
        }
        if filled {
            flag |= qflag::FILLED;
        }
        if err > 1.0 {
            flag |= qflag::UNCERTAIN;
        }
        out.lai.push(quantise(value));
        out.err.push(quantise(err));
        out.qflag.push(flag);
    }
}

/// A deforestation patch: a blob of `radius` metres around a world point,
/// cleared from `start` over `weeks` steps (weeks or years).
#[derive(Debug, Clone, Copy)]
pub struct Clearing {
    /// World x of the centre.
    pub x: f64,
    /// World y of the centre.
    pub y: f64,
    /// Radius (m).
    pub radius: f64,
    /// First step (week or year index) of the clearing.
    pub start: i32,
    /// Steps it takes to reach its full extent.
    pub steps: i32,
    /// Shape seed.
    pub salt: u64,
}

impl Clearing {
    /// The step at which a world point is cleared, if it ever is.
    fn cleared_at(&self, x: f64, y: f64) -> Option<i32> {
        let (dx, dy) = (x - self.x, y - self.y);
        let d = (dx * dx + dy * dy).sqrt();
        if d > self.radius * 1.5 {
            return None;
        }
        let k = self.radius / 1.6;
        let shape = 1.0 + 0.4 * value(self.salt, dx / k, dy / k);
        let frac = d / (self.radius * shape);
        (frac <= 1.0).then(|| self.start + ((frac * self.steps as f64).ceil() as i32 - 1).max(0))
    }
}

/// Random clearings over a footprint, crowded near rivers (gold mining)
/// and towns: `count` clearings starting at steps in `steps`.
fn clearings(
    ctx: &Context,
    footprint: &Footprint,
    salt: u64,
    count: usize,
    steps: std::ops::Range<i32>,
    radius: (f64, f64),
    growth: i32,
) -> Vec<Clearing> {
    let b = footprint.bbox();
    let mut rng = Rng(salt);
    let mut out = Vec::with_capacity(count);
    let mut tries = 0;
    while out.len() < count && tries < count * 50 {
        tries += 1;
        let (lon, lat) = (rng.range(b[0], b[2]), rng.range(b[1], b[3]));
        let (x, y) = world(lon, lat);
        let f = ctx.fields(x, y, 200.0);
        let near_river = (f.get(field::STREAM).abs() - f.get(field::STREAM_HW)) < 600.0;
        let accept = if near_river { 0.9 } else { 0.12 };
        if f.get(field::COAST) < 0.0 || f.get(field::FOREST) < 0.05 || rng.unit() > accept {
            continue;
        }
        let start = steps.start + (rng.unit() * (steps.end - steps.start) as f64) as i32;
        out.push(Clearing {
            x,
            y,
            radius: rng.range(radius.0, radius.1),
            start,
            steps: 1 + (rng.unit() * growth as f64) as i32,
            salt: rng.next_u64(),
        });
    }
    out
}

/// The first step at which a point is cleared by any clearing.
fn first_clearing(clearings: &[Clearing], x: f64, y: f64) -> Option<i32> {
    clearings.iter().filter_map(|c| c.cleared_at(x, y)).min()
}

/// One year of above-ground biomass and its standard deviation (Mg/ha).
pub struct BiomassYear {
    /// Biomass, -9999 at sea.
    pub agb: Vec<f32>,
    /// Standard deviation, -9999 at sea.
    pub sd: Vec<f32>,
}

/// The biomass maps of `years` consecutive years from `first_year`, over a
/// geographic grid: forests lose biomass where they are cleared and
/// clearings regrow slowly.
pub fn biomass_years(
    ctx: &Context,
    grid: &Grid,
    footprint: &Footprint,
    key: &str,
    first_year: i32,
    years: usize,
) -> gdal::errors::Result<Vec<BiomassYear>> {
    let map = WorldMap::new(grid)?;
    let fields = FieldGrid::new(ctx, &map, grid, 2, None, false);
    let salt = key
        .bytes()
        .fold(0xB10u64, |h, b| h.wrapping_mul(131).wrapping_add(b as u64));
    // Clearings of the years before the first map, and during them.
    let cuts = clearings(
        ctx,
        footprint,
        salt,
        70,
        (first_year - 6)..(first_year + years as i32),
        (250.0, 900.0),
        2,
    );
    let n = grid.width * grid.height;
    let mut out: Vec<BiomassYear> = (0..years)
        .map(|_| BiomassYear {
            agb: Vec::with_capacity(n),
            sd: Vec::with_capacity(n),
        })
        .collect();
    let mut row = Vec::new();
    for r in 0..grid.height {
        fields.row(r, grid.width, &mut row);
        for (c, f) in row.iter().enumerate() {
            let (x, y) = map.at(c as f64 + 0.5, r as f64 + 0.5);
            if f.get(field::COAST) < 0.0 || f.get(field::LAKE) < 0.0 {
                for y in out.iter_mut() {
                    y.agb.push(FLOAT_NODATA);
                    y.sd.push(FLOAT_NODATA);
                }
                continue;
            }
            let intact = intact_biomass(f, x, y);
            let cut = first_clearing(&cuts, x, y);
            for (k, year) in out.iter_mut().enumerate() {
                let now = first_year + k as i32;
                let agb = match cut {
                    Some(when) if when <= now => {
                        let regrowth = 9.0 * (now - when) as f64;
                        (15.0 + regrowth).min(intact)
                    }
                    _ => intact,
                };
                let sd = 8.0 + 0.12 * agb + 0.18 * agb * smoothstep(250.0, 420.0, agb);
                year.agb.push(quantise(agb.clamp(0.0, 450.0) as f32));
                year.sd.push(quantise(sd as f32));
            }
        }
    }
    Ok(out)
}

/// Biomass (Mg/ha) of an uncleared pixel: dense forest, mangroves,
/// savanna, gardens and towns mixed by their fractions.
fn intact_biomass(f: &Fields, x: f64, y: f64) -> f64 {
    let forest = smoothstep(-0.12, 0.12, f.get(field::FOREST));
    let savanna = smoothstep(-0.1, 0.1, f.get(field::SAVANNA));
    let urban = smoothstep(0.3, 0.75, f.get(field::URBAN));
    let mangrove = f.get(field::COAST) < 1500.0 && f.get(field::ELEVATION) < 12.0;
    let dense = if mangrove {
        130.0 + 30.0 * f.get(field::TEXTURE)
    } else {
        330.0 + 150.0 * fbm(0xB1, x, y, 12_000.0, 1500.0) + 25.0 * f.get(field::TEXTURE)
    };
    let open = savanna * 12.0 + (1.0 - savanna) * 55.0;
    let wild = forest * dense + (1.0 - forest) * open;
    wild * (1.0 - urban) + 5.0 * urban
}

/// TropiSCO classes.
pub mod tropisco {
    /// Outside the area or no data.
    pub const NODATA: u8 = 0;
    /// Forest.
    pub const FOREST: u8 = 1;
    /// Not forest (rivers, savanna, towns, fields).
    pub const NON_FOREST: u8 = 2;
    /// Forest lost during the week of the map.
    pub const LOSS_THIS_WEEK: u8 = 3;
    /// Forest lost before the week of the map.
    pub const EARLIER_LOSS: u8 = 4;
}

/// The weekly TropiSCO maps of a tile: forest, non-forest and losses.
pub fn tropisco_weeks(
    ctx: &Context,
    grid: &Grid,
    footprint: &Footprint,
    key: &str,
) -> gdal::errors::Result<Vec<Vec<u8>>> {
    let map = WorldMap::new(grid)?;
    let fields = FieldGrid::new(ctx, &map, grid, 3, None, false);
    let px = grid.pixel_metres();
    let salt = key
        .bytes()
        .fold(0x7A0u64, |h, b| h.wrapping_mul(131).wrapping_add(b as u64));
    let weeks = TROPISCO_WEEKS as i32;
    // Losses before the year (week < 0) and during it, a few weeks to clear.
    let cuts = clearings(ctx, footprint, salt, 90, -40..weeks, (40.0, 260.0), 3);
    // Per pixel: the base class and the week of loss (i32::MAX: never).
    let n = grid.width * grid.height;
    let mut base = Vec::with_capacity(n);
    let mut lost = Vec::with_capacity(n);
    let mut row = Vec::new();
    for r in 0..grid.height {
        fields.row(r, grid.width, &mut row);
        for (c, f) in row.iter().enumerate() {
            let (x, y) = map.at(c as f64 + 0.5, r as f64 + 0.5);
            let s = ctx.surface(f, x, y, px);
            let class = match s.cover {
                Cover::Sea => tropisco::NODATA,
                Cover::Trees(_) => tropisco::FOREST,
                _ => tropisco::NON_FOREST,
            };
            base.push(class);
            let week = if class == tropisco::FOREST {
                first_clearing(&cuts, x, y).unwrap_or(i32::MAX)
            } else {
                i32::MAX
            };
            lost.push(week);
        }
    }
    Ok((0..weeks)
        .map(|w| {
            base.iter()
                .zip(&lost)
                .map(|(b, l)| match *l {
                    l if l == w => tropisco::LOSS_THIS_WEEK,
                    l if l < w => tropisco::EARLIER_LOSS,
                    _ => *b,
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clearings_grow() {
        let c = Clearing {
            x: 0.0,
            y: 0.0,
            radius: 100.0,
            start: 10,
            steps: 3,
            salt: 1,
        };
        assert_eq!(c.cleared_at(0.0, 0.0), Some(10));
        assert!(c.cleared_at(1000.0, 0.0).is_none());
        let edge = c.cleared_at(50.0, 0.0).unwrap();
        assert!((10..=12).contains(&edge));
    }

    #[test]
    fn tci_stretch() {
        assert_eq!(tci(0), 1);
        assert_eq!(tci(3000), 255);
        assert!(tci(300) > 30 && tci(300) < 80);
    }
}
