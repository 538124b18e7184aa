import createClient, { type Client } from "openapi-fetch";
import { randomUUID } from "node:crypto";
import type { components, operations, paths } from "./schema.js";
import { PolyrecError, type ErrorCode } from "./errors.js";
import { createTransport, retryDelayMs, sleep, type FetchLike, type RetryInfo } from "./transport.js";

type Schemas = components["schemas"];
export type EventInput = Schemas["EventInput"];
export type BatchReport = Schemas["BatchReport"];
export type ItemInput = Schemas["ItemInput"];
export type ItemView = Schemas["ItemView"];
export type ItemPatch = Schemas["ItemPatch"];
export type CreateScenario = Schemas["CreateScenario"];
export type ReplaceScenario = Schemas["ReplaceScenario"];
export type PatchScenario = Schemas["PatchScenario"];
export type ScenarioView = Schemas["ScenarioView"];
export type RecommendRequest = Schemas["RecommendRequest"];
export type RecommendResponse = Schemas["RecommendResponse"];
export type CreateExperiment = Schemas["CreateExperiment"];
export type ReplaceExperiment = Schemas["ReplaceExperiment"];
export type TrainRequest = Schemas["TrainRequest"];
export type PrecomputeRequest = Schemas["PrecomputeRequest"];
export type ReplayRequest = Schemas["ReplayRequest"];
/** One dead letter (the document gives it no fixed shape). */
export type DeadLetter = Schemas["DeadLetterPage"]["dead_letters"][number];

/** A model name the API knows (`als`, `lightgbm`, ...). */
export type ModelName = operations["models_activate"]["parameters"]["path"]["model_name"];

type JsonOf<T> = T extends { content: { "application/json": infer B } } ? B : void;
/** The JSON body of an operation's success answer (200, 201 or 202). */
export type Ok<K extends keyof operations> = operations[K]["responses"] extends infer R
  ? 200 extends keyof R
    ? JsonOf<R[200]>
    : 201 extends keyof R
      ? JsonOf<R[201]>
      : 202 extends keyof R
        ? JsonOf<R[202]>
        : void
  : never;

/** The query parameters of an operation (by its generated name, `<tag>_<operationId>`). */
export type QueryOf<K extends keyof operations> = NonNullable<operations[K]["parameters"]["query"]>;

/** The raw typed client: every route of the OpenAPI document, as openapi-fetch exposes them. */
export type RawClient = Client<paths>;

export interface PolyrecOptions {
  /** The server's address, e.g. `https://recs.example.com` (no `/api/v1`). */
  baseUrl: string;
  /** Sent as `X-Tenant-Id` on every request. Every /api/v1 route needs it. */
  tenant?: string;
  /** Sent as `Authorization: Bearer <token>`; a function is called before each request (token rotation). */
  token?: string | (() => string | Promise<string>);
  /** The fetch to use (default: the global one). */
  fetch?: FetchLike;
  /** How many times a 429, a 503 or a network failure is retried (default 3; 0: never). */
  retries?: number;
  /** First backoff step when the answer has no `Retry-After` (default 200 ms; doubled each retry). */
  retryBaseDelayMs?: number;
  /** Cap of any one wait, `Retry-After` included (default 30 s). */
  retryMaxDelayMs?: number;
  /** Per attempt; 0 for none (default 30 s). A timed-out attempt is retried like a network failure. */
  timeoutMs?: number;
  /** Called before each retry's wait (logging, metrics). */
  onRetry?: (info: RetryInfo) => void;
  /** How the client waits between tries (default: a timer; tests pass one that records the waits). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Extra headers sent on every request. */
  headers?: Record<string, string>;
}

/** Per-call options every facade method takes last. */
export interface CallOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** Overrides the client's `retries` for this call. */
  retries?: number;
  /**
   * Whether the request may be sent again after a timeout or a lost connection (its effect
   * happening once). Default: true for GET, HEAD, OPTIONS, PUT, PATCH and DELETE; for the event
   * routes, true when every event has an `event_id`; false for any other POST.
   */
  idempotent?: boolean;
}

