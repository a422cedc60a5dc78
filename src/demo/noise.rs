//! Deterministic noise for the demo data: a seeded random generator, lattice
//! hashes, value noise, fractal sums of it and cellular (Voronoi) noise.
//!
//! Everything here is a pure function of its seed and coordinates, so the
//! same place gets the same landscape in every scene that covers it, whatever
//! the scene's projection or resolution.

/// A small deterministic generator (SplitMix64): same seed, same sequence.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// The SplitMix64 finaliser: a good 64-bit mixing function.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of a lattice point.
#[inline]
pub fn hash(seed: u64, x: i64, y: i64) -> u64 {
    mix(seed
        ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
}

/// A lattice point's hash as a number in [0, 1).
#[inline]
pub fn hash_unit(seed: u64, x: i64, y: i64) -> f64 {
    (hash(seed, x, y) >> 11) as f64 / (1u64 << 53) as f64
}

/// `x.floor()` as an integer, inlined (the libm call is slow without SSE4.1).
#[inline]
pub fn floor(x: f64) -> i64 {
    let i = x as i64;
    if (i as f64) > x { i - 1 } else { i }
}

/// Quintic fade, 0 → 0 and 1 → 1 with flat ends.
#[inline]
fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

/// Smooth step from 0 (at `a`) to 1 (at `b`).
#[inline]
pub fn smoothstep(a: f64, b: f64, x: f64) -> f64 {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Linear interpolation.
#[inline]
pub fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

/// Value noise in [-1, 1] with unit lattice spacing: random values at the
/// integer points, smoothly interpolated between them.
#[inline]
pub fn value(seed: u64, x: f64, y: f64) -> f64 {
    let (ix, iy) = (floor(x), floor(y));
    let (tx, ty) = (fade(x - ix as f64), fade(y - iy as f64));
    let v = |dx: i64, dy: i64| hash_unit(seed, ix + dx, iy + dy);
    let a = lerp(v(0, 0), v(1, 0), tx);
    let b = lerp(v(0, 1), v(1, 1), tx);
    lerp(a, b, ty) * 2.0 - 1.0
}

/// Octave `k`'s rotation (cos, sin), so that octaves do not share the
/// lattice's axes and no grid shows through.
#[inline]
fn rotation(k: u32) -> (f64, f64) {
    const ROT: [(f64, f64); 8] = [
        (1.0, 0.0),
        (0.877_582_561_890_372_8, 0.479_425_538_604_203),
        (0.540_302_305_868_139_8, 0.841_470_984_807_896_5),
        (0.070_737_201_667_702_9, 0.997_494_986_604_054_4),
        (-0.416_146_836_547_142_4, 0.909_297_426_825_681_7),
        (-0.801_143_615_546_934_2, 0.598_472_144_103_956_5),
        (-0.989_992_496_600_445_4, 0.141_120_008_059_867_2),
        (-0.936_456_687_290_796_1, -0.350_783_227_689_619_8),
    ];
    ROT[((k + 1) % 8) as usize]
}

/// Fractal (fBm) value noise: octaves of [`value`] from `wavelength` metres
/// down to (but not below) `finest` metres, each half the wavelength and
/// half the amplitude of the previous one.
///
/// The sum is normalised by the amplitude of the *infinite* series, so a
/// coarse rendering (large `finest`) of a place is the low-pass version of a
/// fine one: the same landscape at every resolution, in about [-1, 1]
/// (standard deviation about 0.3).
pub fn fbm(seed: u64, x: f64, y: f64, wavelength: f64, finest: f64) -> f64 {
    fbm_band(seed, x, y, wavelength, f64::INFINITY, finest)
}

/// The octaves of `fbm(seed, x, y, wavelength, _)` whose wavelength lies in
/// [`finest`, `below`): what `fbm(.., finest)` adds to `fbm(.., below)`.
pub fn fbm_band(seed: u64, x: f64, y: f64, wavelength: f64, below: f64, finest: f64) -> f64 {
    let mut sum = 0.0;
    let mut w = wavelength;
    let mut amp = 1.0;
    let mut k = 0;
    while w >= finest && k < 16 {
        if w < below {
            let (c, s) = rotation(k);
            let (u, v) = ((c * x - s * y) / w, (s * x + c * y) / w);
            sum += amp
                * value(
                    seed.wrapping_add((k as u64).wrapping_mul(0x632B_E59B_D9B4_E019)),
                    u,
                    v,
                );
        }
        w *= 0.5;
        amp *= 0.5;
        k += 1;
    }
    sum * 0.5
}

/// Ridged fractal noise in about [0, 1]: sharp crests and rounded valleys,
/// for mountain ranges.
pub fn ridged(seed: u64, x: f64, y: f64, wavelength: f64, finest: f64) -> f64 {
    let mut sum = 0.0;
    let mut w = wavelength;
    let mut amp = 1.0;
    let mut k = 0;
    while w >= finest && k < 12 {
        let (c, s) = rotation(k);
        let (u, v) = ((c * x - s * y) / w, (s * x + c * y) / w);
        let r = 1.0
            - value(
                seed.wrapping_add((k as u64).wrapping_mul(0x632B_E59B_D9B4_E019)),
                u,
                v,
            )
            .abs();
        sum += amp * r * r;
        w *= 0.5;
        amp *= 0.5;
        k += 1;
    }
    // Normalised by the infinite series, as fbm is, so resolutions agree.
    sum * 0.5
}

/// The nearest and second-nearest feature points of cellular noise.
#[derive(Debug, Clone, Copy)]
pub struct Cell {
    /// Hash of the nearest feature point's lattice cell: the cell's identity.
    pub id: u64,
    /// Distance to the nearest feature point (lattice units).
    pub f1: f64,
    /// Distance to the second nearest feature point (lattice units).
    pub f2: f64,
}

impl Cell {
    /// Approximate distance to the border with the neighbouring cell
    /// (lattice units): zero on the border.
    pub fn border(&self) -> f64 {
        (self.f2 - self.f1) * 0.5
    }

    /// A number in [0, 1) drawn from the cell's identity and `salt`.
    pub fn unit(&self, salt: u64) -> f64 {
        (mix(self.id ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Cellular (Voronoi) noise with one jittered feature point per unit
/// lattice cell.
pub fn cellular(seed: u64, x: f64, y: f64) -> Cell {
    let (ix, iy) = (floor(x), floor(y));
    let mut best = Cell {
        id: 0,
        f1: f64::MAX,
        f2: f64::MAX,
    };
    for dy in -1..=1 {
        for dx in -1..=1 {
            let h = hash(seed, ix + dx, iy + dy);
            let jx = (h & 0xFFFF) as f64 / 65536.0;
            let jy = ((h >> 16) & 0xFFFF) as f64 / 65536.0;
            let px = (ix + dx) as f64 + 0.1 + 0.8 * jx;
            let py = (iy + dy) as f64 + 0.1 + 0.8 * jy;
            let d = ((px - x) * (px - x) + (py - y) * (py - y)).sqrt();
            if d < best.f1 {
                best.f2 = best.f1;
                best.f1 = d;
                best.id = h;
            } else if d < best.f2 {
                best.f2 = d;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_uniform() {
        let (mut a, mut b) = (Rng(42), Rng(42));
        let mut sum = 0.0;
        for _ in 0..10_000 {
            let x = a.unit();
            assert_eq!(x, b.unit());
            assert!((0.0..1.0).contains(&x));
            sum += x;
        }
        assert!((sum / 10_000.0 - 0.5).abs() < 0.02);
    }

    #[test]
    fn value_noise_is_bounded_and_continuous() {
        let mut prev = value(7, 0.0, 0.3);
        for i in 1..10_000 {
            let x = i as f64 * 0.001;
            let v = value(7, x, 0.3);
            assert!((-1.0..=1.0).contains(&v));
            assert!((v - prev).abs() < 0.01, "jump at {x}");
            prev = v;
        }
    }

    #[test]
    fn fbm_is_centred_and_coarse_renderings_are_low_passes() {
        let (mut sum, mut sq, n) = (0.0, 0.0, 40_000);
        for i in 0..n {
            let (x, y) = ((i % 200) as f64 * 37.0, (i / 200) as f64 * 41.0);
            let v = fbm(3, x, y, 1000.0, 10.0);
            sum += v;
            sq += v * v;
            let coarse = fbm(3, x, y, 1000.0, 100.0);
            let band = fbm_band(3, x, y, 1000.0, 100.0, 10.0);
            assert!((coarse + band - v).abs() < 1e-12);
        }
        let mean = sum / n as f64;
        let sd = (sq / n as f64 - mean * mean).sqrt();
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((0.15..0.45).contains(&sd), "sd {sd}");
    }

    #[test]
    fn fast_floor() {
        for x in [-2.5, -2.0, -0.1, 0.0, 0.3, 1.0, 7.9, -1e7 - 0.5, 1e7 + 0.5] {
            assert_eq!(floor(x), x.floor() as i64, "{x}");
        }
    }

    #[test]
    fn cells_have_borders() {
        let c = cellular(1, 0.5, 0.5);
        assert!(c.f1 <= c.f2);
        assert!(c.border() >= 0.0);
        let same = cellular(1, 0.5, 0.5);
        assert_eq!(c.id, same.id);
    }
}
