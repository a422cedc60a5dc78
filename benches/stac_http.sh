#!/usr/bin/env bash
# Side-by-side STAC API HTTP benchmark: Tuilerie vs stac-fastapi-pgstac (the peer), same data,
# same request lists, same wrk settings; reports server CPU ms per request as ratios.
#
#   benches/stac_http.sh                                   # N=100000, CONC=8,32, 20 s runs
#   CONC=8 DURATION=8 WARMUP=2 benches/stac_http.sh        # quick validation
#
# Reuses the peer tooling in ../shared/bench/stac (run_peer.sh, gen_items.py, make_requests.py,
# run_bench.py, cycle.lua) without copying it. Needs root (run_peer.sh installs apt packages and
# runs PostgreSQL as the postgres user), Python 3, curl; wrk comes with `run_peer.sh setup`.
#
# Environment (defaults):
#   N=100000 SEED=42                 dataset size and seed (gen_items.py)
#   CONC=8,32 DURATION=20 WARMUP=5   wrk concurrency list, measured and warm-up seconds per run
#   CASES=                           subset of request lists, e.g. "item_get.tsv,search_post.tsv"
#   SCRATCH=/tmp/tuilerie-bench      dataset, Tuilerie store, request lists, logs (dataset reused)
#   PEER_ROOT=/tmp/peers-stac        run_peer.sh's ROOT (venv, PostgreSQL cluster, peer DB)
#   PEER_PGPORT=55442 PEER_API_PORT=55481 PEER_WORKERS=2
#   PEER_RELOAD=0                    1: drop and reload the peer DB even if it holds N items
#   KEEP_PEER=0                      1: leave the peer (uvicorn + PostgreSQL) running at the end
#   TUI_PORT=55491                   Tuilerie port (127.0.0.1); the store.count=exact server uses TUI_PORT+1
#   TUI_BIN=target/release/tuilerie  BUILD=auto (build if missing or older than HEAD), 1, 0
#   EXACT=1                          0: skip the second Tuilerie server (TUILERIE_STORE_COUNT=exact)
#   RESULTS=benches/results          report + raw JSON go here
#   TUI_STORE=sqlite                 postgres: Tuilerie's store is a PostgreSQL database in a private
#                                    cluster (scripts/pg-cluster, $SCRATCH/pg-tuilerie, port TUI_PGPORT=55493);
#                                    its CPU then counts the postmaster tree too, like the peer's
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PEER_DIR="${PEER_DIR:-$(cd "$REPO/../shared/bench/stac" 2>/dev/null && pwd || true)}"
N="${N:-100000}"
SEED="${SEED:-42}"
CONC="${CONC:-8,32}"
DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-5}"
CASES="${CASES:-}"
SCRATCH="${SCRATCH:-/tmp/tuilerie-bench}"
PEER_ROOT="${PEER_ROOT:-/tmp/peers-stac}"
PEER_PGPORT="${PEER_PGPORT:-55442}"
PEER_API_PORT="${PEER_API_PORT:-55481}"
PEER_WORKERS="${PEER_WORKERS:-2}"
PEER_RELOAD="${PEER_RELOAD:-0}"
KEEP_PEER="${KEEP_PEER:-0}"
TUI_PORT="${TUI_PORT:-55491}"
TUI_BIN="${TUI_BIN:-$REPO/target/release/tuilerie}"
BUILD="${BUILD:-auto}"
EXACT="${EXACT:-1}"
RESULTS="${RESULTS:-$HERE/results}"

