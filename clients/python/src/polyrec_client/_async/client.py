"""The asynchronous client. `polyrec_client._sync.client` is generated from this file by
`unasync` (`python generate.py`): edit this one only."""

from __future__ import annotations

import asyncio
import json
import time as _clock
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, cast
from urllib.parse import quote

import httpx

from .. import _backoff
from .._errors import PolyrecError, error_from_answer
from ..models import (
    Accepted,
    BatchReport,
    BulkReport,
    CfReport,
    CreateExperiment,
    CreateScenario,
    Dashboard,
    DeadLetterPage,
    Distribution,
    EventInput,
    EventStats,
    ExperimentList,
    ExperimentResults,
    ExperimentView,
    Funnel,
    HotItems,
    ItemInput,
    ItemPage,
    ItemPatch,
    ItemStats,
    ItemView,
    JobList,
    JobRecord,
    ModelList,
    ModelView,
    PatchScenario,
    PrecomputeRequest,
    RealtimeMetrics,
    RecommendResponse,
    ReplaceExperiment,
    ReplaceScenario,
    ReplayReport,
    ReplayRequest,
    ScenarioHistory,
    ScenarioList,
    ScenarioView,
    TopItems,
    TrainRequest,
    Trend,
    UserProfile,
)
from .._summary import SendSummary

Time = str | int
"""A time bound of the analytics routes: RFC 3339, or milliseconds since the epoch."""

# Codes of events in a batch answer that may be sent again as they are.
_RESEND = frozenset({"unavailable", "timeout", "overloaded"})
# The server's largest batch.
MAX_BATCH = 1000
# Methods whose request may be sent twice with the effect of once.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
# How the client waits between tries (the tests replace it).
_sleep = asyncio.sleep


def _query(**values: Any) -> dict[str, Any]:
    """Query parameters without the ones left out (`from_` is sent as `from`)."""
    return {key.rstrip("_"): value for key, value in values.items() if value is not None}


def _segment(value: str) -> str:
    """A path segment, percent-encoded."""
    return quote(value, safe="")


class AsyncPolyrec:
    """A client of one polyrec tenant.

    ```python
    async with AsyncPolyrec("http://127.0.0.1:8000", tenant="acme", token=None) as polyrec:
        answer = await polyrec.recommend("user1", "vlog_main_feed", count=10)
    ```

    Every call raises `PolyrecError` on an error answer. 429 and 503 answers and failures to
    connect are retried up to `retries` times, waiting what the server's `Retry-After` says (else
    an exponential backoff with jitter from `backoff` seconds), never more than `max_wait`
    seconds per wait; a timeout or a connection lost after sending is retried for idempotent
    requests only (`request`'s rule: not a POST, unless its events all carry `event_id`s, which
    `behaviors.send_all` gives them). Other errors are not retried.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        tenant: str,
        token: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        max_wait: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        base_headers = {"X-Tenant-Id": tenant, "User-Agent": "polyrec-client-python"}
        if token is not None:
            base_headers["Authorization"] = f"Bearer {token}"
        base_headers.update(headers or {})
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=base_headers, timeout=timeout, transport=transport
        )
        self.tenant = tenant
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.scenarios = AsyncScenarios(self)
        self.items = AsyncItems(self)
        self.behaviors = AsyncBehaviors(self)
        self.jobs = AsyncJobs(self)
        self.models = AsyncModels(self)
        self.experiments = AsyncExperiments(self)
        self.realtime = AsyncRealtime(self)
        self.analytics = AsyncAnalytics(self)
        self.ops = AsyncOps(self)

    async def __aenter__(self) -> AsyncPolyrec:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        retries: int | None = None,
    ) -> httpx.Response:
        """Sends one request with the retries; returns a 2xx answer, raises `PolyrecError` else.

        429 and 503 (the server did not do the work) and failures to connect (nothing was sent)
        are retried for every request; a timeout or a connection lost after sending only for an
        `idempotent` one — by default GET, PUT, PATCH (a merge patch) and DELETE, not POST, which
        could then be done twice (a training job queued twice, an event without `event_id`
        stored twice). `retries` overrides the client's for this request.
        """
        retries = self.retries if retries is None else retries
        if idempotent is None:
            idempotent = method.upper() in _IDEMPOTENT
        attempt = 0
        while True:
            sent = True
            try:
                response = await self._http.request(
                    method,
                    path,
                    params=params,
                    content=content,
                    json=json_body if content is None else None,
                    headers=headers,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                sent = False
                error = PolyrecError(None, "network_error", f"cannot reach {self._http.base_url}{path}: {exc}")
            except httpx.TimeoutException as exc:
                error = PolyrecError(None, "timeout", f"no answer from {self._http.base_url}{path}: {exc}")
            except httpx.TransportError as exc:
                error = PolyrecError(None, "network_error", f"{self._http.base_url}{path}: {exc}")
            else:
                if response.is_success:
                    return response
                error = error_from_answer(response.status_code, response.headers, response.text)
            retry = error.status in (429, 503) or (error.status is None and (idempotent or not sent))
            if not retry or attempt >= retries:
                raise error
            await _sleep(_backoff.delay(attempt, error.retry_after, base=self.backoff, cap=self.max_wait))
            attempt += 1

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request`, answering the decoded JSON body (None for an empty one)."""
        response = await self.request(method, path, **kwargs)
        return response.json() if response.content else None

    async def recommend(
        self,
        user_id: str,
        scenario_id: str,
        *,
        count: int | None = None,
        context: Mapping[str, Any] | None = None,
        explain: bool | None = None,
        exclude_item_ids: list[str] | None = None,
        request_id: str | None = None,
    ) -> RecommendResponse:
        """`POST /api/v1/recommend`: up to `count` items for the user."""
        body = {
            key: value
            for key, value in {
                "scenario_id": scenario_id,
                "count": count,
                "context": context,
                "explain": explain,
                "exclude_item_ids": exclude_item_ids,
            }.items()
            if value is not None
        }
        headers = {"X-User-Id": user_id}
        if request_id is not None:
            headers["X-Request-Id"] = request_id
        return cast(RecommendResponse, await self.call("POST", "/api/v1/recommend", json_body=body, headers=headers))


