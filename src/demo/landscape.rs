//! The landscape: what covers the ground at a point of the world.
//!
//! Two stages, so that fine scenes stay cheap:
//!
//! 1. [`Fields`]: smooth quantities (elevation, distance to the coast and to
//!    rivers, forest and town "pressure", soil…) computed by
//!    [`Context::fields`] on a coarse grid of nodes a few pixels apart and
//!    interpolated in between. They only hold detail down to the grid's
//!    spacing, which is all smooth shapes need.
//! 2. [`Context::surface`]: per pixel, the interpolated fields plus the sharp
//!    things that need no noise — field parcels (cellular noise), streets and
//!    buildings (a rotated block grid), vine rows, tree crowns — give a
//!    [`Surface`]: a [`Cover`] with a few parameters, which
//!    [`super::spectra`] turns into reflectances, LAI or biomass.
//!
//! Everything is a function of world coordinates ([`super::geography::world`]),
//! so every scene of a place shows the same landscape.

use super::geography::{
    Biome, COASTS, Coast, MASSIFS, Massif, Roofs, TOWNS, Town, biome, lonlat, world,
};
use super::noise::{Cell, cellular, fbm, floor, hash, hash_unit, ridged, smoothstep, value};

/// Seeds of the landscape's noise fields (fixed: the demo's world).
mod seed {
    pub const BASE: u64 = 0x1001;
    pub const HILLS: u64 = 0x1002;
    pub const RIDGES: u64 = 0x1003;
    pub const COAST_X: u64 = 0x1004;
    pub const COAST_Y: u64 = 0x1005;
    pub const STREAM: u64 = 0x1006;
    pub const STREAM_MASK: u64 = 0x1007;
    pub const FOREST: u64 = 0x1008;
    pub const CONIFER: u64 = 0x1009;
    pub const URBAN: u64 = 0x100A;
    pub const SOIL: u64 = 0x100B;
    pub const SAVANNA: u64 = 0x100C;
    pub const VILLAGE: u64 = 0x100D;
    pub const PARCEL: u64 = 0x100E;
    pub const DISTRICT: u64 = 0x100F;
    pub const BLOCK: u64 = 0x1010;
    pub const CROWN: u64 = 0x1011;
    pub const TEXTURE: u64 = 0x1012;
    pub const MEANDER: u64 = 0x1013;
    pub const LAVA: u64 = 0x1014;
}

/// Index of each quantity in [`Fields`].
pub mod field {
    /// Elevation above sea level (m).
    pub const ELEVATION: usize = 0;
    /// Signed distance to the coast (m): positive on land, negative at sea.
    pub const COAST: usize = 1;
    /// Signed distance to the nearest stream's centre line (m).
    pub const STREAM: usize = 2;
    /// Half-width of that stream (m); 0 where there are none.
    pub const STREAM_HW: usize = 3;
    /// Signed distance to the town river's centre line (m).
    pub const RIVER: usize = 4;
    /// Half-width of the town river (m); 0 where there is none.
    pub const RIVER_HW: usize = 5;
    /// Forest pressure: forest where positive.
    pub const FOREST: usize = 6;
    /// Conifer pressure: conifers where positive (in forests).
    pub const CONIFER: usize = 7;
    /// Built-up intensity, 0 (none) to 1 (dense centre).
    pub const URBAN: usize = 8;
    /// Soil brightness and moisture variation, about -1 to 1.
    pub const SOIL: usize = 9;
    /// How Mediterranean the place is, 0 to 1.
    pub const MED: usize = 10;
    /// Savanna pressure (tropics): savanna where positive.
    pub const SAVANNA: usize = 11;
    /// Illumination by the sun relative to flat ground (relief shading).
    pub const SHADE: usize = 12;
    /// Vegetation vigour texture, about -1 to 1 (a few hundred metres).
    pub const TEXTURE: usize = 13;
    /// Scrub pressure (Mediterranean garrigue) or lava (La Réunion):
    /// present where positive.
    pub const SCRUB: usize = 14;
    /// Signed distance to lakes and lagoons (m): negative in the water.
    pub const LAKE: usize = 15;
    /// Number of fields.
    pub const COUNT: usize = 16;
}

/// Smooth quantities at a point (see [`field`] for the indices).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields(pub [f64; field::COUNT]);

impl Fields {
    /// Linear interpolation (`t` in [0, 1]).
    #[inline]
    pub fn lerp(a: &Fields, b: &Fields, t: f64) -> Fields {
        let mut out = a.0;
        for (o, v) in out.iter_mut().zip(b.0.iter()) {
            *o += (v - *o) * t;
        }
        Fields(out)
    }

    /// One quantity.
    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        self.0[i]
    }
}

/// Roof materials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roof {
    /// Red clay tiles.
    Tile,
    /// Grey zinc or slate.
    Slate,
    /// Dark red brick-coloured tiles.
    Brick,
    /// Light metal sheets.
    Metal,
    /// Light concrete or gravel (flat roofs).
    Concrete,
}

/// Kinds of trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// Deciduous broadleaves (bare in winter).
    Broadleaf,
    /// Evergreen conifers.
    Conifer,
    /// Evergreen tropical rain forest.
    Tropical,
    /// Mangroves.
    Mangrove,
}

/// Crops and other managed vegetation of field parcels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crop {
    /// Winter wheat and barley: green in spring, stubble in summer.
    Wheat,
    /// Maize: green in summer.
    Maize,
    /// Sunflower: green then yellow in July.
    Sunflower,
    /// Rapeseed: yellow in April.
    Rapeseed,
    /// Sugar beet: green from June to October.
    Beet,
    /// Permanent grassland.
    Meadow,
    /// Fallow land: grass and weeds.
    Fallow,
    /// Vineyards: rows of vines over bare soil.
    Vine,
    /// Orchards: rows of trees over grass.
    Orchard,
    /// Sugar cane (La Réunion).
    Sugarcane,
    /// Slash-and-burn gardens in the tropics.
    Abattis,
}

/// Kinds of bare rock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rock {
    /// Light limestone (Mont Ventoux, Calanques).
    Limestone,
    /// Grey granite and schist.
    Granite,
    /// Dark basalt and lava.
    Basalt,
}

