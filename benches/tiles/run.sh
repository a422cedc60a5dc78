#!/usr/bin/env bash
# Tuilerie side by side with the tile-server peers (titiler, MapServer) on the same COGs and the
# same fixed tile lists, with the peers' own harness (../shared/bench/tiles/run_peers.sh).
#
#   benches/tiles/run.sh                                   # XYZ tiles, every case, c=8 and c=32, 20 s (~25 min)
#   CASES="s2_z14 lai_z10" CONNS=8 DURATION=10s FLOOR=0 benches/tiles/run.sh          # quick
#   PEERS=extra FLOOR=0 benches/tiles/run.sh               # Tuilerie alone (same lists, same wrk)
#   MODE=wms benches/tiles/run.sh                          # WMS GetMap instead of XYZ tiles
#   MODE=cached benches/tiles/run.sh                       # s2_z14_hot1 with the tile cache on (256 MB)
#   STOP_AFTER=catalog BUILD=0 benches/tiles/run.sh        # only: items, ingest, serve, check the items answer
#
# Steps: cargo build --release --locked; make_items.py -> $BASE/tuilerie/stac; fresh store,
# `tuilerie ingest`; `tuilerie serve --config ...` in the background (its PID is what the CPU
# ms/req column measures); every item must answer on /collections/{c}/items/{id}; the first tile of
# every case must be a 256x256 PNG; then run_peers.sh (from a scratch copy of the kit, so that
# nothing under ../shared is written) with PEERS="titiler mapserver extra" and Tuilerie as `extra`;
# the report goes to benches/results/tiles[-MODE]-<date>[-HHMM].md (+ .tsv). Whatever this script
# started is stopped on exit (also on errors and Ctrl-C); run_peers.sh stops the peers itself.
#
# Env (defaults):
#   MODE=tiles            tiles | wms | cached
#   PEERS="titiler mapserver extra"   CASES (all 6; cached: s2_z14_hot1)   CONNS ("8 32")
#   DURATION (20s)        FLOOR (1 = also run gdal_floor.py; cached: 0)     -> passed to run_peers.sh
#   TITILER_WORKERS, MS_PROCS, MS_RESAMPLE, WRK_THREADS, TILES_DIR, REGEN_TILES: passed through as well
#   BUILD=1               0: use the existing target/release/tuilerie
#   CONFIG=benches/tiles/tuilerie.toml   (MODE=cached: a copy with cache.memory_mb=$CACHE_MB)
#   CACHE_MB=256          memory cache of MODE=cached
#   TEMPLATE              Tuilerie URL template (default per MODE, see below)
#   EXTRA_NAME            label of Tuilerie in the report (tuilerie | tuilerie-wms | tuilerie-cached)
#   TILE_CHECK=fail       warn: go on even if the first tile of a case is not a 256x256 PNG
#   STOP_AFTER            catalog | preflight: stop after that step (no wrk run, no report)
#   LOG_LEVEL=warn        Tuilerie's log filter while measured (the peers run without access logs too)
#   RESULTS_DIR=benches/results   where the report goes
#   BASE=/tmp/peers-tiles KIT=../shared/bench/tiles   S2_COG / PHR_COG / LAI_COG (the synthetic COGs)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
KIT="${KIT:-$REPO/../shared/bench/tiles}"
KIT="$(cd "$KIT" && pwd)"
BASE="${BASE:-/tmp/peers-tiles}"
export BASE
MODE="${MODE:-tiles}"
BUILD="${BUILD:-1}"
CACHE_MB="${CACHE_MB:-256}"
TILE_CHECK="${TILE_CHECK:-fail}"
STOP_AFTER="${STOP_AFTER:-}"
LOG_LEVEL="${LOG_LEVEL:-warn}"
S2_COG="${S2_COG:-$BASE/data/s2_32631_10m.tif}"
PHR_COG="${PHR_COG:-$BASE/data/phr_2154_50cm.tif}"
LAI_COG="${LAI_COG:-$BASE/data/lai_4326.tif}"
export S2_COG PHR_COG LAI_COG
WORK="$BASE/tuilerie"
STAC="$WORK/stac"
LOGS="$WORK/logs"
OUT="$WORK/out"
BIN="$REPO/target/release/tuilerie"
RESULTS_DIR="${RESULTS_DIR:-$REPO/benches/results}"
DATE="$(date +%F)"
unset TUILERIE_CONFIG
mkdir -p "$WORK" "$LOGS" "$OUT"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case $MODE in
  tiles) NAME=tiles; LABEL=tuilerie ;;
  wms) NAME=tiles-wms; LABEL=tuilerie-wms ;;
  cached) NAME=tiles-cached; LABEL=tuilerie-cached
    CASES="${CASES:-s2_z14_hot1}"; FLOOR="${FLOOR:-0}" ;;
  *) die "MODE must be tiles, wms or cached (got '$MODE')" ;;
