#!/usr/bin/env python3
"""End-to-end checks of a running Tuilerie server with pystac-client (0.9.x).

    python tests/clients/test_pystac_client.py [ROOT_URL] [options]

ROOT_URL defaults to http://127.0.0.1:8080. Plain script (no pytest): prints one line per
check and exits 0 if every check passed, 1 otherwise (2 for usage errors).

What it checks
  open        Client.open(); conformance detection for CORE, COLLECTIONS, FEATURES,
              ITEM_SEARCH, FILTER, SORT, FIELDS, QUERY (pystac-client only recognises
              https://api.stacspec.org/v1.0.*/<class> URIs); rel=search link (GET and POST)
              with a JSON/GeoJSON type; all shipped collections listed; 404 -> None.
  queryables  get_queryables() (root) and get_merged_queryables() (per collection, needs $id);
              CollectionClient.get_items() paging /collections/{id}/items, get_item().
  paging      GET and POST searches with limit=5 over one collection, following rel=next
              links the way pystac-client does: > 3 pages, every id exactly once, total ==
              numberMatched of the first page == search.matched(); GET and POST agree.
              Then a filtered + sorted POST and GET search paged with limit=5: the filter
              and the order must survive the next links.
  filter      CQL2-text (GET, and POST with filter-lang=cql2-text) and CQL2-JSON (POST, and
              GET with filter-lang=cql2-json) on eo:cloud_cover: non-empty, every item
              satisfies the predicate, count == numberMatched, and the filter filters.
  sortby      asc/desc on eo:cloud_cover and on datetime, in the GET form (+x / -x) and the
              POST form ({field, direction}), with and without the "properties." prefix, over
              3 pages; the first value is the global min/max of the collection.
  bbox+dt     bbox + datetime (closed and open-ended) searches, GET and POST, with and
              without collections: each item's bbox intersects and its datetime (or its
              start/end interval) overlaps the range; the seed item is found.
  intersects  GET and POST intersects with a polygon over southern France: results, and each
              geometry intersects it (shapely).
  validate    every shipped collection and a sample of items of each, validated with
              pystac's JSON-schema validator, offline (offline.py).
  warnings    pystac-client emitted no PystacClientWarning (e.g. DoesNotConformTo, MissingLink).

Options
  --paging-collection ID   collection paged through completely (default pleiades; must have
                           between 16 and --max-paging-items items and eo:cloud_cover)
  --filter-collection ID   collection for filter tests (default sentinel-2-l2a)
  --collections A,B,...    shipped collections (default: the six Tuilerie collections)
  --sample N               items validated per collection (default 3)
  --max-paging-items N     refuse to page through more than this (default 3000)
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import traceback
import warnings
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import offline  # noqa: E402

SHIPPED = ["sentinel-2-l2a", "pleiades", "spot-6-7", "lai", "biomass", "tropisco"]
CC = "eo:cloud_cover"


# ----------------------------------------------------------------------------- reporting
class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.passed = 0

    def check(self, cond: bool, name: str, detail: str = "") -> bool:
        if cond:
            self.passed += 1
            print(f"PASS  {name}" + (f"  ({detail})" if detail else ""))
        else:
            self.failures.append(f"{name}: {detail}")
            print(f"FAIL  {name}" + (f"  -- {detail}" if detail else ""))
        return cond

    def guard(self, name: str, fn: Callable[[], None]) -> None:
        """Run one sub-case; an exception is one failure and the next sub-case still runs."""
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            self.check(False, f"{name}: no exception", f"{type(e).__name__}: {str(e)[:600]}")

    def run(self, name: str, fn: Callable[[], None]) -> None:
        print(f"\n== {name}")
        t0 = time.time()
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            tb = traceback.format_exc(limit=6)
            self.check(False, f"{name}: no exception", f"{type(e).__name__}: {e}\n{tb}")
        print(f"   ({time.time() - t0:.1f} s)")


R = Report()


# ----------------------------------------------------------------------------- helpers
def parse_dt(s: str | None) -> dt.datetime | None:
    if s is None:
        return None
    d = dt.datetime.fromisoformat(s.replace("z", "Z").replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


def iso(d: dt.datetime) -> str:
    return d.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def item_interval(f: dict) -> tuple[dt.datetime, dt.datetime]:
    p = f.get("properties", {})
    if p.get("datetime"):
        t = parse_dt(p["datetime"])
        return t, t  # type: ignore[return-value]
    return parse_dt(p["start_datetime"]), parse_dt(p["end_datetime"])  # type: ignore[return-value]


def bbox2d(b: list[float]) -> tuple[float, float, float, float]:
    return (b[0], b[1], b[3], b[4]) if len(b) == 6 else (b[0], b[1], b[2], b[3])


def bbox_intersects(a: list[float], b: list[float]) -> bool:
    aw, as_, ae, an = bbox2d(a)
    bw, bs, be, bn = bbox2d(b)
    return aw <= be and ae >= bw and as_ <= bn and an >= bs


def first_page(search: Any) -> dict:
    return next(iter(search.pages_as_dicts()), {"features": []})


def collect(search: Any) -> tuple[list[dict], list[dict]]:
    """(pages, features) following next links like pystac-client does."""
    pages = list(search.pages_as_dicts())
    return pages, [f for p in pages for f in p.get("features", [])]


def number_matched(page: dict) -> int | None:
    if "numberMatched" in page:
        return page["numberMatched"]
    return (page.get("context") or {}).get("matched")


def monotonic(values: list[Any], descending: bool) -> tuple[bool, str]:
    for i in range(1, len(values)):
        a, b = values[i - 1], values[i]
        if (a < b) if descending else (a > b):
            return False, f"position {i - 1}->{i}: {a} then {b}"
    return True, ""


# ----------------------------------------------------------------------------- checks
RESTRICTED = ["pleiades", "spot-6-7"]
AUTH_EXTENSION = "https://stac-extensions.github.io/authentication/v1.1.0/schema.json"


def offline_has(url: str) -> bool:
    """True when the offline schema directory holds this schema."""
    root = os.environ.get("STAC_SCHEMA_DIR", "")
    return bool(root) and os.path.isfile(os.path.join(root, url.split("://", 1)[1]))


class Suite:
    def __init__(self, url: str, args: argparse.Namespace) -> None:
        self.url = url
        self.args = args
        self.client: Any = None
        self.paging_items: list[dict] = []

    # -- open ---------------------------------------------------------------------------
    def open(self) -> None:
        from pystac_client import Client
        from pystac_client.conformance import ConformanceClasses as CC_

        headers = {"Authorization": f"Bearer {self.args.api_key}"} if self.args.api_key else None
        self.client = Client.open(self.url, headers=headers, timeout=60)
        c = self.client
        R.check(c.has_conforms_to(), "landing page has conformsTo")
        for name in ("CORE", "COLLECTIONS", "FEATURES", "ITEM_SEARCH", "FILTER", "SORT", "FIELDS", "QUERY"):
            cls = CC_[name]
            R.check(c.conforms_to(cls), f"conforms_to({name})",
                    f"needs a URI matching {cls.pattern.pattern}")
        link = c.get_search_link()
        R.check(link is not None, "rel=search link with type application/geo+json or application/json")
        methods = {(lk.extra_fields.get("method") or "GET") for lk in c.links if lk.rel == "search"}
        R.check({"GET", "POST"} <= methods, "search links advertise GET and POST", f"methods={sorted(methods)}")
        if link is not None:
            R.check(link.href.rstrip("/").endswith("/search") and not link.href.endswith("/"),
                    "search href ends with /search", link.href)
        ids = [col.id for col in c.get_collections()]
        R.check(len(ids) == len(set(ids)), "collection ids unique", str(ids))
        missing = [x for x in self.args.collections if x not in ids]
        R.check(not missing, "shipped collections listed by get_collections()", f"missing {missing}, got {ids}")
        for cid in self.args.collections:
            col = c.get_collection(cid)
            R.check(col is not None and col.id == cid, f"get_collection({cid})")
        R.check(c.get_collection("no-such-collection-xyz") is None, "get_collection(unknown) -> None (404)")

    # -- queryables + collection client ---------------------------------------------------
    def queryables(self) -> None:
        def root() -> None:
            q = self.client.get_queryables()  # rel=".../ogc/1.0/queryables" link, needs "properties"
            props = q.get("properties", {})
            R.check(q.get("type") == "object", "GET /queryables: type object")
            R.check(bool(q.get("$id")) and bool(q.get("$schema")), "GET /queryables: $id and $schema",
                    f"$id={q.get('$id')!r} $schema={q.get('$schema')!r}")
            R.check(CC in props and "datetime" in props, f"GET /queryables lists {CC} and datetime",
                    str(sorted(props)[:30]))

        def merged() -> None:
            # GET /collections/{id}/queryables for each id; pops "$id" (KeyError if missing)
            q = self.client.get_merged_queryables([self.args.filter_collection, self.args.paging_collection])
            R.check(CC in q.get("properties", {}), f"get_merged_queryables(...) lists {CC}",
                    str(sorted(q.get("properties", {}))[:30]))

        R.guard("queryables", root)
        R.guard("collection queryables", merged)

        def items_endpoint() -> None:
            coll = self.args.paging_collection
            col = self.client.get_collection(coll)
            # CollectionClient.get_items(): GET /collections/{id}/items?collections={id}, then next links
            got = []
            for it in col.get_items():
                got.append(it)
                if len(got) >= 23:
                    break
            ids = [i.id for i in got]
            R.check(len(got) == 23, f"CollectionClient({coll}).get_items() pages through /items", f"{len(got)} items")
            R.check(len(ids) == len(set(ids)), f"/collections/{coll}/items paging: no duplicates")
            R.check(all(i.collection_id == coll for i in got), f"/collections/{coll}/items: collection kept")
            one = col.get_item(ids[0]) if ids else None
            R.check(one is not None and one.id == ids[0], f"CollectionClient.get_item({ids[0] if ids else None})")
            R.check(col.get_item("no-such-item-xyz") is None, "CollectionClient.get_item(unknown) -> None (404)")

        R.guard("collection items", items_endpoint)

    # -- paging -------------------------------------------------------------------------
    def paging(self) -> None:
        coll = self.args.paging_collection
        per_method: dict[str, list[str]] = {}
        for method in ("GET", "POST"):
            R.guard(f"{method} paging", lambda method=method: self._paging_case(coll, method, per_method))
        if len(per_method) == 2:
            R.check(set(per_method["GET"]) == set(per_method["POST"]), "GET and POST paging return the same items")
            R.check(per_method["GET"] == per_method["POST"], "GET and POST paging return the same order")

        # filter + sort must survive the next links
        fcoll = self.args.filter_collection
        for method, flt, sortby in (
            ("POST", {"op": "<", "args": [{"property": CC}, 60]}, [{"field": f"properties.{CC}", "direction": "desc"}]),
            ("GET", f"{CC} < 60", f"+{CC}"),
        ):
            R.guard(f"{method} paging with filter+sortby",
                    lambda method=method, flt=flt, sortby=sortby: self._paging_sorted_case(fcoll, method, flt, sortby))

    def _paging_case(self, coll: str, method: str, per_method: dict[str, list[str]]) -> None:
        s = self.client.search(method=method, collections=[coll], limit=5)
        fp = first_page(s)
        nm = number_matched(fp)
        ok = R.check(isinstance(nm, int), f"{method} paging: first page has numberMatched", f"got {nm!r}")
        if ok and nm > self.args.max_paging_items:
            R.check(False, f"{method} paging: collection small enough",
                    f"{coll} has {nm} items > --max-paging-items {self.args.max_paging_items}")
            return
        pages, feats = collect(s)
        ids = [f["id"] for f in feats]
        dups = sorted({i for i in ids if ids.count(i) > 1})
        R.check(len(pages) > 3, f"{method} paging: more than 3 pages with limit=5", f"{len(pages)} pages")
        R.check(all(len(p.get("features", [])) <= 5 for p in pages),
                f"{method} paging: no page larger than limit=5",
                str([len(p.get("features", [])) for p in pages][:20]))
        R.check(not dups, f"{method} paging: every id exactly once", f"duplicates: {dups[:10]}")
        R.check(nm == len(ids), f"{method} paging: total == numberMatched of first page",
                f"numberMatched={nm}, items seen={len(ids)}, pages={len(pages)}")
        bad_nr = [i for i, p in enumerate(pages)
                  if "numberReturned" in p and p["numberReturned"] != len(p.get("features", []))]
        R.check(not bad_nr, f"{method} paging: numberReturned == len(features) on every page",
                f"pages {bad_nr[:10]}")
        wrong_coll = [f["id"] for f in feats if f.get("collection") != coll]
        R.check(not wrong_coll, f"{method} paging: every item in collection {coll}", str(wrong_coll[:5]))
        m = s.matched()
        R.check(m == nm, f"{method} paging: search.matched() (limit=1 request) == numberMatched",
                f"matched()={m}, numberMatched={nm}")
        per_method[method] = ids
        if method == "GET":
            self.paging_items = feats

    def _paging_sorted_case(self, fcoll: str, method: str, flt: Any, sortby: Any) -> None:
        s = self.client.search(method=method, collections=[fcoll], filter=flt, sortby=sortby,
                               limit=5, max_items=40)
        pages, feats = collect(s)
        vals = [f["properties"].get(CC) for f in feats]
        ids = [f["id"] for f in feats]
        name = f"{method} paging with filter+sortby"
        R.check(len(pages) >= 4, f"{name}: >= 4 pages", f"{len(pages)} pages, {len(feats)} items")
        R.check(len(ids) == len(set(ids)), f"{name}: no duplicate ids")
        R.check(all(isinstance(v, (int, float)) and v < 60 for v in vals),
                f"{name}: filter kept on every page", str(vals))
        ok, why = monotonic(vals, descending=(method == "POST"))
        R.check(ok, f"{name}: order kept across pages", why)

    # -- filter -------------------------------------------------------------------------
    def filters(self) -> None:
        coll = self.args.filter_collection
        total = number_matched(first_page(self.client.search(method="GET", collections=[coll], limit=1)))
        cases = [
            ("GET cql2-text", "GET", f"{CC} < 20", None, lambda v: v < 20),
            ("POST cql2-json", "POST",
             {"op": "and", "args": [{"op": ">=", "args": [{"property": CC}, 10]},
                                    {"op": "<", "args": [{"property": CC}, 30]}]},
             None, lambda v: 10 <= v < 30),
            ("POST cql2-text", "POST", f"{CC} >= 80", "cql2-text", lambda v: v >= 80),
            ("GET cql2-json", "GET", {"op": "<=", "args": [{"property": CC}, 5]}, "cql2-json", lambda v: v <= 5),
        ]
        for name, method, flt, lang, pred in cases:
            R.guard(f"filter {name}", lambda name=name, method=method, flt=flt, lang=lang, pred=pred:
                    self._filter_case(coll, total, name, method, flt, lang, pred))

    def _filter_case(self, coll: str, total: Any, name: str, method: str, flt: Any, lang: Any,
                     pred: Callable[[float], bool]) -> None:
        s = self.client.search(method=method, collections=[coll], filter=flt, filter_lang=lang, limit=100)
        pages, feats = collect(s)
        nm = number_matched(pages[0]) if pages else 0
        bad = [(f["id"], f["properties"].get(CC)) for f in feats
               if not isinstance(f["properties"].get(CC), (int, float)) or not pred(f["properties"][CC])]
        R.check(len(feats) > 0, f"filter {name}: results", f"{json.dumps(flt)} -> {len(feats)} items")
        R.check(not bad, f"filter {name}: every item satisfies {json.dumps(flt)}", str(bad[:5]))
        R.check(nm == len(feats), f"filter {name}: count == numberMatched", f"{nm} vs {len(feats)}")
        R.check(all(f.get("collection") == coll for f in feats), f"filter {name}: collection kept")
        if isinstance(total, int) and isinstance(nm, int):
            R.check(nm < total, f"filter {name}: filters something", f"{nm} of {total}")

    # -- sortby -------------------------------------------------------------------------
    def sortby(self) -> None:
        coll = self.args.paging_collection
        items = self.paging_items
        if not items:
            _, items = collect(self.client.search(method="GET", collections=[coll], limit=100))
        ccs = [f["properties"][CC] for f in items if isinstance(f["properties"].get(CC), (int, float))]
        dts = [item_interval(f)[0] for f in items]
        R.check(len(ccs) == len(items) > 0, f"sortby: every {coll} item has {CC}", f"{len(ccs)}/{len(items)}")
        cases = [
            ("GET", f"+{CC}", CC, False), ("GET", f"-{CC}", CC, True),
            ("POST", [{"field": f"properties.{CC}", "direction": "asc"}], CC, False),
            ("POST", [{"field": CC, "direction": "desc"}], CC, True),
            ("GET", "datetime", "datetime", False), ("GET", "-properties.datetime", "datetime", True),
            ("POST", [{"field": "properties.datetime", "direction": "asc"}], "datetime", False),
            ("POST", [{"field": "datetime", "direction": "desc"}], "datetime", True),
        ]
        for method, sb, key, desc in cases:
            R.guard(f"sortby {method} {json.dumps(sb)}",
                    lambda method=method, sb=sb, key=key, desc=desc:
                    self._sort_case(coll, len(items), ccs, dts, method, sb, key, desc))

    def _sort_case(self, coll: str, n_items: int, ccs: list[float], dts: list[dt.datetime],
                   method: str, sb: Any, key: str, desc: bool) -> None:
        s = self.client.search(method=method, collections=[coll], sortby=sb, limit=10, max_items=25)
        pages, feats = collect(s)
        if key == CC:
            vals: list[Any] = [f["properties"].get(CC) for f in feats]
            expected_first: Any = max(ccs) if desc else min(ccs)
        else:
            vals = [item_interval(f)[0] for f in feats]
            expected_first = max(dts) if desc else min(dts)
        label = f"sortby {method} {json.dumps(sb)}"
        R.check(len(pages) >= 3 and len(feats) == min(25, n_items), f"{label}: 3 pages of results",
                f"{len(pages)} pages, {len(feats)} items")
        ok, why = monotonic(vals, desc)
        R.check(ok, f"{label}: {'descending' if desc else 'ascending'}", why)
        R.check(bool(vals) and vals[0] == expected_first, f"{label}: first is the global {'max' if desc else 'min'}",
                f"first={vals[0] if vals else None}, expected={expected_first}")

    # -- bbox + datetime ----------------------------------------------------------------
    def bbox_datetime(self) -> None:
        items = self.paging_items
        if not items:
            R.check(False, "bbox+datetime: need the paging items")
            return
        seed = items[len(items) // 2]
        t0, t1 = item_interval(seed)
        w, s_, e, n = bbox2d(seed["bbox"])
        qbbox = [round(w - 0.5, 6), round(s_ - 0.5, 6), round(e + 0.5, 6), round(n + 0.5, 6)]
        lo, hi = t0 - dt.timedelta(days=45), t1 + dt.timedelta(days=45)
        cases = [
            ("closed range, collection", f"{iso(lo)}/{iso(hi)}", [self.args.paging_collection], lo, hi),
            ("closed range, all collections", f"{iso(lo)}/{iso(hi)}", None, lo, hi),
            ("open end", f"{iso(lo)}/..", [self.args.paging_collection], lo, None),
            ("open start", f"../{iso(hi)}", None, None, hi),
        ]
        for label, dtq, colls, qlo, qhi in cases:
            for method in ("GET", "POST"):
                R.guard(f"bbox+datetime {method} {label}",
                        lambda label=label, dtq=dtq, colls=colls, qlo=qlo, qhi=qhi, method=method:
                        self._bbox_dt_case(seed, qbbox, label, dtq, colls, qlo, qhi, method))

    def _bbox_dt_case(self, seed: dict, qbbox: list[float], label: str, dtq: str, colls: Any,
                      qlo: dt.datetime | None, qhi: dt.datetime | None, method: str) -> None:
        s = self.client.search(method=method, collections=colls, bbox=qbbox, datetime=dtq, limit=100)
        pages, feats = collect(s)
        name = f"bbox+datetime {method} {label}"
        R.check(any(f["id"] == seed["id"] for f in feats), f"{name}: seed item found",
                f"bbox={qbbox} datetime={dtq} -> {len(feats)} items")
        bad_b = [f["id"] for f in feats if not bbox_intersects(f["bbox"], qbbox)]
        R.check(not bad_b, f"{name}: every bbox intersects {qbbox}", str(bad_b[:5]))
        bad_t = []
        for f in feats:
            a, b = item_interval(f)
            if (qlo is not None and b < qlo) or (qhi is not None and a > qhi):
                bad_t.append((f["id"], iso(a), iso(b)))
        R.check(not bad_t, f"{name}: every datetime/interval overlaps {dtq}", str(bad_t[:5]))
        if colls:
            bad_c = [f["id"] for f in feats if f.get("collection") not in colls]
            R.check(not bad_c, f"{name}: collections kept", str(bad_c[:5]))
        nm = number_matched(pages[0]) if pages else 0
        R.check(nm == len(feats), f"{name}: count == numberMatched", f"{nm} vs {len(feats)}")

    # -- intersects ---------------------------------------------------------------------
    def intersects(self) -> None:
        from shapely.geometry import shape

        poly = {"type": "Polygon", "coordinates": [[[1.0, 43.0], [4.8, 43.0], [4.8, 44.6], [1.0, 44.6], [1.0, 43.0]]]}
        qs = shape(poly)
        def case(method: str) -> None:
            s = self.client.search(method=method, collections=[self.args.filter_collection],
                                   intersects=poly, limit=100, max_items=300)
            _, feats = collect(s)
            bad = [f["id"] for f in feats if not qs.intersects(shape(f["geometry"]))]
            R.check(len(feats) > 0, f"intersects {method}: results over southern France", f"{len(feats)} items")
            R.check(not bad, f"intersects {method}: every geometry intersects", str(bad[:5]))

        for method in ("GET", "POST"):
            R.guard(f"intersects {method}", lambda method=method: case(method))

    # -- validation ---------------------------------------------------------------------
    def validate(self) -> None:
        for cid in self.args.collections:
            R.guard(f"validate {cid}", lambda cid=cid: self._validate_collection(cid))

    def _validate_collection(self, cid: str) -> None:
        import pystac.validation

        col = self.client.get_collection(cid)
        if col is None:
            R.check(False, f"validate collection {cid}", "not found")
            return
        # validate what the server sent, not pystac's (migrated) re-serialisation
        href = col.get_self_href() or self.client._collections_href(cid)
        raw = self.client._stac_io.read_json(href)
        # The authentication extension's schema is not among the offline schemas
        # (../shared/schemas): validate against every other schema and say so.
        note = ""
        if AUTH_EXTENSION in raw.get("stac_extensions", []) and not offline_has(AUTH_EXTENSION):
            raw = dict(raw, stac_extensions=[e for e in raw["stac_extensions"] if e != AUTH_EXTENSION])
            R.check(isinstance(raw.get("auth:schemes"), dict) and raw["auth:schemes"],
                    f"{cid}: auth:schemes present", str(raw.get("auth:schemes")))
            note = " (not the authentication extension: its schema is not stored offline)"
        try:
            uris = pystac.validation.validate_dict(raw)
            R.check(True, f"validate collection {cid}", ", ".join(uris) + note)
        except Exception as e:  # noqa: BLE001
            R.check(False, f"validate collection {cid}", f"{type(e).__name__}: {str(e)[:800]}")
        s = self.client.search(method="GET", collections=[cid], limit=max(self.args.sample, 1),
                               max_items=self.args.sample)
        feats = list(s.items_as_dicts())
        R.check(len(feats) == self.args.sample, f"{cid}: {self.args.sample} items to validate", f"got {len(feats)}")
        for f in feats:
            try:
                uris = pystac.validation.validate_dict(f)
                R.check(True, f"validate item {cid}/{f['id']}", f"{len(uris)} schemas")
            except Exception as e:  # noqa: BLE001
                R.check(False, f"validate item {cid}/{f.get('id')}", f"{type(e).__name__}: {str(e)[:800]}")

    # -- anonymous ----------------------------------------------------------------------
    def anonymous(self) -> None:
        """Without a key the licensed collections do not exist; with one they do."""
        from pystac_client import Client

        anon = Client.open(self.url, timeout=60)
        ids = {c.id for c in anon.get_collections()}
        R.check(not ids & set(RESTRICTED), "anonymous: no licensed collection listed", str(sorted(ids)))
        found = list(anon.search(collections=RESTRICTED, max_items=5).items())
        R.check(not found, "anonymous: searching licensed collections finds nothing", str(len(found)))
        if self.args.api_key:
            ids = {c.id for c in self.client.get_collections()}
            R.check(set(RESTRICTED) <= ids, "with the key: licensed collections listed", str(sorted(ids)))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", nargs="?", default="http://127.0.0.1:8080")
    ap.add_argument("--paging-collection", default="pleiades")
    ap.add_argument("--filter-collection", default="sentinel-2-l2a")
    ap.add_argument("--collections", default=",".join(SHIPPED), type=lambda s: [x for x in s.split(",") if x])
    ap.add_argument("--sample", type=int, default=3)
    ap.add_argument("--max-paging-items", type=int, default=3000)
    ap.add_argument("--api-key", default=os.environ.get("TUILERIE_API_KEY", ""),
                    help="API key sent as a bearer token (default $TUILERIE_API_KEY); the licensed "
                         "collections (pleiades, spot-6-7) are checked only with one")
    args = ap.parse_args(argv)
    url = args.url.rstrip("/") or args.url

    print(f"schemas: {offline.install([url])}")
    import pystac_client
    from pystac_client.warnings import PystacClientWarning

    print(f"pystac-client {pystac_client.__version__}, server {url}")
    suite = Suite(url, args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        R.run("open", suite.open)
        if suite.client is not None:
            R.run("queryables + /collections/{id}/items", suite.queryables)
            R.run("paging", suite.paging)
            R.run("filter", suite.filters)
            R.run("sortby", suite.sortby)
            R.run("bbox + datetime", suite.bbox_datetime)
            R.run("intersects", suite.intersects)
            R.run("validate", suite.validate)
            R.run("anonymous access", suite.anonymous)
    client_warnings = sorted({f"{w.category.__name__}: {w.message}" for w in caught
                              if issubclass(w.category, PystacClientWarning)})
    print("\n== warnings")
    R.check(not client_warnings, "pystac-client emitted no PystacClientWarning", "; ".join(client_warnings))

    print(f"\n{R.passed} passed, {len(R.failures)} failed")
    for f in R.failures:
        print(f"  - {f.splitlines()[0][:300]}")
    return 1 if R.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
