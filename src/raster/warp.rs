//! Reprojection: where every pixel of a target grid falls in a dataset, and
//! resampling the dataset's values there.
//!
//! Coordinates are transformed exactly on a coarse grid of control points and
//! interpolated in between; the grid is refined until the interpolation error,
//! checked against exact transforms at the cell centres, is below
//! [`MAX_ERROR`] source pixels (at the overview read). This is GDAL's
//! "approximate transformer" idea, with a tighter bound than gdalwarp's
//! default 0.125 px. The overview whose resolution is the coarsest still at
//! least as fine as the target is read, once, as one window; every band of
//! the dataset is then resampled from it with the same pixel mapping.

use super::error::{RasterError, Result};
use super::read::DatasetInfo;
use gdal::spatial_ref::CoordTransform;

/// Largest interpolation error accepted, in source pixels (of the overview read).
pub const MAX_ERROR: f64 = 0.002;

/// A target grid: `width` × `height` pixels covering `bounds` in `crs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// CRS definition (`EPSG:3857`, WKT, …).
    pub crs: String,
    /// (minx, miny, maxx, maxy), x = easting or longitude.
    pub bounds: [f64; 4],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// Resampling kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resampling {
    /// Nearest neighbour (the default, as in gdalwarp, titiler and MapServer).
    #[default]
    Nearest,
    /// Bilinear interpolation of the 4 nearest pixels.
    Bilinear,
    /// Cubic convolution (Keys, a = -0.5) on 4 × 4 pixels.
    Cubic,
    /// Mean of the source pixels under each target pixel.
    Average,
}

impl Resampling {
    /// Parses `nearest`, `bilinear`, `cubic`, `average`.
    pub fn parse(s: &str) -> Result<Resampling> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "nearest" | "near" => Resampling::Nearest,
            "bilinear" => Resampling::Bilinear,
            "cubic" => Resampling::Cubic,
            "average" => Resampling::Average,
            other => {
                return Err(RasterError::param(format!(
                    "resampling '{other}' is not one of nearest, bilinear, cubic, average"
                )));
            }
        })
    }

    /// Extra source pixels the kernel reads around a point.
    fn margin(self) -> usize {
        match self {
            Resampling::Nearest => 1,
            Resampling::Bilinear => 2,
            Resampling::Cubic => 3,
            Resampling::Average => 2,
        }
    }
}

/// Where a grid's pixels fall in a dataset.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The overview to read (`None`: full resolution).
    pub overview: Option<usize>,
    /// The window to read, `(x, y, width, height)` in the overview's pixels.
    pub window: (usize, usize, usize, usize),
    /// The size the window is read at (smaller than the window when GDAL
    /// decimates it); `xs`/`ys` are in this buffer's pixels.
    pub buffer: (usize, usize),
    /// Source x of each target pixel centre, relative to the window (NaN: unmapped).
    pub xs: Vec<f32>,
    /// Source y, likewise.
    pub ys: Vec<f32>,
    /// Buffer pixels per target pixel.
    pub scale: f64,
    /// Target width (pixels per row of `xs`/`ys`).
    pub width: usize,
}

/// Transforms points in place; `false` where a point cannot be transformed.
fn transform_points(t: &CoordTransform, xs: &mut [f64], ys: &mut [f64]) -> Vec<bool> {
    let n = xs.len();
    let mut ok = vec![0i32; n];
    // SAFETY: the handle is valid for the lifetime of `t`; the three buffers
    // hold `n` elements each (z is null), as OCTTransformEx requires.
    unsafe {
        gdal_sys::OCTTransformEx(
            t.to_c_hct(),
            n as i32,
            xs.as_mut_ptr(),
            ys.as_mut_ptr(),
            std::ptr::null_mut(),
            ok.as_mut_ptr(),
        );
    }
    ok.iter()
        .zip(xs.iter().zip(ys.iter()))
        .map(|(&ok, (x, y))| ok != 0 && x.is_finite() && y.is_finite())
        .collect()
}

/// Control points: exact source pixel coordinates at target pixel positions.
struct Control {
    cols: usize,
    rows: usize,
    /// Target pixel positions of the columns and rows.
    us: Vec<f64>,
    vs: Vec<f64>,
    px: Vec<f64>,
    py: Vec<f64>,
    ok: Vec<bool>,
}

