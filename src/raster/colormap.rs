//! Colormaps: the titiler-compatible `colormap_name` and `colormap` rendering
//! parameters, and the classes of a legend (WMS `GetLegendGraphic`).
//!
//! A [`Colormap`] is one of:
//! - a **ramp**: 256 RGBA colours, applied to values already rescaled to
//!   0..=255 ([`Colormap::named`], e.g. `viridis`, `rdylgn_r`);
//! - **discrete** classes: exact values → colours (`{"1": [r, g, b, a], ...}`);
//! - **intervals**: `[lo, hi)` ranges → colours (`[[[lo, hi], colour], ...]`).
//!
//! # How the named ramps are made
//!
//! No third-party table is copied or shipped. Each ramp is written below as a
//! short list of anchor colours (`#rrggbb`) at positions in 0..=1, and its 256
//! entries are computed on first use (then kept in a [`OnceLock`], so a
//! lookup is an array index):
//!
//! - entry `i` sits at position `t = i / 255`;
//! - between the two anchors around `t` each channel is interpolated
//!   **linearly in gamma-encoded sRGB** (the 0..=255 component values, not
//!   linear light), then rounded. This is how matplotlib builds its
//!   segment-defined colormaps, so the ColorBrewer ramps (9 or 11 anchors,
//!   evenly spaced) and `terrain`/`gray` come out as matplotlib's own, and the
//!   anchors needed for the perceptually uniform ramps stay few.
//!   Interpolating in linear light instead was measured to stray by 10–17/255
//!   on the diverging ramps and by up to 73/255 on `terrain`;
//! - for the perceptually uniform ramps (`viridis`, `magma`, `inferno`,
//!   `plasma`, `cividis`) the anchors sit at irregular positions (multiples of
//!   0.01) chosen where the curve bends, so that no entry strays by more than
//!   2/255 per channel from the well-known map (checked against matplotlib's
//!   tables with a throw-away script; the ColorBrewer ramps match exactly,
//!   `terrain` within 1/255).
//!
//! Every name also exists with the suffix `_r`: the same ramp reversed
//! (entry `i` of `x_r` is entry `255 - i` of `x`). Names are case-insensitive.
//!
//! The diverging and sequential ColorBrewer schemes (`blues`, `brbg`,
//! `greens`, `greys`, `oranges`, `piyg`, `puor`, `purples`, `rdbu`, `rdylbu`,
//! `rdylgn`, `reds`, `spectral`, `ylgn`, `ylgnbu`, `ylorrd`) are colour
//! specifications and designs developed by Cynthia Brewer
//! (<http://colorbrewer.org/>), Apache License 2.0.

use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::error::{RasterError, Result};

/// The most entries (discrete values or intervals) a `colormap` parameter may have.
pub const MAX_ENTRIES: usize = 4096;

/// Fully transparent black: the colour of a value without a class.
const TRANSPARENT: [u8; 4] = [0, 0, 0, 0];

/// A 256-entry RGBA lookup table.
type Lut = [[u8; 4]; 256];

/// One anchor of a named ramp: position in 0..=1 and sRGB colour.
type Anchor = (f64, [u8; 3]);

// ---------------------------------------------------------------------------
// Anchor definitions
// ---------------------------------------------------------------------------

/// Value of one hexadecimal digit.
const fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `#rrggbb` → `[r, g, b]`, at compile time (a malformed anchor does not build).
const fn rgb(hex: &str) -> [u8; 3] {
    let b = hex.as_bytes();
    assert!(b.len() == 7 && b[0] == b'#', "an anchor colour is #rrggbb");
    let mut out = [0u8; 3];
    let mut i = 0;
    while i < 3 {
        let (Some(hi), Some(lo)) = (nibble(b[1 + 2 * i]), nibble(b[2 + 2 * i])) else {
            panic!("an anchor colour is #rrggbb");
        };
        out[i] = hi * 16 + lo;
        i += 1;
    }
    out
}

/// Anchors evenly spaced over 0..=1 (position `k / (K - 1)`).
const fn even<const K: usize>(hex: [&str; K]) -> [Anchor; K] {
    let mut out = [(0.0, [0u8; 3]); K];
    let mut k = 0;
    while k < K {
        out[k] = (k as f64 / (K - 1) as f64, rgb(hex[k]));
        k += 1;
    }
    out
}

/// Anchors at explicit positions.
const fn at<const K: usize>(stops: [(f64, &str); K]) -> [Anchor; K] {
    let mut out = [(0.0, [0u8; 3]); K];
    let mut k = 0;
    while k < K {
        out[k] = (stops[k].0, rgb(stops[k].1));
        k += 1;
    }
    out
}

// Perceptually uniform ramps: dark → light, anchors where the curve bends.

const VIRIDIS: [Anchor; 12] = at([
    (0.00, "#440154"),
    (0.08, "#481e70"),
    (0.15, "#463480"),
    (0.22, "#3e4989"),
    (0.40, "#2a788e"),
    (0.55, "#1e9c89"),
    (0.61, "#24aa83"),
    (0.68, "#3aba76"),
    (0.78, "#6ece58"),
    (0.93, "#d0e11c"),
    (0.96, "#e4e419"),
    (1.00, "#fde725"),
]);

const MAGMA: [Anchor; 13] = at([
    (0.00, "#000004"),
    (0.02, "#02020c"),
    (0.09, "#120d31"),
    (0.17, "#2e1162"),
    (0.22, "#440f76"),
    (0.29, "#601880"),
    (0.43, "#992d80"),
    (0.55, "#ca3e72"),
    (0.64, "#ea5661"),
    (0.70, "#f66f5c"),
    (0.76, "#fc8c63"),
    (0.86, "#febc81"),
    (1.00, "#fcfdbf"),
]);

const PLASMA: [Anchor; 11] = at([
    (0.00, "#0d0887"),
    (0.02, "#1b068d"),
    (0.11, "#46039f"),
    (0.21, "#6e00a8"),
    (0.28, "#8908a6"),
    (0.40, "#b12a90"),
    (0.59, "#df6164"),
    (0.76, "#f9983f"),
    (0.89, "#fdca26"),
    (0.98, "#f3f027"),
    (1.00, "#f0f921"),
]);

const INFERNO: [Anchor; 15] = at([
    (0.00, "#000004"),
    (0.01, "#010107"),
    (0.08, "#100a2e"),
    (0.16, "#300a5c"),
    (0.22, "#4a0c6b"),
    (0.31, "#6f196e"),
    (0.43, "#a02a63"),
    (0.55, "#cd4248"),
    (0.66, "#ec6627"),
    (0.76, "#fa9207"),
    (0.79, "#fca007"),
    (0.84, "#fbb81d"),
    (0.90, "#f6d644"),
    (0.96, "#f2f27c"),
    (1.00, "#fcffa4"),
]);

const CIVIDIS: [Anchor; 12] = at([
    (0.00, "#00224e"),
    (0.07, "#002f6d"),
    (0.09, "#013271"),
    (0.11, "#123570"),
    (0.15, "#253d6e"),
    (0.29, "#4d556c"),
    (0.48, "#787877"),
    (0.61, "#979077"),
    (0.78, "#c3b369"),
    (0.90, "#e4ce52"),
    (0.99, "#fee434"),
    (1.00, "#fee838"),
]);

// ColorBrewer sequential schemes, 9 classes, light → dark.

const GREYS: [Anchor; 9] = even([
    "#ffffff", "#f0f0f0", "#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252", "#252525",
    "#000000",
]);

