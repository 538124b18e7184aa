//! `/api/v1/scenarios`: the scenario service over HTTP.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use polyrec_core::ScenarioId;
use serde_json::Value;

use super::error::{ApiJson, ApiResult, ErrorBody, Tenant};
use crate::App;
use crate::service::scenarios::{
    self, CreateScenario, PatchScenario, ReplaceScenario, ScenarioHistory, ScenarioList, ScenarioView,
};

pub(super) fn scenario_id(raw: &str) -> ApiResult<ScenarioId> {
    tracing::Span::current().record("scenario", raw);
    Ok(ScenarioId::parse(raw)?)
}

#[utoipa::path(post, path = "/api/v1/scenarios", tag = "scenarios",
    params(("X-Tenant-Id" = String, Header, description = "tenant id")),
    request_body = CreateScenario,
    responses(
        (status = 201, description = "created", body = ScenarioView),
        (status = 409, description = "the id is taken", body = ErrorBody),
        (status = 422, description = "invalid config: every problem with its JSON path", body = ErrorBody),
    ))]
pub async fn create(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    ApiJson(body): ApiJson<CreateScenario>,
) -> ApiResult<(StatusCode, Json<ScenarioView>)> {
    tracing::Span::current().record("scenario", body.scenario_id.as_str());
    Ok((StatusCode::CREATED, Json(scenarios::create(&app, &tenant, body).await?)))
}

#[utoipa::path(get, path = "/api/v1/scenarios", tag = "scenarios",
    params(("X-Tenant-Id" = String, Header, description = "tenant id")),
    responses((status = 200, body = ScenarioList)))]
pub async fn list(State(app): State<Arc<App>>, Tenant(tenant): Tenant) -> ApiResult<Json<ScenarioList>> {
    Ok(Json(scenarios::list(&app, &tenant).await?))
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}", tag = "scenarios",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    responses((status = 200, body = ScenarioView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<ScenarioView>> {
    Ok(Json(scenarios::get(&app, &tenant, &scenario_id(&id)?).await?))
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/versions", tag = "scenarios",
    description = "The newest 100 versions of the scenario's config (older ones are not kept), newest first; revert by sending an old \
        version's config with PUT (which makes it the newest version).",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    responses((status = 200, body = ScenarioHistory), (status = 404, body = ErrorBody)))]
pub async fn versions(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<ScenarioHistory>> {
    Ok(Json(scenarios::history(&app, &tenant, &scenario_id(&id)?).await?))
}

#[utoipa::path(put, path = "/api/v1/scenarios/{scenario_id}", tag = "scenarios",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    request_body = ReplaceScenario,
    responses((status = 200, body = ScenarioView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReplaceScenario>,
) -> ApiResult<Json<ScenarioView>> {
    Ok(Json(scenarios::replace(&app, &tenant, &scenario_id(&id)?, body).await?))
}

#[utoipa::path(patch, path = "/api/v1/scenarios/{scenario_id}", tag = "scenarios",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    request_body = PatchScenario,
    responses((status = 200, body = ScenarioView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<ScenarioView>> {
    Ok(Json(scenarios::patch(&app, &tenant, &scenario_id(&id)?, body).await?))
}

#[utoipa::path(delete, path = "/api/v1/scenarios/{scenario_id}", tag = "scenarios",
    description = "Deletes the scenario with its items and profiles. To keep them, PATCH `status` to `inactive` instead.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    scenarios::delete(&app, &tenant, &scenario_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
