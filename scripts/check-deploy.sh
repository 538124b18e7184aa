#!/usr/bin/env bash
# Checks the files under deploy/ and the Dockerfile, without building or running anything:
#   - deploy/prometheus/alerts.yml       with `promtool check rules`
#   - deploy/prometheus/prometheus.yml   with `promtool check config` (which loads alerts.yml too)
#   - deploy/prometheus/prometheus-kubernetes.yml with `promtool check config`; a promtool built
#     without Kubernetes service discovery (Debian's) checks it with the discovery block swapped
#     for a static target, i.e. everything but that block
#   - deploy/grafana/polyrec-dashboard.json parses as JSON, its panels do not overlap and every
#     query is filtered by the dashboard's `job` variable
#   - every PromQL expression of the dashboard and the alert rules names only metrics polyrec
#     exposes (the allow-list below) or `up`
#   - Dockerfile, .dockerignore, deploy/compose.yaml, deploy/grafana/provisioning/ and
#     deploy/k8s/*.yaml against each other and against the Rust sources:
#       * every POLYREC_* name in a deploy file is read by the binary: the allowed names are the
#         "POLYREC_…" string literals under crates/*/src (POLYREC_TEST_* excluded), not a list here;
#         OTEL_* names given to polyrec likewise
#       * POLYREC_*_URL schemes are those crates/polyrec-server/src/backends.rs accepts, Kafka URL
#         parameters those of KafkaSettings::from_url; the config file in the ConfigMap has only
#         keys of the structs in config.rs (the server rejects unknown keys)
#       * `polyrec serve|worker` command lines use flags main.rs defines; each role's listen port
#         is declared (compose expose/ports, containerPort); probes and healthchecks ask a role
#         only for what it serves (serve: /healthz, /readyz; worker: /healthz) on a declared port
#       * compose: known keys, depends_on targets exist (service_healthy ones have a healthcheck),
#         named volumes are declared, bind sources exist, every host of a POLYREC_*_URL and of the
#         OTLP endpoint is a compose service declaring that port
#       * Kubernetes: every document has apiVersion/kind/name; kustomization.yaml lists exactly
#         the files; Deployment selectors match their pods; Service selectors match a Deployment
#         and targetPorts are its containerPorts (by number or name); HPA/PDB targets exist;
#         ConfigMaps, Secrets (and their keys) and PVCs referenced exist; a PVC several
#         Deployments mount is ReadWriteMany; POLYREC_CONFIG names a mounted ConfigMap file
#       * Dockerfile: COPY sources exist and are not excluded by .dockerignore, files the crates
#         include_str! are copied, EXPOSE has both roles' ports, non-root USER, HEALTHCHECK
#       * prometheus.yml scrape targets are compose services and Kubernetes Services with the port
#   - `kubectl kustomize deploy/k8s` renders, when kubectl is installed (skipped otherwise)
# Needs promtool (Debian: `apt-get install prometheus`; or PROMTOOL=/path/to/promtool) and
# python3 >= 3.11 (tomllib) with PyYAML (Debian: python3-yaml); $PYTHON names another one
# (scripts/test.sh passes a venv's, since the PATH it sets up may put a python without PyYAML
# first).
set -euo pipefail

cd "$(dirname "$0")/.."

DASHBOARD=deploy/grafana/polyrec-dashboard.json
RULES=deploy/prometheus/alerts.yml
CONFIG=deploy/prometheus/prometheus.yml
K8S_CONFIG=deploy/prometheus/prometheus-kubernetes.yml
COMPOSE=deploy/compose.yaml
K8S=deploy/k8s
DOCKERFILE=Dockerfile
PROMTOOL="${PROMTOOL:-promtool}"
PYTHON="${PYTHON:-python3}"
KUBECTL="${KUBECTL:-kubectl}"

# Counters and gauges polyrec exposes.
METRICS=(
    polyrec_http_requests_total
    polyrec_recall_channel_failures_total
    polyrec_cache_lookups_total
    polyrec_stream_job_lag_events
    polyrec_tenant_requests_total
    polyrec_tenant_events_total
    polyrec_rate_limited_total
    polyrec_recommend_fallback_total
    polyrec_events_accepted_total
    polyrec_events_rejected_total
    polyrec_warehouse_events_total
    polyrec_tenant_service_failures_total
    polyrec_user_service_failures_total
)
# Histograms: each is exposed as NAME_bucket, NAME_count and NAME_sum.
HISTOGRAMS=(
    polyrec_http_request_duration_seconds
    polyrec_recall_channel_duration_seconds
    polyrec_pipeline_candidates
    polyrec_training_job_duration_seconds
    polyrec_external_call_duration_seconds
)

banner() {
    printf '\n==> %s\n' "$*"
}

if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
    echo "error: promtool not found (apt-get install prometheus, or set PROMTOOL)" >&2
    exit 1
fi

banner "promtool check rules $RULES"
"$PROMTOOL" check rules "$RULES"

# promtool resolves rule_files relative to the config file's directory, as Prometheus does, so
# the config is checked in place and `alerts.yml` is found next to it.
banner "promtool check config $CONFIG"
"$PROMTOOL" check config "$CONFIG"

