#!/usr/bin/env bash
# The client SDKs' test suites against a live all-in-one server on the embedded stores:
# clients/python (pytest, mypy --strict, the generated files checked against the live
# /openapi.json) and clients/typescript (its generated types checked against the live
# /openapi.json, tsc, node's test runner).
#
#   bash scripts/sdk.sh [POLYREC_BIN]      # default: $CARGO_TARGET_DIR/debug/polyrec
#
# The Python venv is cached under $POLYREC_VENV_DIR (re-created when pyproject.toml or the
# checkout's path changes);
# npm ci installs the TypeScript side's locked dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${1:-${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}/debug/polyrec}"
VENV="${POLYREC_VENV_DIR:-/var/tmp/polyrec-venv}/sdk-python"
# The package is installed editable, so the venv holds this checkout's path: the stamp names the
# path too, and a clone elsewhere (a CI run's fresh clone) gets a venv of its own, never one
# pointing into a clone that was since deleted.
STAMP="$(sha256sum clients/python/pyproject.toml | cut -c1-16) $PWD"
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$STAMP" ]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -e "clients/python[dev]"
    echo "$STAMP" >"$VENV/.installed"
fi

# shellcheck source=scripts/serve-embedded.sh
source scripts/serve-embedded.sh
export POLYREC_URL="http://127.0.0.1:$PORT"

status=0
echo "--- clients/python: mypy --strict"
(cd clients/python && "$VENV/bin/mypy") || status=1
echo "--- clients/python: pytest"
# The summary line is in cargo's form, so scripts/test.sh counts these tests with the others.
if (cd clients/python && "$VENV/bin/pytest" -q -p no:cacheprovider --junitxml="$WORK/pytest.xml"); then :; else status=1; fi
python3 - "$WORK/pytest.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
tests, failures, errors = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors"))
skipped = int(suite.get("skipped", 0))
print(f"test result: {'ok' if failures + errors == 0 else 'FAILED'}. {tests - failures - errors - skipped} passed; {failures + errors} failed; {skipped} ignored (clients/python)")
PY

echo "--- clients/typescript: npm ci, tsc, node --test"
(cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error \
    && node scripts/generate.mjs "$POLYREC_URL/openapi.json" --check \
    && npm test 2>&1 | tee "$WORK/node.log") || status=1
# node --test's TAP summary, in cargo's form.
awk '/^# pass / { p = $3 } /^# fail / { f = $3 } END { printf "test result: %s. %d passed; %d failed; 0 ignored (clients/typescript)\n", (f == 0 && p > 0) ? "ok" : "FAILED", p, f }' "$WORK/node.log"
exit "$status"
