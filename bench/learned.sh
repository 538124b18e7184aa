#!/usr/bin/env bash
# Recommend latency of the learned pipeline (vector_search over ALS vectors + the LightGBM
# ranker) on the catalog of bench/run.sh — 100,000 items, 10,000 users, 1,000,000 events — next to
# the heuristic pipeline of bench/scenario.json, served by the same process in the same run.
#
#   bash bench/learned.sh              # ~10 minutes on 2 cores (build aside)
#   DURATION=60s ROUNDS=1 bash bench/learned.sh
#
# Needs the LightGBM build tools (scripts/test.sh installs them: cmake >= 3.28 on PATH, libclang).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
DATA="${BENCH_DATA:-bench-data}"
PORT="${PORT:-8091}"
DURATION="${DURATION:-20s}"
ROUNDS="${ROUNDS:-3}"
URL="http://127.0.0.1:$PORT"
BIN="$CARGO_TARGET_DIR/release/polyrec"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release -q -p polyrec --features lightgbm
[ -f "$DATA/events.ndjson" ] || python3 bench/gen_data.py --out "$DATA"

STORE="$(mktemp -d)"
RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$STORE/data" >"$STORE/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$STORE"' EXIT
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done

echo "== machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
# The same events for both scenarios.
sed 's/"bench_feed"/"bench_learned"/' "$DATA/events.ndjson" >"$STORE/events_learned.ndjson"
for SCENARIO in bench_feed bench_learned; do
  FILE=bench/scenario.json
  EVENTS="$DATA/events.ndjson"
  if [ "$SCENARIO" = bench_learned ]; then FILE=bench/scenario_learned.json; EVENTS="$STORE/events_learned.ndjson"; fi
  echo "== $SCENARIO: scenario, items, events"
  curl -sf -X POST "$URL/api/v1/scenarios" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' -d @"$FILE" >/dev/null
  "$BIN" import items "$DATA/items.ndjson" --tenant bench --scenario "$SCENARIO" --url "$URL"
  python3 bench/ingest.py --url "$URL" --events "$EVENTS" --tenant bench --batch 1000 --concurrency 4 --quiet
done
STORED=$(curl -sf "$URL/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
while true; do
  WAREHOUSE=$(curl -sf "$URL/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' | python3 -c 'import json,sys; print(json.load(sys.stdin)["warehouse_events"])')
  [ "$WAREHOUSE" = "$STORED" ] && break
  sleep 0.5
done
echo "warehouse holds all $WAREHOUSE events"

echo "== training (polyrec train: the job's report with held-out metrics)"
for SCENARIO in bench_feed bench_learned; do
  /usr/bin/time -f "$SCENARIO training: %e s wall (client)" \
    "$BIN" train --tenant bench --scenario "$SCENARIO" --url "$URL"
done

echo "== recommend under wrk (explain off, count 20, 10,000 distinct users)"
for SCENARIO in bench_feed bench_learned; do
  wrk -t1 -c4 -d5s -s bench/recommend.lua "$URL" -- scenario="$SCENARIO" >/dev/null  # warm-up
done
# The two scenarios alternate, ROUNDS times: this machine's speed drifts within minutes, so a
# ratio is taken between neighbouring runs, and the rounds show the spread.
for ROUND in $(seq "$ROUNDS"); do
  for CONNECTIONS in 4 16; do
    for SCENARIO in bench_feed bench_learned; do
      echo "-- round $ROUND, $SCENARIO, $CONNECTIONS connections, $DURATION"
      wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/recommend.lua "$URL" -- scenario="$SCENARIO" \
        | grep -E 'requests:|non-2xx|latency ms'
    done
  done
done
echo "== one explained answer of the learned pipeline"
curl -sf -X POST "$URL/api/v1/recommend" -H 'X-Tenant-Id: bench' -H 'X-User-Id: u42' -H 'Content-Type: application/json' \
  -d '{"scenario_id": "bench_learned", "count": 3, "explain": true}' | python3 -c '
import json, sys
a = json.load(sys.stdin)
print("channels:", [(c["name"], c["status"], c["candidates"]) for c in a["channels"]], "candidates:", a["candidates"])
for i in a["items"]:
    print(i["item_id"], "recall", round(i["recall_score"], 3), "rank", round(i["rank_score"], 4))'
echo "== server RSS: $(ps -o rss= -p $SERVER) KiB"
