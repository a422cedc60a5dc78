//! From a [`Surface`] and a month to what sensors measure: surface
//! reflectance in the Sentinel-2 bands (Pléiades and SPOT use the blue,
//! green, red and near-infrared ones), leaf area index and biomass.
//!
//! Reflectances are linear mixtures of a few end-members (green leaves, dry
//! leaves, soil, water…) in proportions that follow each cover's
//! phenology, scaled by 10 000 as in Sentinel-2 L2A products (no offset).

use super::landscape::{Cover, Crop, Rock, Roof, Surface, Tree};

/// Number of Sentinel-2 bands modelled: B02, B03, B04, B05, B06, B07, B08.
pub const BANDS: usize = 7;

/// Reflectance ×10 000 in B02, B03, B04, B05, B06, B07, B08.
pub type Spectrum = [f32; BANDS];

const GREEN: Spectrum = [300.0, 600.0, 330.0, 1000.0, 2600.0, 3300.0, 3700.0];
const BROADLEAF: Spectrum = [260.0, 520.0, 300.0, 850.0, 2300.0, 2900.0, 3300.0];
const AUTUMN: Spectrum = [380.0, 650.0, 900.0, 1300.0, 2000.0, 2400.0, 2700.0];
const LEAF_OFF: Spectrum = [480.0, 620.0, 720.0, 900.0, 1250.0, 1450.0, 1650.0];
const CONIFER: Spectrum = [200.0, 380.0, 220.0, 580.0, 1500.0, 1900.0, 2150.0];
const TROPICAL: Spectrum = [220.0, 470.0, 260.0, 780.0, 2400.0, 3000.0, 3300.0];
const MANGROVE: Spectrum = [200.0, 420.0, 230.0, 650.0, 1800.0, 2200.0, 2450.0];
const STRAW: Spectrum = [950.0, 1250.0, 1550.0, 1850.0, 2150.0, 2350.0, 2550.0];
const SOIL: Spectrum = [850.0, 1150.0, 1450.0, 1700.0, 1850.0, 2000.0, 2150.0];
const LATERITE: Spectrum = [700.0, 1000.0, 1700.0, 2100.0, 2300.0, 2450.0, 2550.0];
const YELLOW: Spectrum = [450.0, 1500.0, 1450.0, 1900.0, 2600.0, 3100.0, 3400.0];
const RIVER: Spectrum = [600.0, 680.0, 480.0, 380.0, 230.0, 190.0, 160.0];
const SEA: Spectrum = [450.0, 400.0, 220.0, 130.0, 90.0, 80.0, 70.0];
const ASPHALT: Spectrum = [650.0, 700.0, 750.0, 800.0, 850.0, 880.0, 920.0];
const CONCRETE: Spectrum = [1500.0, 1600.0, 1700.0, 1800.0, 1850.0, 1900.0, 1950.0];
const TILE: Spectrum = [700.0, 900.0, 1700.0, 2100.0, 2300.0, 2400.0, 2500.0];
const SLATE: Spectrum = [750.0, 800.0, 850.0, 870.0, 900.0, 920.0, 950.0];
const BRICK: Spectrum = [550.0, 650.0, 1000.0, 1200.0, 1300.0, 1350.0, 1400.0];
const METAL: Spectrum = [1500.0, 1600.0, 1700.0, 1750.0, 1800.0, 1800.0, 1850.0];
const SCRUB: Spectrum = [280.0, 450.0, 400.0, 800.0, 1450.0, 1750.0, 1950.0];
const SAND: Spectrum = [1800.0, 2200.0, 2600.0, 2800.0, 2950.0, 3050.0, 3150.0];
const LIMESTONE: Spectrum = [2300.0, 2600.0, 2800.0, 2950.0, 3050.0, 3100.0, 3200.0];
const GRANITE: Spectrum = [1100.0, 1300.0, 1500.0, 1650.0, 1800.0, 1900.0, 2000.0];
const BASALT: Spectrum = [420.0, 460.0, 500.0, 540.0, 570.0, 600.0, 620.0];
const SNOW: Spectrum = [9000.0, 8900.0, 8700.0, 8400.0, 8100.0, 7900.0, 7500.0];