const BLUES: [Anchor; 9] = even([
    "#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c",
    "#08306b",
]);

const GREENS: [Anchor; 9] = even([
    "#f7fcf5", "#e5f5e0", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#006d2c",
    "#00441b",
]);

const REDS: [Anchor; 9] = even([
    "#fff5f0", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#a50f15",
    "#67000d",
]);

const ORANGES: [Anchor; 9] = even([
    "#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913", "#d94801", "#a63603",
    "#7f2704",
]);

const PURPLES: [Anchor; 9] = even([
    "#fcfbfd", "#efedf5", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#54278f",
    "#3f007d",
]);

const YLGN: [Anchor; 9] = even([
    "#ffffe5", "#f7fcb9", "#d9f0a3", "#addd8e", "#78c679", "#41ab5d", "#238443", "#006837",
    "#004529",
]);

const YLGNBU: [Anchor; 9] = even([
    "#ffffd9", "#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#253494",
    "#081d58",
]);

const YLORRD: [Anchor; 9] = even([
    "#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026",
    "#800026",
]);

// ColorBrewer diverging schemes, 11 classes.

const RDYLGN: [Anchor; 11] = even([
    "#a50026", "#d73027", "#f46d43", "#fdae61", "#fee08b", "#ffffbf", "#d9ef8b", "#a6d96a",
    "#66bd63", "#1a9850", "#006837",
]);

const RDYLBU: [Anchor; 11] = even([
    "#a50026", "#d73027", "#f46d43", "#fdae61", "#fee090", "#ffffbf", "#e0f3f8", "#abd9e9",
    "#74add1", "#4575b4", "#313695",
]);

const RDBU: [Anchor; 11] = even([
    "#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7", "#d1e5f0", "#92c5de",
    "#4393c3", "#2166ac", "#053061",
]);

const SPECTRAL: [Anchor; 11] = even([
    "#9e0142", "#d53e4f", "#f46d43", "#fdae61", "#fee08b", "#ffffbf", "#e6f598", "#abdda4",
    "#66c2a5", "#3288bd", "#5e4fa2",
]);

const BRBG: [Anchor; 11] = even([
    "#543005", "#8c510a", "#bf812d", "#dfc27d", "#f6e8c3", "#f5f5f5", "#c7eae5", "#80cdc1",
    "#35978f", "#01665e", "#003c30",
]);

const PUOR: [Anchor; 11] = even([
    "#7f3b08", "#b35806", "#e08214", "#fdb863", "#fee0b6", "#f7f7f7", "#d8daeb", "#b2abd2",
    "#8073ac", "#542788", "#2d004b",
]);

const PIYG: [Anchor; 11] = even([
    "#8e0152", "#c51b7d", "#de77ae", "#f1b6da", "#fde0ef", "#f7f7f7", "#e6f5d0", "#b8e186",
    "#7fbc41", "#4d9221", "#276419",
]);

// Others.

/// Deep blue sea → cyan → green lowlands → pale yellow → brown → white peaks.
const TERRAIN: [Anchor; 6] = at([
    (0.00, "#333399"),
    (0.15, "#0099ff"),
    (0.25, "#00cc66"),
    (0.50, "#ffff99"),
    (0.75, "#805c54"),
    (1.00, "#ffffff"),
]);

/// Black → white.
const GRAY: [Anchor; 2] = even(["#000000", "#ffffff"]);

/// A named ramp and its anchors.
struct Spec {
    name: &'static str,
    anchors: &'static [Anchor],
}

const SPECS: &[Spec] = &[
    Spec {
        name: "viridis",
        anchors: &VIRIDIS,
    },
    Spec {
        name: "magma",
        anchors: &MAGMA,
    },
    Spec {
        name: "plasma",
        anchors: &PLASMA,
    },
    Spec {
        name: "inferno",
        anchors: &INFERNO,
    },
    Spec {
        name: "cividis",
        anchors: &CIVIDIS,
    },
    Spec {
        name: "greys",
        anchors: &GREYS,
    },
    Spec {
        name: "rdylgn",
        anchors: &RDYLGN,
    },
    Spec {
        name: "terrain",
        anchors: &TERRAIN,
    },
    Spec {
        name: "spectral",
        anchors: &SPECTRAL,
    },
    Spec {
        name: "blues",
        anchors: &BLUES,
    },
    Spec {
        name: "greens",
        anchors: &GREENS,
    },
    Spec {
        name: "reds",
        anchors: &REDS,
    },
    Spec {
        name: "ylgn",
        anchors: &YLGN,
    },
    Spec {
        name: "brbg",
        anchors: &BRBG,
    },
    Spec {
        name: "gray",
        anchors: &GRAY,
    },
    Spec {
        name: "oranges",
        anchors: &ORANGES,
    },
    Spec {
        name: "purples",
        anchors: &PURPLES,
    },
    Spec {
        name: "ylorrd",
        anchors: &YLORRD,
    },
    Spec {
        name: "ylgnbu",
        anchors: &YLGNBU,
    },
    Spec {
        name: "rdbu",
        anchors: &RDBU,
    },
    Spec {
        name: "rdylbu",
        anchors: &RDYLBU,
    },
    Spec {
        name: "puor",
        anchors: &PUOR,
    },
    Spec {
        name: "piyg",
        anchors: &PIYG,
    },
];

const SPEC_COUNT: usize = SPECS.len();

const NAMES_ARRAY: [&str; SPEC_COUNT] = {
    let mut names = [""; SPEC_COUNT];
    let mut i = 0;
    while i < SPEC_COUNT {
        names[i] = SPECS[i].name;
        i += 1;
    }
    names
};

/// Every named colormap (without the `_r` variants), lower case.
pub const NAMES: &[&str] = &NAMES_ARRAY;

/// The tables, built on first use: `[spec]` forward, `[SPEC_COUNT + spec]` reversed.
static LUTS: [OnceLock<Lut>; 2 * SPEC_COUNT] = [const { OnceLock::new() }; 2 * SPEC_COUNT];

/// The colour at position `t` (0..=1) of a list of anchors, per channel
/// interpolated linearly in gamma-encoded sRGB, not rounded.
fn sample(anchors: &[Anchor], t: f64) -> [f64; 3] {
    let k = anchors
        .windows(2)
        .position(|w| t <= w[1].0)
        .unwrap_or(anchors.len().saturating_sub(2));
    let (p0, c0) = anchors[k];
    let Some(&(p1, c1)) = anchors.get(k + 1) else {
        return c0.map(f64::from);
    };
    let f = if p1 > p0 {
        ((t - p0) / (p1 - p0)).clamp(0.0, 1.0)
    } else {
        0.0
    };
    std::array::from_fn(|ch| {
        let (a, b) = (f64::from(c0[ch]), f64::from(c1[ch]));
        a + (b - a) * f
    })
}

/// The 256 entries of a ramp.
fn build_lut(anchors: &[Anchor], reversed: bool) -> Lut {
    let mut lut = [[0u8; 4]; 256];
    for (i, entry) in lut.iter_mut().enumerate() {
        let pos = if reversed { 255 - i } else { i };
        let c = sample(anchors, pos as f64 / 255.0);
        *entry = [
            c[0].round().clamp(0.0, 255.0) as u8,
            c[1].round().clamp(0.0, 255.0) as u8,
            c[2].round().clamp(0.0, 255.0) as u8,
            255,
        ];
    }
    lut
}

