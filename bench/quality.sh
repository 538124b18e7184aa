#!/usr/bin/env bash
# Reproduces docs/quality.md: MovieLens-100K (fetched at run time from the PyPI wheel
# recbole==1.2.1, never committed), every rating a positive, a per-user random 75/25 split with
# seed 42, k = 10, full ranking. polyrec's models and pipeline (`polyrec eval`) and the reference
# tools (implicit's ALS, EASE in numpy) run on exactly the same split, in the same run, with the
# same thread count.
#
#   bash bench/quality.sh            # THREADS=2 by default
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
THREADS="${THREADS:-2}"
DATA="${BENCH_DATA:-bench-data}/ml-100k"
VENV="${QUALITY_VENV:-/var/tmp/polyrec-quality-venv}"
OUT="${QUALITY_OUT:-$(mktemp -d)}"
mkdir -p "$OUT"

bash scripts/fetch-ml100k.sh "$DATA"
cargo build --release -q -p polyrec
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --only-binary :all: -r bench/reference-requirements.txt

# The same parameters on both sides: ALS 64 factors, λ 0.05, 15 iterations, alpha 1; EASE λ 500.
# item_cf keeps up to 1,000 neighbours per item here (the server's default is 200).
PARAMS='{"als": {"factors": 64, "regularization": 0.05, "iterations": 15, "alpha": 1.0},
         "ease": {"lambda": 500.0},
         "cf": {"neighbors": 1000, "users_per_item": 2000, "items_per_user": 2000}}'
echo "== polyrec eval"
"$CARGO_TARGET_DIR/release/polyrec" eval --interactions "$DATA/interactions.csv" --items "$DATA/items.csv" \
  --split random --test-fraction 0.25 --seed 42 --k 10 --threads "$THREADS" \
  --params "$PARAMS" --export-split "$OUT/split" --json | tee "$OUT/polyrec.json"
echo "== reference tools on the same split"
"$VENV/bin/python" bench/reference_models.py recall "$OUT/split" --factors 64 --regularization 0.05 \
  --iterations 15 --alpha 1.0 --ease-lambda 500 --threads "$THREADS" --k 10 --json | tee "$OUT/reference.json"
echo "results in $OUT"
