#!/usr/bin/python3
"""Markdown report of benches/mosaic/run.sh: environment, data, one row per variant x phase x case.

    report.py --tsv RUN.tsv --meta meta.json --manifest manifest.json [--opaque opaque.txt] > report.md

Python 3 standard library only.
"""
import argparse
import csv
import json
import statistics

GOAL_S = 2.0


def fmt_times(values):
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.3f}"
    return f"{med:.3f} ({min(values):.3f}–{max(values):.3f})"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tsv", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--opaque")
    p.add_argument("--perf", action="append", default=[], help="perf-<variant>.txt of run.sh (repeatable)")
    a = p.parse_args()
    rows = list(csv.DictReader(open(a.tsv), delimiter="\t"))
    meta = json.load(open(a.meta))
    man = json.load(open(a.manifest))
    opaque = {}
    if a.opaque:
        for line in open(a.opaque):
            parts = line.split()
            if len(parts) == 2:
                opaque[parts[0]] = parts[1]

    out = []
    w = out.append
    variant = " — Web Mercator COGs (no reprojection, diagnostic)" if man["params"]["crs"] == "3857" else ""
    w(f"# Mosaic benchmark: a z5 tile over {man['params']['count']:,} items ({meta['date'][:10]}){variant}")
    w("")
    w("Produced by `benches/mosaic/run.sh` (see `benches/mosaic/README.md`). Goal (issue): "
      f"a z5 mosaic tile over 1,000 items answers in under {GOAL_S:g} s on this machine.")
    w("")
    w("## Environment")
    w("")
    w(f"- binary: {meta['binary']}; git HEAD then {meta['head']}"
      + (f", uncommitted changes in {meta['dirty'].strip()}" if meta["dirty"].strip() else "") + f"; {meta['gdal']}")
    w(f"- {meta['cpu']}, {meta['cores']} cores (shared with other work), {meta['mem_gb']} GB RAM, kernel {meta['kernel']}")
    w(f"- load average before / after the run: {meta['load_before']} / {meta['load_after']} (run: {meta['seconds']} s)")
    w(f"- raster.threads = {meta['threads']} (0: one per core), caches off (`memory_mb = 0`, `disk_dir = \"\"`), "
      f"{meta['repeat']} measurements per cell")
    drop = "yes (`sync; echo 3 > /proc/sys/vm/drop_caches`)" if meta["can_drop"] else "no (the kernel refused)"
    w(f"- page cache drop for the cold-disk rows: {drop}{'; ' + meta['drop_notes'] if meta['drop_notes'] else ''}")
    w(f"- ingest: {meta['ingest_seconds']:.1f} s — `{meta['ingest_line'].strip()}`")
    w("")
    w("## Data (`benches/mosaic/make_data.py`)")
    w("")
    pr = man["params"]
    w(f"- {pr['count']:,} COGs, {pr['size']}×{pr['size']} px, {pr['res']:g} m, 3 × uint16, nodata 0, DEFLATE + predictor, "
      f"128-px tiles, overviews 2/4/8/16; CRS {man['crs_counts']} (seed {pr['seed']})")
    w(f"- generated in {man['seconds_total']} s ({man['jobs']} processes), "
      f"{man['cog_bytes'] / 1e6:.0f} MB ({man['cog_bytes_mean'] / 1e3:.0f} kB per COG)")
    for k in ("z5", "z6", "z7"):
        t = man["tiles"][k]
        w(f"- {k} tile {t['z']}/{t['x']}/{t['y']}: {t['items']} items intersect it, footprints cover "
          f"{100 * t['coverage']:.1f} % of its 256×256 pixels (so it never fills: every item is read)")
    w("")
    w("URLs: " + ", ".join(f"`{u}`" for u in meta["urls"].values()))
    w("")
    w("## Results")
    w("")
    w("Wall time is curl's `time_total` (median, min–max of the runs), CPU is the server process's "
      "utime+stime during the request (all threads, 10 ms ticks). *cold*: first request after a "
      "server start (GDAL datasets opened by the request), COGs in the page cache; *cold-disk*: the "
      f"same after dropping the page cache; *warm*: one server, after {meta.get('primes', 1)} z5 request(s) not recorded. "
      "`datasets` = `raster.datasets`, open datasets kept per GDAL thread (default 64).")
    w("")
    w("| variant | phase | case | n | HTTP | wall s | CPU s | X-Mosaic-Items | failed | X-Cache | bytes | z5 < 2 s |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    groups = {}
    for r in rows:
        if r["phase"] in ("prime", "profiled"):
            continue
        groups.setdefault((r["variant"], r["phase"], r["case"]), []).append(r)
    for (variant, phase, case), rs in groups.items():
        times = [float(r["time_s"]) for r in rs]
        cpus = [float(r["cpu_s"]) for r in rs]
        status = ",".join(sorted({r["status"] for r in rs}))
        items = ",".join(sorted({r["items"] for r in rs}))
        failed = ",".join(sorted({r["failed"] for r in rs}))
        cache = ",".join(sorted({r["cache"] for r in rs}))
        nbytes = statistics.median(int(r["bytes"]) for r in rs)
        goal = ""
        if case.startswith("z5"):
            goal = "yes" if max(times) < GOAL_S and status == "200" else "**no**"
        w(f"| {variant} | {phase} | {case} | {len(rs)} | {status} | {fmt_times(times)} | {fmt_times(cpus)} | "
          f"{items} | {failed} | {cache} | {nbytes:.0f} | {goal} |")
    w("")
    if opaque:
        w("Opaque share of the sample tiles (alpha band): " + ", ".join(f"{k} {v} %" for k, v in sorted(opaque.items())))
        w("")
    if a.perf:
        w("## Profiles")
        w("")
        w("`perf record -F 499 --call-graph dwarf` of the server during one more warm z5 request per variant, after the warm measurements "
          "(not in the table), inclusive share of the samples (all threads) per function:")
        w("")
        names = [
            ("tuilerie::raster::render::render_item", "render_item (one item, GDAL thread)"),
            ("tuilerie::raster::render::open_assets", "  open_assets (dataset open or LRU hit)"),
            ("gdal::dataset::Dataset::_open_ex", "    GDALOpenEx"),
            ("tuilerie::raster::read::DatasetInfo::read", "    DatasetInfo::read"),
            ("gdal::dataset::Dataset::spatial_ref", "      Dataset::spatial_ref (CRS → WKT)"),
            ("gdal::raster::rasterband::RasterBand::mask_flags", "      RasterBand::mask_flags"),
            ("core::ptr::drop_in_place<tuilerie::raster::pool::OpenDataset>", "    closing evicted datasets"),
            ("tuilerie::raster::render::render_planes", "  render_planes"),
            ("tuilerie::raster::warp::map", "    warp::map (reprojection mapping)"),
            ("OGRCoordinateTransformation::Transform", "      exact transforms (PROJ)"),
            ("tuilerie::raster::read::read_window", "    read_window (overview read)"),
            ("tuilerie::raster::render::to_rgba", "  to_rgba"),
            ("tuilerie::raster::encode::encode", "encode (PNG)"),
            ("tuilerie::catalog", "catalogue (any tuilerie::catalog symbol)"),
        ]
        header = "| function | " + " | ".join(f.rsplit("/", 1)[-1].removeprefix("perf-").removesuffix(".txt") for f in a.perf) + " |"
        w(header)
        w("|---|" + "---|" * len(a.perf))
        tables = []
        for f in a.perf:
            best = {}
            for line in open(f):
                parts = line.split(None, 3)
                if len(parts) < 4:
                    continue
                share, sym = parts[0], parts[3].strip()
                for key, _ in names:
                    if sym.startswith(key) and key not in best:
                        best[key] = share
            tables.append(best)
        for key, label in names:
            w(f"| {label} | " + " | ".join(t.get(key, "-") for t in tables) + " |")
        w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