/// The table of spec `index`, built on first use.
fn lut(index: usize, reversed: bool) -> &'static Lut {
    let slot = if reversed { SPEC_COUNT + index } else { index };
    LUTS[slot].get_or_init(|| build_lut(SPECS[index].anchors, reversed))
}

// ---------------------------------------------------------------------------
// The colormap types
// ---------------------------------------------------------------------------

/// A colormap: a continuous 256-colour ramp, discrete values, or value intervals.
#[derive(Debug, Clone, PartialEq)]
pub enum Colormap {
    /// A named 256-colour ramp, applied to values rescaled to 0..=255.
    Ramp(Ramp),
    /// Exact values → colours (the titiler `{"value": colour}` object).
    Discrete(DiscreteClasses),
    /// `[lo, hi)` intervals → colours (the titiler `[[[lo, hi], colour], ...]` list).
    Intervals(IntervalClasses),
}

/// A named ramp: 256 RGBA colours (alpha 255), shared and built once.
#[derive(Clone, Copy)]
pub struct Ramp {
    spec: usize,
    reversed: bool,
    lut: &'static Lut,
}

impl Ramp {
    /// The base name (as in [`NAMES`], without `_r`).
    pub fn base_name(&self) -> &'static str {
        SPECS[self.spec].name
    }

    /// True for the `_r` (reversed) variant.
    pub fn is_reversed(&self) -> bool {
        self.reversed
    }

    /// The canonical name: lower case, with `_r` when reversed.
    pub fn name(&self) -> String {
        if self.reversed {
            format!("{}_r", self.base_name())
        } else {
            self.base_name().to_owned()
        }
    }

    /// The 256 colours, index 0 first.
    pub fn lut(&self) -> &'static [[u8; 4]; 256] {
        self.lut
    }
}

impl fmt::Debug for Ramp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ramp").field(&self.name()).finish()
    }
}

impl PartialEq for Ramp {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec && self.reversed == other.reversed
    }
}

/// Discrete classes: exact values → colours, sorted by value, values unique.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteClasses {
    /// Class values, ascending, finite, unique.
    keys: Vec<f64>,
    /// Colour of each class.
    colors: Vec<[u8; 4]>,
    /// For `f32` data: (key as f32, class index), ascending, keys that fit in an f32 only.
    keys32: Vec<(f32, u32)>,
}

impl DiscreteClasses {
    /// The classes (value, colour), ascending by value.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (f64, [u8; 4])> + '_ {
        self.keys.iter().copied().zip(self.colors.iter().copied())
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there is no class (never the case for a parsed colormap).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Colour of a value: exact match, transparent otherwise.
    fn get(&self, value: f64) -> [u8; 4] {
        let i = self.keys.partition_point(|k| *k < value);
        match self.keys.get(i) {
            Some(k) if *k == value => self.colors[i],
            _ => TRANSPARENT,
        }
    }

    /// Colour of an f32 value: matches the key rounded to f32, so `"0.1"` matches `0.1f32`.
    fn get32(&self, value: f32) -> [u8; 4] {
        let i = self.keys32.partition_point(|(k, _)| *k < value);
        match self.keys32.get(i) {
            Some(&(k, class)) if k == value => self.colors[class as usize],
            _ => TRANSPARENT,
        }
    }
}

/// Interval classes: `[lo, hi)` → colour, sorted, non-overlapping.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalClasses {
    /// Lower bounds (inclusive), ascending.
    lo: Vec<f64>,
    /// Upper bounds (exclusive); `hi[i] <= lo[i + 1]`.
    hi: Vec<f64>,
    /// Colour of each interval.
    colors: Vec<[u8; 4]>,
}

impl IntervalClasses {
    /// The intervals (lo inclusive, hi exclusive, colour), ascending.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (f64, f64, [u8; 4])> + '_ {
        (0..self.lo.len()).map(|i| (self.lo[i], self.hi[i], self.colors[i]))
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.lo.len()
    }

    /// True when there is no interval (never the case for a parsed colormap).
    pub fn is_empty(&self) -> bool {
        self.lo.is_empty()
    }

    /// Colour of a value: the interval holding it, transparent otherwise.
    fn get(&self, value: f64) -> [u8; 4] {
        let i = self.lo.partition_point(|lo| *lo <= value);
        if i > 0 && value < self.hi[i - 1] {
            self.colors[i - 1]
        } else {
            TRANSPARENT
        }
    }
}

impl Colormap {
    /// A named colormap (`viridis`, `rdylgn_r`, …); None when unknown.
    /// Case-insensitive; the suffix `_r` reverses the ramp.
    pub fn named(name: &str) -> Option<Colormap> {
        let lower = name.to_ascii_lowercase();
        let (base, reversed) = match lower.strip_suffix("_r") {
            Some(base) => (base, true),
            None => (lower.as_str(), false),
        };
        let spec = SPECS.iter().position(|s| s.name == base)?;
        Some(Colormap::Ramp(Ramp {
            spec,
            reversed,
            lut: lut(spec, reversed),
        }))
    }

    /// Parses the titiler `colormap` JSON: either an object of discrete values
    /// `{"1": [r,g,b,a], "2": [r,g,b], "3": "#rrggbb", "4": "#rrggbbaa"}` (keys are numbers,
    /// integer or decimal), or a list of intervals `[[[lo, hi], [r,g,b,a]], ...]` (lo inclusive,
    /// hi exclusive). Errors are [`RasterError::InvalidParameter`] saying exactly what is wrong
    /// (bad JSON, a key that is not a number, a colour with wrong arity or a component out of
    /// 0..255, overlapping or reversed intervals, more than 4096 entries).
    ///
    /// Colours are `[r, g, b]` (alpha 255), `[r, g, b, a]`, or hex strings `#rgb`, `#rgba`,
    /// `#rrggbb`, `#rrggbbaa`; components are integers 0..=255. A key may not appear twice
    /// (`"1"` and `"1.0"` are the same key), nor may the map be empty.
    pub fn from_json(text: &str) -> Result<Colormap> {
        let raw: Raw =
            serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON ({e})")))?;
        match raw {
            Raw::Object { entries, count } => {
                check_count(count)?;
                parse_discrete(entries).map(Colormap::Discrete)
            }
            Raw::List { items, count } => {
                check_count(count)?;
                parse_intervals(items).map(Colormap::Intervals)
            }
            Raw::Other(kind) => Err(invalid(format!(
                "expected an object {{\"value\": colour, ...}} or a list of \
                 [[min, max], colour] intervals, got {kind}"
            ))),
        }
    }

    /// True for 256-entry ramps (applied after rescaling to 0..255).
    pub fn is_ramp(&self) -> bool {
        matches!(self, Colormap::Ramp(_))
    }

    /// Ramps: colour of an index 0..=255. Discrete and interval maps: the colour of the
    /// value `index` (as [`Colormap::classify`]).
    pub fn ramp(&self, index: u8) -> [u8; 4] {
        match self {
            Colormap::Ramp(r) => r.lut[usize::from(index)],
            _ => self.classify(f64::from(index)),
        }
    }

    /// Discrete and interval maps: colour of a value; `[0,0,0,0]` (transparent) when the value
    /// has no class. For ramps, the value is taken as an index (clamped, rounded); NaN is
    /// transparent.
    pub fn classify(&self, value: f64) -> [u8; 4] {
        match self {
            Colormap::Ramp(r) => {
                if value.is_nan() {
                    TRANSPARENT
                } else {
                    r.lut[value.round().clamp(0.0, 255.0) as usize]
                }
            }
            Colormap::Discrete(d) => d.get(value),
            Colormap::Intervals(iv) => iv.get(value),
        }
    }

