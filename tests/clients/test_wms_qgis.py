#!/usr/bin/env python3
"""QGIS itself, headless, adds Tuilerie's WMS layers through its own WMS provider
(from our GetCapabilities) and renders maps with them.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/clients/test_wms_qgis.py ROOT_URL DEMO_DIR

Runs with Debian's QGIS Python bindings (python3-qgis), not in the client venv.
ROOT_URL is a running `tuilerie demo` server, DEMO_DIR its directory.
Plain script: one line per check; exits 0 when all passed, 1 otherwise.

Checks
  provider   the WMS provider lists our layers (QgsProviderRegistry / sublayers of the
             capabilities) and a layer made from its URI is valid, with our CRSs.
  render     QgsMapRendererSequentialJob renders Sentinel-2 (truecolor) in EPSG:3857 and
             in EPSG:2154: the image is not blank and its pixels equal the GetMap our
             server answers for the same box and size (QGIS asks for exactly that).
  identify   QgsRasterLayer.dataProvider().identify() (GetFeatureInfo, text/plain) names
             the item under the point.
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.request

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsPointXY,
    QgsProject,
    QgsRaster,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QSize, Qt
from qgis.PyQt.QtGui import QColor, QImage

FAILURES: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}")
    if not ok:
        FAILURES.append(name)


def demo_s2_item(root: str) -> dict:
    with urllib.request.urlopen(f"{root}/search?collections=sentinel-2-l2a&limit=100") as r:
        page = json.load(r)
    for item in page["features"]:
        if item["assets"]["B04"]["href"].startswith("/"):
            return item
    raise SystemExit("no demo Sentinel-2 item with local rasters")


def raster_centre(root: str, item: dict) -> tuple[float, float, float, float]:
    """lon, lat of the centre of the item's raster and its half sizes in degrees."""
    url = f"{root}/collections/sentinel-2-l2a/items/{item['id']}/info?assets=B04"
    with urllib.request.urlopen(url) as r:
        info = json.load(r)
    w, s, e, n = info["B04"]["wgs84_bounds"]
    return (w + e) / 2, (s + n) / 2, (e - w) / 2, (n - s) / 2


def render(layer: QgsRasterLayer, crs: QgsCoordinateReferenceSystem, extent: QgsRectangle,
           size: int) -> QImage:
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(crs)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(size, size))
    settings.setOutputDpi(96)
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage().convertToFormat(QImage.Format_ARGB32)


def getmap(root: str, crs: str, extent: QgsRectangle, size: int) -> QImage:
    bbox = f"{extent.xMinimum()},{extent.yMinimum()},{extent.xMaximum()},{extent.yMaximum()}"
    url = (f"{root}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=sentinel-2-l2a"
           f"&STYLES=truecolor&CRS={crs}&BBOX={bbox}&WIDTH={size}&HEIGHT={size}"
           f"&FORMAT=image/png&TRANSPARENT=TRUE")
    with urllib.request.urlopen(url) as r:
        data = r.read()
    img = QImage()
    img.loadFromData(data)
    return img.convertToFormat(QImage.Format_ARGB32)


def compare(a: QImage, b: QImage) -> tuple[int, int, int]:
    """(opaque pixels of a, pixels differing by more than 2 in any channel, total)."""
    opaque = differ = 0
    for y in range(0, a.height()):
        for x in range(0, a.width()):
            pa, pb = a.pixelColor(x, y), b.pixelColor(x, y)
            if pa.alpha() > 0:
                opaque += 1
            if max(abs(pa.red() - pb.red()), abs(pa.green() - pb.green()),
                   abs(pa.blue() - pb.blue()), abs(pa.alpha() - pb.alpha())) > 2:
                differ += 1
    return opaque, differ, a.width() * a.height()


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    root, demo_dir = sys.argv[1].rstrip("/"), sys.argv[2]
    deadline = time.time() + 900
    while not os.path.exists(os.path.join(demo_dir, "rasters")):
        if time.time() > deadline:
            raise SystemExit("the demo rasters did not appear")
        time.sleep(1)
    out_dir = os.environ.get("QGIS_OUT", "target/qgis")
    os.makedirs(out_dir, exist_ok=True)

    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    try:
        item = demo_s2_item(root)
        lon, lat, hw, hh = raster_centre(root, item)

        base = (f"contextualWMSLegend=0&dpiMode=0&featureCount=10&format=image/png"
                f"&url={root}/wms&layers=sentinel-2-l2a&styles=truecolor"
                f"&IgnoreGetMapUrl=1")
        for crs_id in ("EPSG:3857", "EPSG:2154"):
            crs = QgsCoordinateReferenceSystem(crs_id)
            layer = QgsRasterLayer(f"crs={crs_id}&{base}", f"s2 {crs_id}", "wms")
            check(f"{crs_id}: QGIS WMS layer is valid", layer.isValid(),
                  layer.error().summary() if not layer.isValid() else "")
            if not layer.isValid():
                continue
            QgsProject.instance().addMapLayer(layer)
            # A square box inside the item's raster, in the map CRS.
            t = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), crs,
                                       QgsProject.instance())
            centre = t.transform(QgsPointXY(lon, lat))
            r4326 = QgsRectangle(lon - hw * 0.4, lat - hh * 0.4, lon + hw * 0.4, lat + hh * 0.4)
            box = t.transformBoundingBox(r4326)
            half = min(box.width(), box.height()) / 2
            extent = QgsRectangle(centre.x() - half, centre.y() - half,
                                  centre.x() + half, centre.y() + half)
            size = 256
            image = render(layer, crs, extent, size)
            image.save(os.path.join(out_dir, f"qgis-{crs_id.replace(':', '-')}.png"))
            reference = getmap(root, crs_id, extent, size)
            opaque, differ, total = compare(image, reference)
            check(f"{crs_id}: QGIS renders a non-blank map", opaque > total * 0.9,
                  f"{opaque} of {total} pixels opaque")
            check(f"{crs_id}: QGIS's pixels are our GetMap's", differ <= total // 100,
                  f"{differ} of {total} pixels differ")
            # Identify (GetFeatureInfo) at the centre.
            result = layer.dataProvider().identify(centre, QgsRaster.IdentifyFormatText,
                                                   extent, size, size)
            text = " ".join(str(v) for v in result.results().values())
            check(f"{crs_id}: Identify names the item", item["id"] in text, text[:300])
    finally:
        QgsProject.instance().removeAllMapLayers()
        app.exitQgis()
    print(f"\n{'all QGIS checks passed' if not FAILURES else f'{len(FAILURES)} QGIS checks failed'}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
