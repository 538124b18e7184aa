// Tests against a live polyrec server: POLYREC_URL=http://127.0.0.1:8080 npm test
// Each test works in a tenant of its own, so runs never collide.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Polyrec, PolyrecError, type CreateScenario, type EventInput, type ItemView } from "../src/index.js";

const BASE_URL = process.env.POLYREC_URL;
if (!BASE_URL) {
  throw new Error(
    "POLYREC_URL is not set: start a server (polyrec serve --listen 127.0.0.1:8080 --data-dir DIR) " +
      "and run POLYREC_URL=http://127.0.0.1:8080 npm test",
  );
}
const POLYREC_URL: string = BASE_URL;

function tenantClient(): Polyrec {
  return new Polyrec({ baseUrl: POLYREC_URL, tenant: `ts-${randomUUID().slice(0, 8)}`, timeoutMs: 20_000 });
}

/** The repository's heuristic example scenario (no trained model needed), under another id. */
function exampleScenario(scenarioId: string): CreateScenario {
  const url = new URL("../../../../examples/scenarios/news_main_feed.heuristic.json", import.meta.url);
  let scenario: CreateScenario;
  try {
    scenario = JSON.parse(readFileSync(url, "utf8")) as CreateScenario;
  } catch {
    // Outside the repository: the same scenario, inline.
    scenario = {
      scenario_id: "news_main_feed",
      scenario_type: "news",
      config: {
        recall: { strategies: [{ name: "hot_news", weight: 1, limit: 200 }] },
        rank: { model: "weighted" },
      },
    } as CreateScenario;
  }
  return { ...scenario, scenario_id: scenarioId };
}

async function rejects(p: Promise<unknown>): Promise<PolyrecError> {
  const e = await p.then(
    () => assert.fail("expected a PolyrecError"),
    (err: unknown) => err,
  );
  assert.ok(e instanceof PolyrecError, `expected a PolyrecError, got ${String(e)}`);
  return e;
}

test("the server is up", async () => {
  const c = tenantClient();
  assert.deepEqual(await c.health(), { healthy: true, ready: true });
});

test("scenario create / get / patch / list / versions / delete round trip", async () => {
  const c = tenantClient();
  const created = await c.scenarios.create(exampleScenario("feed"));
  assert.equal(created.scenario_id, "feed");
  assert.equal(created.scenario_type, "news");

  const got = await c.scenarios.get("feed");
  assert.equal(got.scenario_id, "feed");
  assert.deepEqual(got.config.recall, created.config.recall);

  const patched = await c.scenarios.patch("feed", { name: "Renamed feed" });
  assert.equal(patched.name, "Renamed feed");
  assert.equal((await c.scenarios.get("feed")).name, "Renamed feed");

  const list = await c.scenarios.list();
  assert.deepEqual(
    list.scenarios.map((s) => s.scenario_id),
    ["feed"],
  );

  const dup = await rejects(c.scenarios.create(exampleScenario("feed")));
  assert.equal(dup.status, 409);
  assert.equal(dup.code, "scenario_exists");

  // The typed raw client reaches every route (the tenant header is added for it too).
  const versions = await c.raw.GET("/api/v1/scenarios/{scenario_id}/versions", { params: { path: { scenario_id: "feed" } } });
  assert.equal(versions.response.status, 200);
  assert.ok(versions.data);

  await c.scenarios.delete("feed");
  const gone = await rejects(c.scenarios.get("feed"));
  assert.equal(gone.status, 404);
  assert.equal(gone.code, "not_found");
  assert.match(gone.requestId ?? "", /^req_/);
  assert.deepEqual((await c.scenarios.list()).scenarios, []);
});

