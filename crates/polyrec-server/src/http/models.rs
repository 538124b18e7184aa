//! The model registry and training jobs over HTTP: `/api/v1/scenarios/{id}/models…` and
//! `/api/v1/…/jobs…`.

use polyrec_core::Code;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use polyrec_core::JobRecord;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiQuery, ApiResult, ErrorBody, Tenant};
use super::scenarios::scenario_id;
use crate::App;
use crate::jobs::training;
use crate::service::models::{self, ModelList, ModelView};
use crate::service::parse_body;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// The models to train (`als`, `ease`, `lightgbm`, `deepfm`, `wide_deep`); empty or absent:
    /// every model the scenario's config uses.
    #[serde(default)]
    pub models: Vec<String>,
    /// Who asked (`api` unless given, `cli` from `polyrec train`).
    #[serde(default)]
    pub trigger: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobRecord>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this model's versions.
    pub name: Option<String>,
}

pub use crate::jobs::training::MAX_JOBS_LISTED;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// At most this many, newest first (1–500, default 50).
    pub limit: Option<usize>,
}

#[utoipa::path(post, path = "/api/v1/scenarios/{scenario_id}/jobs/train", tag = "jobs",
    description = "Starts a training job and answers at once with its record; follow it at \
        /api/v1/jobs/{job_id}. Each learned model is measured on held-out interactions, registered \
        as a new version and activated; a failed job leaves the serving versions in place.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    request_body(content = Option<TrainRequest>),
    responses(
        (status = 202, body = JobRecord),
        (status = 404, body = ErrorBody),
        (status = 422, description = "unknown model", body = ErrorBody),
    ))]
pub async fn train(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<JobRecord>)> {
    let id = scenario_id(&id)?;
    // No body, or `null` (what the document's optional body allows), asks for the defaults.
    let value = optional_json(&body)?;
    let request: TrainRequest = if value.is_null() { TrainRequest::default() } else { parse_body(value)? };
    let trigger = training::caller_trigger(request.trigger.as_deref())?;
    let job = training::submit(&app, &tenant, &id, request.models, trigger).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrecomputeRequest {
    /// Users with an interaction in the last this many days are answered (1–90, default 7).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 90)]
    pub active_days: Option<u64>,
}

#[utoipa::path(post, path = "/api/v1/scenarios/{scenario_id}/jobs/precompute", tag = "jobs",
    description = "Starts a job that fills the scenario's result cache (config.cache) with the \
        answer to a plain request (no context, default count) of every user with an interaction in \
        the last active_days (the most recent 100,000 at most); answers at once with its record.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    request_body(content = Option<PrecomputeRequest>),
    responses(
        (status = 202, body = JobRecord),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the scenario's result cache is off", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn precompute(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<JobRecord>)> {
    let id = scenario_id(&id)?;
    let value = optional_json(&body)?;
    let request: PrecomputeRequest = if value.is_null() { PrecomputeRequest::default() } else { parse_body(value)? };
    let job = training::submit_precompute(&app, &tenant, &id, request.active_days).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// An optional JSON body: none (or only whitespace) is `null`.
fn optional_json(body: &Bytes) -> Result<serde_json::Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(Code::MalformedJson, format!("the body is not JSON: {e}")))
}

#[utoipa::path(get, path = "/api/v1/jobs/{job_id}", tag = "jobs",
    description = "A training job: state (queued, running, succeeded, failed), stage, progress 0–1, \
        the versions it registered, and its error if it failed.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("job_id" = String, Path)),
    responses((status = 200, body = JobRecord), (status = 404, body = ErrorBody)))]
pub async fn job(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(job_id): Path<String>,
) -> ApiResult<Json<JobRecord>> {
    Ok(Json(training::get(&app, &tenant, &job_id).await?))
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/jobs", tag = "jobs",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path), JobsQuery),
    responses((status = 200, body = JobList), (status = 404, body = ErrorBody)))]
pub async fn jobs(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<JobsQuery>,
) -> ApiResult<Json<JobList>> {
    let id = scenario_id(&id)?;
    Ok(Json(JobList { jobs: training::list(&app, &tenant, &id, query.limit.unwrap_or(50)).await? }))
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/models", tag = "models",
    description = "The scenario's registered model versions, newest first per model, with their \
        offline metrics, status, and whether this process serves them.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path), ListQuery),
    responses((status = 200, body = ModelList), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<ModelList>> {
    let id = scenario_id(&id)?;
    Ok(Json(models::list(&app, &tenant, &id, query.name.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/v1/scenarios/{scenario_id}/models/{model_name}/versions/{version}/activate",
    tag = "models",
    description = "Loads the version and makes it the serving one (hot swap: requests in flight \
        finish with the model they started with).",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path),
        ("model_name" = String, Path), ("version" = String, Path, description = "e.g. v3")),
    responses((status = 200, body = ModelView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn activate(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((id, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<ModelView>> {
    let id = scenario_id(&id)?;
    Ok(Json(models::activate(&app, &tenant, &id, &name, &version).await?))
}

#[utoipa::path(post, path = "/api/v1/scenarios/{scenario_id}/models/{model_name}/rollback", tag = "models",
    description = "Activates the version that served before the current one.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path),
        ("model_name" = String, Path)),
    responses(
        (status = 200, body = ModelView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "no earlier version served", body = ErrorBody),
    ))]
pub async fn rollback(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Json<ModelView>> {
    let id = scenario_id(&id)?;
    Ok(Json(models::rollback(&app, &tenant, &id, &name).await?))
}
