#!/usr/bin/env bash
# The result cache (scenario `config.cache`): recommend latency and throughput of the heuristic
# pipeline of bench/scenario.json on the catalog of bench/run.sh — 100,000 items, 10,000 users,
# 1,000,000 events — computed every time, then with the cache on (the same scenario, process
# and data), after one pass over every user has filled it. The hit ratio comes from /metrics.
#
#   bash bench/cache.sh              # ~4 minutes on 2 cores (build aside)
#   DURATION=60s bash bench/cache.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
DATA="${BENCH_DATA:-bench-data}"
PORT="${PORT:-8092}"
DURATION="${DURATION:-30s}"
URL="http://127.0.0.1:$PORT"
BIN="$CARGO_TARGET_DIR/release/polyrec"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release -q -p polyrec
[ -f "$DATA/events.ndjson" ] || python3 bench/gen_data.py --out "$DATA"

STORE="$(mktemp -d)"
RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$STORE/data" >"$STORE/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$STORE"' EXIT
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done

echo "== machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
curl -sf -X POST "$URL/api/v1/scenarios" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
  -d @bench/scenario.json >/dev/null
"$BIN" import items "$DATA/items.ndjson" --tenant bench --scenario bench_feed --url "$URL"
python3 bench/ingest.py --url "$URL" --events "$DATA/events.ndjson" --tenant bench --batch 1000 --concurrency 4 --quiet
STORED=$(curl -sf "$URL/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
while true; do
  WAREHOUSE=$(curl -sf "$URL/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' | python3 -c 'import json,sys; print(json.load(sys.stdin)["warehouse_events"])')
  [ "$WAREHOUSE" = "$STORED" ] && break
  sleep 0.5
done
echo "warehouse holds all $WAREHOUSE events"
curl -sf -X POST "$URL/api/v1/scenarios/bench_feed/jobs/cf" -H 'X-Tenant-Id: bench' >/dev/null

lookups() {
  curl -sf "$URL/metrics" | awk '/^polyrec_cache_lookups_total\{.*cache="recommend"/ {
    if ($0 ~ /result="hit"/) hit += $NF; else miss += $NF } END { printf "%d %d\n", hit, miss }'
}
run() {
  for CONNECTIONS in 4 16; do
    echo "-- $1, $CONNECTIONS connections, $DURATION"
    # One wrk thread: at tens of thousands of answers a second a second one takes a core from
    # the server (both share the 2 cores).
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/recommend.lua "$URL" | grep -E 'requests:|non-2xx|latency ms'
  done
}

echo "== recommend under wrk (explain off, count 20, 10,000 distinct users)"
wrk -t1 -c4 -d5s -s bench/recommend.lua "$URL" >/dev/null  # warm-up
run "cache off"

echo "== the same scenario with the result cache on (ttl 600 s)"
CONFIG=$(python3 -c 'import json; c = json.load(open("bench/scenario.json"))["config"]; c["cache"] = {"enabled": True, "ttl_seconds": 600}; print(json.dumps({"config": c}))')
curl -sf -X PATCH "$URL/api/v1/scenarios/bench_feed" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' -d "$CONFIG" >/dev/null
# Every user once, in order: the cache holds an answer for each.
python3 - "$URL" <<'PY'
import json, sys, urllib.request
url = sys.argv[1]
for u in range(10000):
    request = urllib.request.Request(url + "/api/v1/recommend", data=b'{"scenario_id":"bench_feed","count":20}',
        headers={"Content-Type": "application/json", "X-Tenant-Id": "bench", "X-User-Id": f"u{u}"})
    json.load(urllib.request.urlopen(request))
PY
read -r HIT0 MISS0 < <(lookups)
echo "after filling: $HIT0 hits, $MISS0 misses"
run "cache on"
read -r HIT1 MISS1 < <(lookups)
python3 -c "h, m = $HIT1 - $HIT0, $MISS1 - $MISS0; print(f'under wrk: {h} hits, {m} misses, hit ratio {h / max(h + m, 1):.4f}')"
echo "== server RSS: $(ps -o rss= -p $SERVER) KiB"
