#!/usr/bin/python3
"""How many exact coordinate transformations the engine's reprojection mapping does per item.

    /usr/bin/python3 benches/mosaic/mapping_cost.py [--data /tmp/tuilerie-mosaic] [--tile 5/16/11]
        [--sample 40] [--size 256]

A diagnostic for benches/mosaic/run.sh. It mirrors `map()` of src/raster/warp.rs (as of commit
df9933e): control points every `step` target pixels over the WHOLE target grid (step starts at
side/4), the interpolation error checked by exact transforms at 5 points per cell (centre and
edge midpoints), refined (step halved) until the worst error, in pixels of the overview read, is
at most MAX_ERROR = 0.0005, or step = 1. For a sample of the generated items it prints the steps
tried, the number of points transformed, the scale (full-resolution source pixels per target
pixel) and overview factor chosen, and the same count when the grid is first cropped to the
item's footprint (the fix suggested in the report).

Python 3 + Debian's python3-gdal and python3-numpy.
"""
import argparse
import json
import math
import time

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()
osr.UseExceptions()
R = 6378137.0
ORIGIN = math.pi * R
MAX_ERROR = 0.0005


def srs(defn):
    s = osr.SpatialReference()
    s.SetFromUserInput(defn)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


class Counter:
    def __init__(self, t, inv_gt, bounds, width, height):
        self.t, self.g, self.bounds, self.w, self.h = t, inv_gt, bounds, width, height
        self.points = 0
        self.seconds = 0.0

    def exact(self, us, vs):
        minx, miny, maxx, maxy = self.bounds
        rx, ry = (maxx - minx) / self.w, (maxy - miny) / self.h
        xs = minx + np.asarray(us) * rx
        ys = maxy - np.asarray(vs) * ry
        pts = np.column_stack([xs, ys])
        t0 = time.perf_counter()
        out = np.asarray(self.t.TransformPoints(pts))
        self.seconds += time.perf_counter() - t0
        self.points += len(pts)
        g = self.g
        px = g[0] + out[:, 0] * g[1] + out[:, 1] * g[2]
        py = g[3] + out[:, 0] * g[4] + out[:, 1] * g[5]
        return px, py


def positions(size, step):
    v = list(range(0, size, step))
    v.append(size)
    return np.array(v, dtype=float)


