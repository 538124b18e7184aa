#!/usr/bin/env bash
# Whole-test-suite command for polyrec.
#
# Runs, in order: installs and starts the real servers of the production backends
# (scripts/servers.sh), rustfmt check, clippy (warnings are errors), an embedded-only build check,
# cargo test with every feature (conformance suites against embedded and real backends, the
# realtime one also against a three-master Redis Cluster), the HTTP integration suite a second
# time on the production backends (with the Redis Cluster), the admin console's end-to-end
# tests in headless Chromium, schemathesis against the server's /openapi.json, the cargo-fuzz
# targets for 45 s each, and the HTTP suite a third time against the split deployment (the
# seven services on loopback, talking gRPC); then stops the servers.
# Works on a fresh Debian 12 machine as root with Rust + cargo installed.
set -euo pipefail

cd "$(dirname "$0")/.."

# Fixed target dir outside the clone so repeat runs reuse the compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
# No incremental compilation: each clean clone's run added its own incremental sessions to the
# shared target directory (23 GB after a few dozen runs here filled the disk mid-build), and a run
# from a fresh clone recompiles the workspace crates whole anyway.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
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
# External test servers (DESIGN §8): Redis, ClickHouse, a Kafka-API broker, a MongoDB wire server,
# Milvus (milvus-lite)
# ---------------------------------------------------------------------------
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
trap stop_servers EXIT

# ---------------------------------------------------------------------------
# Native build tools for LightGBM (polyrec-models feature `lightgbm`, which --all-features builds):
# a C++ compiler and make, libclang for bindgen, and cmake >= 3.28 — Debian 12 ships 3.25, so
# cmake comes from PyPI into a cached venv and the cmake crate finds it through $CMAKE (DESIGN §7).
# Idempotent: dpkg and the venv's marker file are checked first. Uses apt_install / venv_install
# from scripts/servers.sh.
# ---------------------------------------------------------------------------
# ---------------------------------------------------------------------------
# The console's end-to-end tests: Debian's Chromium, and playwright-core from npm (e2e/package-lock.json)
# driving it. Node.js and npm come with the machine; installed when missing.
# ---------------------------------------------------------------------------
ensure_browser_test_tools() {
    command -v node >/dev/null 2>&1 || apt_install nodejs npm
    apt_install chromium
    (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
}

ensure_lightgbm_build_tools() {
    apt_install g++ make libclang-dev python3-venv
    venv_install cmake python3 'cmake>=3.28,<4'
    export PATH="$POLYREC_VENV_DIR/cmake/bin:$PATH"
    export CMAKE="$POLYREC_VENV_DIR/cmake/bin/cmake"
}

# ---------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------
ensure_prereqs

banner "native build tools for LightGBM (libclang, cmake >= 3.28)"
ensure_lightgbm_build_tools

banner "browser test tools (chromium, playwright-core)"
ensure_browser_test_tools

banner "install and start the test servers"
start_servers
# Every production-backend test must run: a missing server is a failure, not a skip.
export POLYREC_REQUIRE_SERVERS=1

banner "cargo fmt --all -- --check"
cargo fmt --all -- --check

banner "cargo clippy --workspace --all-targets --all-features -- -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings

banner "cargo check -p polyrec --no-default-features (the embedded-only build)"
cargo check -p polyrec --no-default-features

banner "deploy files (promtool, dashboard and rule expressions, Dockerfile, compose, Kubernetes)"
venv_install deploycheck python3 pyyaml
PYTHON="$POLYREC_VENV_DIR/deploycheck/bin/python" bash scripts/check-deploy.sh

# Doc-tests are left out (the crates have none), so the run does not end on an empty suite; the
# totals of every suite are summed into one closing line.
TEST_LOG="$(mktemp)"
status=0
# --no-fail-fast: a failing test binary does not keep the ones after it from running, so one
# run shows every failure (and the closing count is of everything).
banner "cargo test --workspace --all-targets --all-features"
set +e
cargo test --workspace --all-targets --all-features --no-fail-fast 2>&1 | tee -a "$TEST_LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e

# `--workspace` as above, so the features resolve the same and nothing is built again. The
# realtime store here is the three-master Redis Cluster (the split run below uses the single Redis).
banner "the HTTP integration suite again, on MongoDB + Redis Cluster + ClickHouse + Kafka"
set +e
POLYREC_TEST_REDIS_URL="$POLYREC_TEST_REDIS_CLUSTER_URL" POLYREC_TEST_BACKENDS=production \
    cargo test --workspace --all-features --no-fail-fast --test it 2>&1 | tee -a "$TEST_LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e

# The binary `cargo test` built (every feature) serves the console.
banner "the admin console end to end, in headless Chromium"
set +e
POLYREC_BIN="$CARGO_TARGET_DIR/debug/polyrec" node e2e/console.mjs 2>&1 | tee -a "$TEST_LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e

# The binary `cargo test` built, against its own /openapi.json.
banner "schemathesis against /openapi.json (all-in-one server, embedded stores)"
set +e
bash scripts/schemathesis.sh "$CARGO_TARGET_DIR/debug/polyrec" 2>&1 | tee -a "$TEST_LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e

# The binary `cargo test` built serves the SDKs' suites.
banner "client SDKs (clients/python, clients/typescript) against a live server"
set +e
bash scripts/sdk.sh "$CARGO_TARGET_DIR/debug/polyrec" 2>&1 | tee -a "$TEST_LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e

banner "fuzz targets (cargo-fuzz, nightly; 45 s each)"
set +e
bash scripts/fuzz.sh 2>&1 | tee -a "$TEST_LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e

banner "the HTTP integration suite again, against the seven services of the split deployment over gRPC"
set +e
POLYREC_TEST_BACKENDS=production POLYREC_TEST_TOPOLOGY=split cargo test --workspace --all-features --no-fail-fast --test it 2>&1 \
    | tee -a "$TEST_LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e

# The same console suite through `polyrec gateway`, against the seven services and a worker as
# real processes on the production engines started above.
banner "the admin console end to end again, through the gateway of the split deployment"
set +e
POLYREC_E2E_TOPOLOGY=split POLYREC_BIN="$CARGO_TARGET_DIR/debug/polyrec" node e2e/console.mjs 2>&1 | tee -a "$TEST_LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e
echo
awk '/^test result:/ { for (i = 2; i <= NF; i++) { if ($i == "passed;") p += $(i-1); if ($i == "failed;") f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$TEST_LOG"
rm -f "$TEST_LOG"
exit "$status"