/// What covers the ground.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cover {
    /// The sea.
    Sea,
    /// Rivers, streams and lagoons.
    Water,
    /// Beaches.
    Sand,
    /// Streets and car parks.
    Road,
    /// Paved squares and courtyards.
    Paved,
    /// Roofs.
    Roof(Roof),
    /// Lawns and parks.
    Lawn,
    /// Trees and forests.
    Trees(Tree),
    /// Farmland.
    Crop(Crop),
    /// Mediterranean scrub (garrigue) and mountain heath.
    Scrub,
    /// Bare rock.
    Rock(Rock),
    /// Alpine grassland above the tree line.
    Alpine,
    /// Tropical grassland.
    Savanna,
    /// Freshly cleared ground.
    Soil,
}

/// The ground at a pixel: a cover and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Surface {
    /// What covers the ground.
    pub cover: Cover,
    /// Vegetation vigour or crop stage offset, about -1 to 1.
    pub vigour: f32,
    /// Brightness variation (soils, roofs), about -1 to 1.
    pub bright: f32,
    /// Fraction of the pixel that the cover's vegetation fills (vine rows,
    /// orchards, tree crowns), 0 to 1; the rest is the cover's background.
    pub fill: f32,
    /// Illumination relative to flat ground (relief and building shadows).
    pub shade: f32,
    /// Elevation (m), for snow.
    pub elevation: f32,
}

/// A coast ring in world coordinates.
struct Ring {
    points: Vec<(f64, f64)>,
    sea_inside: bool,
    lake: bool,
    area: (f64, f64, f64, f64),
}

/// A massif in world coordinates.
struct Mount {
    x: f64,
    y: f64,
    cos: f64,
    sin: f64,
    rx: f64,
    ry: f64,
    height: f64,
    rugged: f64,
}

/// A town in world coordinates.
struct Borough {
    x: f64,
    y: f64,
    radius: f64,
    river_hw: f64,
    cos: f64,
    sin: f64,
    salt: u64,
}

/// How farmland is laid out around a scene.
#[derive(Debug, Clone, Copy)]
struct Farm {
    /// Mean parcel size (m).
    size: f64,
    /// Parcel elongation (1 = round).
    stretch: f64,
    /// Parcel orientation (cos, sin).
    cos: f64,
    sin: f64,
    /// Crops and their weights.
    crops: &'static [(Crop, f64)],
    /// Hedges around parcels (bocage).
    hedges: bool,
}

/// Crops of the south-west (Toulouse, Bordeaux).
pub const CROPS_SOUTH_WEST: &[(Crop, f64)] = &[
    (Crop::Wheat, 25.0),
    (Crop::Maize, 15.0),
    (Crop::Sunflower, 20.0),
    (Crop::Rapeseed, 8.0),
    (Crop::Meadow, 17.0),
    (Crop::Fallow, 8.0),
    (Crop::Orchard, 3.0),
    (Crop::Vine, 4.0),
];
const CROPS_NORTH: &[(Crop, f64)] = &[
    (Crop::Wheat, 35.0),
    (Crop::Rapeseed, 14.0),
    (Crop::Beet, 14.0),
    (Crop::Maize, 10.0),
    (Crop::Meadow, 18.0),
    (Crop::Fallow, 9.0),
];
/// Crops of the Mediterranean south.
pub const CROPS_MEDITERRANEAN: &[(Crop, f64)] = &[
    (Crop::Vine, 45.0),
    (Crop::Orchard, 12.0),
    (Crop::Wheat, 12.0),
    (Crop::Fallow, 18.0),
    (Crop::Meadow, 6.0),
    (Crop::Sunflower, 7.0),
];
const CROPS_WEST: &[(Crop, f64)] = &[
    (Crop::Meadow, 45.0),
    (Crop::Maize, 20.0),
    (Crop::Wheat, 20.0),
    (Crop::Rapeseed, 5.0),
    (Crop::Fallow, 10.0),
];
const CROPS_EAST: &[(Crop, f64)] = &[
    (Crop::Maize, 25.0),
    (Crop::Wheat, 25.0),
    (Crop::Meadow, 27.0),
    (Crop::Rapeseed, 10.0),
    (Crop::Sunflower, 5.0),
    (Crop::Vine, 4.0),
    (Crop::Fallow, 4.0),
];
const CROPS_ISLAND: &[(Crop, f64)] = &[
    (Crop::Sugarcane, 80.0),
    (Crop::Meadow, 12.0),
    (Crop::Fallow, 8.0),
];
const CROPS_TROPICAL: &[(Crop, f64)] = &[(Crop::Abattis, 70.0), (Crop::Fallow, 30.0)];

/// Sun direction used for relief shading: azimuth (degrees clockwise from
/// north) and elevation (degrees), a mid-latitude late morning.
const SUN: (f64, f64) = (150.0, 45.0);

/// Everything near one scene, in world coordinates, prepared once.
pub struct Context {
    /// The scene's biome.
    pub biome: Biome,
    rings: Vec<Ring>,
    mounts: Vec<Mount>,
    boroughs: Vec<Borough>,
    farm: Farm,
    roofs: Roofs,
    /// Latitude of the scene centre (degrees).
    lat: f64,
}

impl Context {
    /// The context of a scene covering the lon/lat box (west, south, east, north).
    pub fn new(bbox: (f64, f64, f64, f64)) -> Context {
        let (w, s, e, n) = bbox;
        let (clon, clat) = ((w + e) / 2.0, (s + n) / 2.0);
        let rings = COASTS
            .iter()
            .filter(|c| boxes_meet(reach(c), bbox))
            .map(ring)
            .collect();
        let mounts = MASSIFS
            .iter()
            .filter(|m| {
                let r = m.radii.0.max(m.radii.1) / 111_000.0 * 1.5;
                m.lon + r / m.lat.to_radians().cos().max(0.1) >= w
                    && m.lon - r / m.lat.to_radians().cos().max(0.1) <= e
                    && m.lat + r >= s
                    && m.lat - r <= n
            })
            .map(mount)
            .collect();
        let boroughs = TOWNS
            .iter()
            .filter(|t| {
                (t.lon - clon).abs() < 1.5 + (e - w) && (t.lat - clat).abs() < 1.0 + (n - s)
            })
            .map(borough)
            .collect();
        let nearest = TOWNS
            .iter()
            .min_by(|a, b| {
                let da = (a.lon - clon).powi(2) + (a.lat - clat).powi(2);
                let db = (b.lon - clon).powi(2) + (b.lat - clat).powi(2);
                da.total_cmp(&db)
            })
            .copied();
        let biome = biome(clon, clat);
        Context {
            biome,
            rings,
            mounts,
            boroughs,
            farm: farm(biome, clon, clat, nearest),
            roofs: nearest.map(|t| t.roofs).unwrap_or(Roofs::Tiles),
            lat: clat,
        }
    }

