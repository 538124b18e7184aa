#!/usr/bin/env bash
# Regenerates docs/console/*.png: runs the console's end-to-end tests (e2e/console.mjs) against a
# fresh `polyrec serve` on embedded storage and saves a screenshot of each page, at 1280 px and at
# phone width (390 px). Needs Debian's chromium and Node.js (installed when missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/polyrec-target}"
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
command -v node >/dev/null 2>&1 || apt_install nodejs npm
apt_install chromium
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
cargo build -q -p polyrec
rm -f docs/console/*.png
SCREENSHOTS=docs/console POLYREC_BIN="$CARGO_TARGET_DIR/debug/polyrec" node e2e/console.mjs
ls docs/console/*.png