/// Phenology tables: a value per month, January first.
type Monthly = [f32; 12];

/// Fraction of green leaves of a crop, by month.
fn green(crop: Crop) -> &'static Monthly {
    match crop {
        Crop::Wheat => &[
            0.30, 0.35, 0.50, 0.80, 0.95, 0.55, 0.05, 0.0, 0.0, 0.05, 0.15, 0.25,
        ],
        Crop::Maize => &[
            0.0, 0.0, 0.0, 0.02, 0.10, 0.45, 0.90, 0.85, 0.45, 0.05, 0.0, 0.0,
        ],
        Crop::Sunflower => &[
            0.0, 0.0, 0.0, 0.02, 0.15, 0.55, 0.50, 0.45, 0.10, 0.0, 0.0, 0.0,
        ],
        Crop::Rapeseed => &[
            0.45, 0.50, 0.70, 0.35, 0.75, 0.40, 0.05, 0.0, 0.10, 0.35, 0.45, 0.45,
        ],
        Crop::Beet => &[
            0.0, 0.0, 0.0, 0.05, 0.25, 0.70, 0.90, 0.90, 0.85, 0.50, 0.05, 0.0,
        ],
        Crop::Meadow => &[
            0.55, 0.55, 0.65, 0.85, 0.95, 0.85, 0.65, 0.55, 0.60, 0.70, 0.65, 0.55,
        ],
        Crop::Fallow => &[
            0.35, 0.35, 0.45, 0.60, 0.70, 0.60, 0.45, 0.40, 0.40, 0.45, 0.40, 0.35,
        ],
        Crop::Vine => &[
            0.0, 0.0, 0.0, 0.10, 0.35, 0.60, 0.70, 0.70, 0.60, 0.35, 0.10, 0.0,
        ],
        Crop::Orchard => &[
            0.05, 0.05, 0.20, 0.50, 0.70, 0.75, 0.75, 0.70, 0.65, 0.45, 0.15, 0.05,
        ],
        Crop::Sugarcane => &[
            0.80, 0.85, 0.85, 0.85, 0.80, 0.75, 0.65, 0.55, 0.50, 0.55, 0.65, 0.75,
        ],
        Crop::Abattis => &[
            0.50, 0.50, 0.55, 0.60, 0.60, 0.55, 0.50, 0.45, 0.40, 0.40, 0.45, 0.50,
        ],
    }
}

/// Fraction of dry leaves and stubble of a crop, by month.
fn dry(crop: Crop) -> &'static Monthly {
    match crop {
        Crop::Wheat => &[
            0.0, 0.0, 0.0, 0.0, 0.0, 0.40, 0.85, 0.50, 0.10, 0.0, 0.0, 0.0,
        ],
        Crop::Maize => &[
            0.05, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.40, 0.60, 0.20, 0.10,
        ],
        Crop::Sunflower => &[
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.35, 0.70, 0.30, 0.05, 0.0,
        ],
        Crop::Rapeseed => &[
            0.0, 0.0, 0.0, 0.0, 0.0, 0.50, 0.80, 0.30, 0.0, 0.0, 0.0, 0.0,
        ],
        Crop::Meadow => &[
            0.15, 0.15, 0.10, 0.0, 0.0, 0.10, 0.25, 0.30, 0.20, 0.10, 0.15, 0.15,
        ],
        Crop::Fallow => &[
            0.30, 0.30, 0.20, 0.10, 0.10, 0.20, 0.35, 0.40, 0.35, 0.30, 0.30, 0.30,
        ],
        Crop::Sugarcane => &[
            0.05, 0.0, 0.0, 0.0, 0.05, 0.10, 0.20, 0.25, 0.25, 0.20, 0.15, 0.10,
        ],
        _ => &[0.0; 12],
    }
}

