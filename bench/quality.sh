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
# The LightGBM ranker is compared with Python LightGBM below (needs cmake >= 3.28 and libclang,
# which scripts/test.sh installs).
cargo build --release -q -p polyrec --features lightgbm
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --only-binary :all: -r bench/reference-requirements.txt

# The same parameters on both sides: ALS 64 factors, λ 0.05, 15 iterations, alpha 1; EASE λ 500;
# DLAE (EDLAE) λ 100 with dropout 1/3.
# item_cf keeps up to 1,000 neighbours per item here (the server's default is 200).
PARAMS='{"als": {"factors": 64, "regularization": 0.05, "iterations": 15, "alpha": 1.0},
         "ease": {"lambda": 500.0}, "dlae": {"lambda": 100.0, "dropout": 0.3333333333333333},
         "sparse_ease": {"lambda": 500.0, "neighbors": 100},
         "cf": {"neighbors": 1000, "users_per_item": 2000, "items_per_user": 2000}}'
echo "== polyrec eval"
"$CARGO_TARGET_DIR/release/polyrec" eval --interactions "$DATA/interactions.csv" --items "$DATA/items.csv" \
  --split random --test-fraction 0.25 --seed 42 --k 10 --threads "$THREADS" \
  --params "$PARAMS" --export-split "$OUT/split" --json | tee "$OUT/polyrec.json"
echo "== reference tools on the same split"
"$VENV/bin/python" bench/reference_models.py recall "$OUT/split" --factors 64 --regularization 0.05 \
  --iterations 15 --alpha 1.0 --ease-lambda 500 --dlae-lambda 100 --dlae-dropout 0.3333333333333333 \
  --threads "$THREADS" --k 10 --tune --json | tee "$OUT/reference.json"
echo "== the blend bound: EASE / EDLAE / tuned ALS blends weighted on the test itself"
"$VENV/bin/python" bench/blend_bound.py "$OUT/split" 2>/dev/null | tee "$OUT/blend_bound.txt"
echo "results in $OUT"

# The same split with no --params: every recall model chooses its parameters on a validation split
# of the training part (what a training job does), and the pipeline's "auto" weights are fitted
# on one; the choices and the trials go to stderr (kept in $OUT/polyrec-tuned.log).
echo "== polyrec eval, auto-tuned"
"$CARGO_TARGET_DIR/release/polyrec" eval --interactions "$DATA/interactions.csv" --items "$DATA/items.csv" \
  --split random --test-fraction 0.25 --seed 42 --k 10 --threads "$THREADS" --json 2>"$OUT/polyrec-tuned.log" \
  | tee "$OUT/polyrec-tuned.json"
grep -E "chose|blend|interaction ranker" "$OUT/polyrec-tuned.log" | cut -c1-300

# Fit times vary from run to run (the first dense allocation of a process, the other core's
# load): fit ALS, EASE and DLAE REPEATS more times on each side and report the medians.
REPEATS="${REPEATS:-5}"
echo "== fit seconds, median of $REPEATS runs each"
for _ in $(seq "$REPEATS"); do
  "$CARGO_TARGET_DIR/release/polyrec" eval --interactions "$DATA/interactions.csv" --models als,ease,dlae \
    --threads "$THREADS" --params "$PARAMS" --json >>"$OUT/polyrec-fits.jsonl.tmp"
  "$VENV/bin/python" bench/reference_models.py recall "$OUT/split" --factors 64 --regularization 0.05 \
    --iterations 15 --alpha 1.0 --ease-lambda 500 --dlae-lambda 100 --dlae-dropout 0.3333333333333333 \
    --threads "$THREADS" --k 10 --json 2>/dev/null >>"$OUT/reference-fits.jsonl.tmp"
done
python3 - "$OUT" <<'PY_END'
import json, statistics, sys
out = sys.argv[1]
def runs(name):
    text = open(f"{out}/{name}.jsonl.tmp").read()
    decoder, pos, found = json.JSONDecoder(), 0, []
    while pos < len(text.strip()):
        obj, pos = decoder.raw_decode(text, pos)
        found.append(obj["models"])
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return found
ours, theirs = runs("polyrec-fits"), runs("reference-fits")
for a, b in [("als", "implicit_als"), ("ease", "numpy_ease"), ("dlae", "numpy_dlae")]:
    x = statistics.median(r[a]["fit_seconds"] for r in ours)
    y = statistics.median(r[b]["fit_seconds"] for r in theirs)
    print(f"{a}: polyrec {x:.3f} s, {b} {y:.3f} s, ratio {x / y:.2f}")
PY_END
rm -f "$OUT"/*.jsonl.tmp

# The rankers on ML-100K as a click-through task: a rating >= 4 is a click, the newest 20 % of the
# ratings (by time) held out. polyrec fits LightGBM, DeepFM and Wide & Deep on the rows of its
# serving feature space and exports them; Python LightGBM trains on exactly those rows with the
# same parameters.
echo "== rankers (ML-100K as CTR, time split)"
"$CARGO_TARGET_DIR/release/polyrec" eval --interactions "$DATA/interactions.csv" --items "$DATA/items.csv" \
  --models lightgbm,deepfm,wide_deep --split time --test-fraction 0.2 --ctr-threshold 4 --threads "$THREADS" \
  --export-split "$OUT/ctr" --json | tee "$OUT/rankers.json"
"$VENV/bin/python" bench/reference_models.py gbdt "$OUT/ctr" --threads "$THREADS" --json 2>/dev/null \
  | tee "$OUT/reference-gbdt.json"
