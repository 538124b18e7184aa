//! `POST /api/v1/recommend` and the read-outs of what the stream jobs keep for a scenario.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use polyrec_core::{UserId, UserProfile};
use serde::Deserialize;

use super::error::{ApiJson, ApiQuery, ApiResult, ErrorBody, RequestId, Tenant, User};
use super::scenarios::scenario_id;
use crate::App;
use crate::jobs::{self, CfReport};
use crate::service::realtime;
use crate::service::recommend::{self, RecommendRequest, RecommendResponse};

pub use crate::service::realtime::{HotItems, ItemStats, MAX_HOT_N, RealtimeMetrics};
#[utoipa::path(post, path = "/api/v1/recommend", tag = "recommend",
    params(
        ("X-Tenant-Id" = String, Header, description = "tenant id"),
        ("X-User-Id" = String, Header, description = "end user id"),
        ("X-Request-Id" = Option<String>, Header, description = "trace id, echoed; generated when absent"),
    ),
    request_body = RecommendRequest,
    responses(
        (status = 200, body = RecommendResponse),
        (status = 400, description = "missing or malformed header", body = ErrorBody),
        (status = 404, description = "unknown scenario", body = ErrorBody),
        (status = 409, description = "the scenario is inactive (`scenario_inactive`)", body = ErrorBody),
        (status = 422, description = "bad body, e.g. count outside 1..=500", body = ErrorBody),
    ))]
pub async fn recommend(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    User(user): User,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<RecommendRequest>,
) -> ApiResult<Json<RecommendResponse>> {
    tracing::Span::current().record("scenario", body.scenario_id.as_str());
    Ok(Json(recommend::recommend(&app, &tenant, &user, request_id, body).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HotQuery {
    /// How many, 1 to 1000 (default 20).
    pub n: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/items/{item_id}/stats", tag = "realtime",
    description = "An item's running event counts, kept by the item hot score job.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path), ("item_id" = String, Path)),
    responses((status = 200, body = ItemStats), (status = 404, body = ErrorBody)))]
pub async fn item_stats(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((id, item)): Path<(String, String)>,
) -> ApiResult<Json<ItemStats>> {
    let id = scenario_id(&id)?;
    let item = polyrec_core::ItemId::parse(item)?;
    Ok(Json(realtime::item_stats(&app, &tenant, &id, &item).await?))
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/hot", tag = "realtime",
    description = "The hot set the item hot score job keeps (1-hour window, time-decayed).",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path), HotQuery),
    responses((status = 200, body = HotItems), (status = 404, body = ErrorBody)))]
pub async fn hot(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HotQuery>,
) -> ApiResult<Json<HotItems>> {
    let id = scenario_id(&id)?;
    Ok(Json(realtime::hot(&app, &tenant, &id, query.n.unwrap_or(20)).await?))
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/metrics/realtime", tag = "realtime",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    responses((status = 200, body = RealtimeMetrics), (status = 404, body = ErrorBody)))]
pub async fn realtime_metrics(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<RealtimeMetrics>> {
    let id = scenario_id(&id)?;
    Ok(Json(realtime::metrics(&app, &tenant, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/users/{user_id}/profile", tag = "realtime",
    description = "The profile the user profile aggregator keeps (5-minute windows).",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = UserProfile), (status = 404, body = ErrorBody)))]
pub async fn profile(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<Json<UserProfile>> {
    let id = scenario_id(&id)?;
    let user = UserId::parse(user)?;
    Ok(Json(realtime::profile(&app, &tenant, &id, &user).await?))
}

#[utoipa::path(post, path = "/api/v1/scenarios/{scenario_id}/jobs/cf", tag = "jobs",
    description = "Retrains the scenario's collaborative filtering now, from every event acknowledged \
        before the call (it runs on a schedule too).",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    responses(
        (status = 200, body = CfReport),
        (status = 404, body = ErrorBody),
        (status = 409, description = "no interactions to train on yet (`no_training_data`)", body = ErrorBody),
    ))]
pub async fn train_cf(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<CfReport>> {
    let id = scenario_id(&id)?;
    Ok(Json(jobs::train_now(&app, &tenant, &id).await?))
}
