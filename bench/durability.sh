#!/usr/bin/env bash
# The cost of `storage.durability = "fsync"` on the embedded bus: batch ingestion with each
# durability, one server after the other on fresh data directories, the same events; batches of
# 1,000 (bulk clients) and of 10 (chatty ones, where a commit's sync weighs most). The
# "Durability" section of docs/benchmarks.md.
#
#   bash bench/durability.sh            # ~2 minutes on 2 cores (build aside)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
EVENTS="${EVENTS:-200000}"
PORT="${PORT:-8141}"
URL="http://127.0.0.1:$PORT"
BIN="$CARGO_TARGET_DIR/release/polyrec"
cargo build --release -q -p polyrec

WORK="$(mktemp -d)"
SERVER=""
finish() {
    [ -z "$SERVER" ] || { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
    rm -rf "$WORK"
}
trap finish EXIT
python3 bench/gen_data.py --out "$WORK/data" --items 1000 --users 1000 --events "$EVENTS" >/dev/null

echo "== machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(df -T "$WORK" | awk 'NR==2 {print $2}') under $WORK"
echo
echo "| durability | batch | events/s | p50 / p99 ms per request |"
echo "|---|---|---|---|"
for DURABILITY in process fsync; do
    for BATCH in 1000 10; do
        rm -rf "$WORK/db" && mkdir -p "$WORK/db"
        printf '[storage]\ndurability = "%s"\n' "$DURABILITY" >"$WORK/polyrec.toml"
        RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --config "$WORK/polyrec.toml" --data-dir "$WORK/db" \
            >"$WORK/server.log" 2>&1 &
        SERVER=$!
        for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
        curl -sf -X POST "$URL/api/v1/scenarios" -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' \
            -d @bench/scenario.json >/dev/null
        LIMIT=$((BATCH == 10 ? EVENTS / 10 : EVENTS))
        python3 bench/ingest.py --url "$URL" --events "$WORK/data/events.ndjson" --tenant bench --batch "$BATCH" \
            --concurrency 4 --limit "$LIMIT" >"$WORK/ingest.txt"
        RATE=$(awk '/^rate:/ {print $2}' "$WORK/ingest.txt")
        LATENCY=$(awk '/^latency:/ {print $3, "/", $9}' "$WORK/ingest.txt")
        echo "| $DURABILITY | $BATCH | $RATE | $LATENCY |"
        kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    done
done