    /// The crops of the scene's farmland and their weights.
    pub fn crops(&self) -> &'static [(Crop, f64)] {
        self.farm.crops
    }

    /// The smooth fields at world point (`x`, `y`), with detail down to
    /// wavelengths of about `lod` metres.
    pub fn fields(&self, x: f64, y: f64, lod: f64) -> Fields {
        let mut f = [0.0; field::COUNT];
        let (lon, lat) = lonlat(x, y);
        let coast = self.coast_distance(x, y, lod);
        f[field::COAST] = coast;
        let elevation = self.elevation(x, y, lod, coast);
        f[field::ELEVATION] = elevation;
        let (stream, stream_hw) = self.stream(x, y, lod);
        f[field::STREAM] = stream;
        f[field::STREAM_HW] = stream_hw;
        let (river, river_hw) = self.river(x, y, lod);
        f[field::RIVER] = river;
        f[field::RIVER_HW] = river_hw;
        f[field::LAKE] = self.lake_distance(x, y, lod);
        let urban = self.urban(x, y, lod, elevation);
        f[field::URBAN] = urban;
        let med = if self.biome == Biome::Temperate {
            smoothstep(44.9, 44.0, lat) * smoothstep(2.3, 3.4, lon)
        } else {
            0.0
        };
        f[field::MED] = med;
        f[field::FOREST] = self.forest(x, y, lod, lon, lat, elevation, coast, urban);
        f[field::CONIFER] = fbm(seed::CONIFER, x, y, 7000.0, lod.max(300.0))
            + 0.8 * landes(lon, lat)
            + 0.5 * smoothstep(900.0, 1500.0, elevation)
            - 0.15;
        f[field::SOIL] = fbm(seed::SOIL, x, y, 2500.0, lod.max(60.0)) * 2.0;
        f[field::SAVANNA] = match self.biome {
            Biome::Tropical => {
                fbm(seed::SAVANNA, x, y, 6000.0, lod.max(60.0)) - 0.25
                    + 0.35 * (1.0 - smoothstep(2000.0, 12_000.0, coast))
                    + if lon > 0.0 { 0.12 } else { 0.0 } // the Lopé savannas
            }
            _ => -1.0,
        };
        f[field::SHADE] = 1.0;
        f[field::TEXTURE] = fbm(seed::TEXTURE, x, y, 400.0, lod.max(25.0)) * 2.5;
        f[field::SCRUB] = match self.biome {
            Biome::Temperate if med > 0.3 => {
                fbm(seed::SOIL ^ 7, x, y, 3000.0, lod.max(60.0)) * 2.0 + 0.35 * med - 0.65
                    + 0.3 * smoothstep(150.0, 400.0, elevation)
            }
            Biome::Island => {
                fbm(seed::LAVA, x, y, 2500.0, lod.max(60.0)) * 2.0 - 0.5
                    + 0.4 * smoothstep(1500.0, 2300.0, elevation)
            }
            _ => -1.0,
        };
        Fields(f)
    }

    /// Relief shading from the elevations of a node and its neighbours
    /// (`dx`, `dy`: elevation differences per metre east and north).
    pub fn shade(dzdx: f64, dzdy: f64) -> f64 {
        let (az, el) = (SUN.0.to_radians(), SUN.1.to_radians());
        // Normal of the surface, and the sun vector (x east, y north, z up).
        let n = (-dzdx, -dzdy, 1.0);
        let len = (n.0 * n.0 + n.1 * n.1 + n.2 * n.2).sqrt();
        let sun = (az.sin() * el.cos(), az.cos() * el.cos(), el.sin());
        let cos_i = (n.0 * sun.0 + n.1 * sun.1 + n.2 * sun.2) / len;
        // Direct light relative to flat ground, plus sky light.
        (0.3 + 0.7 * cos_i.max(0.0) / el.sin()).clamp(0.25, 1.7)
    }

    /// Signed distance to the coast (m), positive on land, with a coastline
    /// made ragged by noise; 10 km where no coast is near.
    fn coast_distance(&self, x: f64, y: f64, lod: f64) -> f64 {
        if self.rings.iter().all(|r| r.lake) {
            return 10_000.0;
        }
        let amp = 450.0;
        let (wx, wy) = (
            x + amp * fbm(seed::COAST_X, x, y, 4000.0, lod.max(120.0)) * 2.0,
            y + amp * fbm(seed::COAST_Y, x, y, 4000.0, lod.max(120.0)) * 2.0,
        );
        let (lon, lat) = lonlat(wx, wy);
        let mut best = 10_000.0f64;
        let mut sea = false;
        for r in self.rings.iter().filter(|r| !r.lake) {
            let inside = point_in_ring(&r.points, wx, wy);
            let in_area = lon >= r.area.0 && lon <= r.area.2 && lat >= r.area.1 && lat <= r.area.3;
            if (r.sea_inside && inside) || (!r.sea_inside && in_area && !inside) {
                sea = true;
            }
            if r.sea_inside || in_area {
                best = best.min(ring_distance(&r.points, wx, wy));
            }
        }
        if sea { -best } else { best }
    }

    /// Signed distance to lakes and lagoons (m), negative inside; 10 km
    /// where none are near.
    fn lake_distance(&self, x: f64, y: f64, lod: f64) -> f64 {
        let mut best = 10_000.0f64;
        let amp = 150.0;
        let (wx, wy) = (
            x + amp * fbm(seed::COAST_Y, x, y, 2000.0, lod.max(60.0)) * 2.0,
            y + amp * fbm(seed::COAST_X, x, y, 2000.0, lod.max(60.0)) * 2.0,
        );
        for r in self.rings.iter().filter(|r| r.lake) {
            let d = ring_distance(&r.points, wx, wy);
            let d = if point_in_ring(&r.points, wx, wy) {
                -d
            } else {
                d
            };
            if d < best {
                best = d;
            }
        }
        best
    }

    /// Elevation (m).
    fn elevation(&self, x: f64, y: f64, lod: f64, coast: f64) -> f64 {
        let (base, hills) = match self.biome {
            Biome::Temperate => (
                160.0 + 130.0 * fbm(seed::BASE, x, y, 40_000.0, lod.max(2500.0)) * 2.0,
                45.0,
            ),
            Biome::Tropical => (
                70.0 + 60.0 * fbm(seed::BASE, x, y, 30_000.0, lod) * 2.0,
                45.0,
            ),
            Biome::Island => (40.0, 40.0),
        };
        let mut h = base + hills * fbm(seed::HILLS, x, y, 3000.0, lod.max(60.0)) * 2.0;
        let mut ridges = None;
        for m in &self.mounts {
            let (dx, dy) = (x - m.x, y - m.y);
            let (u, v) = (m.cos * dx + m.sin * dy, -m.sin * dx + m.cos * dy);
            let r2 = (u / m.rx).powi(2) + (v / m.ry).powi(2);
            if r2 >= 1.0 {
                continue;
            }
            let bump = (1.0 - r2).powi(3);
            let carve =
                *ridges.get_or_insert_with(|| ridged(seed::RIDGES, x, y, 6000.0, lod.max(60.0)));
            h += m.height * bump * (1.0 - m.rugged + m.rugged * 1.8 * carve);
        }
        if coast < 0.0 {
            -5.0 + coast.max(-2000.0) * 0.02
        } else {
            h.max(0.0) * smoothstep(0.0, 3000.0, coast).sqrt().max(0.02)
        }
    }

    /// Streams: signed distance to the nearest centre line (m) and half-width.
    fn stream(&self, x: f64, y: f64, lod: f64) -> (f64, f64) {
        let (wavelength, finest, width): (f64, f64, f64) = match self.biome {
            Biome::Temperate => (8000.0, 500.0, 9.0),
            Biome::Tropical => (6000.0, 400.0, 22.0),
            Biome::Island => (3000.0, 300.0, 8.0),
        };
        let finest = finest.max(lod);
        let s = fbm(seed::STREAM, x, y, wavelength, finest);
        // The field's gradient turns its value into a distance.
        let e = 25.0;
        let gx = (fbm(seed::STREAM, x + e, y, wavelength, finest) - s) / e;
        let gy = (fbm(seed::STREAM, x, y + e, wavelength, finest) - s) / e;
        let g = (gx * gx + gy * gy).sqrt().max(1e-7);
        let distance = (s / g).clamp(-2000.0, 2000.0);
        let mask = fbm(seed::STREAM_MASK, x, y, 30_000.0, lod.max(1000.0));
        let hw = width * smoothstep(-0.05, 0.2, mask) * (0.6 + 0.8 * smoothstep(-0.3, 0.3, mask));
        (distance, hw)
    }

    /// The town river: signed distance to its centre line (m) and half-width.
    fn river(&self, x: f64, y: f64, lod: f64) -> (f64, f64) {
        let mut best: (f64, f64) = (5000.0, 0.0);
        for b in &self.boroughs {
            if b.river_hw <= 0.0 {
                continue;
            }
            let (dx, dy) = (x - b.x, y - b.y);
            let (u, v) = (b.cos * dx + b.sin * dy, -b.sin * dx + b.cos * dy);
            let phase = (b.salt % 1000) as f64 / 159.0;
            let (l1, a1, l2, a2) = (5200.0, 700.0, 1700.0, 160.0);
            let tau = std::f64::consts::TAU;
            let centre = a1 * ((tau * u / l1 + phase).sin() - phase.sin())
                + a2 * ((tau * u / l2 + 2.0 * phase).sin() - (2.0 * phase).sin())
                + 120.0 * fbm(seed::MEANDER ^ b.salt, u, 0.0, 3000.0, lod.max(100.0));
            let slope = a1 * tau / l1 * (tau * u / l1 + phase).cos()
                + a2 * tau / l2 * (tau * u / l2 + 2.0 * phase).cos();
            // The town centre stands on the bank, not in the water.
            let offset = b.river_hw + 250.0;
            let d = (v - centre - offset) / (1.0 + slope * slope).sqrt();
            let hw = b.river_hw * (1.0 - smoothstep(20_000.0, 30_000.0, u.abs()));
            if d.abs() - hw < best.0.abs() - best.1 {
                best = (d, hw);
            }
        }
        best
    }

    /// Built-up intensity: towns fading out at their edge, and villages.
    fn urban(&self, x: f64, y: f64, lod: f64, elevation: f64) -> f64 {
        let mut u: f64 = 0.0;
        for b in &self.boroughs {
            if b.radius <= 0.0 {
                continue;
            }
            let d = ((x - b.x).powi(2) + (y - b.y).powi(2)).sqrt();
            if d > b.radius * 1.6 {
                continue;
            }
            let r = b.radius * (1.0 + 0.9 * fbm(seed::URBAN, x, y, 4000.0, lod.max(120.0)));
            u = u.max(1.0 - smoothstep(0.15, 1.1, d / r));
        }
        if self.biome != Biome::Tropical {
            // Villages keep to the valleys.
            u = u.max(self.village(x, y, lod) * (1.0 - smoothstep(700.0, 1100.0, elevation)));
        }
        u
    }

    /// Villages on a jittered grid of 3.5 km cells.
    fn village(&self, x: f64, y: f64, lod: f64) -> f64 {
        let cell = 3500.0;
        let (cx, cy) = (floor(x / cell), floor(y / cell));
        let mut u: f64 = 0.0;
        for dy in -1..=1 {
            for dx in -1..=1 {
                let h = hash(seed::VILLAGE, cx + dx, cy + dy);
                if (h >> 56) as f64 / 256.0 > 0.55 {
                    continue;
                }
                let vx = ((cx + dx) as f64 + 0.15 + 0.7 * ((h & 0xFFFF) as f64 / 65536.0)) * cell;
                let vy = ((cy + dy) as f64 + 0.15 + 0.7 * (((h >> 16) & 0xFFFF) as f64 / 65536.0))
                    * cell;
                let radius = 220.0 + 300.0 * (((h >> 32) & 0xFF) as f64 / 256.0);
                let d = ((x - vx).powi(2) + (y - vy).powi(2)).sqrt();
                if d > radius * 2.0 {
                    continue;
                }
                let r = radius * (1.0 + 0.9 * fbm(seed::URBAN, x, y, 700.0, lod.max(50.0)));
                u = u.max(0.62 * (1.0 - smoothstep(0.4, 1.1, d / r)));
            }
        }
        u
    }

    /// Forest pressure: positive where trees grow.
    #[allow(clippy::too_many_arguments)]
    fn forest(
        &self,
        x: f64,
        y: f64,
        lod: f64,
        lon: f64,
        lat: f64,
        elevation: f64,
        coast: f64,
        urban: f64,
    ) -> f64 {
        let noise = fbm(seed::FOREST, x, y, 9000.0, lod.max(40.0)) * 2.0;
        let mountain = smoothstep(300.0, 800.0, elevation);
        match self.biome {
            Biome::Temperate => {
                let landes = 0.7 * landes(lon, lat);
                let north = 0.12 * smoothstep(47.5, 49.0, lat);
                let region = 0.35 * fbm(seed::FOREST ^ 1, x, y, 90_000.0, lod.max(5000.0)) * 2.0;
                noise + region - 0.28 + 0.45 * mountain + landes
                    - north
                    - 1.2 * urban
                    - 0.5 * (1.0 - smoothstep(200.0, 1200.0, coast))
            }
            Biome::Tropical => {
                noise + 0.75 - 1.8 * urban - 0.4 * (1.0 - smoothstep(300.0, 3000.0, coast))
            }
            Biome::Island => noise - 0.35 + 0.9 * smoothstep(500.0, 900.0, elevation) - 1.2 * urban,
        }
    }

    /// The ground at world point (`x`, `y`) seen by a pixel of `px` metres,
    /// given the interpolated fields there.
    pub fn surface(&self, f: &Fields, x: f64, y: f64, px: f64) -> Surface {
        let elevation = f.get(field::ELEVATION);
        let mut s = Surface {
            cover: Cover::Sea,
            vigour: 0.0,
            bright: 0.0,
            fill: 1.0,
            shade: f.get(field::SHADE) as f32,
            elevation: elevation as f32,
        };
        let coast = f.get(field::COAST);
        if coast < 0.0 {
            s.shade = 1.0;
            return s;
        }
        // Beaches: sandy in the temperate south, dark on the island.
        let beach = match self.biome {
            Biome::Temperate => 35.0 + 25.0 * f.get(field::MED),
            Biome::Island => 25.0,
            Biome::Tropical => 0.0,
        };
        if coast < beach && elevation < 15.0 {
            s.cover = if self.biome == Biome::Island {
                Cover::Rock(Rock::Basalt)
            } else {
                Cover::Sand
            };
            s.bright = (f.get(field::SOIL) * 0.3) as f32;
            return s;
        }
        // Rivers and streams, with trees along their banks.
        let river = f.get(field::RIVER).abs() - f.get(field::RIVER_HW);
        let stream = f.get(field::STREAM).abs() - f.get(field::STREAM_HW);
        let urban = f.get(field::URBAN);
        let lake = f.get(field::LAKE) < 0.0;
        if lake
            || (f.get(field::RIVER_HW) > 0.0 && river < 0.0)
            || (f.get(field::STREAM_HW) > 0.0 && stream < 0.0 && urban < 0.45)
        {
            s.cover = Cover::Water;
            s.shade = 1.0;
            // Lagoons are shallow and green-brown, rivers muddy.
            s.bright = if lake {
                0.9
            } else {
                (f.get(field::SOIL) * 0.5) as f32
            };
            return s;
        }
        if urban > 0.33 {
            return self.town(s, f, x, y, px, urban);
        }
        let bank = (f.get(field::STREAM_HW) > 0.0 && stream < 12.0 + f.get(field::STREAM_HW))
            || (f.get(field::RIVER_HW) > 0.0 && river < 25.0);
        if let Some(high) = self.mountain_top(f, x, y, elevation) {
            s.cover = high;
            s.bright = (f.get(field::SOIL) * 0.4) as f32;
            if px < 4.0 {
                // Stones and boulders.
                s.bright += (0.35 * value(seed::CROWN ^ 9, x / 2.5, y / 2.5)) as f32;
            }
            s.vigour = (f.get(field::SOIL) * 0.5) as f32;
            return s;
        }
        let forest = f.get(field::FOREST);
        let edge = if forest.abs() < 0.04 && px < 4.0 {
            0.03 * value(seed::CROWN, x / 5.0, y / 5.0)
        } else {
            0.0
        };
        if forest + edge > 0.0 || bank {
            return self.woods(s, f, x, y, px);
        }
        if f.get(field::SAVANNA) > 0.0 {
            s.cover = Cover::Savanna;
            s.vigour = f.get(field::TEXTURE) as f32;
            s.bright = (f.get(field::SOIL) * 0.5) as f32;
            return s;
        }
        let scrub = f.get(field::SCRUB);
        if self.biome == Biome::Temperate && scrub > 0.0 {
            // Garrigue on the Mediterranean hills.
            s.cover = Cover::Scrub;
            s.fill = (0.35 + 0.3 * smoothstep(0.0, 0.4, scrub)) as f32;
            s.bright = (f.get(field::SOIL) * 0.4) as f32;
            return s;
        }
        self.farmland(s, f, x, y, px)
    }

    /// Rock, alpine grass or lava on the heights; None below.
    fn mountain_top(&self, f: &Fields, x: f64, y: f64, elevation: f64) -> Option<Cover> {
        if elevation < 1100.0 {
            return None;
        }
        let jitter = 150.0 * value(seed::TEXTURE ^ 3, x / 300.0, y / 300.0);
        let h = elevation + jitter;
        match self.biome {
            Biome::Temperate => {
                // Mont Ventoux's bald limestone top comes lower than elsewhere.
                let limestone = self.lat < 44.5 && self.lat > 43.0;
                let treeline = if limestone { 1550.0 } else { 1900.0 };
                if h > treeline + 500.0 || (limestone && h > treeline) {
                    Some(Cover::Rock(if limestone {
                        Rock::Limestone
                    } else {
                        Rock::Granite
                    }))
                } else if h > treeline {
                    Some(Cover::Alpine)
                } else {
                    None
                }
            }
            Biome::Island => {
                if h > 2400.0 || (f.get(field::SCRUB) > 0.0 && f.get(field::FOREST) < 0.3) {
                    Some(Cover::Rock(Rock::Basalt))
                } else if h > 1900.0 {
                    Some(Cover::Scrub)
                } else {
                    None
                }
            }
            Biome::Tropical => None,
        }
    }

    /// Forest pixels: tree crowns when pixels are small enough to see them.
    fn woods(&self, mut s: Surface, f: &Fields, x: f64, y: f64, px: f64) -> Surface {
        let tree = match self.biome {
            Biome::Tropical if f.get(field::COAST) < 1500.0 && f.get(field::ELEVATION) < 12.0 => {
                Tree::Mangrove
            }
            Biome::Tropical => Tree::Tropical,
            _ if f.get(field::CONIFER) > 0.0 => Tree::Conifer,
            _ => Tree::Broadleaf,
        };
        s.cover = Cover::Trees(tree);
        s.vigour = (f.get(field::TEXTURE) * 0.8) as f32;
        let crown = match tree {
            Tree::Tropical => 11.0,
            Tree::Mangrove => 6.0,
            Tree::Conifer => 4.5,
            Tree::Broadleaf => 7.0,
        };
        if px * 2.0 < crown {
            // Crowns bright in their middle, shadowed between them.
            let c = cellular(seed::CROWN, x / crown, y / crown);
            let light = 1.0 - smoothstep(0.25, 0.75, c.f1);
            s.shade *= (0.45 + 0.75 * light) as f32;
            s.vigour += (c.unit(1) - 0.5) as f32;
        } else {
            let t = value(seed::CROWN, x / (3.0 * px), y / (3.0 * px));
            s.shade *= (1.0 + 0.06 * t) as f32;
        }
        s
    }

    /// Farmland: parcels of crops, with hedges or grass margins.
    fn farmland(&self, mut s: Surface, f: &Fields, x: f64, y: f64, px: f64) -> Surface {
        let farm = &self.farm;
        let (u, v) = (farm.cos * x + farm.sin * y, -farm.sin * x + farm.cos * y);
        let (su, sv) = (farm.size * farm.stretch, farm.size / farm.stretch);
        let cell = cellular(seed::PARCEL, u / su, v / sv);
        let border = cell.border() * farm.size;
        s.bright = (f.get(field::SOIL) * 0.6 + (cell.unit(2) - 0.5) * 0.5) as f32;
        s.vigour = ((cell.unit(3) - 0.5) * 1.2 + f.get(field::TEXTURE) * 0.5) as f32;
        let margin = if farm.hedges { 4.0 } else { 1.5 };
        if border < margin && margin * 2.0 >= px {
            if farm.hedges {
                s.cover = Cover::Trees(Tree::Broadleaf);
                s.fill = 0.9;
            } else {
                s.cover = Cover::Crop(Crop::Meadow);
            }
            return s;
        }
        let crop = pick(farm.crops, cell.unit(1));
        s.cover = Cover::Crop(crop);
        // Rows of vines and orchard trees, when the pixel can see them.
        let along = cell.unit(4) < 0.5;
        let across = if along { v } else { u };
        match crop {
            Crop::Vine if px <= 1.25 => {
                let row = (across / 2.5).fract().abs();
                s.fill = if (row - 0.5).abs() < 0.22 { 1.0 } else { 0.1 };
            }
            Crop::Vine => s.fill = 0.45,
            Crop::Orchard if px <= 2.5 => {
                let (a, b) = ((u / 6.0).fract().abs() - 0.5, (v / 6.0).fract().abs() - 0.5);
                s.fill = if a * a + b * b < 0.09 { 1.0 } else { 0.0 };
            }
            Crop::Orchard => s.fill = 0.5,
            _ if px <= 1.0 => {
                // Tractor lines.
                let row = (across / 3.0 + cell.unit(5)).fract();
                s.bright += (0.06 * (row * std::f64::consts::TAU).sin()) as f32;
            }
            _ => {}
        }
        s
    }

    /// The street layout at a point: which block of which district, and
    /// where in it.
    fn blocks(&self, x: f64, y: f64, dense: bool) -> Blocks {
        let district = cellular(seed::DISTRICT, x / 700.0, y / 700.0);
        let (c, sn) = if district.unit(1) < 0.6 {
            self.main_axes(x, y)
        } else {
            // A random direction without trigonometry: t = tan(angle / 2).
            let t = district.unit(2) * 2.0 - 1.0;
            let d = 1.0 + t * t;
            ((1.0 - t * t) / d, 2.0 * t / d)
        };
        let block =
            if dense { 70.0 } else { 90.0 } + if dense { 40.0 } else { 60.0 } * district.unit(3);
        let street = if dense { 14.0 } else { 10.0 } + 6.0 * district.unit(4);
        Blocks::at(district, (c, sn), block, street, x, y)
    }

    /// Town pixels: a grid of blocks per district, streets, buildings,
    /// courtyards, gardens and parks.
    fn town(&self, mut s: Surface, f: &Fields, x: f64, y: f64, px: f64, urban: f64) -> Surface {
        let dense = urban > 0.7;
        let blocks = self.blocks(x, y, dense);
        let Blocks {
            district,
            block,
            street,
            bi,
            a,
            b,
            edge,
            lot,
            lot_unit,
            ..
        } = blocks;
        let avenue = bi.rem_euclid(6) == 0 && (a < 18.0 || block - a < 18.0);
        s.bright = ((lot_unit - 0.5) * 0.6) as f32;
        s.vigour = (f.get(field::SOIL) * 0.3) as f32;
        let shadows = px <= SHADOW_PIXEL;
        if edge < street / 2.0 || (avenue && edge < 14.0) {
            // Streets, with the shadows of the buildings beside them.
            s.cover = Cover::Road;
            if avenue && edge > 4.0 && edge < 9.0 && px < 4.0 {
                s.cover = Cover::Trees(Tree::Broadleaf);
            }
            if shadows && blocks.in_shadow(x, y) {
                s.shade *= 0.45;
            }
            return s;
        }
        let industrial = district.unit(5) < 0.12 && urban < 0.8;
        if lot_unit < 0.06 {
            // A park.
            s.cover = if value(seed::CROWN, x / 12.0, y / 12.0) > 0.1 {
                Cover::Trees(Tree::Broadleaf)
            } else {
                Cover::Lawn
            };
            return s;
        }
        if industrial {
            let inner = edge - street / 2.0;
            s.cover = if inner > 8.0 && (lot_unit * 7.0).fract() < 0.7 {
                Cover::Roof(Roof::Concrete)
            } else {
                Cover::Road
            };
            s.bright = ((lot_unit * 13.0).fract() as f32 - 0.5) * 0.8;
            return s;
        }
        if dense {
            // Perimeter blocks with courtyards.
            let depth = 12.0 + 6.0 * lot_unit;
            let inner = edge - street / 2.0;
            if inner < depth {
                let along = if a.min(block - a) < b.min(block - b) {
                    b
                } else {
                    a
                };
                // One material per block, each building a little lighter
                // or darker.
                let unit = hash_unit(lot, floor(along / 9.0), 7);
                s.cover = Cover::Roof(self.roof((lot_unit * 17.0).fract()));
                s.bright =
                    ((lot_unit * 5.0).fract() as f32 - 0.5) * 0.3 + (unit as f32 - 0.5) * 0.3;
            } else {
                s.cover = if lot_unit < 0.4 {
                    Cover::Paved
                } else {
                    Cover::Lawn
                };
                if shadows && blocks.in_shadow(x, y) {
                    s.shade *= 0.45;
                }
            }
            return s;
        }
        // Houses in gardens.
        let plot = 16.0 + 8.0 * lot_unit;
        let (pi, pj) = (floor(a / plot), floor(b / plot));
        let (pa, pb) = (a - pi as f64 * plot, b - pj as f64 * plot);
        let house = hash_unit(lot, pi, pj);
        let size = 7.0 + 5.0 * house;
        let (ox, oy) = ((plot - size) * 0.5, (plot - size) * 0.5);
        if pa > ox && pa < ox + size && pb > oy && pb < oy + size && house > 0.12 {
            s.cover = Cover::Roof(self.roof(house));
            s.bright = ((house * 7.0).fract() as f32 - 0.5) * 0.5;
        } else if value(seed::CROWN, x / 8.0, y / 8.0) > 0.35 {
            s.cover = Cover::Trees(Tree::Broadleaf);
        } else {
            s.cover = Cover::Lawn;
            s.vigour -= 0.3;
        }
        s
    }

    /// The town's street directions (cos, sin) near a point: along the
    /// nearest town's river.
    fn main_axes(&self, x: f64, y: f64) -> (f64, f64) {
        self.boroughs
            .iter()
            .min_by(|a, b| {
                let da = (a.x - x).powi(2) + (a.y - y).powi(2);
                let db = (b.x - x).powi(2) + (b.y - y).powi(2);
                da.total_cmp(&db)
            })
            .map(|b| (b.cos, b.sin))
            .unwrap_or((1.0, 0.0))
    }

    /// Roof material for a building.
    fn roof(&self, unit: f64) -> Roof {
        let main = match self.roofs {
            Roofs::Tiles => Roof::Tile,
            Roofs::Slate => Roof::Slate,
            Roofs::Brick => Roof::Brick,
            Roofs::Metal => Roof::Metal,
        };
        let share = if main == Roof::Metal { 0.5 } else { 0.7 };
        if unit < share {
            main
        } else if unit < 0.88 {
            Roof::Concrete
        } else if main == Roof::Metal {
            Roof::Tile
        } else {
            Roof::Metal
        }
    }
}

