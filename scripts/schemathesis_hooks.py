"""Schemathesis hooks for polyrec's contract run (scripts/schemathesis.sh).

The bulk item import takes NDJSON (`application/x-ndjson`), which schemathesis has no serializer
for: a generated string body is sent as it is, anything else as one JSON line.
"""

import json

import schemathesis
from schemathesis.core import NOT_SET


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return (json.dumps(value) + "\n").encode()


# Rules the server keeps that JSON Schema cannot state, so the document cannot either: each
# relates two values, or a value and the server's clock. A positive case (one the document says
# must be accepted) that breaks one is brought within it here, and nothing else is changed; the
# server's answers to breaking them (422 with the code named) are tested in crates/polyrec/tests.
# docs/api-contract.md lists them.

import datetime
import time

DAY_MS = 86_400_000
MAX_WINDOW_MS = 366 * DAY_MS  # analytics windows: `invalid_time_range`
MAX_EVENT_AGE_MS = 3650 * DAY_MS  # events: `invalid_timestamp`
MAX_EVENT_AHEAD_MS = 10 * 60_000


def _ms(value):
    """Epoch ms of an RFC 3339 string, epoch digits or number, as polyrec_core::timefmt reads it."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if number is not None:
        return number * 1000 if number < 1e11 else number
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return (parsed - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)).total_seconds() * 1000


def _positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


def _path(case):
    return case.operation.path


def _window(query):
    """`from` ≤ `to` and at most 366 days apart (`to` defaults to now, `from` to `to` − 24 h)."""
    if not query or query.get("from") is None:
        return
    start = _ms(query.get("from"))
    end = _ms(query.get("to")) if query.get("to") is not None else time.time() * 1000
    if start is None or end is None:
        return
    if start > end or end - start > MAX_WINDOW_MS:
        if query.get("to") is not None:
            query["from"] = query["to"]
        else:
            del query["from"]


def _trend_filter(query):
    """One of device, category and experiment_id (`too_many_filters`); group needs its experiment."""
    if not query:
        return
    kept = False
    for name in ("device", "category", "experiment_id"):
        if name in query:
            if kept:
                del query[name]
            kept = True
    if "group" in query and "experiment_id" not in query:
        del query["group"]


def _event_time(event):
    """Within ten years before and ten minutes after the server's clock (`invalid_timestamp`)."""
    if not isinstance(event, dict) or event.get("timestamp") is None:
        return
    at = _ms(event["timestamp"])
    now = time.time() * 1000
    if at is None or not (now - MAX_EVENT_AGE_MS + 60_000 < at < now + MAX_EVENT_AHEAD_MS - 60_000):
        event["timestamp"] = None


def _config(config):
    """Each channel once (`invalid_config`); a strategy's own params are its typed struct's
    (fuzz/fuzz_targets/scenario_config.rs and the engine's tests), so positive cases send none."""
    if not isinstance(config, dict):
        return
    recall = config.get("recall")
    if isinstance(recall, dict) and isinstance(recall.get("strategies"), list):
        seen, strategies = set(), []
        for strategy in recall["strategies"]:
            if isinstance(strategy, dict) and strategy.get("name") not in seen:
                seen.add(strategy.get("name"))
                strategy.pop("params", None)
                strategies.append(strategy)
        recall["strategies"] = strategies
    for section in ("rank",):
        if isinstance(config.get(section), dict):
            config[section].pop("params", None)
    rerank = config.get("rerank")
    if isinstance(rerank, dict) and isinstance(rerank.get("rules"), list):
        # business_rules is nothing without its params' rules.
        rerank["rules"] = [r for r in rerank["rules"] if isinstance(r, dict) and r.get("name") != "business_rules"]
        for rule in rerank["rules"]:
            rule.pop("params", None)


def _experiment(body):
    """Group ids unique, traffic ratios summing to at most 1, group configs merge patches that
    keep the scenario's config valid (`{}` here), start before end (`invalid_experiment`)."""
    groups = body.get("groups") if isinstance(body, dict) else None
    if not isinstance(groups, list):
        return
    seen, unique = set(), []
    for group in groups:
        if isinstance(group, dict) and group.get("group_id") not in seen:
            seen.add(group.get("group_id"))
            if "config" in group:
                group["config"] = {}
            unique.append(group)
    total = 0.0
    kept = []
    for group in unique:
        ratio = group.get("traffic_ratio")
        if isinstance(ratio, (int, float)) and (not kept or total + ratio <= 1):
            total += ratio
            kept.append(group)
    body["groups"] = kept
    start, end = _ms(body.get("start_time")), _ms(body.get("end_time"))
    if start is not None and end is not None and start >= end:
        body["end_time"] = None


def _no_nul_keys(value):
    """No key with a NUL character, however deep, in a context or item metadata
    (`invalid_context`, `invalid_item`): MongoDB keeps keys as C strings."""
    if isinstance(value, dict):
        return {key.replace("\x00", ""): _no_nul_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_no_nul_keys(item) for item in value]
    return value


@schemathesis.hook
def filter_case(ctx, case):
    # An NDJSON upload is text on the wire: a body generated as another JSON type (a negative
    # case of its `string` schema) cannot be sent as one.
    if case.operation.path.endswith("/items/bulk") and case.body is not NOT_SET:
        return isinstance(case.body, (str, bytes))
    return True


@schemathesis.hook
def map_case(ctx, case):
    if not _positive(case):
        return case
    path, method = _path(case), case.operation.method.upper()
    if case.query and "from" in case.query:
        _window(case.query)
    if path == "/api/v1/analytics/trends":
        _trend_filter(case.query)
    if path == "/api/v1/analytics/distributions" and case.query and case.query.get("by") != "group":
        case.query.pop("experiment_id", None)
    body = case.body if isinstance(case.body, dict) else None
    if body is None:
        return case
    if path == "/api/v1/behaviors" and method == "POST":
        _event_time(body)
    if path in ("/api/v1/behaviors", "/api/v1/recommend") and isinstance(body.get("context"), dict):
        body["context"] = _no_nul_keys(body["context"])
    if path.startswith("/api/v1/scenarios/{scenario_id}/items") and isinstance(body.get("metadata"), dict):
        body["metadata"] = _no_nul_keys(body["metadata"])
    if path.startswith("/api/v1/scenarios") and "/experiments" not in path and method in ("POST", "PUT"):
        _config(body.get("config"))
    if path.startswith("/api/v1/scenarios/{scenario_id}") and method == "PATCH" and "config" in body:
        body["config"] = {}
    if "/experiments" in path and method in ("POST", "PUT"):
        _experiment(body)
    return case
