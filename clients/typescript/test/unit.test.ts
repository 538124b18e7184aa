// Unit tests with an injected fake fetch: no server needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Polyrec, PolyrecError, parseRetryAfter, retryDelayMs, type RetryInfo } from "../src/index.js";

interface Call {
  url: string;
  method: string;
  headers: Headers;
  body: string;
}

type Reply = Response | Error | ((call: Call, signal: AbortSignal | undefined) => Promise<Response>);

/** A fake fetch answering `replies` in order (the last one repeats), recording every call. */
function fakeFetch(replies: Reply[]) {
  const calls: Call[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = new Request(input, init);
    const call: Call = { url: req.url, method: req.method, headers: req.headers, body: await req.text() };
    calls.push(call);
    const reply = replies[Math.min(calls.length - 1, replies.length - 1)];
    if (reply === undefined) throw new Error("fakeFetch: no reply configured");
    if (reply instanceof Error) throw reply;
    if (typeof reply === "function") return reply(call, init?.signal ?? undefined);
    return reply.clone();
  };
  return { fetch, calls };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

const SCENARIOS_OK = json(200, { scenarios: [] });

function client(fetch: ReturnType<typeof fakeFetch>["fetch"], extra: Partial<ConstructorParameters<typeof Polyrec>[0]> = {}) {
  return new Polyrec({ baseUrl: "http://polyrec.test", tenant: "acme", fetch, ...extra });
}

test("429 and 503 are retried after their Retry-After", async () => {
  const f = fakeFetch([
    json(429, { code: "rate_limited", message: "slow down" }, { "retry-after": "1" }),
    json(503, { code: "overloaded", message: "busy" }, { "retry-after": "1" }),
    SCENARIOS_OK,
  ]);
  const retries: RetryInfo[] = [];
  const waits: number[] = [];
  const sleep = async (ms: number) => { waits.push(ms); };
  const out = await client(f.fetch, { onRetry: (i) => retries.push(i), sleep }).scenarios.list();
  const elapsed = waits.reduce((sum, ms) => sum + ms, 0);
  assert.deepEqual(out, { scenarios: [] });
  assert.equal(f.calls.length, 3);
  assert.deepEqual(
    retries.map((r) => [r.attempt, r.status, r.error.code]),
    [
      [1, 429, "rate_limited"],
      [2, 503, "overloaded"],
    ],
  );
  for (const r of retries) {
    assert.ok(r.delayMs >= 1000 && r.delayMs <= 1100, `waited ${r.delayMs} ms for Retry-After: 1`);
  }
  assert.deepEqual(waits, retries.map((r) => r.delayMs), "it waited what it said");
  assert.ok(elapsed >= 2000, `the two waits took ${elapsed} ms, want ≥ 2000`);
});

test("without Retry-After the backoff is exponential with jitter", async () => {
  const f = fakeFetch([
    json(503, { code: "unavailable", message: "store down" }),
    json(503, { code: "unavailable", message: "store down" }),
    json(503, { code: "unavailable", message: "store down" }),
    SCENARIOS_OK,
  ]);
  const delays: number[] = [];
  await client(f.fetch, { retryBaseDelayMs: 40, onRetry: (i) => delays.push(i.delayMs) }).scenarios.list();
  assert.equal(f.calls.length, 4);
  assert.equal(delays.length, 3);
  const [d1, d2, d3] = delays as [number, number, number];
  assert.ok(d1 >= 20 && d1 <= 40, `first wait ${d1}`);
  assert.ok(d2 >= 40 && d2 <= 80, `second wait ${d2}`);
  assert.ok(d3 >= 80 && d3 <= 160, `third wait ${d3}`);
});

test("retries stop after `retries` and the last error is thrown, with its Retry-After", async () => {
  const f = fakeFetch([json(503, { code: "overloaded", message: "busy" }, { "retry-after": "1", "x-request-id": "req_9" })]);
  const delays: number[] = [];
  // retryMaxDelayMs caps the waits, Retry-After included.
  const c = client(f.fetch, { retries: 2, retryMaxDelayMs: 5, onRetry: (i) => delays.push(i.delayMs) });
  const err = await c.scenarios.list().then(
    () => assert.fail("expected a PolyrecError"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PolyrecError);
  assert.equal(err.status, 503);
  assert.equal(err.code, "overloaded");
  assert.equal(err.retryAfter, 1);
  assert.equal(err.requestId, "req_9");
  assert.equal(f.calls.length, 3);
  assert.deepEqual(delays, [5, 5]);
});

test("other 4xx answers are never retried", async () => {
  for (const [status, code] of [
    [400, "invalid_query"],
    [401, "missing_token"],
    [404, "not_found"],
    [409, "scenario_exists"],
    [422, "invalid_config"],
  ] as const) {
    const f = fakeFetch([
      json(status, { code, message: "no", errors: [{ path: "config.rank", message: "missing" }] }, { "x-request-id": "req_1" }),
      SCENARIOS_OK,
    ]);
    const retried: RetryInfo[] = [];
    const err = await client(f.fetch, { onRetry: (i) => retried.push(i) })
      .scenarios.list()
      .then(
        () => assert.fail(`expected ${status} to throw`),
        (e: unknown) => e,
      );
    assert.ok(err instanceof PolyrecError, `${status}`);
    assert.equal(err.status, status);
    assert.equal(err.code, code);
    assert.equal(err.requestId, "req_1");
    assert.deepEqual(err.errors, [{ path: "config.rank", message: "missing" }]);
    assert.equal(f.calls.length, 1, `${status} was sent ${f.calls.length} times`);
    assert.equal(retried.length, 0);
  }
});

test("500 is not retried; a non-JSON error body becomes unexpected_response", async () => {
  const f = fakeFetch([new Response("<html>bad gateway</html>", { status: 500 }), SCENARIOS_OK]);
  const err = await client(f.fetch).scenarios.list().catch((e: unknown) => e);
  assert.ok(err instanceof PolyrecError);
  assert.equal(err.status, 500);
  assert.equal(err.code, "unexpected_response");
  assert.match(err.message, /bad gateway/);
  assert.equal(f.calls.length, 1);
});

test("network failures are retried, then thrown as network_error", async () => {
  const refused = new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:1") });
  const ok = fakeFetch([refused, refused, SCENARIOS_OK]);
  assert.deepEqual(await client(ok.fetch, { retryBaseDelayMs: 1 }).scenarios.list(), { scenarios: [] });
  assert.equal(ok.calls.length, 3);

  const down = fakeFetch([refused]);
  const err = await client(down.fetch, { retries: 1, retryBaseDelayMs: 1 }).scenarios.list().catch((e: unknown) => e);
  assert.ok(err instanceof PolyrecError);
  assert.equal(err.code, "network_error");
  assert.equal(err.status, 0);
  assert.match(err.message, /ECONNREFUSED/);
  assert.equal(err.cause, refused);
  assert.equal(down.calls.length, 2);
});

test("after a lost connection a POST is not sent again, unless idempotent; a refused one is", async () => {
  const lost = new TypeError("fetch failed", { cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }) });
  const f = fakeFetch([lost]);
  const c = client(f.fetch, { retries: 2, retryBaseDelayMs: 1 });
  const train = await c.jobs.train("feed").catch((e: unknown) => e);
  assert.ok(train instanceof PolyrecError && train.code === "network_error");
  assert.equal(f.calls.length, 1, "a training job is not queued twice");
  const event = { event_type: "click", user_id: "u", item_id: "i", scenario_id: "s" } as const;
  await c.events.trackBatch([event]).catch(() => undefined);
  assert.equal(f.calls.length, 2, "events without ids are not sent twice");
  await c.events.trackBatch([{ ...event, event_id: "e1" }]).catch(() => undefined);
  assert.equal(f.calls.length, 5, "events with ids are: 1 + 2 retries");
  await c.scenarios.get("feed").catch(() => undefined);
  assert.equal(f.calls.length, 8, "a GET is");

  const refused = new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) });
  const r = fakeFetch([refused]);
  await client(r.fetch, { retries: 2, retryBaseDelayMs: 1 }).jobs.train("feed").catch(() => undefined);
  assert.equal(r.calls.length, 3, "nothing was sent: a POST is retried");
});

