#!/usr/bin/env node
// Regenerates src/schema.d.ts from a polyrec server's OpenAPI document.
//
//   npm run generate -- http://127.0.0.1:8080/openapi.json
//   npm run generate -- ./openapi.json
//   POLYREC_URL=http://127.0.0.1:8080 npm run generate
//   npm run generate -- URL --check    # writes nothing; exits 1 when src/schema.d.ts is stale
//
// Two deliberate rewrites of the document before openapi-typescript sees it:
//  1. operationIds are unique only within a tag (`list`, `create`, `get` exist in several), and
//     openapi-typescript keys `operations` by operationId, so each becomes `<tag>_<operationId>`
//     (`items_list`, `scenarios_create`, ...).
//  2. `X-Tenant-Id` is required by every /api/v1 operation, but the client sends it on every
//     request itself (the `tenant` option), so it is generated as optional: callers of the raw
//     typed client need not repeat it (they still may, to override it for one call).
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";

const args = process.argv.slice(2);
const check = args.includes("--check");
const source =
  args.find((a) => a !== "--check") ??
  process.env.POLYREC_OPENAPI ??
  (process.env.POLYREC_URL ? `${process.env.POLYREC_URL.replace(/\/+$/, "")}/openapi.json` : undefined);
if (!source) {
  console.error("usage: npm run generate -- <url-or-file of openapi.json>  (or set POLYREC_URL)");
  process.exit(2);
}

let doc;
if (/^https?:\/\//.test(source)) {
  const res = await fetch(source);
  if (!res.ok) throw new Error(`GET ${source}: ${res.status} ${res.statusText}`);
  doc = await res.json();
} else {
  doc = JSON.parse(await readFile(source, "utf8"));
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const seen = new Set();
for (const item of Object.values(doc.paths ?? {})) {
  for (const method of METHODS) {
    const op = item[method];
    if (!op) continue;
    if (op.operationId) {
      const tag = op.tags?.[0];
      const id = tag ? `${tag}_${op.operationId}` : op.operationId;
      if (seen.has(id)) throw new Error(`operationId ${id} is not unique even with its tag`);
      seen.add(id);
      op.operationId = id;
    }
    for (const p of op.parameters ?? []) {
      if (p.in === "header" && p.name?.toLowerCase() === "x-tenant-id") p.required = false;
    }
  }
}

// emptyObjectsUnknown: a schema `{"type": "object"}` (item metadata, event context, a config patch)
// takes any fields: `Record<string, unknown>`, not the default `Record<string, never>`.
const ast = await openapiTS(doc, { emptyObjectsUnknown: true });
const out = fileURLToPath(new URL("../src/schema.d.ts", import.meta.url));
const text = astToString(ast);
if (check) {
  const current = await readFile(out, "utf8").catch(() => "");
  if (current !== text) {
    console.error(`src/schema.d.ts is not what ${source} gives: run \`npm run generate -- ${source}\``);
    process.exit(1);
  }
  console.log(`src/schema.d.ts is that of ${source}`);
} else {
  await writeFile(out, text);
  console.log(`wrote ${out} from ${source} (${seen.size} operations)`);
}
