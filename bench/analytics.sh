#!/usr/bin/env bash
# Analytics query latency (docs/benchmarks.md, "Analytics"): a tenant with N events in the
# warehouse — embedded SQLite, then ClickHouse (scripts/servers.sh starts it) — and each analytics
# query asked REPEATS times over the whole data; reports the median and the slowest answer.
#
#   bash bench/analytics.sh                       # N = 1,000,000 and 10,000,000
#   SIZES="1000000" WAREHOUSES=clickhouse bash bench/analytics.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
SIZES="${SIZES:-1000000 10000000}"
REPEATS="${REPEATS:-9}"
PORT="${PORT:-8092}"
URL="http://127.0.0.1:$PORT"
BIN="$CARGO_TARGET_DIR/release/polyrec"
cargo build --release -q -p polyrec

# shellcheck source=scripts/servers.sh
source scripts/servers.sh
WORK="$(mktemp -d)"
SERVER=""
finish() {
    [ -n "$SERVER" ] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
    stop_servers
    rm -rf "$WORK"
}
trap finish EXIT
install_servers >/dev/null
CLICKHOUSE_HTTP_PORT="$(free_port)"
CLICKHOUSE_TCP_PORT="$(free_port)"
SERVER_DIR="$(mktemp -d /tmp/polyrec-servers.XXXXXX)"
start_clickhouse >/dev/null

stats() { curl -sf "$URL/api/v1/behaviors/stats" -H 'X-Tenant-Id: bench'; }

# Median and max of REPEATS timed GETs of one path, in ms.
timed() {
    local path="$1" times=()
    for _ in $(seq "$REPEATS"); do
        times+=("$(curl -sf -o /dev/null -w '%{time_total}' -H 'X-Tenant-Id: bench' "$URL$path")")
    done
    printf '%s\n' "${times[@]}" | python3 -c '
import statistics, sys
t = [float(x) * 1000 for x in sys.stdin]
print(f"median {statistics.median(t):8.1f} ms   max {max(t):8.1f} ms")'
}