banner "promtool check config $K8S_CONFIG"
if ! output=$("$PROMTOOL" check config "$K8S_CONFIG" 2>&1); then
    if ! grep -q "field kubernetes_sd_configs not found" <<<"$output"; then
        echo "$output" >&2
        exit 1
    fi
    # This promtool was built without Kubernetes service discovery (Debian's is): check the rest
    # of the file with the discovery block replaced by a static target, next to a copy of the rules.
    echo "note: $PROMTOOL lacks kubernetes_sd_configs; checking everything else of $K8S_CONFIG"
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    cp "$RULES" "$scratch/"
    "$PYTHON" - "$K8S_CONFIG" "$scratch/$(basename "$K8S_CONFIG")" <<'PY'
import sys

import yaml

source, target = sys.argv[1:]
with open(source, encoding="utf-8") as f:
    config = yaml.safe_load(f)
for job in config.get("scrape_configs", []):
    if job.pop("kubernetes_sd_configs", None) is not None:
        job["static_configs"] = [{"targets": ["discovered-pod:8000"]}]
with open(target, "w", encoding="utf-8") as f:
    yaml.safe_dump(config, f)
PY
    output=$("$PROMTOOL" check config "$scratch/$(basename "$K8S_CONFIG")" 2>&1) || {
        echo "$output" >&2
        exit 1
    }
fi
echo "$output"

banner "dashboard and rule expressions"
allowed=("${METRICS[@]}")
for histogram in "${HISTOGRAMS[@]}"; do
    allowed+=("${histogram}_bucket" "${histogram}_count" "${histogram}_sum")
done

check_exprs=$(
    cat <<'PY'
import json
import re
import sys

import yaml

dashboard_path, rules_path, *allowed = sys.argv[1:]
allowed = set(allowed)
metric_name = re.compile(r"(?<![A-Za-z0-9_:])polyrec_[A-Za-z0-9_:]*")
selector = re.compile(r"(?<![A-Za-z0-9_:])(polyrec_[A-Za-z0-9_:]*)\s*(\{[^}]*\})?")
errors = []

with open(dashboard_path, encoding="utf-8") as f:
    dashboard = json.load(f)
with open(rules_path, encoding="utf-8") as f:
    rules = yaml.safe_load(f)

# The dashboard's queries, by panel.
dashboard_exprs = []
for panel in dashboard.get("panels", []):
    for target in panel.get("targets", []):
        dashboard_exprs.append((f"dashboard panel {panel.get('title')!r}", target["expr"]))
variable_exprs = []
for variable in dashboard.get("templating", {}).get("list", []):
    query = variable.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    if variable.get("type") == "query" and query:
        variable_exprs.append((f"dashboard variable {variable.get('name')!r}", query))

rule_exprs = []
for group in rules.get("groups", []):
    for rule in group.get("rules", []):
        name = rule.get("alert") or rule.get("record")
        rule_exprs.append((f"rule {name!r}", str(rule["expr"])))

# Only known metric names.
for where, expr in dashboard_exprs + variable_exprs + rule_exprs:
    for name in sorted(set(metric_name.findall(expr)) - allowed):
        errors.append(f"{where}: unknown metric {name}")

# Every metric the dashboard queries is filtered by the `job` variable.
for where, expr in dashboard_exprs:
    for name, matchers in selector.findall(expr):
        if 'job=~"$job"' not in matchers:
            errors.append(f'{where}: {name} is not filtered by job=~"$job"')

# Panels do not overlap on the 24-column grid.
cells = {}
for panel in dashboard.get("panels", []):
    grid = panel.get("gridPos")
    if not grid:
        errors.append(f"dashboard panel {panel.get('title')!r}: no gridPos")
        continue
    if grid["x"] + grid["w"] > 24:
        errors.append(f"dashboard panel {panel.get('title')!r}: wider than the grid")
    for x in range(grid["x"], grid["x"] + grid["w"]):
        for y in range(grid["y"], grid["y"] + grid["h"]):
            other = cells.setdefault((x, y), panel.get("title"))
            if other != panel.get("title"):
                errors.append(f"dashboard panels {other!r} and {panel.get('title')!r} overlap")
                break
        else:
            continue
        break

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(
    f"{dashboard_path}: {len(dashboard.get('panels', []))} panels, {len(dashboard_exprs)} queries; "
    f"{rules_path}: {len(rule_exprs)} rules; all metric names known"
)
PY
)
"$PYTHON" -c "$check_exprs" "$DASHBOARD" "$RULES" "${allowed[@]}"