esac
EXTRA_NAME="${EXTRA_NAME:-$LABEL}"
PEERS="${PEERS:-titiler mapserver extra}"
CASES="${CASES:-s2_z14 s2_z10_11 s2_z14_hot1 lai_z10 phr_z18 phr_z15_16}"
export CASES
for v in CONNS DURATION FLOOR; do [[ -n ${!v:-} ]] && export "$v"; done

for f in "$S2_COG" "$PHR_COG" "$LAI_COG"; do
  [[ -s $f ]] || die "$f missing: run the kit's one-time setup first (cd $KIT && bash make_data.sh)"
done
[[ -x $KIT/run_peers.sh ]] || die "no run_peers.sh in $KIT (set KIT=)"
command -v gdalinfo > /dev/null || die "gdalinfo missing (apt-get install gdal-bin)"
command -v wrk > /dev/null || die "wrk missing (see $KIT/README.md, One-time setup)"

# ---------------------------------------------------------------- config
CONFIG="${CONFIG:-$HERE/tuilerie.toml}"
[[ -s $CONFIG ]] || die "config $CONFIG missing"
if [[ $MODE == cached ]]; then
  # Same file, memory cache on. Only the [cache] memory_mb line changes.
  sed -E "s/^([[:space:]]*memory_mb[[:space:]]*=[[:space:]]*)[0-9]+/\1$CACHE_MB/" "$CONFIG" > "$WORK/tuilerie-cached.toml"
  CONFIG="$WORK/tuilerie-cached.toml"
fi
CONFIG="$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")"
# server.bind and store.url as the server will read them (python3 tomllib, stdlib)
read -r BIND DB CMB < <(python3 - "$CONFIG" <<'EOF'
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
print(c.get("server", {}).get("bind", "127.0.0.1:8080"), c.get("store", {}).get("url", "data/tuilerie.db"),
      c.get("cache", {}).get("memory_mb", "-"))
EOF
)
[[ -n ${DB:-} ]] || die "cannot read $CONFIG"
[[ $MODE != cached || $CMB == "$CACHE_MB" ]] || die "$CONFIG: cache.memory_mb is '$CMB', expected $CACHE_MB"
[[ $DB != postgres* ]] || die "store.url is a postgres URL; this script manages an SQLite file store"
case $MODE in
  wms) DEF_TEMPLATE="http://$BIND/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layer}&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE" ;;
  *) DEF_TEMPLATE="http://$BIND/collections/{layer}/items/{item}/tiles/WebMercatorQuad/{z}/{x}/{y}.png?assets=visual{bidx_q}&rescale={rescale}{cmap_q}" ;;
esac
TEMPLATE="${TEMPLATE:-$DEF_TEMPLATE}"
log "mode $MODE, config $CONFIG (bind $BIND, store $DB, cache.memory_mb $CMB)"

# ---------------------------------------------------------------- stop what we start
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2> /dev/null; then
    kill -TERM "$SERVER_PID"
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2> /dev/null || break; sleep 0.2; done
    kill -0 "$SERVER_PID" 2> /dev/null && kill -KILL "$SERVER_PID"
    log "tuilerie stopped (pid $SERVER_PID)"
  fi
  SERVER_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
if [[ $BUILD == 1 ]]; then
  log "cargo build --release --locked"
  (cd "$REPO" && cargo build --release --locked)
fi
[[ -x $BIN ]] || die "$BIN missing (BUILD=1 builds it)"

# ---------------------------------------------------------------- STAC items + ingest into a fresh store
python3 "$HERE/make_items.py" "$STAC" --s2 "$S2_COG" --phr "$PHR_COG" --lai "$LAI_COG"
NITEMS=$(wc -l < "$STAC/items.ndjson")
mkdir -p "$(dirname "$DB")"
rm -f "$DB" "$DB-wal" "$DB-shm"
log "$BIN ingest --store $DB $STAC/collections $STAC/items.ndjson"
if ! "$BIN" ingest --store "$DB" "$STAC/collections" "$STAC/items.ndjson" > "$LOGS/ingest.log" 2>&1; then
  cat "$LOGS/ingest.log" >&2
  die "ingest failed"
