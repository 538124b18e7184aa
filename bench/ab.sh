#!/usr/bin/env bash
# Recommend throughput of two commits, alternated on fresh stores with the same data, in one
# session: what docs/benchmarks.md compares a refactor with.
#
#   BASE=54d0a1a bash bench/ab.sh        # BASE against the working tree; ROUNDS=2, DURATION=20s
#   CACHE=1 BASE=… bash bench/ab.sh      # the same with the result cache on, every request a hit
#
# Each run: a fresh embedded store, the bench scenario, 100,000 items, 1,000,000 events through
# the batch API, the warehouse caught up, CF trained, a 5 s warm-up, then wrk at 4 and 16
# connections. The two builds share CARGO_TARGET_DIR; a workspace crate's fingerprint points at
# the source tree it was last built from, so each build first cleans the workspace crates.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BASE:?set BASE to the commit to compare with}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
DATA="${BENCH_DATA:-bench-data}"; DATA="$(realpath "$DATA")"
ROUNDS="${ROUNDS:-2}" DURATION="${DURATION:-20s}" PORT="${PORT:-8095}" CACHE="${CACHE:-0}"
THREADS=2; [ "$CACHE" = 1 ] && THREADS=1 # bench/cache.sh's one wrk thread for cache hits
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
[ -f "$DATA/events.ndjson" ] || python3 bench/gen_data.py --out "$DATA"
WORK="$(mktemp -d)"
git worktree add -q "$WORK/base" "$BASE"
trap 'git worktree remove --force "$WORK/base"; rm -rf "$WORK"' EXIT
workspace() { cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(" ".join("-p " + p["name"] for p in json.load(sys.stdin)["packages"]))'; }
build() { # $1: source tree, $2: where the binary goes
  ( cd "$1" && cargo clean --release -q $(workspace) && cargo build --release -q -p polyrec && cp "$CARGO_TARGET_DIR/release/polyrec" "$2" )
}
build "$WORK/base" "$WORK/polyrec-base"
build . "$WORK/polyrec-after"
run() { # $1: base or after
  local bin="$WORK/polyrec-$1" url="http://127.0.0.1:$PORT" store
  store="$(mktemp -d)"
  RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$PORT" --data-dir "$store" >"$store/log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf -X POST "$url/api/v1/scenarios" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
    -d @bench/scenario.json >/dev/null
  "$bin" import items "$DATA/items.ndjson" --tenant bench --scenario bench_feed --url "$url" >/dev/null 2>&1
  python3 bench/ingest.py --url "$url" --events "$DATA/events.ndjson" --tenant bench --batch 1000 --concurrency 4 \
    | grep '^rate' | sed "s/^/$1 ingest /"
  local sent; sent=$(wc -l <"$DATA/events.ndjson")
  until [ "$(curl -sf "$url/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["warehouse_events"])')" = "$sent" ]; do sleep 0.5; done
  curl -sf -X POST "$url/api/v1/scenarios/bench_feed/jobs/cf" -H 'X-Tenant-Id: bench' >/dev/null
  if [ "$CACHE" = 1 ]; then # the cache on (ttl 600 s) and filled with one request per user
    python3 - "$url" <<'PY'
import json, sys, urllib.request
url = sys.argv[1]
def call(method, path, body, user="u0"):
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method=method,
        headers={"Content-Type": "application/json", "X-Tenant-Id": "bench", "X-User-Id": user})
    return json.load(urllib.request.urlopen(request))
config = json.load(open("bench/scenario.json"))["config"]
config["cache"] = {"enabled": True, "ttl_seconds": 600}
call("PATCH", "/api/v1/scenarios/bench_feed", {"config": config})
for u in range(10000):
    call("POST", "/api/v1/recommend", {"scenario_id": "bench_feed", "count": 20}, f"u{u}")
PY
  fi
  wrk -t1 -c4 -d5s -s bench/recommend.lua "$url" >/dev/null
  for c in 4 16; do
    wrk -t"$THREADS" -c"$c" -d"$DURATION" --latency -s bench/recommend.lua "$url" \
      | grep -E 'Requests/sec|^latency ms' | tr '\n' ' ' | sed "s/^/$1 c=$c /"; echo
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$store"
}
for _ in $(seq "$ROUNDS"); do run base; run after; done
