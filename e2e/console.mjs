// End-to-end tests of the admin console: a real `polyrec serve` on embedded storage, driven in
// headless Chromium (Debian's /usr/bin/chromium through playwright-core). Every step is a check;
// the run prints `test result: ok. N passed; M failed;` like cargo's suites and exits non-zero on
// a failure. With SCREENSHOTS=DIR, each page is also saved there (docs/console/ is made this way:
// scripts/console-screenshots.sh).
//
//   POLYREC_BIN=/var/tmp/polyrec-target/debug/polyrec node e2e/console.mjs
//
// With POLYREC_E2E_TOPOLOGY=split the same steps run against the split deployment: the seven
// services (`serve --service NAME`), a `worker` and a `gateway` in front serving the console, as
// nine processes on the production engines of scripts/servers.sh (POLYREC_TEST_MONGO_URL,
// POLYREC_TEST_REDIS_URL, POLYREC_TEST_CLICKHOUSE_URL, POLYREC_TEST_KAFKA_URL), in namespaces of
// the run's own.

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";

const BIN = process.env.POLYREC_BIN || "/var/tmp/polyrec-target/debug/polyrec";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.SCREENSHOTS || "";
const TENANT = "acme";

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try { last = await check(); if (last) return last; } catch (e) { last = e; }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

const results = [];
let currentPage = null;
async function step(name, body) {
  try {
    await body();
    results.push([name, null]);
    console.log(`test console::${name} ... ok`);
  } catch (error) {
    results.push([name, error]);
    let shown = "";
    if (currentPage) shown = await currentPage.locator("main").innerText().catch(() => "");
    console.log(`test console::${name} ... FAILED\n    ${String(error && error.stack || error).split("\n").slice(0, 4).join("\n    ")}`);
    console.log(`    the page showed: ${shown.replace(/\s+/g, " ").slice(0, 600)}`);
  }
}

function assert(condition, message) { if (!condition) throw new Error(message); }