DATA="$SCRATCH/data$N"
STORE="$SCRATCH/tuilerie-$N.db"
TUI_STORE="${TUI_STORE:-sqlite}"
TUI_PGPORT="${TUI_PGPORT:-55493}"
TUI_PGDATA="$SCRATCH/pg-tuilerie"
REQ="$SCRATCH/requests$N"
LOGS="$SCRATCH/logs"
PEER_DB="pgstac$N"
PEER_URL="http://127.0.0.1:$PEER_API_PORT"
TUI_URL="http://127.0.0.1:$TUI_PORT"
TUI_EXACT_PORT="$((TUI_PORT + 1))"
TUI_EXACT_URL="http://127.0.0.1:$TUI_EXACT_PORT"
PGDATA="$PEER_ROOT/pg"
PEER_PIDFILE="$PEER_ROOT/uvicorn-$PEER_API_PORT.pid"   # as written by run_peer.sh serve

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { echo "[$(date +%H:%M:%S)] ERROR: $*" >&2; exit 1; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# run_peer.sh with our settings (it reads ROOT, N, SEED, PGPORT, API_PORT, WORKERS, ...)
peer() {
  ROOT="$PEER_ROOT" N="$N" SEED="$SEED" PGPORT="$PEER_PGPORT" API_PORT="$PEER_API_PORT" \
    WORKERS="$PEER_WORKERS" DB="$PEER_DB" bash "$PEER_DIR/run_peer.sh" "$@"
}
peer_psql() {
  PGHOST=127.0.0.1 PGPORT="$PEER_PGPORT" PGUSER=postgres PGPASSWORD=unused psql -X -q "$@"
}
stop_peer_api() {  # run_peer.sh stop-api, then wait for uvicorn to finish (before PostgreSQL stops)
  local pid=""
  [ -f "$PEER_PIDFILE" ] && pid="$(cat "$PEER_PIDFILE")"
  peer stop-api
  if [ -n "$pid" ]; then
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
    log "uvicorn $pid still running 20 s after SIGTERM"
  fi
}
pg_running() { [ -f "$PGDATA/postmaster.pid" ] && kill -0 "$(head -1 "$PGDATA/postmaster.pid")" 2>/dev/null; }
peer_api_running() { [ -f "$PEER_PIDFILE" ] && kill -0 "$(cat "$PEER_PIDFILE")" 2>/dev/null; }

# ------------------------------------------------------------------------------ preflight
[ -n "$PEER_DIR" ] && [ -f "$PEER_DIR/run_peer.sh" ] || die "peer tooling not found (expected ../shared/bench/stac next to the repo; set PEER_DIR)"
for f in gen_items.py make_requests.py run_bench.py cycle.lua; do
  [ -f "$PEER_DIR/$f" ] || die "missing $PEER_DIR/$f"
done
command -v python3 >/dev/null || die "python3 not found"
command -v curl >/dev/null || die "curl not found"
[ "$(id -u)" = 0 ] || die "run as root (run_peer.sh installs packages and runs PostgreSQL as postgres)"
case "$CONC" in *[!0-9,]*|"") die "CONC must be a comma-separated list of integers, got '$CONC'" ;; esac
mkdir -p "$SCRATCH" "$LOGS" "$RESULTS"

DATE="$(date +%Y-%m-%d)"
STAMP="$DATE"
[ "${TUI_STORE:-sqlite}" = postgres ] && STAMP="pg-$DATE"
[ -e "$RESULTS/stac-http-$STAMP.md" ] && STAMP="$STAMP-$(date +%H%M)"
STAGE="$SCRATCH/out/$STAMP"          # results are written here and copied to $RESULTS on success
rm -rf "$STAGE"; mkdir -p "$STAGE"
OUT="$STAGE/stac-http-$STAMP"

