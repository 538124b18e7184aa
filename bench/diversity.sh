#!/usr/bin/env bash
# The `mmr` rerank rule on MovieLens-100K (fetched at run time, never committed): the same split
# as docs/quality.md (per user at random 75/25, seed 42, k 10, full ranking) and the same fixed
# parameters as bench/quality.sh. One blend — ease 0.9 and vector_search 0.1 (the channel that
# serves the ALS vectors; VS_WEIGHT changes its weight), ranked by `weighted` — with `mmr` at rule
# weights 0 (off) to 0.7 over the top 100 candidates, ALS vectors (ML-100K items have no
# embeddings). `polyrec eval` reports NDCG@10 and ILS@10, the mean cosine
# similarity of each answer's pairs by the same ALS item vectors (lower is more diverse).
#
#   bash bench/diversity.sh          # about 2 minutes on 2 cores (build aside)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
THREADS="${THREADS:-2}"
DATA="${BENCH_DATA:-bench-data}/ml-100k"
OUT="${DIVERSITY_OUT:-$(mktemp -d)}"
mkdir -p "$OUT"

bash scripts/fetch-ml100k.sh "$DATA"
cargo build --release -q -p polyrec
VS_WEIGHT="${VS_WEIGHT:-0.1}"
CONFIGS=()
for WEIGHT in 0 0.1 0.2 0.3 0.5 0.7; do
  FILE="$OUT/mmr_$WEIGHT.json"
  python3 - "$WEIGHT" "$VS_WEIGHT" >"$FILE" <<'PY'
import json, sys
weight, vs_weight = float(sys.argv[1]), float(sys.argv[2])
config = {
    "recall": {"strategies": [
        {"name": "ease", "weight": round(1 - vs_weight, 6), "limit": 200},
        {"name": "vector_search", "weight": vs_weight, "limit": 200},
    ]},
    "rank": {"model": "weighted"},
}
if weight > 0:
    config["rerank"] = {"rules": [{"name": "mmr", "weight": weight, "params": {"source": "als", "window": 100}}]}
print(json.dumps(config))
PY
  CONFIGS+=(--config "$FILE")
done

PARAMS='{"als": {"factors": 64, "regularization": 0.05, "iterations": 15, "alpha": 1.0},
         "ease": {"lambda": 500.0}, "dlae": {"lambda": 100.0, "dropout": 0.3333333333333333},
         "sparse_ease": {"lambda": 500.0, "neighbors": 100},
         "cf": {"neighbors": 1000, "users_per_item": 2000, "items_per_user": 2000}}'
"$CARGO_TARGET_DIR/release/polyrec" eval --interactions "$DATA/interactions.csv" --items "$DATA/items.csv" \
  --split random --test-fraction 0.25 --seed 42 --k 10 --threads "$THREADS" --params "$PARAMS" \
  --models ease,als "${CONFIGS[@]}" --json >"$OUT/eval.json"
python3 - "$OUT/eval.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["models"]
print("| row | NDCG@10 | ILS@10 | coverage | ms/user |")
print("|---|---|---|---|---|")
for name, row in rows.items():
    ils = row["ils@10"]
    print(f"| {name} | {row['ndcg@10']:.4f} | {'—' if ils is None else f'{ils:.4f}'} | {row['coverage']:.4f} | {row['ms_per_user']:.3f} |")
PY
echo "results in $OUT"