fi
cat "$LOGS/ingest.log" >&2
INGEST_LINE=$(grep -m1 '^ingested ' "$LOGS/ingest.log" || true)
got=$(sed -n 's/.* collections ([0-9]* new, [0-9]* updated), \([0-9]*\) items .*/\1/p' <<< "$INGEST_LINE")
rej=$(sed -n 's/.*; \([0-9]*\) rejected.*/\1/p' <<< "$INGEST_LINE")
[[ $got == "$NITEMS" && $rej == 0 ]] || die "ingest: expected $NITEMS items and 0 rejected: $INGEST_LINE"

# ---------------------------------------------------------------- serve
if curl -s -o /dev/null "http://$BIND/"; then
  die "something already answers on $BIND: stop it first (this script benchmarks the server it starts)"
fi
log "$BIN --config $CONFIG --log $LOG_LEVEL serve"
"$BIN" --config "$CONFIG" --log "$LOG_LEVEL" serve > "$LOGS/serve-$MODE.log" 2>&1 &
SERVER_PID=$!
SERVER_PID_REPORT=$SERVER_PID
for i in $(seq 1 300); do
  if ! kill -0 "$SERVER_PID" 2> /dev/null; then
    SERVER_PID=""
    tail -20 "$LOGS/serve-$MODE.log" >&2
    die "tuilerie serve exited at start-up (log above, $LOGS/serve-$MODE.log)"
  fi
  curl -sf -o /dev/null "http://$BIND/health" && break
  [[ $i == 300 ]] && die "no answer on http://$BIND/health after 60 s"
  sleep 0.2
done
log "tuilerie up: pid $SERVER_PID on $BIND"

