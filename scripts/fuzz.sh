#!/usr/bin/env bash
# The cargo-fuzz targets of fuzz/ (libFuzzer, nightly), each for a bounded time:
#   event            events off the bus or a client: JSON parse, check_applicable, timestamps,
#                    ids, context depth and keys
#   scenario_config  scenario configs and PATCH merge patches through the engine's validation
#   item_line        one NDJSON line of an item import, and the bounds of the item it makes
#   experiment_groups an experiment's groups (ids, ratios, config patches, times)
#   csv_rows         a CSV file of items or events as `polyrec import` reads it, row by row, into
#                    the JSON the API takes
# Each run reads the committed seeds (fuzz/seeds/<target>) and regressions (inputs that once
# failed, kept after the fix: fuzz/regressions/<target>), and grows a corpus outside the clone.
#
#   bash scripts/fuzz.sh                 # 45 s per target
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh event
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export CARGO_TARGET_DIR="${POLYREC_FUZZ_TARGET_DIR:-/var/tmp/polyrec-fuzz-target}"
CORPUS="${POLYREC_FUZZ_CORPUS:-/var/tmp/polyrec-fuzz-corpus}"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(event scenario_config item_line experiment_groups csv_rows)
for target in "${TARGETS[@]}"; do
    mkdir -p "$CORPUS/$target" "regressions/$target"
    echo "fuzzing $target for ${FUZZ_SECONDS:-45} s"
    # libFuzzer's progress lines (`#N NEW …`) are dropped; its findings, errors and stats are kept.
    cargo +nightly fuzz run -O "$target" "$CORPUS/$target" "seeds/$target" "regressions/$target" -- \
        -max_total_time="${FUZZ_SECONDS:-45}" -seed=1 -print_final_stats=1 2>&1 | grep -v '^#[0-9]'
    [ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
done