test("a real refused connection is a network_error", async () => {
  // Port 9 (discard) on loopback: nothing listens there on a test machine.
  const c = new Polyrec({ baseUrl: "http://127.0.0.1:9", tenant: "t", retries: 0 });
  const err = await c.scenarios.list().catch((e: unknown) => e);
  assert.ok(err instanceof PolyrecError);
  assert.equal(err.code, "network_error");
});

test("a slow answer times out (code timeout) and each attempt has its own timeout", async () => {
  const reasons: string[] = [];
  const hang = (_call: Call, signal: AbortSignal | undefined) =>
    new Promise<Response>((_resolve, reject) => {
      // AbortSignal.timeout's timer does not hold the event loop open (a real socket would): this one does.
      const keepAlive = setTimeout(() => reject(new Error("the timeout did not fire")), 5_000);
      signal?.addEventListener(
        "abort",
        () => {
          clearTimeout(keepAlive);
          reasons.push((signal.reason as { name?: string } | undefined)?.name ?? String(signal.reason));
          reject(signal.reason);
        },
        { once: true },
      );
    });
  const f = fakeFetch([hang]);
  const err = await client(f.fetch, { timeoutMs: 50, retries: 1, retryBaseDelayMs: 1 }).scenarios.list().catch((e: unknown) => e);
  assert.ok(err instanceof PolyrecError);
  assert.equal(err.code, "timeout");
  assert.equal(f.calls.length, 2);
  // Each attempt ended by its own timeout (the abort reason), not by a shared one.
  assert.deepEqual(reasons, ["TimeoutError", "TimeoutError"], "two attempts of 50 ms each");
});