/// Where a point falls in a town's street layout.
#[derive(Debug, Clone, Copy)]
struct Blocks {
    district: Cell,
    axes: (f64, f64),
    block: f64,
    street: f64,
    bi: i64,
    a: f64,
    b: f64,
    edge: f64,
    lot: u64,
    lot_unit: f64,
}

impl Blocks {
    /// The block layout of a district (street axes, block and street
    /// sizes) at a point.
    fn at(district: Cell, axes: (f64, f64), block: f64, street: f64, x: f64, y: f64) -> Blocks {
        let (c, sn) = axes;
        let (p, q) = (c * x + sn * y, -sn * x + c * y);
        let (bi, bj) = (floor(p / block), floor(q / block));
        let (a, b) = (p - bi as f64 * block, q - bj as f64 * block);
        let edge = a.min(block - a).min(b).min(block - b);
        let lot = hash(seed::BLOCK ^ district.id, bi, bj);
        Blocks {
            district,
            axes,
            block,
            street,
            bi,
            a,
            b,
            edge,
            lot,
            lot_unit: (lot >> 11) as f64 / (1u64 << 53) as f64,
        }
    }

    /// Whether the point is a building of a dense block.
    fn is_building(&self) -> bool {
        let inner = self.edge - self.street / 2.0;
        inner >= 0.0 && inner < 12.0 + 6.0 * self.lot_unit && self.lot_unit >= 0.06
    }

