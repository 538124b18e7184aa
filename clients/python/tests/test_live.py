"""Against a live all-in-one server (`POLYREC_URL`)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, cast

import pytest

from polyrec_client import AsyncPolyrec, Polyrec, PolyrecError
from polyrec_client.models import CreateScenario, EventInput, ItemInput

ROOT = Path(__file__).resolve().parents[3]
HEURISTIC_VLOG = ROOT / "examples" / "scenarios" / "vlog_main_feed.heuristic.json"


def vlog() -> CreateScenario:
    return cast(CreateScenario, json.loads(HEURISTIC_VLOG.read_text()))


def event(kind: str, user: str, item: str, scenario: str = "vlog_main_feed") -> EventInput:
    return {"event_type": kind, "user_id": user, "item_id": item, "scenario_id": scenario}  # type: ignore[typeddict-item]


# Each operation of /openapi.json (tag, operationId) and the client method that sends it.
ROUTES = {
    ("analytics", "dashboard"): "analytics.dashboard",
    ("analytics", "distributions"): "analytics.distributions",
    ("analytics", "funnel"): "analytics.funnel",
    ("analytics", "top_items"): "analytics.top_items",
    ("analytics", "trends"): "analytics.trends",
    ("behaviors", "track"): "behaviors.track",
    ("behaviors", "track_batch"): "behaviors.batch",
    ("behaviors", "dead_letters"): "behaviors.dead_letters",
    ("behaviors", "replay"): "behaviors.replay",
    ("behaviors", "stats"): "behaviors.stats",
    ("jobs", "job"): "jobs.get",
    ("jobs", "jobs"): "jobs.list",
    ("jobs", "train"): "jobs.train",
    ("jobs", "train_cf"): "jobs.train_cf",
    ("jobs", "precompute"): "jobs.precompute",
    ("recommend", "recommend"): "recommend",
    ("scenarios", "list"): "scenarios.list",
    ("scenarios", "create"): "scenarios.create",
    ("scenarios", "get"): "scenarios.get",
    ("scenarios", "replace"): "scenarios.replace",
    ("scenarios", "delete"): "scenarios.delete",
    ("scenarios", "patch"): "scenarios.patch",
    ("scenarios", "versions"): "scenarios.versions",
    ("experiments", "list"): "experiments.list",
    ("experiments", "create"): "experiments.create",
    ("experiments", "get"): "experiments.get",
    ("experiments", "replace"): "experiments.replace",
    ("experiments", "delete"): "experiments.delete",
    ("experiments", "results"): "experiments.results",
    ("experiments", "start"): "experiments.start",
    ("experiments", "stop"): "experiments.stop",
    ("items", "list"): "items.list",
    ("items", "create"): "items.create",
    ("items", "bulk"): "items.bulk",
    ("items", "get"): "items.get",
    ("items", "delete"): "items.delete",
    ("items", "patch"): "items.patch",
    ("realtime", "hot"): "realtime.hot",
    ("realtime", "item_stats"): "realtime.item_stats",
    ("realtime", "profile"): "realtime.profile",
    ("realtime", "realtime_metrics"): "realtime.metrics",
    ("models", "list"): "models.list",
    ("models", "activate"): "models.activate",
    ("models", "rollback"): "models.rollback",
    ("ops", "healthz"): "ops.healthz",
    ("ops", "readyz"): "ops.readyz",
    ("ops", "metrics"): "ops.metrics",
}


def openapi(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/openapi.json") as answer:
        return cast(dict[str, Any], json.load(answer))


def test_every_operation_of_the_servers_document_has_a_method(url: str, polyrec: Polyrec) -> None:
    document = openapi(url)
    operations = {
        (operation["tags"][0], operation["operationId"])
        for methods in document["paths"].values()
        for name, operation in methods.items()
        if name in ("get", "post", "put", "patch", "delete")
    }
    assert operations == set(ROUTES), f"not in ROUTES: {operations - set(ROUTES)}; gone: {set(ROUTES) - operations}"
    for client in (polyrec, AsyncPolyrec(url, tenant="t")):
        for dotted in ROUTES.values():
            target: Any = client
            for part in dotted.split("."):
                target = getattr(target, part)
            assert callable(target), dotted


def test_the_generated_files_are_those_of_the_live_document(url: str) -> None:
    generate = Path(__file__).resolve().parents[1] / "generate.py"
    result = subprocess.run(
        [sys.executable, str(generate), "--openapi", f"{url}/openapi.json", "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_scenario_round_trip(polyrec: Polyrec) -> None:
    created = polyrec.scenarios.create(vlog())
    assert (created["scenario_id"], created["version"]) == ("vlog_main_feed", 1)
    assert polyrec.scenarios.get("vlog_main_feed")["name"] == "Short-video main feed"
    patched = polyrec.scenarios.patch("vlog_main_feed", {"name": "Renamed"})
    assert (patched["name"], patched["version"]) == ("Renamed", 2)
    assert [s["scenario_id"] for s in polyrec.scenarios.list()["scenarios"]] == ["vlog_main_feed"]
    assert [v["version"] for v in polyrec.scenarios.versions("vlog_main_feed")["versions"]] == [2, 1]
    polyrec.scenarios.delete("vlog_main_feed")
    with pytest.raises(PolyrecError) as missing:
        polyrec.scenarios.get("vlog_main_feed")
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert missing.value.request_id


def test_a_validation_error_carries_its_code_and_the_paths_to_fix(polyrec: Polyrec) -> None:
    bad = vlog()
    bad["config"]["recall"]["strategies"][0]["weight"] = 7
    with pytest.raises(PolyrecError) as refused:
        polyrec.scenarios.create(bad)
    assert (refused.value.status, refused.value.code) == (422, "invalid_config")
    assert [e["path"] for e in refused.value.errors] == ["config.recall.strategies[0].weight"]


def test_no_tenant_is_the_servers_missing_tenant(url: str) -> None:
    with Polyrec(url, tenant="") as anonymous, pytest.raises(PolyrecError) as refused:
        anonymous.scenarios.list()
    assert refused.value.code in ("missing_tenant", "invalid_tenant_id"), refused.value


def test_items_page_by_page_visit_every_item_once(polyrec: Polyrec) -> None:
    polyrec.scenarios.create(vlog())
    polyrec.items.create("vlog_main_feed", {"item_id": "first", "metadata": {"category": "music"}})
    items: list[ItemInput] = [{"item_id": f"v{i:02}", "metadata": {"category": "sports"}} for i in range(23)]
    report = polyrec.items.bulk("vlog_main_feed", items)
    assert report["rejected"] == 0, report
    seen = [item["item_id"] for item in polyrec.items.iterate("vlog_main_feed", limit=5)]
    assert sorted(seen) == sorted(["first"] + [f"v{i:02}" for i in range(23)])
    assert len(seen) == len(set(seen)) == 24
    page = polyrec.items.list("vlog_main_feed", limit=5)
    assert len(page["items"]) == 5 and page.get("next_cursor")
    patched = polyrec.items.patch("vlog_main_feed", "first", {"metadata": {"category": "cooking"}})
    assert patched["metadata"]["category"] == "cooking"
    polyrec.items.delete("vlog_main_feed", "first")
    with pytest.raises(PolyrecError) as gone:
        polyrec.items.get("vlog_main_feed", "first")
    assert gone.value.code == "not_found"


def test_send_all_batches_and_a_resend_is_stored_once(polyrec: Polyrec) -> None:
    polyrec.scenarios.create(vlog())
    events = [{**event("click", f"u{i % 7}", f"v{i % 11}"), "event_id": f"e-{i}"} for i in range(1_234)]
    first = polyrec.behaviors.send_all(cast(list[EventInput], events), batch_size=500)
    assert (first.accepted, first.duplicates, first.batches, first.rejected) == (1_234, 0, 3, [])
    again = polyrec.behaviors.send_all(cast(list[EventInput], events[:600]), batch_size=250)
    assert (again.accepted, again.duplicates, again.batches) == (0, 600, 3)
    bad = polyrec.behaviors.send_all([event("click", "u1", "v1"), event("telepathy", "u1", "v2")])
    assert bad.accepted == 1
    assert [(r["code"], r["event"]["event_type"]) for r in bad.rejected] == [("invalid_event_type", "telepathy")]


def test_recommend_answers_from_the_events(polyrec: Polyrec) -> None:
    polyrec.scenarios.create(vlog())
    polyrec.items.bulk("vlog_main_feed", [{"item_id": f"v{i}", "metadata": {"category": "music"}} for i in range(8)])
    polyrec.behaviors.send_all([event("click", f"u{u}", f"v{i}") for u in range(4) for i in range(u, u + 3)])
    answer: dict[str, Any] = {}
    for _ in range(100):
        answer = cast(dict[str, Any], polyrec.recommend("u0", "vlog_main_feed", count=5, explain=True))
        if answer["items"]:
            break
        time.sleep(0.1)
    assert answer["items"], answer
    assert all(item["item_id"].startswith("v") for item in answer["items"])
    assert answer["items"][0]["stages"], "explain shows the stages"


def test_ops(polyrec: Polyrec) -> None:
    assert polyrec.ops.healthz() and polyrec.ops.readyz()
    assert "polyrec_" in polyrec.ops.metrics()


@pytest.mark.anyio
async def test_the_async_client_does_the_same(url: str, tenant: str) -> None:
    async with AsyncPolyrec(url, tenant=tenant) as polyrec:
        await polyrec.scenarios.create(vlog())
        await polyrec.items.bulk("vlog_main_feed", [{"item_id": f"v{i}", "metadata": {}} for i in range(7)])
        seen = [item["item_id"] async for item in polyrec.items.iterate("vlog_main_feed", limit=3)]
        assert sorted(seen) == [f"v{i}" for i in range(7)]
        summary = await polyrec.behaviors.send_all([event("click", "u1", "v1"), event("click", "u2", "v1")])
        assert summary.accepted == 2
        job = await polyrec.jobs.train("vlog_main_feed", {"models": ["als"]})
        finished = await polyrec.jobs.wait(job["job_id"], timeout=300)
        assert finished["state"] in ("succeeded", "failed"), finished
        with pytest.raises(PolyrecError) as refused:
            await polyrec.experiments.get("vlog_main_feed", "nope")
        assert refused.value.code == "not_found"
