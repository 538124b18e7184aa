#!/usr/bin/env bash
# Recommend latency all-in-one versus split (the seven services of SPEC §3.1 as separate
# processes talking gRPC), on the same production stores and the same data, in one run: the
# "split deployment" section of docs/benchmarks.md.
#
# 1. Starts the servers of scripts/servers.sh, one `polyrec serve` (all-in-one, stream jobs
#    in-process) on them, and loads a catalog and events into two scenarios: `bench_feed`
#    (heuristic: CF, hot, content, latest; the weighted ranker) and `bench_deep` (the same recall
#    ranked by a DeepFM model trained on the impressions). Measures recommend under wrk.
# 2. Stops it and starts `polyrec worker` and the seven `polyrec serve --service NAME` processes on
#    the same stores (loopback only, sharing a POLYREC_INTERNAL_KEY generated for the run);
#    measures the same load against the recommendation service (HTTP 8104), which reaches the
#    scenario, item, feature and model services over gRPC with service tokens signed by that key.
#
#   bash bench/split.sh                      # ~8 minutes on 2 cores (build aside)
#   ITEMS=20000 EVENTS=200000 DURATION=30s bash bench/split.sh
set -euo pipefail
trap 'echo "bench/split.sh: failed at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
ITEMS="${ITEMS:-10000}"
USERS="${USERS:-2000}"
EVENTS="${EVENTS:-100000}"
DURATION="${DURATION:-20s}"
BIN="$CARGO_TARGET_DIR/release/polyrec"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release -q -p polyrec --features production

# shellcheck source=scripts/servers.sh
source scripts/servers.sh
WORK="$(mktemp -d)"
PIDS=()
stop_all() {
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    PIDS=()
}
finish() {
    stop_all
    stop_servers
    rm -rf "$WORK"
}
trap finish EXIT
start_servers >/dev/null
python3 bench/gen_data.py --out "$WORK/data" --items "$ITEMS" --users "$USERS" --events "$EVENTS" >/dev/null

wait_ready() {
    for _ in $(seq 600); do curl -sf "$1/readyz" >/dev/null && return 0; sleep 0.1; done
    echo "not ready: $1" >&2
    return 1
}

NS="bench_split_$(date +%s)"
MONGO_BASE="${POLYREC_TEST_MONGO_URL%%\?*}"
{
    echo "cf_interval_seconds = 3600"
    echo "[storage]"
    echo "documents = \"${MONGO_BASE%/}/$NS?directConnection=true&connectTimeoutMS=120000&serverSelectionTimeoutMS=120000\""
    echo "realtime = \"$POLYREC_TEST_REDIS_URL\""
    echo "redis_key_prefix = \"$NS:\""
    echo "warehouse = \"clickhouse://${POLYREC_TEST_CLICKHOUSE_URL#http://}$NS\""
    echo "bus = \"$POLYREC_TEST_KAFKA_URL?prefix=$NS.&partitions=4\""
    echo "blobs = \"file://$WORK/models\""
    echo "sink_flush_ms = 500"
} >"$WORK/polyrec.toml"

echo "== machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "data: $ITEMS items, $USERS users, $EVENTS events per scenario; wrk $DURATION per point"

# ---------------------------------------------------------------------------------------------
# Loading, through the all-in-one server.
ALL="http://127.0.0.1:8100"
RUST_LOG=warn "$BIN" serve --listen 127.0.0.1:8100 --config "$WORK/polyrec.toml" --data-dir "$WORK/all" \
    >"$WORK/all.log" 2>&1 &