/// Full-resolution source pixel coordinates of target pixel positions.
fn exact(
    t: &CoordTransform,
    info: &DatasetInfo,
    grid: &Grid,
    points: &[(f64, f64)],
) -> (Vec<f64>, Vec<f64>, Vec<bool>) {
    let [minx, miny, maxx, maxy] = grid.bounds;
    let rx = (maxx - minx) / grid.width as f64;
    let ry = (maxy - miny) / grid.height as f64;
    let mut xs: Vec<f64> = points.iter().map(|(u, _)| minx + u * rx).collect();
    let mut ys: Vec<f64> = points.iter().map(|(_, v)| maxy - v * ry).collect();
    let ok = transform_points(t, &mut xs, &mut ys);
    let g = &info.inverse;
    let px = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| g[0] + x * g[1] + y * g[2])
        .collect();
    let py = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| g[3] + x * g[4] + y * g[5])
        .collect();
    (px, py, ok)
}

fn positions(size: usize, step: usize) -> Vec<f64> {
    let mut v: Vec<f64> = (0..size).step_by(step).map(|p| p as f64).collect();
    v.push(size as f64);
    v
}

fn control(t: &CoordTransform, info: &DatasetInfo, grid: &Grid, step: usize) -> Control {
    let us = positions(grid.width, step);
    let vs = positions(grid.height, step);
    let points: Vec<(f64, f64)> = vs
        .iter()
        .flat_map(|v| us.iter().map(move |u| (*u, *v)))
        .collect();
    let (px, py, ok) = exact(t, info, grid, &points);
    Control {
        cols: us.len(),
        rows: vs.len(),
        us,
        vs,
        px,
        py,
        ok,
    }
}

impl Control {
    /// Interpolated source coordinates at a target position inside cell (c, r).
    fn at(&self, c: usize, r: usize, u: f64, v: f64) -> Option<(f64, f64)> {
        let i = r * self.cols + c;
        let corners = [i, i + 1, i + self.cols, i + self.cols + 1];
        if corners.iter().any(|&k| !self.ok[k]) {
            return None;
        }
        let tu = (u - self.us[c]) / (self.us[c + 1] - self.us[c]);
        let tv = (v - self.vs[r]) / (self.vs[r + 1] - self.vs[r]);
        let lerp = |a: &[f64]| {
            let top = a[corners[0]] + (a[corners[1]] - a[corners[0]]) * tu;
            let bottom = a[corners[2]] + (a[corners[3]] - a[corners[2]]) * tu;
            top + (bottom - top) * tv
        };
        Some((lerp(&self.px), lerp(&self.py)))
    }

    /// Source pixels per target pixel (the larger axis), averaged over the grid.
    fn scale(&self) -> f64 {
        let mut total = 0.0;
        let mut n = 0;
        for r in 0..self.rows - 1 {
            for c in 0..self.cols - 1 {
                let i = r * self.cols + c;
                if !(self.ok[i] && self.ok[i + 1] && self.ok[i + self.cols]) {
                    continue;
                }
                let du = self.us[c + 1] - self.us[c];
                let dv = self.vs[r + 1] - self.vs[r];
                let sx = ((self.px[i + 1] - self.px[i]).hypot(self.py[i + 1] - self.py[i])) / du;
                let sy = ((self.px[i + self.cols] - self.px[i])
                    .hypot(self.py[i + self.cols] - self.py[i]))
                    / dv;
                total += sx.max(sy);
                n += 1;
            }
        }
        if n == 0 { 1.0 } else { total / n as f64 }
    }
}

