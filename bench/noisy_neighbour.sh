#!/usr/bin/env bash
# Tenant B's recommend latency alone, then beside tenant A's abuse, in one run; and the server's
# peak RSS under a 10x overload: the "noisy neighbour" section of docs/benchmarks.md.
#
# One `polyrec serve` (release, embedded stores) with `max_concurrent_requests = 64` and a quota
# for A of 200 events/s, 100 recommend requests/s and 2 analytics queries/s (ABUSER_*_PER_SECOND=0:
# none). B has a
# catalog, events and CF trained. Then:
#   1. B alone: wrk, 8 connections, recommend as random users of B.
#   2. B beside A: the same wrk while A sends, from 8 threads, batches at ten times its quota,
#      bodies at and over the 1 MiB limit, 720-hour funnels and hourly trends over 365 days, and
#      recommend requests of its own at 32 connections (far past its quota).
#   3. Overload: wrk at 640 connections (10x the concurrency limit) on recommend; the peak RSS of
#      the server (VmHWM) before and after, and the share of requests shed with 503.
#
#   bash bench/noisy_neighbour.sh            # ~4 minutes on 2 cores (build aside)
#   DURATION=30s bash bench/noisy_neighbour.sh
set -euo pipefail
trap 'echo "bench/noisy_neighbour.sh: failed at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
ITEMS="${ITEMS:-5000}"
USERS="${USERS:-1000}"
EVENTS="${EVENTS:-50000}"
DURATION="${DURATION:-20s}"
# The abuse runs on the same cores as the server and B's wrk; ABUSER_NICE=19 runs A's load
# generators at the lowest priority, so what B feels is the server's sharing, less the
# generators' own CPU (both are reported in docs/benchmarks.md).
ABUSER_NICE="${ABUSER_NICE:-0}"
BIN="$CARGO_TARGET_DIR/release/polyrec"
PORT="${PORT:-8131}"
URL="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release -q -p polyrec

