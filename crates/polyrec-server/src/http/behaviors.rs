//! `/api/v1/behaviors`: the behavior service over HTTP.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::error::{ApiJson, ApiQuery, ApiResult, Caller, ErrorBody, Tenant};
use crate::App;
use crate::service::behaviors::{
    self, Accepted, BatchReport, DeadLetterPage, DeadLetterQuery, EventBatch, EventInput, EventStats, ReplayReport,
    ReplayRequest,
};

#[utoipa::path(post, path = "/api/v1/behaviors", tag = "behaviors",
    description = "Accepts one event. 202 means it is durable on the event bus.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id")),
    request_body = EventInput,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn track(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<EventInput>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    Ok((StatusCode::ACCEPTED, Json(behaviors::track(&app, &caller.tenant, body, caller.user.as_ref()).await?)))
}

#[utoipa::path(post, path = "/api/v1/behaviors/batch", tag = "behaviors",
    description = "Accepts the valid events of a batch (at most max_batch_events, default 10,000) and \
        reports each invalid one with its index.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id")),
    request_body = EventBatch,
    responses((status = 200, body = BatchReport), (status = 422, body = ErrorBody)))]
pub async fn track_batch(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<EventBatch>,
) -> ApiResult<Json<BatchReport>> {
    Ok(Json(behaviors::track_batch(&app, &caller.tenant, body, caller.user.as_ref()).await?))
}

#[utoipa::path(get, path = "/api/v1/behaviors/stats", tag = "behaviors",
    params(("X-Tenant-Id" = String, Header, description = "tenant id")),
    responses((status = 200, body = EventStats)))]
pub async fn stats(State(app): State<Arc<App>>, Tenant(tenant): Tenant) -> ApiResult<Json<EventStats>> {
    Ok(Json(behaviors::stats(&app, &tenant).await?))
}

#[utoipa::path(get, path = "/api/v1/behaviors/dead_letters", tag = "behaviors",
    description = "The tenant's dead letters: events a stream job could not apply because of the event \
        itself (a backend failure is retried, never dead-lettered). Kept 7 days.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), DeadLetterQuery),
    responses((status = 200, body = DeadLetterPage), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn dead_letters(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    ApiQuery(query): ApiQuery<DeadLetterQuery>,
) -> ApiResult<Json<DeadLetterPage>> {
    Ok(Json(behaviors::dead_letters(&app, &tenant, query).await?))
}

#[utoipa::path(post, path = "/api/v1/behaviors/dead_letters/replay", tag = "behaviors",
    description = "Re-queues dead letters after a fix: each event goes back on the event bus for the one \
        stream job that failed on it, and its dead letter is removed.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id")),
    request_body = ReplayRequest,
    responses((status = 200, body = ReplayReport), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replay(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    ApiJson(body): ApiJson<ReplayRequest>,
) -> ApiResult<Json<ReplayReport>> {
    Ok(Json(behaviors::replay(&app, &tenant, body).await?))
}
