#!/usr/bin/env bash
# The API against its own document: schemathesis (pinned, in a venv) generates requests from
# /openapi.json and checks every answer of an all-in-one server on the embedded stores: no 5xx,
# every status and content type documented, every response body valid by its schema, stateful
# sequences through the links it infers. Fixed seed, so a run is reproducible.
#
#   bash scripts/schemathesis.sh [POLYREC_BIN]      # default: $CARGO_TARGET_DIR/debug/polyrec
#
# Every check runs, positive_data_acceptance included: a request valid by the document must be
# accepted. The rules JSON Schema cannot state (two values against each other, a value against the
# server's clock) are in scripts/schemathesis_hooks.py, which brings positive cases within them;
# docs/api-contract.md lists them. SCHEMATHESIS_EXCLUDE=check,... leaves checks out when debugging.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${1:-${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}/debug/polyrec}"
VERSION="4.32.5"
# Python 3.13 when the machine has it (pyenv's, as for mongoeco): CPython 3.11.7's parser can raise
# "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905) inside hypothesis,
# which schemathesis reports as a runtime error of the run.
PYTHON="$(ls -d /root/.pyenv/versions/3.13*/bin/python 2>/dev/null | sort -V | tail -1)"
PYTHON="${PYTHON:-$(command -v python3.13 || command -v python3)}"
VENV="${POLYREC_VENV_DIR:-/var/tmp/polyrec-venv}/schemathesis-$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION"
fi

# shellcheck source=scripts/serve-embedded.sh
source scripts/serve-embedded.sh

cd "$WORK"
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$OLDPWD/scripts" "$VENV/bin/schemathesis" run \
    "http://127.0.0.1:$PORT/openapi.json" \
    --checks all ${SCHEMATHESIS_EXCLUDE:+--exclude-checks $SCHEMATHESIS_EXCLUDE} \
    --seed 42 --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" --workers 2 --no-color
