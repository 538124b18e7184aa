#!/usr/bin/env bash
# `"weight": "auto"` against the same channels with fixed weights, through the HTTP API, on
# MovieLens-100K (per-user random 75/25, seed 42 — the split of bench/quality.sh): one all-in-one
# server (embedded stores, the schedule off so only the asked-for jobs train), three scenarios
# with the channels ease, dlae, vector_search and item_cf — `equal` (every weight 1), `hand`
# (0.8 / 0 / 0.1 / 0.1, polyrec eval's former pipeline) and `auto` — fed the same training
# events, each trained by `POST …/jobs/train` (the recall models tune their parameters, `auto`
# also fits its blend), then every user with test rows asked `POST /api/v1/recommend` (count 10)
# on each.
#
#   bash bench/auto_weights.sh          # ~6 minutes on 2 cores (build aside)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
DATA="${BENCH_DATA:-bench-data}/ml-100k"
PORT="${PORT:-8093}"
URL="http://127.0.0.1:$PORT"
BIN="$CARGO_TARGET_DIR/release/polyrec"

bash scripts/fetch-ml100k.sh "$DATA"
cargo build --release -q -p polyrec
WORK="$(mktemp -d)"
"$BIN" eval --interactions "$DATA/interactions.csv" --models popularity --split random --test-fraction 0.25 \
  --seed 42 --export-split "$WORK/split" --json >/dev/null
python3 bench/auto_weights.py prepare "$WORK/split" "$DATA/items.csv" "$WORK" --scenario equal --scenario hand \
  --scenario auto
printf 'cf_interval_seconds = 86400\nprofile_recompute_hours = 0\n' >"$WORK/server.toml"

RUST_LOG=warn "$BIN" serve --config "$WORK/server.toml" --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" \
  >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for SCENARIO in equal hand auto; do
  case "$SCENARIO" in
    equal) W=(1.0 1.0 1.0 1.0) ;;
    hand) W=(0.8 0.0 0.1 0.1) ;;
    auto) W=('"auto"' '"auto"' '"auto"' '"auto"') ;;
  esac
  curl -sf -X POST "$URL/api/v1/scenarios" -H 'X-Tenant-Id: quality' -H 'Content-Type: application/json' -d @- >/dev/null <<JSON
{"scenario_id": "$SCENARIO", "scenario_type": "vlog", "config": {
  "recall": {"strategies": [
    {"name": "ease", "weight": ${W[0]}, "limit": 200},
    {"name": "dlae", "weight": ${W[1]}, "limit": 200},
    {"name": "vector_search", "weight": ${W[2]}, "limit": 200},
    {"name": "item_cf", "weight": ${W[3]}, "limit": 200, "params": {"seed_items": 50, "decay": 0.0}}
  ]},
  "rank": {"model": "weighted", "params": {"recall_weight": 1.0}}}}
JSON
  "$BIN" import items "$WORK/items.ndjson" --tenant quality --scenario "$SCENARIO" --url "$URL"
  python3 bench/ingest.py --url "$URL" --events "$WORK/events-$SCENARIO.ndjson" --tenant quality --batch 1000 \
    --concurrency 1 --quiet
done
STORED=$(curl -sf "$URL/api/v1/behaviors/stats" -H 'X-Tenant-Id: quality' | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
until [ "$(curl -sf "$URL/api/v1/behaviors/stats" -H 'X-Tenant-Id: quality' | python3 -c 'import json,sys; print(json.load(sys.stdin)["warehouse_events"])')" = "$STORED" ]; do
  sleep 0.5
done
echo "warehouse holds all $STORED events"
python3 bench/auto_weights.py score "$URL" "$WORK/split" --tenant quality --scenario equal --scenario hand \
  --scenario auto
