"""Retries, errors and headers, against httpx's mock transport (no server)."""

from __future__ import annotations

import httpx
import pytest

from polyrec_client import AsyncPolyrec, Polyrec, PolyrecError
from polyrec_client._sync import client as sync_client


def scripted(answers: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    return httpx.MockTransport(handle)


def error(status: int, code: str, retry_after: str | None = None) -> httpx.Response:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return httpx.Response(status, json={"code": code, "message": "m"}, headers=headers)


def test_429_and_503_are_retried_waiting_what_retry_after_says(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(sync_client, "_sleep", waits.append)
    seen: list[httpx.Request] = []
    answers = [error(429, "rate_limited", "2"), error(503, "unavailable", "1"), httpx.Response(200, json={"scenarios": []})]
    with Polyrec("http://x", tenant="acme", token="secret", transport=scripted(answers, seen)) as polyrec:
        assert polyrec.scenarios.list() == {"scenarios": []}
    assert waits == [2.0, 1.0]
    assert len(seen) == 3
    assert seen[0].headers["authorization"] == "Bearer secret"
    assert seen[0].headers["x-tenant-id"] == "acme"


def test_retries_stop_after_the_limit_and_raise_the_last_error(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(sync_client, "_sleep", waits.append)
    seen: list[httpx.Request] = []
    answers = [error(503, "unavailable") for _ in range(3)]
    with Polyrec("http://x", tenant="acme", retries=2, backoff=0.5, transport=scripted(answers, seen)) as polyrec:
        with pytest.raises(PolyrecError) as raised:
            polyrec.scenarios.list()
    assert (raised.value.status, raised.value.code, len(seen)) == (503, "unavailable", 3)
    # No Retry-After: full jitter under 0.5 × 2^attempt.
    assert len(waits) == 2 and 0 <= waits[0] <= 0.5 and 0 <= waits[1] <= 1.0


def test_a_long_retry_after_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(sync_client, "_sleep", waits.append)
    answers = [error(429, "rate_limited", "3600"), httpx.Response(200, json={"scenarios": []})]
    with Polyrec("http://x", tenant="acme", max_wait=5, transport=scripted(answers, [])) as polyrec:
        polyrec.scenarios.list()
    assert waits == [5]


@pytest.mark.parametrize("status,code", [(400, "malformed_json"), (404, "not_found"), (409, "scenario_exists"), (500, "internal")])
def test_other_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch, status: int, code: str) -> None:
    monkeypatch.setattr(sync_client, "_sleep", lambda _: pytest.fail("no wait"))
    seen: list[httpx.Request] = []
    with Polyrec("http://x", tenant="acme", transport=scripted([error(status, code)], seen)) as polyrec:
        with pytest.raises(PolyrecError) as raised:
            polyrec.scenarios.get("feed")
    assert (raised.value.status, raised.value.code, len(seen)) == (status, code, 1)


def test_no_answer_is_a_network_error_and_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_client, "_sleep", lambda _: None)
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    with Polyrec("http://x", tenant="acme", retries=1, transport=httpx.MockTransport(refuse)) as polyrec:
        with pytest.raises(PolyrecError) as raised:
            polyrec.scenarios.list()
    assert (raised.value.status, raised.value.code, len(calls)) == (None, "network_error", 2)


def test_an_answer_without_an_error_body_still_raises_with_its_status() -> None:
    answers = [httpx.Response(502, text="<html>bad gateway</html>")]
    with Polyrec("http://x", tenant="acme", transport=scripted(answers, [])) as polyrec:
        with pytest.raises(PolyrecError) as raised:
            polyrec.scenarios.list()
    assert (raised.value.status, raised.value.code) == (502, "http_502")


def test_send_all_resends_the_events_answered_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_client, "_sleep", lambda _: None)
    seen: list[httpx.Request] = []

    def report(accepted: int, errors: list[dict[str, object]]) -> httpx.Response:
        body = {"accepted": accepted, "rejected": len(errors), "duplicates": 0, "event_ids": [], "results": [], "errors": errors}
        return httpx.Response(200, json=body)

    answers = [
        report(1, [{"index": 1, "code": "unavailable", "message": "bus"}, {"index": 2, "code": "invalid_event", "message": "no"}]),
        report(1, []),
    ]
    events = [{"event_type": "click", "user_id": "u", "item_id": f"i{i}", "scenario_id": "s"} for i in range(3)]
    with Polyrec("http://x", tenant="acme", transport=scripted(answers, seen)) as polyrec:
        summary = polyrec.behaviors.send_all(events)  # type: ignore[arg-type]
    assert (summary.accepted, summary.batches, [r["code"] for r in summary.rejected]) == (2, 2, ["invalid_event"])
    import json

    first, second = (json.loads(r.content)["events"] for r in seen)
    assert all(e["event_id"] for e in first), "every event got an id before the first send"
    assert second == [first[1]], "only the unavailable event, with the same id"


@pytest.mark.anyio
async def test_the_async_client_retries_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from polyrec_client._async import client as async_client

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(async_client, "_sleep", sleep)
    answers = [error(429, "rate_limited", "1"), httpx.Response(200, json={"scenarios": []})]
    async with AsyncPolyrec("http://x", tenant="acme", transport=scripted(answers, [])) as polyrec:
        assert await polyrec.scenarios.list() == {"scenarios": []}
    assert waits == [1.0]


def test_a_post_is_not_sent_again_after_a_lost_answer_but_is_after_a_refused_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sync_client, "_sleep", lambda _: None)
    calls: list[httpx.Request] = []

    def lose(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("lost", request=request)

    with Polyrec("http://x", tenant="acme", retries=3, transport=httpx.MockTransport(lose)) as polyrec:
        with pytest.raises(PolyrecError) as raised:
            polyrec.jobs.train("feed")
        assert (raised.value.code, len(calls)) == ("timeout", 1), "a training job is not queued twice"
        with pytest.raises(PolyrecError):
            polyrec.behaviors.batch([{"event_type": "click", "user_id": "u", "item_id": "i", "scenario_id": "s"}])
        assert len(calls) == 2, "events without ids are not sent twice"
        event = {"event_type": "click", "user_id": "u", "item_id": "i", "scenario_id": "s", "event_id": "e1"}
        with pytest.raises(PolyrecError):
            polyrec.behaviors.batch([event])  # type: ignore[list-item]
        assert len(calls) == 6, "events with ids are: 1 + 3 retries"
        with pytest.raises(PolyrecError):
            polyrec.scenarios.get("feed")
        assert len(calls) == 10, "a GET is"

    refused: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        refused.append(request)
        raise httpx.ConnectError("refused", request=request)

    with Polyrec("http://x", tenant="acme", retries=2, transport=httpx.MockTransport(refuse)) as polyrec:
        with pytest.raises(PolyrecError):
            polyrec.jobs.train("feed")
    assert len(refused) == 3, "nothing was sent: a POST is retried"


def test_readyz_answers_a_503_at_once_without_retrying(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_client, "_sleep", lambda _: pytest.fail("no wait"))
    seen: list[httpx.Request] = []
    answers = [httpx.Response(503, json={"status": "not_ready", "failing": ["bus"]})]
    with Polyrec("http://x", tenant="acme", transport=scripted(answers, seen)) as polyrec:
        assert polyrec.ops.readyz() is False
    assert len(seen) == 1