# every item must be in the catalogue
python3 - "$STAC/items.ndjson" "$BIND" <<'EOF' || die "catalogue check failed"
import json, sys, urllib.request
bad = 0
for line in open(sys.argv[1]):
    it = json.loads(line)
    url = f"http://{sys.argv[2]}/collections/{it['collection']}/items/{it['id']}"
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            got = json.load(r)
        href = got["assets"]["visual"]["href"]
        ok = got["id"] == it["id"] and href == it["assets"]["visual"]["href"]
        print(f"  {url} -> 200, asset visual {href}{'' if ok else '  MISMATCH'}", file=sys.stderr)
        bad += not ok
    except Exception as e:
        print(f"  {url} -> {e}", file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
EOF
[[ $STOP_AFTER == catalog ]] && { log "STOP_AFTER=catalog: done"; exit 0; }

# ---------------------------------------------------------------- scratch copy of the kit
# run_peers.sh writes next to itself (mapserver/GetCapabilities-1.3.0.xml, tiles/ when missing):
# run a fresh copy so that ../shared stays untouched. The tile lists are the kit's.
KITRUN="$BASE/kit-run"
rm -rf -- "$KITRUN"
cp -r "$KIT" "$KITRUN"
chmod -R u+w "$KITRUN"
TILES="${TILES_DIR:-$KITRUN/tiles}"

# ---------------------------------------------------------------- first tile of every case
case_vars() { # same as run_peers.sh
  case $1 in
    s2_*) LAYER=s2; COG=$S2_COG; BIDX=1,2,3; RESCALE=0,3000; CMAP= ;;
    phr_*) LAYER=phr; COG=$PHR_COG; BIDX=1,2,3; RESCALE=0,3000; CMAP= ;;
    lai_*) LAYER=lai; COG=$LAI_COG; BIDX=1; RESCALE=0,7; CMAP=viridis ;;
    *) die "unknown case $1" ;;
  esac
}
TILE_FAIL=0
CHECKS=()
for c in $CASES; do
  case_vars "$c"
  [[ -s $TILES/$c.tsv ]] || { log "no tile list $TILES/$c.tsv yet (run_peers.sh makes it); skipping its check"; continue; }
  bq=""; cq=""
  if [[ $BIDX == *,* ]]; then bq="&bidx=$(sed 's/,/\&bidx=/g' <<< "$BIDX")"; fi
  [[ -n $CMAP ]] && cq="&colormap_name=$CMAP"
  url=$(awk '!/^#/ && NF { print; exit }' "$TILES/$c.tsv" | python3 "$KIT/gen_urls.py" urls --tiles /dev/stdin --template "$TEMPLATE" \
    --var "case=$c" --var "layer=$LAYER" --var "cog=$COG" --var "item=$(basename "$COG" .tif)" \
    --var "bidx=$BIDX" --var "bidx_q=$bq" --var "rescale=$RESCALE" --var "cmap=$CMAP" --var "cmap_q=$cq")
  res=$(curl -s -o "$OUT/first-$MODE-$c.bin" -w '%{http_code} %{content_type} %{size_download} %{time_total}' "$url" || true)
  png=$(python3 -c 'import struct,sys
try: b=open(sys.argv[1],"rb").read(24)
except OSError: b=b""
print("%dx%d" % struct.unpack(">II", b[16:24]) if b[:8]==b"\x89PNG\r\n\x1a\n" and len(b)==24 else "not-png")' "$OUT/first-$MODE-$c.bin")
  line="$c: $url -> $res $png"
  CHECKS+=("$line")
  if [[ ${res%% *} == 200 && $png == 256x256 ]]; then
    log "tile ok   $line"
  else
    TILE_FAIL=1
    log "tile FAIL $line"
    head -c 300 "$OUT/first-$MODE-$c.bin" | tr -c '[:print:]\n' '.' >&2; echo >&2
  fi
done
if [[ $TILE_FAIL == 1 && $TILE_CHECK != warn ]]; then
  die "Tuilerie does not answer the tile URLs yet (TILE_CHECK=warn to measure anyway)"
fi
[[ $STOP_AFTER == preflight ]] && { log "STOP_AFTER=preflight: done"; exit 0; }

# ---------------------------------------------------------------- side by side
RESULT="$NAME-$DATE"
[[ -e $RESULTS_DIR/$RESULT.md ]] && RESULT="$NAME-$DATE-$(date +%H%M)"
RAW="$OUT/$RESULT-report.md"
log "run_peers.sh: PEERS='$PEERS' CASES='$CASES' CONNS='${CONNS:-8 32}' DURATION=${DURATION:-20s} FLOOR=${FLOOR:-1}"
if ! PEERS="$PEERS" EXTRA_NAME="$EXTRA_NAME" EXTRA_PIDS="$SERVER_PID" EXTRA_TEMPLATE="$TEMPLATE" RESULTS="$RAW" \
  "$KITRUN/run_peers.sh" 2>&1 | tee "$LOGS/run_peers-$MODE.log"; then
  die "run_peers.sh failed (log: $LOGS/run_peers-$MODE.log)"
fi
RUN_DIR=$(grep -o '/runs/[0-9T]*' "$RAW" | head -1 || true)
cleanup

# ---------------------------------------------------------------- report
mkdir -p "$RESULTS_DIR"
{
  case $MODE in tiles) what="XYZ tiles" ;; wms) what="WMS GetMap" ;; cached) what="XYZ tiles, memory cache on ($CMB MB)" ;; esac
  echo "# Tuilerie vs titiler / MapServer — $what, $DATE"
  echo
  echo "\`benches/tiles/run.sh\` (MODE=$MODE): Tuilerie measured as the \`extra\` server of"
  echo "\`../shared/bench/tiles/run_peers.sh\`, interleaved case by case with the peers, same tile lists, same wrk script."
  echo "Compare servers on **CPU ms/req** (user+sys CPU of the server processes per request); req/s only within this run."
  echo
  echo "- Tuilerie: \`$("$BIN" --version 2>/dev/null || echo tuilerie)\`, commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]] && echo ' (working tree modified)'), binary built $(date -r "$BIN" '+%F %T')"
  echo "- config: \`$CONFIG\` (bind $BIND, cache.memory_mb $CMB), log level $LOG_LEVEL; one process, pid $SERVER_PID_REPORT"
  echo "- URL template: \`$TEMPLATE\`"
  echo "- ingest: $INGEST_LINE"
  echo "- first tile of each case (before the run):"
  for l in "${CHECKS[@]}"; do echo "  - \`$l\`"; done
  if grep -q 'VALIDATION FAILED' "$LOGS/run_peers-$MODE.log"; then
    echo "- **validation failures** (non-200 or not a 256x256 PNG in the sequential pass; such a server's"
    echo "  CPU ms/req and req/s include cheap error answers — see the non-200 column and \`run.log\` of the run):"
    grep 'VALIDATION FAILED' "$LOGS/run_peers-$MODE.log" | sed -E 's/^\[[0-9:]+\] VALIDATION FAILED /  - /'
  fi
  echo "- raw run directory: \`$BASE${RUN_DIR}\` (wrk output, URL lists, sample PNGs)"
  echo
  sed -E 's/^(#+) /#\1 /' "$RAW"
} > "$OUT/$RESULT.md"
cp "$OUT/$RESULT.md" "$RESULTS_DIR/$RESULT.md"
cp "${RAW%.md}.tsv" "$RESULTS_DIR/$RESULT.tsv"
log "report: $RESULTS_DIR/$RESULT.md (+ .tsv)"
