#!/usr/bin/env bash
# What idempotent ingestion costs on Kafka, in one run on this machine (docs/benchmarks.md,
# "Idempotent ingestion"): batch ingestion into Kafka (`polyrec serve --no-stream-jobs`,
# bench/ingest.py, batches of 1,000 over 4 connections) three ways, each in a namespace of its own
# and alternated ROUNDS times:
#
#   plain       the producer as before issue 17 (`idempotence=false`), events without an event_id
#   idempotent  the idempotent producer (`enable.idempotence`, the default now)
#   event_ids   the idempotent producer, and every event with a client `event_id` (each claimed
#               in Redis before the append, settled after)
#
#   bash bench/idempotence.sh                       # EVENTS=300000 ROUNDS=2, ~4 minutes
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
DATA="${BENCH_DATA:-bench-data}"
EVENTS="${EVENTS:-300000}"
ROUNDS="${ROUNDS:-2}"
BIN="$CARGO_TARGET_DIR/release/polyrec"

cargo build --release -q -p polyrec
[ -f "$DATA/events.ndjson" ] || python3 bench/gen_data.py --out "$DATA"

# shellcheck source=scripts/servers.sh
source scripts/servers.sh
WORK="$(mktemp -d)"
PIDS=()
finish() {
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    stop_servers
    rm -rf "$WORK"
}
trap finish EXIT
start_servers >/dev/null
head -n "$EVENTS" "$DATA/events.ndjson" >"$WORK/events.ndjson"
# The same events, each with an id of its own.
python3 - "$WORK/events.ndjson" "$WORK/events-with-ids.ndjson" <<'EOF'
import json, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
    for n, line in enumerate(src):
        event = json.loads(line)
        event["event_id"] = f"bench-{n:09d}"
        out.write(json.dumps(event) + "\n")
EOF

wait_ready() {
    for _ in $(seq 300); do curl -sf "$1/readyz" >/dev/null && return 0; sleep 0.1; done
    echo "not ready: $1" >&2
    return 1
}

echo "== machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "servers: redis $(redis-server --version | awk '{print $3}'), tansu $("$POLYREC_TEST_TANSU_BIN" --version | awk '{print $2}')"

run() { # MODE ROUND
    local mode="$1" round="$2" ns api idempotence=true events="$WORK/events.ndjson" mongo_base
    [ "$mode" = plain ] && idempotence=false
    [ "$mode" = event_ids ] && events="$WORK/events-with-ids.ndjson"
    ns="bench_idem_${mode}_${round}_$(date +%s)"
    api="http://127.0.0.1:8095"
    mongo_base="${POLYREC_TEST_MONGO_URL%%\?*}"
    {
        echo "[storage]"
        echo "documents = \"${mongo_base%/}/$ns?directConnection=true&connectTimeoutMS=120000\""
        echo "realtime = \"$POLYREC_TEST_REDIS_URL\""
        echo "redis_key_prefix = \"$ns:\""
        echo "warehouse = \"clickhouse://${POLYREC_TEST_CLICKHOUSE_URL#http://}$ns\""
        echo "bus = \"$POLYREC_TEST_KAFKA_URL?prefix=$ns.&partitions=12&idempotence=$idempotence\""
    } >"$WORK/$ns.toml"
    RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:8095" --config "$WORK/$ns.toml" --data-dir "$WORK/$ns" \
        --no-stream-jobs >"$WORK/$ns.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_ready "$api"
    curl -sf -X POST "$api/api/v1/scenarios" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
        -d @bench/scenario.json >/dev/null
    # The tenant's topic is made by a first event, before the clock.
    curl -sf -X POST "$api/api/v1/behaviors/batch" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
        -d "{\"events\": [$(head -n 1 "$WORK/events.ndjson")]}" >/dev/null
    printf '%-11s round %s: ' "$mode" "$round"
    python3 bench/ingest.py --url "$api" --events "$events" --tenant bench --batch 1000 --concurrency 4 |
        grep -E 'rate' | tr '\n' ' '
    echo "(bus holds $(curl -sf "$api/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])'))"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

echo "== batch ingestion into Kafka, $EVENTS events, batches of 1,000, 4 connections"
for round in $(seq "$ROUNDS"); do
    for mode in plain idempotent event_ids; do
        run "$mode" "$round"
    done
done