# ------------------------------------------------------------------------------ cleanup
TUI_PIDS=""
STARTED_PG=0
STARTED_API=0
cleanup() {
  local rc=$?
  set +e
  local pid
  for pid in $TUI_PIDS; do
    if kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null; log "stopped tuilerie ($pid)"; fi
  done
  if [ "$TUI_STORE" = postgres ]; then "$REPO/scripts/pg-cluster" stop "$TUI_PGDATA"; fi
  if [ "$KEEP_PEER" = 1 ]; then
    log "KEEP_PEER=1: peer left running ($PEER_URL, PostgreSQL on port $PEER_PGPORT); stop it with: ROOT=$PEER_ROOT API_PORT=$PEER_API_PORT $PEER_DIR/run_peer.sh stop"
  else
    if [ "$STARTED_API" = 1 ]; then stop_peer_api; fi
    if [ "$STARTED_PG" = 1 ]; then
      peer stop
    elif pg_running; then
      log "PostgreSQL of the peer was already running before this script: left running"
    fi
  fi
  [ "$rc" = 0 ] || log "FAILED (exit $rc); logs in $LOGS"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------ build
HEAD_TIME="$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 0)"
need_build=0
if [ "$BUILD" = 1 ]; then need_build=1
elif [ "$BUILD" = auto ]; then
  if [ ! -x "$TUI_BIN" ]; then need_build=1
  elif [ "$(stat -c %Y "$TUI_BIN")" -lt "$HEAD_TIME" ]; then need_build=1; fi
fi
if [ "$need_build" = 1 ]; then
  log "building tuilerie (cargo build --release)"
  (cd "$REPO" && cargo build --release) >&2 || die "cargo build --release failed"
fi
[ -x "$TUI_BIN" ] || die "$TUI_BIN not found (BUILD=1 to build it)"
if [ "$(stat -c %Y "$TUI_BIN")" -lt "$HEAD_TIME" ]; then
  log "WARNING: $TUI_BIN is older than the last commit"
fi
# Run a private copy: the binary in target/ may be rebuilt by someone else during the run.
TUI_RUN="$SCRATCH/tuilerie.bin"
cp "$TUI_BIN" "$TUI_RUN.tmp" && mv "$TUI_RUN.tmp" "$TUI_RUN"
TUI_SHA="$(sha256sum "$TUI_RUN" | cut -c1-12)"
TUI_MTIME="$(date -r "$TUI_BIN" '+%Y-%m-%d %H:%M')"
TUI_REV="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
TUI_DIRTY="$(git -C "$REPO" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l)"
TUI_VERSION="$("$TUI_RUN" --version 2>/dev/null || echo '?')"
log "tuilerie: $TUI_VERSION, commit $TUI_REV ($TUI_DIRTY uncommitted files in src/), built $TUI_MTIME, sha256 $TUI_SHA"

# ------------------------------------------------------------------------------ dataset
manifest_ok() {  # dir: manifest with our n and seed
  [ -f "$1/manifest.json" ] && python3 -c '
import json, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
sys.exit(0 if int(m["n"]) == int(sys.argv[2]) and str(m["seed"]) == sys.argv[3] else 1)' "$1" "$N" "$SEED"
}
if manifest_ok "$DATA"; then
  log "dataset $DATA exists (n=$N seed=$SEED), reused"
elif [ ! -e "$DATA" ] && manifest_ok "$PEER_ROOT/data$N"; then
  ln -s "$PEER_ROOT/data$N" "$DATA"
  log "dataset: reusing the peer's $PEER_ROOT/data$N (n=$N seed=$SEED) via $DATA"
else
  [ -e "$DATA" ] && { log "dataset $DATA incomplete or for another n/seed: regenerating"; rm -rf "$DATA"; }
  log "generating dataset: gen_items.py --n $N --seed $SEED --out $DATA"
  rm -rf "$DATA.tmp"
  python3 "$PEER_DIR/gen_items.py" --n "$N" --seed "$SEED" --out "$DATA.tmp" >&2
  mv "$DATA.tmp" "$DATA"
fi
# Let run_peer.sh use the same files instead of generating its own copy.
if [ ! -e "$PEER_ROOT/data$N" ]; then
  mkdir -p "$PEER_ROOT"
  ln -s "$(readlink -f "$DATA")" "$PEER_ROOT/data$N"
elif ! manifest_ok "$PEER_ROOT/data$N"; then
  die "$PEER_ROOT/data$N exists but is not n=$N seed=$SEED; remove it or set PEER_ROOT"
fi

# ------------------------------------------------------------------------------ peer
if pg_running; then log "peer PostgreSQL already running (port $PEER_PGPORT)"; else STARTED_PG=1; fi
log "peer: run_peer.sh setup (apt/venv/initdb/start PostgreSQL on port $PEER_PGPORT)"
peer setup >"$LOGS/peer-setup.log" 2>&1 || { tail -30 "$LOGS/peer-setup.log" >&2; die "run_peer.sh setup failed"; }
pg_running || die "peer PostgreSQL did not start (see $PEER_ROOT/pgrun/postgres.log)"
command -v wrk >/dev/null || die "wrk not found after run_peer.sh setup"
peer data >"$LOGS/peer-data.log" 2>&1 || { tail -30 "$LOGS/peer-data.log" >&2; die "run_peer.sh data failed"; }

peer_count="$(peer_psql -d "$PEER_DB" -Atc "select count(*) from pgstac.items" 2>/dev/null || echo none)"
PEER_LOAD_REUSED=0
if [ "$PEER_RELOAD" != 1 ] && [ "$peer_count" = "$N" ]; then
  PEER_LOAD_REUSED=1
  log "peer DB $PEER_DB already holds $N items: reused (PEER_RELOAD=1 to reload)"
else
  log "peer: run_peer.sh load ($PEER_DB had: $peer_count items) — pypgstac load of $N items, takes a while"
  if peer_api_running; then stop_peer_api; fi   # DROP DATABASE needs no open connections
  peer load >"$LOGS/peer-load.log" 2>&1 || { tail -30 "$LOGS/peer-load.log" >&2; die "run_peer.sh load failed"; }
  peer_count="$(peer_psql -d "$PEER_DB" -Atc "select count(*) from pgstac.items")"
  [ "$peer_count" = "$N" ] || die "peer DB holds $peer_count items after load, expected $N"
fi
PEER_LOAD_JSON="$PEER_ROOT/results/load-$N.json"
if peer_api_running; then
  log "peer API already running on $PEER_URL (pid $(cat "$PEER_PIDFILE")), reused"
else
  STARTED_API=1
  peer serve >"$LOGS/peer-serve.log" 2>&1 || { tail -30 "$LOGS/peer-serve.log" >&2; die "peer API did not start (see $PEER_ROOT/logs/uvicorn-$PEER_API_PORT.log)"; }
fi
curl -fsS "$PEER_URL/" >/dev/null || die "peer API not answering on $PEER_URL"
PEER_PIDS="$(cat "$PEER_PIDFILE"),$(head -1 "$PGDATA/postmaster.pid")"
PEER_CONTEXT="$(peer_psql -d "$PEER_DB" -Atc "select pgstac.get_setting('context')" 2>/dev/null || echo '?')"
log "peer up: $PEER_URL, CPU measured on uvicorn master + postmaster trees ($PEER_PIDS)"

# ------------------------------------------------------------------------------ Tuilerie ingest
TUI_PG_PID=""
pg_tree_cpu() {  # user+sys seconds of the postmaster, with its reaped backends
  awk '{t=$14+$15+$16+$17; printf "%.2f", t/100}' "/proc/$TUI_PG_PID/stat"
}
if [ "$TUI_STORE" = postgres ]; then
  mkdir -p "$TUI_PGDATA"; chmod 755 "$SCRATCH"
  PG_ADMIN="$("$REPO/scripts/pg-cluster" start "$TUI_PGDATA" "$TUI_PGPORT")" || die "cannot start the private PostgreSQL cluster"
  # The same server settings as the peer's cluster (scripts/pg-cluster makes a test cluster
  # without fsync): durability, memory, WAL. Applied with ALTER SYSTEM, then a restart.
  tui_psql() { PGHOST=127.0.0.1 PGPORT="$TUI_PGPORT" PGUSER=postgres psql -X -qAt "$@"; }
  DB_SETTINGS=""
  for setting in fsync synchronous_commit full_page_writes wal_compression shared_buffers \
      work_mem maintenance_work_mem effective_cache_size max_wal_size checkpoint_timeout; do
    value="$(peer_psql -d postgres -Atc "SHOW $setting")" || die "cannot read the peer's $setting"
    tui_psql -d postgres -c "ALTER SYSTEM SET $setting = '$value'" || die "cannot set $setting"
    DB_SETTINGS="$DB_SETTINGS${DB_SETTINGS:+, }$setting=$value"
  done
  "$REPO/scripts/pg-cluster" stop "$TUI_PGDATA"
  "$REPO/scripts/pg-cluster" start "$TUI_PGDATA" "$TUI_PGPORT" >/dev/null || die "cannot restart the private PostgreSQL cluster"
  log "Tuilerie's cluster has the peer's settings: $DB_SETTINGS"
  TUI_PG_PID="$(head -1 "$TUI_PGDATA/postmaster.pid")"
  PGHOST=127.0.0.1 PGPORT="$TUI_PGPORT" PGUSER=postgres psql -X -q -d postgres \
    -c "DROP DATABASE IF EXISTS tuilerie$N" -c "CREATE DATABASE tuilerie$N" || die "cannot create tuilerie$N"
  STORE="postgres://postgres@127.0.0.1:$TUI_PGPORT/tuilerie$N"
  "$TUI_RUN" migrate --store "$STORE" >&2 || die "tuilerie migrate failed"
  log "Tuilerie store: $STORE (postmaster pid $TUI_PG_PID)"
else
  rm -f "$STORE" "$STORE-wal" "$STORE-shm" "$STORE-journal"
fi
log "tuilerie ingest --store $STORE $DATA/collections/ $DATA/items.ndjson"
la0="$(loadavg)"
[ -n "$TUI_PG_PID" ] && pg0="$(pg_tree_cpu)"
TIMEFORMAT='%R %U %S'
{ time "$TUI_RUN" ingest --store "$STORE" --log warn "$DATA/collections/" "$DATA/items.ndjson" \
    >"$LOGS/ingest.log" 2>&1 ; } 2>"$LOGS/ingest.time" \
  || { tail -30 "$LOGS/ingest.log" >&2; die "tuilerie ingest failed"; }
la1="$(loadavg)"
read -r ing_real ing_user ing_sys <"$LOGS/ingest.time"
DB_ARGS=()
if [ -n "$TUI_PG_PID" ]; then
  sleep 1  # the backends' CPU is added to the postmaster's when it reaps them
  pg1="$(pg_tree_cpu)"
  log "PostgreSQL CPU during the ingest: $(python3 -c "print(round($pg1 - $pg0, 2))") s (postmaster tree); tuilerie: ${ing_user} s user + ${ing_sys} s sys"
  db_bytes="$(tui_psql -d "tuilerie$N" -c "select pg_database_size(current_database())")" || db_bytes=0
  log "database size: $((db_bytes / 1000000)) MB"
  DB_ARGS=(--store-kind postgres --store-bytes "$db_bytes" --db-settings "$DB_SETTINGS"
           --db-cpu "$(python3 -c "print(round($pg1 - $pg0, 2))")")
fi
python3 "$HERE/stac_compare.py" ingest-summary --log "$LOGS/ingest.log" --seconds "$ing_real" \
  --store "$STORE" --n "$N" --ndjson "$DATA/items.ndjson" --loadavg-before "$la0" --loadavg-after "$la1" \
  --cpu-user "$ing_user" --cpu-sys "$ing_sys" "${DB_ARGS[@]}" --out "$OUT-ingest.json" \
  || die "tuilerie ingest did not load exactly $N items (see $LOGS/ingest.log)"
grep -E '^ingested ' "$LOGS/ingest.log" >&2 || true
if [ -n "$TUI_PG_PID" ]; then
  # As run_peer.sh does after pypgstac's load (outside the timed load): VACUUM ANALYZE, so that
  # autovacuum does not run through the measurements; then a checkpoint, for the same reason.
  t0=$(date +%s.%N)
  tui_psql -d "tuilerie$N" -c "VACUUM ANALYZE" -c "CHECKPOINT" || die "VACUUM ANALYZE failed"
  log "VACUUM ANALYZE + CHECKPOINT of Tuilerie's database: $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s (not counted in the ingest, as for the peer)"
fi

start_tuilerie() {  # $1 = count policy (auto|exact), $2 = port; sets TUI_PID
  local policy="$1" url="http://127.0.0.1:$2"
  if curl -s -o /dev/null "$url/" 2>/dev/null; then die "something already answers on $url: set TUI_PORT"; fi
  # No rate limits (the peer has none; 32 clients from one address would be limited).
  TUILERIE_AUTH_RATE_LIMIT_ENABLED=false TUILERIE_STORE_COUNT="$policy" "$TUI_RUN" serve --store "$STORE" --bind "127.0.0.1:$2" \
    --log warn >"$LOGS/tuilerie-$policy.log" 2>&1 &
  TUI_PID=$!
  TUI_PIDS="$TUI_PIDS $TUI_PID"
  for _ in $(seq 1 120); do
    kill -0 "$TUI_PID" 2>/dev/null || { tail -30 "$LOGS/tuilerie-$policy.log" >&2; die "tuilerie serve ($policy) exited"; }
    if curl -fsS -o /dev/null "$url/health" 2>/dev/null; then
      log "tuilerie up on $url (pid $TUI_PID, store.count=$policy)"; return 0
    fi
    sleep 0.5
  done
  tail -30 "$LOGS/tuilerie-$policy.log" >&2; die "tuilerie serve ($policy) did not answer on $url/health within 60 s"
}

# ------------------------------------------------------------------------------ request lists
mkdir -p "$REQ/static"
if [ ! -f "$REQ/static/item_get.tsv" ] || [ "$DATA/manifest.json" -nt "$REQ/static/item_get.tsv" ]; then
  log "request lists: make_requests.py (4 static lists)"
  python3 "$PEER_DIR/make_requests.py" --data "$DATA" --out "$REQ/static" --seed "$SEED" 2>"$LOGS/requests-static.log" \
    || { cat "$LOGS/requests-static.log" >&2; die "make_requests.py failed"; }
fi
paging_list() {  # $1 = name, $2 = base URL: $REQ/$1 = static lists + paging.tsv resolved on $2
  local dir="$REQ/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  for f in items_get search_post search_filter item_get; do ln -s "../static/$f.tsv" "$dir/$f.tsv"; done
  python3 "$PEER_DIR/make_requests.py" --data "$DATA" --out "$dir" --seed "$SEED" --base-url "$2" \
    --paging-only 2>"$LOGS/requests-$1.log" || { cat "$LOGS/requests-$1.log" >&2; die "make_requests.py --paging-only ($1) failed"; }
  local lines; lines="$(grep -vc '^#' "$dir/paging.tsv" || true)"
  [ "$lines" -gt 0 ] || die "paging list for $1 is empty (no search had 5 full pages on $2)"
  log "paging list $1: $lines requests"
}

bench() {  # $1 = name, $2 = base URL, $3 = cpu pids, $4 = label, $5 = case file, $6 = concurrency
  python3 "$PEER_DIR/run_bench.py" --base-url "$2" --requests "$REQ/$1" --cases "$5" --conc "$6" \
    --duration "$DURATION" --warmup "$WARMUP" --label "$4" --cpu-pids "$3" --skip-sanity \
    --out "$RUNS/$1-$5-c$6.json" >>"$LOGS/bench-$1.md" 2>>"$LOGS/bench-$1.log" \
    || { tail -30 "$LOGS/bench-$1.log" >&2; die "run_bench.py $4 ($5, c=$6) failed"; }
  printf '  %-15s %s\n' "$1" "$(grep -E ' c=' "$LOGS/bench-$1.log" | tail -1)" >&2
}
sanity() {  # $1 = name, $2 = base URL, $3 = label, [$4 = extra flag]
  log "sanity pass $3 (each list once, sequential)"
  python3 "$HERE/stac_compare.py" sanity --base-url "$2" --requests "$REQ/$1" --label "$3" \
    --out "$OUT-sanity-$1.json" ${4:-} || die "sanity pass of $3 failed (see above)"
}

# ------------------------------------------------------------------------------ runs
# PostgreSQL does not stop a statement when its client goes away: the peer's searches that wrk
# gave up on (10 s time-out) keep running after its measured run, on the CPUs the next server is
# measured on. Wait until its database is idle; after 60 s, cancel what is left (those clients are
# gone) and say so in the log. Tuilerie's statements are bounded by store.query_timeout_ms.
PEER_CANCELLED=0
settle_peer() {
  local active waited=0
  while :; do
    active="$(peer_psql -d postgres -Atc "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()")" || return 0
    [ "${active:-0}" -eq 0 ] && break
    if [ "$waited" -ge 60 ]; then
      peer_psql -d postgres -Atc "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()" >/dev/null || true
      PEER_CANCELLED=$((PEER_CANCELLED + active))
      log "  peer: $active abandoned statements still running after 60 s, cancelled"
      sleep 1; break
    fi
    sleep 1; waited=$((waited + 1))
  done
  [ "$waited" -gt 0 ] && log "  peer: waited ${waited} s for its abandoned statements to finish"
  return 0
}
# All servers stay up; for each case and concurrency the servers run back to back (order rotated
# from one case to the next), so that they see the same background load on this shared machine.
start_tuilerie auto "$TUI_PORT"; TUI_AUTO_PID="$TUI_PID"
[ -n "$TUI_PG_PID" ] && TUI_AUTO_PID="$TUI_AUTO_PID,$TUI_PG_PID"
SERVERS=("peer|$PEER_URL|$PEER_PIDS|stac-fastapi-pgstac" "tuilerie-auto|$TUI_URL|$TUI_AUTO_PID|tuilerie-auto")
if [ "$EXACT" = 1 ]; then
  start_tuilerie exact "$TUI_EXACT_PORT"; TUI_EXACT_PID="$TUI_PID"
  [ -n "$TUI_PG_PID" ] && TUI_EXACT_PID="$TUI_EXACT_PID,$TUI_PG_PID"
  SERVERS+=("tuilerie-exact|$TUI_EXACT_URL|$TUI_EXACT_PID|tuilerie-exact")
fi
for srv in "${SERVERS[@]}"; do
  IFS='|' read -r name url _ label <<<"$srv"
  paging_list "$name" "$url"   # Tuilerie's tokens carry the count policy: one list per server
done
for srv in "${SERVERS[@]}"; do
  IFS='|' read -r name url _ label <<<"$srv"
  sanity "$name" "$url" "$name" "$([ "$name" = tuilerie-exact ] && echo --expect-number-matched || true)"
done

RUNS="$SCRATCH/runs/$STAMP"
rm -rf "$RUNS"; mkdir -p "$RUNS"
IFS=',' read -r -a conc_list <<<"$CONC"
IFS=',' read -r -a case_list <<<"${CASES:-items_get.tsv,search_post.tsv,search_filter.tsv,item_get.tsv,paging.tsv}"
log "wrk runs: ${#case_list[@]} cases x ${#conc_list[@]} concurrencies x ${#SERVERS[@]} servers, ${WARMUP}s warm-up + ${DURATION}s each"
k=0
for case in "${case_list[@]}"; do
  [ -f "$REQ/static/$case" ] || [ "$case" = paging.tsv ] || die "unknown case $case"
  for c in "${conc_list[@]}"; do
    log "$case c=$c"
    for i in "${!SERVERS[@]}"; do
      srv="${SERVERS[$(( (i + k) % ${#SERVERS[@]} ))]}"
      IFS='|' read -r name url pids label <<<"$srv"
      bench "$name" "$url" "$pids" "$label" "$case" "$c"
      [ "$name" = peer ] && settle_peer
    done
    k=$((k + 1))
  done
done
for srv in "${SERVERS[@]}"; do
  IFS='|' read -r name _ _ _ <<<"$srv"
  python3 "$HERE/stac_compare.py" merge --out "$OUT-$name.json" "$RUNS/$name"-*.json || die "merging $name runs failed"
done

# ------------------------------------------------------------------------------ report
if [ -f "$PEER_LOAD_JSON" ]; then cp "$PEER_LOAD_JSON" "$OUT-peer-load.json"; fi
export N SEED CONC DURATION WARMUP PEER_WORKERS PEER_LOAD_REUSED PEER_LOAD_JSON TUI_BIN REPO DATE \
  TUI_SHA TUI_MTIME TUI_REV TUI_DIRTY TUI_VERSION \
  PEER_DIR STORE OUT PEER_ROOT PEER_CONTEXT TUI_STORE PEER_CANCELLED
python3 - "$OUT-meta.json" <<'EOF'
import json, os, subprocess, sys, time
E = os.environ
def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:  # noqa: BLE001
        return "?"
def ver(cmd):
    return sh("bash", "-c", cmd)
out = E["OUT"]
base = os.path.basename(out)
files = [base + "-" + x + ".json" for x in (
    "peer", "tuilerie-auto", "tuilerie-exact", "sanity-peer", "sanity-tuilerie-auto",
    "sanity-tuilerie-exact", "ingest", "peer-load") if os.path.exists(out + "-" + x + ".json")]
files.append(base + "-meta.json")
load_mtime = ""
if os.path.exists(E["PEER_LOAD_JSON"]):
    load_mtime = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(E["PEER_LOAD_JSON"])))
