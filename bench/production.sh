#!/usr/bin/env bash
# Reproduces the "production engines" section of docs/benchmarks.md, all in one run on this
# machine, with the servers of scripts/servers.sh (started here, stopped at the end):
#
# 1. Ingestion through Kafka into ClickHouse, end to end: `polyrec serve --no-stream-jobs` takes
#    batches of events (bench/ingest.py) into Kafka; one `polyrec worker` runs the four stream jobs
#    into ClickHouse (and Redis, MongoDB). Reports the acknowledged rate, the end-to-end rate
#    (first event sent → last event in ClickHouse) and the sink's lag (events on the bus not yet
#    in the warehouse), sampled every second.
# 2. Recommend latency with the Redis realtime store against the embedded one: two servers on the
#    same catalog and events, the same wrk load, one after the other.
#
#   bash bench/production.sh                 # ~5 minutes
#   EVENTS=300000 DURATION=20s bash bench/production.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
DATA="${BENCH_DATA:-bench-data}"
EVENTS="${EVENTS:-300000}"
DURATION="${DURATION:-20s}"
BIN="$CARGO_TARGET_DIR/release/polyrec"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
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
echo "== 1. ingestion: HTTP → Kafka → worker → ClickHouse ($EVENTS events)"
NS="bench_$(date +%s)"
MONGO_BASE="${POLYREC_TEST_MONGO_URL%%\?*}"
cat >"$WORK/production.toml" <<EOF
[storage]
documents = "${MONGO_BASE%/}/$NS?directConnection=true&connectTimeoutMS=120000"
realtime = "$POLYREC_TEST_REDIS_URL"
redis_key_prefix = "$NS:"
warehouse = "clickhouse://${POLYREC_TEST_CLICKHOUSE_URL#http://}$NS"
bus = "$POLYREC_TEST_KAFKA_URL?prefix=$NS.&partitions=12"
EOF
API="http://127.0.0.1:8091"
RUST_LOG=warn "$BIN" serve --listen 127.0.0.1:8091 --config "$WORK/production.toml" --data-dir "$WORK/api" \
    --no-stream-jobs >"$WORK/api.log" 2>&1 &
PIDS+=("$!")
wait_ready "$API"
RUST_LOG=warn "$BIN" worker --config "$WORK/production.toml" --data-dir "$WORK/worker" >"$WORK/worker.log" 2>&1 &
WORKER=$!
PIDS+=("$WORKER")
curl -sf -X POST "$API/api/v1/scenarios" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
    -d @bench/scenario.json >/dev/null
# The worker joins its groups and finds the tenant's topic (made by a first event) before the clock.
curl -sf -X POST "$API/api/v1/behaviors/batch" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
    -d "{\"events\": [$(head -n 1 "$WORK/events.ndjson")]}" >/dev/null
for _ in $(seq 120); do [ "$(stat "$API" warehouse_events)" = "1" ] && break; sleep 0.5; done

LAG_LOG="$WORK/lag.txt"
(
    while true; do
        echo "$(date +%s.%N) $(stat "$API" events) $(stat "$API" warehouse_events)"
        sleep 1
    done
) >"$LAG_LOG" 2>/dev/null &
SAMPLER=$!
PIDS+=("$SAMPLER")
START=$(date +%s.%N)
python3 bench/ingest.py --url "$API" --events "$WORK/events.ndjson" --tenant bench --batch 1000 --concurrency 4
ACKED_AT=$(date +%s.%N)
TOTAL=$((EVENTS + 1))
for _ in $(seq 1200); do
    [ "$(stat "$API" warehouse_events)" -ge "$TOTAL" ] && break
    sleep 0.5
done
DONE_AT=$(date +%s.%N)
kill "$SAMPLER" 2>/dev/null || true
echo "bus holds $(stat "$API" events), ClickHouse holds $(stat "$API" warehouse_events) (sent $TOTAL)"
python3 - "$START" "$ACKED_AT" "$DONE_AT" "$EVENTS" "$LAG_LOG" <<'EOF'
import sys
start, acked, done, n, lag_log = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print(f"end to end: {n} events in ClickHouse {done - start:.1f} s after the first was sent "
      f"= {n / (done - start):,.0f} events/s; the last landed {done - acked:.1f} s after the last acknowledgement")
lags = []
for line in open(lag_log):
    parts = line.split()
    if len(parts) == 3:
        lags.append((float(parts[0]) - start, int(parts[1]) - int(parts[2])))
if lags:
    worst = max(l for _, l in lags)
    during = [l for t, l in lags if t <= acked - start]
    print(f"sink lag (events on the bus not yet in ClickHouse), sampled each second: "
          f"max {worst:,}, median while sending {sorted(during)[len(during) // 2] if during else 0:,}")
    print("lag samples (s since start: events):", ", ".join(f"{t:.0f}: {l}" for t, l in lags[:: max(1, len(lags) // 12)]))
EOF
echo "worker RSS $(ps -o rss= -p "$WORKER") KiB"

# ---------------------------------------------------------------------------------------------
echo "== 2. recommend: Redis realtime store against the embedded one (same catalog, same events)"
cat >"$WORK/redis.toml" <<EOF
[storage]
realtime = "$POLYREC_TEST_REDIS_URL"
redis_key_prefix = "${NS}r:"
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