banner "Dockerfile, compose, Kubernetes manifests"
bash -n deploy/docker/healthcheck.sh
check_files=$(
    cat <<'PY'
import fnmatch
import glob
import os
import re
import sys
import tomllib

import yaml

compose_path, k8s_dir, prometheus_path, prometheus_k8s_path, dockerfile_path = sys.argv[1:6]
errors = []
summary = []


def error(where, message):
    errors.append(f"{where}: {message}")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


# ---------------------------------------------------------------- what the binary reads
# Environment names: every "POLYREC_…" / "OTEL_…" string literal in the crates' own sources
# (config.rs, telemetry.rs, main.rs and the other subcommands; clap `env = "…"` included).
# tests/ directories and POLYREC_TEST_* names are test-only.
rust_sources = sorted(glob.glob("crates/*/src/**/*.rs", recursive=True))
allowed_env = set()
allowed_otel = set()
for path in rust_sources:
    text = read(path)
    allowed_env.update(n for n in re.findall(r'"(POLYREC_[A-Z0-9_]+)"', text) if not n.startswith("POLYREC_TEST_"))
    allowed_otel.update(re.findall(r'"(OTEL_[A-Z0-9_]+)"', text))
if not allowed_env:
    error("crates/*/src", "found no POLYREC_* string literal: the scan is broken")

config_rs = read("crates/polyrec-server/src/config.rs")
main_rs = read("crates/polyrec/src/main.rs")
backends_rs = read("crates/polyrec-server/src/backends.rs")
kafka_rs = read("crates/polyrec-storage/src/production/kafka.rs")

# Which config field each POLYREC_*_URL / secret variable sets: ("POLYREC_BUS_URL", &mut self.bus).
env_field = dict(re.findall(r'\("(POLYREC_[A-Z0-9_]+)",\s*&mut self\.(?:[a-z_]+\.)*([a-z_]+)\)', config_rs))

# URL schemes each storage purpose accepts: the string arms of `match scheme(url)` in the
# function of backends.rs named after the field (`async fn bus(…)`).
schemes = {}
for name, body in re.findall(r"\n(?:async )?fn ([a-z_]+)\((.*?)(?=\n(?:async fn |fn |struct |impl |pub |#\[)|\Z)", backends_rs, re.S):
    arms = re.findall(r'^\s*((?:"[a-z+]*"\s*\|\s*)*"[a-z+]+")\s*=>', body, re.M)
    if arms:
        schemes[name] = {s for arm in arms for s in re.findall(r'"([a-z+]+)"', arm)}
for var, field in env_field.items():
    if var.endswith("_URL") and field not in schemes and field not in ("tenant_service", "user_service"):
        error("crates/polyrec-server/src/backends.rs", f"no scheme match found for {field} ({var}): the scan is broken")

# Query parameters of the Kafka URL: the arms of KafkaSettings::from_url.
from_url = kafka_rs[kafka_rs.find("fn from_url") :]
from_url = from_url[: from_url.find("\n    }\n")]
kafka_params = set(re.findall(r'^\s*"([a-z_]+)" => settings\.', from_url, re.M))
if not kafka_params:
    error("crates/polyrec-storage/src/production/kafka.rs", "found no URL parameter: the scan is broken")

# The subcommands `serve` and `worker` and their flags (clap derive: field `no_stream_jobs` is
# `--no-stream-jobs`), and the default listen ports.
command_enum = main_rs[main_rs.find("enum Command {") :]
command_enum = command_enum[: command_enum.find("\n}\n")]
flags = {}
for variant, body in re.findall(r"^    (\w+) \{\n(.*?)^    \},", command_enum, re.M | re.S):
    if variant.lower() in ("serve", "worker"):
        fields = re.findall(r"^        (\w+): ", body, re.M)
        flags[variant.lower()] = {"--" + f.replace("_", "-") for f in fields} | {"--help", "-h"}
for role in ("serve", "worker"):
    if role not in flags:
        error("crates/polyrec/src/main.rs", f"subcommand {role} not found: the scan is broken")
default_port = {}
m = re.search(r"listen: SocketAddr::from\(\(\[[0-9, ]+\], (\d+)\)\)", config_rs)
default_port["serve"] = m and m.group(1)
m = re.search(r'env = "POLYREC_WORKER_LISTEN", default_value = "[^"]*:(\d+)"', main_rs)
default_port["worker"] = m and m.group(1)
for role, port in default_port.items():
    if not port:
        error("crates", f"default listen port of {role} not found: the scan is broken")
# What each role serves (README "Running it"; crates/polyrec-server/src/http/mod.rs).
probe_paths = {"serve": {"/healthz", "/readyz"}, "worker": {"/healthz"}}
role_listen_env = {"serve": "POLYREC_LISTEN", "worker": "POLYREC_WORKER_LISTEN"}

# The config file's keys (every struct is `deny_unknown_fields`: an unknown key stops the server).
structs = {}
for source in (config_rs, read("crates/polyrec-core/src/tenant.rs")):
    for name, body in re.findall(r"pub struct (\w+) \{\n(.*?)\n\}", source, re.S):
        structs[name] = dict(re.findall(r"^    pub (\w+): (.+),$", body, re.M))
for name in ("ServerConfig", "StorageConfig", "AuthConfig", "TenancyConfig", "TenantEntry", "Quota"):
    if name not in structs:
        error("crates", f"struct {name} not found: the scan is broken")


def resolve(rust_type):
    rust_type = rust_type.strip()
    m = re.fullmatch(r"Option<(.+)>", rust_type)
    if m:
        return resolve(m.group(1))
    m = re.fullmatch(r"(?:[\w:]+::)?(?:BTreeMap|HashMap)<String, (.+)>", rust_type)
    if m:
        return ("map", resolve(m.group(1)))
    name = rust_type.split("::")[-1]
    return ("struct", name) if name in structs else ("leaf", name)


def check_toml(where, table, kind=("struct", "ServerConfig"), path=""):
    count = 0
    if kind[0] == "map":
        for key, value in table.items():
            count += check_toml(where, value, kind[1], f"{path}{key}.") if isinstance(value, dict) else 1
        return count
    fields = structs.get(kind[1], {})
    for key, value in table.items():
        count += 1
        if key not in fields:
            error(where, f"unknown config key {path}{key} (known in {kind[1]}: {', '.join(sorted(fields))})")
            continue
        sub = resolve(fields[key])
        if isinstance(value, dict):
            if sub[0] == "leaf":
                error(where, f"config key {path}{key} is a {sub[1]}, not a table")
            else:
                count += check_toml(where, value, sub, f"{path}{key}.")
    return count


# ---------------------------------------------------------------- helpers
def url_parts(value):
    """(scheme, [(host, port)], query) of a URL that may list several hosts (kafka://a:1,b:2)."""
    if "://" not in value:
        return None, [], ""
    scheme, rest = value.split("://", 1)
    rest, _, query = rest.partition("?")
    authority = rest.split("/", 1)[0]
    hosts = []
    for part in filter(None, authority.split(",")):
        part = part.rsplit("@", 1)[-1]
        host, _, port = part.partition(":")
        hosts.append((host, port or None))
    return scheme, hosts, query


def check_env_value(where, name, value):
    """A POLYREC_*_URL's scheme is one the binary accepts; a Kafka URL's parameters exist."""
    if not value or "${" in value:
        return
    field = env_field.get(name)
    scheme, _, query = url_parts(value)
    if field in schemes and scheme not in schemes[field]:
        error(where, f"{name}={value}: scheme {scheme!r} is not one polyrec accepts for {field} ({', '.join(sorted(schemes[field]))})")
    if field == "bus":
        for pair in filter(None, query.split("&")):
            key = pair.split("=", 1)[0]
            if key not in kafka_params:
                error(where, f"{name}: unknown Kafka URL parameter {key!r} (known: {', '.join(sorted(kafka_params))})")


def env_map(environment):
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    return {k: (None if v is None else str(v)) for k, v in (environment or {}).items()}


def container_port(entry):
    if isinstance(entry, dict):
        return str(entry.get("target"))
    return str(entry).split("/")[0].rsplit(":", 1)[-1]


def check_args(where, args):
    """A polyrec command line: known subcommand and flags. Returns (role, listen port)."""
    args = [str(a) for a in args or ["serve"]]
    role = args[0]
    if role not in flags:
        error(where, f"polyrec subcommand {role!r}: a deployment runs `serve` or `worker`")
        return role, None
    port = None
    for i, arg in enumerate(args[1:], 1):
        if arg.startswith("-"):
            flag, _, inline = arg.partition("=")
            if flag not in flags[role]:
                error(where, f"`polyrec {role}` has no flag {flag} (it has {', '.join(sorted(flags[role] - {'-h', '--help'}))})")
            if flag == "--listen":
                value = inline or (args[i + 1] if i + 1 < len(args) else "")
                port = value.rsplit(":", 1)[-1]
    return role, port


def role_port(role, port, env):
    if port:
        return port
    listen = env.get(role_listen_env.get(role, ""), None)
    return listen.rsplit(":", 1)[-1] if listen else default_port.get(role)


# ---------------------------------------------------------------- Dockerfile
dockerfile = read(dockerfile_path)
lines = re.sub(r"\\\n", " ", dockerfile).splitlines()
ignore = []
if os.path.exists(".dockerignore"):
    ignore = [l.strip() for l in read(".dockerignore").splitlines() if l.strip() and not l.startswith("#")]


def ignore_regex(pattern):
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex; it also matches what is under a match."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"(?:/.*)?\Z")


def dockerignored(path):
    path = os.path.normpath(path)
    excluded = False
    for pattern in ignore:
        negate = pattern.startswith("!")
        pattern = os.path.normpath(pattern.lstrip("!").lstrip("/"))
        if ignore_regex(pattern).match(path):
            excluded = not negate
    return excluded


copy_sources = []
copied = []
exposed = set()
healthcheck = False
for line in lines:
    words = line.split()
    if not words:
        continue
    instruction = words[0].upper()
    if instruction in ("COPY", "ADD"):
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]):
            continue
        if args and args[0].startswith("["):
            error(dockerfile_path, "COPY in JSON form is not checked; use the plain form")
            continue
        for source in args[:-1]:
            copy_sources.append(source)
            if not glob.glob(source):
                error(dockerfile_path, f"COPY source {source} does not exist in the repository")
            elif dockerignored(source):
                error(dockerfile_path, f"COPY source {source} is excluded by .dockerignore")
            copied.append(os.path.normpath(source))
    elif instruction == "EXPOSE":
        exposed.update(w.split("/")[0] for w in words[1:])
    elif instruction == "HEALTHCHECK" and "NONE" not in words[1:2]:
        healthcheck = True
