#!/usr/bin/env bash
# Reproduces the "production engines" section of docs/benchmarks.md, all in one run on this
# machine, with the servers of scripts/servers.sh (started here, stopped at the end):
#
# 1. Ingestion through Kafka into ClickHouse, end to end: `polyrec serve --no-stream-jobs` takes
#    batches of events (bench/ingest.py) into Kafka; one `polyrec worker` runs the warehouse sink
#    alone, then (fresh namespaces) all four stream jobs into ClickHouse, Redis and MongoDB.
#    Reports the acknowledged rate, the end-to-end rate (first event sent → last event in
#    ClickHouse) and the sink's lag (events on the bus not yet in the warehouse) each second.
# 2. Recommend latency with the Redis realtime store against the embedded one: two servers on the
#    same catalog and events, the same wrk load, one after the other.
#
#   bash bench/production.sh                 # ~5 minutes
#   EVENTS=300000 DURATION=20s bash bench/production.sh
#   PARTS=sink bash bench/production.sh      # only the sink alone (PARTS: sink all recommend)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
DATA="${BENCH_DATA:-bench-data}"
EVENTS="${EVENTS:-300000}"
DURATION="${DURATION:-20s}"
SINK_BATCH_EVENTS="${SINK_BATCH_EVENTS:-}" # the sink's storage.sink_batch_events (unset: the default, 40,000)
PARTS="${PARTS:-sink all recommend}" # which of the runs below: sink (the sink alone), all (four jobs), recommend
BIN="${POLYREC_BIN:-$CARGO_TARGET_DIR/release/polyrec}" # POLYREC_BIN: another build, e.g. a commit before a change

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
[ -n "${POLYREC_BIN:-}" ] || cargo build --release -q -p polyrec
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

