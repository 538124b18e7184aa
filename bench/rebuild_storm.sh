#!/usr/bin/env bash
# Tenant B's recommend latency alone, then while tenant A keeps rebuilding the catalogs of many
# large scenarios at once, with A's rebuilds bounded by `max_blocking_tasks_per_tenant` and
# (for comparison, in the same run) effectively unbounded: the "rebuild storm" section of
# docs/benchmarks.md.
#
# For each SLOTS in $SLOT_SETTINGS, one `polyrec serve` (release, embedded stores) with
# `limits.max_blocking_tasks_per_tenant = SLOTS`:
#   - B: 5,000 items, 50,000 events, CF trained (as bench/noisy_neighbour.sh);
#   - A: $SCENARIOS scenarios of $A_ITEMS items each;
#   1. B alone: wrk, 2 threads, 8 connections, recommend as random users of B;
#   2. B beside A's storm: one thread per A scenario writes one item and then asks for a
#      recommendation there, over and over, so every request of A rebuilds a catalog of
#      $A_ITEMS items (0.24 s at 100,000), $SCENARIOS at once if nothing bounds them.
#
#   bash bench/rebuild_storm.sh              # ~5 minutes on 2 cores (build aside)
#   SLOT_SETTINGS="1" SCENARIOS=4 A_ITEMS=50000 DURATION=10s bash bench/rebuild_storm.sh
set -euo pipefail
trap 'echo "bench/rebuild_storm.sh: failed at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
SLOT_SETTINGS="${SLOT_SETTINGS:-512 1}"
SCENARIOS="${SCENARIOS:-8}"
A_ITEMS="${A_ITEMS:-100000}"
DURATION="${DURATION:-20s}"
USERS=1000
BIN="$CARGO_TARGET_DIR/release/polyrec"
PORT="${PORT:-8132}"
URL="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release -q -p polyrec

WORK="$(mktemp -d)"
SERVER=""
finish() {
    [ -n "$SERVER" ] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
    rm -rf "$WORK"
}
trap finish EXIT

python3 bench/gen_data.py --out "$WORK/b" --items 5000 --users "$USERS" --events 50000 >/dev/null
python3 bench/gen_data.py --out "$WORK/a" --items "$A_ITEMS" --users 10 --events 10 >/dev/null

echo "== machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "B: 5,000 items, $USERS users, 50,000 events; A: $SCENARIOS scenarios of $A_ITEMS items; wrk $DURATION per point"

# wrk against B's recommend; prints "p50 p99 req/s non2xx total".
measure() {
    wrk -t2 -c8 -d"$DURATION" --latency -s bench/recommend.lua "$URL" -- users="$USERS" tenant=bystander \
        scenario=bench_feed | python3 bench/wrk_summary.py
}

ROWS=()
for SLOTS in $SLOT_SETTINGS; do
    rm -rf "$WORK/db"
    printf 'cf_interval_seconds = 3600\n[limits]\nmax_blocking_tasks_per_tenant = %s\n' "$SLOTS" >"$WORK/polyrec.toml"
    RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --config "$WORK/polyrec.toml" --data-dir "$WORK/db" \
        >"$WORK/serve.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 600); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done

    curl -sS --fail-with-body -X POST "$URL/api/v1/scenarios" -H "X-Tenant-Id: bystander" \
        -H 'Content-Type: application/json' -d @bench/scenario.json >/dev/null
    "$BIN" import items "$WORK/b/items.ndjson" --tenant bystander --scenario bench_feed --url "$URL" >/dev/null
    python3 bench/ingest.py --url "$URL" --events "$WORK/b/events.ndjson" --tenant bystander --batch 1000 \
        --concurrency 4 --quiet
    curl -sf -X POST "$URL/api/v1/scenarios/bench_feed/jobs/cf" -H 'X-Tenant-Id: bystander' >/dev/null
    for n in $(seq 1 "$SCENARIOS"); do
        sed "s/\"bench_feed\"/\"storm_$n\"/" bench/scenario.json |
            curl -sS --fail-with-body -X POST "$URL/api/v1/scenarios" -H "X-Tenant-Id: abuser" \
                -H 'Content-Type: application/json' -d @- >/dev/null
        "$BIN" import items "$WORK/a/items.ndjson" --tenant abuser --scenario "storm_$n" --url "$URL" >/dev/null
    done

    wrk -t1 -c4 -d3s -s bench/recommend.lua "$URL" -- users="$USERS" tenant=bystander scenario=bench_feed >/dev/null
    read -r ALONE_P50 ALONE_P99 ALONE_RPS ALONE_BAD _ < <(measure)

    python3 - "$URL" "$DURATION" "$SCENARIOS" "$WORK/storm.txt" <<'PY_END' &
import json, sys, threading, time, urllib.request, urllib.error
url, duration, scenarios, report = sys.argv[1], float(sys.argv[2].rstrip("s")), int(sys.argv[3]), sys.argv[4]
end = time.time() + duration + 3
answered, lock = [0, 0], threading.Lock()
def call(path, body, user=None):
    headers = {"X-Tenant-Id": "abuser", "Content-Type": "application/json"}
    if user:
        headers["X-User-Id"] = user
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST", headers=headers)
    try:
        urllib.request.urlopen(request, timeout=60).read()
        return True
    except (urllib.error.URLError, ConnectionError):
        return False
def storm(n):
    scenario, i = f"storm_{n}", 0
    while time.time() < end:
        i += 1
        call(f"/api/v1/scenarios/{scenario}/items", {"item_id": f"s{n}-{i}", "metadata": {"category": "c1"}})
        ok = call("/api/v1/recommend", {"scenario_id": scenario, "count": 10}, user=f"a{n}")
        with lock:
            answered[0 if ok else 1] += 1
threads = [threading.Thread(target=storm, args=(n,)) for n in range(1, scenarios + 1)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"{answered[0]} {answered[1]}", file=open(report, "w"))
PY_END
    STORM=$!
    sleep 2
    read -r BESIDE_P50 BESIDE_P99 BESIDE_RPS BESIDE_BAD _ < <(measure)
    wait "$STORM"
    read -r A_OK A_FAILED <"$WORK/storm.txt"
    WAITS=$(curl -sf "$URL/metrics" | awk '/^polyrec_tenant_blocking_waits_total/ {print $2}')
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    ROWS+=("| $SLOTS | $ALONE_P50 / $ALONE_P99 | $BESIDE_P50 / $BESIDE_P99 | $(python3 -c "print(f'{$BESIDE_P50/$ALONE_P50:.2f} / {$BESIDE_P99/$ALONE_P99:.2f}')") | $ALONE_RPS → $BESIDE_RPS | $ALONE_BAD + $BESIDE_BAD | $A_OK answered ($A_FAILED failed), ${WAITS:-0} waits for a slot |")
done

echo
echo "| A's blocking slots | B alone p50 / p99 ms | B beside A's storm p50 / p99 ms | ratio p50 / p99 | B's req/s | B's non-2xx | A's recommend requests (each a rebuild) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
