#!/usr/bin/env bash
# Run stac-api-validator (offline schemas, see offline.py) against a running Tuilerie server.
#
#   tests/clients/run_validator.sh [ROOT_URL]        default http://127.0.0.1:8080
#
# Validates core, collections, features, item-search, filter, item-search#sort,
# item-search#fields and item-search#query with collection sentinel-2-l2a and a polygon
# over southern France, plus --validate-pagination. Exit status is non-zero if the validator
# reports any error, crashes, or the server is unreachable.
#
# Environment:
#   PYTHON            interpreter with stac-api-validator 0.6.8 (default /tmp/venv-clients/bin/python,
#                     else python3)
#   SAV_COLLECTION    collection used by the class tests (default sentinel-2-l2a)
#   SAV_GEOMETRY      GeoJSON geometry for the intersects tests (default: southern France polygon)
#   SAV_PAGINATION    1 (default) adds --validate-pagination, 0 leaves it out
#   SAV_LOG_LEVEL     validator log level (default INFO; WARNING is quieter)
#   SAV_EXTRA_ARGS    extra arguments appended last (a later single-valued option wins),
#                     e.g. SAV_EXTRA_ARGS='--query-eq-value 12.5'
#   SAV_LOG           also write the output to this file
#   STAC_SCHEMA_DIR, STAC_OFFLINE_ALLOWED_HOSTS: see offline.py
#
# The Query-extension values (--query-*) and --fields-nested-property are not hard-coded:
# they are picked from the collection's first items so that every query the validator sends
# has matches (it reports "had no results" otherwise). Run with SAV_LOG_LEVEL=WARNING and
# look at the "query/fields arguments" line to see what was chosen.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
URL="${1:-http://127.0.0.1:8080}"
URL="${URL%/}"
PY="${PYTHON:-/tmp/venv-clients/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
COLLECTION="${SAV_COLLECTION:-sentinel-2-l2a}"
# southern France: Toulouse - Rodez - Avignon - Montpellier
DEFAULT_GEOMETRY='{"type":"Polygon","coordinates":[[[1.0,43.0],[4.8,43.0],[4.8,44.6],[1.0,44.6],[1.0,43.0]]]}'
GEOMETRY="${SAV_GEOMETRY:-$DEFAULT_GEOMETRY}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"

# ---------------------------------------------------------------------------- discovery
# Prints one argument per line. Falls back to values that fit the generated demo data.
DISCOVERED="$("$PY" - "$URL" "$COLLECTION" <<'PYEOF'
import json, sys, urllib.parse, urllib.request
url, coll = sys.argv[1], sys.argv[2]
args = {
    "--fields-nested-property": "properties.eo:cloud_cover",
    "--query-comparison-field": "eo:cloud_cover",
    "--query-eq-value": "10", "--query-neq-value": "10", "--query-lt-value": "50",
    "--query-lte-value": "50", "--query-gt-value": "50", "--query-gte-value": "50",
    "--query-substring-field": "platform", "--query-starts-with-value": "sentinel",
    "--query-ends-with-value": "2a", "--query-contains-value": "nel-2",
    "--query-in-field": "instruments", "--query-in-values": "msi",
}
note = "defaults"
try:
    q = urllib.parse.urlencode({"limit": 100})
    with urllib.request.urlopen(f"{url}/collections/{urllib.parse.quote(coll)}/items?{q}", timeout=30) as r:
        feats = json.load(r).get("features", [])
    props = [f.get("properties", {}) for f in feats]
    if props:
        note = f"picked from the first {len(props)} items of {coll}"
        first = props[0]
        # Fields: a non-default property that is truthy on the first item
        for k in ("eo:cloud_cover", "platform", "constellation", "gsd"):
            if first.get(k):
                args["--fields-nested-property"] = f"properties.{k}"
                break
        # Query comparison: a numeric property with several distinct values
        for k in ("eo:cloud_cover", "view:sun_elevation", "sat:relative_orbit", "mgrs:utm_zone", "gsd"):
            vals = [p[k] for p in props if isinstance(p.get(k), (int, float)) and not isinstance(p.get(k), bool)]
            if len(set(vals)) >= 3:
                s = sorted(vals)
                pivot = s[len(s) // 2]
                if pivot == s[-1] or pivot == s[0]:
                    continue
                args["--query-comparison-field"] = k
                args["--query-eq-value"] = args["--query-neq-value"] = repr(vals[0])
                for op in ("lt", "lte", "gt", "gte"):
                    args[f"--query-{op}-value"] = repr(pivot)
                break
        # Query substring: a string property of the first item (>= 4 characters)
        for k in ("platform", "constellation", "mgrs:grid_square", "sat:orbit_state"):
            v = first.get(k)
            if isinstance(v, str) and len(v) >= 4:
                args["--query-substring-field"] = k
                args["--query-starts-with-value"] = v[:3]
                args["--query-ends-with-value"] = v[-2:]
                args["--query-contains-value"] = v[1:-1]
                break
        # Query in: must be an ARRAY-valued property (the validator does set(value))
        for k, v in first.items():
            if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
                args["--query-in-field"] = k
                args["--query-in-values"] = v[0]
                break
except Exception as e:  # noqa: BLE001 - the validator will report the real problem
    note = f"defaults (discovery failed: {type(e).__name__}: {e})"
print(f"# query/fields arguments: {note}")
for k, v in args.items():
    print(k)
    print(v)
PYEOF
)"
echo "$DISCOVERED" | grep '^#' >&2
mapfile -t QARGS < <(echo "$DISCOVERED" | grep -v '^#')
echo "# ${QARGS[*]}" >&2

ARGS=(
  --root-url "$URL"
  --conformance core
  --conformance collections
  --conformance features
  --conformance item-search
  --conformance filter
  --conformance "item-search#sort"
  --conformance "item-search#fields"
  --conformance "item-search#query"
  --collection "$COLLECTION"
  --geometry "$GEOMETRY"
  --log-level "${SAV_LOG_LEVEL:-INFO}"
  "${QARGS[@]}"
)
[ "${SAV_PAGINATION:-1}" = "1" ] && ARGS+=(--validate-pagination)
EXTRA=()
[ -n "${SAV_EXTRA_ARGS:-}" ] && read -r -a EXTRA <<<"$SAV_EXTRA_ARGS"

OUT="$(mktemp "${TMPDIR:-/tmp}/sav-XXXXXX.log")"
trap 'rm -f "$OUT"' EXIT
"$PY" "$HERE/offline.py" stac-api-validator "${ARGS[@]}" "${EXTRA[@]}" 2>&1 | tee "$OUT"
rc=${PIPESTATUS[0]}
[ -n "${SAV_LOG:-}" ] && cp "$OUT" "$SAV_LOG"

# Belt and braces: the validator must have reached its summary and reported no error.
if ! grep -q '^Errors: none' "$OUT"; then
  [ "$rc" -eq 0 ] && rc=1
fi
if grep -q '^Failed\.' "$OUT"; then
  echo "run_validator.sh: stac-api-validator crashed (see traceback above)" >&2
  [ "$rc" -eq 0 ] && rc=1
fi
if [ "$rc" -eq 0 ]; then
  echo "run_validator.sh: OK ($URL)"
else
  echo "run_validator.sh: FAILED with status $rc ($URL)" >&2
fi
exit "$rc"
