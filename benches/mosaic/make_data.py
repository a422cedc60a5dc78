#!/usr/bin/python3
"""Synthetic COGs + STAC items for the z5 mosaic benchmark (benches/mosaic/run.sh).

    /usr/bin/python3 benches/mosaic/make_data.py [--out /tmp/tuilerie-mosaic] [--count 1000]
        [--seed 42] [--size 512] [--res 60] [--crs utm|3857] [--jobs 2] [--force]

Writes, under OUT:

- cogs/mb-NNNN.tif: COUNT distinct Cloud-Optimized GeoTIFFs, SIZE x SIZE pixels of RES metres,
  3 bands uint16 (B04/B03/B02-like, smooth seeded values in 150..2950, nodata 0), DEFLATE +
  horizontal predictor, 128-pixel tiles, 4 internal overviews (512 -> 256, 128, 64, 32 px).
  CRS: `utm` (default) = UTM 31N (EPSG:32631) west of 6 E, UTM 32N (EPSG:32632) east of it, as
  Sentinel-2 tiles are; `3857` = Web Mercator (no reprojection at all; a diagnostic variant).
- stac/collection.json (STAC 1.0.0 Collection `mosaic-bench`) and stac/items.ndjson (one Item per
  COG: asset `data`, COG media type, geometry = the real WGS84 footprint (edges densified),
  bbox = its extent, distinct datetimes one every ~8.8 h through 2024, projection fields).
- manifest.json: the parameters, generation time, total size, the footprint coverage of the
  z5 tile and the z5/z6/z7 tiles run.sh requests, with the number of items over each.

Every item lies inside the z5 WebMercatorQuad tile x=16 y=11 (lon 0..11.25, lat 40.98..48.92,
France) at a seeded random position. The items overlap but, together, do not cover the tile
(about 70 % of its 256x256 pixels; the generator checks it is below 100 %), so a mosaic of that
tile can never stop early: it reads every item it is given, the worst case.

Needs Debian's python3-gdal and python3-numpy (run with /usr/bin/python3: a pyenv python3 does
not see them).
"""
import argparse
import json
import math
import os
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from multiprocessing import Pool

try:
    import numpy as np
    from osgeo import gdal, osr
except ImportError as e:  # pragma: no cover
    sys.exit(f"make_data.py: {e} (apt-get install python3-gdal python3-numpy; run with /usr/bin/python3)")

gdal.UseExceptions()
osr.UseExceptions()

COLLECTION = "mosaic-bench"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
PROJ_EXT = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
EO_EXT = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
R = 6378137.0
ORIGIN = math.pi * R  # Web Mercator half-width
Z5 = (5, 16, 11)


def tile_bounds_3857(z, x, y):
    size = 2 * ORIGIN / 2**z
    return (-ORIGIN + x * size, ORIGIN - (y + 1) * size, -ORIGIN + (x + 1) * size, ORIGIN - y * size)


def merc_to_lonlat(mx, my):
    return math.degrees(mx / R), math.degrees(2 * math.atan(math.exp(my / R)) - math.pi / 2)


def lonlat_to_merc(lon, lat):
    return R * math.radians(lon), R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def srs(epsg):
    s = osr.SpatialReference()
    s.ImportFromEPSG(epsg)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


def epsg_for(lon, crs):
    if crs == "3857":
        return 3857
    return 32631 if lon < 6.0 else 32632


def plan_items(args):
    """Positions (CRS, origin), datetimes and value seeds of every item: all seeded."""
    rng = np.random.default_rng(args.seed)
    w, s, e, n = tile_bounds_3857(*Z5)
    lon0, lat0 = merc_to_lonlat(w, s)
    lon1, lat1 = merc_to_lonlat(e, n)
    half = args.size * args.res / 2
    wgs84 = srs(4326)
    transforms = {}
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    step = timedelta(days=366) / args.count
    # Distinct datetimes, assigned to positions in a random order.
    order = rng.permutation(args.count)
    items = []
    while len(items) < args.count:
        # Uniform over the tile in Web Mercator (how the tile sees it), margins so that the
        # footprint (up to ~0.45 deg wide at 49 N, rotated in UTM 32N) stays inside the tile.
        mx = rng.uniform(w, e)
        my = rng.uniform(s, n)
        lon, lat = merc_to_lonlat(mx, my)
        if not (lon0 + 0.45 < lon < lon1 - 0.45 and lat0 + 0.3 < lat < lat1 - 0.3):
            continue
        epsg = epsg_for(lon, args.crs)
        if epsg not in transforms:
            transforms[epsg] = osr.CoordinateTransformation(wgs84, srs(epsg))
        cx, cy, _ = transforms[epsg].TransformPoint(lon, lat)
        res = args.res
        if epsg == 3857:
            # Same ground size as the UTM items: Web Mercator metres are 1/cos(lat) ground metres.
            res = args.res / math.cos(math.radians(lat))
        x0 = math.floor((cx - half * res / args.res) / res) * res
        y1 = math.ceil((cy + half * res / args.res) / res) * res
        k = len(items)
        dt = start + step * int(order[k]) + timedelta(seconds=int(rng.integers(0, 600)))
        items.append(
            dict(
                id=f"mb-{k:04d}",
                epsg=epsg,
                transform=[x0, res, 0.0, y1, 0.0, -res],
                datetime=dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                cloud=round(float(rng.uniform(0, 60)), 1),
                value_seed=int(rng.integers(0, 2**31)),
            )
        )
    return items