/// Fraction of yellow flowers of a crop, by month.
fn flowers(crop: Crop) -> &'static Monthly {
    match crop {
        Crop::Rapeseed => &[
            0.0, 0.0, 0.05, 0.60, 0.10, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        ],
        Crop::Sunflower => &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.40, 0.15, 0.0, 0.0, 0.0, 0.0],
        _ => &[0.0; 12],
    }
}

/// Leaves of deciduous trees, by month (0 bare, 1 full).
const LEAVES: Monthly = [
    0.05, 0.05, 0.15, 0.55, 0.90, 1.0, 1.0, 1.0, 0.90, 0.65, 0.20, 0.05,
];
/// Autumn colours of deciduous trees, by month.
const COLOURS: Monthly = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.15, 0.55, 0.30, 0.0,
];
/// Green fraction of alpine grass, by month.
const ALPINE: Monthly = [
    0.0, 0.0, 0.0, 0.05, 0.25, 0.60, 0.70, 0.60, 0.40, 0.20, 0.05, 0.0,
];
/// Green fraction of tropical grassland, by month (dry season August-November).
const SAVANNA: Monthly = [
    0.55, 0.60, 0.60, 0.60, 0.60, 0.55, 0.45, 0.30, 0.20, 0.20, 0.30, 0.45,
];
/// Snow line on temperate mountains (m), by month.
const SNOW_LINE: Monthly = [
    1100.0, 1100.0, 1400.0, 1800.0, 2300.0, 2800.0, 3300.0, 3500.0, 3200.0, 2600.0, 1700.0, 1300.0,
];

/// A monthly table at `month` (1 = January … 12 = December).
fn at(table: &Monthly, month: u32) -> f32 {
    table[(month.clamp(1, 12) - 1) as usize]
}

fn mix(parts: &[(&Spectrum, f32)]) -> Spectrum {
    let mut out = [0.0; BANDS];
    for (s, w) in parts {
        for (o, v) in out.iter_mut().zip(s.iter()) {
            *o += v * w;
        }
    }
    out
}

fn scale(s: &Spectrum, k: f32) -> Spectrum {
    s.map(|v| v * k)
}

/// Whether a temperate surface is snow-covered in `month`.
pub fn snowy(s: &Surface, month: u32, temperate: bool) -> bool {
    temperate
        && !matches!(s.cover, Cover::Sea | Cover::Water)
        && s.elevation + 150.0 * s.bright > at(&SNOW_LINE, month)
}

