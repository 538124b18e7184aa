#!/usr/bin/env bash
# The scalable EASE-class model (`sparse_ease`) on large synthetic catalogs, against `item_cf` and
# ALS (`vector_search`: ALS through the vector index, as served), in one run: for each catalog
# size, each model is fitted and evaluated by `polyrec eval` in its own process (per-user random
# 75/25 split, seed 42, full ranking, k 10), under /usr/bin/time for the peak RSS; a
# `popularity`-only run gives the process's baseline (the data and the split) to read the
# models' own memory against.
#
#   bash bench/scalable.sh                 # 100,000 and 1,000,000 items; ~25 min on 2 cores
#   SIZES=100k bash bench/scalable.sh
#
# Data: bench/gen_data.py (100k: 100,000 items, 10,000 users, 1,000,000 events; 1m: 1,000,000
# items, 50,000 users, 2,000,000 events); every event but `impression` is a positive.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
ROOT="${SCALABLE_DATA:-/var/tmp/polyrec-scalable}"
SIZES="${SIZES:-100k 1m}"
BIN="$CARGO_TARGET_DIR/release/polyrec"
cargo build --release -q -p polyrec
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

for SIZE in $SIZES; do
  DIR="$ROOT/$SIZE"
  case "$SIZE" in
    100k) ARGS=(--items 100000 --users 10000 --events 1000000) ;;
    1m) ARGS=(--items 1000000 --users 50000 --events 2000000) ;;
    *) echo "unknown size $SIZE (100k, 1m)" >&2; exit 2 ;;
  esac
  [ -f "$DIR/events.ndjson" ] || python3 bench/gen_data.py --out "$DIR" "${ARGS[@]}"
  if [ ! -f "$DIR/interactions.csv" ]; then
    python3 - "$DIR" <<'PY'
import json, sys
from datetime import datetime
d = sys.argv[1]
with open(f"{d}/events.ndjson") as src, open(f"{d}/interactions.csv", "w") as out:
    out.write("user_id,item_id,rating,timestamp\n")
    for line in src:
        e = json.loads(line)
        if e["event_type"] != "impression":
            t = int(datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp())
            out.write(f'{e["user_id"]},{e["item_id"]},1,{t}\n')
PY
  fi
  echo "== $SIZE: $(($(wc -l <"$DIR/interactions.csv") - 1)) positive interactions"
  for MODEL in popularity item_cf sparse_ease vector_search; do
    /usr/bin/time -f "%M" -o "$DIR/$MODEL.rss" "$BIN" eval --interactions "$DIR/interactions.csv" --models "$MODEL" \
      --split random --test-fraction 0.25 --seed 42 --k 10 --threads 2 --tuning-budget-seconds 0 --json \
      >"$DIR/$MODEL.json" 2>"$DIR/$MODEL.err"
    python3 - "$DIR" "$MODEL" <<'PY'
import json, sys
d, m = sys.argv[1], sys.argv[2]
row = json.load(open(f"{d}/{m}.json"))["models"][m]
rss = int(open(f"{d}/{m}.rss").read().split()[-1]) / 1024
print(f"| {m} | {row['ndcg@10']:.4f} | {row['recall@10']:.4f} | {row['coverage']:.4f} | "
      f"{row['fit_seconds']:.1f} | {rss:.0f} | {row['ms_per_user']:.3f} |")
PY
  done
done