/** What `events.sendAll` reports. */
export interface SendAllResult {
  /** Events read from the source. */
  sent: number;
  /** Events stored by this call. */
  accepted: number;
  /** Events whose `event_id` had been stored before (so not stored again). */
  duplicates: number;
  /** Events not stored: invalid ones, and `unavailable` ones still refused after `resendAttempts`. */
  rejected: number;
  /** Each rejected event: its position in the source, its `event_id`, the code and message. */
  errors: SendAllError[];
  /** Batches posted, resends included. */
  batches: number;
}

export interface SendAllError {
  /** Position of the event in the source iterable, from 0. */
  index: number;
  event_id: string;
  code: ErrorCode;
  message: string;
}

export interface SendAllOptions extends CallOptions {
  /** Events per POST (default 500; the server takes up to its `max_batch_events`). */
  batchSize?: number;
  /** How many more times the events answered `unavailable` are sent (default 5). */
  resendAttempts?: number;
  /** Called after each POST with its report and the totals so far. */
  onBatch?: (report: BatchReport, totals: SendAllResult) => void;
}

type ResultLike<T> = { data?: T; error?: unknown; response: Response };

/** Returns an openapi-fetch result's data, or throws its error as a `PolyrecError`. */
export function unwrap<T>(result: ResultLike<T>): T {
  if (!result.response.ok) throw PolyrecError.fromResponse(result.response, result.error);
  return result.data as T;
}

const DEFAULTS = { retries: 3, retryBaseDelayMs: 200, retryMaxDelayMs: 30_000, timeoutMs: 30_000 };

/**
 * The polyrec client: grouped, typed methods for the main routes, and `raw`, the typed
 * openapi-fetch client of every route. Each method throws `PolyrecError` on an error answer.
 */
export class Polyrec {
  /** The typed openapi-fetch client (tenant, token, retries and timeout included); returns `{data, error, response}`. */
  readonly raw: RawClient;
  readonly options: Readonly<PolyrecOptions>;