/// Surface reflectance ×10 000 of a surface in `month`, shading included.
pub fn reflectance(s: &Surface, month: u32, temperate: bool) -> Spectrum {
    if snowy(s, month, temperate) {
        let forest = matches!(s.cover, Cover::Trees(_));
        let base = if forest {
            mix(&[(&SNOW, 0.45), (&CONIFER, 0.55)])
        } else {
            SNOW
        };
        return scale(&base, s.shade);
    }
    let soil_k = 1.0 + 0.25 * s.bright;
    let vig = s.vigour.clamp(-1.0, 1.0);
    let base = match s.cover {
        Cover::Sea => return scale(&SEA, 1.0 + 0.05 * s.bright),
        Cover::Water => {
            let t = (0.5 + 0.5 * s.bright).clamp(0.0, 1.0);
            return mix(&[(&RIVER, t), (&SEA, 1.0 - t)]);
        }
        Cover::Sand => scale(&SAND, soil_k),
        Cover::Road => scale(&ASPHALT, 1.0 + 0.2 * s.bright),
        Cover::Paved => scale(&CONCRETE, 1.0 + 0.2 * s.bright),
        Cover::Roof(r) => scale(
            match r {
                Roof::Tile => &TILE,
                Roof::Slate => &SLATE,
                Roof::Brick => &BRICK,
                Roof::Metal => &METAL,
                Roof::Concrete => &CONCRETE,
            },
            1.0 + 0.35 * s.bright,
        ),
        Cover::Lawn => {
            let g = (0.75 + 0.2 * vig).clamp(0.0, 1.0);
            mix(&[(&GREEN, g), (&SOIL, 1.0 - g)])
        }
        Cover::Trees(t) => trees(t, month, vig),
        Cover::Crop(c) => crop(c, month, s, soil_k, vig),
        Cover::Scrub => {
            let g = (s.fill * (1.0 + 0.15 * vig)).clamp(0.0, 1.0);
            mix(&[
                (&SCRUB, g),
                (&SOIL, (1.0 - g) * 0.7),
                (&LIMESTONE, (1.0 - g) * 0.3),
            ])
        }
        Cover::Rock(Rock::Limestone) => scale(&LIMESTONE, 1.0 + 0.15 * s.bright),
        Cover::Rock(Rock::Granite) => scale(&GRANITE, 1.0 + 0.2 * s.bright),
        Cover::Rock(Rock::Basalt) => scale(&BASALT, 1.0 + 0.2 * s.bright),
        Cover::Alpine => {
            let g = at(&ALPINE, month);
            mix(&[
                (&GREEN, g * 0.8),
                (&STRAW, 0.6 - g * 0.5),
                (&GRANITE, 0.4 - g * 0.3),
            ])
        }
        Cover::Savanna => {
            let g = (at(&SAVANNA, month) + 0.15 * vig).clamp(0.05, 0.9);
            mix(&[
                (&GREEN, g * 0.8),
                (&STRAW, 1.0 - g * 0.8 - 0.1),
                (&LATERITE, 0.1),
            ])
        }
        Cover::Soil => scale(&LATERITE, soil_k),
    };
    scale(&base, s.shade)
}

/// Reflectance of trees in `month`.
fn trees(t: Tree, month: u32, vig: f32) -> Spectrum {
    let k = 1.0 + 0.12 * vig;
    match t {
        Tree::Broadleaf => {
            let leaves = at(&LEAVES, month);
            let colours = at(&COLOURS, month).min(leaves);
            scale(
                &mix(&[
                    (&BROADLEAF, leaves - colours),
                    (&AUTUMN, colours),
                    (&LEAF_OFF, 1.0 - leaves),
                ]),
                k,
            )
        }
        Tree::Conifer => scale(&CONIFER, k),
        Tree::Tropical => scale(&TROPICAL, k),
        Tree::Mangrove => scale(&MANGROVE, k),
    }
}

/// Reflectance of a crop parcel in `month`.
fn crop(c: Crop, month: u32, s: &Surface, soil_k: f32, vig: f32) -> Spectrum {
    let soil = if matches!(c, Crop::Abattis) {
        scale(&LATERITE, soil_k)
    } else {
        scale(&SOIL, soil_k)
    };
    // The parcel's own stage: some are ahead, some behind.
    let g = (at(green(c), month) * (1.0 + 0.25 * vig) + 0.05 * vig).clamp(0.0, 1.0);
    let d = at(dry(c), month).min(1.0 - g);
    let y = at(flowers(c), month).min(g);
    let veg = mix(&[(&GREEN, g - y), (&YELLOW, y), (&STRAW, d)]);
    match c {
        Crop::Vine | Crop::Orchard => {
            // Rows: vegetation in `fill` of the pixel, grass or soil between.
            let under = if c == Crop::Orchard {
                mix(&[(&GREEN, 0.45), (&soil, 0.55)])
            } else {
                soil
            };
            let leaves = mix(&[(&GREEN, g), (&STRAW, d), (&soil, 1.0 - g - d)]);
            let f = s.fill;
            mix(&[(&leaves, f), (&under, 1.0 - f)])
        }
        _ => mix(&[(&veg, 1.0), (&soil, 1.0 - g - d)]),
    }
}

