#!/usr/bin/env bash
# MovieLens-100K as plain CSV, for tools that don't read RecBole atomic files. Fetches the atomic
# files into OUT_DIR with scripts/fetch-movielens.sh (from the PyPI wheel recbole==1.2.1), then
# converts them with scripts/ml100k_to_csv.py (Python standard library only):
#
#   OUT_DIR/interactions.csv  user_id,item_id,rating,timestamp   (100,000 rows; unix seconds)
#   OUT_DIR/items.csv         item_id,title,release_year,genres  (genres space-separated)
#   OUT_DIR/users.csv         user_id,age,gender,occupation,zip_code
#
# Skips all work when the three CSVs already exist. The data's licence forbids redistribution:
# never commit it; inside the repo keep OUT_DIR under the git-ignored bench-data/.
#
#   bash scripts/fetch-ml100k.sh [OUT_DIR]     # default: bench-data/ml-100k
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:-bench-data/ml-100k}"
if [ "$#" -gt 1 ]; then
  echo "usage: bash scripts/fetch-ml100k.sh [OUT_DIR]" >&2
  exit 2
fi

# Refuse to write licensed data where git would pick it up.
CREATED=""
[ -d "$OUT" ] || { mkdir -p "$OUT"; CREATED=1; }
if git -C "$OUT" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  && ! git -C "$OUT" check-ignore -q "$(cd "$OUT" && pwd)/interactions.csv"; then
  echo "fetch-ml100k: $OUT is inside a git work tree and not git-ignored; MovieLens may not be" >&2
  echo "redistributed, so pick a directory under bench-data/ (ignored) or outside the repo" >&2
  [ -z "$CREATED" ] || rmdir "$OUT" 2>/dev/null || true
  exit 1
fi

if [ -f "$OUT/interactions.csv" ] && [ -f "$OUT/items.csv" ] && [ -f "$OUT/users.csv" ]; then
  echo "MovieLens-100K CSVs already in $OUT"
  exit 0
fi
bash "$HERE/fetch-movielens.sh" "$OUT"
python3 "$HERE/ml100k_to_csv.py" "$OUT" "$OUT"
