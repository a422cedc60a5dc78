#!/usr/bin/env bash
# Low-zoom mosaic benchmark: a z5 collection-mosaic tile over 1,000 overlapping COGs must answer
# in under 2 s on this machine. See benches/mosaic/README.md.
#
#   benches/mosaic/run.sh                         # build, data (if missing), ingest, every variant
#                                                 # (duration: ~13 z5 requests per variant, see README)
#   BUILD=0 benches/mosaic/run.sh                 # use the existing target/release/tuilerie
#   BUILD=0 VARIANTS="1000:64" REPEAT=1 DROP_CACHES=0 benches/mosaic/run.sh     # quick look
#   BUILD=0 PERF=0 benches/mosaic/run.sh          # without the perf profiles
#
# Per variant (max_items_per_tile:datasets):
#   cold        REPEAT x (restart the server, then one z5, z6 or z7 request): first request after
#               start, dataset opens included, COGs in the OS page cache
#   cold-disk   the same after `sync; echo 3 > /proc/sys/vm/drop_caches` (root; skipped if the
#               kernel refuses), z5 only by default: COGs and the store read from disk again
#   warm        on one server: PRIMES x z5 (not recorded), then REPEAT x (z5, z5 sortby=datetime),
#               [one z5 under perf], REPEAT x z6, REPEAT x z7
#   search      the catalogue search alone: /search with the z5 tile's bbox, limit = the cap
# Each request: curl %{time_total}, HTTP status, X-Mosaic-Items/-Failed, X-Cache, bytes, and the
# server's CPU (utime+stime of /proc/PID/stat, all threads) before/after.
#
# Env (defaults):
#   BUILD=1               0: skip `cargo build --release --locked`
#   DATA=/tmp/tuilerie-mosaic   generated COGs + STAC (make_data.py), run scratch in $DATA/run
#   MAKE_ARGS             extra make_data.py arguments (e.g. "--count 50" or "--crs 3857" with another DATA)
#   VARIANTS="1000:64 500:64 1000:1024"   max_items_per_tile:datasets (raster.datasets: open datasets
#                         kept per GDAL thread, default 64; 1024 keeps all 1,000 items open when warm)
#   COLD_DISK_CASES=z5    cases also measured cold-disk ("z5 z6 z7": all)
#   REPEAT=3              measurements per cell
#   PRIMES=2              z5 requests before the warm measurements (not recorded)
#   DROP_CACHES=1         0: no cold-disk rows
#   THREADS=0             raster.threads (0: one per core)
#   PORT=8710             127.0.0.1:PORT; refused if something already answers there
#   PERF=1                perf record (dwarf call graphs, 499 Hz) one more warm z5 request per variant;
#                         inclusive profile in $DATA/run/perf-<variant>.txt, its main lines in the report
#   LOG=warn,tuilerie::access=info   server log filter (the access log has the server-side ms)
#   RESULTS_DIR=benches/results      report: mosaic-z5[-TAG]-<date>[-HHMM].md + .tsv
#   TAG                   a label in the report's name (e.g. 3857 for a DATA made with --crs 3857)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD="${BUILD:-1}"
DATA="${DATA:-/tmp/tuilerie-mosaic}"
MAKE_ARGS="${MAKE_ARGS:-}"
WORK="$DATA/run"
VARIANTS="${VARIANTS:-1000:64 500:64 1000:1024}"
COLD_DISK_CASES="${COLD_DISK_CASES:-z5}"
REPEAT="${REPEAT:-3}"
PRIMES="${PRIMES:-2}"
DROP_CACHES="${DROP_CACHES:-1}"
THREADS="${THREADS:-0}"
PORT="${PORT:-8710}"
PERF="${PERF:-1}"
LOG="${LOG:-warn,tuilerie::access=info}"
RESULTS_DIR="${RESULTS_DIR:-$REPO/benches/results}"
BUILT="$REPO/target/release/tuilerie"
BIN="$WORK/tuilerie"   # a copy: other work may rebuild target/ during the run
PY=/usr/bin/python3
B="http://127.0.0.1:$PORT"
TCK="$(getconf CLK_TCK)"
unset TUILERIE_CONFIG
mkdir -p "$WORK/logs" "$WORK/png"
rm -f "$WORK"/perf-*.txt "$WORK"/png/*.png

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SERVER_PID=""
PERF_PID=""
cleanup() {
  [[ -n $PERF_PID ]] && kill -INT "$PERF_PID" 2> /dev/null || true
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2> /dev/null || true; wait "$SERVER_PID" 2> /dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

curl -s -o /dev/null --max-time 2 "$B/health" && die "something already answers on $B (set PORT=)"

# ---------------------------------------------------------------- build, data, store
if [[ $BUILD == 1 ]]; then
  log "cargo build --release --locked"
  (cd "$REPO" && cargo build --release --locked)
fi
[[ -x $BUILT ]] || die "$BUILT missing (BUILD=1)"
cp "$BUILT" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
# what the binary was built from, as far as git can tell
HEAD_AT="$(git -C "$REPO" log -1 --format='%h %cI' HEAD)"
BIN_MTIME="$(date -r "$BUILT" -Iseconds)"
DIRTY="$(git -C "$REPO" status --porcelain -- src Cargo.toml Cargo.lock build.rs | awk '{print $2}' | tr '\n' ' ')"
log "binary $BUILT ($BIN_MTIME), HEAD $HEAD_AT${DIRTY:+, uncommitted: $DIRTY}"
log "data: $DATA"
# shellcheck disable=SC2086
$PY "$HERE/make_data.py" --out "$DATA" $MAKE_ARGS | tail -n 3
MANIFEST="$DATA/manifest.json"
[[ -s $MANIFEST ]] || die "no $MANIFEST"
tile() { jq -r ".tiles.$1 | \"\(.z)/\(.x)/\(.y)\"" "$MANIFEST"; }
Z5="$(tile z5)"; Z6="$(tile z6)"; Z7="$(tile z7)"
NITEMS="$(wc -l < "$DATA/stac/items.ndjson")"

DB="$WORK/tuilerie.db"
rm -f "$DB" "$DB"-wal "$DB"-shm
log "ingest $NITEMS items into a fresh store $DB"
INGEST_T0=$(date +%s.%N)
"$BIN" --log warn ingest --store "$DB" "$DATA/stac/collection.json" "$DATA/stac/items.ndjson" > "$WORK/logs/ingest.log" 2>&1 \
  || { cat "$WORK/logs/ingest.log"; die "ingest failed"; }
INGEST_S=$(printf "%.2f" "$(echo "$(date +%s.%N) - $INGEST_T0" | bc)")
INGEST_LINE="$(tail -n 1 "$WORK/logs/ingest.log")"

# ---------------------------------------------------------------- report files
DATE="$(date +%F)"
NAME="mosaic-z5${TAG:+-$TAG}-$DATE"
[[ -e $RESULTS_DIR/$NAME.md ]] && NAME="$NAME-$(date +%H%M)"
TSV="$RESULTS_DIR/$NAME.tsv"
mkdir -p "$RESULTS_DIR"
printf 'variant\tcap\tdatasets\tphase\tcase\trun\tstatus\ttime_s\tcpu_s\titems\tfailed\tcache\tbytes\tload1\n' > "$TSV"

# ---------------------------------------------------------------- server
config() { # cap datasets -> path of a config file
  local f="$WORK/tuilerie-$1-$2.toml"
  cat > "$f" << EOF
# written by benches/mosaic/run.sh
[server]
bind = "127.0.0.1:$PORT"

[store]
url = "$DB"

[raster]
roots = ["$DATA/cogs"]
threads = $THREADS
datasets = $2
max_items_per_tile = $1

[cache]
memory_mb = 0
disk_dir = ""
EOF
  echo "$f"
}

start_server() { # config label
  "$BIN" --config "$1" --log "$LOG" serve >> "$WORK/logs/server-$2.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    curl -s -o /dev/null --max-time 1 "$B/health" && return 0
    kill -0 "$SERVER_PID" 2> /dev/null || { tail -n 20 "$WORK/logs/server-$2.log"; die "the server died"; }
    sleep 0.1
  done
  die "the server did not answer /health within 60 s"
}

stop_server() {
  kill "$SERVER_PID" 2> /dev/null || true
  wait "$SERVER_PID" 2> /dev/null || true
  SERVER_PID=""
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

drop_caches() {
  sync
  echo 3 > /proc/sys/vm/drop_caches 2> /dev/null
}

URLQ="assets=data&rescale=0,3000"
url() { # z/x/y [extra query]
  echo "$B/collections/mosaic-bench/tiles/WebMercatorQuad/$1.png?$URLQ${2:+&$2}"
}

# measure variant cap datasets phase case run url [png-out]
measure() {
  local variant=$1 cap=$2 ds=$3 phase=$4 case=$5 run=$6 u=$7 png=${8:-/dev/null}
  local hdr="$WORK/hdr.txt" c0 c1 out status t bytes items failed cache load1
  load1="$(cut -d' ' -f1 /proc/loadavg)"
  c0=$(cpu_ticks)
  out="$(curl -s -o "$png" -D "$hdr" --max-time 600 -w '%{http_code} %{time_total} %{size_download}' "$u")" || true
  c1=$(cpu_ticks)
  read -r status t bytes <<< "$out"
  items="$(awk -F': *' 'tolower($1)=="x-mosaic-items"{gsub("\r","",$2); print $2}' "$hdr")"
  failed="$(awk -F': *' 'tolower($1)=="x-mosaic-failed"{gsub("\r","",$2); print $2}' "$hdr")"
  cache="$(awk -F': *' 'tolower($1)=="x-cache"{gsub("\r","",$2); print $2}' "$hdr")"
  local cpu
  cpu="$(printf "%.2f" "$(echo "scale=2; ($c1 - $c0) / $TCK" | bc)")"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$variant" "$cap" "$ds" "$phase" "$case" "$run" \
    "$status" "$t" "$cpu" "${items:--}" "${failed:--}" "${cache:--}" "$bytes" "$load1" >> "$TSV"
  log "  $variant $phase $case #$run: HTTP $status ${t}s cpu ${cpu}s items ${items:--} failed ${failed:--} cache ${cache:--} ${bytes} B (load $load1)"
}

COG_MB="$(du -sm "$DATA/cogs" | cut -f1)"
CAN_DROP=0
if [[ $DROP_CACHES == 1 ]]; then
  if drop_caches; then CAN_DROP=1; else log "cannot drop the page cache (not root, or /proc/sys read-only): no cold-disk rows"; fi
fi
cached_mb() { fincore -b -n -o RES "$DATA"/cogs/*.tif 2> /dev/null | awk '{s += $1} END {printf "%.0f", s / 1048576}'; }

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
T_START=$(date +%s)
DROP_NOTES=""
for v in $VARIANTS; do
  cap="${v%%:*}"; ds="${v##*:}"
  variant="cap$cap-ds$ds"
  cfg="$(config "$cap" "$ds")"
  log "variant $variant ($cfg)"
  # cold: a fresh server per request
  for phase in cold cold-disk; do
    for case in z5 z6 z7; do
      if [[ $phase == cold-disk ]]; then
        [[ $CAN_DROP == 1 && " $COLD_DISK_CASES " == *" $case "* ]] || continue
      fi
      t="$Z5"; [[ $case == z6 ]] && t="$Z6"; [[ $case == z7 ]] && t="$Z7"
      for r in $(seq 1 "$REPEAT"); do
        if [[ $phase == cold-disk ]]; then
          drop_caches
          [[ -z $DROP_NOTES ]] && DROP_NOTES="after drop_caches $(cached_mb) MB of the $COG_MB MB of COGs were resident"
        else
          # the COGs in the page cache (a cold-disk run dropped them)
          cat "$DATA"/cogs/*.tif > /dev/null
        fi
        start_server "$cfg" "$variant"
        measure "$variant" "$cap" "$ds" "$phase" "$case" "$r" "$(url "$t")" "$WORK/png/$variant-$case.png"
        stop_server
      done
    done
  done
  # warm: one server, after PRIMES z5 requests (not recorded). Each GDAL thread has its own
  # dataset cache and items go to whichever thread is free: a dataset is open in every thread
  # only after a few passes.
  cat "$DATA"/cogs/*.tif > /dev/null
  start_server "$cfg" "$variant"
  for r in $(seq 1 "$PRIMES"); do measure "$variant" "$cap" "$ds" prime z5 "$r" "$(url "$Z5")"; done
  for r in $(seq 1 "$REPEAT"); do
    measure "$variant" "$cap" "$ds" warm z5 "$r" "$(url "$Z5")"
    # sortby=datetime (oldest first) right after each default request
    measure "$variant" "$cap" "$ds" warm "z5 sortby=datetime" "$r" "$(url "$Z5" "sortby=datetime")" "$WORK/png/$variant-z5-sortby.png"
  done
  if [[ $PERF == 1 ]] && command -v perf > /dev/null; then
    # one extra z5 request under perf (phase "profiled": perf slows it down)
    perf record -F 499 --call-graph dwarf,16384 -p "$SERVER_PID" -o "$WORK/perf-$variant.data" > "$WORK/logs/perf.log" 2>&1 &
    PERF_PID=$!
    sleep 0.5
    measure "$variant" "$cap" "$ds" profiled z5 1 "$(url "$Z5")"
    kill -INT "$PERF_PID" 2> /dev/null || true; wait "$PERF_PID" || true; PERF_PID=""
    perf report -i "$WORK/perf-$variant.data" --children --sort symbol --stdio -g none 2> /dev/null \
      | grep -E '^ +[0-9]' | sed -E 's/ +-  +-  +$//' | cut -c1-200 > "$WORK/perf-$variant.txt" || true
    rm -f "$WORK/perf-$variant.data"
    log "perf profile (inclusive): $WORK/perf-$variant.txt"
  fi
  for r in $(seq 1 "$REPEAT"); do measure "$variant" "$cap" "$ds" warm z6 "$r" "$(url "$Z6")"; done
  for r in $(seq 1 "$REPEAT"); do measure "$variant" "$cap" "$ds" warm z7 "$r" "$(url "$Z7")"; done
  # the catalogue search alone (same bbox, limit = the cap, full items)
  bbox="$(jq -r '.extent.spatial.bbox[0] | map(tostring) | join(",")' "$DATA/stac/collection.json")"
  for r in $(seq 1 "$REPEAT"); do
    measure "$variant" "$cap" "$ds" search "search limit=$cap" "$r" "$B/search?collections=mosaic-bench&bbox=$bbox&limit=$cap"
  done
  stop_server
done
T_END=$(date +%s)
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- report
for f in "$WORK"/png/*.png; do
  # share of opaque pixels (alpha band mean / 255)
  a="$(gdalinfo -stats "$f" 2> /dev/null | awk '/Band 4/{b=1} b && /STATISTICS_MEAN/{split($0, s, "="); printf "%.1f", s[2] / 2.55; exit}')"
  rm -f "$f.aux.xml"
  echo "$(basename "$f" .png) ${a:-?}"
done > "$WORK/opaque.txt"
cat > "$WORK/meta.json" << EOF
{"date": "$(date -u +%FT%TZ)", 
 "binary": "target/release/tuilerie of $BIN_MTIME, sha256 $(sha256sum "$BIN" | cut -c1-12)", "head": "$HEAD_AT", "dirty": "$DIRTY",
 "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')", "cores": $(nproc),
 "mem_gb": $(awk '/MemTotal/{printf "%.0f", $2 / 1048576}' /proc/meminfo), "kernel": "$(uname -r)",
 "load_before": "$LOAD_BEFORE", "load_after": "$LOAD_AFTER", "seconds": $((T_END - T_START)),
 "threads": "$THREADS", "repeat": $REPEAT, "primes": $PRIMES, "can_drop": $CAN_DROP, "drop_notes": "$DROP_NOTES",
 "ingest_seconds": $INGEST_S, "ingest_line": $(jq -Rs . <<< "$INGEST_LINE"),
 "gdal": "$(gdalinfo --version)", "urls": {"z5": "$(url "$Z5")", "z6": "$(url "$Z6")", "z7": "$(url "$Z7")"}}
EOF
$PY "$HERE/report.py" --tsv "$TSV" --meta "$WORK/meta.json" --manifest "$MANIFEST" --opaque "$WORK/opaque.txt" \
  $(for f in "$WORK"/perf-*.txt; do [[ -s $f ]] && printf -- '--perf %s ' "$f"; done) \
  > "$RESULTS_DIR/$NAME.md"
log "report: $RESULTS_DIR/$NAME.md ($TSV)"