class _Group:
    def __init__(self, client: AsyncPolyrec) -> None:
        self._client = client

    def _scenario(self, scenario_id: str, rest: str = "") -> str:
        return f"/api/v1/scenarios/{_segment(scenario_id)}{rest}"


class AsyncScenarios(_Group):
    """Scenario configurations (`/api/v1/scenarios`)."""

    async def list(self) -> ScenarioList:
        return cast(ScenarioList, await self._client.call("GET", "/api/v1/scenarios"))

    async def create(self, scenario: CreateScenario) -> ScenarioView:
        return cast(ScenarioView, await self._client.call("POST", "/api/v1/scenarios", json_body=scenario))

    async def get(self, scenario_id: str) -> ScenarioView:
        return cast(ScenarioView, await self._client.call("GET", self._scenario(scenario_id)))

    async def replace(self, scenario_id: str, scenario: ReplaceScenario) -> ScenarioView:
        return cast(ScenarioView, await self._client.call("PUT", self._scenario(scenario_id), json_body=scenario))

    async def patch(self, scenario_id: str, patch: PatchScenario) -> ScenarioView:
        """A JSON merge patch: what it leaves out stays, `None` removes."""
        return cast(ScenarioView, await self._client.call("PATCH", self._scenario(scenario_id), json_body=patch))

    async def delete(self, scenario_id: str) -> None:
        await self._client.call("DELETE", self._scenario(scenario_id))

    async def versions(self, scenario_id: str) -> ScenarioHistory:
        return cast(ScenarioHistory, await self._client.call("GET", self._scenario(scenario_id, "/versions")))