if not healthcheck:
    error(dockerfile_path, "no HEALTHCHECK")
users = re.findall(r"^USER (\S+)", dockerfile, re.M)
if not users or users[-1].split(":")[0] in ("root", "0"):
    error(dockerfile_path, "the image runs as root (no USER, or USER root)")
for role in ("serve", "worker"):
    if default_port.get(role) and default_port[role] not in exposed:
        error(dockerfile_path, f"EXPOSE lacks {default_port[role]}, the default port of `polyrec {role}`")
if not re.search(r'^ENTRYPOINT \["polyrec"\]', dockerfile, re.M):
    error(dockerfile_path, 'ENTRYPOINT is not ["polyrec"]')
m = re.search(r'^CMD (\[.*\])', dockerfile, re.M)
if m:
    check_args(f"{dockerfile_path} CMD", yaml.safe_load(m.group(1)))
m = re.search(r"cargo build [^\n]*-p (\S+)", dockerfile)
if not m:
    error(dockerfile_path, "no `cargo build -p …`")
elif not os.path.exists(f"crates/{m.group(1)}/Cargo.toml"):
    error(dockerfile_path, f"cargo build -p {m.group(1)}: no such crate under crates/")
# Files the crates embed at compile time must be in the build context and copied.
embedded = 0
for path in rust_sources:
    for target in re.findall(r'include_(?:str|bytes)!\("([^"]+)"\)', read(path)):
        resolved = os.path.relpath(os.path.normpath(os.path.join(os.path.dirname(path), target)))
        embedded += 1
        if not any(resolved == c or resolved.startswith(c.rstrip("/") + "/") for c in copied):
            error(dockerfile_path, f"{path} embeds {resolved}, which no COPY brings into the build")
        elif dockerignored(resolved):
            error(dockerfile_path, f"{path} embeds {resolved}, which .dockerignore excludes")