test("an invalid config is a 422 invalid_config with field errors", async () => {
  const c = tenantClient();
  const err = await rejects(
    c.scenarios.create({
      scenario_id: "bad",
      scenario_type: "news",
      config: { recall: { strategies: [{ name: "hot_news", weight: 1, limit: -5 }] } } as CreateScenario["config"],
    }),
  );
  assert.equal(err.status, 422);
  assert.equal(err.code, "invalid_config");
  assert.ok(err.errors.length >= 1, "field errors listed");
  assert.ok(
    err.errors.some((f) => f.path.startsWith("config.")),
    `paths: ${err.errors.map((f) => f.path).join(", ")}`,
  );
  assert.ok(err.requestId, "x-request-id read");
  // Nothing was created.
  assert.deepEqual((await c.scenarios.list()).scenarios, []);
});

test("a request without a tenant is refused with missing_tenant", async () => {
  const c = new Polyrec({ baseUrl: POLYREC_URL });
  const err = await rejects(c.scenarios.list());
  assert.equal(err.status, 400);
  assert.equal(err.code, "missing_tenant");
  assert.match(err.message, /X-Tenant-Id/);
});

test("items: create / get / patch / delete, bulk NDJSON, and the iterator visits every item once", async () => {
  const c = tenantClient();
  await c.scenarios.create(exampleScenario("shop"));

  const one = await c.items.create("shop", { item_id: "single", metadata: { category: "a" } });
  assert.equal(one.item_id, "single");
  const exists = await rejects(c.items.create("shop", { item_id: "single" }));
  assert.equal(exists.code, "item_exists");
  const patched = await c.items.patch("shop", "single", { metadata: { category: "b" } });
  assert.equal(patched.metadata?.["category"], "b");
  assert.equal((await c.items.get("shop", "single")).metadata?.["category"], "b");

  const ids = Array.from({ length: 23 }, (_, i) => `item-${String(i).padStart(2, "0")}`);
  const report = await c.items.bulk(
    "shop",
    ids.map((item_id, i) => ({ item_id, metadata: { category: i % 2 ? "odd" : "even" } })),
  );
  assert.deepEqual({ created: report.created, rejected: report.rejected }, { created: 23, rejected: 0 });

  // A bad NDJSON line is reported with its line number, the others are taken.
  const mixed = await c.items.bulk("shop", '{"item_id":"x1"}\nnot json\n{"item_id":"x2"}\n');
  assert.equal(mixed.created, 2);
  assert.equal(mixed.rejected, 1);
  assert.equal(mixed.errors[0]?.line, 2);
  await c.items.delete("shop", "x1");
  await c.items.delete("shop", "x2");
  const deleted = await rejects(c.items.get("shop", "x1"));
  assert.equal(deleted.code, "not_found");

  const page = await c.items.list("shop", { limit: 5 });
  assert.equal(page.items.length, 5);
  assert.ok(page.next_cursor, "a first page of 5 out of 24 has a next_cursor");

  const seen: string[] = [];
  for await (const item of c.items.iterate("shop", { limit: 4 })) seen.push(item.item_id);
  assert.equal(seen.length, 24, `visited ${seen.length}`);
  assert.equal(new Set(seen).size, 24, "no item twice");
  assert.deepEqual([...seen].sort(), [...ids, "single"].sort());

  // Filters pass through to every page.
  const odd: ItemView[] = [];
  for await (const item of c.items.iterate("shop", { limit: 3, category: "odd" })) odd.push(item);
  assert.equal(odd.length, 11);
  assert.ok(odd.every((i) => i.metadata?.["category"] === "odd"));
});