def values(size, seed):
    """Three smooth bands, distinct per item: sums of seeded low-frequency waves."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    bands = []
    base = rng.uniform(600, 1800)
    for b in range(3):
        v = np.full((size, size), base + rng.uniform(-250, 250), dtype=np.float32)
        for _ in range(3):
            fx, fy = rng.uniform(0.3, 2.5, 2)
            px, py = rng.uniform(0, 2 * np.pi, 2)
            a = rng.uniform(120, 350)
            v += a * np.sin(2 * np.pi * fx * xx + px) * np.cos(2 * np.pi * fy * yy + py)
        bands.append(np.clip(v, 150, 2950).astype(np.uint16))
    return bands


def write_cog(task):
    item, size, path = task
    mem = gdal.GetDriverByName("MEM").Create("", size, size, 3, gdal.GDT_UInt16)
    mem.SetGeoTransform(item["transform"])
    mem.SetProjection(srs(item["epsg"]).ExportToWkt())
    for b, v in enumerate(values(size, item["value_seed"]), start=1):
        band = mem.GetRasterBand(b)
        band.SetNoDataValue(0)
        band.WriteArray(v)
        band.SetDescription(("B04", "B03", "B02")[b - 1])
    tmp = path + ".part"
    gdal.GetDriverByName("COG").CreateCopy(
        tmp,
        mem,
        options=[
            "COMPRESS=DEFLATE",
            "PREDICTOR=YES",
            "BLOCKSIZE=128",
            "OVERVIEWS=IGNORE_EXISTING",
            "OVERVIEW_COUNT=4",
            "RESAMPLING=AVERAGE",
        ],
    )
    os.replace(tmp, path)
    return os.path.getsize(path)


def footprint(item, size):
    """WGS84 ring of the raster's outline, 16 points per edge, counter-clockwise, closed."""
    x0, res, _, y1, _, nres = item["transform"]
    x1, y0 = x0 + res * size, y1 + nres * size
    t = osr.CoordinateTransformation(srs(item["epsg"]), srs(4326))
    pts = []
    for (ax, ay), (bx, by) in [((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))]:
        for k in range(16):
            f = k / 16
            pts.append((ax + (bx - ax) * f, ay + (by - ay) * f))
    ring = [list(t.TransformPoint(x, y)[:2]) for x, y in pts]
    ring = [[round(lon, 7), round(lat, 7)] for lon, lat in ring]
    ring.append(ring[0])
    return ring


def tile_of(lon, lat, z):
    mx, my = lonlat_to_merc(lon, lat)
    size = 2 * ORIGIN / 2**z
    return int((mx + ORIGIN) // size), int((ORIGIN - my) // size)


def coverage(rings, z, x, y, px=256):
    """Share of the tile's pixel centres inside at least one footprint, and items over it."""
    w, s, e, n = tile_bounds_3857(z, x, y)
    cell = (e - w) / px
    cx = w + (np.arange(px) + 0.5) * cell
    cy = n - (np.arange(px) + 0.5) * cell
    gx, gy = np.meshgrid(cx, cy)
    covered = np.zeros((px, px), dtype=bool)
    over = 0
    for ring in rings:
        merc = np.array([lonlat_to_merc(lon, lat) for lon, lat in ring])
        if merc[:, 0].max() < w or merc[:, 0].min() > e or merc[:, 1].max() < s or merc[:, 1].min() > n:
            continue
        over += 1
        # Even-odd point-in-polygon, vectorised over the tile's pixels (bbox-limited).
        i0 = max(0, int((merc[:, 0].min() - w) / cell) - 1)
        i1 = min(px, int((merc[:, 0].max() - w) / cell) + 2)
        j0 = max(0, int((n - merc[:, 1].max()) / cell) - 1)
        j1 = min(px, int((n - merc[:, 1].min()) / cell) + 2)
        if i0 >= i1 or j0 >= j1:
            continue
        X, Y = gx[j0:j1, i0:i1], gy[j0:j1, i0:i1]
        inside = np.zeros(X.shape, dtype=bool)
        for (ax, ay), (bx, by) in zip(merc[:-1], merc[1:]):
            cond = (ay > Y) != (by > Y)
            with np.errstate(divide="ignore", invalid="ignore"):
                xint = ax + (Y - ay) * (bx - ax) / (by - ay)
            inside ^= cond & (X < xint)
        covered[j0:j1, i0:i1] |= inside
    return float(covered.mean()), over


def stac_item(item, size, path, ring):
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    x0, res, _, y1, _, nres = item["transform"]
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [PROJ_EXT, EO_EXT],
        "id": item["id"],
        "collection": COLLECTION,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "bbox": [min(lons), min(lats), max(lons), max(lats)],
        "properties": {
            "datetime": item["datetime"],
            "eo:cloud_cover": item["cloud"],
            "proj:code": f"EPSG:{item['epsg']}",
            "proj:shape": [size, size],
            "proj:transform": [res, 0.0, x0, 0.0, nres, y1],
            "proj:bbox": [x0, y1 + nres * size, x0 + res * size, y1],
        },
        "links": [],
        "assets": {
            "data": {
                "href": path,
                "type": COG_TYPE,
                "roles": ["data"],
                "title": "Synthetic reflectance (B04, B03, B02), uint16, nodata 0",
                "eo:bands": [
                    {"name": "B04", "common_name": "red"},
                    {"name": "B03", "common_name": "green"},
                    {"name": "B02", "common_name": "blue"},
                ],
            }
        },
    }