summary.append(
    f"{dockerfile_path}: {len(copy_sources)} COPY sources exist and are not .dockerignored, "
    f"{embedded} include_str! files copied, EXPOSE {' '.join(sorted(exposed))}"
)

# ---------------------------------------------------------------- compose.yaml
compose_dir = os.path.dirname(compose_path)
compose = load_all(compose_path)
if len(compose) != 1:
    error(compose_path, "expected one YAML document")
compose = compose[0] if compose else {}
TOP_KEYS = {"version", "name", "services", "networks", "volumes", "configs", "secrets", "include", "models"}
SERVICE_KEYS = set(
    """annotations attach build blkio_config cap_add cap_drop cgroup cgroup_parent command configs
    container_name cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares
    cpus cpuset credential_spec depends_on deploy develop device_cgroup_rules devices dns dns_opt
    dns_search domainname entrypoint env_file environment expose extends external_links extra_hosts
    gpus group_add healthcheck hostname image init ipc isolation labels label_file links logging
    mac_address mem_limit mem_reservation mem_swappiness memswap_limit models network_mode networks
    oom_kill_disable oom_score_adj pid pids_limit platform ports post_start pre_stop privileged
    profiles provider pull_policy read_only restart runtime scale secrets security_opt shm_size
    stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket
    user userns_mode uts volumes volumes_from working_dir""".split()
)
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
for key in compose:
    if key not in TOP_KEYS and not key.startswith("x-"):
        error(compose_path, f"unknown top-level key {key!r}")
services = compose.get("services") or {}
volumes = compose.get("volumes") or {}
if not services:
    error(compose_path, "no services")


def service_ports(service):
    ports = {str(p).split("/")[0] for p in service.get("expose") or []}
    ports |= {container_port(p) for p in service.get("ports") or []}
    return ports


def service_image_healthcheck(service):
    build = service.get("build")
    if not build:
        return False
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile_name = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    path = os.path.normpath(os.path.join(compose_dir, context, dockerfile_name))
    return os.path.exists(path) and re.search(r"^HEALTHCHECK ", read(path), re.M) is not None


edges = 0
urls = 0
polyrec_services = []
for name, service in services.items():
    where = f"{compose_path} services.{name}"
    for key in service:
        if key not in SERVICE_KEYS and not key.startswith("x-"):
            error(where, f"unknown key {key!r}")
    if not service.get("image") and not service.get("build"):
        error(where, "neither image nor build")
    for key in service.get("healthcheck") or {}:
        if key not in HEALTHCHECK_KEYS:
            error(where, f"unknown healthcheck key {key!r}")
    build = service.get("build")
    if build:
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile_name = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        if not os.path.exists(os.path.join(compose_dir, context, dockerfile_name)):
            error(where, f"build: {os.path.join(compose_dir, context, dockerfile_name)} does not exist")
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        depends = {d: {"condition": "service_started"} for d in depends}
    for target, spec in depends.items():
        edges += 1
        condition = (spec or {}).get("condition", "service_started")
        if target not in services:
            error(where, f"depends_on {target}: no such service")
            continue
        if condition not in CONDITIONS:
            error(where, f"depends_on {target}: unknown condition {condition!r}")
        other = services[target]
        has_check = (other.get("healthcheck") and not other["healthcheck"].get("disable")) or service_image_healthcheck(other)
        if condition == "service_healthy" and not has_check:
            error(where, f"depends_on {target} with service_healthy, but {target} has no healthcheck")
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            kind, source = volume.get("type"), volume.get("source")
        else:
            source = str(volume).split(":")[0]
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        if kind == "bind":
            if not os.path.exists(os.path.join(compose_dir, source)):
                error(where, f"bind mount source {source} does not exist (relative to {compose_dir}/)")
        elif kind == "volume" and source not in volumes:
            error(where, f"named volume {source} is not declared under top-level volumes")
    environment = env_map(service.get("environment"))
    for var, value in environment.items():
        if var.startswith("POLYREC_") and var.endswith("_URL") and value and "${" not in value:
            urls += 1
            check_env_value(where, var, value)
            scheme, hosts, _ = url_parts(value)
            if scheme == "file":
                continue
            for host, port in hosts:
                if host not in services:
                    error(where, f"{var}={value}: host {host} is not a compose service")
                elif port and port not in service_ports(services[host]):
                    error(where, f"{var}: {host} does not declare port {port} (expose/ports)")
        if var == "OTEL_EXPORTER_OTLP_ENDPOINT" and value and "${" not in value:
            _, hosts, _ = url_parts(value)
            for host, port in hosts:
                if host not in services:
                    error(where, f"{var}={value}: host {host} is not a compose service")
                elif port and port not in service_ports(services[host]):
                    error(where, f"{var}: {host} does not declare port {port} (expose/ports)")
    image = str(service.get("image", ""))
    if build or image.startswith("polyrec"):
        command = service.get("command")
        if isinstance(command, str):
            command = command.split()
        role, port = check_args(where, command)
        port = role_port(role, port, environment)
        polyrec_services.append(f"{name} ({role}) :{port}")
        if port and port not in service_ports(service):
            error(where, f"`polyrec {role}` listens on {port}, which the service does not declare (expose/ports)")
        for var in environment:
            if var.startswith("OTEL_") and var not in allowed_otel:
                error(where, f"{var} is not read by polyrec (it reads {', '.join(sorted(allowed_otel))})")
        test = (service.get("healthcheck") or {}).get("test") or []
        if "polyrec-healthcheck" in test:
            rest = test[test.index("polyrec-healthcheck") + 1 :]
            if rest and rest[0] != port:
                error(where, f"healthcheck probes port {rest[0]}, `polyrec {role}` listens on {port}")
            if len(rest) > 1 and rest[1] not in probe_paths.get(role, set()):
                error(where, f"healthcheck path {rest[1]}: `polyrec {role}` serves {', '.join(sorted(probe_paths[role]))}")