WORK="$(mktemp -d)"
PIDS=()
finish() {
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap finish EXIT

cat >"$WORK/polyrec.toml" <<EOF
max_body_bytes = 1048576
cf_interval_seconds = 3600
[limits]
max_concurrent_requests = 64
[tenancy.tenants.abuser]
quota = { events_per_second = ${ABUSER_EVENTS_PER_SECOND:-200}, recommend_per_second = ${ABUSER_RECOMMEND_PER_SECOND:-100}, analytics_per_second = ${ABUSER_ANALYTICS_PER_SECOND:-2} }
EOF
python3 bench/gen_data.py --out "$WORK/data" --items "$ITEMS" --users "$USERS" --events "$EVENTS" >/dev/null

echo "== machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "data: $ITEMS items, $USERS users, $EVENTS events for B; wrk $DURATION per point"

RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --config "$WORK/polyrec.toml" --data-dir "$WORK/db" \
    >"$WORK/serve.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
for _ in $(seq 600); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done

for TENANT in bystander abuser; do
    curl -sS --fail-with-body -X POST "$URL/api/v1/scenarios" -H "X-Tenant-Id: $TENANT" \
        -H 'Content-Type: application/json' -d @bench/scenario.json >/dev/null
    "$BIN" import items "$WORK/data/items.ndjson" --tenant "$TENANT" --scenario bench_feed --url "$URL" >/dev/null
done
python3 bench/ingest.py --url "$URL" --events "$WORK/data/events.ndjson" --tenant bystander --batch 1000 \
    --concurrency 4 --quiet
curl -sf -X POST "$URL/api/v1/scenarios/bench_feed/jobs/cf" -H 'X-Tenant-Id: bystander' >/dev/null

# wrk against recommend as TENANT with C connections for D; prints "p50 p99 req/s non2xx total".
measure() { # TENANT CONNECTIONS DURATION
    wrk -t2 -c"$2" -d"$3" --latency -s bench/recommend.lua "$URL" -- users="$USERS" tenant="$1" scenario=bench_feed |
        python3 bench/wrk_summary.py
}
rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$SERVER/status"; }

wrk -t1 -c4 -d3s -s bench/recommend.lua "$URL" -- users="$USERS" tenant=bystander scenario=bench_feed >/dev/null
read -r ALONE_P50 ALONE_P99 ALONE_RPS ALONE_BAD _ < <(measure bystander 8 "$DURATION")

# A's abuse, for as long as the second measurement lasts.
nice -n "$ABUSER_NICE" python3 - "$URL" "$DURATION" "$WORK/abuse.txt" <<'PY_END' &
import json, sys, threading, time, urllib.request, urllib.error
url, duration = sys.argv[1], float(sys.argv[2].rstrip("s"))
# The longest window the analytics take (366 days), hour by hour.
since = int((time.time() - 365 * 86400) * 1000)
end = time.time() + duration + 5
counts, lock = {}, threading.Lock()
def count(kind, status):
    with lock:
        counts[(kind, status)] = counts.get((kind, status), 0) + 1
def post(kind, path, body, content_type="application/json"):
    request = urllib.request.Request(url + path, data=body, method="POST",
        headers={"X-Tenant-Id": "abuser", "Content-Type": content_type})
    try:
        urllib.request.urlopen(request, timeout=30).read()
        count(kind, 200)
    except urllib.error.HTTPError as error:
        count(kind, error.code)
    except (urllib.error.URLError, ConnectionError):
        count(kind, "reset")
def get(kind, path):
    try:
        urllib.request.urlopen(urllib.request.Request(url + path, headers={"X-Tenant-Id": "abuser"}), timeout=60).read()
        count(kind, 200)
    except urllib.error.HTTPError as error:
        count(kind, error.code)
    except (urllib.error.URLError, ConnectionError):
        count(kind, "reset")
def flood(sender):
    events = [{"event_type": "click", "user_id": f"a{sender}-{i}", "item_id": "i1", "scenario_id": "bench_feed",
               "value": 1e12} for i in range(250)]
    body = json.dumps({"events": events}).encode()
    while time.time() < end:
        post("events x250", "/api/v1/behaviors/batch", body)
def bodies():
    while time.time() < end:
        for size in (1_048_576, 1_048_577, 4 * 1_048_576):
            # Exactly `size` bytes: at the limit (a 422 for the unknown field), one past it, four times it.
            post(f"body {size} B", "/api/v1/behaviors/batch", b'{"events": [], "pad": "' + b"x" * (size - 25) + b'"}')
def analytics():
    while time.time() < end:
        get("funnel", f"/api/v1/analytics/funnel?scenario_id=bench_feed&steps=impression,click,add_cart,order&window_hours=720&from={since}")
        get("trends", f"/api/v1/analytics/trends?metric=events&interval=hour&from={since}")
threads = [threading.Thread(target=flood, args=(i,)) for i in range(8)]
threads += [threading.Thread(target=bodies), threading.Thread(target=analytics)]
for t in threads:
    t.start()
for t in threads:
    t.join()
summary = ", ".join(f"{kind} {status}: {n}" for (kind, status), n in sorted(counts.items(), key=str))
print(f"A's requests: {summary}", file=open(sys.argv[3], "w"))
PY_END
ABUSE=$!
nice -n "$ABUSER_NICE" wrk -t1 -c32 -d"$DURATION" -s bench/recommend.lua "$URL" -- users="$USERS" tenant=abuser \
    scenario=bench_feed >"$WORK/abuse_wrk.txt" &
ABUSE_WRK=$!
sleep 1
read -r BESIDE_P50 BESIDE_P99 BESIDE_RPS BESIDE_BAD _ < <(measure bystander 8 "$DURATION")
wait "$ABUSE" "$ABUSE_WRK" || true

RSS_BEFORE=$(rss_kb)
read -r OVER_P50 OVER_P99 OVER_RPS OVER_BAD OVER_TOTAL < <(measure bystander 640 "$DURATION")
RSS_AFTER=$(rss_kb)
curl -sf "$URL/healthz" >/dev/null

echo
echo "| B's recommend | p50 ms | p99 ms | req/s | non-2xx |"
echo "|---|---|---|---|---|"
echo "| alone (8 connections) | $ALONE_P50 | $ALONE_P99 | $ALONE_RPS | $ALONE_BAD |"
echo "| beside A's abuse | $BESIDE_P50 | $BESIDE_P99 | $BESIDE_RPS | $BESIDE_BAD |"
python3 -c "print(f'| ratio beside / alone | {$BESIDE_P50/$ALONE_P50:.2f} | {$BESIDE_P99/$ALONE_P99:.2f} | | |')"
echo
cat "$WORK/abuse.txt"
echo "A's recommend (wrk, 32 connections): $(grep -Eo '[0-9]+ requests in' "$WORK/abuse_wrk.txt" | cut -d' ' -f1) answered"
echo
echo "| 10x overload (640 connections, limit 64) | p50 ms | p99 ms | req/s | shed (503) | peak RSS before → after |"
echo "|---|---|---|---|---|---|"
echo "| recommend | $OVER_P50 | $OVER_P99 | $OVER_RPS | $OVER_BAD of $OVER_TOTAL | $((RSS_BEFORE / 1024)) MiB → $((RSS_AFTER / 1024)) MiB |"
