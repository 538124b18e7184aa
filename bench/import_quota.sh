#!/usr/bin/env bash
# A bulk import of N items (default 200,000) into one scenario of a tenant with an item quota
# (max_items = 10,000,000, so nothing is rejected): the time of the whole POST …/items/bulk.
# Give two binaries to compare them in one run, e.g. one built from an older commit:
#
#   bash bench/import_quota.sh [BINARY ...]     # default: target/release/polyrec, built here
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
N="${N:-200000}"
PORT="${PORT:-8124}"
OUT="$(mktemp -d)"
trap 'pkill -f "serve --listen 127.0.0.1:$PORT" || true; rm -rf "$OUT"' EXIT
if [ $# -eq 0 ]; then
  cargo build --release -q -p polyrec
  set -- "$CARGO_TARGET_DIR/release/polyrec"
fi
cat >"$OUT/quota.toml" <<'TOML'
[tenancy]
default_quota = { recommend_per_second = 0, events_per_second = 0, analytics_per_second = 0, max_scenarios = 0, max_items = 10000000 }
TOML
python3 - "$N" >"$OUT/items.ndjson" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"item_id": f"item_{i}", "metadata": {"category": f"c{i % 20}",
          "tags": [f"t{i % 200}", f"t{(i * 7) % 200}"], "duration": 30 + i % 600, "publish_time": 1765000000 + i}}))
PY
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $N items"
for BIN in "$@"; do
  rm -rf "$OUT/data"
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$OUT/data" --config "$OUT/quota.toml" >"$OUT/server.log" 2>&1 &
  for _ in $(seq 120); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.5; done
  curl -sf -o /dev/null -X POST "localhost:$PORT/api/v1/scenarios" -H 'X-Tenant-Id: t1' -H 'Content-Type: application/json' \
    -d '{"scenario_id":"feed","scenario_type":"vlog","config":{"recall":{"strategies":[{"name":"latest","weight":1.0,"limit":10}]},"rank":{"model":"weighted"}}}'
  curl -sf -o "$OUT/report.json" -w "$BIN: %{time_total} s, " -X POST "localhost:$PORT/api/v1/scenarios/feed/items/bulk" \
    -H 'X-Tenant-Id: t1' -H 'Content-Type: application/x-ndjson' --data-binary @"$OUT/items.ndjson"
  cat "$OUT/report.json"; echo
  pkill -f "serve --listen 127.0.0.1:$PORT" || true
  wait 2>/dev/null || true
done