class AsyncItems(_Group):
    """A scenario's catalog (`/api/v1/scenarios/{id}/items`)."""

    async def list(
        self,
        scenario_id: str,
        *,
        category: str | None = None,
        status: str | None = None,
        updated_since: Time | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> ItemPage:
        """One page; pass its `next_cursor` as `cursor` for the next (or use `iterate`)."""
        params = _query(category=category, status=status, updated_since=updated_since, cursor=cursor, limit=limit)
        return cast(ItemPage, await self._client.call("GET", self._scenario(scenario_id, "/items"), params=params))

    async def iterate(
        self,
        scenario_id: str,
        *,
        category: str | None = None,
        status: str | None = None,
        updated_since: Time | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[ItemView]:
        """Every item, page after page (`limit` per page)."""
        cursor: str | None = None
        while True:
            page = await self.list(
                scenario_id, category=category, status=status, updated_since=updated_since, cursor=cursor, limit=limit
            )
            for item in page["items"]:
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def create(self, scenario_id: str, item: ItemInput) -> ItemView:
        return cast(ItemView, await self._client.call("POST", self._scenario(scenario_id, "/items"), json_body=item))

    async def bulk(self, scenario_id: str, items: Iterable[ItemInput]) -> BulkReport:
        """Creates or replaces many items in one NDJSON upload; the report lists the lines refused."""
        body = "".join(json.dumps(item, separators=(",", ":")) + "\n" for item in items).encode()
        return cast(
            BulkReport,
            await self._client.call(
                "POST",
                self._scenario(scenario_id, "/items/bulk"),
                content=body,
                headers={"Content-Type": "application/x-ndjson"},
            ),
        )

    async def get(self, scenario_id: str, item_id: str) -> ItemView:
        return cast(ItemView, await self._client.call("GET", self._scenario(scenario_id, f"/items/{_segment(item_id)}")))

    async def patch(self, scenario_id: str, item_id: str, patch: ItemPatch) -> ItemView:
        path = self._scenario(scenario_id, f"/items/{_segment(item_id)}")
        return cast(ItemView, await self._client.call("PATCH", path, json_body=patch))

    async def delete(self, scenario_id: str, item_id: str) -> None:
        await self._client.call("DELETE", self._scenario(scenario_id, f"/items/{_segment(item_id)}"))


class AsyncBehaviors(_Group):
    """Behavior events (`/api/v1/behaviors`)."""

    async def track(self, event: EventInput) -> Accepted:
        """One event; sent again after a lost answer only when it has an `event_id`."""
        idempotent = bool(event.get("event_id"))
        return cast(Accepted, await self._client.call("POST", "/api/v1/behaviors", json_body=event, idempotent=idempotent))

    async def batch(self, events: list[EventInput]) -> BatchReport:
        """One batch (at most 1,000 events): each event accepted or refused on its own. Sent again
        after a lost answer only when every event has an `event_id` (then it is stored once)."""
        idempotent = all(event.get("event_id") for event in events)
        body = {"events": events}
        path = "/api/v1/behaviors/batch"
        return cast(BatchReport, await self._client.call("POST", path, json_body=body, idempotent=idempotent))

    async def send_all(self, events: Iterable[EventInput], *, batch_size: int = 500, resend: int = 3) -> SendSummary:
        """Sends any number of events in batches of `batch_size`.

        Every event without an `event_id` gets one (a UUID) first, so a batch sent again after a
        lost answer, and events the server answered `unavailable` (sent again up to `resend`
        times), are stored once. Events refused as invalid are not sent again: they are in the
        summary's `rejected`, with the server's code and message and the event itself.
        """
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1 to {MAX_BATCH}")
        summary = SendSummary()
        chunk: list[EventInput] = []
        for event in events:
            if not event.get("event_id"):
                event = cast(EventInput, {**event, "event_id": uuid.uuid4().hex})
            chunk.append(event)
            if len(chunk) == batch_size:
                await self._send_chunk(chunk, summary, resend)
                chunk = []
        if chunk:
            await self._send_chunk(chunk, summary, resend)
        return summary

    async def _send_chunk(self, chunk: list[EventInput], summary: SendSummary, resend: int) -> None:
        pending = chunk
        for attempt in range(resend + 1):
            report = await self.batch(pending)
            summary.batches += 1
            summary.accepted += report["accepted"]
            summary.duplicates += report["duplicates"]
            again: list[EventInput] = []
            for error in report["errors"]:
                event = pending[error["index"]]
                if error["code"] in _RESEND and attempt < resend:
                    again.append(event)
                else:
                    summary.rejected.append({"event": event, "code": error["code"], "message": error["message"]})
            if not again:
                return
            pending = again
            await _sleep(
                _backoff.delay(attempt, None, base=self._client.backoff, cap=self._client.max_wait)
            )

    async def stats(self) -> EventStats:
        return cast(EventStats, await self._client.call("GET", "/api/v1/behaviors/stats"))

    async def dead_letters(
        self, *, job: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> DeadLetterPage:
        params = _query(job=job, limit=limit, cursor=cursor)
        return cast(DeadLetterPage, await self._client.call("GET", "/api/v1/behaviors/dead_letters", params=params))

    async def iterate_dead_letters(
        self, *, job: str | None = None, limit: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every dead letter, page after page."""
        cursor: str | None = None
        while True:
            page = await self.dead_letters(job=job, limit=limit, cursor=cursor)
            for letter in page["dead_letters"]:
                yield letter
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def replay(self, request: ReplayRequest | None = None) -> ReplayReport:
        body = request if request is not None else {}
        return cast(
            ReplayReport, await self._client.call("POST", "/api/v1/behaviors/dead_letters/replay", json_body=body)
        )


class AsyncJobs(_Group):
    """Training jobs (`/api/v1/jobs`, `/api/v1/scenarios/{id}/jobs`)."""

    async def get(self, job_id: str) -> JobRecord:
        return cast(JobRecord, await self._client.call("GET", f"/api/v1/jobs/{_segment(job_id)}"))

    async def list(self, scenario_id: str, *, limit: int | None = None) -> JobList:
        return cast(
            JobList, await self._client.call("GET", self._scenario(scenario_id, "/jobs"), params=_query(limit=limit))
        )

    async def train(self, scenario_id: str, request: TrainRequest | None = None) -> JobRecord:
        """Queues a training job; `wait` follows it to the end."""
        body = request if request is not None else {}
        return cast(JobRecord, await self._client.call("POST", self._scenario(scenario_id, "/jobs/train"), json_body=body))

    async def train_cf(self, scenario_id: str) -> CfReport:
        return cast(CfReport, await self._client.call("POST", self._scenario(scenario_id, "/jobs/cf")))

    async def precompute(self, scenario_id: str, request: PrecomputeRequest | None = None) -> JobRecord:
        body = request if request is not None else {}
        path = self._scenario(scenario_id, "/jobs/precompute")
        return cast(JobRecord, await self._client.call("POST", path, json_body=body))

    async def wait(self, job_id: str, *, timeout: float = 600.0, poll: float = 0.5) -> JobRecord:
        """Polls a job until it succeeded or failed; raises `TimeoutError` after `timeout` seconds."""
        deadline = _clock.monotonic() + timeout
        while True:
            job = await self.get(job_id)
            if job["state"] in ("succeeded", "failed"):
                return job
            if _clock.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['state']} after {timeout} s")
            await _sleep(poll)


class AsyncModels(_Group):
    """The model registry (`/api/v1/scenarios/{id}/models`)."""

    async def list(self, scenario_id: str, *, name: str | None = None) -> ModelList:
        path = self._scenario(scenario_id, "/models")
        return cast(ModelList, await self._client.call("GET", path, params=_query(name=name)))

    async def activate(self, scenario_id: str, model_name: str, version: str) -> ModelView:
        path = self._scenario(scenario_id, f"/models/{_segment(model_name)}/versions/{_segment(version)}/activate")
        return cast(ModelView, await self._client.call("POST", path))

    async def rollback(self, scenario_id: str, model_name: str) -> ModelView:
        path = self._scenario(scenario_id, f"/models/{_segment(model_name)}/rollback")
        return cast(ModelView, await self._client.call("POST", path))


class AsyncExperiments(_Group):
    """A/B experiments (`/api/v1/scenarios/{id}/experiments`)."""

    def _experiment(self, scenario_id: str, experiment_id: str, rest: str = "") -> str:
        return self._scenario(scenario_id, f"/experiments/{_segment(experiment_id)}{rest}")

    async def list(self, scenario_id: str) -> ExperimentList:
        return cast(ExperimentList, await self._client.call("GET", self._scenario(scenario_id, "/experiments")))

    async def create(self, scenario_id: str, experiment: CreateExperiment) -> ExperimentView:
        path = self._scenario(scenario_id, "/experiments")
        return cast(ExperimentView, await self._client.call("POST", path, json_body=experiment))

    async def get(self, scenario_id: str, experiment_id: str) -> ExperimentView:
        return cast(ExperimentView, await self._client.call("GET", self._experiment(scenario_id, experiment_id)))

    async def replace(self, scenario_id: str, experiment_id: str, experiment: ReplaceExperiment) -> ExperimentView:
        path = self._experiment(scenario_id, experiment_id)
        return cast(ExperimentView, await self._client.call("PUT", path, json_body=experiment))

    async def delete(self, scenario_id: str, experiment_id: str) -> None:
        await self._client.call("DELETE", self._experiment(scenario_id, experiment_id))

    async def results(
        self, scenario_id: str, experiment_id: str, *, from_: Time | None = None, to: Time | None = None
    ) -> ExperimentResults:
        path = self._experiment(scenario_id, experiment_id, "/results")
        return cast(ExperimentResults, await self._client.call("GET", path, params=_query(from_=from_, to=to)))

    async def start(self, scenario_id: str, experiment_id: str) -> ExperimentView:
        return cast(ExperimentView, await self._client.call("POST", self._experiment(scenario_id, experiment_id, "/start")))

    async def stop(self, scenario_id: str, experiment_id: str) -> ExperimentView:
        return cast(ExperimentView, await self._client.call("POST", self._experiment(scenario_id, experiment_id, "/stop")))


class AsyncRealtime(_Group):
    """What the stream jobs keep: hot items, item counters, user profiles, realtime metrics."""

    async def hot(self, scenario_id: str, *, n: int | None = None) -> HotItems:
        return cast(HotItems, await self._client.call("GET", self._scenario(scenario_id, "/hot"), params=_query(n=n)))

    async def item_stats(self, scenario_id: str, item_id: str) -> ItemStats:
        path = self._scenario(scenario_id, f"/items/{_segment(item_id)}/stats")
        return cast(ItemStats, await self._client.call("GET", path))

    async def profile(self, scenario_id: str, user_id: str) -> UserProfile:
        path = self._scenario(scenario_id, f"/users/{_segment(user_id)}/profile")
        return cast(UserProfile, await self._client.call("GET", path))

    async def metrics(self, scenario_id: str) -> RealtimeMetrics:
        return cast(RealtimeMetrics, await self._client.call("GET", self._scenario(scenario_id, "/metrics/realtime")))


class AsyncAnalytics(_Group):
    """The warehouse's analytics (`/api/v1/analytics`); `from_`/`to` are RFC 3339 or epoch ms."""

    async def dashboard(
        self, *, scenario_id: str | None = None, from_: Time | None = None, to: Time | None = None
    ) -> Dashboard:
        params = _query(scenario_id=scenario_id, from_=from_, to=to)
        return cast(Dashboard, await self._client.call("GET", "/api/v1/analytics/dashboard", params=params))

    async def distributions(
        self,
        by: str,
        *,
        experiment_id: str | None = None,
        scenario_id: str | None = None,
        from_: Time | None = None,
        to: Time | None = None,
    ) -> Distribution:
        params = _query(by=by, experiment_id=experiment_id, scenario_id=scenario_id, from_=from_, to=to)
        return cast(Distribution, await self._client.call("GET", "/api/v1/analytics/distributions", params=params))

    async def funnel(
        self,
        scenario_id: str,
        *,
        steps: str | None = None,
        window_hours: float | None = None,
        from_: Time | None = None,
        to: Time | None = None,
    ) -> Funnel:
        params = _query(scenario_id=scenario_id, steps=steps, window_hours=window_hours, from_=from_, to=to)
        return cast(Funnel, await self._client.call("GET", "/api/v1/analytics/funnel", params=params))

    async def top_items(
        self,
        scenario_id: str,
        *,
        event_type: str | None = None,
        n: int | None = None,
        from_: Time | None = None,
        to: Time | None = None,
    ) -> TopItems:
        params = _query(scenario_id=scenario_id, event_type=event_type, n=n, from_=from_, to=to)
        return cast(TopItems, await self._client.call("GET", "/api/v1/analytics/top_items", params=params))

    async def trends(
        self,
        metric: str,
        *,
        interval: str | None = None,
        event_type: str | None = None,
        device: str | None = None,
        category: str | None = None,
        experiment_id: str | None = None,
        group: str | None = None,
        scenario_id: str | None = None,
        from_: Time | None = None,
        to: Time | None = None,
    ) -> Trend:
        params = _query(
            metric=metric,
            interval=interval,
            event_type=event_type,
            device=device,
            category=category,
            experiment_id=experiment_id,
            group=group,
            scenario_id=scenario_id,
            from_=from_,
            to=to,
        )
        return cast(Trend, await self._client.call("GET", "/api/v1/analytics/trends", params=params))


class AsyncOps(_Group):
    """Liveness, readiness and the Prometheus metrics of the process."""

    async def healthz(self) -> bool:
        return (await self._client.request("GET", "/healthz")).is_success

    async def readyz(self) -> bool:
        """Whether the server is ready now; False on its 503 (not raised, not retried)."""
        try:
            return (await self._client.request("GET", "/readyz", retries=0)).is_success
        except PolyrecError as error:
            if error.status == 503:
                return False
            raise

    async def metrics(self) -> str:
        """The Prometheus text exposition."""
        return (await self._client.request("GET", "/metrics")).text
