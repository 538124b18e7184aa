export { Polyrec, unwrap } from "./client.js";
export type {
  PolyrecOptions,
  CallOptions,
  RawClient,
  QueryOf,
  Ok,
  DeadLetter,
  ModelName,
  SendAllOptions,
  SendAllResult,
  SendAllError,
  EventInput,
  BatchReport,
  ItemInput,
  ItemView,
  ItemPatch,
  CreateScenario,
  ReplaceScenario,
  PatchScenario,
  ScenarioView,
  RecommendRequest,
  RecommendResponse,
  CreateExperiment,
  ReplaceExperiment,
  TrainRequest,
  PrecomputeRequest,
  ReplayRequest,
} from "./client.js";
export { PolyrecError, isPolyrecError, parseRetryAfter } from "./errors.js";
export type { ErrorCode, ServerErrorCode, ClientErrorCode, FieldError, PolyrecErrorInit } from "./errors.js";
export { retryDelayMs, RETRY_STATUSES } from "./transport.js";
export type { FetchLike, RetryInfo } from "./transport.js";
export type { paths, components, operations } from "./schema.js";
