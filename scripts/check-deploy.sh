#!/usr/bin/env bash
# Checks the monitoring files under deploy/:
#   - deploy/prometheus/alerts.yml       with `promtool check rules`
#   - deploy/prometheus/prometheus.yml   with `promtool check config` (which loads alerts.yml too)
#   - deploy/grafana/polyrec-dashboard.json parses as JSON, its panels do not overlap and every
#     query is filtered by the dashboard's `job` variable
#   - every PromQL expression of the dashboard and the alert rules names only metrics polyrec
#     exposes (the allow-list below) or `up`
# Needs promtool (Debian: `apt-get install prometheus`; or PROMTOOL=/path/to/promtool) and
# python3 with PyYAML (Debian: python3-yaml).
set -euo pipefail

cd "$(dirname "$0")/.."

DASHBOARD=deploy/grafana/polyrec-dashboard.json
RULES=deploy/prometheus/alerts.yml
CONFIG=deploy/prometheus/prometheus.yml
PROMTOOL="${PROMTOOL:-promtool}"

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
python3 -c "$check_exprs" "$DASHBOARD" "$RULES" "${allowed[@]}"

banner "deploy files OK"
