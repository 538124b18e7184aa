#!/usr/bin/env bash
# The container health probe of the polyrec image (installed as /usr/local/bin/polyrec-healthcheck).
# Uses bash's /dev/tcp only, so the image needs neither curl nor wget.
#
#   polyrec-healthcheck                 # /healthz of whatever the container runs (below)
#   polyrec-healthcheck PORT [PATH]     # PATH on 127.0.0.1:PORT (PATH: /healthz or /readyz)
#
# Without arguments the port comes from the container's command line (/proc/1/cmdline: polyrec,
# or an init that runs it) and environment, as polyrec itself picks it (a flag wins over its
# environment variable):
#   `worker`                    --listen, else $POLYREC_WORKER_LISTEN, else 8010
#   `gateway`                   --listen, else $POLYREC_GATEWAY_LISTEN, else 8080
#   `serve --service NAME`      --listen, else $POLYREC_LISTEN, else the service's SPEC §3.1 port
#                               (scenario 8001, item 8002, behavior 8003, recommendation 8004,
#                               feature 8005, model 8006, analytics 8007); NAME may also come
#                               from $POLYREC_SERVICE
#   `serve`                     --listen, else $POLYREC_LISTEN, else 8000
# and when the command line cannot be read, the serve port, then the worker port.
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

# The HTTP port of a split service (crates/polyrec-server/src/split.rs; scripts/check-deploy.sh
# checks this table against it).
service_port() {
    case "${1%-service}" in
        scenario) echo 8001 ;;
        item) echo 8002 ;;
        behavior) echo 8003 ;;
        recommendation) echo 8004 ;;
        feature) echo 8005 ;;
        model) echo 8006 ;;
        analytics) echo 8007 ;;
        *) return 1 ;;
    esac
}

if [[ $# -ge 1 ]]; then
    probe "$1" "${2:-/healthz}"
    exit $?
fi

args=()
if [[ -r /proc/1/cmdline ]]; then
    mapfile -d '' -t args </proc/1/cmdline
fi
role="" service="${POLYREC_SERVICE:-}" listen=""
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        serve | worker | gateway) [[ -z "$role" ]] && role="${args[i]}" ;;
        --service) service="${args[i + 1]:-}" ;;
        --service=*) service="${args[i]#--service=}" ;;
        --listen) listen="${args[i + 1]:-}" ;;
        --listen=*) listen="${args[i]#--listen=}" ;;
    esac
done

# The port is what follows the last ':' of the listen address (works for [::]:8000 too).
if [[ "$role" == worker ]]; then
    listen="${listen:-${POLYREC_WORKER_LISTEN:-0.0.0.0:8010}}"
    probe "${listen##*:}" /healthz
    exit $?
fi
if [[ "$role" == gateway ]]; then
    listen="${listen:-${POLYREC_GATEWAY_LISTEN:-0.0.0.0:8080}}"
    probe "${listen##*:}" /healthz
    exit $?
fi
listen="${listen:-${POLYREC_LISTEN:-}}"
if [[ -n "$listen" ]]; then
    port="${listen##*:}"
elif [[ -n "$service" ]] && port=$(service_port "$service"); then
    :
else
    port=8000
fi
if [[ "$role" == serve ]]; then
    probe "$port" /healthz
    exit $?
fi
worker_listen="${POLYREC_WORKER_LISTEN:-0.0.0.0:8010}"
probe "$port" /healthz || probe "${worker_listen##*:}" /healthz
