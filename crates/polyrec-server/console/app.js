// polyrec admin console: plain JavaScript over the public REST API (/api/v1), no build step and
// no third-party code, so the binary serves it as is (see ARCHITECTURE.md, "The console").
"use strict";

// ---------------------------------------------------------------------------------------------
// Session: the tenant (X-Tenant-Id) and, when the server checks tokens, a bearer token.

const session = {
  get tenant() { return localStorage.getItem("polyrec.tenant") || ""; },
  get token() { return localStorage.getItem("polyrec.token") || ""; },
  get scenario() { return localStorage.getItem("polyrec.scenario") || ""; },
  set scenario(id) { localStorage.setItem("polyrec.scenario", id); },
  signIn(tenant, token) {
    localStorage.setItem("polyrec.tenant", tenant);
    localStorage.setItem("polyrec.token", token);
  },
  signOut() { localStorage.removeItem("polyrec.tenant"); localStorage.removeItem("polyrec.token"); },
};

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

function headers(extra) {
  const h = Object.assign({ "X-Tenant-Id": session.tenant }, extra || {});
  if (session.token) h.Authorization = "Bearer " + session.token;
  return h;
}

async function api(method, path, body, extra) {
  const init = { method, headers: headers(extra) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = { message: text }; }
  if (response.status === 401) { session.signOut(); }
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

// ---------------------------------------------------------------------------------------------
// Small DOM helpers.

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    // Through the CSSOM: the page's policy refuses inline style attributes.
    else if (k === "style") el.style.cssText = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const main = () => document.getElementById("main");

/// Replaces an element's children, leaving out the absent ones (null, undefined, false).
function fill(el, ...nodes) { el.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false)); }

/// Shows a page's content unless the operator has moved to another page meanwhile (a page that
/// loads slowly must not replace the one they went to).
function render(hash, ...nodes) {
  if (location.hash === hash) fill(main(), ...nodes);
}

function toast(message) {
  const box = document.getElementById("toast");
  const line = h("div", {}, message);
  box.append(line);
  setTimeout(() => line.remove(), 4000);
}

function fmt(value, digits) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return value.toLocaleString("en");
    return value.toFixed(digits === undefined ? 3 : digits);
  }
  return String(value);
}

function pct(value) { return value === null || value === undefined ? "–" : (100 * value).toFixed(2) + " %"; }

function errorBox(error) {
  const body = error.body || {};
  const list = h("ul", { class: "errors", role: "alert" });
  list.append(h("li", {}, h("strong", {}, body.code || "error"), ": ", body.message || error.message));
  for (const e of body.errors || []) list.append(h("li", {}, h("code", {}, e.path), " ", e.message));
  return list;
}

function field(label, input) { return h("label", {}, label, input); }

function scenarioPicker(onChange) {
  const select = h("select", { id: "scenario-picker", "aria-label": "Scenario" });
  api("GET", "/api/v1/scenarios").then((list) => {
    for (const s of list.scenarios) select.append(h("option", { value: s.scenario_id }, s.scenario_id));
    if (list.scenarios.some((s) => s.scenario_id === session.scenario)) select.value = session.scenario;
    else if (list.scenarios.length) session.scenario = select.value;
    onChange(select.value);
  }).catch((e) => select.after(errorBox(e)));
  select.addEventListener("change", () => { session.scenario = select.value; onChange(select.value); });
  return field("Scenario", select);
}

// ---------------------------------------------------------------------------------------------
// Charts: inline SVG, no library.

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const COLORS = ["#2b59c3", "#d2691e", "#1b7a3a", "#8e44ad", "#b3261e"];