# Grafana provisioning: the data source points at a compose service; the dashboard provider's
# path is where compose mounts the dashboard.
grafana_mounts = [str(v).split(":")[1] for s in services.values() if "grafana" in str(s.get("image", "")) for v in s.get("volumes") or [] if isinstance(v, str)]
for path in sorted(glob.glob(os.path.join(compose_dir, "grafana/provisioning/**/*.y*ml"), recursive=True)):
    for doc in load_all(path):
        for source in doc.get("datasources") or []:
            _, hosts, _ = url_parts(str(source.get("url", "")))
            for host, port in hosts:
                if host not in services:
                    error(path, f"data source {source.get('name')}: host {host} is not a compose service")
                elif port and port not in service_ports(services[host]):
                    error(path, f"data source {source.get('name')}: {host} does not declare port {port}")
        for provider in doc.get("providers") or []:
            target = (provider.get("options") or {}).get("path", "")
            if not any(m == target or m.startswith(target.rstrip("/") + "/") for m in grafana_mounts):
                error(path, f"dashboard provider path {target} is not where compose mounts a dashboard")
summary.append(
    f"{compose_path}: {len(services)} services, {edges} depends_on edges, {urls} POLYREC_*_URL values "
    f"(accepted schemes; hosts are services declaring the port); polyrec roles: {', '.join(polyrec_services)}"
)

# ---------------------------------------------------------------- Kubernetes manifests
k8s_files = sorted(glob.glob(os.path.join(k8s_dir, "*.yaml")) + glob.glob(os.path.join(k8s_dir, "*.yml")))
objects = []
kustomization = None
for path in k8s_files:
    for doc in load_all(path):
        if os.path.basename(path) in ("kustomization.yaml", "kustomization.yml"):
            kustomization = doc
            continue
        for key in ("apiVersion", "kind"):
            if key not in doc:
                error(path, f"a document without {key}")
        if not (doc.get("metadata") or {}).get("name"):
            error(path, f"a {doc.get('kind')} without metadata.name")
        objects.append((path, doc))
if kustomization is None:
    error(k8s_dir, "no kustomization.yaml")
else:
    listed = {os.path.normpath(os.path.join(k8s_dir, r)) for r in kustomization.get("resources") or []}
    present = {os.path.normpath(p) for p, _ in objects}
    for path in sorted(listed - present):
        error(f"{k8s_dir}/kustomization.yaml", f"resource {path} does not exist (or holds no object)")
    for path in sorted(present - listed):
        error(f"{k8s_dir}/kustomization.yaml", f"{path} is not listed under resources")

by_kind = {}
for path, doc in objects:
    by_kind.setdefault(doc.get("kind"), {})[doc["metadata"]["name"]] = (path, doc)
CONTAINER_KEYS = set(
    """name image command args workingDir ports envFrom env resources resizePolicy restartPolicy
    volumeMounts volumeDevices livenessProbe readinessProbe startupProbe lifecycle terminationMessagePath
    terminationMessagePolicy imagePullPolicy securityContext stdin stdinOnce tty""".split()
)


def config_keys(kind, name):
    entry = by_kind.get(kind, {}).get(name)
    if not entry:
        return None
    doc = entry[1]
    return set(doc.get("data") or {}) | set(doc.get("stringData") or {}) | set(doc.get("binaryData") or {})


