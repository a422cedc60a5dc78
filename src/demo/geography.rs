//! The demo's geography: places, towns, coasts and mountains, roughly where
//! they really are, and the "world" coordinates every scene is drawn in.
//!
//! Coastlines and massifs are coarse sketches (a few kilometres off at
//! best): enough for a Sentinel-2 scene over Montpellier to show the sea in
//! the south, a Mont Ventoux scene to show the mountain, and every scene
//! over the same place — whatever its projection and resolution — to show
//! the same fields, forests and streets.

/// Mean Earth radius of the world coordinates (m).
pub const EARTH_RADIUS: f64 = 6_371_000.0;

/// World coordinates (m) of a longitude/latitude: the sinusoidal
/// (equal-area) projection on a sphere. Close enough to a local metric
/// frame everywhere the demo goes, and a pure function of the place.
pub fn world(lon: f64, lat: f64) -> (f64, f64) {
    let (l, p) = (lon.to_radians(), lat.to_radians());
    (EARTH_RADIUS * l * p.cos(), EARTH_RADIUS * p)
}

/// Longitude/latitude of world coordinates (inverse of [`world`]).
pub fn lonlat(x: f64, y: f64) -> (f64, f64) {
    let p = y / EARTH_RADIUS;
    let l = x / (EARTH_RADIUS * p.cos().max(1e-9));
    (l.to_degrees(), p.to_degrees())
}

/// The broad kind of landscape of a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Biome {
    /// Metropolitan France and its neighbours: fields, forests, towns.
    Temperate,
    /// French Guiana, Gabon: rain forest, rivers, savanna, clearings.
    Tropical,
    /// La Réunion: a volcanic island with sugar cane and forests.
    Island,
}

/// The biome of a place.
pub fn biome(lon: f64, lat: f64) -> Biome {
    if lat < 30.0 && lon > 50.0 {
        Biome::Island
    } else if lat.abs() < 15.0 {
        Biome::Tropical
    } else {
        Biome::Temperate
    }
}

/// Roof materials that dominate a town.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roofs {
    /// Red clay tiles (the south).
    Tiles,
    /// Grey zinc and slate (Paris, the west).
    Slate,
    /// Dark red brick and tiles (the north).
    Brick,
    /// Light metal sheets (the tropics).
    Metal,
}

/// A town: the centre of one of the demo places, how far its streets go,
/// and the river through it.
#[derive(Debug, Clone, Copy)]
pub struct Town {
    /// Place name, as in item ids and keywords.
    pub name: &'static str,
    /// Longitude of the centre.
    pub lon: f64,
    /// Latitude of the centre.
    pub lat: f64,
    /// Radius of the built-up area (m); 0 for no town.
    pub radius: f64,
    /// Width of the river through the centre (m); 0 for none.
    pub river_width: f64,
    /// Direction of that river (degrees counter-clockwise from east).
    pub river_angle: f64,
    /// Dominant roofs.
    pub roofs: Roofs,
}

/// The places with Pléiades and SPOT scenes (and the towns in
/// Sentinel-2 scenes).
pub const TOWNS: &[Town] = &[
    town(
        "toulouse",
        1.444,
        43.604,
        4500.0,
        200.0,
        100.0,
        Roofs::Tiles,
    ),
    town("paris", 2.352, 48.857, 8500.0, 140.0, -20.0, Roofs::Slate),
    town("lyon", 4.835, 45.764, 5000.0, 180.0, 85.0, Roofs::Tiles),
    town("marseille", 5.370, 43.296, 5000.0, 0.0, 0.0, Roofs::Tiles),
    town(
        "bordeaux",
        -0.579,
        44.838,
        4000.0,
        400.0,
        70.0,
        Roofs::Tiles,
    ),
    town("nantes", -1.554, 47.218, 4000.0, 300.0, 5.0, Roofs::Slate),
    town("lille", 3.057, 50.629, 4500.0, 30.0, 30.0, Roofs::Brick),
    town(
        "strasbourg",
        7.752,
        48.573,
        3500.0,
        60.0,
        60.0,
        Roofs::Tiles,
    ),
    town(
        "montpellier",
        3.877,
        43.611,
        3500.0,
        25.0,
        120.0,
        Roofs::Tiles,
    ),
    town("grenoble", 5.724, 45.188, 3500.0, 90.0, 40.0, Roofs::Tiles),
    town("mont-ventoux", 5.279, 44.174, 0.0, 0.0, 0.0, Roofs::Tiles),
    town("dunkerque", 2.377, 51.034, 3000.0, 40.0, 0.0, Roofs::Brick),
    town("cayenne", -52.330, 4.938, 2500.0, 0.0, 0.0, Roofs::Metal),
    town(
        "saint-denis-reunion",
        55.448,
        -20.882,
        2500.0,
        25.0,
        100.0,
        Roofs::Metal,
    ),
];