  constructor(options: PolyrecOptions) {
    if (!options.baseUrl) throw new TypeError("Polyrec: baseUrl is required");
    this.options = { ...options };
    const transport = createTransport({
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      tenant: options.tenant,
      token: options.token,
      retries: options.retries ?? DEFAULTS.retries,
      retryBaseDelayMs: options.retryBaseDelayMs ?? DEFAULTS.retryBaseDelayMs,
      retryMaxDelayMs: options.retryMaxDelayMs ?? DEFAULTS.retryMaxDelayMs,
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      onRetry: options.onRetry,
      sleep: options.sleep ?? sleep,
    });
    this.raw = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      fetch: transport,
      ...(options.headers ? { headers: options.headers } : {}),
    });
  }

  /** The same client for another tenant. */
  withTenant(tenant: string): Polyrec {
    return new Polyrec({ ...this.options, tenant });
  }

  /**
   * `GET /healthz` and `GET /readyz`: whether the process is up and whether it can serve.
   * Not retried unless `opts.retries` says so; never throws on an error status (a network failure does throw).
   */
  async health(opts?: CallOptions): Promise<{ healthy: boolean; ready: boolean }> {
    const [h, r] = await Promise.all([
      this.raw.GET("/healthz", { retries: 0, ...opts, parseAs: "text" }),
      this.raw.GET("/readyz", { retries: 0, ...opts, parseAs: "text" }),
    ]);
    return { healthy: h.response.ok, ready: r.response.ok };
  }

  /** `GET /metrics`: the Prometheus text. */
  async metrics(opts?: CallOptions): Promise<string> {
    return unwrap(await this.raw.GET("/metrics", { ...opts, parseAs: "text" })) as unknown as string;
  }

  /** `POST /api/v1/recommend` for one end user. */
  async recommend(
    userId: string,
    request: RecommendRequest,
    opts?: CallOptions & { requestId?: string },
  ): Promise<RecommendResponse> {
    const header = { "X-User-Id": userId, ...(opts?.requestId ? { "X-Request-Id": opts.requestId } : {}) };
    return unwrap(await this.raw.POST("/api/v1/recommend", { ...callOpts(opts), params: { header }, body: request }));
  }

  readonly scenarios = {
    list: async (opts?: CallOptions): Promise<Ok<"scenarios_list">> => unwrap(await this.raw.GET("/api/v1/scenarios", { ...opts })),
    create: async (scenario: CreateScenario, opts?: CallOptions): Promise<Ok<"scenarios_create">> =>
      unwrap(await this.raw.POST("/api/v1/scenarios", { ...opts, body: scenario })),
    get: async (scenarioId: string, opts?: CallOptions): Promise<Ok<"scenarios_get">> =>
      unwrap(await this.raw.GET("/api/v1/scenarios/{scenario_id}", { ...opts, params: sc(scenarioId) })),
    replace: async (scenarioId: string, scenario: ReplaceScenario, opts?: CallOptions): Promise<Ok<"scenarios_replace">> =>
      unwrap(await this.raw.PUT("/api/v1/scenarios/{scenario_id}", { ...opts, params: sc(scenarioId), body: scenario })),
    patch: async (scenarioId: string, patch: PatchScenario, opts?: CallOptions): Promise<Ok<"scenarios_patch">> =>
      unwrap(await this.raw.PATCH("/api/v1/scenarios/{scenario_id}", { ...opts, params: sc(scenarioId), body: patch })),
    delete: async (scenarioId: string, opts?: CallOptions): Promise<void> => {
      unwrap(await this.raw.DELETE("/api/v1/scenarios/{scenario_id}", { ...opts, params: sc(scenarioId) }));
    },
    versions: async (scenarioId: string, opts?: CallOptions): Promise<Ok<"scenarios_versions">> =>
      unwrap(await this.raw.GET("/api/v1/scenarios/{scenario_id}/versions", { ...opts, params: sc(scenarioId) })),
  };

  readonly items = {
    /** One page; pass its `next_cursor` back as `cursor` for the next. See `iterate`. */
    list: async (scenarioId: string, query?: QueryOf<"items_list">, opts?: CallOptions): Promise<Ok<"items_list">> =>
      unwrap(
        await this.raw.GET("/api/v1/scenarios/{scenario_id}/items", {
          ...opts,
          params: { path: { scenario_id: scenarioId }, query: query ?? {} },
        }),
      ),
    /** Every item, page after page (`limit` per request), following `next_cursor`. */
    iterate: (
      scenarioId: string,
      query?: Omit<QueryOf<"items_list">, "cursor">,
      opts?: CallOptions,
    ): AsyncGenerator<ItemView, void, undefined> =>
      paginate(async (cursor) => {
        const page = await this.items.list(scenarioId, { ...query, ...(cursor ? { cursor } : {}) }, opts);
        return { entries: page.items, next: page.next_cursor };
      }),
    create: async (scenarioId: string, item: ItemInput, opts?: CallOptions): Promise<Ok<"items_create">> =>
      unwrap(await this.raw.POST("/api/v1/scenarios/{scenario_id}/items", { ...opts, params: sc(scenarioId), body: item })),
    get: async (scenarioId: string, itemId: string, opts?: CallOptions): Promise<Ok<"items_get">> =>
      unwrap(
        await this.raw.GET("/api/v1/scenarios/{scenario_id}/items/{item_id}", {
          ...opts,
          params: { path: { scenario_id: scenarioId, item_id: itemId } },
        }),
      ),
    patch: async (scenarioId: string, itemId: string, patch: ItemPatch, opts?: CallOptions): Promise<Ok<"items_patch">> =>
      unwrap(
        await this.raw.PATCH("/api/v1/scenarios/{scenario_id}/items/{item_id}", {
          ...opts,
          params: { path: { scenario_id: scenarioId, item_id: itemId } },
          body: patch,
        }),
      ),
    delete: async (scenarioId: string, itemId: string, opts?: CallOptions): Promise<void> => {
      unwrap(
        await this.raw.DELETE("/api/v1/scenarios/{scenario_id}/items/{item_id}", {
          ...opts,
          params: { path: { scenario_id: scenarioId, item_id: itemId } },
        }),
      );
    },
    /**
     * Creates or replaces items from NDJSON: a string of lines, or items (an array or any
     * iterable, sync or async) that are serialized one per line. The body is built in memory:
     * split very large imports into several calls.
     */
    bulk: async (
      scenarioId: string,
      items: string | Iterable<ItemInput> | AsyncIterable<ItemInput>,
      opts?: CallOptions,
    ): Promise<Ok<"items_bulk">> => {
      const body = typeof items === "string" ? items : await toNdjson(items);
      return unwrap(
        await this.raw.POST("/api/v1/scenarios/{scenario_id}/items/bulk", {
          ...callOpts(opts),
          params: sc(scenarioId),
          body,
          bodySerializer: (b: unknown) => b as string,
          headers: { ...opts?.headers, "Content-Type": "application/x-ndjson" },
        }),
      );
    },
    /** Realtime counters of one item. */
    stats: async (scenarioId: string, itemId: string, opts?: CallOptions): Promise<Ok<"realtime_item_stats">> =>
      unwrap(
        await this.raw.GET("/api/v1/scenarios/{scenario_id}/items/{item_id}/stats", {
          ...opts,
          params: { path: { scenario_id: scenarioId, item_id: itemId } },
        }),
      ),
  };

  readonly events = {
    /** `POST /api/v1/behaviors`: one event. Give it an `event_id` to make retries idempotent. */
    track: async (event: EventInput, opts?: CallOptions): Promise<Ok<"behaviors_track">> =>
      unwrap(await this.raw.POST("/api/v1/behaviors", { idempotent: Boolean(event.event_id), ...opts, body: event })),
    /** `POST /api/v1/behaviors/batch`: one batch, as given (see `sendAll` for chunking and resends). */
    trackBatch: async (events: EventInput[], opts?: CallOptions): Promise<Ok<"behaviors_track_batch">> =>
      unwrap(
        await this.raw.POST("/api/v1/behaviors/batch", {
          idempotent: events.every((event) => Boolean(event.event_id)),
          ...opts,
          body: { events },
        }),
      ),
    /**
     * Sends any number of events in batches of `batchSize`. Each event lacking an `event_id` gets
     * one (`crypto.randomUUID()`, on a copy: the caller's objects are not changed), so retrying a
     * batch (429, 503, network failure) and resending the events the server answered
     * `unavailable` never stores an event twice. Invalid events are counted in `rejected` with
     * their code; an error answer to a whole batch (e.g. 401, 413) is thrown.
     * To resend a whole source idempotently later, give the events your own `event_id`s.
     */
    sendAll: async (
      source: Iterable<EventInput> | AsyncIterable<EventInput>,
      options: SendAllOptions = {},
    ): Promise<SendAllResult> => {
      const batchSize = options.batchSize ?? 500;
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError("sendAll: batchSize must be a positive integer");
      const resendAttempts = options.resendAttempts ?? 5;
      const opts = callOpts(options);
      const totals: SendAllResult = { sent: 0, accepted: 0, duplicates: 0, rejected: 0, errors: [], batches: 0 };

      const flush = async (chunk: Array<{ index: number; event: EventInput & { event_id: string } }>) => {
        let pending = chunk;
        for (let round = 0; pending.length > 0; round++) {
          const report = await this.events.trackBatch(pending.map((p) => p.event), opts);
          totals.batches++;
          totals.accepted += report.accepted;
          totals.duplicates += report.duplicates;
          const again: typeof pending = [];
          for (const err of report.errors) {
            const p = pending[err.index];
            if (!p) continue;
            if (err.code === "unavailable" && round < resendAttempts) {
              again.push(p);
            } else {
              totals.rejected++;
              totals.errors.push({ index: p.index, event_id: p.event.event_id, code: err.code, message: err.message });
            }
          }
          options.onBatch?.(report, { ...totals, errors: [...totals.errors] });
          pending = again;
          if (pending.length > 0) {
            await (this.options.sleep ?? sleep)(retryDelayMs(round + 1, undefined, this.options.retryBaseDelayMs ?? DEFAULTS.retryBaseDelayMs, this.options.retryMaxDelayMs ?? DEFAULTS.retryMaxDelayMs), options.signal);
          }
        }
      };

      let chunk: Array<{ index: number; event: EventInput & { event_id: string } }> = [];
      for await (const event of source) {
        const withId = event.event_id ? (event as EventInput & { event_id: string }) : { ...event, event_id: randomUUID() };
        chunk.push({ index: totals.sent++, event: withId });
        if (chunk.length >= batchSize) {
          await flush(chunk);
          chunk = [];
        }
      }
      if (chunk.length > 0) await flush(chunk);
      return totals;
    },
    /** Counters of the event pipeline. */
    stats: async (opts?: CallOptions): Promise<Ok<"behaviors_stats">> => unwrap(await this.raw.GET("/api/v1/behaviors/stats", { ...opts })),
  };

  readonly deadLetters = {
    list: async (query?: QueryOf<"behaviors_dead_letters">, opts?: CallOptions): Promise<Ok<"behaviors_dead_letters">> =>
      unwrap(await this.raw.GET("/api/v1/behaviors/dead_letters", { ...opts, params: { query: query ?? {} } })),
    /** Every dead letter, page after page, following `next_cursor`. */
    iterate: (
      query?: Omit<QueryOf<"behaviors_dead_letters">, "cursor">,
      opts?: CallOptions,
    ): AsyncGenerator<DeadLetter, void, undefined> =>
      paginate(async (cursor) => {
        const page = await this.deadLetters.list({ ...query, ...(cursor ? { cursor } : {}) }, opts);
        return { entries: page.dead_letters, next: page.next_cursor };
      }),
    replay: async (request: ReplayRequest, opts?: CallOptions): Promise<Ok<"behaviors_replay">> =>
      unwrap(await this.raw.POST("/api/v1/behaviors/dead_letters/replay", { ...opts, body: request })),
  };

  readonly jobs = {
    /** Queues a training job (202); poll it with `get`. */
    train: async (scenarioId: string, request: TrainRequest = {}, opts?: CallOptions): Promise<Ok<"jobs_train">> =>
      unwrap(await this.raw.POST("/api/v1/scenarios/{scenario_id}/jobs/train", { ...opts, params: sc(scenarioId), body: request })),
    /** Trains the collaborative-filtering model synchronously. */
    trainCf: async (scenarioId: string, opts?: CallOptions): Promise<Ok<"jobs_train_cf">> =>
      unwrap(await this.raw.POST("/api/v1/scenarios/{scenario_id}/jobs/cf", { ...opts, params: sc(scenarioId) })),
    precompute: async (scenarioId: string, request: PrecomputeRequest, opts?: CallOptions): Promise<Ok<"jobs_precompute">> =>
      unwrap(
        await this.raw.POST("/api/v1/scenarios/{scenario_id}/jobs/precompute", { ...opts, params: sc(scenarioId), body: request }),
      ),
    get: async (jobId: string, opts?: CallOptions): Promise<Ok<"jobs_job">> =>
      unwrap(await this.raw.GET("/api/v1/jobs/{job_id}", { ...opts, params: { path: { job_id: jobId } } })),
    list: async (scenarioId: string, query?: QueryOf<"jobs_jobs">, opts?: CallOptions): Promise<Ok<"jobs_jobs">> =>
      unwrap(
        await this.raw.GET("/api/v1/scenarios/{scenario_id}/jobs", {
          ...opts,
          params: { path: { scenario_id: scenarioId }, query: query ?? {} },
        }),
      ),
  };

  readonly models = {
    list: async (scenarioId: string, query?: QueryOf<"models_list">, opts?: CallOptions): Promise<Ok<"models_list">> =>
      unwrap(
        await this.raw.GET("/api/v1/scenarios/{scenario_id}/models", {
          ...opts,
          params: { path: { scenario_id: scenarioId }, query: query ?? {} },
        }),
      ),
    activate: async (scenarioId: string, modelName: ModelName, version: string, opts?: CallOptions): Promise<Ok<"models_activate">> =>
      unwrap(
        await this.raw.POST("/api/v1/scenarios/{scenario_id}/models/{model_name}/versions/{version}/activate", {
          ...opts,
          params: { path: { scenario_id: scenarioId, model_name: modelName, version } },
        }),
      ),
    rollback: async (scenarioId: string, modelName: ModelName, opts?: CallOptions): Promise<Ok<"models_rollback">> =>
      unwrap(
        await this.raw.POST("/api/v1/scenarios/{scenario_id}/models/{model_name}/rollback", {
          ...opts,
          params: { path: { scenario_id: scenarioId, model_name: modelName } },
        }),
      ),
  };

  readonly experiments = {
    list: async (scenarioId: string, opts?: CallOptions): Promise<Ok<"experiments_list">> =>
      unwrap(await this.raw.GET("/api/v1/scenarios/{scenario_id}/experiments", { ...opts, params: sc(scenarioId) })),
    create: async (scenarioId: string, experiment: CreateExperiment, opts?: CallOptions): Promise<Ok<"experiments_create">> =>
      unwrap(
        await this.raw.POST("/api/v1/scenarios/{scenario_id}/experiments", { ...opts, params: sc(scenarioId), body: experiment }),
      ),
    get: async (scenarioId: string, experimentId: string, opts?: CallOptions): Promise<Ok<"experiments_get">> =>
      unwrap(
        await this.raw.GET("/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}", {
          ...opts,
          params: ex(scenarioId, experimentId),
        }),
      ),
    replace: async (scenarioId: string, experimentId: string, experiment: ReplaceExperiment, opts?: CallOptions): Promise<Ok<"experiments_replace">> =>
      unwrap(
        await this.raw.PUT("/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}", {
          ...opts,
          params: ex(scenarioId, experimentId),
          body: experiment,
        }),
      ),
    delete: async (scenarioId: string, experimentId: string, opts?: CallOptions): Promise<void> => {
      unwrap(
        await this.raw.DELETE("/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}", {
          ...opts,
          params: ex(scenarioId, experimentId),
        }),
      );
    },
    start: async (scenarioId: string, experimentId: string, opts?: CallOptions): Promise<Ok<"experiments_start">> =>
      unwrap(
        await this.raw.POST("/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}/start", {
          ...opts,
          params: ex(scenarioId, experimentId),
        }),
      ),
    stop: async (scenarioId: string, experimentId: string, opts?: CallOptions): Promise<Ok<"experiments_stop">> =>
      unwrap(
        await this.raw.POST("/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}/stop", {
          ...opts,
          params: ex(scenarioId, experimentId),
        }),
      ),
    results: async (
      scenarioId: string,
      experimentId: string,
      query?: QueryOf<"experiments_results">,
      opts?: CallOptions,
    ): Promise<Ok<"experiments_results">> =>
      unwrap(
        await this.raw.GET("/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}/results", {
          ...opts,
          params: { path: { scenario_id: scenarioId, experiment_id: experimentId }, query: query ?? {} },
        }),
      ),
  };

  readonly analytics = {
    dashboard: async (query?: QueryOf<"analytics_dashboard">, opts?: CallOptions): Promise<Ok<"analytics_dashboard">> =>
      unwrap(await this.raw.GET("/api/v1/analytics/dashboard", { ...opts, params: { query: query ?? {} } })),
    distributions: async (query: QueryOf<"analytics_distributions">, opts?: CallOptions): Promise<Ok<"analytics_distributions">> =>
      unwrap(await this.raw.GET("/api/v1/analytics/distributions", { ...opts, params: { query } })),
    funnel: async (query: QueryOf<"analytics_funnel">, opts?: CallOptions): Promise<Ok<"analytics_funnel">> =>
      unwrap(await this.raw.GET("/api/v1/analytics/funnel", { ...opts, params: { query } })),
    topItems: async (query: QueryOf<"analytics_top_items">, opts?: CallOptions): Promise<Ok<"analytics_top_items">> =>
      unwrap(await this.raw.GET("/api/v1/analytics/top_items", { ...opts, params: { query } })),
    trends: async (query: QueryOf<"analytics_trends">, opts?: CallOptions): Promise<Ok<"analytics_trends">> =>
      unwrap(await this.raw.GET("/api/v1/analytics/trends", { ...opts, params: { query } })),
  };

  readonly realtime = {
    /** The scenario's hot items now. */
    hot: async (scenarioId: string, query?: QueryOf<"realtime_hot">, opts?: CallOptions): Promise<Ok<"realtime_hot">> =>
      unwrap(
        await this.raw.GET("/api/v1/scenarios/{scenario_id}/hot", {
          ...opts,
          params: { path: { scenario_id: scenarioId }, query: query ?? {} },
        }),
      ),
    /** One end user's realtime profile in a scenario. */
    profile: async (scenarioId: string, userId: string, opts?: CallOptions): Promise<Ok<"realtime_profile">> =>
      unwrap(
        await this.raw.GET("/api/v1/scenarios/{scenario_id}/users/{user_id}/profile", {
          ...opts,
          params: { path: { scenario_id: scenarioId, user_id: userId } },
        }),
      ),
    metrics: async (scenarioId: string, opts?: CallOptions): Promise<Ok<"realtime_realtime_metrics">> =>
      unwrap(await this.raw.GET("/api/v1/scenarios/{scenario_id}/metrics/realtime", { ...opts, params: sc(scenarioId) })),
  };
}

function sc(scenarioId: string) {
  return { path: { scenario_id: scenarioId } };
}

function ex(scenarioId: string, experimentId: string) {
  return { path: { scenario_id: scenarioId, experiment_id: experimentId } };
}

function callOpts(opts: CallOptions | undefined): CallOptions {
  const out: CallOptions = {};
  if (opts?.signal) out.signal = opts.signal;
  if (opts?.headers) out.headers = opts.headers;
  if (opts?.retries !== undefined) out.retries = opts.retries;
  if (opts?.idempotent !== undefined) out.idempotent = opts.idempotent;
  return out;
}

async function* paginate<T>(
  fetchPage: (cursor: string | undefined) => Promise<{ entries: T[]; next?: string | null | undefined }>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  for (;;) {
    const page = await fetchPage(cursor);
    yield* page.entries;
    if (!page.next) return;
    if (page.next === cursor) throw new Error(`pagination: the server answered the same cursor twice (${cursor})`);
    cursor = page.next;
  }
}

async function toNdjson(items: Iterable<ItemInput> | AsyncIterable<ItemInput>): Promise<string> {
  const lines: string[] = [];
  for await (const item of items) lines.push(JSON.stringify(item));
  return lines.length ? `${lines.join("\n")}\n` : "";
}