probes = 0
pvc_users = {}
deployments = by_kind.get("Deployment", {})
for name, (path, doc) in deployments.items():
    where = f"{path} Deployment {name}"
    spec = doc.get("spec") or {}
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    if not selector or any(labels.get(k) != v for k, v in selector.items()):
        error(where, "spec.selector.matchLabels does not match the pod template's labels")
    pod = template.get("spec") or {}
    volumes_by_name = {v.get("name"): v for v in pod.get("volumes") or []}
    for vname, volume in volumes_by_name.items():
        if "configMap" in volume and volume["configMap"].get("name") not in by_kind.get("ConfigMap", {}):
            error(where, f"volume {vname}: ConfigMap {volume['configMap'].get('name')} is not in the manifests")
        if "secret" in volume and volume["secret"].get("secretName") not in by_kind.get("Secret", {}):
            error(where, f"volume {vname}: Secret {volume['secret'].get('secretName')} is not in the manifests")
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"].get("claimName")
            pvc_users.setdefault(claim, set()).add(name)
            if claim not in by_kind.get("PersistentVolumeClaim", {}):
                error(where, f"volume {vname}: PersistentVolumeClaim {claim} is not in the manifests")
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    for container in pod.get("containers") or []:
        cwhere = f"{where} container {container.get('name')}"
        for key in container:
            if key not in CONTAINER_KEYS:
                error(cwhere, f"unknown container key {key!r}")
        ports = {str(p.get("containerPort")) for p in container.get("ports") or []}
        port_names = {p.get("name") for p in container.get("ports") or [] if p.get("name")}
        env = {}
        for item in container.get("envFrom") or []:
            if "configMapRef" in item:
                keys = config_keys("ConfigMap", item["configMapRef"].get("name"))
                if keys is None:
                    error(cwhere, f"envFrom: ConfigMap {item['configMapRef'].get('name')} is not in the manifests")
                else:
                    env.update({k: (by_kind["ConfigMap"][item["configMapRef"]["name"]][1].get("data") or {}).get(k) for k in keys})
            if "secretRef" in item:
                keys = config_keys("Secret", item["secretRef"].get("name"))
                if keys is None:
                    error(cwhere, f"envFrom: Secret {item['secretRef'].get('name')} is not in the manifests")
                else:
                    env.update({k: None for k in keys})
        for item in container.get("env") or []:
            env[item.get("name")] = item.get("value")
            source = item.get("valueFrom") or {}
            for kind, ref in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if ref in source:
                    keys = config_keys(kind, source[ref].get("name"))
                    if keys is None:
                        error(cwhere, f"env {item.get('name')}: {kind} {source[ref].get('name')} is not in the manifests")
                    elif source[ref].get("key") not in keys:
                        error(cwhere, f"env {item.get('name')}: {kind} {source[ref].get('name')} has no key {source[ref].get('key')}")
        for var, value in env.items():
            if var and var.startswith("OTEL_") and var not in allowed_otel:
                error(cwhere, f"{var} is not read by polyrec (it reads {', '.join(sorted(allowed_otel))})")
            if var and var.startswith("POLYREC_"):
                check_env_value(cwhere, var, value)
        if container.get("command"):
            error(cwhere, "sets command: the image's ENTRYPOINT is polyrec, use args")
        role, port = check_args(cwhere, container.get("args"))
        port = role_port(role, port, env)
        if port and port not in ports:
            error(cwhere, f"`polyrec {role}` listens on {port}, which is not a declared containerPort")
        scrape_port = annotations.get("prometheus.io/port")
        if scrape_port and str(scrape_port) not in ports:
            error(where, f"prometheus.io/port {scrape_port} is not a declared containerPort")
        config_path = env.get("POLYREC_CONFIG")
        mounts = {m.get("name"): m for m in container.get("volumeMounts") or []}
        for mname in mounts:
            if mname not in volumes_by_name:
                error(cwhere, f"volumeMount {mname}: no such volume in the pod")
        if config_path:
            directory, filename = os.path.split(config_path)
            found = False
            for mname, mount in mounts.items():
                volume = volumes_by_name.get(mname) or {}
                if mount.get("mountPath") == directory and "configMap" in volume:
                    keys = config_keys("ConfigMap", volume["configMap"].get("name")) or set()
                    found = filename in keys
                    if found:
                        text = by_kind["ConfigMap"][volume["configMap"]["name"]][1]["data"][filename]
                        try:
                            count = check_toml(f"{cwhere} {config_path}", tomllib.loads(text))
                            summary.append(f"{config_path} (ConfigMap {volume['configMap']['name']}): {count} keys, all known to config.rs")
                        except tomllib.TOMLDecodeError as e:
                            error(f"{cwhere} {config_path}", f"not TOML: {e}")
            if not found:
                error(cwhere, f"POLYREC_CONFIG={config_path} is not a file of a mounted ConfigMap")
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = container.get(kind)
            if not probe:
                continue
            probes += 1
            http = probe.get("httpGet")
            if not http:
                error(cwhere, f"{kind} is not an httpGet probe")
                continue
            if http.get("path") not in probe_paths.get(role, {"/healthz", "/readyz"}):
                error(cwhere, f"{kind} path {http.get('path')}: `polyrec {role}` serves {', '.join(sorted(probe_paths.get(role, [])))}")
            target = http.get("port")
            if str(target) not in ports and target not in port_names:
                error(cwhere, f"{kind} port {target} is not a declared containerPort")
        if role == "serve" and "readinessProbe" not in container:
            error(cwhere, "`polyrec serve` without a readinessProbe (/readyz)")
        if "livenessProbe" not in container:
            error(cwhere, "no livenessProbe (/healthz)")
        if not (container.get("resources") or {}).get("requests") or not (container.get("resources") or {}).get("limits"):
            error(cwhere, "no resource requests and limits")

# One line per config file, not per Deployment that mounts it.
seen = set()
summary[:] = [s for s in summary if not (s in seen or seen.add(s))]