    /// The entries for a legend: ramps give ~ `steps` evenly spaced (position 0..1, colour)
    /// — exactly `steps` clamped to 2..=256, labels like `"0"`, `"0.25"`, `"1"`;
    /// discrete/interval maps give their classes (label text like `"3"` or `"[10, 20)"`,
    /// colour), ascending, and ignore `steps`.
    pub fn legend(&self, steps: usize) -> Vec<(String, [u8; 4])> {
        match self {
            Colormap::Ramp(r) => {
                let n = steps.clamp(2, 256);
                (0..n)
                    .map(|k| {
                        let p = k as f64 / (n - 1) as f64;
                        let idx = (p * 255.0).round() as usize;
                        (position_label(p), r.lut[idx])
                    })
                    .collect()
            }
            Colormap::Discrete(d) => d.iter().map(|(k, c)| (number_label(k), c)).collect(),
            Colormap::Intervals(iv) => iv
                .iter()
                .map(|(lo, hi, c)| {
                    let label = format!("[{}, {})", number_label(lo), number_label(hi));
                    (label, c)
                })
                .collect(),
        }
    }

    /// Applies the map to a tile of indices 0..=255 (values already rescaled), writing
    /// 4 bytes per pixel into `out_rgba`; pixels whose `valid` is false get `[0, 0, 0, 0]`.
    /// Discrete and interval maps classify each index as a value (through a 256-entry table
    /// made once per call).
    ///
    /// # Panics
    /// When `valid.len() != indices.len()` or `out_rgba.len() != 4 * indices.len()`.
    pub fn apply_ramp(&self, indices: &[u8], valid: &[bool], out_rgba: &mut [u8]) {
        check_lengths(indices.len(), valid.len(), out_rgba.len());
        let local;
        let lut: &Lut = match self {
            Colormap::Ramp(r) => r.lut,
            _ => {
                local = std::array::from_fn(|i| self.classify(i as f64));
                &local
            }
        };
        for ((px, &i), &ok) in out_rgba.chunks_exact_mut(4).zip(indices).zip(valid) {
            let c = if ok { lut[usize::from(i)] } else { TRANSPARENT };
            px.copy_from_slice(&c);
        }
    }

    /// Applies a discrete or interval map to a tile of raw values, writing 4 bytes per pixel
    /// into `out_rgba`: the colour of the value's class (binary search over the sorted
    /// classes; discrete keys match exactly, compared as f32 so `"3"` matches `3.0` and
    /// `"0.1"` matches `0.1f32`), `[0, 0, 0, 0]` for values without a class and for pixels
    /// whose `valid` is false. For a ramp, values are indices (as [`Colormap::classify`]).
    ///
    /// # Panics
    /// When `valid.len() != values.len()` or `out_rgba.len() != 4 * values.len()`.
    pub fn apply_classes(&self, values: &[f32], valid: &[bool], out_rgba: &mut [u8]) {
        check_lengths(values.len(), valid.len(), out_rgba.len());
        let pixels = out_rgba.chunks_exact_mut(4).zip(values).zip(valid);
        match self {
            Colormap::Discrete(d) => {
                for ((px, &v), &ok) in pixels {
                    px.copy_from_slice(&if ok { d.get32(v) } else { TRANSPARENT });
                }
            }
            Colormap::Intervals(iv) => {
                for ((px, &v), &ok) in pixels {
                    px.copy_from_slice(&if ok {
                        iv.get(f64::from(v))
                    } else {
                        TRANSPARENT
                    });
                }
            }
            Colormap::Ramp(_) => {
                for ((px, &v), &ok) in pixels {
                    let c = if ok {
                        self.classify(f64::from(v))
                    } else {
                        TRANSPARENT
                    };
                    px.copy_from_slice(&c);
                }
            }
        }
    }
}

fn check_lengths(n: usize, valid: usize, out: usize) {
    assert_eq!(
        valid, n,
        "colormap: `valid` has {valid} entries for {n} pixels"
    );
    assert_eq!(
        out,
        4 * n,
        "colormap: `out_rgba` has {out} bytes for {n} RGBA pixels"
    );
}