    /// Whether a building of this district stands between the point and
    /// the sun, close enough to shadow it (buildings about 10 m high).
    fn in_shadow(&self, x: f64, y: f64) -> bool {
        let az = SUN.0.to_radians();
        let (dx, dy) = (az.sin(), az.cos());
        let len = 10.0 / SUN.1.to_radians().tan();
        let mut t = 2.5;
        while t <= len {
            let other = Blocks::at(
                self.district,
                self.axes,
                self.block,
                self.street,
                x + dx * t,
                y + dy * t,
            );
            if other.is_building() {
                return true;
            }
            t += 2.5;
        }
        false
    }
}

/// Building shadows are drawn for pixels this small (m) or smaller.
const SHADOW_PIXEL: f64 = 1.0;

/// Picks an item by weight with `unit` in [0, 1).
fn pick(items: &[(Crop, f64)], unit: f64) -> Crop {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut target = unit * total;
    for (crop, w) in items {
        if target < *w {
            return *crop;
        }
        target -= w;
    }
    items.last().map(|i| i.0).unwrap_or(Crop::Meadow)
}

/// The farm layout of a region.
fn farm(biome: Biome, lon: f64, lat: f64, nearest: Option<Town>) -> Farm {
    let salt = nearest
        .map(|t| {
            t.name
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        })
        .unwrap_or(0);
    let angle = (salt % 90) as f64 / 90.0 * std::f64::consts::FRAC_PI_2;
    let (size, stretch, crops, hedges) = match biome {
        Biome::Island => (120.0, 1.6, CROPS_ISLAND, false),
        Biome::Tropical => (110.0, 1.2, CROPS_TROPICAL, false),
        Biome::Temperate if lat > 48.3 => (330.0, 1.5, CROPS_NORTH, false),
        Biome::Temperate if lon < -0.2 && lat > 46.0 => (190.0, 1.3, CROPS_WEST, true),
        Biome::Temperate if lat < 44.6 && lon > 3.3 => (140.0, 1.4, CROPS_MEDITERRANEAN, false),
        Biome::Temperate if lon > 4.3 => (210.0, 1.4, CROPS_EAST, false),
        Biome::Temperate => (240.0, 1.4, CROPS_SOUTH_WEST, false),
    };
    Farm {
        size,
        stretch,
        cos: angle.cos(),
        sin: angle.sin(),
        crops,
        hedges,
    }
}