const fn town(
    name: &'static str,
    lon: f64,
    lat: f64,
    radius: f64,
    river_width: f64,
    river_angle: f64,
    roofs: Roofs,
) -> Town {
    Town {
        name,
        lon,
        lat,
        radius,
        river_width,
        river_angle,
        roofs,
    }
}

/// A coastline: a ring of lon/lat points, the sea inside it (or outside it,
/// for an island), within a lon/lat box where it applies.
#[derive(Debug, Clone, Copy)]
pub struct Coast {
    /// Name, for humans.
    pub name: &'static str,
    /// The ring (not closed: the last point joins the first).
    pub ring: &'static [(f64, f64)],
    /// Whether the sea is inside the ring (else the ring is an island).
    pub sea_inside: bool,
    /// Whether the ring is a lake or lagoon (inland water) rather than sea.
    pub lake: bool,
    /// (west, south, east, north) where the ring decides land and sea.
    pub area: (f64, f64, f64, f64),
}

/// The coasts the demo scenes come near.
pub const COASTS: &[Coast] = &[
    Coast {
        name: "Mediterranean",
        ring: &[
            (3.20, 41.90),
            (3.22, 42.25),
            (3.32, 42.32),
            (3.17, 42.43),
            (3.05, 42.55),
            (3.04, 42.75),
            (3.06, 43.00),
            (3.12, 43.15),
            (3.30, 43.27),
            (3.50, 43.28),
            (3.70, 43.40),
            (3.93, 43.525),
            (4.13, 43.54),
            (4.43, 43.45),
            (4.58, 43.36),
            (4.80, 43.36),
            (4.95, 43.42),
            (5.15, 43.33),
            (5.31, 43.36),
            (5.362, 43.30),
            (5.36, 43.27),
            (5.37, 43.24),
            (5.50, 43.20),
            (5.60, 43.17),
            (5.75, 43.13),
            (5.93, 43.10),
            (6.13, 43.08),
            (6.40, 43.15),
            (6.65, 43.27),
            (6.75, 43.42),
            (7.00, 43.54),
            (7.12, 43.56),
            (7.27, 43.69),
            (7.50, 43.78),
            (7.75, 43.80),
            (8.50, 44.20),
            (9.00, 44.20),
            (9.00, 41.00),
            (3.20, 41.00),
        ],
        sea_inside: true,
        lake: false,
        area: (0.0, 40.0, 10.0, 46.0),
    },
    Coast {
        name: "Étangs palavasiens (lagoons)",
        ring: &[
            (3.80, 43.512),
            (3.86, 43.522),
            (3.90, 43.530),
            (3.95, 43.538),
            (4.00, 43.548),
            (4.03, 43.556),
            (4.00, 43.560),
            (3.95, 43.550),
            (3.90, 43.545),
            (3.85, 43.537),
            (3.80, 43.524),
        ],
        sea_inside: true,
        lake: true,
        area: (3.7, 43.4, 4.1, 43.7),
    },
    lagoon(
        "Étang de Thau",
        &[
            (3.50, 43.355),
            (3.52, 43.335),
            (3.58, 43.36),
            (3.64, 43.40),
            (3.70, 43.445),
            (3.68, 43.455),
            (3.61, 43.43),
            (3.55, 43.395),
        ],
    ),
    lagoon(
        "Étang de Berre",
        &[
            (5.02, 43.47),
            (5.10, 43.42),
            (5.18, 43.43),
            (5.23, 43.47),
            (5.20, 43.53),
            (5.12, 43.55),
            (5.05, 43.52),
        ],
    ),
    lagoon(
        "Étang de Vaccarès",
        &[
            (4.53, 43.50),
            (4.60, 43.47),
            (4.67, 43.49),
            (4.64, 43.55),
            (4.56, 43.55),
        ],
    ),
    Coast {
        name: "Bay of Biscay",
        ring: &[
            (-1.79, 43.37),
            (-1.66, 43.40),
            (-1.53, 43.49),
            (-1.45, 43.65),
            (-1.35, 44.00),
            (-1.25, 44.45),
            (-1.26, 44.65),
            (-1.20, 45.10),
            (-1.15, 45.50),
            (-1.25, 45.85),
            (-1.15, 46.15),
            (-1.50, 46.40),
            (-1.85, 46.60),
            (-2.15, 46.90),
            (-2.20, 47.20),
            (-2.55, 47.30),
            (-2.90, 47.50),
            (-3.30, 47.70),
            (-4.20, 47.80),
            (-4.40, 48.00),
            (-4.80, 48.35),
            (-6.00, 48.40),
            (-6.00, 43.50),
            (-3.80, 43.47),
            (-2.00, 43.32),
        ],
        sea_inside: true,
        lake: false,
        area: (-7.0, 42.0, 0.0, 49.0),
    },
    Coast {
        name: "Channel and North Sea",
        ring: &[
            (1.55, 50.00),
            (1.58, 50.40),
            (1.60, 50.73),
            (1.85, 50.96),
            (2.10, 51.01),
            (2.37, 51.045),
            (2.55, 51.09),
            (3.00, 51.25),
            (3.40, 51.40),
            (3.40, 52.00),
            (0.50, 52.00),
            (0.50, 50.00),
        ],
        sea_inside: true,
        lake: false,
        area: (0.0, 49.5, 4.0, 52.5),
    },
    Coast {
        name: "Guiana",
        ring: &[
            (-54.00, 5.75),
            (-53.75, 5.70),
            (-53.50, 5.60),
            (-53.20, 5.50),
            (-52.95, 5.40),
            (-52.65, 5.17),
            (-52.45, 5.03),
            (-52.345, 4.944),
            (-52.315, 4.941),
            (-52.25, 4.90),
            (-52.10, 4.80),
            (-51.95, 4.62),
            (-51.80, 4.45),
            (-51.65, 4.25),
            (-51.55, 4.15),
            (-51.10, 3.90),
            (-50.50, 3.50),
            (-49.00, 3.50),
            (-49.00, 7.50),
            (-54.20, 7.50),
            (-54.20, 5.90),
        ],
        sea_inside: true,
        lake: false,
        area: (-56.0, 1.0, -48.0, 8.0),
    },
    Coast {
        name: "La Réunion",
        ring: &[
            (55.42, -20.874),
            (55.45, -20.877),
            (55.48, -20.882),
            (55.55, -20.89),
            (55.61, -20.905),
            (55.66, -20.95),
            (55.72, -21.03),
            (55.80, -21.13),
            (55.83, -21.20),
            (55.80, -21.33),
            (55.77, -21.36),
            (55.65, -21.38),
            (55.55, -21.37),
            (55.47, -21.345),
            (55.35, -21.27),
            (55.28, -21.17),
            (55.22, -21.05),
            (55.27, -21.00),
            (55.29, -20.93),
            (55.34, -20.925),
            (55.38, -20.885),
        ],
        sea_inside: false,
        lake: false,
        area: (54.5, -22.0, 56.5, -20.0),
    },
];