test("sendAll: several batches, then the same event_ids again are duplicates", async () => {
  const c = tenantClient();
  await c.scenarios.create(exampleScenario("feed"));
  await c.items.bulk(
    "feed",
    Array.from({ length: 10 }, (_, i) => ({ item_id: `n${i}` })),
  );
  const run = randomUUID().slice(0, 8);
  // 700 events with our own ids, 300 without (the sender gives each a UUID), 2 invalid.
  const events: EventInput[] = Array.from({ length: 1000 }, (_, i) => ({
    event_type: i % 3 === 0 ? "impression" : "click",
    user_id: `u${i % 17}`,
    item_id: `n${i % 10}`,
    scenario_id: "feed",
    ...(i < 700 ? { event_id: `${run}-${i}` } : {}),
  }));
  events.splice(150, 0, { event_type: "nope", user_id: "u", item_id: "n1", scenario_id: "feed" } as unknown as EventInput);
  events.splice(900, 0, { event_type: "click", user_id: "", item_id: "n1", scenario_id: "feed" });

  let batches = 0;
  const first = await c.events.sendAll(
    (async function* () {
      yield* events; // any async iterable works
    })(),
    { batchSize: 300, onBatch: () => batches++ },
  );
  assert.equal(first.sent, 1002);
  assert.equal(first.accepted, 1000);
  assert.equal(first.duplicates, 0);
  assert.equal(first.rejected, 2);
  assert.equal(first.batches, 4);
  assert.equal(batches, 4);
  assert.deepEqual(
    first.errors.map((e) => [e.index, e.code]),
    [
      [150, "invalid_event_type"],
      [900, "invalid_user_id"],
    ],
  );

  // Resending: the 700 with our ids are duplicates; the 300 without get fresh ids, so are stored again.
  const again = await c.events.sendAll(events, { batchSize: 500 });
  assert.equal(again.batches, 3);
  assert.equal(again.duplicates, 700);
  assert.equal(again.accepted, 300);
  assert.equal(again.rejected, 2);
});

test("recommend answers catalog items after events", async () => {
  const c = tenantClient();
  await c.scenarios.create(exampleScenario("news"));
  const catalog = Array.from({ length: 12 }, (_, i) => `a${i}`);
  await c.items.bulk(
    "news",
    catalog.map((item_id) => ({ item_id, metadata: { category: "world", publish_time: new Date().toISOString() } })),
  );
  const sent = await c.events.sendAll(
    Array.from({ length: 60 }, (_, i) => ({
      event_type: "click" as const,
      user_id: `u${i % 6}`,
      item_id: catalog[i % 4] ?? "a0",
      scenario_id: "news",
    })),
  );
  assert.equal(sent.accepted, 60);

  const rec = await c.recommend("reader-1", { scenario_id: "news", count: 5 }, { requestId: `req-${randomUUID()}` });
  assert.equal(rec.scenario_id, "news");
  assert.equal(rec.user_id, "reader-1");
  assert.ok(rec.items.length > 0 && rec.items.length <= 5, `${rec.items.length} items`);
  for (const item of rec.items) assert.ok(catalog.includes(item.item_id), `${item.item_id} is in the catalog`);
  assert.ok(rec.request_id.length > 0);

  // An event following the answer carries its request_id.
  const tracked = await c.events.track({
    event_type: "click",
    user_id: "reader-1",
    item_id: rec.items[0]?.item_id ?? "a0",
    scenario_id: "news",
    request_id: rec.request_id,
    event_id: randomUUID(),
  });
  assert.ok(tracked);

  const noUser = await rejects(c.raw.POST("/api/v1/recommend", { body: { scenario_id: "news" } } as never).then((r) => {
    if (!r.response.ok) throw PolyrecError.fromResponse(r.response, r.error);
    return r.data;
  }));
  assert.equal(noUser.code, "missing_user_id");

  const unknown = await rejects(c.recommend("reader-1", { scenario_id: "nope" }));
  assert.equal(unknown.status, 404);
});

test("dead letters: the iterator follows pages (empty for a new tenant); models and experiments list", async () => {
  const c = tenantClient();
  const all: unknown[] = [];
  for await (const d of c.deadLetters.iterate({ limit: 2 })) all.push(d);
  assert.deepEqual(all, []);
  const page = await c.deadLetters.list({ limit: 1000 });
  assert.deepEqual(page.dead_letters, []);
  assert.equal(page.next_cursor ?? null, null);
  const bad = await rejects(c.deadLetters.list({ limit: 0 }));
  assert.equal(bad.code, "invalid_limit");

  await c.scenarios.create(exampleScenario("feed"));
  const models = await c.models.list("feed");
  assert.ok(Array.isArray(models.models));
  const experiments = await c.experiments.list("feed");
  assert.ok(Array.isArray(experiments.experiments));
  const job = await rejects(c.jobs.get("no-such-job"));
  assert.equal(job.status, 404);
});