def collection(items, bbox):
    dts = sorted(i["datetime"] for i in items)
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "id": COLLECTION,
        "title": "Mosaic benchmark (synthetic, 1,000 overlapping COGs in one z5 tile)",
        "description": "Synthetic Sentinel-2-like COGs (3 x uint16, 60 m, nodata 0, DEFLATE, "
        "internal overviews) placed at seeded random positions inside the z5 WebMercatorQuad "
        "tile 16/11 over France, for the low-zoom mosaic benchmark benches/mosaic/run.sh.",
        "keywords": ["synthetic", "benchmark", "mosaic"],
        "license": "CC0-1.0",
        "extent": {
            "spatial": {"bbox": [bbox]},
            "temporal": {"interval": [[dts[0], dts[-1]]]},
        },
        "links": [],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="/tmp/tuilerie-mosaic")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--res", type=float, default=60.0)
    p.add_argument("--crs", choices=["utm", "3857"], default="utm")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--force", action="store_true", help="regenerate even if the manifest matches")
    args = p.parse_args()
    out = os.path.abspath(args.out)
    params = dict(count=args.count, seed=args.seed, size=args.size, res=args.res, crs=args.crs)
    manifest_path = os.path.join(out, "manifest.json")
    if not args.force and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            if json.load(f).get("params") == params:
                print(f"make_data.py: {out} is up to date (--force to regenerate)")
                return
    cogs = os.path.join(out, "cogs")
    stac = os.path.join(out, "stac")
    for d in (cogs, stac):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    if os.path.exists(manifest_path):
        os.remove(manifest_path)

    t0 = time.monotonic()
    items = plan_items(args)
    tasks = [(i, args.size, os.path.join(cogs, i["id"] + ".tif")) for i in items]
    with Pool(max(1, args.jobs)) as pool:
        sizes = pool.map(write_cog, tasks, chunksize=8)
    t_cogs = time.monotonic() - t0

    rings = []
    with open(os.path.join(stac, "items.ndjson"), "w") as f:
        for item, (_, _, path) in zip(items, tasks):
            ring = footprint(item, args.size)
            rings.append(ring)
            f.write(json.dumps(stac_item(item, args.size, path, ring), separators=(",", ":")) + "\n")
    w, s, e, n = tile_bounds_3857(*Z5)
    lon0, lat0 = merc_to_lonlat(w, s)
    lon1, lat1 = merc_to_lonlat(e, n)
    with open(os.path.join(stac, "collection.json"), "w") as f:
        json.dump(collection(items, [lon0, lat0, lon1, lat1]), f, indent=1)
    t_total = time.monotonic() - t0

    # Tiles run.sh requests: the z5 tile, and the z6 and z7 tiles under it with the most items.
    tiles = {}
    cov5, n5 = coverage(rings, *Z5)
    if cov5 >= 1.0:
        sys.exit("make_data.py: the footprints cover the whole z5 tile; the mosaic could stop early")
    tiles["z5"] = dict(z=5, x=16, y=11, items=n5, coverage=round(cov5, 4))
    for z in (6, 7):
        k = 2 ** (z - 5)
        best = None
        for x in range(16 * k, 17 * k):
            for y in range(11 * k, 12 * k):
                cov, over = coverage(rings, z, x, y)
                if best is None or over > best["items"]:
                    best = dict(z=z, x=x, y=y, items=over, coverage=round(cov, 4))
        tiles[f"z{z}"] = best
    manifest = dict(
        params=params,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        gdal=gdal.__version__,
        numpy=np.__version__,
        jobs=args.jobs,
        seconds_cogs=round(t_cogs, 1),
        seconds_total=round(t_total, 1),
        cog_bytes=sum(sizes),
        cog_bytes_mean=round(sum(sizes) / len(sizes)),
        crs_counts={str(c): sum(1 for i in items if i["epsg"] == c) for c in sorted({i["epsg"] for i in items})},
        tiles=tiles,
    )
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
    print(json.dumps(manifest, indent=1))


if __name__ == "__main__":
    main()