/// An inland lake or lagoon: water inside the ring.
const fn lagoon(name: &'static str, ring: &'static [(f64, f64)]) -> Coast {
    Coast {
        name,
        ring,
        sea_inside: true,
        lake: true,
        area: (-180.0, -90.0, 180.0, 90.0),
    }
}

/// A massif: an elliptical mountain of `height` metres above the plain.
#[derive(Debug, Clone, Copy)]
pub struct Massif {
    /// Longitude of the centre.
    pub lon: f64,
    /// Latitude of the centre.
    pub lat: f64,
    /// Semi-axes (m) along and across `angle`.
    pub radii: (f64, f64),
    /// Orientation of the long axis (degrees counter-clockwise from east).
    pub angle: f64,
    /// Height above the surrounding plain (m).
    pub height: f64,
    /// How much of the height is carved by valleys (0 smooth, 1 rugged).
    pub rugged: f64,
}

const fn massif(
    lon: f64,
    lat: f64,
    rx_km: f64,
    ry_km: f64,
    angle: f64,
    height: f64,
    rugged: f64,
) -> Massif {
    Massif {
        lon,
        lat,
        radii: (rx_km * 1000.0, ry_km * 1000.0),
        angle,
        height,
        rugged,
    }
}

/// Mountains near the demo places.
pub const MASSIFS: &[Massif] = &[
    massif(5.279, 44.174, 15.0, 5.0, 5.0, 1550.0, 0.2), // Mont Ventoux
    massif(5.35, 43.81, 25.0, 5.0, 5.0, 650.0, 0.5),    // Luberon
    massif(5.75, 43.33, 12.0, 4.0, 0.0, 800.0, 0.5),    // Sainte-Baume
    massif(5.42, 43.22, 8.0, 3.0, 0.0, 450.0, 0.6),     // Calanques
    massif(2.35, 43.45, 30.0, 12.0, 15.0, 800.0, 0.6),  // Montagne Noire
    massif(3.58, 44.12, 35.0, 25.0, 30.0, 1150.0, 0.7), // Cévennes
    massif(2.90, 45.30, 150.0, 120.0, 0.0, 850.0, 0.6), // Massif Central
    massif(5.50, 45.00, 18.0, 30.0, 20.0, 1450.0, 0.6), // Vercors
    massif(5.80, 45.38, 12.0, 18.0, 20.0, 1400.0, 0.6), // Chartreuse
    massif(6.02, 45.20, 8.0, 30.0, 30.0, 2200.0, 0.7),  // Belledonne
    massif(6.60, 45.00, 50.0, 90.0, 20.0, 2400.0, 0.8), // inner Alps
    massif(7.00, 48.10, 25.0, 60.0, 20.0, 900.0, 0.6),  // Vosges
    massif(6.00, 46.60, 30.0, 80.0, 40.0, 900.0, 0.5),  // Jura
    massif(-0.80, 42.90, 60.0, 30.0, -10.0, 1900.0, 0.8), // Pyrénées, west
    massif(0.60, 42.70, 60.0, 30.0, -10.0, 2400.0, 0.8), // Pyrénées, centre
    massif(1.80, 42.60, 50.0, 30.0, -5.0, 2300.0, 0.8), // Pyrénées, Ariège
    massif(2.60, 42.50, 35.0, 20.0, -5.0, 1900.0, 0.8), // Pyrénées, east
    massif(55.49, -21.10, 22.0, 22.0, 0.0, 2800.0, 0.8), // Piton des Neiges
    massif(55.71, -21.24, 15.0, 15.0, 0.0, 2400.0, 0.4), // Piton de la Fournaise
    massif(-52.28, 4.88, 2.5, 2.0, 0.0, 170.0, 0.3),    // Montagne du Mahury
    massif(11.50, -0.20, 60.0, 40.0, 30.0, 450.0, 0.7), // Lopé hills
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_coordinates_round_trip() {
        for (lon, lat) in [(1.444, 43.604), (-52.33, 4.938), (55.448, -20.882)] {
            let (x, y) = world(lon, lat);
            let (l, p) = lonlat(x, y);
            assert!((l - lon).abs() < 1e-9 && (p - lat).abs() < 1e-9);
        }
        // One degree of latitude is about 111 km.
        let d = world(1.0, 44.0).1 - world(1.0, 43.0).1;
        assert!((d - 111_195.0).abs() < 10.0);
    }

    #[test]
    fn biomes() {
        assert_eq!(biome(1.4, 43.6), Biome::Temperate);
        assert_eq!(biome(-52.3, 4.9), Biome::Tropical);
        assert_eq!(biome(11.5, -0.2), Biome::Tropical);
        assert_eq!(biome(55.4, -20.9), Biome::Island);
    }
}
