#!/usr/bin/env python3
"""End-to-end checks of Tuilerie's WMS with OWSLib (the library QGIS plugins and
Python users reach for), in WMS 1.1.1 and 1.3.0.

    python tests/clients/test_wms_owslib.py ROOT_URL DEMO_DIR

ROOT_URL is a running `tuilerie demo` server, DEMO_DIR its directory (the demo
rasters are read with GDAL's command-line tools for reference values).
Plain script (no pytest): one line per check; exits 0 when all passed, 1 otherwise.

What it checks, for each version
  capabilities  WebMapService() parses the document; the six shipped collections are
                layers; every layer lists EPSG:3857 and EPSG:4326; styles per preset;
                the TIME dimension of Sentinel-2 lists the demo item's day.
  getmap        GetMap returns exactly the requested size and format (PNG, JPEG, WebP).
  transparent   TRANSPARENT=TRUE gives an alpha channel, transparent outside the data;
                FALSE gives none.
  featureinfo   GetFeatureInfo (JSON) gives the item id and the band values that
                gdallocationinfo reads from the source COGs at the same point.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import urllib.request

from owslib.wms import WebMapService
from PIL import Image

FAILURES: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}")
    if not ok:
        FAILURES.append(name)


def demo_s2_item(root: str) -> dict:
    """A demo Sentinel-2 item whose rasters exist, with their WGS84 bounds."""
    with urllib.request.urlopen(f"{root}/search?collections=sentinel-2-l2a&limit=100") as r:
        page = json.load(r)
    for item in page["features"]:
        href = item["assets"]["B04"]["href"]
        if href.startswith("/"):
            return item
    raise SystemExit("no demo Sentinel-2 item with local rasters")


def raster_bounds(path: str) -> list[float]:
    info = json.loads(subprocess.check_output(["gdalinfo", "-json", path]))
    ring = info["wgs84Extent"]["coordinates"][0]
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    return [min(lons), min(lats), max(lons), max(lats)]


def location_value(path: str, lon: float, lat: float) -> float:
    out = subprocess.check_output(
        ["gdallocationinfo", "-valonly", "-wgs84", path, str(lon), str(lat)], text=True
    )
    return float(out.strip())


def wait_for(path: str, seconds: int) -> None:
    deadline = time.time() + seconds
    while not os.path.exists(path):
        if time.time() > deadline:
            raise SystemExit(f"{path} did not appear within {seconds} s")
        time.sleep(1)


def run(root: str, demo_dir: str) -> None:
    wait_for(os.path.join(demo_dir, "rasters"), 900)
    item = demo_s2_item(root)
    b04 = item["assets"]["B04"]["href"]
    w, s, e, n = raster_bounds(b04)
    lon, lat = (w + e) / 2, (s + n) / 2
    day = item["properties"]["datetime"][:10]
    instant = item["properties"]["datetime"]
    collections = ["sentinel-2-l2a", "pleiades", "spot-6-7", "lai", "biomass", "tropisco"]

    for version in ("1.1.1", "1.3.0"):
        v = f"[{version}]"
        # The key in the URL, as a QGIS connection carries it: OWSLib then calls
        # the URLs the capabilities advertise, which must carry it too.
        key = os.environ.get("TUILERIE_API_KEY", "")
        url = f"{root}/wms?api_key={key}" if key else f"{root}/wms"
        wms = WebMapService(url, version=version, timeout=120)
        check(f"{v} capabilities: version", wms.identification.version == version,
              wms.identification.version)
        names = list(wms.contents)
        check(f"{v} capabilities: collections are layers",
              all(c in names for c in collections), str(names))
        for name in collections:
            crs = set(wms[name].crsOptions)
            check(f"{v} {name}: EPSG:3857 and EPSG:4326 offered",
                  {"EPSG:3857", "EPSG:4326"} <= crs, str(sorted(crs)))
        styles = wms["sentinel-2-l2a"].styles
        check(f"{v} styles per preset", {"visual", "truecolor", "ndvi"} <= set(styles),
              str(list(styles)))
        times = wms["sentinel-2-l2a"].timepositions or []
        check(f"{v} TIME lists the item's day", any(day in t for t in times),
              f"{day} not in {times[:5]}...")

        # A box inside the item's raster, in EPSG:4326 (OWSLib writes the
        # 1.3.0 latitude-first order itself).
        dx, dy = (e - w) * 0.3, (n - s) * 0.3
        box = (lon - dx, lat - dy, lon + dx, lat + dy)
        common = dict(layers=["sentinel-2-l2a"], styles=["truecolor"], srs="EPSG:4326",
                      bbox=box, time=instant)
        for fmt, pil in (("image/png", "PNG"), ("image/jpeg", "JPEG"), ("image/webp", "WEBP")):
            img = Image.open(io.BytesIO(wms.getmap(size=(300, 200), format=fmt, **common).read()))
            check(f"{v} GetMap {fmt}: size and format", img.size == (300, 200) and img.format == pil,
                  f"{img.size} {img.format}")

        # Half of the box east of the raster: transparent there when asked.
        half = (e - dx, lat - dy, e + dx, lat + dy)
        opts = dict(common, bbox=half)
        img = Image.open(io.BytesIO(wms.getmap(size=(200, 100), format="image/png",
                                               transparent=True, **opts).read()))
        rgba = img.convert("RGBA")
        check(f"{v} TRANSPARENT=TRUE: alpha", img.mode == "RGBA"
              and rgba.getpixel((10, 50))[3] == 255 and rgba.getpixel((190, 50))[3] == 0,
              f"mode {img.mode}, {rgba.getpixel((10, 50))} {rgba.getpixel((190, 50))}")
        img = Image.open(io.BytesIO(wms.getmap(size=(200, 100), format="image/png",
                                               transparent=False, **opts).read()))
        check(f"{v} TRANSPARENT=FALSE: no alpha", img.mode == "RGB", img.mode)

        # GetFeatureInfo at the centre pixel of the first box.
        size = (101, 101)
        info = wms.getfeatureinfo(layers=["sentinel-2-l2a"], styles=["truecolor"],
                                  srs="EPSG:4326", bbox=box, size=size, format="image/png",
                                  query_layers=["sentinel-2-l2a"], info_format="application/json",
                                  xy=(50, 50), feature_count=1, time=instant)
        doc = json.loads(info.read())
        features = doc.get("features", [])
        check(f"{v} GetFeatureInfo: a feature", len(features) == 1, json.dumps(doc)[:300])
        if features:
            props = features[0]["properties"]
            px = box[0] + 50.5 * (box[2] - box[0]) / size[0]
            py = box[3] - 50.5 * (box[3] - box[1]) / size[1]
            expected = [location_value(item["assets"][b]["href"], px, py)
                        for b in ("B04", "B03", "B02")]
            got = list(props["values"].values())
            check(f"{v} GetFeatureInfo: item", props["item"] == item["id"], props["item"])
            check(f"{v} GetFeatureInfo: values equal gdallocationinfo", got == expected,
                  f"{got} != {expected}")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    run(sys.argv[1].rstrip("/"), sys.argv[2])
    print(f"\n{'all WMS checks passed' if not FAILURES else f'{len(FAILURES)} WMS checks failed'}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