/// A line chart of [{label, value}] points, or of several named series ([{name, points}]) that
/// share their labels.
function lineChart(title, points, series) {
  const lines = series || [{ name: "", points }];
  const W = 560, H = 200, L = 44, B = 26, T = 10;
  const values = lines.flatMap((l) => l.points.map((p) => p.value)).filter((v) => v !== null && v !== undefined);
  const max = Math.max(1e-9, ...values);
  const n = Math.max(0, ...lines.map((l) => l.points.length));
  const x = (i) => L + (n < 2 ? 0 : (i * (W - L - 10)) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "chart", role: "img", "aria-label": title });
  chart.append(svg("line", { x1: L, y1: H - B, x2: W - 5, y2: H - B, stroke: "#b9c1cf" }));
  chart.append(svg("text", { x: 2, y: T + 10 }, fmt(max, 3)), svg("text", { x: 2, y: H - B }, "0"));
  lines.forEach((line, k) => {
    const color = COLORS[k % COLORS.length];
    let d = "";
    line.points.forEach((p, i) => {
      if (p.value === null || p.value === undefined) return;
      d += (d ? " L" : "M") + x(i).toFixed(1) + " " + y(p.value).toFixed(1);
      chart.append(svg("circle", { cx: x(i), cy: y(p.value), r: 2.5, fill: color }, svg("title", {}, `${line.name} ${p.label}: ${fmt(p.value)}`)));
    });
    chart.insertBefore(svg("path", { d, fill: "none", stroke: color, "stroke-width": 2 }), chart.firstChild);
  });
  const labels = lines[0] ? lines[0].points : [];
  if (labels.length) {
    chart.append(svg("text", { x: L, y: H - 8 }, labels[0].label));
    chart.append(svg("text", { x: W - 5, y: H - 8, "text-anchor": "end" }, labels[labels.length - 1].label));
  }
  const legend = series ? h("div", { class: "legend" }, lines.map((l, k) => h("span", {}, h("span", { class: "swatch", style: `background:${COLORS[k % COLORS.length]}` }), l.name))) : null;
  return h("figure", { class: "card" }, h("figcaption", {}, h("strong", {}, title)), chart, legend);
}

/// A horizontal bar chart of [{label, value}].
function barChart(title, bars, format) {
  const W = 560, row = 24, L = 150;
  const H = Math.max(row, bars.length * row) + 6;
  const max = Math.max(1e-9, ...bars.map((b) => b.value));
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "chart", role: "img", "aria-label": title });
  bars.forEach((b, i) => {
    const w = ((W - L - 70) * b.value) / max;
    chart.append(svg("text", { x: L - 6, y: i * row + 16, "text-anchor": "end" }, b.label));
    chart.append(svg("rect", { x: L, y: i * row + 4, width: Math.max(1, w), height: row - 8, fill: "#5b84d6" }));
    chart.append(svg("text", { x: L + w + 6, y: i * row + 16 }, (format || fmt)(b.value)));
  });
  return h("figure", { class: "card" }, h("figcaption", {}, h("strong", {}, title)), chart);
}

function tiles(entries) {
  return h("div", { class: "tiles" }, entries.map(([k, v]) => h("div", { class: "tile" }, h("div", { class: "v" }, v), h("div", { class: "k" }, k))));
}

// ---------------------------------------------------------------------------------------------
// Pages.

const TEMPLATES = {
  vlog: { recall: { strategies: [{ name: "item_cf", weight: 0.4, limit: 150 }, { name: "hot_items", weight: 0.3, limit: 50 }, { name: "latest", weight: 0.3, limit: 50 }] }, rank: { model: "weighted" }, rerank: { rules: [{ name: "diversity", weight: 0.3 }] } },
  news: { recall: { strategies: [{ name: "hot_news", weight: 0.5, limit: 100 }, { name: "latest", weight: 0.3, limit: 100 }, { name: "content_based", weight: 0.2, limit: 100 }] }, rank: { model: "weighted" }, rerank: { rules: [{ name: "freshness", weight: 0.4, params: { decay_days: 2 } }] } },
  ecommerce: { recall: { strategies: [{ name: "item_cf", weight: 0.4, limit: 150 }, { name: "user_cf", weight: 0.3, limit: 100 }, { name: "hot_items", weight: 0.3, limit: 50 }] }, rank: { model: "weighted" }, rerank: { rules: [{ name: "diversity", weight: 0.2 }] } },
};

