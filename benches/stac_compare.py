#!/usr/bin/env python3
"""Helpers of benches/stac_http.sh (Python stdlib only).

  stac_compare.py sanity --base-url URL --requests DIR --label L --out sanity.json [--expect-number-matched]
      Replays every request list of DIR once, sequentially, and records per request the HTTP
      status, the number of features, numberMatched and a hash of the returned ids. Exits 1 if
      any response is not 2xx or if a whole list returns no features (a server that 404s or
      returns empty pages would otherwise make a fast benchmark).

  stac_compare.py ingest-summary --log ingest.log --seconds S --store DB --n N ... --out ingest.json
      Parses Tuilerie's `ingested ... items (...) in X s (Y items/s); Z rejected` line.

  stac_compare.py merge --out server.json run1.json run2.json ...
      Merges run_bench.py JSONs of one server (one per case and concurrency) into one.

  stac_compare.py report --peer peer.json --auto auto.json --exact exact.json
                         --sanity-peer .. --sanity-auto .. --sanity-exact ..
                         --ingest ingest.json [--peer-load load.json] --meta meta.json --out report.md
      Side-by-side markdown report of the run_bench.py JSONs.
"""
import argparse
import hashlib
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# Same file -> label mapping as ../shared/bench/stac/run_bench.py (CASES).
CASES = [
    ("items_get.tsv", "GET /collections/{c}/items?limit=10"),
    ("search_post.tsv", "POST /search bbox+datetime+collections"),
    ("search_filter.tsv", "POST /search CQL2 eo:cloud_cover<20 + bbox"),
    ("item_get.tsv", "GET /collections/{c}/items/{id}"),
    ("paging.tsv", "GET /search paging (pages 1-5 via next)"),
]
# Tuilerie goals, server CPU ms per request.
GOALS = {
    "item_get.tsv": 0.2,
    "search_post.tsv": 1.5,
    "search_filter.tsv": 2.0,
}


# ---------------------------------------------------------------------------------- sanity

