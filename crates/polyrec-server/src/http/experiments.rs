//! `/api/v1/scenarios/{scenario_id}/experiments…`: the experiment service over HTTP.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::error::{ApiJson, ApiQuery, ApiResult, ErrorBody, Tenant};
use super::scenarios::scenario_id;
use crate::App;
use crate::service::experiments::{
    self, CreateExperiment, ExperimentList, ExperimentResults, ExperimentView, ReplaceExperiment,
};

#[utoipa::path(post, path = "/api/v1/scenarios/{scenario_id}/experiments", tag = "experiments",
    description = "Creates an experiment (as a draft): groups with traffic ratios summing to at most 1 \
        (the rest is a holdout served the scenario's own config), each with a merge patch of the \
        scenario's config that must validate once merged.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    request_body = CreateExperiment,
    responses(
        (status = 201, body = ExperimentView),
        (status = 403, description = "another tenant's token, a suspended tenant, or a quota (`quota_exceeded`: the scenario has 100 experiments already)", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the id is taken", body = ErrorBody),
        (status = 422, description = "every problem with its JSON path", body = ErrorBody),
    ))]
pub async fn create(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateExperiment>,
) -> ApiResult<(StatusCode, Json<ExperimentView>)> {
    let id = scenario_id(&id)?;
    Ok((StatusCode::CREATED, Json(experiments::create(&app, &tenant, &id, body).await?)))
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/experiments", tag = "experiments",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    responses((status = 200, body = ExperimentList), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<ExperimentList>> {
    Ok(Json(experiments::list(&app, &tenant, &scenario_id(&id)?).await?))
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}", tag = "experiments",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path),
        ("experiment_id" = String, Path)),
    responses((status = 200, body = ExperimentView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((id, experiment)): Path<(String, String)>,
) -> ApiResult<Json<ExperimentView>> {
    Ok(Json(experiments::get(&app, &tenant, &scenario_id(&id)?, &experiment).await?))
}

#[utoipa::path(put, path = "/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}", tag = "experiments",
    description = "Replaces name, groups and times of an experiment that is not running.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path),
        ("experiment_id" = String, Path)),
    request_body = ReplaceExperiment,
    responses(
        (status = 200, body = ExperimentView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "running, or changed concurrently", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn replace(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((id, experiment)): Path<(String, String)>,
    ApiJson(body): ApiJson<ReplaceExperiment>,
) -> ApiResult<Json<ExperimentView>> {
    Ok(Json(experiments::replace(&app, &tenant, &scenario_id(&id)?, &experiment, body).await?))
}

#[utoipa::path(delete, path = "/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}", tag = "experiments",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path),
        ("experiment_id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((id, experiment)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    experiments::delete(&app, &tenant, &scenario_id(&id)?, &experiment).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}/start", tag = "experiments",
    description = "Starts assigning users (from start_time, if later). A scenario runs one experiment at a time.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path),
        ("experiment_id" = String, Path)),
    responses(
        (status = 200, body = ExperimentView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "another experiment runs, or this one has ended", body = ErrorBody),
        (status = 422, description = "a group no longer fits the scenario's config", body = ErrorBody),
    ))]
pub async fn start(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((id, experiment)): Path<(String, String)>,
) -> ApiResult<Json<ExperimentView>> {
    Ok(Json(experiments::start(&app, &tenant, &scenario_id(&id)?, &experiment).await?))
}

#[utoipa::path(post, path = "/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}/stop", tag = "experiments",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path),
        ("experiment_id" = String, Path)),
    responses((status = 200, body = ExperimentView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn stop(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((id, experiment)): Path<(String, String)>,
) -> ApiResult<Json<ExperimentView>> {
    Ok(Json(experiments::stop(&app, &tenant, &scenario_id(&id)?, &experiment).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// Start of the window (RFC 3339 or epoch seconds / ms); default the experiment's start.
    pub from: Option<String>,
    /// End of the window; default its end, or now.
    pub to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}/results", tag = "experiments",
    description = "Per group, from the event warehouse: users, impressions, clicks, CTR, orders, conversion \
        rate, average watch time, revenue; each group against the control with absolute and relative \
        lift, a 95% confidence interval and a p-value (two-proportion z-test for rates, Welch's t-test \
        for means); and the sample-ratio-mismatch check (χ², mismatch below p = 0.001). The window is \
        at most 366 days.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path),
        ("experiment_id" = String, Path), ResultsQuery),
    responses((status = 200, body = ExperimentResults), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn results(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((id, experiment)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<ResultsQuery>,
) -> ApiResult<Json<ExperimentResults>> {
    let as_time = |text: Option<String>| {
        text.map(|t| t.parse::<i64>().map_or_else(|_| serde_json::Value::String(t), serde_json::Value::from))
    };
    Ok(Json(
        experiments::results(&app, &tenant, &scenario_id(&id)?, &experiment, as_time(query.from), as_time(query.to))
            .await?,
    ))
}
