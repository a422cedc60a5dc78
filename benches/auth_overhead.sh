#!/usr/bin/env bash
# What authentication costs: server CPU per request for the same requests made
# anonymously, with an API key (Authorization header), with the key as
# ?api_key=, and with an OpenID Connect token, on the release binary and the
# demo catalogue (embedded store). Writes benches/results/auth-overhead-<date>.md.
#
#   benches/auth_overhead.sh                 # needs target/release/tuilerie, wrk, openssl, python3
#   CONC=8 DURATION=10 benches/auth_overhead.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/target/release/tuilerie"
CONC="${CONC:-8}"; DURATION="${DURATION:-10}"
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed (apt install wrk)" >&2; exit 1; }
WORK="$(mktemp -d)"; trap 'kill "${PID:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
KEY=tui_demoscience0_DemoScientistKeyForTryingTuileri

# An identity provider of our own: an RSA key, its JWKS, a token signed with it.
python3 - "$WORK" <<'PY'
import base64, json, subprocess, sys, time
d = sys.argv[1]
subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", f"{d}/idp.pem"], check=True, capture_output=True)
txt = subprocess.run(["openssl", "rsa", "-in", f"{d}/idp.pem", "-noout", "-modulus"],
                     check=True, capture_output=True, text=True).stdout
n = bytes.fromhex(txt.strip().split("=", 1)[1])
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
json.dump({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": b64(n), "e": "AQAB"}]},
          open(f"{d}/jwks.json", "w"))
head = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode())
now = int(time.time())
body = b64(json.dumps({"iss": "https://sso.example.org", "aud": "tuilerie", "sub": "bench",
                       "exp": now + 3600, "iat": now, "roles": ["sci"], "org": "demo-lab"}).encode())
sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", f"{d}/idp.pem"],
                     input=f"{head}.{body}".encode(), check=True, capture_output=True).stdout
open(f"{d}/token", "w").write(f"{head}.{body}.{b64(sig)}")
PY
TOKEN="$(cat "$WORK/token")"
cat > "$WORK/tuilerie.toml" <<TOML
[auth.oidc]
issuer = "https://sso.example.org"
audience = ["tuilerie"]
jwks = "$WORK/jwks.json"
role_map = { "sci" = "scientific" }
[auth.rate_limit]
enabled = false
[cache]
disk_dir = ""
TOML
"$BIN" --config "$WORK/tuilerie.toml" demo --dir "$WORK/demo" --bind "127.0.0.1:$PORT" --raster-scale 0.3 \
  >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 240); do curl -sf "$URL/health" >/dev/null 2>&1 && break; sleep 0.5; done
for _ in $(seq 1 240); do [ -f "$WORK/demo/rasters/VERSION" ] && break; sleep 0.5; done

cpu_ms() { awk '{print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"'}' "/proc/$PID/stat"; }
run() { # name, path, header-or-empty
  local name="$1" path="$2" header="${3:-}" args=()
  [ -n "$header" ] && args=(-H "$header")
  wrk -t2 -c"$CONC" -d2s "${args[@]}" "$URL$path" >/dev/null   # warm-up (and cache fill)
  local before after out reqs
  before="$(cpu_ms)"
  out="$(wrk -t2 -c"$CONC" -d"${DURATION}s" "${args[@]}" "$URL$path")"
  after="$(cpu_ms)"
  reqs="$(echo "$out" | awk '/requests in/ {print $1}')"
  non2xx="$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
  printf '| %s | %s | %s | %.3f | %s |\n' "$name" "$path" "$reqs" \
    "$(echo "($after - $before) / $reqs" | bc -l)" "${non2xx:-0}"
}
ITEMS="/collections/sentinel-2-l2a/items?limit=10"
PHR="/collections/pleiades/items?limit=10"
TILE="$(curl -s -H "Authorization: Bearer $KEY" "$URL/collections/pleiades/items?limit=1" | python3 -c '
import json, math, sys
f = json.load(sys.stdin)["features"][0]; b = f["bbox"]
lon, lat, z = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, 15
n = 2 ** z; x = int((lon + 180) / 360 * n)
y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
i = f["id"]
print(f"/collections/pleiades/items/{i}/tiles/WebMercatorQuad/{z}/{x}/{y}.png")')"
OUT="$ROOT/benches/results/auth-overhead-$(date -u +%Y-%m-%d).md"
{
  echo "# Authentication overhead ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Release binary, demo catalogue (embedded store), wrk -c$CONC -d${DURATION}s, load average $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Server CPU (user+system of the server process) per request; every request answered 200 unless noted."
  echo
  echo "| caller | request | requests | server CPU ms/req | non-2xx |"
  echo "|---|---|---|---|---|"
  run "anonymous" "$ITEMS"
  run "API key (header)" "$ITEMS" "Authorization: Bearer $KEY"
  run "API key (?api_key=)" "$ITEMS&api_key=$KEY"
  run "OIDC token (RS256)" "$ITEMS" "Authorization: Bearer $TOKEN"
  run "API key, licensed items" "$PHR" "Authorization: Bearer $KEY"
  run "API key, cached tile" "$TILE" "Authorization: Bearer $KEY"
  run "anonymous, /health" "/health"
  run "API key, /health" "/health" "Authorization: Bearer $KEY"
  run "OIDC token, /health" "/health" "Authorization: Bearer $TOKEN"
} | tee "$OUT"
echo "written: $OUT"