wait_ready() {
    for _ in $(seq 300); do curl -sf "$1/readyz" >/dev/null && return 0; sleep 0.1; done
    echo "not ready: $1" >&2
    return 1
}
stat() { # URL FIELD
    curl -sf "$1/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

echo "== machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "servers: redis $(redis-server --version | awk '{print $3}'), clickhouse $(dpkg -s clickhouse-server | awk '/^Version/ {print $2}'), tansu $("$POLYREC_TEST_TANSU_BIN" --version | awk '{print $2}'), mongoeco"

# ---------------------------------------------------------------------------------------------
# 1. HTTP → Kafka → one worker → ClickHouse, in a namespace of its own. JOBS: the worker's --jobs.
ingest_run() { # NAME JOBS PORT
    local name="$1" jobs="$2" port="$3"
    local ns api mongo_base
    ns="bench_${name}_$(date +%s)"
    api="http://127.0.0.1:$port"
    mongo_base="${POLYREC_TEST_MONGO_URL%%\?*}"
    {
        echo "[storage]"
        echo "documents = \"${mongo_base%/}/$ns?directConnection=true&connectTimeoutMS=120000\""
        echo "realtime = \"$POLYREC_TEST_REDIS_URL\""
        echo "redis_key_prefix = \"$ns:\""
        echo "warehouse = \"clickhouse://${POLYREC_TEST_CLICKHOUSE_URL#http://}$ns\""
        echo "bus = \"$POLYREC_TEST_KAFKA_URL?prefix=$ns.&partitions=12\""
        [ -z "$SINK_BATCH_EVENTS" ] || echo "sink_batch_events = $SINK_BATCH_EVENTS"
    } >"$WORK/$name.toml"
    echo "== 1. ingestion, HTTP → Kafka → worker ($jobs) → ClickHouse, $EVENTS events"
    RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$port" --config "$WORK/$name.toml" --data-dir "$WORK/$name-api" \
        --no-stream-jobs >"$WORK/$name-api.log" 2>&1 &
    local api_pid=$!
    PIDS+=("$api_pid")
    wait_ready "$api"
    RUST_LOG=warn "$BIN" worker --config "$WORK/$name.toml" --data-dir "$WORK/$name-worker" --jobs "$jobs" \
        >"$WORK/$name-worker.log" 2>&1 &
    local worker=$!
    PIDS+=("$worker")
    curl -sf -X POST "$api/api/v1/scenarios" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
        -d @bench/scenario.json >/dev/null
    # The worker joins its groups and finds the tenant's topic (made by a first event) before the clock.
    curl -sf -X POST "$api/api/v1/behaviors/batch" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
        -d "{\"events\": [$(head -n 1 "$WORK/events.ndjson")]}" >/dev/null
    for _ in $(seq 120); do [ "$(stat "$api" warehouse_events)" = "1" ] && break; sleep 0.5; done

    local lag_log="$WORK/$name-lag.txt"
    (
        while true; do
            echo "$(date +%s.%N) $(stat "$api" events) $(stat "$api" warehouse_events)"
            sleep 1
        done
    ) >"$lag_log" 2>/dev/null &
    local sampler=$!
    PIDS+=("$sampler")
    local start acked finished total
    start=$(date +%s.%N)
    python3 bench/ingest.py --url "$api" --events "$WORK/events.ndjson" --tenant bench --batch 1000 --concurrency 4 |
        grep -E 'rate|latency'
    acked=$(date +%s.%N)
    total=$((EVENTS + 1))
    for _ in $(seq 1200); do
        [ "$(stat "$api" warehouse_events)" -ge "$total" ] && break
        sleep 0.5
    done
    finished=$(date +%s.%N)
    kill "$sampler" 2>/dev/null || true
    echo "bus holds $(stat "$api" events), ClickHouse holds $(stat "$api" warehouse_events) (sent $total)"
    python3 bench/lag_report.py "$start" "$acked" "$finished" "$EVENTS" "$lag_log"
    echo "worker RSS $(ps -o rss= -p "$worker") KiB"
    kill "$worker" "$api_pid" 2>/dev/null || true
    wait "$worker" "$api_pid" 2>/dev/null || true
    sleep 5 # let the servers finish what the worker left them (merges, the MongoDB emulation's queue)
}
wanted() { [[ " $PARTS " == *" $1 "* ]]; }
if wanted sink; then ingest_run sink warehouse_sink 8091; fi
if wanted all; then ingest_run all warehouse_sink,user_profile_aggregator,item_hot_score,recommendation_metrics 8094; fi
wanted recommend || exit 0

# ---------------------------------------------------------------------------------------------
echo "== 2. recommend: Redis realtime store against the embedded one (same catalog, same events)"
cat >"$WORK/redis.toml" <<EOF
[storage]
realtime = "$POLYREC_TEST_REDIS_URL"
redis_key_prefix = "bench_recommend_$(date +%s):"
EOF
run_recommend() { # NAME PORT CONFIG
    local name="$1" port="$2" config="$3" url="http://127.0.0.1:$2"
    local args=(serve --listen "127.0.0.1:$port" --data-dir "$WORK/$name")
    [ -n "$config" ] && args+=(--config "$config")
    RUST_LOG=warn "$BIN" "${args[@]}" >"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_ready "$url"
    curl -sf -X POST "$url/api/v1/scenarios" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
        -d @bench/scenario.json >/dev/null
    "$BIN" import items "$DATA/items.ndjson" --tenant bench --scenario bench_feed --url "$url" >/dev/null 2>&1
    python3 bench/ingest.py --url "$url" --events "$WORK/events.ndjson" --tenant bench --quiet >/dev/null
    for _ in $(seq 600); do [ "$(stat "$url" warehouse_events)" -ge "$EVENTS" ] && break; sleep 0.5; done
    curl -sf -X POST "$url/api/v1/scenarios/bench_feed/jobs/cf" -H 'X-Tenant-Id: bench' >/dev/null
    wrk -t1 -c4 -d5s -s bench/recommend.lua "$url" >/dev/null
    for connections in 4 16; do
        echo "-- $name, $connections connections, $DURATION"
        wrk -t2 -c"$connections" -d"$DURATION" --latency -s bench/recommend.lua "$url" |
            grep -E 'Requests/sec|^ +(50|99|99.900)%|Non-2xx|Socket errors'
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}
run_recommend embedded 8092 ""
run_recommend redis 8093 "$WORK/redis.toml"
