//! `POST /api/v1/recommend` and the read-outs of what the stream jobs keep for a scenario.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use polyrec_core::{Error, UserId, UserProfile};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiJson, ApiQuery, ApiResult, ErrorBody, RequestId, Tenant, User};
use super::scenarios::scenario_id;
use crate::App;
use crate::jobs::{self, CfReport};
use crate::service::recommend::{self, RecommendRequest, RecommendResponse};

/// The most hot items one `GET …/hot` lists.
pub const MAX_HOT_N: usize = 1_000;
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

#[derive(Debug, Serialize, ToSchema)]
pub struct HotItem {
    pub item_id: String,
    pub hotness: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HotItems {
    pub items: Vec<HotItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemStats {
    pub item_id: String,
    /// Events of each type ever counted for the item (`click_count`, `view_count`, …), across
    /// the tenant's scenarios (SPEC §4.2 `item:stats:{tenant_id}:{item_id}`).
    pub counts: BTreeMap<String, u64>,
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
    app.scenario(&tenant, &id).await?;
    let counts = app.realtime.item_stats(&tenant, item.as_str()).await?.into_iter().collect();
    Ok(Json(ItemStats { item_id: item.to_string(), counts }))
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
    app.scenario(&tenant, &id).await?;
    let n = query.n.unwrap_or(20);
    if !(1..=MAX_HOT_N).contains(&n) {
        return Err(Error::invalid("invalid_limit", format!("n must be between 1 and {MAX_HOT_N}, got {n}")).into());
    }
    let hot = app.realtime.hot_items(&tenant, &id, n).await?;
    Ok(Json(HotItems { items: hot.into_iter().map(|(item_id, hotness)| HotItem { item_id, hotness }).collect() }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RealtimeMetrics {
    /// Counters of the last hour: impressions, clicks, views, conversions, ... and per
    /// experiment group `exp:{experiment}:{group}:{counter}`.
    pub counters: BTreeMap<String, f64>,
    /// clicks / impressions, when there were impressions.
    pub ctr: Option<f64>,
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
    app.scenario(&tenant, &id).await?;
    let since = app.now_ms() - crate::jobs::METRICS_TTL_MS;
    let counters: BTreeMap<String, f64> = app.realtime.metrics(&tenant, &id, since).await?.into_iter().collect();
    let impressions = counters.get("impressions").copied().unwrap_or(0.0);
    let ctr = (impressions > 0.0).then(|| counters.get("clicks").copied().unwrap_or(0.0) / impressions);
    Ok(Json(RealtimeMetrics { counters, ctr }))
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
    app.scenario(&tenant, &id).await?;
    let profile = app.documents.get_profile(&tenant, &user, &id).await?;
    Ok(Json(profile.ok_or_else(|| Error::not_found(format!("profile of user {:?}", user.as_str())))?))
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