const dir = mkdtempSync(join(tmpdir(), "polyrec-console-"));
const SPLIT = process.env.POLYREC_E2E_TOPOLOGY === "split";
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let serverLog = "";
const processes = [];
function start(args, env = {}) {
  const child = spawn(BIN, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, RUST_LOG: "warn", ...env } });
  child.stderr.on("data", (chunk) => { serverLog = (serverLog + `[${args.slice(0, 3).join(" ")}] ${chunk}`).slice(-20000); });
  processes.push(child);
  return child;
}
if (!SPLIT) {
  start(["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", join(dir, "data")]);
} else {
  const need = (name) => {
    const value = process.env[name];
    if (!value) throw new Error(`POLYREC_E2E_TOPOLOGY=split needs ${name} (scripts/servers.sh sets it)`);
    return value;
  };
  const ns = `e2e_${Date.now()}_${process.pid}`;
  const [mongoBase, mongoQuery = ""] = need("POLYREC_TEST_MONGO_URL").split("?");
  const clickhouse = need("POLYREC_TEST_CLICKHOUSE_URL").replace(/\/+$/, "").replace(/^http:\/\//, "");
  const services = ["scenario", "item", "behavior", "recommendation", "feature", "model", "analytics"];
  const http = {};
  const grpc = {};
  for (const name of services) {
    http[name] = await freePort();
    if (name !== "recommendation") grpc[name] = await freePort();
  }
  const config = join(dir, "polyrec.toml");
  writeFileSync(config, [
    "cf_interval_seconds = 5",
    "[services]",
    ...["scenario", "item", "feature", "model"].map((name) => `${name}_url = "http://127.0.0.1:${grpc[name]}"`),
    `internal_key = "e2e-internal-key-0123456789abcdef0123"`,
    "[storage]",
    `documents = "${mongoBase.replace(/\/+$/, "")}/${ns}?${mongoQuery}"`,
    `realtime = "${need("POLYREC_TEST_REDIS_URL")}"`,
    `redis_key_prefix = "${ns}:"`,
    `warehouse = "clickhouse://${clickhouse}/${ns}"`,
    `bus = "${need("POLYREC_TEST_KAFKA_URL")}?prefix=${ns}.&partitions=2&message_timeout_ms=20000"`,
    `blobs = "file://${join(dir, "models")}"`,
    "sink_flush_ms = 200",
    "",
  ].join("\n"));
  const gatewayEnv = {};
  for (const name of services) {
    const args = ["serve", "--service", name, "--listen", `127.0.0.1:${http[name]}`, "--config", config, "--data-dir", join(dir, name)];
    if (grpc[name]) args.push("--grpc-listen", `127.0.0.1:${grpc[name]}`);
    start(args);
    gatewayEnv[`POLYREC_GATEWAY_${name.toUpperCase()}_URL`] = `http://127.0.0.1:${http[name]}`;
  }
  start(["worker", "--config", config, "--data-dir", join(dir, "worker"), "--listen", `127.0.0.1:${await freePort()}`]);
  start(["gateway", "--listen", `127.0.0.1:${port}`], gatewayEnv);
}

async function api(method, path, body, user) {
  const headers = { "X-Tenant-Id": TENANT, "Content-Type": "application/json" };
  if (user) headers["X-User-Id"] = user;
  const response = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

let browser;
try {
  // The gateway is ready once every service is.
  await waitFor("the server", async () => (await fetch(base + "/readyz")).ok, SPLIT ? 120000 : 20000);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  currentPage = page;
  const consoleErrors = [];
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
  // Whatever the page's Content-Security-Policy refused (an inline style or script): the
  // console must work under it.
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("Content Security Policy")) consoleErrors.push(message.text());
  });
  const shot = async (name, target = page) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await target.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  await step("signs_in_with_the_keyboard_alone", async () => {
    await page.goto(base + "/");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await shot("sign-in");
    // The tenant field has the focus; type, move to the token with Tab, submit with Enter.
    await page.keyboard.type(TENANT);
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Scenarios" }).waitFor();
    assert((await page.textContent("#who")).includes(TENANT), "the header names the tenant");
  });

  await step("an_invalid_config_shows_its_error_at_the_json_path_and_a_fixed_one_saves", async () => {
    await page.click("#new-scenario");
    await page.fill("#scenario-id", "shop");
    await page.selectOption("#template", "ecommerce");
    const invalid = { recall: { strategies: [{ name: "hot_items", weight: -1, limit: 50 }, { name: "latest", weight: 0.5, limit: 50 }] }, rank: { model: "weighted" } };
    await page.fill("#config", JSON.stringify(invalid, null, 2));
    await page.click("#save");
    const errors = page.locator("#config-errors");
    await errors.locator("code", { hasText: "config.recall.strategies[0].weight" }).waitFor();
    await shot("scenario-invalid");
    // The error's line button selects the offending line in the editor.
    await errors.getByRole("button", { name: /line \d+/ }).first().click();
    const selected = await page.$eval("#config", (t) => t.value.slice(t.selectionStart, t.selectionEnd));
    assert(selected.includes('"weight": -1'), `the line of the error is selected: ${selected}`);
    invalid.recall.strategies[0].weight = 0.5;
    await page.fill("#config", JSON.stringify(invalid, null, 2));
    await page.click("#save");
    await page.getByRole("heading", { name: "Scenario shop" }).waitFor();
    const stored = await api("GET", "/api/v1/scenarios/shop");
    assert(stored.status === 200 && stored.body.config.recall.strategies[0].weight === 0.5, "saved as fixed");
  });

  await step("a_new_version_shows_in_the_history_with_a_diff_and_reverts", async () => {
    const config = JSON.parse(await page.inputValue("#config"));
    config.recall.strategies[1].limit = 80;
    await page.fill("#config", JSON.stringify(config, null, 2));
    await page.click("#save");
    await page.getByRole("button", { name: "Revert to v1" }).waitFor();
    await page.getByRole("button", { name: "Diff with previous" }).first().click();
    await page.locator(".diff .add", { hasText: '"limit": 80' }).waitFor();
    await shot("scenario-history");
    await page.getByRole("button", { name: "Revert to v1" }).click();
    await waitFor("the revert", async () => {
      const s = (await api("GET", "/api/v1/scenarios/shop")).body;
      return s.version === 3 && s.config.recall.strategies[1].limit === 50;
    });
  });

  await step("imports_items_from_a_file_with_a_progress_bar_and_the_rejections", async () => {
    const lines = [];
    for (let i = 0; i < 12; i++) lines.push(JSON.stringify({ item_id: `i${i}`, metadata: { category: `c${i % 3}`, price: 10 + i } }));
    lines.push('{"item_id": "bad id with spaces"}');
    const file = join(dir, "items.ndjson");
    writeFileSync(file, lines.join("\n") + "\n");
    await page.goto(base + "/#/items");
    await page.locator("#scenario-picker option[value=shop]").waitFor({ state: "attached" });
    await page.setInputFiles("#import-file", file);
    await page.click("#import");
    await page.locator("#import-report", { hasText: "Created 12, updated 0, rejected 1" }).waitFor();
    assert(await page.$eval("#import-progress", (p) => p.value) === 100, "the progress bar is full");
    await page.locator("#rejections td", { hasText: "13" }).first().waitFor();
    await page.locator("#items tbody tr").nth(11).waitFor();
    await shot("items");
    await page.fill("#filter-category", "c1");
    await page.click("#search");
    await waitFor("the category filter", async () => (await page.locator("#items tbody tr").count()) === 4);
  });

  // Traffic the rest of the pages show: 20 users, impressions of every item, clicks on a few.
  const now = Date.now();
  const events = [];
  for (let u = 0; u < 20; u++) {
    for (let i = 0; i < 12; i++) events.push({ event_type: "impression", user_id: `u${u}`, item_id: `i${i}`, scenario_id: "shop", timestamp: now - 60000 });
    for (const i of [u % 12, (u + 1) % 12]) events.push({ event_type: "click", user_id: `u${u}`, item_id: `i${i}`, scenario_id: "shop", timestamp: now - 30000 });
    if (u % 4 === 0) events.push({ event_type: "order", user_id: `u${u}`, item_id: `i${u % 12}`, scenario_id: "shop", timestamp: now - 20000, value: 25 });
  }
  const sent = await api("POST", "/api/v1/behaviors/batch", { events });
  await waitFor("the warehouse", async () => (await api("GET", "/api/v1/behaviors/stats")).body.warehouse_events === events.length);

  await step("the_playground_explains_channels_and_scores_per_stage", async () => {
    assert(sent.body.accepted === events.length, JSON.stringify(sent.body));
    await page.goto(base + "/#/playground");
    await page.locator("#scenario-picker option[value=shop]").waitFor({ state: "attached" });
    // A user the traffic has not shown anything yet (shown items are left out for 24 hours).
    await page.fill("#user", "visitor");
    await page.click("#run");
    const rows = page.locator("#explain tbody tr");
    await rows.first().waitFor();
    const header = await page.locator("#explain thead").textContent();
    assert(header.includes("recall") && header.includes("rank:weighted"), `stage columns: ${header}`);
    const channels = await rows.first().locator("td").nth(2).textContent();
    assert(/hot_items|latest/.test(channels), `recall channels shown: ${channels}`);
    await shot("playground");
  });

  await step("creates_and_starts_an_experiment_and_shows_its_results", async () => {
    await page.goto(base + "/#/experiments");
    await page.locator("#scenario-picker option[value=shop]").waitFor({ state: "attached" });
    await page.fill("#experiment-id", "diversity_test");
    await page.click("#create-experiment");
    await page.locator("#experiments td", { hasText: "diversity_test" }).waitFor();
    await page.getByRole("button", { name: "Start" }).click();
    await page.locator("#experiments .pill", { hasText: "running" }).waitFor();
    // Traffic through the experiment: recommend, then click what was shown.
    const more = [];
    for (let u = 0; u < 20; u++) {
      const answer = await api("POST", "/api/v1/recommend", { scenario_id: "shop", count: 3 }, `e${u}`);
      for (const item of answer.body.items) more.push({ event_type: "impression", user_id: `e${u}`, item_id: item.item_id, scenario_id: "shop", request_id: answer.body.request_id });
      more.push({ event_type: "click", user_id: `e${u}`, item_id: answer.body.items[0].item_id, scenario_id: "shop" });
    }
    await api("POST", "/api/v1/behaviors/batch", { events: more });
    await waitFor("the warehouse", async () => (await api("GET", "/api/v1/behaviors/stats")).body.warehouse_events === events.length + more.length);
    await page.getByRole("button", { name: "Results" }).click();
    await page.locator("#results", { hasText: "Sample ratio check" }).waitFor();
    const bars = await page.locator("#results svg rect").count();
    assert(bars >= 4, `users and CTR per group drawn: ${bars} bars`);
    const lines = page.locator("#results figure", { hasText: "CTR per hour, by group" });
    await lines.waitFor();
    assert(await lines.locator("path").count() === 2 && (await lines.locator(".legend").textContent()).includes("treatment"),
      "a CTR line per group");
    await shot("experiments");
  });

  await step("analytics_charts_render_the_data_the_test_sent", async () => {
    await page.goto(base + "/#/analytics");
    await page.locator("#scenario-picker option[value=shop]").waitFor({ state: "attached" });
    const tiles = page.locator("#analytics .tile");
    await tiles.first().waitFor();
    const stats = (await api("GET", "/api/v1/behaviors/stats")).body;
    const events_tile = await tiles.first().locator(".v").textContent();
    assert(Number(events_tile.replace(/,/g, "")) === stats.warehouse_events, `events tile ${events_tile} = ${stats.warehouse_events}`);
    const byType = page.locator("figure", { hasText: "Events by type" });
    const labels = await byType.locator("text").allTextContents();
    assert(labels.includes("impression") && labels.includes("click") && labels.includes("order"), `event types: ${labels}`);
    assert(await page.locator("figure", { hasText: "Events per hour" }).locator("path").count() === 1, "the events line is drawn");
    const funnel = await page.locator("figure", { hasText: "Funnel" }).locator("text").allTextContents();
    assert(funnel.includes("impression") && funnel.includes("order"), `funnel steps: ${funnel}`);
    await shot("analytics");
  });

  await step("models_page_trains_and_lists_versions", async () => {
    // An ALS channel gives the scenario a model to train.
    const scenario = (await api("GET", "/api/v1/scenarios/shop")).body;
    scenario.config.recall.strategies.push({ name: "vector_search", weight: 0.3, limit: 50 });
    const saved = await api("PUT", "/api/v1/scenarios/shop", { scenario_type: scenario.scenario_type, config: scenario.config });
    assert(saved.status === 200, JSON.stringify(saved.body));
    await page.goto(base + "/#/models");
    await page.locator("#scenario-picker option[value=shop]").waitFor({ state: "attached" });
    await page.click("#train");
    await page.locator("#job", { hasText: "succeeded" }).waitFor({ timeout: 60000 });
    await page.locator("#models td", { hasText: "als" }).first().waitFor();
    await shot("models");
  });

  await step("the_live_tiles_refresh_on_their_own", async () => {
    const live = page.locator("#live .tile .v");
    await live.first().waitFor();
    const before = await page.locator("#live").textContent();
    await api("POST", "/api/v1/behaviors/batch", { events: [{ event_type: "impression", user_id: "late", item_id: "i1", scenario_id: "shop" }] });
    await waitFor("the tiles to change", async () => (await page.locator("#live").textContent()) !== before, 25000);
  });

  await step("pages_fit_a_phone_width_window", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const small = await phone.newPage();
    await small.goto(base + "/");
    await small.fill("#tenant", TENANT);
    await small.click("#signin");
    for (const name of ["scenarios", "items", "playground", "experiments", "analytics", "models"]) {
      await small.goto(`${base}/#/${name}`);
      await small.locator("main h1").waitFor();
      await sleep(300);
      const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 1, `${name}: the page is ${overflow}px wider than the window`);
      if (name === "analytics") await small.locator("#analytics .tile").first().waitFor();
      await shot(`phone-${name}`, small);
    }
    await phone.close();
  });

  await step("the_api_docs_render_under_their_policy", async () => {
    const docs = await context.newPage();
    docs.on("pageerror", (error) => consoleErrors.push(`/docs: ${error}`));
    docs.on("console", (message) => {
      if (message.type() === "error" && message.text().includes("Content Security Policy")) consoleErrors.push(`/docs: ${message.text()}`);
    });
    await docs.goto(base + "/docs/");
    await docs.locator(".swagger-ui .info .title").filter({ hasText: "polyrec" }).waitFor();
    const operations = await docs.locator(".opblock").count();
    assert(operations > 20, `only ${operations} operations listed`);
    await docs.close();
  });

  await step("no_script_errors", async () => {
    assert(consoleErrors.length === 0, consoleErrors.join("\n"));
  });
} catch (error) {
  results.push(["setup", error]);
  console.log(`test console::setup ... FAILED\n    ${error && error.stack || error}\n${serverLog.slice(-2000)}`);
} finally {
  if (browser) await browser.close();
  for (const child of processes) child.kill("SIGTERM");
  await Promise.all(processes.map((child) => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else { child.once("exit", resolve); setTimeout(() => { child.kill("SIGKILL"); resolve(); }, 10000); }
  })));
  rmSync(dir, { recursive: true, force: true });
}

const failed = results.filter(([, e]) => e).length;
console.log(`\ntest result: ${failed ? "FAILED" : "ok"}. ${results.length - failed} passed; ${failed} failed;${SPLIT ? " (console, split topology)" : ""}`);
process.exit(failed ? 1 : 0);
