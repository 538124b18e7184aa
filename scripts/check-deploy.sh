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
#       * POLYREC_*_URL schemes are those crates/polyrec-storage/src/open.rs accepts (http/https
#         for the gRPC endpoints: tenant/user services, POLYREC_*_SERVICE_URL), Kafka URL
#         parameters those of KafkaSettings::from_url; the config file in the ConfigMap has only
#         keys of the structs in config.rs (the server rejects unknown keys) and no
#         services.grpc_listen (it would give every service one gRPC port)
#       * the split deployment (SPEC §3.1): the services and ports in SPEC_SERVICES below are those
#         of crates/polyrec-server/src/split.rs (Service::name, Service::ALL, the port table of its
#         test); every --service value in a deploy file (command lines and prose) is one of the
#         seven; the stores a split service requires, the services that train, the one that
#         calls the others, the internal key every split service requires and the secret it must
#         differ from (open_as), its minimum length (MIN_KEY_BYTES of polyrec-service's
#         internal.rs) and the default listen addresses (split::default_addresses: HTTP on
#         0.0.0.0, gRPC on 127.0.0.1) are read from split.rs / lib.rs / internal.rs
#       * `polyrec serve [--service NAME]|worker` command lines use flags main.rs defines; the
#         ports each process listens on (HTTP, and gRPC for a split service; flags, then their
#         environment variables, then the SPEC/default ports) are exactly the ports declared
#         (compose expose/ports, containerPort); probes and healthchecks ask a role only for what
#         it serves (serve: /healthz, /readyz; worker: /healthz) on its HTTP port; readiness is
#         /readyz and liveness /healthz
#       * every split service (compose and Kubernetes) with a gRPC port is given a gRPC address
#         that is not loopback (--grpc-listen or POLYREC_GRPC_LISTEN; the default is 127.0.0.1)
#         on its SPEC gRPC port; each of the seven gets POLYREC_INTERNAL_KEY, the same in all
#         seven (compose: one value; Kubernetes: one Secret key), at least MIN_KEY_BYTES long and
#         not POLYREC_JWT_HS256_SECRET wherever the value is known (a literal; a compose
#         ${VAR:-default}'s default, i.e. its value when VAR is unset; a Secret's stringData/data)
#       * compose: known keys; depends_on targets exist (service_healthy ones have a healthcheck)
#         and are not profile-only for a default service; named volumes declared, bind sources
#         exist; every host of a POLYREC_*_URL and of the OTLP endpoint is a compose service
#         declaring that port; the default profile runs each of the seven services once, with a
#         `polyrec-healthcheck PORT /readyz` healthcheck, the four server stores and traces to the
#         Jaeger service's 4317, plus a worker; each POLYREC_*_SERVICE_URL names the compose
#         service running that service at its gRPC port and is in the caller's depends_on, and
#         the recommendation service sets all four; one named volume at the POLYREC_BLOBS_URL
#         directory, mounted by the services that train; no host port published twice; MongoDB,
#         Redis, Kafka in KRaft mode (controller role, no ZooKeeper), ClickHouse, Milvus,
#         Prometheus, Grafana and Jaeger are in the stack
#       * Kubernetes: every document has apiVersion/kind/name; kustomization.yaml lists exactly
#         the files; Deployment selectors match their pods; a Service selector matches exactly one
#         Deployment and its targetPorts are that Deployment's containerPorts (by number or name);
#         each split service runs in one Deployment with containerPorts named http/grpc at the SPEC
#         numbers, behind one Service with ports http/grpc at the same numbers, scaled by an HPA;
#         HPA/PDB targets exist, HPA min <= max and the Deployment requests what the HPA scales
#         on; prometheus.io/port is the HTTP port; the service URLs reach the right Service's gRPC
#         port (same namespace); ConfigMaps, Secrets (and their keys) and PVCs referenced exist;
#         the PVC at the POLYREC_BLOBS_URL directory (and any PVC several Deployments mount) is
#         ReadWriteMany; POLYREC_CONFIG names a mounted ConfigMap file; POLYREC_INTERNAL_KEY
#         comes from a Secret (not a ConfigMap, not a literal); NetworkPolicies (Ingress; one
#         with Egress is reported as not checked) select Deployments' pods by matchLabels, and
#         every gRPC service's Deployment is selected by one; the union of their ingress rules
#         admits to its gRPC port only the pods of the recommendation service (a podSelector,
#         this namespace; required for the services it calls) and pods with the gateway label
#         app.kubernetes.io/component: gateway (required; a namespaceSelector by labels may
#         narrow it to a namespace), and every source to the HTTP port of each Deployment a policy
#         isolates; no Deployment carries the gateway label
#       * Dockerfile: COPY sources exist and are not excluded by .dockerignore, files the crates
#         include_str! are copied, EXPOSE has every role's ports (8000, the SPEC ports, 8010),
#         non-root USER, HEALTHCHECK; deploy/docker/healthcheck.sh's port table is SPEC §3.1's
#       * prometheus.yml: scrape targets (static, and dns_sd_configs names) are compose services
#         and Kubernetes Services with the port (a DNS name may be Compose-only when its service is
#         profile-only); every polyrec compose service is scraped on its HTTP port; every
#         Deployment's app.kubernetes.io/name is a job scraping it through its Service; the
#         PolyrecTargetDown rule's job regex matches every job
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
    polyrec_recommendation_events_total
    polyrec_grpc_server_requests_total
)
# Histograms: each is exposed as NAME_bucket, NAME_count and NAME_sum.
HISTOGRAMS=(
    polyrec_http_request_duration_seconds
    polyrec_recall_channel_duration_seconds
    polyrec_pipeline_candidates
    polyrec_training_job_duration_seconds
    polyrec_external_call_duration_seconds
    polyrec_grpc_server_request_duration_seconds
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
import base64
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

# The config structs: the server's (polyrec-service) and the storage's (polyrec-storage).
config_rs = read("crates/polyrec-service/src/config.rs") + "\n" + read("crates/polyrec-storage/src/open.rs")
main_rs = read("crates/polyrec/src/main.rs")
backends_rs = read("crates/polyrec-storage/src/open.rs")
kafka_rs = read("crates/polyrec-storage/src/production/kafka.rs")

# Which config field each POLYREC_*_URL / secret variable sets: ("POLYREC_BUS_URL", &mut self.bus),
# ("POLYREC_SCENARIO_SERVICE_URL", &mut self.services.scenario_url). env_path keeps the path
# (`services.scenario_url`), env_field the field (`scenario_url`).
env_path = dict(re.findall(r'\("(POLYREC_[A-Z0-9_]+)",\s*&mut self\.((?:[a-z0-9_]+\.)*[a-z0-9_]+)\)', config_rs))
env_field = {var: path.split(".")[-1] for var, path in env_path.items()}
# The URLs of gRPC services polyrec calls (tenancy.*: SPEC §6.2's tenant and user services;
# services.*_url: the split services the recommendation service calls) are tonic endpoints:
# http:// or https://.
endpoint_vars = {var for var, path in env_path.items() if var.endswith("_URL") and path.startswith(("tenancy.", "services."))}
ENDPOINT_SCHEMES = {"http", "https"}
# POLYREC_SCENARIO_SERVICE_URL → scenario: the split service each services.*_url names.
service_url_vars = {
    var: path.split(".", 1)[1].removesuffix("_url")
    for var, path in env_path.items()
    if path.startswith("services.") and path.endswith("_url")
}
if not service_url_vars:
    error("crates/polyrec-service/src/config.rs", "found no POLYREC_*_SERVICE_URL of [services]: the scan is broken")

# URL schemes each storage purpose accepts: the string arms of `match scheme(url)` in the
# function of backends.rs named after the field (`async fn bus(…)`).
schemes = {}
for name, body in re.findall(r"\n(?:async )?fn ([a-z_]+)\((.*?)(?=\n(?:async fn |fn |struct |impl |pub |#\[)|\Z)", backends_rs, re.S):
    arms = re.findall(r'^\s*((?:"[a-z+]*"\s*\|\s*)*"[a-z+]+")\s*=>', body, re.M)
    if arms:
        schemes[name] = {s for arm in arms for s in re.findall(r'"([a-z+]+)"', arm)}
for var, field in env_field.items():
    if var.endswith("_URL") and field not in schemes and var not in endpoint_vars:
        error("crates/polyrec-storage/src/open.rs", f"no scheme match found for {field} ({var}): the scan is broken")

# Query parameters of the Kafka URL: the arms of KafkaSettings::from_url.
from_url = kafka_rs[kafka_rs.find("fn from_url") :]
from_url = from_url[: from_url.find("\n    }\n")]
kafka_params = set(re.findall(r'^\s*"([a-z_]+)" => settings\.', from_url, re.M))
if not kafka_params:
    error("crates/polyrec-storage/src/production/kafka.rs", "found no URL parameter: the scan is broken")

# The subcommands `serve`, `worker` and `gateway` and their flags (clap derive: field `no_stream_jobs` is
# `--no-stream-jobs`), and the default listen ports.
command_enum = main_rs[main_rs.find("enum Command {") :]
command_enum = command_enum[: command_enum.find("\n}\n")]
flags = {}
bool_flags = {"--help", "-h"}
for variant, body in re.findall(r"^    (\w+) \{\n(.*?)^    \},", command_enum, re.M | re.S):
    if variant.lower() in ("serve", "worker", "gateway"):
        fields = re.findall(r"^        (\w+): ([^\n]+),$", body, re.M)
        flags[variant.lower()] = {"--" + f.replace("_", "-") for f, _ in fields} | {"--help", "-h"}
        bool_flags |= {"--" + f.replace("_", "-") for f, kind in fields if kind.strip() == "bool"}
for role in ("serve", "worker", "gateway"):
    if role not in flags:
        error("crates/polyrec/src/main.rs", f"subcommand {role} not found: the scan is broken")
default_port = {}
m = re.search(r"listen: SocketAddr::from\(\(\[[0-9, ]+\], (\d+)\)\)", config_rs)
default_port["serve"] = m and m.group(1)
m = re.search(r'env = "POLYREC_WORKER_LISTEN", default_value = "[^"]*:(\d+)"', main_rs)
default_port["worker"] = m and m.group(1)
m = re.search(r'env = "POLYREC_GATEWAY_LISTEN", default_value = "[^"]*:(\d+)"', main_rs)
default_port["gateway"] = m and m.group(1)
for role, port in default_port.items():
    if not port:
        error("crates", f"default listen port of {role} not found: the scan is broken")
# What each role serves (README "Running it"; crates/polyrec-server/src/http/mod.rs).
probe_paths = {"serve": {"/healthz", "/readyz"}, "worker": {"/healthz"}, "gateway": {"/healthz", "/readyz"}}
role_listen_env = {"serve": "POLYREC_LISTEN", "worker": "POLYREC_WORKER_LISTEN", "gateway": "POLYREC_GATEWAY_LISTEN"}

# The split deployment: SPEC §3.1's services and ports (HTTP, gRPC; recommendation has no gRPC
# port). Kept here as the specification's table, and compared with crates/polyrec-server/src/
# split.rs: the names of `Service::name`, the order of `Service::ALL` and the port table its test
# `ports_are_the_specifications` checks the code against.
SPEC_SERVICES = {
    "scenario": ("8001", "9001"),
    "item": ("8002", "9002"),
    "behavior": ("8003", "9003"),
    "recommendation": ("8004", None),
    "feature": ("8005", "9005"),
    "model": ("8006", "9006"),
    "analytics": ("8007", "9007"),
}
split_rs = read("crates/polyrec-server/src/split.rs")
name_fn = split_rs[split_rs.find("pub fn name(self)") :]
name_fn = name_fn[: name_fn.find("\n    }\n")]
code_names = dict(re.findall(r'Service::(\w+) => "([a-z]+)"', name_fn))
all_const = re.search(r"pub const ALL: \[Service; \d+\] = \[(.*?)\];", split_rs, re.S)
code_order = re.findall(r"Service::(\w+)", all_const.group(1)) if all_const else []
port_test = split_rs[split_rs.find("fn ports_are_the_specifications") :]
port_test = port_test[: port_test.find("\n    }\n")]
code_ports = [(h, g or None) for h, g in re.findall(r"\((\d+), (?:Some\((\d+)\)|None)\)", port_test)]
if not code_names or not code_order or len(code_ports) != len(code_order):
    error("crates/polyrec-server/src/split.rs", "Service names, Service::ALL or the port table not found: the scan is broken")
else:
    code_services = {code_names.get(variant, variant): ports for variant, ports in zip(code_order, code_ports)}
    if code_services != SPEC_SERVICES:
        error(
            "crates/polyrec-server/src/split.rs",
            f"the services and ports ({code_services}) are not SPEC §3.1's ({SPEC_SERVICES}): update one of them",
        )
# The addresses a split service listens on by default (split::default_addresses): HTTP on every
# interface, gRPC on loopback only — a container's or pod's gRPC port is reachable from elsewhere
# only when --grpc-listen / POLYREC_GRPC_LISTEN names another address.
addresses_fn = split_rs[split_rs.find("pub fn default_addresses") :]
addresses_fn = addresses_fn[: addresses_fn.find("\n}\n")]
m_http = re.search(r"SocketAddr::from\(\(\[([0-9, ]+)\], service\.http_port\(\)\)\)", addresses_fn)
m_grpc = re.search(r"grpc_port\(\)\.map\(\|port\| SocketAddr::from\(\(\[([0-9, ]+)\], port\)\)\)", addresses_fn)
default_host = {
    "http": m_http and ".".join(p.strip() for p in m_http.group(1).split(",")),
    "grpc": m_grpc and ".".join(p.strip() for p in m_grpc.group(1).split(",")),
}
if not all(default_host.values()):
    error("crates/polyrec-server/src/split.rs", "the default HTTP / gRPC addresses of default_addresses not found: the scan is broken")
# `--service NAME` also takes NAME-service (Service::parse strips the suffix).
service_suffix = "-service" if 'strip_suffix("-service")' in split_rs else None
for var, target in service_url_vars.items():
    if target not in SPEC_SERVICES:
        error("crates/polyrec-service/src/config.rs", f"{var} names services.{target}_url, not a service of SPEC §3.1")
    elif SPEC_SERVICES[target][1] is None:
        error("crates/polyrec-service/src/config.rs", f"{var}: the {target} service has no gRPC port to call")


# The stores a split service refuses to start without (split::check_shared_stores), as the
# POLYREC_*_URL variables that set them.
shared_fields = re.findall(r'\("([a-z_]+)", &storage\.([a-z_]+)\)', split_rs[split_rs.find("fn check_shared_stores") :])
shared_store_vars = [var for _, field in shared_fields for var, path in env_path.items() if path == field]
if len(shared_store_vars) != len(shared_fields) or not shared_fields:
    error("crates/polyrec-server/src/split.rs", "the stores of check_shared_stores not found: the scan is broken")
# The services that run the training schedule and write model artifacts (Service::runs_background).
background_fn = split_rs[split_rs.find("fn runs_background") :]
background_fn = background_fn[: background_fn.find("\n    }\n")]
training_services = {code_names.get(v, v) for v in re.findall(r"Service::(\w+)", background_fn)}
if not training_services:
    error("crates/polyrec-server/src/split.rs", "Service::runs_background not found: the scan is broken")
# The service that calls the others over gRPC (polyrec_server::open_as gives it grpc::client::sources).
app_rs = read("crates/polyrec-server/src/lib.rs")
m = re.search(r"split::Service::(\w+)\) => (?:\{[^{}]*?)?Some\(grpc::client::sources", app_rs)
client_service = m and code_names.get(m.group(1))
if not client_service:
    error("crates/polyrec-server/src/lib.rs", "the service with gRPC client sources not found: the scan is broken")
# The internal key (services.internal_key): open_as refuses every split service without it
# (`if let Some(service) = service && config.services.internal_key.is_empty()`), and
# InternalKey::new refuses one shorter than MIN_KEY_BYTES or equal to the public HS256 secret
# (its second argument, e.g. config.auth.hs256_secret). The environment variables that set them
# come from config.rs.
open_as = app_rs[app_rs.find("pub async fn open_as") :]
open_as = open_as[: open_as.find("\n}\n")]
m = re.search(r"if let Some\(\w+\) = service\s*&& config\.services\.(\w+)\.is_empty\(\)", open_as)
internal_key_var = m and next((v for v, path in env_path.items() if path == f"services.{m.group(1)}"), None)
m = re.search(r"InternalKey::new\(&config\.services\.\w+, &config\.((?:[a-z0-9_]+\.)*[a-z0-9_]+)\)", open_as)
public_secret_var = m and next((v for v, path in env_path.items() if path == m.group(1)), None)
m = re.search(r"pub const MIN_KEY_BYTES: usize = (\d+);", read("crates/polyrec-service/src/internal.rs"))
min_key_bytes = m and int(m.group(1))
if not internal_key_var or not public_secret_var or not min_key_bytes:
    error(
        "crates/polyrec-server/src/lib.rs",
        "the internal key every split service requires (open_as), the secret it must differ from or "
        "MIN_KEY_BYTES (polyrec-service/src/internal.rs) not found: the scan is broken",
    )
# What services.*_url defaults to (ServicesConfig::default): where a client service calls when
# its POLYREC_*_SERVICE_URL is not set.
service_url_defaults = dict(re.findall(r'^\s*([a-z_]+_url): "([^"]+)"\.to_owned\(\)', config_rs, re.M))


def spec_service(name):
    """The SPEC §3.1 service a --service / POLYREC_SERVICE value names, or None."""
    if name is None:
        return None
    bare = name.removesuffix(service_suffix) if service_suffix else name
    return bare if bare in SPEC_SERVICES else None

# The config file's keys (every struct is `deny_unknown_fields`: an unknown key stops the server).
structs = {}
for source in (config_rs, read("crates/polyrec-core/src/tenant.rs")):
    for name, body in re.findall(r"pub struct (\w+) \{\n(.*?)\n\}", source, re.S):
        structs[name] = dict(re.findall(r"^    pub (\w+): (.+),$", body, re.M))
for name in ("ServerConfig", "StorageConfig", "AuthConfig", "TenancyConfig", "ServicesConfig", "TenantEntry", "Quota"):
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
    if name in endpoint_vars and scheme not in ENDPOINT_SCHEMES:
        error(where, f"{name}={value}: a gRPC endpoint is http:// or https://, not {scheme!r}")
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


def port_of(address):
    """The port of a listen address (0.0.0.0:8001, [::]:8001), or None."""
    return str(address).rsplit(":", 1)[-1] if address else None


def host_of(address):
    """The host of a listen address (0.0.0.0:8001 → 0.0.0.0, [::]:8001 → ::), or None."""
    return str(address).rsplit(":", 1)[0].strip("[]") if address else None


def is_loopback(host):
    return host == "localhost" or host == "::1" or str(host).startswith("127.")


def polyrec_process(where, args, env):
    """A polyrec command line and its environment: known subcommand, flags and --service name.
    Returns what it runs: role (serve|worker), service (a SPEC §3.1 name, or None for the
    all-in-one server and the worker), http (the port of /healthz, /readyz, /metrics), grpc
    (a split service's gRPC port, else None) and grpc_listen (the address given by --grpc-listen
    or POLYREC_GRPC_LISTEN, None when the default applies) — flags win over their environment
    variables, as clap has it; a split service's defaults are its SPEC ports, gRPC on loopback."""
    args = [str(a) for a in args or ["serve"]]
    env = {k: v for k, v in env.items() if v not in (None, "")}
    role = args[0]
    proc = {"role": role, "service": None, "http": None, "grpc": None, "grpc_listen": None}
    if role not in flags:
        error(where, f"polyrec subcommand {role!r}: a deployment runs `serve`, `worker` or `gateway`")
        return proc
    values = {}
    for i, arg in enumerate(args[1:], 1):
        if arg.startswith("-"):
            flag, eq, inline = arg.partition("=")
            if flag not in flags[role]:
                error(where, f"`polyrec {role}` has no flag {flag} (it has {', '.join(sorted(flags[role] - {'-h', '--help'}))})")
            if flag not in bool_flags:
                values[flag] = inline if eq else (args[i + 1] if i + 1 < len(args) else "")
    if role in ("worker", "gateway"):
        proc["http"] = port_of(values.get("--listen") or env.get(role_listen_env[role])) or default_port[role]
        return proc
    name = values.get("--service") or env.get("POLYREC_SERVICE")
    grpc_listen = values.get("--grpc-listen") or env.get("POLYREC_GRPC_LISTEN")
    listen = values.get("--listen") or env.get(role_listen_env["serve"])
    if name is None:
        if grpc_listen:
            error(where, "--grpc-listen / POLYREC_GRPC_LISTEN without --service: `polyrec serve` refuses to start")
        proc["http"] = port_of(listen) or default_port["serve"]
        return proc
    service = spec_service(name)
    if service is None:
        error(where, f"--service {name}: not a service of SPEC §3.1 ({', '.join(SPEC_SERVICES)})")
        return proc
    http, grpc = SPEC_SERVICES[service]
    proc.update(service=service, http=port_of(listen) or http, grpc=grpc and (port_of(grpc_listen) or grpc))
    proc["grpc_listen"] = grpc and grpc_listen
    return proc


def check_grpc_listen(where, proc):
    """A split service with a gRPC port listens where the others reach it: an address that is not
    loopback (its default is), on its SPEC gRPC port."""
    service = proc["service"]
    spec_grpc = service and SPEC_SERVICES[service][1]
    if not spec_grpc:
        return
    address = proc["grpc_listen"]
    label = proc_label(proc)
    if not address:
        error(where, f"`polyrec {label}` serves gRPC on {default_host['grpc']}:{spec_grpc} (the default, loopback only): "
                     f"no other container or pod reaches it; set POLYREC_GRPC_LISTEN=0.0.0.0:{spec_grpc}")
    elif "${" in str(address):
        error(where, f"--grpc-listen / POLYREC_GRPC_LISTEN {address}: not a literal address, so not checked")
    elif is_loopback(host_of(address)):
        error(where, f"--grpc-listen / POLYREC_GRPC_LISTEN {address} is loopback only: no other container or pod reaches it")
    elif port_of(address) != spec_grpc:
        error(where, f"--grpc-listen / POLYREC_GRPC_LISTEN {address}: the {service} service's gRPC port is {spec_grpc} (SPEC §3.1)")


def check_internal_key(where, label, value, public_value, when=""):
    """The internal key's value, where it is known: long enough and not the public HS256 secret."""
    if value is None or not internal_key_var:
        return
    if len(value.encode()) < min_key_bytes:
        error(where, f"{internal_key_var} is {len(value.encode())} bytes{when}: `polyrec {label}` refuses one shorter than {min_key_bytes}")
    elif value == public_value:
        error(where, f"{internal_key_var} equals {public_secret_var}{when}: `polyrec {label}` refuses that (a tenant's token would sign internal calls)")


def compose_effective(value):
    """What a compose environment value is when its variables are unset: a literal, the default of
    ${VAR:-default} / ${VAR-default}, "" for a bare ${VAR}; None for ${VAR:?message} (Compose
    refuses to start without VAR) and for anything it cannot tell."""
    if value is None:
        return None
    if "${" not in value and "$" not in value.replace("$$", ""):
        return value.replace("$$", "$")
    m = re.fullmatch(r"\$\{(\w+)(?:(:?)([-?])(.*))?\}", value, re.S)
    if not m:
        return None
    if m.group(3) == "?":
        return None
    return m.group(4) if m.group(3) == "-" else ""


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
for role in ("serve", "worker", "gateway"):
    if default_port.get(role) and default_port[role] not in exposed:
        error(dockerfile_path, f"EXPOSE lacks {default_port[role]}, the default port of `polyrec {role}`")
for service, service_ports_ in SPEC_SERVICES.items():
    for port in filter(None, service_ports_):
        if port not in exposed:
            error(dockerfile_path, f"EXPOSE lacks {port}, a port of `polyrec serve --service {service}`")
# The image's HEALTHCHECK script finds a split service's HTTP port in its own table.
healthcheck_path = "deploy/docker/healthcheck.sh"
table = read(healthcheck_path)
table = table[table.find("service_port() {") :]
table = dict(re.findall(r"^\s*([a-z]+)\) echo (\d+) ;;$", table[: table.find("\n}\n")], re.M))
if table != {service: ports[0] for service, ports in SPEC_SERVICES.items()}:
    error(healthcheck_path, f"service_port's table {table} is not the HTTP ports of SPEC §3.1")
if not re.search(r'^ENTRYPOINT \["polyrec"\]', dockerfile, re.M):
    error(dockerfile_path, 'ENTRYPOINT is not ["polyrec"]')
m = re.search(r'^CMD (\[.*\])', dockerfile, re.M)
if m:
    polyrec_process(f"{dockerfile_path} CMD", yaml.safe_load(m.group(1)), {})
m = re.search(r"cargo build [^\n]*-p (\S+)", dockerfile)
if not m:
    error(dockerfile_path, "no `cargo build -p …`")
elif not os.path.exists(f"crates/{m.group(1)}/Cargo.toml"):
    error(dockerfile_path, f"cargo build -p {m.group(1)}: no such crate under crates/")
else:
    # --features the image builds with are features of that crate.
    crate_features = tomllib.loads(read(f"crates/{m.group(1)}/Cargo.toml")).get("features", {})
    build_line = re.search(r"cargo build [^\n]*", dockerfile).group(0)
    for listed in re.findall(r"--features[ =](\S+)", build_line):
        for feature in listed.split(","):
            if feature not in crate_features:
                error(dockerfile_path, f"cargo build --features {feature}: not a feature of crate {m.group(1)}")
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


def proc_label(proc):
    if proc["service"]:
        return f"serve --service {proc['service']}"
    return proc["role"]


def volume_mounts(service):
    """(kind, source, target) of a compose service's volumes."""
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            yield volume.get("type"), volume.get("source"), volume.get("target")
        else:
            parts = str(volume).split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
            yield ("bind" if source.startswith((".", "/", "~")) else "volume"), source, target


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
compose_procs = {}
compose_keys = {}
url_refs = []
blob_volumes = {}
default_profile = {n for n, s in services.items() if not s.get("profiles")}
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
        if other.get("profiles") and not set(other["profiles"]) & set(service.get("profiles") or []):
            error(where, f"depends_on {target}, which only runs in profile(s) {', '.join(other['profiles'])}")
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
        proc = polyrec_process(where, command, environment)
        compose_procs[name] = proc
        role, port, label = proc["role"], proc["http"], proc_label(proc)
        polyrec_services.append(f"{name} ({label}) :{port}" + (f"+{proc['grpc']}" if proc["grpc"] else ""))
        listening = {p for p in (proc["http"], proc["grpc"]) if p}
        for p in sorted(listening - service_ports(service)):
            error(where, f"`polyrec {label}` listens on {p}, which the service does not declare (expose/ports)")
        for p in sorted(service_ports(service) - listening):
            error(where, f"declares port {p}, on which `polyrec {label}` does not listen")
        for var in environment:
            if var.startswith("OTEL_") and var not in allowed_otel:
                error(where, f"{var} is not read by polyrec (it reads {', '.join(sorted(allowed_otel))})")
        # Traces go to the stack's Jaeger, over OTLP/gRPC (4317).
        endpoint = environment.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environment.get("POLYREC_OTLP_ENDPOINT")
        if not endpoint:
            error(where, "no OTEL_EXPORTER_OTLP_ENDPOINT: its traces are not exported")
        else:
            for host, otlp_port in url_parts(endpoint)[1]:
                if "jaeger" not in str((services.get(host) or {}).get("image", "")) or otlp_port != "4317":
                    error(where, f"OTEL_EXPORTER_OTLP_ENDPOINT={endpoint} is not the Jaeger service's OTLP/gRPC port 4317")
        test = (service.get("healthcheck") or {}).get("test") or []
        rest = test[test.index("polyrec-healthcheck") + 1 :] if "polyrec-healthcheck" in test else None
        if rest is not None:
            if rest and rest[0] != port:
                error(where, f"healthcheck probes port {rest[0]}, `polyrec {label}` serves HTTP on {port}")
            if len(rest) > 1 and rest[1] not in probe_paths.get(role, set()):
                error(where, f"healthcheck path {rest[1]}: `polyrec {role}` serves {', '.join(sorted(probe_paths[role]))}")
        if proc["service"] and (not rest or len(rest) < 2 or rest[1] != "/readyz"):
            error(where, f"a split service's healthcheck is `polyrec-healthcheck {port} /readyz` (ready: its stores answer)")
        # A split service refuses to start without the server stores; a worker (and serve
        # --no-stream-jobs) needs the Kafka bus.
        if proc["service"]:
            for var in shared_store_vars:
                if not environment.get(var):
                    error(where, f"{var} is not set: `polyrec {label}` refuses to start without the server stores")
            # Reachable gRPC, and the internal key: set, long enough and not the public secret
            # when the variables it names are unset, the same in every service.
            check_grpc_listen(where, proc)
            if internal_key_var:
                key = environment.get(internal_key_var)
                if not key:
                    error(where, f"{internal_key_var} is not set: `polyrec {label}` refuses to start without the internal key")
                else:
                    compose_keys.setdefault(key, []).append(name)
                    check_internal_key(
                        where, label, compose_effective(key), compose_effective(environment.get(public_secret_var)),
                        " when the variables it names are unset" if "$" in key else "",
                    )
        if role == "worker" or "--no-stream-jobs" in (command or []):
            if url_parts(environment.get("POLYREC_BUS_URL") or "")[0] != "kafka":
                error(where, f"`polyrec {' '.join(command or [])}` needs POLYREC_BUS_URL=kafka://…")
        # Model artifacts: the directory of POLYREC_BLOBS_URL is a named volume every process shares.
        blobs = environment.get("POLYREC_BLOBS_URL") or ""
        if blobs.startswith("file://"):
            blob_dir = blobs[len("file://") :]
            mounted = [(kind, source) for kind, source, target in volume_mounts(service) if target == blob_dir]
            if not mounted or mounted[0][0] != "volume":
                error(where, f"POLYREC_BLOBS_URL={blobs}, but no named volume is mounted at {blob_dir}: its model artifacts would stay in the container")
            else:
                blob_volumes.setdefault(mounted[0][1], []).append(name)
        if proc["service"] in training_services and not blobs.startswith("file://"):
            error(where, f"`polyrec {label}` trains and loads model artifacts: it needs POLYREC_BLOBS_URL=file:///… on a shared volume")
        # The gRPC services the client service calls.
        for var, target in service_url_vars.items():
            value = environment.get(var)
            if value and "${" not in value:
                url_refs.append((where, name, var, target, value))
            elif proc["service"] == client_service:
                error(where, f"{var} is not set: `polyrec {label}` would call {service_url_defaults.get(target + '_url')}, its own container")

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
# The split deployment: each of the seven services once in the default profile, the worker, the
# engines and the observability stack.
split_compose = {}
for name, proc in compose_procs.items():
    if proc["service"] and name in default_profile:
        split_compose.setdefault(proc["service"], []).append(name)
for service in SPEC_SERVICES:
    if len(split_compose.get(service, [])) != 1:
        error(compose_path, f"the default profile runs `polyrec serve --service {service}` in {split_compose.get(service, [])}: the split deployment runs each service once")
if not any(proc["role"] == "worker" and name in default_profile for name, proc in compose_procs.items()):
    error(compose_path, "no `polyrec worker` in the default profile: nothing would run the stream jobs")
STACK = {
    "MongoDB": "mongo:",
    "Redis": "redis:",
    "Kafka": "apache/kafka:",
    "ClickHouse": "clickhouse/clickhouse-server:",
    "Milvus": "milvusdb/milvus:",
    "Prometheus": "prom/prometheus:",
    "Grafana": "grafana/grafana:",
    "Jaeger": "jaegertracing/",
}
for what, prefix in STACK.items():
    if not any(str(services[n].get("image", "")).startswith(prefix) for n in default_profile):
        error(compose_path, f"no {what} ({prefix}…) in the default profile")
for name, service in services.items():
    image = str(service.get("image", ""))
    if "zookeeper" in image:
        error(f"{compose_path} services.{name}", "ZooKeeper: Kafka runs in KRaft mode here")
    if image.startswith("apache/kafka:"):
        roles = str(env_map(service.get("environment")).get("KAFKA_PROCESS_ROLES", ""))
        if "controller" not in roles:
            error(f"{compose_path} services.{name}", "KAFKA_PROCESS_ROLES has no controller: not a KRaft node")
# Every service URL names the compose service that runs that service, at its gRPC port, and the
# caller waits for it.
for where, name, var, target, value in url_refs:
    depends = services[name].get("depends_on") or {}
    for host, port in url_parts(value)[1]:
        callee = compose_procs.get(host)
        if not callee or callee["service"] != target:
            error(where, f"{var}={value}: {host} does not run `polyrec serve --service {target}`")
        elif port != callee["grpc"]:
            error(where, f"{var}={value}: the {target} service's gRPC port is {callee['grpc']}, not {port}")
        if host not in depends:
            error(where, f"{var} names {host}, which is not in its depends_on")
# The seven services share one internal key (a token signed with one is refused by the others).
if len(compose_keys) > 1:
    error(compose_path, f"the split services get different {internal_key_var} values ({', '.join(f'{v!r}: {n}' for v, n in compose_keys.items())}): each refuses the others' service tokens")
# One volume holds the model artifacts of every process.
if len(blob_volumes) > 1:
    error(compose_path, f"model artifacts are spread over several volumes: {blob_volumes}")
for service in training_services:
    for name in split_compose.get(service, []):
        if not any(name in users for users in blob_volumes.values()):
            error(f"{compose_path} services.{name}", "does not mount the shared model-artifact volume")
# Host ports: one service each.
published = {}
for name, service in services.items():
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            host_port = entry.get("published")
        else:
            parts = str(entry).split("/")[0].split(":")
            host_port = parts[-2] if len(parts) >= 2 else None
        if host_port:
            published.setdefault(str(host_port), []).append(name)
for port, users in sorted(published.items()):
    if len(users) > 1:
        error(compose_path, f"host port {port} is published by {', '.join(users)}")
summary.append(
    f"{compose_path}: {len(services)} services, {edges} depends_on edges, {urls} POLYREC_*_URL values "
    f"(accepted schemes; hosts are services declaring the port); polyrec roles: {', '.join(polyrec_services)}"
)
summary.append(
    f"{compose_path}: the seven services of SPEC §3.1 once each on their ports, with /readyz healthchecks, the server "
    f"stores, one {internal_key_var}, gRPC on a non-loopback POLYREC_GRPC_LISTEN at the SPEC port, traces to Jaeger:4317; "
    f"{len(url_refs)} service URLs name the right service's gRPC port and are waited for; "
    f"model artifacts on one volume ({', '.join(blob_volumes)}); {len(published)} host ports, none shared"
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


def secret_value(name, key):
    """The value of a Secret's key in the manifests (stringData, or base64 data), or None."""
    entry = by_kind.get("Secret", {}).get(name)
    if not entry:
        return None
    doc = entry[1]
    if key in (doc.get("stringData") or {}):
        return str(doc["stringData"][key])
    if key in (doc.get("data") or {}):
        return base64.b64decode(str(doc["data"][key])).decode("utf-8", "replace")
    return None


def config_keys(kind, name):
    entry = by_kind.get(kind, {}).get(name)
    if not entry:
        return None
    doc = entry[1]
    return set(doc.get("data") or {}) | set(doc.get("stringData") or {}) | set(doc.get("binaryData") or {})


probes = 0
pvc_users = {}
k8s_procs = {}
k8s_keys = {}
k8s_url_refs = []
blob_claims = {}
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
        # Where each variable comes from: ("value",), ("ConfigMap", name, key), ("Secret", name, key).
        env_source = {}
        for item in container.get("envFrom") or []:
            if "configMapRef" in item:
                keys = config_keys("ConfigMap", item["configMapRef"].get("name"))
                if keys is None:
                    error(cwhere, f"envFrom: ConfigMap {item['configMapRef'].get('name')} is not in the manifests")
                else:
                    env.update({k: (by_kind["ConfigMap"][item["configMapRef"]["name"]][1].get("data") or {}).get(k) for k in keys})
                    env_source.update({k: ("ConfigMap", item["configMapRef"]["name"], k) for k in keys})
            if "secretRef" in item:
                keys = config_keys("Secret", item["secretRef"].get("name"))
                if keys is None:
                    error(cwhere, f"envFrom: Secret {item['secretRef'].get('name')} is not in the manifests")
                else:
                    env.update({k: None for k in keys})
                    env_source.update({k: ("Secret", item["secretRef"]["name"], k) for k in keys})
        for item in container.get("env") or []:
            env[item.get("name")] = item.get("value")
            env_source[item.get("name")] = ("value",)
            source = item.get("valueFrom") or {}
            for kind, ref in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if ref in source:
                    env_source[item.get("name")] = (kind, source[ref].get("name"), source[ref].get("key"))
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
        proc = polyrec_process(cwhere, container.get("args"), env)
        role, port, label = proc["role"], proc["http"], proc_label(proc)
        named = {p.get("name"): str(p.get("containerPort")) for p in container.get("ports") or [] if p.get("name")}
        k8s_procs[name] = dict(proc, named=named)
        listening = {p for p in (proc["http"], proc["grpc"]) if p}
        for p in sorted(listening - ports):
            error(cwhere, f"`polyrec {label}` listens on {p}, which is not a declared containerPort")
        for p in sorted(ports - listening):
            error(cwhere, f"containerPort {p}: `polyrec {label}` does not listen there")
        if proc["service"]:
            if named.get("http") != proc["http"]:
                error(cwhere, f"the HTTP port {proc['http']} of `polyrec {label}` is not the containerPort named http")
            if proc["grpc"] and named.get("grpc") != proc["grpc"]:
                error(cwhere, f"the gRPC port {proc['grpc']} of `polyrec {label}` is not the containerPort named grpc")
            for var in shared_store_vars:
                if not env.get(var):
                    error(cwhere, f"{var} is not set: `polyrec {label}` refuses to start without the server stores")
            # Reachable gRPC, and the internal key: from a Secret (not a ConfigMap or a literal in
            # the manifest), long enough and not the public secret, the same in every service.
            check_grpc_listen(cwhere, proc)
            if internal_key_var:
                source = env_source.get(internal_key_var)
                if not source or (source[0] == "value" and not env.get(internal_key_var)):
                    error(cwhere, f"{internal_key_var} is not set: `polyrec {label}` refuses to start without the internal key")
                elif source[0] != "Secret":
                    error(cwhere, f"{internal_key_var} is {'a literal value' if source[0] == 'value' else f'from ConfigMap {source[1]}'}: the internal key belongs in a Secret")
                else:
                    k8s_keys.setdefault(source[1:], []).append(name)
                    public = env_source.get(public_secret_var) or ("value",)
                    public_value = secret_value(*public[1:]) if public[0] == "Secret" else env.get(public_secret_var)
                    check_internal_key(cwhere, label, secret_value(*source[1:]), public_value)
        if role == "worker" or "--no-stream-jobs" in (container.get("args") or []):
            if url_parts(env.get("POLYREC_BUS_URL") or "")[0] != "kafka":
                error(cwhere, f"`polyrec {label}` needs POLYREC_BUS_URL=kafka://…")
        scrape_port = annotations.get("prometheus.io/port")
        if scrape_port and str(scrape_port) != port:
            error(where, f"prometheus.io/port {scrape_port} is not the HTTP port {port} of `polyrec {label}` (/metrics)")
        # Model artifacts: the directory of POLYREC_BLOBS_URL is a PersistentVolumeClaim.
        blobs = env.get("POLYREC_BLOBS_URL") or ""
        if blobs.startswith("file://"):
            blob_dir = blobs[len("file://") :]
            claims = [
                (volumes_by_name.get(m.get("name")) or {}).get("persistentVolumeClaim", {}).get("claimName")
                for m in container.get("volumeMounts") or []
                if m.get("mountPath") == blob_dir
            ]
            if not claims or not claims[0]:
                error(cwhere, f"POLYREC_BLOBS_URL={blobs}, but no PersistentVolumeClaim is mounted at {blob_dir}: its model artifacts would stay in the pod")
            else:
                blob_claims.setdefault(claims[0], set()).add(name)
        if proc["service"] in training_services and not blobs.startswith("file://"):
            error(cwhere, f"`polyrec {label}` trains and loads model artifacts: it needs POLYREC_BLOBS_URL=file:///… on a shared volume")
        for var, target in service_url_vars.items():
            if env.get(var):
                k8s_url_refs.append((cwhere, name, var, target, env[var]))
            elif proc["service"] == client_service:
                error(cwhere, f"{var} is not set: `polyrec {label}` would call {service_url_defaults.get(target + '_url')}, its own pod")
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
                            parsed = tomllib.loads(text)
                            count = check_toml(f"{cwhere} {config_path}", parsed)
                            summary.append(f"{config_path} (ConfigMap {volume['configMap']['name']}): {count} keys, all known to config.rs")
                            if (parsed.get("services") or {}).get("grpc_listen"):
                                error(f"{cwhere} {config_path}", "services.grpc_listen in a file every service reads gives them all one gRPC port instead of their SPEC ports")
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
            elif named.get(target, str(target)) != port:
                error(cwhere, f"{kind} port {target}: /healthz and /readyz are on the HTTP port {port}")
            wanted = {"readinessProbe": "/readyz", "livenessProbe": "/healthz"}.get(kind)
            if wanted and wanted in probe_paths.get(role, set()) and http.get("path") != wanted:
                error(cwhere, f"{kind} asks {http.get('path')}, not {wanted}")
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
service_selecting = {}
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
    if len(matches) > 1:
        error(where, f"selector {selector} matches several Deployments ({', '.join(d[1]['metadata']['name'] for d in matches)})")
    for _, deployment in matches:
        service_selecting.setdefault(deployment["metadata"]["name"], []).append(name)
    for port in (doc.get("spec") or {}).get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        for _, deployment in matches:
            declared = set()
            for container in deployment["spec"]["template"]["spec"].get("containers") or []:
                for p in container.get("ports") or []:
                    declared |= {str(p.get("containerPort")), p.get("name")}
            if str(target) not in declared:
                error(where, f"targetPort {target} is not a containerPort of Deployment {deployment['metadata']['name']}")
hpa_targets = {}
for kind in ("HorizontalPodAutoscaler",):
    for name, (path, doc) in by_kind.get(kind, {}).items():
        spec = doc.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("kind") != "Deployment" or ref.get("name") not in deployments:
            error(f"{path} {kind} {name}", f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} is not a Deployment here")
            continue
        hpa_targets.setdefault(ref["name"], []).append(name)
        if not 1 <= int(spec.get("minReplicas", 1)) <= int(spec.get("maxReplicas", 0)):
            error(f"{path} {kind} {name}", f"minReplicas {spec.get('minReplicas')} / maxReplicas {spec.get('maxReplicas')}")
        # A CPU utilization target is a share of the containers' CPU requests.
        for metric in spec.get("metrics") or []:
            resource = (metric.get("resource") or {}).get("name")
            if metric.get("type") == "Resource" and resource:
                containers = deployments[ref["name"]][1]["spec"]["template"]["spec"].get("containers") or []
                if not all(((c.get("resources") or {}).get("requests") or {}).get(resource) for c in containers):
                    error(f"{path} {kind} {name}", f"scales on {resource} utilization, but Deployment {ref['name']} requests no {resource}")

# The split deployment: each of the seven services in one Deployment, selected by one Service
# that carries its ports under their names and SPEC numbers, scaled by an HPA; the service URLs
# name those Services' gRPC ports.
split_k8s = {}
for name, proc in k8s_procs.items():
    if proc["service"]:
        split_k8s.setdefault(proc["service"], []).append(name)
for service, (http_port, grpc_port) in SPEC_SERVICES.items():
    names = split_k8s.get(service, [])
    if len(names) != 1:
        error(k8s_dir, f"`polyrec serve --service {service}` runs in the Deployments {names}: the split deployment has each once")
        continue
    deployment = names[0]
    where = f"{deployments[deployment][0]} Deployment {deployment}"
    if not hpa_targets.get(deployment):
        error(where, "no HorizontalPodAutoscaler scales it")
    selecting = service_selecting.get(deployment, [])
    if len(selecting) != 1:
        error(where, f"selected by the Services {selecting}: one Service per split service")
        continue
    svc_path, svc_doc = services_k8s[selecting[0]]
    svc_ports = {p.get("name"): p for p in (svc_doc.get("spec") or {}).get("ports") or []}
    wanted = {"http": http_port, "grpc": grpc_port}
    for port_name, number in wanted.items():
        entry = svc_ports.get(port_name)
        if number is None:
            if entry:
                error(f"{svc_path} Service {selecting[0]}", f"a port named {port_name}: the {service} service has none")
            continue
        if not entry:
            error(f"{svc_path} Service {selecting[0]}", f"no port named {port_name} ({number})")
            continue
        if str(entry.get("port")) != number:
            error(f"{svc_path} Service {selecting[0]}", f"port {port_name} is {entry.get('port')}, SPEC §3.1 says {number}")
        target = entry.get("targetPort", entry.get("port"))
        if k8s_procs[deployment]["named"].get(target, str(target)) != number:
            error(f"{svc_path} Service {selecting[0]}", f"port {port_name} does not reach the container's {port_name} port {number}")
for where, name, var, target, value in k8s_url_refs:
    for host, port in url_parts(value)[1]:
        labels = host.split(".")
        if len(labels) > 1 and labels[1] != (kustomization or {}).get("namespace"):
            error(where, f"{var}={value}: namespace {labels[1]} is not the one kustomization.yaml sets")
        entry = services_k8s.get(labels[0])
        if not entry:
            error(where, f"{var}={value}: {labels[0]} is not a Service here")
            continue
        svc_port = next((p for p in entry[1]["spec"].get("ports") or [] if str(p.get("port")) == port), None)
        callee = [k8s_procs.get(d) for d in service_selecting if labels[0] in service_selecting[d]]
        if not svc_port:
            error(where, f"{var}={value}: Service {labels[0]} has no port {port}")
        elif not callee or callee[0] is None or callee[0]["service"] != target:
            error(where, f"{var}={value}: Service {labels[0]} does not select the Deployment of `polyrec serve --service {target}`")
        else:
            target_port = svc_port.get("targetPort", svc_port.get("port"))
            if callee[0]["named"].get(target_port, str(target_port)) != callee[0]["grpc"]:
                error(where, f"{var}={value}: port {port} of Service {labels[0]} does not reach the {target} service's gRPC port {callee[0]['grpc']}")
for service in training_services:
    for name in split_k8s.get(service, []):
        if not any(name in users for users in blob_claims.values()):
            error(f"{deployments[name][0]} Deployment {name}", "does not mount the model-artifact PersistentVolumeClaim")
if len(blob_claims) > 1:
    error(k8s_dir, f"model artifacts are spread over several PersistentVolumeClaims: {blob_claims}")
for claim in blob_claims:
    entry = by_kind.get("PersistentVolumeClaim", {}).get(claim)
    if entry and "ReadWriteMany" not in (entry[1].get("spec") or {}).get("accessModes", []):
        error(entry[0], f"PersistentVolumeClaim {claim} holds the shared model artifacts but is not ReadWriteMany")
# The seven services share one internal key.
if len(k8s_keys) > 1:
    error(k8s_dir, f"the split services take {internal_key_var} from different Secret keys ({', '.join(f'{s[0]}/{s[1]}: {n}' for s, n in k8s_keys.items())}): each refuses the others' service tokens")

# NetworkPolicies: the gRPC port of each split service is reachable only from the pods of the
# service that calls the others (recommendation) and from pods labelled as the gateway (there is
# no gateway manifest here; README.md documents the label); HTTP ports from anywhere (the ingress
# controller or gateway, Prometheus's pod scraping). Policies add up: every ingress rule of every
# policy selecting a Deployment that admits its gRPC port is checked.
GATEWAY_LABELS = {"app.kubernetes.io/component": "gateway"}


def pod_labels(deployment):
    return ((deployments[deployment][1]["spec"]["template"].get("metadata") or {}).get("labels")) or {}


def selected(match_labels):
    return [d for d in deployments if all(pod_labels(d).get(k) == v for k, v in match_labels.items())]


def admits_port(rule, number, deployment):
    """An ingress rule's ports include the TCP port `number` of the Deployment's pods (no ports:
    every port; a port by number, with endPort a range, or by container port name)."""
    ports = rule.get("ports")
    if not ports:
        return True
    named = k8s_procs.get(deployment, {}).get("named", {})
    for entry in ports:
        if str(entry.get("protocol", "TCP")) != "TCP":
            continue
        value = entry.get("port")
        if value is None:
            return True
        if isinstance(value, int) or str(value).isdigit():
            if int(value) <= int(number) <= int(entry.get("endPort", value)):
                return True
        elif named.get(value) == number:
            return True
    return False


client_deployment = (split_k8s.get(client_service) or [None])[0]
called = set(service_url_vars.values())


def peer_kind(peer):
    """"client" (the pods of the calling service's Deployment in this namespace), "gateway" (the
    gateway label, optionally in the namespaces of a namespaceSelector with matchLabels), or None."""
    pods = peer.get("podSelector")
    if set(peer) - {"podSelector", "namespaceSelector"} or not pods or pods.get("matchExpressions"):
        return None
    labels = pods.get("matchLabels") or {}
    if labels == GATEWAY_LABELS:
        namespaces = peer.get("namespaceSelector")
        if namespaces is None or ((namespaces.get("matchLabels") or {}) and not namespaces.get("matchExpressions")):
            return "gateway"
        return None
    if "namespaceSelector" not in peer and labels and client_deployment and selected(labels) == [client_deployment]:
        return "client"
    return None


policies = by_kind.get("NetworkPolicy", {})
policy_rules = {}
for pname, (path, doc) in policies.items():
    where = f"{path} NetworkPolicy {pname}"
    spec = doc.get("spec") or {}
    selector = spec.get("podSelector")
    if selector is None or selector.get("matchExpressions"):
        error(where, "spec.podSelector is missing or uses matchExpressions (not checked here; use matchLabels)")
        continue
    targets = selected(selector.get("matchLabels") or {})
    if not targets:
        error(where, f"podSelector {selector.get('matchLabels')} matches no Deployment's pods")
    types = spec.get("policyTypes") or ["Ingress"] + (["Egress"] if "egress" in spec else [])
    if "Egress" in types:
        error(where, "policyTypes has Egress: egress rules are not checked here (the services reach the stores, Kafka and the OTLP collector)")
    if "Ingress" not in types:
        continue
    # Isolated for ingress (even by a policy without rules: then nothing gets in).
    for deployment in targets:
        policy_rules.setdefault(deployment, []).extend((where, rule) for rule in spec.get("ingress") or [])
for deployment in selected(GATEWAY_LABELS):
    error(f"{deployments[deployment][0]} Deployment {deployment}", f"its pods carry the gateway label {GATEWAY_LABELS}: the NetworkPolicies would admit them to every gRPC port")
guarded = []
for deployment, rules in policy_rules.items():
    proc = k8s_procs.get(deployment) or {}
    where = f"{deployments[deployment][0]} Deployment {deployment}"
    # HTTP: from every source.
    if proc.get("http") and not any(admits_port(r, proc["http"], deployment) and not r.get("from") for _, r in rules):
        error(where, f"its NetworkPolicies do not admit every source to the HTTP port {proc['http']} (the ingress controller or gateway, Prometheus)")
for service, (http_port, grpc_port) in SPEC_SERVICES.items():
    if not grpc_port or len(split_k8s.get(service, [])) != 1:
        continue
    deployment = split_k8s[service][0]
    where = f"{deployments[deployment][0]} Deployment {deployment}"
    if deployment not in policy_rules:
        error(where, f"no NetworkPolicy (Ingress) selects its pods: its gRPC port {grpc_port} is open to every pod in the cluster")
        continue
    rules = policy_rules[deployment]
    kinds = set()
    admitting = [(w, r) for w, r in rules if admits_port(r, grpc_port, deployment)]
    for rule_where, rule in admitting:
        if not rule.get("from"):
            error(rule_where, f"an ingress rule admits every source to gRPC port {grpc_port} of {deployment}")
            continue
        for peer in rule["from"]:
            kind = peer_kind(peer)
            if kind is None:
                error(rule_where, f"ingress peer {peer} may reach gRPC port {grpc_port} of {deployment}: only the pods of "
                                  f"{client_deployment} (a podSelector here) and the gateway label {GATEWAY_LABELS} may")
            kinds.add(kind)
    if service in called and "client" not in kinds:
        error(where, f"its NetworkPolicies do not admit {client_deployment} to gRPC port {grpc_port}: the {client_service} service calls it")
    if "gateway" not in kinds:
        error(where, f"its NetworkPolicies do not admit the gateway ({GATEWAY_LABELS}) to gRPC port {grpc_port}")
    guarded.append(f"{deployment}:{grpc_port}")

summary.append(
    f"{k8s_dir}: the seven services of SPEC §3.1 in one Deployment each ({', '.join(n for v in split_k8s.values() for n in v)}), "
    f"each behind one Service with named http/grpc ports at the SPEC numbers and scaled by an HPA; readiness /readyz and "
    f"liveness /healthz on the HTTP port; {len(k8s_url_refs)} service URLs reach the right gRPC port; model artifacts on "
    f"{', '.join(blob_claims) or 'no claim'} (ReadWriteMany); {internal_key_var} from one Secret key "
    f"({', '.join(f'{s[0]}/{s[1]}' for s in k8s_keys)}); gRPC on a non-loopback POLYREC_GRPC_LISTEN at the SPEC port"
)
summary.append(
    f"{k8s_dir}: {len(policies)} NetworkPolicies; the gRPC ports {', '.join(guarded)} admit only {client_deployment} "
    f"(for the services it calls) and the gateway label {GATEWAY_LABELS}, the HTTP ports every source"
)
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
# Static targets and DNS-discovered names (dns_sd_configs: every address of a Compose service
# name) are compose services declaring the port and Kubernetes Services with it (a DNS name may be
# Compose-only when that service runs only in a profile, as the all-in-one server does). Every
# polyrec process is scraped on its HTTP port, under a job named like its Kubernetes Deployment's
# app.kubernetes.io/name (the job prometheus-kubernetes.yml gives its pods), and PolyrecTargetDown
# watches every job.
prometheus = load_all(prometheus_path)[0]
jobs = {}
for job in prometheus.get("scrape_configs") or []:
    for sc in job.get("static_configs") or []:
        jobs.setdefault(job.get("job_name"), []).extend((str(t), False) for t in sc.get("targets") or [])
    for sd in job.get("dns_sd_configs") or []:
        if sd.get("type", "SRV") != "A" or not sd.get("port"):
            error(prometheus_path, f"job {job.get('job_name')}: dns_sd_configs other than type A with a port are not checked")
        jobs.setdefault(job.get("job_name"), []).extend((f"{n}:{sd.get('port')}", True) for n in sd.get("names") or [])
scraped = {}
for job_name, targets in jobs.items():
    for target, discovered in targets:
        host, _, port = target.partition(":")
        scraped.setdefault((host, port), []).append(job_name)
        if host not in services:
            error(prometheus_path, f"scrape target {target}: {host} is not a compose service")
        elif port not in service_ports(services[host]):
            error(prometheus_path, f"scrape target {target}: compose service {host} does not declare port {port}")
        if discovered and host in services and host not in default_profile and host not in services_k8s:
            continue
        if host not in services_k8s:
            error(prometheus_path, f"scrape target {target}: {host} is not a Kubernetes Service in {k8s_dir}")
        elif port not in {str(p.get("port")) for p in services_k8s[host][1]["spec"].get("ports") or []}:
            error(prometheus_path, f"scrape target {target}: Service {host} has no port {port}")
for name, proc in compose_procs.items():
    if (name, proc["http"]) not in scraped:
        error(prometheus_path, f"compose service {name} (`polyrec {proc_label(proc)}`) is not scraped on its HTTP port {proc['http']}")
for name, (path, doc) in deployments.items():
    app = ((doc["spec"]["template"].get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/name")
    proc = k8s_procs.get(name) or {}
    via = [f"{s}:{p.get('port')}" for s in service_selecting.get(name, []) for p in services_k8s[s][1]["spec"].get("ports") or []
           if proc.get("named", {}).get(p.get("targetPort"), str(p.get("targetPort"))) == proc.get("http")]
    if app not in jobs:
        error(prometheus_path, f"no job {app}: the pods of Deployment {name} (app.kubernetes.io/name {app}) are that job under prometheus-kubernetes.yml")
    elif not any(target in via for target, _ in jobs[app]):
        error(prometheus_path, f"job {app} does not scrape Deployment {name} through its Service's HTTP port ({', '.join(via) or 'none'})")
rules = load_all("deploy/prometheus/alerts.yml")[0]
down = [str(r.get("expr")) for g in rules.get("groups") or [] for r in g.get("rules") or [] if r.get("alert") == "PolyrecTargetDown"]
m = re.search(r'up\{job=~"([^"]+)"\}', down[0]) if down else None
if not m:
    error("deploy/prometheus/alerts.yml", 'no PolyrecTargetDown rule on up{job=~"…"}')
else:
    for job_name in jobs:
        if not re.fullmatch(m.group(1), job_name):
            error("deploy/prometheus/alerts.yml", f"PolyrecTargetDown's job regex {m.group(1)!r} misses job {job_name}")
summary.append(
    f"{prometheus_path}: {len(jobs)} jobs, {sum(len(v) for v in jobs.values())} targets (static and DNS) are compose services and "
    f"Kubernetes Services with those ports; every polyrec process is scraped on its HTTP port, jobs are named like the "
    f"Deployments' pods, PolyrecTargetDown covers every job"
)

# ---------------------------------------------------------------- --service names in every deploy file
# ---------------------------------------------------------------- POLYREC_* names in every deploy file
deploy_files = [dockerfile_path, ".dockerignore"] + sorted(
    p for p in glob.glob("deploy/**/*", recursive=True) if os.path.isfile(p)
)
used = {}
service_names = 0
for path in deploy_files:
    if not os.path.exists(path):
        continue
    for number, line in enumerate(read(path).splitlines(), 1):
        for var in re.findall(r"(?<![A-Za-z0-9_])POLYREC_[A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_])", line):
            used.setdefault(var, []).append(f"{path}:{number}")
        # `--service NAME`, `--service=NAME`, "--service", "NAME" (NAME in capitals: a placeholder).
        for value in re.findall(r"""--service(?:=|\s+|["']\s*,\s*["'])([A-Za-z0-9_-]+)""", line):
            service_names += 1
            if not value.isupper() and spec_service(value) is None:
                error(f"{path}:{number}", f"--service {value}: not a service of SPEC §3.1 ({', '.join(SPEC_SERVICES)})")
for var, places in sorted(used.items()):
    if var not in allowed_env:
        error(places[0], f"{var} is not read by the binary ({len(places)} uses; no \"{var}\" literal in crates/*/src)")
summary.insert(
    0,
    f"env names: the binary reads {len(allowed_env)} POLYREC_* and {len(allowed_otel)} OTEL_* names "
    f"(string literals in {len(rust_sources)} files under crates/*/src); deploy files use {len(used)} POLYREC_* names, "
    f"all of them read; {service_names} --service values, all SPEC §3.1 names",
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