/// A class value as legend text: `3`, `0.5`, `-2`; exponent form (`1e20`) when huge or tiny.
fn number_label(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e15).contains(&a) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// A legend position as short text: at most 3 decimals, no trailing zeros.
fn position_label(p: f64) -> String {
    let s = format!("{p:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

// ---------------------------------------------------------------------------
// Parsing the `colormap` parameter
// ---------------------------------------------------------------------------

fn invalid(msg: impl fmt::Display) -> RasterError {
    RasterError::param(format!("invalid colormap: {msg}"))
}

fn check_count(count: usize) -> Result<()> {
    if count > MAX_ENTRIES {
        return Err(invalid(format!(
            "more than {MAX_ENTRIES} entries ({count})"
        )));
    }
    if count == 0 {
        return Err(invalid("no entries"));
    }
    Ok(())
}

/// The top level of the parameter, keeping the object's entries in order
/// (duplicate keys included) and at most [`MAX_ENTRIES`] of them.
enum Raw {
    Object {
        entries: Vec<(String, Value)>,
        count: usize,
    },
    List {
        items: Vec<Value>,
        count: usize,
    },
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a colormap object or list")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Raw, A::Error> {
        let mut entries = Vec::new();
        let mut count = 0usize;
        while let Some(key) = map.next_key::<String>()? {
            count += 1;
            if count <= MAX_ENTRIES {
                entries.push((key, map.next_value::<Value>()?));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Raw::Object { entries, count })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Raw, A::Error> {
        let mut items = Vec::new();
        let mut count = 0usize;
        loop {
            if count < MAX_ENTRIES {
                match seq.next_element::<Value>()? {
                    Some(v) => items.push(v),
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            count += 1;
        }
        Ok(Raw::List { items, count })
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Raw, E> {
        Ok(Raw::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Raw, E> {
        Ok(Raw::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Raw, E> {
        Ok(Raw::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Raw, E> {
        Ok(Raw::Other("a number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<Raw, E> {
        Ok(Raw::Other("a string"))
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Raw, E> {
        Ok(Raw::Other("null"))
    }
}

/// Text for an error message, cut to a readable length.
fn excerpt(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A JSON value for an error message.
fn show(v: &Value) -> String {
    excerpt(&v.to_string())
}

/// What kind of JSON value this is, for an error message.
fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {:?}", excerpt(s)),
        Value::Array(a) => format!("a list of {} values", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// A discrete key: a finite number, -0 read as 0.
fn parse_key(key: &str) -> Result<f64> {
    let shown = excerpt(key);
    let value: f64 = key
        .parse()
        .map_err(|_| invalid(format!("key {shown:?} is not a number")))?;
    if !value.is_finite() {
        return Err(invalid(format!("key {shown:?} is not a finite number")));
    }
    Ok(value + 0.0)
}

/// A colour: `[r, g, b]`, `[r, g, b, a]`, `#rgb`, `#rgba`, `#rrggbb` or `#rrggbbaa`.
/// `what` names it in messages ("colour of key \"3\"").
fn parse_color(v: &Value, what: &dyn Fn() -> String) -> Result<[u8; 4]> {
    match v {
        Value::Array(items) => {
            if !(3..=4).contains(&items.len()) {
                return Err(invalid(format!(
                    "{}: expected [r, g, b] or [r, g, b, a], got {} components",
                    what(),
                    items.len()
                )));
            }
            let mut out = [0, 0, 0, 255];
            for (i, item) in items.iter().enumerate() {
                out[i] = parse_component(item).map_err(|why| {
                    invalid(format!("{}: component {i} ({}) {why}", what(), show(item)))
                })?;
            }
            Ok(out)
        }
        Value::String(s) => parse_hex(s).ok_or_else(|| {
            invalid(format!(
                "{}: {:?} is not a hex colour (#rgb, #rgba, #rrggbb or #rrggbbaa)",
                what(),
                excerpt(s)
            ))
        }),
        other => Err(invalid(format!(
            "{}: expected [r, g, b], [r, g, b, a] or \"#rrggbb[aa]\", got {}",
            what(),
            kind(other)
        ))),
    }
}

/// One colour component: an integer 0..=255 (`12.0` is accepted as 12).
fn parse_component(v: &Value) -> std::result::Result<u8, &'static str> {
    let Value::Number(n) = v else {
        return Err("is not a number");
    };
    if let Some(u) = n.as_u64() {
        return u8::try_from(u).map_err(|_| "is out of 0..255");
    }
    if n.as_i64().is_some() {
        return Err("is out of 0..255");
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.fract() != 0.0 {
        Err("is not an integer")
    } else if (0.0..=255.0).contains(&f) {
        Ok(f as u8)
    } else {
        Err("is out of 0..255")
    }
}

/// `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa` → RGBA.
fn parse_hex(s: &str) -> Option<[u8; 4]> {
    let digits = s.strip_prefix('#')?.as_bytes();
    let n: Vec<u8> = digits.iter().map(|&c| nibble(c)).collect::<Option<_>>()?;
    let mut out = [0, 0, 0, 255];
    match n.len() {
        3 | 4 => {
            for (o, d) in out.iter_mut().zip(&n) {
                *o = d * 17;
            }
        }
        6 | 8 => {
            for (o, d) in out.iter_mut().zip(n.chunks_exact(2)) {
                *o = d[0] * 16 + d[1];
            }
        }
        _ => return None,
    }
    Some(out)
}

fn parse_discrete(entries: Vec<(String, Value)>) -> Result<DiscreteClasses> {
    let mut classes: Vec<(f64, String, [u8; 4])> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let k = parse_key(&key)?;
        let color = parse_color(&value, &|| format!("colour of key {:?}", excerpt(&key)))?;
        classes.push((k, key, color));
    }
    // Stable: among equal keys the first written stays first, for the message.
    classes.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(w) = classes.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(invalid(if w[0].1 == w[1].1 {
            format!("key {:?} appears twice", excerpt(&w[0].1))
        } else {
            format!(
                "keys {:?} and {:?} are the same value",
                excerpt(&w[0].1),
                excerpt(&w[1].1)
            )
        }));
    }
    let keys: Vec<f64> = classes.iter().map(|c| c.0).collect();
    let colors: Vec<[u8; 4]> = classes.iter().map(|c| c.2).collect();
    // f64 → f32 is monotonic, so the order holds; keys beyond the f32 range never match f32 data.
    let keys32 = keys
        .iter()
        .enumerate()
        .filter_map(|(i, &k)| {
            let k32 = k as f32;
            k32.is_finite().then_some((k32, i as u32))
        })
        .collect();
    Ok(DiscreteClasses {
        keys,
        colors,
        keys32,
    })
}

fn parse_intervals(items: Vec<Value>) -> Result<IntervalClasses> {
    let mut classes: Vec<(f64, f64, [u8; 4])> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let here = || format!("interval at index {i}");
        let Value::Array(pair) = item else {
            return Err(invalid(format!(
                "{}: expected [[min, max], colour], got {}",
                here(),
                kind(item)
            )));
        };
        let [bounds, color] = pair.as_slice() else {
            return Err(invalid(format!(
                "{}: expected [[min, max], colour], got a list of {} values",
                here(),
                pair.len()
            )));
        };
        let (lo, hi) = match bounds {
            Value::Array(b) if b.len() == 2 => {
                let bound = |v: &Value, which: &str| -> Result<f64> {
                    v.as_f64()
                        .filter(|f| f.is_finite())
                        .map(|f| f + 0.0)
                        .ok_or_else(|| {
                            invalid(format!(
                                "{}: {which} bound {} is not a number",
                                here(),
                                show(v)
                            ))
                        })
                };
                (bound(&b[0], "lower")?, bound(&b[1], "upper")?)
            }
            other => {
                return Err(invalid(format!(
                    "{}: bounds must be [min, max], got {}",
                    here(),
                    kind(other)
                )));
            }
        };
        if lo > hi {
            return Err(invalid(format!(
                "{}: [{lo}, {hi}] is reversed (min must be below max)",
                here()
            )));
        }
        if lo == hi {
            return Err(invalid(format!(
                "{}: [{lo}, {hi}) is empty (min must be below max)",
                here()
            )));
        }
        let color = parse_color(color, &|| format!("colour of {}", here()))?;
        classes.push((lo, hi, color));
    }
    classes.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(w) = classes.windows(2).find(|w| w[0].1 > w[1].0) {
        return Err(invalid(format!(
            "intervals [{}, {}) and [{}, {}) overlap",
            w[0].0, w[0].1, w[1].0, w[1].1
        )));
    }
    Ok(IntervalClasses {
        lo: classes.iter().map(|c| c.0).collect(),
        hi: classes.iter().map(|c| c.1).collect(),
        colors: classes.iter().map(|c| c.2).collect(),
    })
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match Colormap::from_json(text) {
            Err(RasterError::InvalidParameter(msg)) => msg,
            Err(other) => panic!("{text}: wrong error kind {other:?}"),
            Ok(map) => panic!("{text}: parsed as {map:?}"),
        }
    }

    fn lut_of(name: &str) -> &'static Lut {
        match Colormap::named(name) {
            Some(Colormap::Ramp(r)) => r.lut(),
            other => panic!("{name}: {other:?}"),
        }
    }

    /// Hue in degrees, saturation and value (0..1) of an RGB colour.
    fn hsv(c: [u8; 4]) -> (f64, f64, f64) {
        let [r, g, b] = [c[0], c[1], c[2]].map(|v| f64::from(v) / 255.0);
        let max = r.max(g).max(b);
        let min = r.min(g).min(b);
        let d = max - min;
        let h = if d == 0.0 {
            0.0
        } else if max == r {
            60.0 * ((g - b) / d).rem_euclid(6.0)
        } else if max == g {
            60.0 * ((b - r) / d + 2.0)
        } else {
            60.0 * ((r - g) / d + 4.0)
        };
        (h, if max == 0.0 { 0.0 } else { d / max }, max)
    }

    #[test]
    fn every_name_resolves_in_any_case_and_reversed() {
        assert!(NAMES.len() >= 14);
        for required in [
            "viridis", "magma", "plasma", "inferno", "cividis", "greys", "rdylgn", "terrain",
            "spectral", "blues", "greens", "reds", "ylgn", "brbg",
        ] {
            assert!(NAMES.contains(&required), "{required} missing");
        }
        for name in NAMES {
            let map = Colormap::named(name).unwrap();
            assert!(map.is_ramp());
            let Colormap::Ramp(r) = &map else {
                unreachable!()
            };
            assert_eq!(r.name(), *name);
            assert!(!r.is_reversed());
            assert!(r.lut().iter().all(|c| c[3] == 255), "{name}: alpha");
            assert_eq!(Colormap::named(&name.to_uppercase()), Some(map.clone()));
            let rev = Colormap::named(&format!("{name}_r")).unwrap();
            let Colormap::Ramp(rr) = &rev else {
                unreachable!()
            };
            assert_eq!(rr.name(), format!("{name}_r"));
            assert!(rr.is_reversed());
            assert!(Colormap::named(&format!("{}_R", name.to_uppercase())).is_some());
        }
        assert_eq!(Colormap::named("RdYlGn"), Colormap::named("rdylgn"));
        for unknown in [
            "",
            "_r",
            "nope",
            "viridis_r_r",
            "viridis ",
            "r_viridis",
            "viridisr",
        ] {
            assert!(Colormap::named(unknown).is_none(), "{unknown:?}");
        }
    }

    #[test]
    fn reversed_is_the_mirror() {
        for name in NAMES {
            let fwd = lut_of(name);
            let rev = lut_of(&format!("{name}_r"));
            assert_eq!(rev[0], fwd[255], "{name}");
            assert_eq!(rev[255], fwd[0], "{name}");
            for i in 0..256 {
                assert_eq!(rev[i], fwd[255 - i], "{name} entry {i}");
            }
        }
    }

    #[test]
    fn anchors_are_hit_at_their_positions() {
        for spec in SPECS {
            let a = spec.anchors;
            assert!(a.len() >= 2, "{}", spec.name);
            assert_eq!(a[0].0, 0.0, "{}", spec.name);
            assert_eq!(a[a.len() - 1].0, 1.0, "{}", spec.name);
            assert!(
                a.windows(2).all(|w| w[0].0 < w[1].0),
                "{}: order",
                spec.name
            );
            let table = lut_of(spec.name);
            for (k, &(pos, rgb)) in a.iter().enumerate() {
                // Exactly at the anchor's position, the ramp is the anchor.
                assert_eq!(
                    sample(a, pos),
                    rgb.map(f64::from),
                    "{} anchor {k}",
                    spec.name
                );
                // The nearest table entry is within what the slope allows over the offset.
                let x = pos * 255.0;
                let idx = x.round() as usize;
                let offset = (idx as f64 - x).abs();
                let slope = |j: usize| -> f64 {
                    let (p0, c0) = a[j];
                    let (p1, c1) = a[j + 1];
                    (0..3)
                        .map(|ch| (f64::from(c1[ch]) - f64::from(c0[ch])).abs())
                        .fold(0.0, f64::max)
                        / ((p1 - p0) * 255.0)
                };
                let steep = (k.saturating_sub(1)..(k + 1).min(a.len() - 1))
                    .map(slope)
                    .fold(0.0, f64::max);
                let tolerance = 1.0 + steep * offset;
                for ch in 0..3 {
                    let d = (f64::from(table[idx][ch]) - f64::from(rgb[ch])).abs();
                    assert!(d <= tolerance, "{} anchor {k} ch {ch}: {d}", spec.name);
                }
            }
            assert_eq!(table[0][..3], a[0].1, "{}", spec.name);
            assert_eq!(table[255][..3], a[a.len() - 1].1, "{}", spec.name);
        }
    }

    #[test]
    fn viridis_goes_from_dark_purple_to_yellow() {
        let v = lut_of("viridis");
        let (h0, s0, v0) = hsv(v[0]);
        assert!((260.0..=310.0).contains(&h0), "hue at 0: {h0}");
        assert!(v0 < 0.4 && s0 > 0.5, "dark, saturated at 0: {s0} {v0}");
        let (h1, s1, v1) = hsv(v[255]);
        assert!((45.0..=65.0).contains(&h1), "hue at 255: {h1}");
        assert!(v1 > 0.9 && s1 > 0.7, "bright yellow at 255: {s1} {v1}");
        // Teal-green in the middle.
        let (hm, _, _) = hsv(v[128]);
        assert!((160.0..=200.0).contains(&hm), "hue at 128: {hm}");
        // Lightness (sum of channels, roughly) only grows.
        let lum = |c: [u8; 4]| {
            0.2126 * f64::from(c[0]) + 0.7152 * f64::from(c[1]) + 0.0722 * f64::from(c[2])
        };
        assert!(v.windows(2).all(|w| lum(w[1]) >= lum(w[0]) - 1.0));
    }

    #[test]
    fn greys_is_monotonic_and_grey() {
        let g = lut_of("greys");
        assert_eq!(g[0], [255, 255, 255, 255]);
        assert_eq!(g[255], [0, 0, 0, 255]);
        assert!(g.iter().all(|c| c[0] == c[1] && c[1] == c[2]));
        assert!(g.windows(2).all(|w| w[1][0] <= w[0][0]));
        let gray = lut_of("gray");
        assert!((0..256).all(|i| gray[i] == [i as u8, i as u8, i as u8, 255]));
    }

    #[test]
    fn diverging_maps_are_pale_in_the_middle() {
        for name in [
            "rdylgn", "spectral", "brbg", "rdbu", "rdylbu", "puor", "piyg",
        ] {
            let t = lut_of(name);
            let (_, _, v) = hsv(t[128]);
            let (_, s, _) = hsv(t[128]);
            assert!(v > 0.9 && s < 0.35, "{name}: middle {:?}", t[128]);
        }
        let (h, _, _) = hsv(lut_of("rdylgn")[0]);
        assert!(!(20.0..=340.0).contains(&h), "rdylgn starts red: {h}");
        let (h, _, _) = hsv(lut_of("rdylgn")[255]);
        assert!((100.0..=160.0).contains(&h), "rdylgn ends green: {h}");
    }

    #[test]
    fn ramp_classify_and_apply() {
        let map = Colormap::named("blues").unwrap();
        let t = lut_of("blues");
        assert_eq!(map.ramp(7), t[7]);
        assert_eq!(map.classify(7.4), t[7]);
        assert_eq!(map.classify(7.6), t[8]);
        assert_eq!(map.classify(-10.0), t[0]);
        assert_eq!(map.classify(1e9), t[255]);
        assert_eq!(map.classify(f64::NAN), TRANSPARENT);
        let mut out = [9u8; 12];
        map.apply_ramp(&[0, 255, 3], &[true, true, false], &mut out);
        assert_eq!(out[..4], t[0]);
        assert_eq!(out[4..8], t[255]);
        assert_eq!(out[8..], TRANSPARENT);
        let mut out = [9u8; 8];
        map.apply_classes(&[2.2, f32::NAN], &[true, true], &mut out);
        assert_eq!(out[..4], t[2]);
        assert_eq!(out[4..], TRANSPARENT);
    }

    #[test]
    #[should_panic(expected = "RGBA pixels")]
    fn apply_checks_lengths() {
        let map = Colormap::named("reds").unwrap();
        map.apply_ramp(&[1, 2], &[true, true], &mut [0u8; 7]);
    }

    #[test]
    fn discrete_parsing_and_classes() {
        let map = Colormap::from_json(
            r##"{"1": [255, 0, 0, 255], "2": [0, 255, 0], "3": "#0000ff", "4": "#11223344",
                 "0.5": "#abc", "-2": "#abcd", "10.0": [1, 2, 3, 0], "1e2": [4.0, 5, 6]}"##,
        )
        .unwrap();
        assert!(!map.is_ramp());
        let Colormap::Discrete(d) = &map else {
            panic!("{map:?}")
        };
        assert_eq!(d.len(), 8);
        let keys: Vec<f64> = d.iter().map(|c| c.0).collect();
        assert_eq!(keys, [-2.0, 0.5, 1.0, 2.0, 3.0, 4.0, 10.0, 100.0]);
        assert_eq!(map.classify(1.0), [255, 0, 0, 255]);
        assert_eq!(map.classify(2.0), [0, 255, 0, 255]);
        assert_eq!(map.classify(3.0), [0, 0, 255, 255]);
        assert_eq!(map.classify(4.0), [0x11, 0x22, 0x33, 0x44]);
        assert_eq!(map.classify(0.5), [0xaa, 0xbb, 0xcc, 255]);
        assert_eq!(map.classify(-2.0), [0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(map.classify(10.0), [1, 2, 3, 0]);
        assert_eq!(map.classify(100.0), [4, 5, 6, 255]);
        for none in [0.0, 1.5, 2.0000001, -1.0, 1e9, f64::NAN, f64::INFINITY] {
            assert_eq!(map.classify(none), TRANSPARENT, "{none}");
        }
        assert_eq!(map.ramp(3), [0, 0, 255, 255]);

        let values = [1.0f32, 3.0, 2.5, 0.5, 4.0, -2.0, f32::NAN, 3.0];
        let valid = [true, true, true, true, true, true, true, false];
        let mut out = vec![7u8; 4 * values.len()];
        map.apply_classes(&values, &valid, &mut out);
        let px: Vec<[u8; 4]> = out.chunks(4).map(|c| c.try_into().unwrap()).collect();
        assert_eq!(
            px,
            [
                [255, 0, 0, 255],
                [0, 0, 255, 255],
                TRANSPARENT,
                [0xaa, 0xbb, 0xcc, 255],
                [0x11, 0x22, 0x33, 0x44],
                [0xaa, 0xbb, 0xcc, 0xdd],
                TRANSPARENT,
                TRANSPARENT,
            ]
        );
        let mut out = [7u8; 12];
        map.apply_ramp(&[1, 0, 10], &[true, true, true], &mut out);
        assert_eq!(out, [255, 0, 0, 255, 0, 0, 0, 0, 1, 2, 3, 0]);
    }

    #[test]
    fn decimal_keys_match_f32_data() {
        let map =
            Colormap::from_json(r#"{"0.1": [1, 1, 1], "0.2": [2, 2, 2], "1e300": [3, 3, 3]}"#)
                .unwrap();
        let mut out = [0u8; 16];
        map.apply_classes(&[0.1, 0.2, 0.3, f32::INFINITY], &[true; 4], &mut out);
        assert_eq!(out, [1, 1, 1, 255, 2, 2, 2, 255, 0, 0, 0, 0, 0, 0, 0, 0]);
        // In f64, 0.1f32 is not 0.1.
        assert_eq!(map.classify(f64::from(0.1f32)), TRANSPARENT);
        assert_eq!(map.classify(0.1), [1, 1, 1, 255]);
        assert_eq!(map.classify(1e300), [3, 3, 3, 255]);
        // -0 and 0 are one key.
        let zero = Colormap::from_json(r#"{"-0": [9, 9, 9]}"#).unwrap();
        assert_eq!(zero.classify(0.0), [9, 9, 9, 255]);
        assert_eq!(zero.classify(-0.0), [9, 9, 9, 255]);
    }

    #[test]
    fn interval_parsing_and_classes() {
        let map = Colormap::from_json(
            r##"[[[10, 20], [255, 0, 0, 255]], [[0, 10], "#00ff00"], [[25.5, 30], [0, 0, 255]]]"##,
        )
        .unwrap();
        let Colormap::Intervals(iv) = &map else {
            panic!("{map:?}")
        };
        assert_eq!(iv.len(), 3);
        let got: Vec<_> = iv.iter().collect();
        assert_eq!(
            got,
            [
                (0.0, 10.0, [0, 255, 0, 255]),
                (10.0, 20.0, [255, 0, 0, 255]),
                (25.5, 30.0, [0, 0, 255, 255]),
            ]
        );
        assert_eq!(map.classify(0.0), [0, 255, 0, 255]);
        assert_eq!(map.classify(9.999), [0, 255, 0, 255]);
        assert_eq!(map.classify(10.0), [255, 0, 0, 255]);
        assert_eq!(map.classify(19.9), [255, 0, 0, 255]);
        for none in [20.0, 25.0, 30.0, -0.1, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(map.classify(none), TRANSPARENT, "{none}");
        }
        assert_eq!(map.classify(25.5), [0, 0, 255, 255]);
        let mut out = [1u8; 20];
        map.apply_classes(
            &[5.0, 10.0, 22.0, 29.0, 5.0],
            &[true, true, true, true, false],
            &mut out,
        );
        assert_eq!(
            out,
            [
                0, 255, 0, 255, 255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 0, 0
            ]
        );
    }

    #[test]
    fn invalid_inputs_say_what_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("", "not valid JSON"),
            ("{", "not valid JSON"),
            (r#"{"1": [1,2,3]} x"#, "not valid JSON"),
            ("42", "got a number"),
            (r#""viridis""#, "got a string"),
            ("null", "got null"),
            ("true", "got a boolean"),
            ("{}", "no entries"),
            ("[]", "no entries"),
            (r#"{"abc": [1, 2, 3]}"#, r#"key "abc" is not a number"#),
            (r#"{"": [1, 2, 3]}"#, r#"key "" is not a number"#),
            (
                r#"{"inf": [1, 2, 3]}"#,
                r#"key "inf" is not a finite number"#,
            ),
            (
                r#"{"NaN": [1, 2, 3]}"#,
                r#"key "NaN" is not a finite number"#,
            ),
            (r#"{"1e999": [1, 2, 3]}"#, "not a finite number"),
            (r#"{" 1": [1, 2, 3]}"#, r#"key " 1" is not a number"#),
            (
                r#"{"1": [1, 2]}"#,
                r#"colour of key "1": expected [r, g, b] or [r, g, b, a], got 2 components"#,
            ),
            (r#"{"1": [1, 2, 3, 4, 5]}"#, "got 5 components"),
            (
                r#"{"1": [1, 256, 3]}"#,
                r#"colour of key "1": component 1 (256) is out of 0..255"#,
            ),
            (r#"{"1": [1, 2, -1]}"#, "component 2 (-1) is out of 0..255"),
            (
                r#"{"1": [1, 2, 3, 1e3]}"#,
                "component 3 (1000.0) is out of 0..255",
            ),
            (
                r#"{"1": [1.5, 2, 3]}"#,
                "component 0 (1.5) is not an integer",
            ),
            (
                r#"{"1": ["1", 2, 3]}"#,
                r#"component 0 ("1") is not a number"#,
            ),
            (r##"{"1": "#12345"}"##, r##""#12345" is not a hex colour"##),
            (r#"{"1": "red"}"#, r#""red" is not a hex colour"#),
            (r##"{"1": "#gggggg"}"##, "is not a hex colour"),
            (r#"{"1": 255}"#, "got the number 255"),
            (r#"{"1": null}"#, "got null"),
            (
                r#"{"1": [1, 2, 3], "1": [4, 5, 6]}"#,
                r#"key "1" appears twice"#,
            ),
            (
                r#"{"1": [1, 2, 3], "1.0": [4, 5, 6]}"#,
                r#"keys "1" and "1.0" are the same value"#,
            ),
            (
                "[1]",
                "interval at index 0: expected [[min, max], colour], got the number 1",
            ),
            (
                "[[[0, 1]]]",
                "interval at index 0: expected [[min, max], colour], got a list of 1",
            ),
            (
                r#"[[0, [1, 2, 3]]]"#,
                "interval at index 0: bounds must be [min, max], got the number 0",
            ),
            (
                r#"[[[0, 1, 2], [1, 2, 3]]]"#,
                "bounds must be [min, max], got a list of 3 values",
            ),
            (
                r#"[[["a", 1], [1, 2, 3]]]"#,
                r#"interval at index 0: lower bound "a" is not a number"#,
            ),
            (
                r#"[[[0, null], [1, 2, 3]]]"#,
                "upper bound null is not a number",
            ),
            (
                r#"[[[0, 1], [1, 2, 3]], [[5, 2], [1, 2, 3]]]"#,
                "interval at index 1: [5, 2] is reversed (min must be below max)",
            ),
            (
                r#"[[[3, 3], [1, 2, 3]]]"#,
                "interval at index 0: [3, 3) is empty",
            ),
            (
                r#"[[[0, 10], [1, 2, 3]], [[5, 20], [1, 2, 3]]]"#,
                "intervals [0, 10) and [5, 20) overlap",
            ),
            (
                r#"[[[5, 20], [1, 2, 3]], [[0, 10], [1, 2, 3]]]"#,
                "intervals [0, 10) and [5, 20) overlap",
            ),
            (
                r#"[[[0, 10], [1, 2, 3]], [[0, 10], [1, 2, 3]]]"#,
                "intervals [0, 10) and [0, 10) overlap",
            ),
            (
                r#"[[[0, 1], [1, 2, 300]]]"#,
                "colour of interval at index 0: component 2 (300) is out of 0..255",
            ),
            (
                r#"[[[0, 1], {"r": 1}]]"#,
                "colour of interval at index 0: expected",
            ),
        ];
        for (text, expected) in cases {
            let msg = err(text);
            assert!(msg.starts_with("invalid colormap: "), "{text}: {msg}");
            assert!(msg.contains(expected), "{text}: {msg:?} lacks {expected:?}");
        }
        // Touching intervals are fine.
        assert!(Colormap::from_json(r#"[[[0, 10], [1, 2, 3]], [[10, 20], [1, 2, 3]]]"#).is_ok());
        // Long keys are cut in messages.
        let long = format!(r#"{{"{}": [1, 2, 3]}}"#, "x".repeat(1000));
        assert!(err(&long).len() < 100);
    }

    #[test]
    fn entry_limit() {
        let object = |n: usize| {
            let body: Vec<String> = (0..n).map(|i| format!(r#""{i}": [1, 2, 3]"#)).collect();
            format!("{{{}}}", body.join(","))
        };
        let list = |n: usize| {
            let body: Vec<String> = (0..n)
                .map(|i| format!("[[{i}, {}], [1, 2, 3]]", i + 1))
                .collect();
            format!("[{}]", body.join(","))
        };
        assert!(Colormap::from_json(&object(MAX_ENTRIES)).is_ok());
        assert!(Colormap::from_json(&list(MAX_ENTRIES)).is_ok());
        assert_eq!(
            err(&object(MAX_ENTRIES + 1)),
            "invalid colormap: more than 4096 entries (4097)"
        );
        assert_eq!(
            err(&list(5000)),
            "invalid colormap: more than 4096 entries (5000)"
        );
    }

    #[test]
    fn legends() {
        let ramp = Colormap::named("viridis").unwrap();
        let t = lut_of("viridis");
        let legend = ramp.legend(5);
        let labels: Vec<&str> = legend.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["0", "0.25", "0.5", "0.75", "1"]);
        assert_eq!(legend[0].1, t[0]);
        assert_eq!(legend[2].1, t[128]);
        assert_eq!(legend[4].1, t[255]);
        assert_eq!(ramp.legend(0).len(), 2);
        assert_eq!(ramp.legend(4)[1].0, "0.333");
        assert_eq!(ramp.legend(10_000).len(), 256);

        let discrete =
            Colormap::from_json(r##"{"3": "#ff0000", "0.5": [0, 0, 255, 128], "-1": "#000"}"##)
                .unwrap();
        assert_eq!(
            discrete.legend(99),
            [
                ("-1".to_owned(), [0, 0, 0, 255]),
                ("0.5".to_owned(), [0, 0, 255, 128]),
                ("3".to_owned(), [255, 0, 0, 255]),
            ]
        );
        let wide = Colormap::from_json(r#"{"1e300": [1, 1, 1], "-0.0000001": [2, 2, 2]}"#).unwrap();
        let labels: Vec<String> = wide.legend(0).into_iter().map(|(l, _)| l).collect();
        assert_eq!(labels, ["-1e-7", "1e300"]);
        let intervals =
            Colormap::from_json(r##"[[[20, 30.5], "#00ff00"], [[10, 20], "#ff0000"]]"##).unwrap();
        assert_eq!(
            intervals.legend(1),
            [
                ("[10, 20)".to_owned(), [255, 0, 0, 255]),
                ("[20, 30.5)".to_owned(), [0, 255, 0, 255]),
            ]
        );
    }

    /// A small fixed-seed generator (xorshift64*), so the fuzz run is reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn fuzz_from_json_never_panics() {
        const ALPHABET: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            "\"",
            ":",
            ",",
            "#",
            "0",
            "1",
            "2",
            "5",
            "9",
            "255",
            "256",
            "-",
            ".",
            "e",
            "E",
            "+",
            " ",
            "a",
            "f",
            "g",
            "null",
            "true",
            "nan",
            "inf",
            "1e999",
            "\\",
            "\u{e9}",
            "\u{1f600}",
            "\n",
            "-0",
            "4096",
        ];
        const SEEDS: &[&str] = &[
            r##"{"1": [255, 0, 0, 255], "2": "#00ff00", "3.5": "#0000ff80"}"##,
            r##"[[[0, 10], [1, 2, 3]], [[10, 20.5], "#abc"]]"##,
        ];
        let mut rng = Rng(0x7475_696c_6572_6965);
        let mut parsed = 0;
        for round in 0..4000 {
            let text = if round % 2 == 0 {
                // Random tokens.
                let n = rng.below(40);
                (0..n)
                    .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                    .collect::<String>()
            } else {
                // A valid input with a few tokens inserted, deleted or replaced.
                let mut chars: Vec<String> = SEEDS[rng.below(SEEDS.len())]
                    .chars()
                    .map(String::from)
                    .collect();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(chars.len() + 1);
                    let token = ALPHABET[rng.below(ALPHABET.len())].to_owned();
                    match rng.below(3) {
                        0 => chars.insert(at, token),
                        1 if at < chars.len() => {
                            chars.remove(at);
                        }
                        _ if at < chars.len() => chars[at] = token,
                        _ => chars.push(token),
                    }
                }
                chars.concat()
            };
            match Colormap::from_json(&text) {
                Ok(map) => {
                    parsed += 1;
                    // Whatever parsed must be usable.
                    let _ = map.legend(8);
                    let _ = map.classify(1.0);
                    let mut out = [0u8; 12];
                    map.apply_classes(&[0.0, 1.0, f32::NAN], &[true; 3], &mut out);
                }
                Err(RasterError::InvalidParameter(msg)) => assert!(!msg.is_empty()),
                Err(other) => panic!("{text:?}: {other:?}"),
            }
        }
        assert!(parsed > 0, "the mutations never produced a valid colormap");
    }
}
