#!/usr/bin/env bash
# Reproduces docs/benchmarks.md on this machine: a catalog of 100,000 items, 10,000 users and
# 1,000,000 events; bulk item import, batch ingestion throughput (with the stored count checked
# against the sent count), the stream jobs' catch-up, collaborative-filtering training, and
# recommend latency/throughput under wrk on loopback.
#
#   bash bench/run.sh            # everything, ~5 minutes on 2 cores
#   DURATION=60s bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
DATA="${BENCH_DATA:-bench-data}"
PORT="${PORT:-8090}"
DURATION="${DURATION:-30s}"
URL="http://127.0.0.1:$PORT"
BIN="$CARGO_TARGET_DIR/release/polyrec"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release -q -p polyrec
[ -f "$DATA/events.ndjson" ] || python3 bench/gen_data.py --out "$DATA"

STORE="$(mktemp -d)"
RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$STORE" >"$STORE/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$STORE"' EXIT
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done

echo "== machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== scenario"
curl -sf -X POST "$URL/api/v1/scenarios" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
  -d @bench/scenario.json >/dev/null && echo created bench_feed

echo "== bulk item import (polyrec import items, NDJSON streamed)"
/usr/bin/time -f "items: %e s wall, %M KiB max RSS of the client" \
  "$BIN" import items "$DATA/items.ndjson" --tenant bench --scenario bench_feed --url "$URL"

echo "== batch ingestion (bench/ingest.py: batches of 1000, 4 connections)"
python3 bench/ingest.py --url "$URL" --events "$DATA/events.ndjson" --tenant bench --batch 1000 --concurrency 4
SENT=$(wc -l <"$DATA/events.ndjson")
STORED=$(curl -sf "$URL/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
echo "sent $SENT, stored on the bus $STORED"
[ "$SENT" = "$STORED" ] || { echo "MISMATCH: stored != sent"; exit 1; }

echo "== stream jobs catching up (warehouse sink)"
START=$(date +%s.%N)
while true; do
  WAREHOUSE=$(curl -sf "$URL/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' | python3 -c 'import json,sys; print(json.load(sys.stdin)["warehouse_events"])')
  [ "$WAREHOUSE" = "$STORED" ] && break
  sleep 0.5
done
echo "warehouse holds all $WAREHOUSE events, $(python3 -c "print(round($(date +%s.%N) - $START, 1))") s after the last acknowledgement"

echo "== collaborative filtering training"
curl -sf -X POST "$URL/api/v1/scenarios/bench_feed/jobs/cf" -H 'X-Tenant-Id: bench'; echo

echo "== recommend under wrk (explain off, count 20, 10,000 distinct users)"
wrk -t1 -c4 -d5s -s bench/recommend.lua "$URL" >/dev/null  # warm-up
for CONNECTIONS in 4 8 16 64; do
  echo "-- $CONNECTIONS connections, $DURATION"
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/recommend.lua "$URL"
done
echo "== single events under wrk (POST /api/v1/behaviors, 16 connections, 15 s)"
BEFORE=$STORED
wrk -t2 -c16 -d15s -s bench/event.lua "$URL" | tee "$STORE/events.txt" | grep -E 'Requests/sec|acknowledged|latency ms'
ACKED=$(sed -nE 's/^acknowledged: ([0-9]+) events.*/\1/p' "$STORE/events.txt")
AFTER=$(curl -sf "$URL/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
echo "acknowledged $ACKED, stored $((AFTER - BEFORE)) (requests still in flight when wrk stopped may add a few)"
[ $((AFTER - BEFORE)) -ge "$ACKED" ] || { echo "MISMATCH: an acknowledged event is missing"; exit 1; }
echo "== server RSS: $(ps -o rss= -p $SERVER) KiB"