/// Where the grid's pixels fall in the dataset; `None` when the grid and the
/// dataset do not overlap.
pub fn map(
    t: &CoordTransform,
    info: &DatasetInfo,
    grid: &Grid,
    resampling: Resampling,
) -> Result<Option<Mapping>> {
    if grid.width == 0 || grid.height == 0 || grid.width > 4096 || grid.height > 4096 {
        return Err(RasterError::param(
            "the output size must be between 1 and 4096 pixels",
        ));
    }
    let side = grid.width.max(grid.height);
    let mut step = (side / 4).max(1);
    let (ctl, factor, overview) = loop {
        let ctl = control(t, info, grid, step);
        let scale = ctl.scale();
        let (overview, factor) = choose_overview(info, scale);
        if step == 1 {
            break (ctl, factor, overview);
        }
        // Check the interpolation against exact transforms at cell centres
        // and edge midpoints: reprojections between conformal projections
        // (Mercator, transverse Mercator, Lambert) are saddle-shaped, and
        // bilinear interpolation is then exact at the centres but not on
        // the edges.
        let mut centres = Vec::new();
        let mut cells = Vec::new();
        let (last_c, last_r) = (ctl.cols - 2, ctl.rows - 2);
        for r in 0..=last_r {
            for c in 0..=last_c {
                let u = (ctl.us[c] + ctl.us[c + 1]) / 2.0;
                let v = (ctl.vs[r] + ctl.vs[r + 1]) / 2.0;
                // Centre, top and left edges; bottom and right on the last row and column.
                let mut points = vec![(u, v), (u, ctl.vs[r]), (ctl.us[c], v)];
                if r == last_r {
                    points.push((u, ctl.vs[r + 1]));
                }
                if c == last_c {
                    points.push((ctl.us[c + 1], v));
                }
                for point in points {
                    centres.push(point);
                    cells.push((c, r));
                }
            }
        }
        let (px, py, ok) = exact(t, info, grid, &centres);
        let mut worst: f64 = 0.0;
        for (k, &(c, r)) in cells.iter().enumerate() {
            let (u, v) = centres[k];
            match (ctl.at(c, r, u, v), ok[k]) {
                (Some((x, y)), true) => worst = worst.max((x - px[k]).hypot(y - py[k])),
                (None, false) => {}
                _ => worst = f64::INFINITY,
            }
        }
        let error = worst / factor;
        if error <= MAX_ERROR {
            break (ctl, factor, overview);
        }
        // The interpolation error falls with the square of the step: go
        // straight to the step that should meet the bound (with a margin).
        let target = if error.is_finite() {
            step as f64 / ((error / MAX_ERROR).sqrt() * 1.5)
        } else {
            step as f64 / 2.0
        };
        let mut next = 1;
        while next * 2 <= target as usize {
            next *= 2;
        }
        step = next.min(step / 2).max(1);
    };
    tracing::trace!(step, "warp: control grid step");

    // Source coordinates of every target pixel centre, in overview pixels.
    let (w, h) = (grid.width, grid.height);
    let mut xs = vec![f32::NAN; w * h];
    let mut ys = vec![f32::NAN; w * h];
    let (ovr_w, ovr_h) = match overview {
        Some(o) => info.overviews[o],
        None => (info.width, info.height),
    };
    let fx = info.width as f64 / ovr_w as f64;
    let fy = info.height as f64 / ovr_h as f64;
    let (mut minx, mut miny, mut maxx, mut maxy) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    let cols = ctl.cols;
    let (mut row_x, mut row_y, mut row_ok) = (vec![0.0; cols], vec![0.0; cols], vec![false; cols]);
    let (limit_x, limit_y) = (ovr_w as f64 + 2.0, ovr_h as f64 + 2.0);
    for j in 0..h {
        // Interpolate the control rows around this pixel row once, then
        // walk along the row linearly, cell by cell.
        let v = j as f64 + 0.5;
        let r = ctl
            .vs
            .partition_point(|&p| p <= v)
            .saturating_sub(1)
            .min(ctl.rows - 2);
        let tv = (v - ctl.vs[r]) / (ctl.vs[r + 1] - ctl.vs[r]);
        for c in 0..cols {
            let (a, b) = (r * cols + c, (r + 1) * cols + c);
            row_x[c] = (ctl.px[a] + (ctl.px[b] - ctl.px[a]) * tv) / fx;
            row_y[c] = (ctl.py[a] + (ctl.py[b] - ctl.py[a]) * tv) / fy;
            row_ok[c] = ctl.ok[a] && ctl.ok[b];
        }
        let row = &mut xs[j * w..(j + 1) * w];
        let row_ys = &mut ys[j * w..(j + 1) * w];
        for c in 0..cols - 1 {
            // Pixels whose centre u = i + 0.5 lies in [us[c], us[c + 1]).
            let (u0, u1) = (ctl.us[c], ctl.us[c + 1]);
            let first = (u0 - 0.5).ceil().max(0.0) as usize;
            let end = if c + 2 == cols {
                w
            } else {
                ((u1 - 0.5).ceil().max(0.0) as usize).min(w)
            };
            if first >= end || !(row_ok[c] && row_ok[c + 1]) {
                continue;
            }
            let dx = (row_x[c + 1] - row_x[c]) / (u1 - u0);
            let dy = (row_y[c + 1] - row_y[c]) / (u1 - u0);
            for i in first..end {
                let t = i as f64 + 0.5 - u0;
                let (x, y) = (row_x[c] + dx * t, row_y[c] + dy * t);
                // Points well outside the dataset map to nothing.
                if !(-2.0..=limit_x).contains(&x) || !(-2.0..=limit_y).contains(&y) {
                    continue;
                }
                minx = minx.min(x);
                miny = miny.min(y);
                maxx = maxx.max(x);
                maxy = maxy.max(y);
                row[i] = x as f32;
                row_ys[i] = y as f32;
            }
        }
    }
    if minx > maxx {
        return Ok(None);
    }
    let m = resampling.margin() as f64
        + if resampling == Resampling::Average {
            ctl.scale() / factor
        } else {
            0.0
        };
    let x0 = (minx - m).floor().max(0.0) as usize;
    let y0 = (miny - m).floor().max(0.0) as usize;
    let x1 = ((maxx + m).ceil() as usize).min(ovr_w);
    let y1 = ((maxy + m).ceil() as usize).min(ovr_h);
    if x0 >= x1 || y0 >= y1 {
        return Ok(None);
    }
    // Far more source pixels than target pixels (no overview fine enough, e.g.
    // a GeoTIFF without overviews at a low zoom): let GDAL decimate the window
    // while reading, to about two source pixels per target pixel.
    let (ww, wh) = (x1 - x0, y1 - y0);
    let scale = ctl.scale() / factor;
    let decimation = (scale / 2.0).floor().max(1.0);
    let buffer = (
        ((ww as f64 / decimation).ceil() as usize).max(1),
        ((wh as f64 / decimation).ceil() as usize).max(1),
    );
    let (kx, ky) = (buffer.0 as f32 / ww as f32, buffer.1 as f32 / wh as f32);
    for k in 0..w * h {
        xs[k] = (xs[k] - x0 as f32) * kx;
        ys[k] = (ys[k] - y0 as f32) * ky;
    }
    Ok(Some(Mapping {
        overview,
        window: (x0, y0, ww, wh),
        buffer,
        xs,
        ys,
        scale: scale / decimation,
        width: w,
    }))
}