PIDS+=("$!")
wait_ready "$ALL"
python3 - "$WORK/deep.json" <<'PY_END'
import json, sys
scenario = json.load(open("bench/scenario.json"))
scenario["scenario_id"] = "bench_deep"
scenario["name"] = "Benchmark feed, DeepFM ranker"
scenario["config"]["rank"] = {"model": "deepfm", "objective": "click_rate", "params": {"model": {"epochs": 2}}}
json.dump(scenario, open(sys.argv[1], "w"))
PY_END
sed 's/"bench_feed"/"bench_deep"/' "$WORK/data/events.ndjson" >"$WORK/data/events_deep.ndjson"
for SCENARIO in bench_feed bench_deep; do
    FILE=bench/scenario.json EVENTS_FILE="$WORK/data/events.ndjson"
    if [ "$SCENARIO" = bench_deep ]; then FILE="$WORK/deep.json" EVENTS_FILE="$WORK/data/events_deep.ndjson"; fi
    curl -sS --fail-with-body -X POST "$ALL/api/v1/scenarios" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
        -d @"$FILE" >/dev/null
    "$BIN" import items "$WORK/data/items.ndjson" --tenant bench --scenario "$SCENARIO" --url "$ALL"
    python3 bench/ingest.py --url "$ALL" --events "$EVENTS_FILE" --tenant bench --batch 1000 --concurrency 4 --quiet
done
STORED=$(curl -sf "$ALL/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
until [ "$(curl -sf "$ALL/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench' | python3 -c 'import json,sys; print(json.load(sys.stdin)["warehouse_events"])')" = "$STORED" ]; do
    sleep 1
done
echo "loaded: $STORED events in the warehouse"
for SCENARIO in bench_feed bench_deep; do
    curl -sf -X POST "$ALL/api/v1/scenarios/$SCENARIO/jobs/cf" -H 'X-Tenant-Id: bench' >/dev/null
done
JOB=$(curl -sf -X POST "$ALL/api/v1/scenarios/bench_deep/jobs/train" -H 'X-Tenant-Id: bench' \
    -H 'Content-Type: application/json' -d '{"models": ["deepfm"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
while true; do
    STATE=$(curl -sf "$ALL/api/v1/jobs/$JOB" -H 'X-Tenant-Id: bench' | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    [ "$STATE" = succeeded ] && break
    [ "$STATE" = failed ] && { curl -s "$ALL/api/v1/jobs/$JOB" -H 'X-Tenant-Id: bench'; exit 1; }
    sleep 1
done
echo "deepfm trained"

# Every user asks once, one at a time, so the profile of each (or the knowledge that there is
# none) is in Redis's profile cache (1 h) before the measurement: MongoDB here is an emulator
# (mongoeco) whose reads take tens of milliseconds, and the steady state of a service reads
# profiles from the cache anyway.
warm() { # URL SCENARIO
    python3 - "$1" "$2" "$USERS" <<'WARM_END'
import json, sys, urllib.request
url, scenario, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
failed = 0
for u in range(users):
    request = urllib.request.Request(url + "/api/v1/recommend", method="POST",
        data=json.dumps({"scenario_id": scenario, "count": 20}).encode(),
        headers={"X-Tenant-Id": "bench", "X-User-Id": f"u{u}", "Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=30).read()
    except Exception:
        failed += 1
print(f"warmed {scenario}: {users} users, {failed} failed")
WARM_END
}

# One point: wrk against URL for SCENARIO with C connections; prints req/s, p50, p99, errors.
measure() { # LABEL URL SCENARIO CONNECTIONS
    local out
    wrk -t1 -c4 -d3s -s bench/recommend.lua "$2" -- users="$USERS" scenario="$3" >/dev/null
    out=$(wrk -t2 -c"$4" -d"$DURATION" --latency -s bench/recommend.lua "$2" -- users="$USERS" scenario="$3")
    python3 - "$1" "$3" "$4" "$out" <<'PY_END'
import re, sys
label, scenario, connections, out = sys.argv[1:5]
def ms(name):
    m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)\b" % name, out, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
timeouts = re.search(r"Socket errors:.*timeout (\d+)", out)
print(f"| {label} | {scenario} | {connections} | {rps:,.0f} | {ms('50%'):.2f} | {ms('99%'):.2f} | {errors.group(1) if errors else 0} | {timeouts.group(1) if timeouts else 0} |")
PY_END
}

for SCENARIO in bench_feed bench_deep; do warm "$ALL" "$SCENARIO"; done
echo
echo "| deployment | scenario | connections | req/s | p50 ms | p99 ms | non-2xx | timeouts (2 s) |"
echo "|---|---|---|---|---|---|---|---|"
for SCENARIO in bench_feed bench_deep; do
    for C in 4 16; do measure all-in-one "$ALL" "$SCENARIO" "$C"; done
done
stop_all

# ---------------------------------------------------------------------------------------------
# The split deployment on the same stores.
{
    echo "[services]"
    for SERVICE in scenario item feature model; do
        case $SERVICE in scenario) P=9101 ;; item) P=9102 ;; feature) P=9105 ;; model) P=9106 ;; esac
        echo "${SERVICE}_url = \"http://127.0.0.1:$P\""
    done
} >>"$WORK/polyrec.toml"
RUST_LOG=warn "$BIN" worker --listen 127.0.0.1:8110 --config "$WORK/polyrec.toml" --data-dir "$WORK/worker" \
    >"$WORK/worker.log" 2>&1 &
PIDS+=("$!")
# The internal key: every split service refuses to start without one (at least 32 bytes, the same in
# all seven); the recommendation service signs its gRPC calls' service tokens with it and the others
# check them. A fresh one per run; the worker does not need it.
INTERNAL_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
for SERVICE in scenario item behavior recommendation feature model analytics; do
    case $SERVICE in
        scenario) N=1 ;; item) N=2 ;; behavior) N=3 ;; recommendation) N=4 ;; feature) N=5 ;; model) N=6 ;; analytics) N=7 ;;
    esac
    GRPC=()
    [ "$SERVICE" = recommendation ] || GRPC=(--grpc-listen "127.0.0.1:910$N")
    POLYREC_INTERNAL_KEY="$INTERNAL_KEY" RUST_LOG=warn "$BIN" serve --service "$SERVICE" --listen "127.0.0.1:810$N" "${GRPC[@]}" \
        --config "$WORK/polyrec.toml" --data-dir "$WORK/$SERVICE" >"$WORK/$SERVICE.log" 2>&1 &
    PIDS+=("$!")
