//! `/api/v1/behaviors`: the behavior service over HTTP.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::error::{ApiJson, ApiResult, ErrorBody, Tenant};
use crate::App;
use crate::service::behaviors::{self, Accepted, BatchReport, EventBatch, EventInput, EventStats};

#[utoipa::path(post, path = "/api/v1/behaviors", tag = "behaviors",
    description = "Accepts one event. 202 means it is durable on the event bus.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id")),
    request_body = EventInput,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn track(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    ApiJson(body): ApiJson<EventInput>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    Ok((StatusCode::ACCEPTED, Json(behaviors::track(&app, &tenant, body).await?)))
}

#[utoipa::path(post, path = "/api/v1/behaviors/batch", tag = "behaviors",
    description = "Accepts the valid events of a batch (at most max_batch_events, default 10,000) and \
        reports each invalid one with its index.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id")),
    request_body = EventBatch,
    responses((status = 200, body = BatchReport), (status = 422, body = ErrorBody)))]
pub async fn track_batch(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    ApiJson(body): ApiJson<EventBatch>,
) -> ApiResult<Json<BatchReport>> {
    Ok(Json(behaviors::track_batch(&app, &tenant, body).await?))
}

#[utoipa::path(get, path = "/api/v1/behaviors/stats", tag = "behaviors",
    params(("X-Tenant-Id" = String, Header, description = "tenant id")),
    responses((status = 200, body = EventStats)))]
pub async fn stats(State(app): State<Arc<App>>, Tenant(tenant): Tenant) -> ApiResult<Json<EventStats>> {
    Ok(Json(behaviors::stats(&app, &tenant).await?))
}
