# Sourced by scripts/schemathesis.sh and scripts/sdk.sh: starts `$BIN serve` (an all-in-one
# server on embedded stores, in a fresh temporary directory) on a free loopback port, waits until
# it is ready, and stops it and removes the directory when the sourcing script exits.
# Sets WORK (the directory), PORT and SERVER (the PID).

WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/serve.log" 2>&1 &
SERVER=$!
finish() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap finish EXIT
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
if ! curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; then
    echo "error: $BIN serve did not become ready within 30 s; its log:" >&2
    cat "$WORK/serve.log" >&2
    exit 1
fi