done
for N in 1 2 3 4 5 6 7; do wait_ready "http://127.0.0.1:810$N"; done
SPLIT="http://127.0.0.1:8104"
# The recommendation service trains its own CF neighbours; ask for them as the all-in-one run did.
for SCENARIO in bench_feed bench_deep; do
    curl -sf -X POST "$SPLIT/api/v1/scenarios/$SCENARIO/jobs/cf" -H 'X-Tenant-Id: bench' >/dev/null
done
# The DeepFM ranker serves in the model service (loaded from the registry at its start).
curl -sf -X POST "$SPLIT/api/v1/recommend" -H 'X-Tenant-Id: bench' -H 'X-User-Id: u1' -H 'Content-Type: application/json' \
    -d '{"scenario_id": "bench_deep", "count": 3, "explain": true}' | python3 -c '
import json, sys
answer = json.load(sys.stdin)
item = answer["items"][0]
assert item["rank_score"] != item["recall_score"], ("the ranker did not score", item)
print("split bench_deep ranks through the model service: rank_score", round(item["rank_score"], 4))'
for SCENARIO in bench_feed bench_deep; do warm "$SPLIT" "$SCENARIO"; done
for SCENARIO in bench_feed bench_deep; do
    for C in 4 16; do measure split "$SPLIT" "$SCENARIO" "$C"; done
done
echo
echo "gRPC calls of the recommendation service during the split run (count, mean ms):"
curl -sf "$SPLIT/metrics" | python3 -c '
import re, sys
sums, counts = {}, {}
for line in sys.stdin:
    m = re.match(r"polyrec_internal_call_duration_seconds_(sum|count)\{(.*)\} ([\d.e+-]+)", line)
    if m:
        labels = dict(re.findall(r"(\w+)=\"([^\"]*)\"", m.group(2)))
        key = (labels["service"], labels["method"], labels["code"])
        (sums if m.group(1) == "sum" else counts)[key] = float(m.group(3))
for key in sorted(counts):
    print(f"  {key[0]}.{key[1]} ({key[2]}): {counts[key]:.0f} calls, {1000 * sums[key] / max(counts[key], 1):.3f} ms mean")'