/// The coarsest overview whose decimation is at most `scale` (source pixels
/// per target pixel): `(index, decimation)`, or `(None, 1)` for full resolution.
fn choose_overview(info: &DatasetInfo, scale: f64) -> (Option<usize>, f64) {
    let mut best = (None, 1.0);
    for (i, (w, _)) in info.overviews.iter().enumerate() {
        let factor = info.width as f64 / *w as f64;
        if factor <= scale * (1.0 + 1e-3) && factor > best.1 {
            best = (Some(i), factor);
        }
    }
    best
}

/// Keys cubic convolution weight (a = -0.5).
fn cubic_weight(t: f64) -> f64 {
    let t = t.abs();
    if t <= 1.0 {
        (1.5 * t - 2.5) * t * t + 1.0
    } else if t < 2.0 {
        ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0
    } else {
        0.0
    }
}

/// `floor` for values that are at least -2^31 (a cast, not a libm call).
#[inline]
fn floor_i(v: f64) -> isize {
    let t = v as isize;
    if (t as f64) > v { t - 1 } else { t }
}

impl Mapping {
    /// For nearest-neighbour resampling: the buffer index of every target
    /// pixel ([`NO_PIXEL`] where unmapped), shared by all bands read
    /// through this mapping.
    pub fn nearest_indices(&self) -> Vec<u32> {
        let (ww, wh) = self.buffer;
        self.xs
            .iter()
            .zip(&self.ys)
            .map(|(&x, &y)| {
                // NaN compares false: unmapped.
                if x >= 0.0 && y >= 0.0 {
                    let (xi, yi) = (x as usize, y as usize);
                    if xi < ww && yi < wh {
                        return (yi * ww + xi) as u32;
                    }
                }
                NO_PIXEL
            })
            .collect()
    }
}

