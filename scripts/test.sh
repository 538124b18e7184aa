#!/usr/bin/env bash
# Whole-test-suite command for polyrec.
#
# Runs, in order: rustfmt check, clippy (warnings are errors), cargo test.
# Works on a fresh Debian 12 machine as root with Rust + cargo installed.
set -euo pipefail

cd "$(dirname "$0")/.."

# Fixed target dir outside the clone so repeat runs are incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

banner() {
    printf '\n==> %s\n' "$*"
}

# ---------------------------------------------------------------------------
# Prerequisites
# ---------------------------------------------------------------------------
ensure_prereqs() {
    # rusqlite (bundled) and other -sys crates need a C compiler.
    if ! command -v cc >/dev/null 2>&1; then
        if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
            banner "installing C toolchain (build-essential, pkg-config)"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential pkg-config
        else
            echo "warning: no C compiler (cc) found; native deps may fail to build" >&2
        fi
    fi
    # rustfmt / clippy are rustup components that minimal installs may lack.
    if command -v rustup >/dev/null 2>&1; then
        if ! cargo fmt --version >/dev/null 2>&1; then
            banner "installing rustfmt component"
            rustup component add rustfmt
        fi
        if ! cargo clippy --version >/dev/null 2>&1; then
            banner "installing clippy component"
            rustup component add clippy
        fi
    fi
}

# ---------------------------------------------------------------------------
# External test servers (Redis, Kafka, ...)
# ---------------------------------------------------------------------------
# PIDs of background processes started by this script; killed on exit.
SERVER_PIDS=()

cleanup() {
    local pid
    for pid in "${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT

start_servers() {
    # Currently starts nothing: the test suite has no external dependencies yet.
    #
    # To add one later, start it in the background, record its PID so
    # cleanup() stops it, wait until it is ready, and export its address
    # for the tests, e.g.:
    #
    #   redis-server --port 6390 --save '' --appendonly no >/tmp/polyrec-redis.log 2>&1 &
    #   SERVER_PIDS+=("$!")
    #   wait_for_port 127.0.0.1 6390
    #   export POLYREC_TEST_REDIS_URL=redis://127.0.0.1:6390
    :
}

# ---------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------
ensure_prereqs

banner "start test servers (none yet)"
start_servers

banner "cargo fmt --all -- --check"
cargo fmt --all -- --check

banner "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

banner "cargo test --workspace --all-targets"
# Doc-tests are left out (the crates have none), so the run does not end on an empty suite; the
# totals of every suite are summed into one closing line.
TEST_LOG="$(mktemp)"
set +e
cargo test --workspace --all-targets 2>&1 | tee "$TEST_LOG"
status=${PIPESTATUS[0]}
set -e
echo
awk '/^test result:/ { for (i = 2; i <= NF; i++) { if ($i == "passed;") p += $(i-1); if ($i == "failed;") f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$TEST_LOG"
rm -f "$TEST_LOG"
exit "$status"
