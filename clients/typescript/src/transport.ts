import { PolyrecError, parseRetryAfter } from "./errors.js";

/** The fetch signature the client uses (the global `fetch` fits; so does any fake of it). */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** What `onRetry` is told before each wait. */
export interface RetryInfo {
  /** 1 for the first retry, 2 for the second, ... */
  attempt: number;
  /** How long the client waits before sending again. */
  delayMs: number;
  method: string;
  url: string;
  /** The status that caused the retry (429, 503); absent for a network error or a timeout. */
  status?: number | undefined;
  /** The failure that caused the retry. */
  error: PolyrecError;
}

export interface TransportOptions {
  fetch: FetchLike;
  tenant?: string | undefined;
  token?: string | (() => string | Promise<string>) | undefined;
  retries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  timeoutMs: number;
  onRetry?: ((info: RetryInfo) => void) | undefined;
  /** How to wait between tries. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Methods whose request may be sent twice with the effect of once. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"]);

/** Whether a fetch failure happened before anything was sent (the connection was refused or the host not found). */
function notSent(e: unknown): boolean {
  const code = (e as { cause?: { code?: unknown } } | null)?.cause?.code;
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN";
}

/** Statuses that are retried (with backoff, honouring `Retry-After`). Every other status is final. */
export const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/**
 * The delay before retry number `attempt` (1-based): the answer's `Retry-After` when it has one
 * (never shorter, plus up to 10% jitter so many clients do not come back in step), otherwise
 * exponential backoff `base * 2^(attempt-1)` with "equal jitter" (between half and all of it);
 * both capped at `maxDelayMs`.
 */
export function retryDelayMs(
  attempt: number,
  retryAfterSeconds: number | undefined,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  if (retryAfterSeconds !== undefined) {
    const ms = retryAfterSeconds * 1000;
    return Math.min(maxDelayMs, Math.round(ms + random() * ms * 0.1));
  }
  const exp = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Waits `ms`, or rejects with the signal's reason as soon as it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Wraps `fetch`: adds the tenant and bearer headers, a per-attempt timeout, and retries of 429, 503
 * and network failures (timeouts included). A request the caller aborted through its own signal
 * is never retried. Network failures come out as `PolyrecError` (`network_error` / `timeout`);
 * HTTP answers, errors included, are returned as they are (the caller reads the ErrorBody).
 *
 * A 429 or 503 answer means the server did not do the work, and a refused connection means
 * nothing was sent: those are retried for every request. After a timeout or a connection lost
 * once the request was sent, the first try may have been done, so only an idempotent request is
 * sent again: GET, HEAD, OPTIONS, PUT, PATCH (a merge patch) and DELETE by default, or any call
 * made with `idempotent: true` — the event routes set it when every event carries an `event_id`
 * (which `events.sendAll` gives each event lacking one). A POST is otherwise not repeated, so a
 * training job is never queued twice. Set `retries: 0` to handle every failure yourself.
 */
export function createTransport(opts: TransportOptions): (input: Request) => Promise<Response> {
  return async function polyrecFetch(input: Request): Promise<Response> {
    const original = input;
    const headers = new Headers(original.headers);
    if (opts.tenant !== undefined && !headers.has("x-tenant-id")) headers.set("x-tenant-id", opts.tenant);
    if (opts.token !== undefined && !headers.has("authorization")) {
      const token = typeof opts.token === "function" ? await opts.token() : opts.token;
      headers.set("authorization", `Bearer ${token}`);
    }
    // The body is read once so that each attempt can send it again.
    const body = original.body === null ? undefined : await original.arrayBuffer();
    const callerSignal = original.signal;
    const method = original.method;
    // Per-call override: openapi-fetch copies unknown request options onto the Request.
    const perCall = (original as Request & { retries?: unknown }).retries;
    const retries = typeof perCall === "number" && perCall >= 0 ? perCall : opts.retries;
    const perCallIdempotent = (original as Request & { idempotent?: unknown }).idempotent;
    const idempotent = typeof perCallIdempotent === "boolean" ? perCallIdempotent : IDEMPOTENT_METHODS.has(method.toUpperCase());
    const url = original.url;

    for (let attempt = 0; ; attempt++) {
      const signals: AbortSignal[] = [callerSignal];
      if (opts.timeoutMs > 0 && Number.isFinite(opts.timeoutMs)) signals.push(AbortSignal.timeout(opts.timeoutMs));
      const signal = AbortSignal.any(signals);
      let failure: PolyrecError;
      let status: number | undefined;
      try {
        const init: RequestInit = { method, headers, signal, redirect: original.redirect };
        if (body !== undefined) init.body = body;
        const response = await opts.fetch(url, init);
        if (!RETRY_STATUSES.has(response.status) || attempt >= retries) return response;
        status = response.status;
        const text = await response.text().catch(() => "");
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        failure = PolyrecError.fromResponse(response, parsed);
      } catch (e) {
        if (callerSignal.aborted) throw callerSignal.reason ?? e;
        failure = toNetworkError(e, method, url, opts.timeoutMs);
        if (attempt >= retries || !(idempotent || notSent(e))) throw failure;
      }
      const delayMs = retryDelayMs(attempt + 1, failure.retryAfter, opts.retryBaseDelayMs, opts.retryMaxDelayMs);
      opts.onRetry?.({ attempt: attempt + 1, delayMs, method, url, status, error: failure });
      await opts.sleep(delayMs, callerSignal);
    }
  };
}

function toNetworkError(e: unknown, method: string, url: string, timeoutMs: number): PolyrecError {
  if (e instanceof PolyrecError) return e;
  const name = (e as { name?: unknown } | null)?.name;
  if (name === "TimeoutError") {
    return new PolyrecError({
      status: 0,
      code: "timeout",
      message: `${method} ${url}: no answer within ${timeoutMs} ms`,
      cause: e,
    });
  }
  const cause = (e as { cause?: { message?: unknown } } | null)?.cause;
  const detail = typeof cause?.message === "string" ? cause.message : e instanceof Error ? e.message : String(e);
  return new PolyrecError({
    status: 0,
    code: "network_error",
    message: `${method} ${url}: ${detail}`,
    cause: e,
  });
}