def read_tsv(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t", 2)
            out.append((parts[0], parts[1], parts[2] if len(parts) > 2 else None))
    return out


def ids_hash(ids):
    return hashlib.sha1("\n".join(sorted(ids)).encode()).hexdigest()[:12]


def fetch(base, method, path, body, timeout=60):
    data = body.encode() if body else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json",
                                          "Accept": "application/geo+json, application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            doc = json.loads(e.read())
        except Exception:  # noqa: BLE001
            doc = None
        return e.code, doc
    except Exception as e:  # noqa: BLE001
        return "ERR:%s" % type(e).__name__, None


def request_collections(path, body):
    """Collections a request asks for (path or body), for the report's differences."""
    u = urllib.parse.urlsplit(path)
    parts = u.path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "collections":
        return [parts[1]]
    q = urllib.parse.parse_qs(u.query).get("collections")
    if q:
        return q[0].split(",")
    if body:
        try:
            c = json.loads(body).get("collections")
        except Exception:  # noqa: BLE001
            return []
        return [c] if isinstance(c, str) else list(c or [])
    return []


def cmd_sanity(a):
    base = a.base_url.rstrip("/")
    out = {"label": a.label, "base_url": base, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "cases": {}}
    failures = []
    for fname, label in CASES:
        path = os.path.join(a.requests, fname)
        if not os.path.exists(path):
            continue
        reqs = read_tsv(path)
        per, codes, t0 = [], {}, time.perf_counter()
        for method, p, body in reqs:
            t = time.perf_counter()
            code, doc = fetch(base, method, p, body)
            ms = 1000 * (time.perf_counter() - t)
            codes[str(code)] = codes.get(str(code), 0) + 1
            rec = {"status": code, "ms": round(ms, 2), "n": None, "ids": None, "matched": None,
                   "cols": request_collections(p, body)}
            if isinstance(doc, dict):
                if doc.get("type") == "FeatureCollection":
                    feats = doc.get("features") or []
                    rec["n"] = len(feats)
                    rec["ids"] = ids_hash([str(f.get("id")) for f in feats])
                    rec["matched"] = doc.get("numberMatched")
                elif doc.get("type") == "Feature":
                    rec["n"] = 1
                    rec["ids"] = ids_hash([str(doc.get("id"))])
            per.append(rec)
        el = time.perf_counter() - t0
        ns = [r["n"] for r in per if r["n"] is not None]
        non2xx = sum(1 for r in per if not (isinstance(r["status"], int) and 200 <= r["status"] < 300))
        fc = [r for r in per if r["ids"] is not None and fname != "item_get.tsv"]
        s = {"case": label, "requests": len(reqs), "status_codes": codes, "non_2xx": non2xx,
             "seq_mean_ms": round(1000 * el / max(1, len(reqs)), 2),
             "features_mean": round(sum(ns) / len(ns), 2) if ns else None,
             "empty_results": sum(1 for x in ns if x == 0),
             "with_number_matched": sum(1 for r in fc if r["matched"] is not None),
             "feature_collections": len(fc),
             "per_request": per}
        out["cases"][fname] = s
        print("  %-10s %-45s %s mean %.1f ms/req, %s features/resp, %d empty, numberMatched in %d/%d" % (
            a.label, label, codes, s["seq_mean_ms"], s["features_mean"], s["empty_results"],
            s["with_number_matched"], s["feature_collections"]), file=sys.stderr)
        if non2xx:
            bad = [(reqs[i][0], reqs[i][1], r["status"]) for i, r in enumerate(per)
                   if not (isinstance(r["status"], int) and 200 <= r["status"] < 300)][:3]
            failures.append("%s: %d non-2xx responses, e.g. %s" % (label, non2xx, bad))
        elif ns and not any(ns):
            failures.append("%s: every response is empty" % label)
        if a.expect_number_matched and fc and s["with_number_matched"] < len(fc):
            failures.append("%s: numberMatched missing in %d/%d responses although store.count=exact" % (
                label, len(fc) - s["with_number_matched"], len(fc)))
    out["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    out["failures"] = failures
    with open(a.out, "w") as f:
        json.dump(out, f)
    if not out["cases"]:
        print("sanity: no request lists in %s" % a.requests, file=sys.stderr)
        return 1
    for msg in failures:
        print("SANITY FAILED (%s): %s" % (a.label, msg), file=sys.stderr)
    return 1 if failures else 0


# ---------------------------------------------------------------------------------- ingest

INGEST_RE = re.compile(
    r"ingested (\d+) collections \((\d+) new, (\d+) updated\), (\d+) items \((\d+) new, (\d+) updated\)"
    r" in ([\d.]+) s \(([\d.]+) items/s\); (\d+) rejected")


def cmd_ingest_summary(a):
    text = open(a.log, errors="replace").read()
    m = None
    for m in INGEST_RE.finditer(text):
        pass
    if m is None:
        print("ingest-summary: no 'ingested ...' line in %s" % a.log, file=sys.stderr)
        return 1
    g = m.groups()
    if a.store_bytes is not None:
        store_bytes = a.store_bytes
    else:
        store_bytes = sum(os.path.getsize(p) for p in (a.store, a.store + "-wal") if os.path.exists(p))
    d = {"summary_line": m.group(0), "collections": int(g[0]), "items": int(g[3]),
         "items_new": int(g[4]), "items_updated": int(g[5]), "seconds_reported": float(g[6]),
         "items_per_second_reported": float(g[7]), "rejected": int(g[8]),
         "wall_seconds": round(a.seconds, 2),
         "items_per_second_wall": round(int(g[3]) / a.seconds, 1) if a.seconds > 0 else None,
         "n_expected": a.n, "store": a.store, "store_bytes": store_bytes,
         "ndjson_bytes": os.path.getsize(a.ndjson) if a.ndjson else None,
         "loadavg_before": a.loadavg_before, "loadavg_after": a.loadavg_after,
         "cpu_user_s": a.cpu_user, "cpu_sys_s": a.cpu_sys,
         "store_kind": a.store_kind, "db_cpu_s": a.db_cpu, "db_settings": a.db_settings}
    with open(a.out, "w") as f:
        json.dump(d, f, indent=2)
    print(json.dumps({k: d[k] for k in ("items", "rejected", "seconds_reported",
                                        "items_per_second_reported", "store_bytes")}), file=sys.stderr)
    if d["items"] != a.n or d["rejected"]:
        print("ingest: expected %d items, got %d (%d rejected)" % (a.n, d["items"], d["rejected"]),
              file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------------- merge

def cmd_merge(a):
    """Merge run_bench.py JSONs of one server (one per case and concurrency) into one."""
    docs = [json.load(open(p)) for p in a.inputs]
    if not docs:
        print("merge: no input", file=sys.stderr)
        return 1
    out = {k: v for k, v in docs[0].items() if k != "cases"}
    out["started"] = min(d["started"] for d in docs)
    out["finished"] = max(d["finished"] for d in docs)
    cases = {}
    for d in docs:
        for c in d["cases"]:
            cur = cases.setdefault(c["file"], {k: v for k, v in c.items() if k != "runs"} | {"runs": []})
            cur["runs"].extend(c["runs"])
    order = [f for f, _ in CASES]
    out["cases"] = []
    for f in sorted(cases, key=lambda f: order.index(f) if f in order else len(order)):
        cases[f]["runs"].sort(key=lambda r: r["concurrency"])
        out["cases"].append(cases[f])
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)
    return 0


# ---------------------------------------------------------------------------------- report

def runs_by_key(bench):
    out = {}
    for c in bench.get("cases", []):
        for r in c["runs"]:
            out[(c["file"], r["concurrency"])] = r
    return out


def fnum(x, fmt="%.1f"):
    return "–" if x is None else fmt % x


def fcpu(x):
    if x is None:
        return "–"
    return "%.3f" % x if x < 1 else ("%.2f" % x if x < 10 else "%.1f" % x)


def ratio(p, t):
    if p is None or not t:
        return "–"
    return "%.0f×" % (p / t) if p / t >= 10 else "%.1f×" % (p / t)


def la(r):
    if not r:
        return "–"
    return "%.1f→%.1f" % (r["loadavg_before"][0], r["loadavg_after"][0])


def errs(r):
    return r["err_status"] + r["err_timeout"] + r["err_connect"] + r["err_read"] + r["err_write"]


def nm_share(san):
    tot = sum(c["feature_collections"] for c in san["cases"].values())
    has = sum(c["with_number_matched"] for c in san["cases"].values())
    return "%d/%d" % (has, tot)


def compare_matched(s_a, s_b, fname):
    """Requests of fname where both servers return numberMatched, and how many agree."""
    ca, cb = s_a["cases"].get(fname), s_b["cases"].get(fname)
    if not ca or not cb or len(ca["per_request"]) != len(cb["per_request"]) or fname == "paging.tsv":
        return None
    both = [(x["matched"], y["matched"]) for x, y in zip(ca["per_request"], cb["per_request"])
            if x["matched"] is not None and y["matched"] is not None]
    if not both:
        return None
    return sum(1 for x, y in both if x == y), len(both)


def differing_collections(s_a, s_b):
    out = {}
    for fname, _ in CASES:
        if fname == "paging.tsv":
            continue
        ca, cb = s_a["cases"].get(fname), s_b["cases"].get(fname)
        if not ca or not cb or len(ca["per_request"]) != len(cb["per_request"]):
            continue
        d = {}
        for x, y in zip(ca["per_request"], cb["per_request"]):
            if x["ids"] != y["ids"]:
                k = "+".join(sorted(x.get("cols") or [])) or "(any)"
                d[k] = d.get(k, 0) + 1
        if d:
            out[fname] = dict(sorted(d.items(), key=lambda kv: -kv[1]))
    return out


def compare_results(s_a, s_b, fname):
    """Requests of fname whose (sorted) id sets are equal in both sanity passes."""
    ca, cb = s_a["cases"].get(fname), s_b["cases"].get(fname)
    if not ca or not cb:
        return None
    pa, pb = ca["per_request"], cb["per_request"]
    if fname == "paging.tsv":
        # lists are resolved per server; compare the multiset of returned pages
        ha = sorted(r["ids"] for r in pa if r["ids"])
        hb = sorted(r["ids"] for r in pb if r["ids"])
        same = sum(min(ha.count(h), hb.count(h)) for h in set(ha))
        return same, max(len(ha), len(hb))
    if len(pa) != len(pb):
        return None
    same = sum(1 for x, y in zip(pa, pb) if x["ids"] is not None and x["ids"] == y["ids"])
    return same, len(pa)


def cmd_report(a):
    peer = json.load(open(a.peer))
    auto = json.load(open(a.auto))
    exact = json.load(open(a.exact)) if a.exact and os.path.exists(a.exact) else None
    sp = json.load(open(a.sanity_peer))
    sa = json.load(open(a.sanity_auto))
    se = json.load(open(a.sanity_exact)) if a.sanity_exact and os.path.exists(a.sanity_exact) else None
    ing = json.load(open(a.ingest))
    pload = json.load(open(a.peer_load)) if a.peer_load and os.path.exists(a.peer_load) else None
    meta = json.load(open(a.meta))
    P, A, E = runs_by_key(peer), runs_by_key(auto), runs_by_key(exact or {})
    concs = sorted({k[1] for k in P} | {k[1] for k in A})
    L = []
    L.append("# STAC HTTP benchmark: Tuilerie vs stac-fastapi-pgstac — %s" % meta["date"])
    L.append("")
    L.append("Generated by `benches/stac_http.sh` (see [../README.md](../README.md)). Same %s-item "
             "dataset (`gen_items.py --n %s --seed %s`), same request lists, same wrk settings "
             "(`-t%s`, %s s warm-up + %s s measured per case and concurrency)." % (
                 "{:,}".format(meta["n"]), meta["n"], meta["seed"], peer.get("threads"),
                 peer.get("warmup_s"), peer.get("duration_s")))
    L.append("")
    L.append("**Server CPU ms per request** = CPU time (user+sys, from /proc) of the server's "
             "process tree during the measured run ÷ requests completed. Peer: uvicorn master + "
             "%s workers + PostgreSQL postmaster and backends. Tuilerie: its single process. "
             "Lower is better; the ratio is peer ÷ Tuilerie (how many times less CPU Tuilerie "
             "spends per request). `auto` = default `store.count=auto` (numberMatched only when "
             "≤ 2000 estimated matches), `exact` = `TUILERIE_STORE_COUNT=exact` (numberMatched on "
             "every search). The peer's pgstac `context` setting in this run: `%s`; it returned "
             "numberMatched in %s of its search/listing responses in the sanity pass (see below)." % (
                 meta.get("peer_workers", 2), meta.get("peer_context", "?"), nm_share(sp)))
    L.append("")
    # ---- main table
    L.append("| case | conc | peer CPU ms/req | Tuilerie CPU ms/req (auto) | Tuilerie CPU ms/req (exact) "
             "| ratio peer/Tuilerie auto (exact) | Tuilerie goal | peer p50 / p99 ms | Tuilerie p50 / p99 ms "
             "(auto) | peer req/s | Tuilerie req/s auto (exact) | loadavg 1m peer | loadavg 1m Tuilerie "
             "auto (exact) |")
    L.append("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---|")
    goal_lines = []
    for fname, label in CASES:
        for c in concs:
            p, t, e = P.get((fname, c)), A.get((fname, c)), E.get((fname, c))
            if not (p or t):
                continue
            pc = p.get("server_cpu_ms_per_req") if p else None
            tc = t.get("server_cpu_ms_per_req") if t else None
            ec = e.get("server_cpu_ms_per_req") if e else None
            goal = GOALS.get(fname)
            if goal is not None:
                marks = []
                for name, v in (("auto", tc), ("exact", ec)):
                    if v is not None:
                        marks.append("%s %s" % (name, "✅" if v <= goal else "❌"))
                gtxt = "≤ %s: %s" % (goal, ", ".join(marks))
                goal_lines.append((label, c, goal, tc, ec))
            else:
                gtxt = "–"
            L.append("| %s | %d | %s | %s | %s | %s (%s) | %s | %s / %s | %s / %s | %s | %s (%s) | %s | %s (%s) |" % (
                label, c, fcpu(pc), fcpu(tc), fcpu(ec), ratio(pc, tc), ratio(pc, ec), gtxt,
                fnum(p and p["lat_p50_ms"], "%.0f"), fnum(p and p["lat_p99_ms"], "%.0f"),
                fnum(t and t["lat_p50_ms"], "%.1f"), fnum(t and t["lat_p99_ms"], "%.1f"),
                fnum(p and p["rps"]), fnum(t and t["rps"]), fnum(e and e["rps"]),
                la(p), la(t), la(e)))
    L.append("")
    # ---- goals
    if goal_lines:
        L.append("Goals (Tuilerie server CPU per request): item by id ≤ 0.2 ms, bbox+datetime search "
                 "≤ 1.5 ms, CQL2+bbox search ≤ 2 ms.")
        L.append("")
        L.append("| goal | conc | auto | exact |")
        L.append("|---|---:|---:|---:|")
        for label, c, goal, tc, ec in goal_lines:
            def st(v):
                return "–" if v is None else "%s ms %s" % (fcpu(v), "met" if v <= goal else "**missed**")
            L.append("| %s ≤ %s ms | %d | %s | %s |" % (label, goal, c, st(tc), st(ec)))
        L.append("")
    # ---- load warning
    ncpu = peer.get("nproc") or os.cpu_count() or 1
    allruns = list(P.values()) + list(A.values()) + list(E.values())
    busy = [r for r in allruns if max(r["loadavg_before"][0], r["loadavg_after"][0]) > ncpu]
    if busy:
        peak = max(max(r["loadavg_before"][0], r["loadavg_after"][0]) for r in allruns)
        L.append("⚠ The 1-minute load average exceeded the %d CPUs during %d of %d measured runs "
                 "(peak %.1f): other jobs were competing for the CPUs, which inflates CPU ms per "
                 "request too (not only latency). The ratios compare servers measured back to back "
                 "under similar load; for the absolute figures and the goals, rerun on a quiet "
                 "machine." % (ncpu, len(busy), len(allruns), peak))
        L.append("")
    # ---- errors during wrk
    L.append("Errors during the measured wrk runs (non-2xx + timeouts + socket errors): peer %d, "
             "Tuilerie auto %d, Tuilerie exact %s." % (
                 sum(errs(r) for r in P.values()), sum(errs(r) for r in A.values()),
                 sum(errs(r) for r in E.values()) if exact else "–"))
    L.append("")
    # ---- sanity
    L.append("## Sequential sanity pass (each list replayed once, one connection)")
    L.append("")
    L.append("| case | peer ms/req | Tuilerie ms/req auto (exact) | peer statuses | Tuilerie statuses auto | "
             "features/resp peer | features/resp Tuilerie | same ids as peer auto (exact) | "
             "numberMatched present peer / auto / exact | numberMatched equal to peer's, auto (exact) |")
    L.append("|---|---:|---:|---|---|---:|---:|---:|---|---:|")
    for fname, label in CASES:
        cp, ca = sp["cases"].get(fname), sa["cases"].get(fname)
        ce = se["cases"].get(fname) if se else None
        if not (cp and ca):
            continue
        same_a = compare_results(sp, sa, fname)
        same_e = compare_results(sp, se, fname) if se else None

        def nm(cx):
            if not cx or not cx["feature_collections"]:
                return "–"
            return "%d/%d" % (cx["with_number_matched"], cx["feature_collections"])

        def sm(x):
            return "–" if not x else "%d/%d" % x
        L.append("| %s | %.1f | %.2f (%s) | %s | %s | %s | %s | %s (%s) | %s / %s / %s | %s (%s) |" % (
            label, cp["seq_mean_ms"], ca["seq_mean_ms"], fnum(ce and ce["seq_mean_ms"], "%.2f"),
            fmt_codes(cp["status_codes"]), fmt_codes(ca["status_codes"]),
            fnum(cp["features_mean"], "%.2f"), fnum(ca["features_mean"], "%.2f"),
            sm(same_a), sm(same_e), nm(cp), nm(ca), nm(ce),
            sm(compare_matched(sp, sa, fname)), sm(compare_matched(sp, se, fname) if se else None)))
    L.append("")
    L.append("\"same ids\" compares the set of item ids of each response (order ignored); for "
             "paging, where each server's list is resolved against itself, it compares the "
             "multiset of pages. Differences usually come from a different default sort or "
             "tie-break, not from a wrong answer.")
    diffs = differing_collections(sp, sa)
    if diffs:
        L.append("")
        L.append("Requests whose ids differ between the peer and Tuilerie (auto), by collections "
                 "requested: %s." % "; ".join("%s: %s" % (f, ", ".join("%s ×%d" % kv for kv in d.items()))
                                             for f, d in diffs.items()))
        if any("tropisco" in k for d in diffs.values() for k in d):
            L.append("Known cause for `tropisco` (items with `datetime` *and* a weekly "
                     "`start_datetime`/`end_datetime`): pgstac sorts such items by "
                     "`start_datetime` (all tiles of a week tie, then `id` descending) while "
                     "Tuilerie sorts by `datetime`, so a `limit=10` page holds a different 10 "
                     "items of the same week. Both are \"newest first\".")
    L.append("")
    # ---- ingest
    L.append("## Ingest (%s items)" % "{:,}".format(meta["n"]))
    L.append("")
    L.append("| server | command | time | items/s | store size | loadavg before → after |")
    L.append("|---|---|---:|---:|---:|---|")
    if pload:
        L.append("| stac-fastapi-pgstac | `pypgstac load items items.ndjson --method insert`%s | %.1f s | %s | %s (DB after VACUUM ANALYZE) | %s → %s |" % (
            "" if not meta.get("peer_load_reused") else " (earlier load, DB reused: %s)" % meta.get("peer_load_file_mtime", "?"),
            pload["load_seconds"], "{:,.0f}".format(pload["items_per_second"]), pload["db_size_pretty"],
            pload["loadavg_before"], pload["loadavg_after"]))
    else:
        L.append("| stac-fastapi-pgstac | `pypgstac load items` | – | – | – | – (no load-N.json) |")
    kind = ing.get("store_kind", "sqlite")
    L.append("| Tuilerie | `tuilerie ingest --store DB collections/ items.ndjson` (%s) | %.1f s (wall %.1f s) | %s (wall %s) | %s MB | %s → %s |" % (
        "fresh PostgreSQL database" if kind == "postgres" else "fresh SQLite store",
        ing["seconds_reported"], ing["wall_seconds"], "{:,.0f}".format(ing["items_per_second_reported"]),
        "{:,.0f}".format(ing["items_per_second_wall"] or 0), "{:,.0f}".format(ing["store_bytes"] / 1e6),
        ing["loadavg_before"], ing["loadavg_after"]))
    L.append("")
    L.append("Tuilerie summary line: `%s`" % ing["summary_line"])
    if ing.get("cpu_user_s") is not None:
        L.append("")
        L.append("Tuilerie ingest CPU: %.1f s user + %.1f s sys%s." % (
            ing["cpu_user_s"], ing["cpu_sys_s"],
            "" if ing.get("db_cpu_s") is None else "; PostgreSQL (postmaster tree): %.1f s" % ing["db_cpu_s"]))
    if ing.get("db_settings"):
        L.append("")
        L.append("Tuilerie's PostgreSQL cluster ran with the peer's settings: %s." % ing["db_settings"])
    L.append("")
    # ---- setup
    L.append("## Setup of this run")
    L.append("")
    for k, v in meta.get("setup", []):
        L.append("- %s: %s" % (k, v))
    L.append("- peer run: %s .. %s; Tuilerie auto: %s .. %s; exact: %s .. %s" % (
        peer["started"], peer["finished"], auto["started"], auto["finished"],
        exact["started"] if exact else "–", exact["finished"] if exact else "–"))
    L.append("")
    L.append("Raw data next to this file: %s." % ", ".join("`%s`" % x for x in meta.get("files", [])))
    L.append("")
    text = "\n".join(L)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)
    return 0


def fmt_codes(codes):
    return ", ".join("%s ×%d" % (k, v) for k, v in sorted(codes.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sanity")
    s.add_argument("--base-url", required=True)
    s.add_argument("--requests", required=True)
    s.add_argument("--label", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--expect-number-matched", action="store_true")
    i = sub.add_parser("ingest-summary")
    i.add_argument("--log", required=True)
    i.add_argument("--seconds", type=float, required=True)
    i.add_argument("--store", required=True)
    i.add_argument("--n", type=int, required=True)
    i.add_argument("--ndjson")
    i.add_argument("--loadavg-before", default="")
    i.add_argument("--loadavg-after", default="")
    i.add_argument("--cpu-user", type=float)
    i.add_argument("--cpu-sys", type=float)
    i.add_argument("--store-kind", default="sqlite", choices=["sqlite", "postgres"])
    i.add_argument("--store-bytes", type=int, help="database size (PostgreSQL)")
    i.add_argument("--db-cpu", type=float, help="PostgreSQL CPU seconds during the ingest")
    i.add_argument("--db-settings", default="", help="the PostgreSQL settings of the run")
    i.add_argument("--out", required=True)
    m = sub.add_parser("merge")
    m.add_argument("--out", required=True)
    m.add_argument("inputs", nargs="+")
    r = sub.add_parser("report")
    for x in ("peer", "auto", "sanity-peer", "sanity-auto", "ingest", "meta", "out"):
        r.add_argument("--" + x, required=True)
    for x in ("exact", "sanity-exact", "peer-load"):
        r.add_argument("--" + x)
    a = ap.parse_args()
    return {"sanity": cmd_sanity, "ingest-summary": cmd_ingest_summary, "merge": cmd_merge,
            "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