/// Leaf area index (m²/m²) of a cover in `month`: 0 for bare ground and
/// water, up to 6-7 for rain forest.
pub fn lai(cover: Cover, month: u32, vigour: f32) -> f32 {
    let k = 1.0 + 0.15 * vigour.clamp(-1.0, 1.0);
    let v = match cover {
        Cover::Sea | Cover::Water | Cover::Sand | Cover::Road | Cover::Paved | Cover::Roof(_) => {
            0.0
        }
        Cover::Rock(_) | Cover::Soil => 0.05,
        Cover::Lawn => 2.2,
        Cover::Trees(Tree::Broadleaf) => 0.4 + 5.2 * at(&LEAVES, month),
        Cover::Trees(Tree::Conifer) => 3.6 + 0.4 * at(&LEAVES, month),
        Cover::Trees(Tree::Tropical) => 5.6 + 0.8 * at(&SAVANNA, month) / 0.6,
        Cover::Trees(Tree::Mangrove) => 3.8,
        Cover::Crop(c) => 5.0 * at(green(c), month).powf(1.3),
        Cover::Scrub => 1.4 + 0.3 * at(&LEAVES, month),
        Cover::Alpine => 2.0 * at(&ALPINE, month),
        Cover::Savanna => 2.5 * at(&SAVANNA, month),
    };
    (v * k).clamp(0.0, 7.0)
}

/// Mean leaf area index of farmland with these crops (weights) in `month`.
pub fn farmland_lai(crops: &[(Crop, f64)], month: u32) -> f32 {
    let total: f64 = crops.iter().map(|c| c.1).sum();
    let sum: f64 = crops
        .iter()
        .map(|(c, w)| lai(Cover::Crop(*c), month, 0.0) as f64 * w)
        .sum();
    (sum / total.max(1e-9)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surface(cover: Cover) -> Surface {
        Surface {
            cover,
            vigour: 0.0,
            bright: 0.0,
            fill: 1.0,
            shade: 1.0,
            elevation: 100.0,
        }
    }

    #[test]
    fn magnitudes_are_realistic() {
        let maize = reflectance(&surface(Cover::Crop(Crop::Maize)), 7, true);
        assert!((300.0..=600.0).contains(&maize[2]), "red {}", maize[2]);
        assert!((2500.0..=4000.0).contains(&maize[6]), "nir {}", maize[6]);
        let water = reflectance(&surface(Cover::Water), 7, true);
        assert!(water[6] < 400.0);
        let roof = reflectance(&surface(Cover::Roof(Roof::Concrete)), 7, true);
        assert!(
            roof[2] > maize[2] * 2.0,
            "towns are brighter in the visible"
        );
        // Deciduous forest: leaves in June, none in January.
        let june = reflectance(&surface(Cover::Trees(Tree::Broadleaf)), 6, true);
        let jan = reflectance(&surface(Cover::Trees(Tree::Broadleaf)), 1, true);
        assert!(june[6] > jan[6] * 1.5);
        // Wheat: green in May, stubble in July.
        let may = reflectance(&surface(Cover::Crop(Crop::Wheat)), 5, true);
        let july = reflectance(&surface(Cover::Crop(Crop::Wheat)), 7, true);
        assert!(may[6] / may[2] > 5.0 && july[6] / july[2] < 2.0);
    }

    #[test]
    fn lai_follows_the_seasons() {
        let f = Cover::Trees(Tree::Broadleaf);
        assert!(lai(f, 7, 0.0) > 5.0 && lai(f, 1, 0.0) < 1.0);
        assert!(lai(Cover::Trees(Tree::Tropical), 3, 0.0) > 6.0);
        assert_eq!(lai(Cover::Sea, 7, 0.0), 0.0);
    }
}