/// How much a place is in the Landes pine forest (0 to 1, soft edges).
fn landes(lon: f64, lat: f64) -> f64 {
    smoothstep(-1.45, -1.15, lon)
        * (1.0 - smoothstep(-0.5, -0.2, lon))
        * smoothstep(43.6, 43.85, lat)
        * (1.0 - smoothstep(44.6, 44.8, lat))
}

fn boxes_meet(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
    a.0 <= b.2 && a.2 >= b.0 && a.1 <= b.3 && a.3 >= b.1
}

fn ring(c: &Coast) -> Ring {
    Ring {
        points: c.ring.iter().map(|(lon, lat)| world(*lon, *lat)).collect(),
        sea_inside: c.sea_inside,
        lake: c.lake,
        area: c.area,
    }
}

/// The lon/lat box where a coast matters: around its ring when the water
/// is inside (10 km beyond, the distance saturates anyway), its area for
/// islands.
fn reach(c: &Coast) -> (f64, f64, f64, f64) {
    if !c.sea_inside {
        return c.area;
    }
    let m = 0.15;
    c.ring
        .iter()
        .fold((f64::MAX, f64::MAX, f64::MIN, f64::MIN), |b, (x, y)| {
            (
                b.0.min(x - m),
                b.1.min(y - m),
                b.2.max(x + m),
                b.3.max(y + m),
            )
        })
}