services_k8s = by_kind.get("Service", {})
for name, (path, doc) in services_k8s.items():
    where = f"{path} Service {name}"
    selector = (doc.get("spec") or {}).get("selector") or {}
    matches = [
        d for d in deployments.values()
        if selector and all((((d[1]["spec"]["template"].get("metadata") or {}).get("labels")) or {}).get(k) == v for k, v in selector.items())
    ]
    if not matches:
        error(where, f"selector {selector} matches no Deployment's pod labels")
        continue
    for port in (doc.get("spec") or {}).get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        for _, deployment in matches:
            declared = set()
            for container in deployment["spec"]["template"]["spec"].get("containers") or []:
                for p in container.get("ports") or []:
                    declared |= {str(p.get("containerPort")), p.get("name")}
            if str(target) not in declared:
                error(where, f"targetPort {target} is not a containerPort of Deployment {deployment['metadata']['name']}")
for kind in ("HorizontalPodAutoscaler",):
    for name, (path, doc) in by_kind.get(kind, {}).items():
        ref = (doc.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") != "Deployment" or ref.get("name") not in deployments:
            error(f"{path} {kind} {name}", f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} is not a Deployment here")
for name, (path, doc) in by_kind.get("PodDisruptionBudget", {}).items():
    selector = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not any(all((d[1]["spec"]["template"]["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items()) for d in deployments.values()):
        error(f"{path} PodDisruptionBudget {name}", f"selector {selector} matches no Deployment's pods")
for claim, users in pvc_users.items():
    entry = by_kind.get("PersistentVolumeClaim", {}).get(claim)
    if entry and len(users) > 1 and "ReadWriteMany" not in (entry[1].get("spec") or {}).get("accessModes", []):
        error(entry[0], f"PersistentVolumeClaim {claim} is mounted by {', '.join(sorted(users))} but is not ReadWriteMany")
summary.append(
    f"{k8s_dir}: {len(objects)} objects in {len(k8s_files)} files ({', '.join(f'{len(v)} {k}' for k, v in sorted(by_kind.items()))}); "
    f"{len(services_k8s)} Services match Deployments and container ports; {probes} probes on served paths and declared ports"
)

# The pod-discovery Prometheus config looks in the namespace the manifests go to, and every
# Deployment's pods are annotated for it.
namespace = (kustomization or {}).get("namespace")
if os.path.exists(prometheus_k8s_path):
    config = load_all(prometheus_k8s_path)[0]
    names = {n for job in config.get("scrape_configs") or [] for sd in job.get("kubernetes_sd_configs") or [] for n in (sd.get("namespaces") or {}).get("names") or []}
    if namespace not in names:
        error(prometheus_k8s_path, f"kubernetes_sd_configs does not look in namespace {namespace} (kustomization.yaml)")
    for name, (path, doc) in deployments.items():
        annotations = (doc["spec"]["template"].get("metadata") or {}).get("annotations") or {}
        if annotations.get("prometheus.io/scrape") != "true":
            error(f"{path} Deployment {name}", f'pods lack prometheus.io/scrape: "true" ({prometheus_k8s_path} keeps only those)')

# ---------------------------------------------------------------- scrape targets
prometheus = load_all(prometheus_path)[0]
targets = [t for job in prometheus.get("scrape_configs") or [] for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
for target in targets:
    host, _, port = str(target).partition(":")
    if host not in services:
        error(prometheus_path, f"scrape target {target}: {host} is not a compose service")
    elif port not in service_ports(services[host]):
        error(prometheus_path, f"scrape target {target}: compose service {host} does not declare port {port}")
    if host not in services_k8s:
        error(prometheus_path, f"scrape target {target}: {host} is not a Kubernetes Service in {k8s_dir}")
    elif port not in {str(p.get("port")) for p in services_k8s[host][1]["spec"].get("ports") or []}:
        error(prometheus_path, f"scrape target {target}: Service {host} has no port {port}")
summary.append(f"{prometheus_path}: {len(targets)} scrape targets are compose services and Kubernetes Services with those ports")

# ---------------------------------------------------------------- POLYREC_* names in every deploy file
deploy_files = [dockerfile_path, ".dockerignore"] + sorted(
    p for p in glob.glob("deploy/**/*", recursive=True) if os.path.isfile(p)
)
used = {}
for path in deploy_files:
    if not os.path.exists(path):
        continue
    for number, line in enumerate(read(path).splitlines(), 1):
        for var in re.findall(r"(?<![A-Za-z0-9_])POLYREC_[A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_])", line):
            used.setdefault(var, []).append(f"{path}:{number}")
for var, places in sorted(used.items()):
    if var not in allowed_env:
        error(places[0], f"{var} is not read by the binary ({len(places)} uses; no \"{var}\" literal in crates/*/src)")
summary.insert(
    0,
    f"env names: the binary reads {len(allowed_env)} POLYREC_* and {len(allowed_otel)} OTEL_* names "
    f"(string literals in {len(rust_sources)} files under crates/*/src); deploy files use {len(used)} POLYREC_* names, "
    f"all of them read",
)

if errors:
    print("\n".join(errors), file=sys.stderr)
    print(f"{len(errors)} problem(s) in the deploy files", file=sys.stderr)
    sys.exit(1)
print("\n".join(summary))
PY
)
"$PYTHON" -c "$check_files" "$COMPOSE" "$K8S" "$CONFIG" "$K8S_CONFIG" "$DOCKERFILE"

banner "kubectl kustomize $K8S"
if command -v "$KUBECTL" >/dev/null 2>&1; then
    rendered=$("$KUBECTL" kustomize "$K8S")
    echo "$K8S: kustomize renders $(grep -c '^kind:' <<<"$rendered") objects"
else
    echo "skipped: $KUBECTL not found (the manifests were parsed and cross-checked above)"
fi

banner "deploy files OK"
