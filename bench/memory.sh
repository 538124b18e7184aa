#!/usr/bin/env bash
# Memory per user profile, per catalog item and per CF model (issue 19, part 6): the resident
# memory of a process holding n of each (crates/polyrec/examples/memory.rs, one kind and size per
# process) at 100,000, 300,000 and 1,000,000, as a table and a plot (docs/memory.png).
#
#   bash bench/memory.sh        # ~10 minutes on 2 cores; the 1,000,000-user CF model needs ~14 GB
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
VENV="${QUALITY_VENV:-/var/tmp/polyrec-quality-venv}"
OUT="${MEMORY_OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
SIZES="${SIZES:-100000 300000 1000000}"

cargo build --release -q -p polyrec --example memory
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --only-binary :all: matplotlib

echo "== machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
: >"$OUT/memory.jsonl"
for KIND in profiles catalog cf; do
  for N in $SIZES; do
    "$CARGO_TARGET_DIR/release/examples/memory" "$KIND" "$N" | tee -a "$OUT/memory.jsonl"
  done
done
"$VENV/bin/python" - "$OUT/memory.jsonl" docs/memory.png <<'PY'
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = [json.loads(line) for line in open(sys.argv[1])]
labels = {"profiles": "user profiles (profile cache)", "catalog": "catalog items", "cf": "CF model (n users × n items, 30 interactions each)"}
print("| what | n | RSS growth | bytes per unit |")
print("|---|---|---|---|")
fig, ax = plt.subplots(figsize=(7, 4.5))
for kind in ["profiles", "catalog", "cf"]:
    points = sorted((r["n"], (r["rss_after"] - r["rss_before"]) / 2**30, r["bytes_per_unit"]) for r in rows if r["kind"] == kind)
    for n, gib, per in points:
        print(f"| {labels[kind]} | {n:,} | {gib:.2f} GiB | {per:,.0f} |")
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=labels[kind])
ax.set_xscale("log"); ax.set_yscale("log")
ax.set_xlabel("n (users / items)"); ax.set_ylabel("resident memory growth (GiB)")
ax.set_title("polyrec: resident memory against size (bench/memory.sh)")
ax.grid(True, which="both", alpha=0.3); ax.legend()
fig.tight_layout(); fig.savefig(sys.argv[2], dpi=110)
print(f"plot: {sys.argv[2]}")
PY
