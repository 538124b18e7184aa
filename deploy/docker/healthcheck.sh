#!/usr/bin/env bash
# The container health probe of the polyrec image (installed as /usr/local/bin/polyrec-healthcheck).
# Uses bash's /dev/tcp only, so the image needs neither curl nor wget.
#
#   polyrec-healthcheck                 # /healthz on the port of $POLYREC_LISTEN (default 8000),
#                                       # else on the port of $POLYREC_WORKER_LISTEN (default 8010)
#   polyrec-healthcheck PORT [PATH]     # PATH on 127.0.0.1:PORT (PATH: /healthz or /readyz)
#
# Exits 0 when the answer's status is 200, 1 otherwise. `polyrec serve` serves /healthz and
# /readyz (503 while a store does not answer); `polyrec worker` serves /healthz only.
set -uo pipefail

probe() {
    local port=$1 path=$2 status
    { exec 3<>"/dev/tcp/127.0.0.1/${port}"; } 2>/dev/null || return 1
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3 || return 1
    IFS=' ' read -r -t 5 _ status _ <&3 || return 1
    # Read the rest (the server closes after it: `Connection: close`), then let go of the socket.
    while IFS= read -r -t 2 _ <&3; do :; done
    exec 3<&- 3>&-
    [[ "$status" == "200" ]]
}

if [[ $# -ge 1 ]]; then
    probe "$1" "${2:-/healthz}"
    exit $?
fi

# The port is what follows the last ':' of the listen address (works for [::]:8000 too).
serve_listen="${POLYREC_LISTEN:-0.0.0.0:8000}"
worker_listen="${POLYREC_WORKER_LISTEN:-0.0.0.0:8010}"
probe "${serve_listen##*:}" /healthz || probe "${worker_listen##*:}" /healthz