def refine(c, overviews, full_w):
    """Mirror of warp::map's refinement loop; returns (steps tried, final step)."""
    side = max(c.w, c.h)
    step = max(side // 4, 1)
    steps = []
    while True:
        steps.append(step)
        us, vs = positions(c.w, step), positions(c.h, step)
        U, V = np.meshgrid(us, vs)
        px, py = c.exact(U.ravel(), V.ravel())
        px, py = px.reshape(U.shape), py.reshape(U.shape)
        du = np.diff(us)[None, :]
        dv = np.diff(vs)[:, None]
        sx = np.hypot(np.diff(px, axis=1), np.diff(py, axis=1))[:-1, :] / du
        sy = np.hypot(np.diff(px, axis=0), np.diff(py, axis=0))[:, :-1] / dv
        scale = float(np.maximum(sx, sy).mean())
        factor = 1.0
        for ow in overviews:
            f = full_w / ow
            if f <= scale * (1 + 1e-3) and f > factor:
                factor = f
        if step == 1:
            return steps, scale, factor
        # exact transforms at the centre and 4 edge midpoints of every cell
        cu = (us[:-1] + us[1:]) / 2
        cv = (vs[:-1] + vs[1:]) / 2
        pts_u, pts_v, interp_x, interp_y = [], [], [], []
        for r in range(len(vs) - 1):
            for k in range(len(us) - 1):
                for (u, v) in ((cu[k], cv[r]), (cu[k], vs[r]), (us[k], cv[r]), (cu[k], vs[r + 1]), (us[k + 1], cv[r])):
                    tu = (u - us[k]) / (us[k + 1] - us[k])
                    tv = (v - vs[r]) / (vs[r + 1] - vs[r])
                    top_x = px[r, k] + (px[r, k + 1] - px[r, k]) * tu
                    bot_x = px[r + 1, k] + (px[r + 1, k + 1] - px[r + 1, k]) * tu
                    top_y = py[r, k] + (py[r, k + 1] - py[r, k]) * tu
                    bot_y = py[r + 1, k] + (py[r + 1, k + 1] - py[r + 1, k]) * tu
                    interp_x.append(top_x + (bot_x - top_x) * tv)
                    interp_y.append(top_y + (bot_y - top_y) * tv)
                    pts_u.append(u)
                    pts_v.append(v)
        ex, ey = c.exact(pts_u, pts_v)
        worst = float(np.max(np.hypot(np.array(interp_x) - ex, np.array(interp_y) - ey)))
        if worst / factor <= MAX_ERROR:
            return steps, scale, factor
        step //= 2


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/tmp/tuilerie-mosaic")
    p.add_argument("--tile", default="5/16/11")
    p.add_argument("--sample", type=int, default=40)
    p.add_argument("--size", type=int, default=256)
    a = p.parse_args()
    z, x, y = map(int, a.tile.split("/"))
    size = 2 * ORIGIN / 2**z
    bounds = (-ORIGIN + x * size, ORIGIN - (y + 1) * size, -ORIGIN + (x + 1) * size, ORIGIN - y * size)
    items = [json.loads(line) for line in open(f"{a.data}/stac/items.ndjson")]
    step = max(1, len(items) // a.sample)
    rows = []
    for it in items[::step][: a.sample]:
        ds = gdal.Open(it["assets"]["data"]["href"])
        gt = ds.GetGeoTransform()
        inv = gdal.InvGeoTransform(gt)
        b1 = ds.GetRasterBand(1)
        overviews = [b1.GetOverview(i).XSize for i in range(b1.GetOverviewCount())]
        t = osr.CoordinateTransformation(srs("EPSG:3857"), srs(it["properties"]["proj:code"]))
        whole = Counter(t, inv, bounds, a.size, a.size)
        steps, scale, factor = refine(whole, overviews, ds.RasterXSize)
        # cropped: the target pixels under the item's footprint (+1 px), as the suggested fix would map
        tb = osr.CoordinateTransformation(srs("EPSG:4326"), srs("EPSG:3857"))
        ring = np.asarray(tb.TransformPoints(it["geometry"]["coordinates"][0]))
        res = (bounds[2] - bounds[0]) / a.size
        i0 = max(0, int(math.floor((ring[:, 0].min() - bounds[0]) / res)) - 1)
        i1 = min(a.size, int(math.ceil((ring[:, 0].max() - bounds[0]) / res)) + 1)
        j0 = max(0, int(math.floor((bounds[3] - ring[:, 1].max()) / res)) - 1)
        j1 = min(a.size, int(math.ceil((bounds[3] - ring[:, 1].min()) / res)) + 1)
        sub = (bounds[0] + i0 * res, bounds[3] - j1 * res, bounds[0] + i1 * res, bounds[3] - j0 * res)
        crop = Counter(t, inv, sub, i1 - i0, j1 - j0)
        csteps, _, _ = refine(crop, overviews, ds.RasterXSize)
        rows.append((it["id"], steps, whole.points, whole.seconds, scale, factor, (i1 - i0, j1 - j0), csteps, crop.points, crop.seconds))
    print(f"tile {a.tile}, {a.size}x{a.size} px, {len(rows)} sampled items (MAX_ERROR {MAX_ERROR} overview px)")
    print("item      steps tried (whole grid)       points  scale  ovr   crop px  steps (crop)   points")
    for r in rows:
        print(f"{r[0]:9} {','.join(map(str, r[1])):30} {r[2]:7d} {r[4]:6.1f} {r[5]:4.0f}  {r[6][0]:3d}x{r[6][1]:<3d}  "
              f"{','.join(map(str, r[7])):13} {r[8]:7d}")
    pts = [r[2] for r in rows]
    cpts = [r[8] for r in rows]
    # (PROJ time is not printed: through Python's osr it includes list conversions, ~7x the engine's cost.)
    print(f"mean per item: whole grid {np.mean(pts):.0f} points transformed; cropped to the footprint {np.mean(cpts):.0f}")


if __name__ == "__main__":
    main()
