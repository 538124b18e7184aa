#!/usr/bin/env bash
# Reproduces docs/quality.md: MovieLens-100K (fetched at run time, never committed), a per-user
# temporal split (each user's latest 20 % held out), polyrec's engine on several configs with
# `polyrec eval`, and the `implicit` package's ALS and item-item models on the same split in
# the same run.
#
#   bash bench/quality.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
DATA="${BENCH_DATA:-bench-data}/ml-100k"
SPLIT="$(mktemp -d)"
VENV="${QUALITY_VENV:-/var/tmp/polyrec-quality-venv}"
trap 'rm -rf "$SPLIT"' EXIT

bash scripts/fetch-movielens.sh "$DATA"
cargo build --release -q -p polyrec
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet 'implicit==0.7.3'

echo "== polyrec (the engine's pipeline, full ranking, k = 10)"
"$CARGO_TARGET_DIR/release/polyrec" eval --inter "$DATA/ml-100k.inter" --items "$DATA/ml-100k.item" \
  --config bench/quality/popularity.json --config bench/quality/item_cf.json \
  --config bench/quality/user_cf.json --config bench/quality/content_based.json \
  --config bench/quality/blend.json --export-split "$SPLIT"
echo
echo "== implicit $("$VENV/bin/python" -c 'import implicit; print(implicit.__version__)') on the same split"
"$VENV/bin/python" bench/quality_implicit.py "$SPLIT"