/// An unmapped pixel in [`Mapping::nearest_indices`].
pub const NO_PIXEL: u32 = u32::MAX;

/// Nearest-neighbour resampling through precomputed indices.
pub fn resample_nearest(
    indices: &[u32],
    values: &[f32],
    valid: &[bool],
    out: &mut [f32],
    out_valid: &mut [bool],
) {
    for ((k, o), ov) in indices.iter().zip(out.iter_mut()).zip(out_valid.iter_mut()) {
        if *k == NO_PIXEL {
            *ov = false;
        } else {
            let k = *k as usize;
            *o = values[k];
            *ov = valid[k];
        }
    }
}

/// Resamples one band: `values` and `valid` hold the mapping's window; the
/// results go to `out` and `out_valid` (one entry per target pixel).
pub fn resample(
    m: &Mapping,
    values: &[f32],
    valid: &[bool],
    resampling: Resampling,
    out: &mut [f32],
    out_valid: &mut [bool],
) {
    if resampling == Resampling::Nearest {
        resample_nearest(&m.nearest_indices(), values, valid, out, out_valid);
        return;
    }
    let (ww, wh) = m.buffer;
    let at = |x: isize, y: isize| -> Option<f32> {
        if x < 0 || y < 0 || x as usize >= ww || y as usize >= wh {
            return None;
        }
        let k = y as usize * ww + x as usize;
        valid[k].then_some(values[k])
    };
    for (k, (o, ov)) in out.iter_mut().zip(out_valid.iter_mut()).enumerate() {
        let (sx, sy) = (m.xs[k], m.ys[k]);
        *ov = false;
        if sx.is_nan() {
            continue;
        }
        let (sx, sy) = (sx as f64, sy as f64);
        let value = match resampling {
            Resampling::Nearest => at(floor_i(sx), floor_i(sy)).map(f64::from),
            Resampling::Bilinear | Resampling::Cubic => {
                let (fx, fy) = (sx - 0.5, sy - 0.5);
                let (x0, y0) = (floor_i(fx), floor_i(fy));
                let (tx, ty) = (fx - x0 as f64, fy - y0 as f64);
                let mut sum = 0.0;
                let mut weights = 0.0;
                if resampling == Resampling::Bilinear {
                    for (dx, dy, wgt) in [
                        (0, 0, (1.0 - tx) * (1.0 - ty)),
                        (1, 0, tx * (1.0 - ty)),
                        (0, 1, (1.0 - tx) * ty),
                        (1, 1, tx * ty),
                    ] {
                        if let Some(v) = at(x0 + dx, y0 + dy) {
                            sum += v as f64 * wgt;
                            weights += wgt;
                        }
                    }
                } else {
                    for dy in -1..=2isize {
                        let wy = cubic_weight(ty - dy as f64);
                        for dx in -1..=2isize {
                            let wgt = wy * cubic_weight(tx - dx as f64);
                            if let Some(v) = at(x0 + dx, y0 + dy) {
                                sum += v as f64 * wgt;
                                weights += wgt;
                            }
                        }
                    }
                }
                (weights.abs() > 1e-9).then(|| sum / weights)
            }
            Resampling::Average => {
                let half = (m.scale / 2.0).max(0.5);
                let (xa, xb) = ((sx - half).floor() as isize, (sx + half).ceil() as isize);
                let (ya, yb) = ((sy - half).floor() as isize, (sy + half).ceil() as isize);
                let mut sum = 0.0;
                let mut n = 0.0;
                for y in ya..yb {
                    for x in xa..xb {
                        // Pixels whose centre is inside the footprint.
                        let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
                        if (cx - sx).abs() > half || (cy - sy).abs() > half {
                            continue;
                        }
                        if let Some(v) = at(x, y) {
                            sum += v as f64;
                            n += 1.0;
                        }
                    }
                }
                (n > 0.0).then(|| sum / n)
            }
        };
        if let Some(v) = value {
            *o = v as f32;
            *ov = true;
        }
    }
}