test("a request aborted by the caller is not retried", async () => {
  const controller = new AbortController();
  const f = fakeFetch([
    async () => {
      controller.abort(new Error("caller gave up"));
      throw new DOMException("aborted", "AbortError");
    },
    SCENARIOS_OK,
  ]);
  const err = await client(f.fetch).scenarios.list({ signal: controller.signal }).catch((e: unknown) => e);
  assert.ok(err instanceof Error);
  assert.equal(err.message, "caller gave up");
  assert.equal(f.calls.length, 1);
});

test("per-call retries override the client's", async () => {
  const f = fakeFetch([json(503, { code: "overloaded", message: "busy" }, { "retry-after": "0" }), SCENARIOS_OK]);
  const err = await client(f.fetch).scenarios.list({ retries: 0 }).catch((e: unknown) => e);
  assert.ok(err instanceof PolyrecError);
  assert.equal(err.code, "overloaded");
  assert.equal(f.calls.length, 1);
});

test("tenant, bearer token and JSON body are sent, and a retry sends the same body again", async () => {
  const f = fakeFetch([
    json(429, { code: "rate_limited", message: "slow" }, { "retry-after": "0" }),
    json(201, { item_id: "i1", scenario_id: "s1", metadata: {}, status: "active", created_at: "", updated_at: "" }),
  ]);
  const c = client(f.fetch, { token: "sekret", headers: { "x-extra": "1" } });
  await c.items.create("s1", { item_id: "i1", metadata: { category: "news" } });
  assert.equal(f.calls.length, 2);
  for (const call of f.calls) {
    assert.equal(call.method, "POST");
    assert.equal(call.url, "http://polyrec.test/api/v1/scenarios/s1/items");
    assert.equal(call.headers.get("authorization"), "Bearer sekret");
    assert.equal(call.headers.get("x-tenant-id"), "acme");
    assert.equal(call.headers.get("x-extra"), "1");
    assert.equal(call.headers.get("content-type"), "application/json");
    assert.deepEqual(JSON.parse(call.body), { item_id: "i1", metadata: { category: "news" } });
  }
});