for N in $SIZES; do
    DATA="${BENCH_DATA:-bench-data}-$N-devices"
    [ -f "$DATA/events.ndjson" ] || python3 bench/gen_data.py --out "$DATA" --events "$N" --devices >/dev/null
    for WAREHOUSE in ${WAREHOUSES:-embedded clickhouse}; do
        STORE="$WORK/$N-$WAREHOUSE"
        mkdir -p "$STORE"
        if [ "$WAREHOUSE" = clickhouse ]; then
            printf '[storage]\nwarehouse = "%s?database=bench_%s"\nsink_batch_events = 20000\nsink_flush_ms = 1000\n' \
                "${POLYREC_TEST_CLICKHOUSE_URL%/}/" "$N" >"$STORE/polyrec.toml"
        else
            printf '[storage]\n' >"$STORE/polyrec.toml"
        fi
        RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$STORE/data" --config "$STORE/polyrec.toml" \
            >"$STORE/server.log" 2>&1 &
        SERVER=$!
        for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
        curl -sf -X POST "$URL/api/v1/scenarios" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
            -d @bench/scenario.json >/dev/null
        "$BIN" import items "$DATA/items.ndjson" --tenant bench --scenario bench_feed --url "$URL" >/dev/null 2>&1
        python3 bench/ingest.py --url "$URL" --events "$DATA/events.ndjson" --tenant bench --batch 1000 \
            --concurrency 4 --quiet | grep -E 'events:|wall time'
        START=$(date +%s)
        STORED=$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
        until [ "$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["warehouse_events"])')" = "$STORED" ]; do
            sleep 2
        done
        echo "== $N events, $WAREHOUSE warehouse (all $STORED in it $(( $(date +%s) - START )) s after the last acknowledgement)"
        W="from=$(( $(date +%s) - 86400 * 7 ))&to=$(( $(date +%s) + 600 ))"
        if [ "$WAREHOUSE" = clickhouse ]; then
            # ClickHouse merges the sink's parts in the background for minutes after the last
            # insert; a funnel asked meanwhile reads many small parts. Measured once then, and
            # everything again once no merge has run for 10 s.
            ch() { curl -sf "${POLYREC_TEST_CLICKHOUSE_URL%/}/" --data-binary "$1"; }
            parts() { ch "SELECT table, count() FROM system.parts WHERE database = 'bench_$N' AND active AND table IN ('user_behaviors', 'funnel_events') GROUP BY table ORDER BY table FORMAT TSV" | tr '\t\n' ': '; }
            echo "active parts now: $(parts)"
            echo "funnel (3), while merging  $(timed "/api/v1/analytics/funnel?scenario_id=bench_feed&steps=impression,click,order&$W")"
            SETTLE=$(date +%s) QUIET=0
            while [ "$QUIET" -lt 10 ]; do
                if [ "$(ch "SELECT count() FROM system.merges WHERE database = 'bench_$N'")" = 0 ]; then QUIET=$((QUIET + 1)); else QUIET=0; fi
                sleep 1
            done
            echo "merges settled $(( $(date +%s) - SETTLE )) s later; active parts: $(parts)"
        fi
        echo "dashboard       $(timed "/api/v1/analytics/dashboard?scenario_id=bench_feed&$W")"
        echo "trend (ctr, h)  $(timed "/api/v1/analytics/trends?metric=ctr&interval=hour&scenario_id=bench_feed&$W")"
        echo "distribution    $(timed "/api/v1/analytics/distributions?by=hour_of_day&scenario_id=bench_feed&$W")"
        echo "by device       $(timed "/api/v1/analytics/distributions?by=device&scenario_id=bench_feed&$W")"
        echo "by category     $(timed "/api/v1/analytics/distributions?by=category&scenario_id=bench_feed&$W")"
        echo "trend, mobile   $(timed "/api/v1/analytics/trends?metric=ctr&interval=hour&device=mobile&scenario_id=bench_feed&$W")"
        echo "top items       $(timed "/api/v1/analytics/top_items?scenario_id=bench_feed&event_type=click&n=20&$W")"
        echo "funnel (3)      $(timed "/api/v1/analytics/funnel?scenario_id=bench_feed&steps=impression,click,order&$W")"
        if [ "$WAREHOUSE" = clickhouse ]; then
            # The funnel's SQL straight to ClickHouse, the same but for the table: funnel_events
            # (the type a byte, rows ordered by user) and user_behaviors, which it read before.
            FROM_MS=$(( ($(date +%s) - 86400 * 7) * 1000 )) UNTIL_MS=$(( ($(date +%s) + 600) * 1000 ))
            funnel_sql() { # $1 table, $2 the three step conditions, $3 the types
                echo "SELECT level, count() FROM (SELECT user_id, windowFunnel(86400000)(toUInt32(timestamp_ms - $FROM_MS), $2) AS level
                      FROM bench_$N.$1 WHERE tenant_id = 'bench' AND scenario_id = 'bench_feed'
                      AND timestamp_ms >= $FROM_MS AND timestamp_ms < $UNTIL_MS AND event_type IN ($3)
                      GROUP BY user_id) GROUP BY level ORDER BY level FORMAT TSV"
            }
            ch_timed() {
                local times=()
                for _ in $(seq "$REPEATS"); do
                    times+=("$(curl -sf -o /dev/null -w '%{time_total}' "${POLYREC_TEST_CLICKHOUSE_URL%/}/" --data-binary "$1")")
                done
                printf '%s\n' "${times[@]}" | python3 -c '
import statistics, sys
t = [float(x) * 1000 for x in sys.stdin]
print(f"median {statistics.median(t):8.1f} ms   max {max(t):8.1f} ms")'
            }
            NEW=$(funnel_sql funnel_events "event_type = 1, event_type = 2, event_type = 11" "1, 2, 11")
            OLD=$(funnel_sql user_behaviors "event_type = 'impression', event_type = 'click', event_type = 'order'" \
                "'impression', 'click', 'order'")
            [ "$(ch "$NEW")" = "$(ch "$OLD")" ] || echo "the two funnels differ: $(ch "$NEW" | tr '\n' ' ') / $(ch "$OLD" | tr '\n' ' ')"
            echo "funnel SQL, funnel_events   $(ch_timed "$NEW")"
            echo "funnel SQL, user_behaviors  $(ch_timed "$OLD")"
        fi
        kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
        rm -rf "$STORE"
    done
done