function signInPage() {
  const tenant = h("input", { id: "tenant", required: true, value: session.tenant, autocomplete: "organization" });
  const token = h("input", { id: "token", type: "password", value: session.token, autocomplete: "current-password" });
  const out = h("div");
  const form = h("form", { class: "card", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", { class: "muted" }, "Your tenant id, and your bearer token when the server checks tokens (leave it empty when it does not)."),
    h("div", { class: "row" }, field("Tenant", tenant), field("Bearer token", token), h("button", { type: "submit", id: "signin" }, "Sign in")),
    out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    session.signIn(tenant.value.trim(), token.value.trim());
    try {
      await api("GET", "/api/v1/scenarios");
      location.hash = "#/scenarios";
      route();
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  });
  main().replaceChildren(form);
  tenant.focus();
}

async function scenariosPage() {
  const here = location.hash;
  const list = await api("GET", "/api/v1/scenarios");
  const table = h("table", {}, h("thead", {}, h("tr", {}, ["Scenario", "Type", "Status", "Version", "Recall", "Rank"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, list.scenarios.map((s) => h("tr", {},
      h("td", {}, h("a", { href: `#/scenarios/${encodeURIComponent(s.scenario_id)}` }, s.scenario_id)),
      h("td", {}, s.scenario_type), h("td", {}, h("span", { class: "pill " + s.status }, s.status)), h("td", {}, s.version),
      h("td", {}, (s.config.recall.strategies || []).map((r) => r.name).join(", ")), h("td", {}, s.config.rank.model)))));
  render(here, h("h1", {}, "Scenarios"),
    h("p", {}, h("a", { href: "#/scenarios/new", id: "new-scenario" }, "Create a scenario")),
    h("div", { class: "card scroll" }, list.scenarios.length ? table : h("p", {}, "No scenario yet.")));
}

/// Finds the line of the editor's text where a JSON path's last key appears.
function lineOf(text, path) {
  const keys = path.split(".").map((k) => k.replace(/\[\d+\]$/, "")).filter((k) => k && k !== "config");
  let from = 0;
  for (const key of keys) {
    const at = text.indexOf(`"${key}"`, from);
    if (at >= 0) from = at;
  }
  return text.slice(0, from).split("\n").length;
}

function configEditor(initial, onSave, label) {
  const editor = h("textarea", { id: "config", rows: 22, spellcheck: "false", "aria-label": "Config (JSON)" });
  editor.value = JSON.stringify(initial, null, 2);
  const out = h("div", { id: "config-errors", "aria-live": "polite" });
  const showErrors = (error) => {
    const text = editor.value;
    const box = errorBox(error);
    for (const li of box.querySelectorAll("li")) {
      const code = li.querySelector("code");
      if (!code) continue;
      const line = lineOf(text, code.textContent);
      li.append(" ", h("button", { type: "button", class: "secondary", onclick: () => goToLine(editor, line) }, `line ${line}`));
    }
    out.replaceChildren(box);
  };
  // As you type: JSON syntax at once; the server's validation on save.
  editor.addEventListener("input", () => {
    try { JSON.parse(editor.value); out.replaceChildren(); } catch (e) { out.replaceChildren(h("p", { class: "bad" }, "Not JSON yet: " + e.message)); }
  });
  const save = h("button", { type: "button", id: "save" }, label || "Save");
  save.addEventListener("click", async () => {
    let config;
    try { config = JSON.parse(editor.value); } catch (e) { out.replaceChildren(h("p", { class: "bad", role: "alert" }, "Not JSON: " + e.message)); return; }
    save.disabled = true;
    try { await onSave(config); out.replaceChildren(h("p", { class: "ok", role: "status" }, "Saved.")); }
    catch (e) { showErrors(e); }
    finally { save.disabled = false; }
  });
  return { node: h("div", {}, editor, out, h("div", { class: "row" }, save)), editor, showErrors };
}

function goToLine(editor, line) {
  const lines = editor.value.split("\n");
  const start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
  editor.focus();
  editor.setSelectionRange(start, start + (lines[line - 1] || "").length);
}

function newScenarioPage() {
  const here = location.hash;
  const id = h("input", { id: "scenario-id", required: true, placeholder: "shop_home" });
  const type = h("select", { id: "template" }, Object.keys(TEMPLATES).map((t) => h("option", { value: t }, t)));
  const name = h("input", { id: "scenario-name" });
  const { node, editor } = configEditor(TEMPLATES.vlog, async (config) => {
    await api("POST", "/api/v1/scenarios", { scenario_id: id.value.trim(), scenario_type: type.value, name: name.value || undefined, config });
    session.scenario = id.value.trim();
    toast(`Scenario ${id.value} created`);
    location.hash = `#/scenarios/${encodeURIComponent(id.value.trim())}`;
  }, "Create");
  type.addEventListener("change", () => { editor.value = JSON.stringify(TEMPLATES[type.value], null, 2); });
  render(here, h("h1", {}, "New scenario"),
    h("div", { class: "card" }, h("div", { class: "row" }, field("Scenario id", id), field("Template", type), field("Name", name)), h("h2", {}, "Config"), node));
  id.focus();
}

function diffLines(before, after) {
  // A line diff by longest common subsequence (configs are short).
  const a = before.split("\n"), b = after.split("\n");
  const dp = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { out.push(["", a[i]]); i++; j++; }
    else if (j < b.length && (i >= a.length || dp[i][j + 1] >= dp[i + 1][j])) { out.push(["add", "+ " + b[j]]); j++; }
    else { out.push(["del", "- " + a[i]]); i++; }
  }
  return h("pre", { class: "diff" }, out.map(([k, line]) => h("div", { class: k }, line || " ")));
}

async function scenarioPage(id) {
  const here = location.hash;
  const scenario = await api("GET", `/api/v1/scenarios/${encodeURIComponent(id)}`);
  session.scenario = id;
  const { node } = configEditor(scenario.config, async (config) => {
    await api("PUT", `/api/v1/scenarios/${encodeURIComponent(id)}`, { scenario_type: scenario.scenario_type, name: scenario.name, status: scenario.status, config });
    toast("Saved a new version");
    if (location.hash === here) scenarioPage(id);
  });
  const history = h("div", { id: "history" });
  const status = h("select", { id: "status", "aria-label": "Status" }, ["active", "inactive"].map((s) => h("option", { value: s, selected: s === scenario.status }, s)));
  status.addEventListener("change", async () => {
    await api("PATCH", `/api/v1/scenarios/${encodeURIComponent(id)}`, { status: status.value });
    toast(`Status: ${status.value}`);
  });
  render(here, h("h1", {}, `Scenario ${id}`),
    h("div", { class: "card" }, h("div", { class: "row" }, h("span", {}, `Type ${scenario.scenario_type} · version ${scenario.version}`), field("Status", status)), h("h2", {}, "Config"), node),
    h("div", { class: "card" }, h("h2", {}, "Version history"), history));
  api("GET", `/api/v1/scenarios/${encodeURIComponent(id)}/versions`).then((versions) => {
    const rows = versions.versions.map((v, index) => {
      const previous = versions.versions[index + 1];
      const diff = h("div");
      const show = h("button", { type: "button", class: "secondary", onclick: () => {
        diff.replaceChildren(previous ? diffLines(JSON.stringify(previous.config, null, 2), JSON.stringify(v.config, null, 2)) : h("p", {}, "The first version."));
      } }, "Diff with previous");
      const revert = v.version === scenario.version ? h("span", { class: "muted" }, "current") : h("button", { type: "button", onclick: async () => {
        await api("PUT", `/api/v1/scenarios/${encodeURIComponent(id)}`, { scenario_type: scenario.scenario_type, name: scenario.name, status: scenario.status, config: v.config });
        toast(`Reverted to version ${v.version} (as a new version)`);
        if (location.hash === here) scenarioPage(id);
      } }, `Revert to v${v.version}`);
      return h("tr", {}, h("td", {}, "v" + v.version), h("td", {}, v.updated_at), h("td", {}, show, " ", revert, diff));
    });
    history.replaceChildren(h("table", {}, h("tbody", {}, rows)));
  }).catch((e) => history.replaceChildren(errorBox(e)));
}

async function itemsPage() {
  const here = location.hash;
  const results = h("div", { class: "scroll" });
  const category = h("input", { id: "filter-category", placeholder: "any" });
  const status = h("select", { id: "filter-status" }, ["", "active", "inactive"].map((s) => h("option", { value: s }, s || "any")));
  let scenario = "";
  const load = async () => {
    if (!scenario) return;
    const params = new URLSearchParams({ limit: "50" });
    if (category.value) params.set("category", category.value);
    if (status.value) params.set("status", status.value);
    try {
      const page = await api("GET", `/api/v1/scenarios/${encodeURIComponent(scenario)}/items?${params}`);
      results.replaceChildren(h("table", { id: "items" }, h("thead", {}, h("tr", {}, ["Item", "Status", "Category", "Metadata", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, page.items.map((item) => h("tr", {}, h("td", {}, item.item_id), h("td", {}, item.status), h("td", {}, item.metadata.category || ""),
          h("td", {}, h("code", {}, JSON.stringify(item.metadata).slice(0, 80))),
          h("td", {}, h("a", { href: `#/items/${encodeURIComponent(scenario)}/${encodeURIComponent(item.item_id)}` }, "Edit")))))));
    } catch (e) { results.replaceChildren(errorBox(e)); }
  };
  const file = h("input", { type: "file", id: "import-file", accept: ".ndjson,.jsonl,.json,.txt" });
  const progress = h("progress", { id: "import-progress", max: 100, value: 0, hidden: true });
  const report = h("div", { id: "import-report", "aria-live": "polite" });
  const upload = h("button", { type: "button", id: "import" }, "Import");
  upload.addEventListener("click", () => {
    if (!file.files.length || !scenario) return;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/scenarios/${encodeURIComponent(scenario)}/items/bulk`);
    for (const [k, v] of Object.entries(headers({ "Content-Type": "application/x-ndjson" }))) xhr.setRequestHeader(k, v);
    progress.hidden = false;
    progress.value = 0;
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = (100 * e.loaded) / e.total; };
    xhr.onload = () => {
      progress.value = 100;
      const body = JSON.parse(xhr.responseText || "{}");
      if (xhr.status >= 400) { report.replaceChildren(errorBox(new ApiError(xhr.status, body))); return; }
      fill(report, h("p", { role: "status" }, `Created ${body.created}, updated ${body.updated}, rejected ${body.rejected}.`),
        body.errors.length ? h("table", { id: "rejections" }, h("thead", {}, h("tr", {}, h("th", {}, "Line"), h("th", {}, "Code"), h("th", {}, "Reason"))),
          h("tbody", {}, body.errors.map((e) => h("tr", {}, h("td", {}, e.line), h("td", {}, e.code), h("td", {}, e.message))))) : null);
      load();
    };
    xhr.onerror = () => report.replaceChildren(h("p", { class: "bad" }, "The upload failed."));
    xhr.send(file.files[0]);
  });
  const search = h("button", { type: "button", id: "search", class: "secondary", onclick: load }, "Search");
  render(here, h("h1", {}, "Items"),
    h("div", { class: "card" }, h("div", { class: "row" }, scenarioPicker((s) => { scenario = s; load(); }), field("Category", category), field("Status", status), search)),
    h("div", { class: "card" }, h("h2", {}, "Bulk import (NDJSON, one item per line)"), h("div", { class: "row" }, field("File", file), upload), progress, report),
    h("div", { class: "card" }, results));
}

async function itemPage(scenario, id) {
  const here = location.hash;
  const path = `/api/v1/scenarios/${encodeURIComponent(scenario)}/items/${encodeURIComponent(id)}`;
  const item = await api("GET", path);
  const status = h("select", { id: "item-status" }, ["active", "inactive"].map((s) => h("option", { value: s, selected: s === item.status }, s)));
  const metadata = h("textarea", { id: "item-metadata", rows: 12, "aria-label": "Metadata (JSON)" });
  metadata.value = JSON.stringify(item.metadata, null, 2);
  const out = h("div", { "aria-live": "polite" });
  const save = h("button", { type: "button", id: "save-item" }, "Save");
  save.addEventListener("click", async () => {
    try {
      await api("PATCH", path, { status: status.value, metadata: JSON.parse(metadata.value) });
      out.replaceChildren(h("p", { class: "ok" }, "Saved."));
    } catch (e) { out.replaceChildren(e instanceof ApiError ? errorBox(e) : h("p", { class: "bad" }, e.message)); }
  });
  render(here, h("h1", {}, `Item ${id}`), h("p", {}, h("a", { href: "#/items" }, "← Items")),
    h("div", { class: "card" }, field("Status", status), h("h2", {}, "Metadata"), metadata, out, save));
}

async function playgroundPage() {
  const here = location.hash;
  const user = h("input", { id: "user", value: "u1" });
  const count = h("input", { id: "count", type: "number", min: 1, max: 500, value: 10 });
  const context = h("input", { id: "context", placeholder: '{"device_type": "mobile"}' });
  const out = h("div", { id: "playground-result" });
  let scenario = "";
  const run = h("button", { type: "button", id: "run" }, "Recommend");
  run.addEventListener("click", async () => {
    let ctx;
    try { ctx = context.value ? JSON.parse(context.value) : undefined; } catch (e) { out.replaceChildren(h("p", { class: "bad" }, "Context is not JSON: " + e.message)); return; }
    try {
      const answer = await api("POST", "/api/v1/recommend", { scenario_id: scenario, count: Number(count.value), context: ctx, explain: true }, { "X-User-Id": user.value });
      const stages = answer.items.length ? answer.items[0].stages.map((s) => s.stage) : [];
      fill(out,
        tiles([["items", answer.items.length], ["candidates", answer.candidates], ["took", fmt(answer.took_ms, 2) + " ms"], ["config version", answer.config_version], ["group", answer.group_id || "–"]]),
        answer.degraded_channels.length ? h("p", { class: "bad" }, "Degraded: " + answer.degraded_channels.map((c) => c.name).join(", ")) : null,
        answer.fallback ? h("p", { class: "muted" }, "The cold-start fallback filled the answer.") : null,
        h("div", { class: "card scroll" }, h("table", { id: "explain" },
          h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Item"), h("th", {}, "Recall channels"), stages.map((s) => h("th", {}, s)))),
          h("tbody", {}, answer.items.map((item, i) => h("tr", {}, h("td", {}, i + 1), h("td", {}, item.item_id),
            h("td", {}, item.channels.map((c) => `${c.name} ${fmt(c.score, 2)}`).join(", ")),
            item.stages.map((s) => h("td", {}, fmt(s.score, 4)))))))),
        h("div", { class: "card" }, h("h2", {}, "Recall channels"), h("table", {}, h("tbody", {}, answer.channels.map((c) => h("tr", {}, h("td", {}, c.name), h("td", {}, c.status), h("td", {}, `${c.candidates} candidates`), h("td", {}, fmt(c.elapsed_ms, 2) + " ms")))))));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  });
  render(here, h("h1", {}, "Playground"),
    h("div", { class: "card" }, h("div", { class: "row" }, scenarioPicker((s) => { scenario = s; }), field("User", user), field("Count", count), field("Context (JSON)", context), run)), out);
}

async function experimentsPage() {
  const here = location.hash;
  let scenario = "";
  const list = h("div", { id: "experiments" });
  const results = h("div", { id: "results" });
  const load = async () => {
    if (!scenario) return;
    const experiments = await api("GET", `/api/v1/scenarios/${encodeURIComponent(scenario)}/experiments`);
    const action = (e, verb) => h("button", { type: "button", class: verb === "stop" ? "danger" : "", onclick: async () => {
      try { await api("POST", `/api/v1/scenarios/${encodeURIComponent(scenario)}/experiments/${encodeURIComponent(e.experiment_id)}/${verb}`, {}); toast(`${e.experiment_id}: ${verb}`); load(); }
      catch (err) { list.append(errorBox(err)); }
    } }, verb === "start" ? "Start" : "Stop");
    list.replaceChildren(h("table", {}, h("thead", {}, h("tr", {}, ["Experiment", "Status", "Groups", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, experiments.experiments.map((e) => h("tr", {}, h("td", {}, e.experiment_id), h("td", {}, h("span", { class: "pill " + e.status }, e.status)),
        h("td", {}, e.groups.map((g) => `${g.group_id} ${pct(g.traffic_ratio)}`).join(", ")),
        h("td", {}, e.status === "draft" ? action(e, "start") : e.status === "running" ? action(e, "stop") : null, " ",
          h("button", { type: "button", class: "secondary", onclick: () => showResults(e.experiment_id) }, "Results")))))));
  };
  const showResults = async (id) => {
    try {
      const r = await api("GET", `/api/v1/scenarios/${encodeURIComponent(scenario)}/experiments/${encodeURIComponent(id)}/results`);
      const metric = (name, c) => c ? h("tr", {}, h("td", {}, name), h("td", {}, fmt(c.control, 4)), h("td", {}, fmt(c.treatment, 4)),
        h("td", {}, c.relative_lift === null ? "–" : pct(c.relative_lift)), h("td", {}, `[${fmt(c.absolute_ci[0], 4)}, ${fmt(c.absolute_ci[1], 4)}]`),
        h("td", { class: c.significant ? "ok" : "" }, fmt(c.p_value, 4))) : null;
      results.replaceChildren(h("h2", {}, `Results of ${id}`),
        h("p", { class: r.sample_ratio.mismatch ? "bad" : "ok" }, r.sample_ratio.mismatch ? "Sample ratio mismatch: do not trust the lifts." : `Sample ratio check passed (p = ${fmt(r.sample_ratio.p_value, 4)}).`),
        barChart("Users per group", r.groups.map((g) => ({ label: g.group_id, value: g.users }))),
        barChart("CTR per group", r.groups.map((g) => ({ label: g.group_id, value: g.ctr || 0 })), pct),
        h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["Group / metric", "Control", "Treatment", "Lift", "95 % CI (abs.)", "p-value"].map((c) => h("th", {}, c)))),
          h("tbody", {}, r.comparisons.map((c) => [h("tr", {}, h("th", { colspan: 6 }, c.group_id)), metric("CTR", c.ctr), metric("Conversion", c.conversion_rate), metric("Watch time", c.avg_watch_time)])))));
      // Each group's hourly CTR (the trends of the group's events).
      const trends = await Promise.all(r.groups.map((g) => api("GET", `/api/v1/analytics/trends?metric=ctr&experiment_id=${encodeURIComponent(id)}&group=${encodeURIComponent(g.group_id)}&scenario_id=${encodeURIComponent(scenario)}`)));
      const series = trends.map((t, k) => ({ name: r.groups[k].group_id, points: t.points.map((p) => ({ label: p.t.slice(5, 16), value: p.value })) }));
      results.append(lineChart("CTR per hour, by group", null, series));
    } catch (e) { results.replaceChildren(errorBox(e)); }
  };
  const id = h("input", { id: "experiment-id", placeholder: "ranker_test" });
  const groups = h("textarea", { id: "experiment-groups", rows: 8, "aria-label": "Groups (JSON)" });
  groups.value = JSON.stringify([{ group_id: "control", traffic_ratio: 0.5, config: {} }, { group_id: "treatment", traffic_ratio: 0.5, config: { rerank: { rules: [{ name: "diversity", weight: 0.6 }] } } }], null, 2);
  const out = h("div");
  const create = h("button", { type: "button", id: "create-experiment" }, "Create");
  create.addEventListener("click", async () => {
    try {
      await api("POST", `/api/v1/scenarios/${encodeURIComponent(scenario)}/experiments`, { experiment_id: id.value.trim(), groups: JSON.parse(groups.value) });
      out.replaceChildren(h("p", { class: "ok" }, "Created."));
      load();
    } catch (e) { out.replaceChildren(e instanceof ApiError ? errorBox(e) : h("p", { class: "bad" }, e.message)); }
  });
  render(here, h("h1", {}, "Experiments"),
    h("div", { class: "card" }, h("div", { class: "row" }, scenarioPicker((s) => { scenario = s; load(); }))),
    h("div", { class: "card" }, h("h2", {}, "New experiment"), field("Experiment id", id), h("p", { class: "muted" }, "Groups: id, share of traffic, and a merge patch of the scenario's config."), groups, out, create),
    h("div", { class: "card scroll" }, list), results);
}

function isoHoursAgo(hours) { return new Date(Date.now() - hours * 3600e3).toISOString().slice(0, 19) + "Z"; }

async function analyticsPage() {
  const here = location.hash;
  let scenario = "";
  const range = h("select", { id: "range" }, [["24", "last 24 hours"], ["168", "last 7 days"], ["720", "last 30 days"]].map(([v, l]) => h("option", { value: v }, l)));
  const out = h("div", { id: "analytics" });
  const load = async () => {
    if (!scenario) return;
    const hours = Number(range.value);
    const window = `scenario_id=${encodeURIComponent(scenario)}&from=${isoHoursAgo(hours)}&to=${isoHoursAgo(-1)}`;
    const interval = hours > 48 ? "day" : "hour";
    try {
      const [dash, events, ctr, types, top, funnel] = await Promise.all([
        api("GET", `/api/v1/analytics/dashboard?${window}`),
        api("GET", `/api/v1/analytics/trends?metric=events&interval=${interval}&${window}`),
        api("GET", `/api/v1/analytics/trends?metric=ctr&interval=${interval}&${window}`),
        api("GET", `/api/v1/analytics/distributions?by=event_type&${window}`),
        api("GET", `/api/v1/analytics/top_items?n=10&${window}`),
        api("GET", `/api/v1/analytics/funnel?steps=impression,click,order&${window}`),
      ]);
      out.replaceChildren(
        tiles([["events", fmt(dash.events)], ["impressions", fmt(dash.impressions)], ["clicks", fmt(dash.clicks)], ["CTR", pct(dash.ctr)], ["orders", fmt(dash.orders)], ["conversion", pct(dash.conversion_rate)]]),
        h("div", { class: "grid2" },
          lineChart("Events per " + interval, events.points.map((p) => ({ label: p.t.slice(5, 16), value: p.value }))),
          lineChart("CTR per " + interval, ctr.points.map((p) => ({ label: p.t.slice(5, 16), value: p.value }))),
          barChart("Events by type", Object.entries(types.buckets).map(([label, value]) => ({ label, value }))),
          barChart("Top items (clicks)", top.items.map((i) => ({ label: i.item_id, value: i.events }))),
          barChart("Funnel: users per step", funnel.steps.map((s) => ({ label: s.event_type, value: s.users })))));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  range.addEventListener("change", load);
  render(here, h("h1", {}, "Analytics"), h("div", { class: "card" }, h("div", { class: "row" }, scenarioPicker((s) => { scenario = s; load(); }), field("Time range", range))), out);
}

async function modelsPage() {
  const here = location.hash;
  let scenario = "";
  const out = h("div", { id: "models" });
  const job = h("div", { id: "job", "aria-live": "polite" });
  const load = async () => {
    if (!scenario) return;
    try {
      const list = await api("GET", `/api/v1/scenarios/${encodeURIComponent(scenario)}/models`);
      const act = (m, verb) => h("button", { type: "button", class: "secondary", onclick: async () => {
        const path = verb === "activate" ? `/api/v1/scenarios/${encodeURIComponent(scenario)}/models/${m.model_name}/versions/${m.model_version}/activate` : `/api/v1/scenarios/${encodeURIComponent(scenario)}/models/${m.model_name}/rollback`;
        try { await api("POST", path, {}); toast(`${m.model_name}: ${verb}`); load(); } catch (e) { out.append(errorBox(e)); }
      } }, verb === "activate" ? "Activate" : "Roll back");
      out.replaceChildren(h("table", {}, h("thead", {}, h("tr", {}, ["Model", "Version", "Status", "Serving", "Offline metrics", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, list.models.map((m) => h("tr", {}, h("td", {}, m.model_name), h("td", {}, m.model_version), h("td", {}, m.status), h("td", {}, m.serving ? "yes" : ""),
          h("td", {}, Object.entries(m.metrics).map(([k, v]) => `${k} ${fmt(v, 3)}`).join(", ")),
          h("td", {}, m.serving ? act(m, "rollback") : act(m, "activate")))))));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  const train = h("button", { type: "button", id: "train" }, "Train now");
  train.addEventListener("click", async () => {
    try {
      let record = await api("POST", `/api/v1/scenarios/${encodeURIComponent(scenario)}/jobs/train`, {});
      const bar = h("progress", { max: 1, value: 0 });
      const stage = h("span");
      job.replaceChildren(h("p", {}, `Job ${record.job_id}: `, stage), bar);
      while (record.state === "queued" || record.state === "running") {
        await new Promise((r) => setTimeout(r, 1000));
        record = await api("GET", `/api/v1/jobs/${record.job_id}`);
        bar.value = record.progress;
        stage.textContent = `${record.state}, ${record.stage}`;
      }
      stage.textContent = record.state === "succeeded" ? `succeeded: ${JSON.stringify(record.versions)}` : `${record.state}: ${record.error || ""}`;
      load();
    } catch (e) { job.replaceChildren(errorBox(e)); }
  });
  render(here, h("h1", {}, "Models and jobs"), h("div", { class: "card" }, h("div", { class: "row" }, scenarioPicker((s) => { scenario = s; load(); }), train), job), h("div", { class: "card scroll" }, out));
}

// ---------------------------------------------------------------------------------------------
// Real-time tiles of the chosen scenario, refreshed every 10 s.

async function refreshLive() {
  const box = document.getElementById("live");
  if (!session.tenant || !session.scenario) { box.replaceChildren(); return; }
  try {
    const m = await api("GET", `/api/v1/scenarios/${encodeURIComponent(session.scenario)}/metrics/realtime`);
    const count = (name) => fmt(Math.round(m.counters[name] || 0));
    box.replaceChildren(tiles([[`${session.scenario}: impressions (1 h)`, count("impressions")], ["clicks (1 h)", count("clicks")], ["CTR (1 h)", pct(m.ctr)]]));
  } catch (_) { box.replaceChildren(); }
}

// ---------------------------------------------------------------------------------------------
// Routing.

async function route() {
  const hash = location.hash || "#/scenarios";
  const parts = hash.slice(2).split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("current", hash.startsWith(a.getAttribute("href")));
  document.getElementById("who").replaceChildren(session.tenant ? h("span", {}, `tenant ${session.tenant} · `, h("a", { href: "#/signin", onclick: () => session.signOut() }, "sign out")) : "");
  if (!session.tenant || parts[0] === "signin") return signInPage();
  try {
    switch (parts[0]) {
      case "scenarios": await (parts[1] === "new" ? newScenarioPage() : parts[1] ? scenarioPage(parts[1]) : scenariosPage()); break;
      case "items": await (parts[2] ? itemPage(parts[1], parts[2]) : itemsPage()); break;
      case "playground": await playgroundPage(); break;
      case "experiments": await experimentsPage(); break;
      case "analytics": await analyticsPage(); break;
      case "models": await modelsPage(); break;
      default: await scenariosPage();
    }
    main().focus({ preventScroll: true });
  } catch (e) {
    if (e.status === 401) return signInPage();
    main().replaceChildren(h("h1", {}, "Something went wrong"), errorBox(e));
  }
  refreshLive();
}

window.addEventListener("hashchange", route);
setInterval(refreshLive, 10000);
route();