test("a token function is called per request; no token, no Authorization header", async () => {
  let n = 0;
  const f = fakeFetch([SCENARIOS_OK]);
  const c = client(f.fetch, { token: async () => `t${++n}` });
  await c.scenarios.list();
  await c.scenarios.list();
  assert.deepEqual(
    f.calls.map((x) => x.headers.get("authorization")),
    ["Bearer t1", "Bearer t2"],
  );

  const g = fakeFetch([SCENARIOS_OK]);
  await client(g.fetch).scenarios.list();
  assert.equal(g.calls[0]?.headers.get("authorization"), null);
});

test("withTenant and a per-call X-Tenant-Id override the tenant", async () => {
  const f = fakeFetch([SCENARIOS_OK]);
  const c = client(f.fetch);
  await c.withTenant("other").scenarios.list();
  await c.raw.GET("/api/v1/scenarios", { params: { header: { "X-Tenant-Id": "third" } } });
  assert.deepEqual(
    f.calls.map((x) => x.headers.get("x-tenant-id")),
    ["other", "third"],
  );
});

test("recommend sends X-User-Id and X-Request-Id; bulk sends NDJSON", async () => {
  const f = fakeFetch([
    json(200, {
      request_id: "r1",
      scenario_id: "s1",
      user_id: "u1",
      config_version: 1,
      items: [],
      fallback: true,
      degraded_channels: [],
      cached: false,
      took_ms: 1,
    }),
    json(200, { created: 2, updated: 0, rejected: 0, errors: [], errors_truncated: false }),
  ]);
  const c = client(f.fetch);
  const rec = await c.recommend("u1", { scenario_id: "s1", count: 3 }, { requestId: "r1" });
  assert.equal(rec.request_id, "r1");
  const report = await c.items.bulk("s1", [{ item_id: "a" }, { item_id: "b", metadata: { tags: ["x"] } }]);
  assert.equal(report.created, 2);
  const [r, b] = f.calls as [Call, Call];
  assert.equal(r.headers.get("x-user-id"), "u1");
  assert.equal(r.headers.get("x-request-id"), "r1");
  assert.deepEqual(JSON.parse(r.body), { scenario_id: "s1", count: 3 });
  assert.equal(b.url, "http://polyrec.test/api/v1/scenarios/s1/items/bulk");
  assert.equal(b.headers.get("content-type"), "application/x-ndjson");
  assert.equal(b.body, '{"item_id":"a"}\n{"item_id":"b","metadata":{"tags":["x"]}}\n');
});