fn mount(m: &Massif) -> Mount {
    let (x, y) = world(m.lon, m.lat);
    let a = m.angle.to_radians();
    Mount {
        x,
        y,
        cos: a.cos(),
        sin: a.sin(),
        rx: m.radii.0,
        ry: m.radii.1,
        height: m.height,
        rugged: m.rugged,
    }
}

fn borough(t: &Town) -> Borough {
    let (x, y) = world(t.lon, t.lat);
    let a = t.river_angle.to_radians();
    Borough {
        x,
        y,
        radius: t.radius,
        river_hw: t.river_width / 2.0,
        cos: a.cos(),
        sin: a.sin(),
        salt: t
            .name
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(131).wrapping_add(b as u64)),
    }
}

/// Even-odd point-in-polygon test.
fn point_in_ring(points: &[(f64, f64)], x: f64, y: f64) -> bool {
    let mut inside = false;
    let n = points.len();
    for i in 0..n {
        let (x1, y1) = points[i];
        let (x2, y2) = points[(i + 1) % n];
        if (y1 > y) != (y2 > y) && x < x1 + (y - y1) * (x2 - x1) / (y2 - y1) {
            inside = !inside;
        }
    }
    inside
}

/// Distance from a point to a ring's edges.
fn ring_distance(points: &[(f64, f64)], x: f64, y: f64) -> f64 {
    let n = points.len();
    let mut best = f64::MAX;
    for i in 0..n {
        let (x1, y1) = points[i];
        let (x2, y2) = points[(i + 1) % n];
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (((x - x1) * dx + (y - y1) * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (px, py) = (x1 + t * dx - x, y1 + t * dy - y);
        best = best.min(px * px + py * py);
    }
    best.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lon: f64, lat: f64, px: f64) -> Surface {
        let ctx = Context::new((lon - 0.1, lat - 0.1, lon + 0.1, lat + 0.1));
        let (x, y) = world(lon, lat);
        let mut f = ctx.fields(x, y, 3.0 * px);
        f.0[field::SHADE] = 1.0;
        ctx.surface(&f, x, y, px)
    }

    #[test]
    fn sea_land_and_town_where_expected() {
        assert_eq!(at(3.9, 43.3, 10.0).cover, Cover::Sea); // off Montpellier
        assert_eq!(at(-52.3, 5.2, 10.0).cover, Cover::Sea); // off Cayenne
        assert_eq!(at(55.4, -20.7, 10.0).cover, Cover::Sea); // off Saint-Denis
        let paris = at(2.3522, 48.8566, 10.0).cover;
        assert!(
            matches!(
                paris,
                Cover::Road
                    | Cover::Roof(_)
                    | Cover::Paved
                    | Cover::Lawn
                    | Cover::Trees(_)
                    | Cover::Water
            ),
            "{paris:?}"
        );
        let ctx = Context::new((5.2, 44.1, 5.35, 44.25));
        let (x, y) = world(5.279, 44.174);
        assert!(
            ctx.fields(x, y, 30.0).get(field::ELEVATION) > 1200.0,
            "Ventoux is high"
        );
    }

    #[test]
    fn shading_faces_the_sun() {
        assert!((Context::shade(0.0, 0.0) - 1.0).abs() < 1e-9);
        // A slope rising to the north-west faces south-east, towards the sun.
        assert!(Context::shade(-0.3, 0.3) > 1.1);
        assert!(Context::shade(0.3, -0.3) < 0.9);
    }
}