meta = {
    "date": E["DATE"], "n": int(E["N"]), "seed": E["SEED"], "conc": E["CONC"],
    "duration": int(E["DURATION"]), "warmup": int(E["WARMUP"]), "peer_workers": int(E["PEER_WORKERS"]),
    "peer_context": E["PEER_CONTEXT"],
    "peer_load_reused": E["PEER_LOAD_REUSED"] == "1", "peer_load_file_mtime": load_mtime,
    "files": files,
    "setup": [
        ["machine", "%s CPUs (`nproc`), %s, kernel %s" % (os.cpu_count(), ver("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs"), os.uname().release)],
        ["Tuilerie", "%s, `%s` built %s (sha256 %s…, run from a private copy), repository at commit %s%s; `tuilerie serve --store DB --log warn` (store: %s), default settings except `store.count`" % (
            E["TUI_VERSION"], os.path.relpath(E["TUI_BIN"], E["REPO"]), E["TUI_MTIME"], E["TUI_SHA"], E["TUI_REV"],
            " (**%s uncommitted files in src/ etc. when the run started: the binary may include them**)" % E["TUI_DIRTY"]
            if E["TUI_DIRTY"] not in ("", "0") else "",
            "PostgreSQL 15 + PostGIS in a private cluster; CPU counts the tuilerie process and the postmaster tree (backends)" if E.get("TUI_STORE") == "postgres" else "embedded SQLite")],
        ["peer", "stac-fastapi-pgstac %s, pypgstac %s, PostgreSQL %s, uvicorn --workers %s (set up by `run_peer.sh`, settings in ../shared/bench/stac/results-peers.md)" % (
            ver(E["PEER_ROOT"] + "/venv-peer/bin/pip show stac-fastapi-pgstac 2>/dev/null | sed -n 's/^Version: //p'"),
            ver(E["PEER_ROOT"] + "/venv-peer/bin/pip show pypgstac 2>/dev/null | sed -n 's/^Version: //p'"),
            ver("/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}'"), E["PEER_WORKERS"])],
        ["load generator", "%s, `run_bench.py` from ../shared/bench/stac (cycle.lua), on the same machine" % ver("wrk -v 2>&1 | head -1 | awk '{print $1, $2}'")],
        ["runs", "conc %s, %s s warm-up + %s s measured per case and server; all servers up, for each case and concurrency the servers run back to back (order rotated between cases) so they see similar background load; after each of the peer's runs, its abandoned statements (clients timed out) were waited for, up to 60 s, then cancelled: %s cancelled" % (
            E["CONC"], E["WARMUP"], E["DURATION"], E.get("PEER_CANCELLED", "0"))],
    ],
}
json.dump(meta, open(sys.argv[1], "w"), indent=2)
EOF
report_args=(--peer "$OUT-peer.json" --auto "$OUT-tuilerie-auto.json"
             --sanity-peer "$OUT-sanity-peer.json" --sanity-auto "$OUT-sanity-tuilerie-auto.json"
             --ingest "$OUT-ingest.json" --meta "$OUT-meta.json" --out "$OUT.md")
[ "$EXACT" = 1 ] && report_args+=(--exact "$OUT-tuilerie-exact.json" --sanity-exact "$OUT-sanity-tuilerie-exact.json")
[ -f "$OUT-peer-load.json" ] && report_args+=(--peer-load "$OUT-peer-load.json")
python3 "$HERE/stac_compare.py" report "${report_args[@]}" >/dev/null || die "report failed"
cp "$STAGE"/* "$RESULTS"/
log "report: $RESULTS/stac-http-$STAMP.md (+ raw JSON next to it)"
cat "$OUT.md"