test("sendAll assigns event_ids, resends the `unavailable` ones with the same ids, and counts the rest", async () => {
  // The fake server: batch 1 answers its event 1 unavailable and its event 2 invalid; every later batch takes all.
  const bodies: Array<Array<{ event_id: string; item_id: string }>> = [];
  const f = fakeFetch([
    async (call) => {
      const events = (JSON.parse(call.body) as { events: Array<{ event_id: string; item_id: string }> }).events;
      bodies.push(events);
      const first = bodies.length === 1;
      const errors = first
        ? [
            { index: 1, code: "unavailable", message: "the bus took part of the batch" },
            { index: 2, code: "invalid_event_type", message: "bad type" },
          ]
        : [];
      const taken = events.map((e, index) => ({ index, event_id: e.event_id, status: "stored" })).filter((r) => !errors.some((x) => x.index === r.index));
      return json(200, {
        accepted: taken.length,
        rejected: first ? 1 : 0,
        duplicates: 0,
        event_ids: taken.map((t) => t.event_id),
        results: taken,
        errors,
      });
    },
  ]);
  const events = Array.from({ length: 5 }, (_, i) => ({
    event_type: "click" as const,
    user_id: "u",
    item_id: `i${i}`,
    scenario_id: "s",
    ...(i === 4 ? { event_id: "mine-4" } : {}),
  }));
  const result = await client(f.fetch, { retryBaseDelayMs: 1 }).events.sendAll(events, { batchSize: 3 });
  assert.equal(bodies.length, 3, "batch [0,1,2], the resend of 1, batch [3,4]");
  const [b1, b2, b3] = bodies as [typeof bodies[0], typeof bodies[0], typeof bodies[0]];
  assert.deepEqual(b1.map((e) => e.item_id), ["i0", "i1", "i2"]);
  assert.deepEqual(b2.map((e) => e.item_id), ["i1"]);
  assert.equal(b2[0]?.event_id, b1[1]?.event_id, "the resend keeps the event's id");
  assert.deepEqual(b3.map((e) => e.item_id), ["i3", "i4"]);
  assert.equal(b3[1]?.event_id, "mine-4", "a given event_id is kept");
  const ids = [...b1, ...b3].map((e) => e.event_id);
  assert.equal(new Set(ids).size, 5);
  for (const id of ids.filter((x) => x !== "mine-4")) assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal("event_id" in (events[0] ?? {}), false, "the caller's objects are not changed");
  // Batch 1 stored i0, the resend stored i1, batch 3 stored i3 and i4; i2 was invalid.
  assert.deepEqual(result, {
    sent: 5,
    accepted: 4,
    duplicates: 0,
    rejected: 1,
    batches: 3,
    errors: [{ index: 2, event_id: b1[2]?.event_id, code: "invalid_event_type", message: "bad type" }],
  });
});

test("sendAll gives up on an event still `unavailable` after resendAttempts, and throws a whole-batch error", async () => {
  const unavailable = fakeFetch([
    async (call) => {
      const n = (JSON.parse(call.body) as { events: unknown[] }).events.length;
      return json(200, {
        accepted: n - 1,
        rejected: 0,
        duplicates: 0,
        event_ids: [],
        results: [],
        errors: [{ index: 0, code: "unavailable", message: "bus down" }],
      });
    },
  ]);
  const ev = { event_type: "click" as const, user_id: "u", item_id: "i", scenario_id: "s" };
  const r = await client(unavailable.fetch, { retryBaseDelayMs: 1 }).events.sendAll([ev, ev], { resendAttempts: 2 });
  assert.equal(unavailable.calls.length, 3, "the batch, then 2 resends of the unavailable event");
  assert.equal(r.accepted, 1);
  assert.equal(r.rejected, 1);
  assert.equal(r.errors[0]?.code, "unavailable");
  assert.equal(r.errors[0]?.index, 0);

  const tooBig = fakeFetch([json(413, { code: "body_too_large", message: "too big" })]);
  const err = await client(tooBig.fetch).events.sendAll([ev]).catch((e: unknown) => e);
  assert.ok(err instanceof PolyrecError);
  assert.equal(err.code, "body_too_large");
  assert.equal(tooBig.calls.length, 1);
});

test("parseRetryAfter and retryDelayMs", () => {
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter("3"), 3);
  assert.equal(parseRetryAfter("garbage"), undefined);
  const inFuture = new Date(Date.now() + 10_000).toUTCString();
  const s = parseRetryAfter(inFuture);
  assert.ok(s !== undefined && s > 8 && s <= 10, `${s}`);
  assert.equal(retryDelayMs(1, 2, 100, 30_000, () => 0), 2000);
  assert.equal(retryDelayMs(1, 2, 100, 30_000, () => 1), 2200);
  assert.equal(retryDelayMs(1, 60, 100, 30_000, () => 0), 30_000);
  assert.equal(retryDelayMs(1, undefined, 100, 30_000, () => 0), 50);
  assert.equal(retryDelayMs(3, undefined, 100, 30_000, () => 1), 400);
  assert.equal(retryDelayMs(30, undefined, 100, 1_000, () => 1), 1000);
});
