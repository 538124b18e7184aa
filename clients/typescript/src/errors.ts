import type { components } from "./schema.js";

/** The stable machine-readable codes of the server's `ErrorBody` (generated from the OpenAPI enum). */
export type ServerErrorCode = components["schemas"]["ErrorBody"]["code"];

/**
 * Codes the client itself produces when there is no server answer to read:
 * - `network_error`: the request could not be sent or its answer not read (DNS, refused, reset);
 * - `timeout`: no answer within `timeoutMs`;
 * - `unexpected_response`: an error status whose body is not an `ErrorBody` (e.g. a proxy's HTML page).
 */
export type ClientErrorCode = "network_error" | "timeout" | "unexpected_response";

export type ErrorCode = ServerErrorCode | ClientErrorCode;

export type FieldError = components["schemas"]["FieldError"];

export interface PolyrecErrorInit {
  status: number;
  code: ErrorCode;
  message: string;
  errors?: FieldError[] | undefined;
  requestId?: string | undefined;
  retryAfter?: number | undefined;
  body?: unknown;
  cause?: unknown;
}

/**
 * Every failure of a `Polyrec` call: an error answer of the server (`status` ≥ 400, `code` from its
 * `ErrorBody`) or no answer at all (`status` 0, `code` `network_error` or `timeout`).
 */
export class PolyrecError extends Error {
  /** HTTP status; 0 when no answer was received. */
  readonly status: number;
  /** The ErrorBody's `code` (stable, machine-readable), or a `ClientErrorCode`. */
  readonly code: ErrorCode;
  /** For validation errors (e.g. `invalid_config`): each problem with its JSON path. */
  readonly errors: FieldError[];
  /** The answer's `x-request-id` header: quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** The answer's `Retry-After`, in seconds (429 and 503 answers carry it). */
  readonly retryAfter: number | undefined;
  /** The parsed error body as received (may carry fields beyond code/message/errors). */
  readonly body: unknown;

  constructor(init: PolyrecErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "PolyrecError";
    this.status = init.status;
    this.code = init.code;
    this.errors = init.errors ?? [];
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
    this.body = init.body;
  }

  /** Builds the error of a non-2xx answer from its (already parsed) body. */
  static fromResponse(response: Response, body: unknown): PolyrecError {
    const requestId = response.headers.get("x-request-id") ?? undefined;
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
    if (isErrorBody(body)) {
      return new PolyrecError({
        status: response.status,
        code: body.code as ErrorCode,
        message: body.message,
        errors: Array.isArray(body.errors) ? body.errors : [],
        requestId,
        retryAfter,
        body,
      });
    }
    const text = typeof body === "string" ? body.slice(0, 200) : "";
    return new PolyrecError({
      status: response.status,
      code: "unexpected_response",
      message: `HTTP ${response.status} ${response.statusText}${text ? `: ${text}` : ""}`,
      requestId,
      retryAfter,
      body,
    });
  }
}

export function isPolyrecError(e: unknown): e is PolyrecError {
  return e instanceof PolyrecError;
}

function isErrorBody(body: unknown): body is { code: string; message: string; errors?: FieldError[] | null } {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as { code?: unknown }).code === "string" &&
    typeof (body as { message?: unknown }).message === "string"
  );
}

/** `Retry-After` as seconds: a delay in seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - Date.now()) / 1000);
}
