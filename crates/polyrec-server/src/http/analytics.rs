//! `/api/v1/analytics/…`: the analytics service over HTTP, within the caller's tenant.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::error::{ApiQuery, ApiResult, ErrorBody, Tenant};
use crate::App;
use crate::service::analytics::{
    self, Dashboard, Distribution, DistributionQuery, Funnel, FunnelQuery, TopItems, TopItemsQuery, Trend, TrendQuery,
    WindowQuery,
};

#[utoipa::path(get, path = "/api/v1/analytics/dashboard", tag = "analytics",
    description = "Totals and rates over a window (whole hours, from the hourly rollup): events by type, \
        impressions, clicks, CTR, orders, conversion rate, average watch time, revenue.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), WindowQuery),
    responses((status = 200, body = Dashboard), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn dashboard(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    ApiQuery(query): ApiQuery<WindowQuery>,
) -> ApiResult<Json<Dashboard>> {
    Ok(Json(analytics::dashboard(&app, &tenant, query).await?))
}

#[utoipa::path(get, path = "/api/v1/analytics/trends", tag = "analytics",
    description = "An hourly or daily series of one metric (events, ctr, conversion_rate, avg_watch_time, \
        revenue, or an event type's count), optionally of one scenario and one event type.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), TrendQuery),
    responses((status = 200, body = Trend), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn trends(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    ApiQuery(query): ApiQuery<TrendQuery>,
) -> ApiResult<Json<Trend>> {
    Ok(Json(analytics::trend(&app, &tenant, query).await?))
}

#[utoipa::path(get, path = "/api/v1/analytics/distributions", tag = "analytics",
    description = "Event counts broken down by event_type or hour_of_day (UTC).",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), DistributionQuery),
    responses((status = 200, body = Distribution), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn distributions(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    ApiQuery(query): ApiQuery<DistributionQuery>,
) -> ApiResult<Json<Distribution>> {
    Ok(Json(analytics::distribution(&app, &tenant, query).await?))
}

#[utoipa::path(get, path = "/api/v1/analytics/top_items", tag = "analytics",
    description = "A scenario's items with the most events of a type (default click), from the daily item rollup.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), TopItemsQuery),
    responses((status = 200, body = TopItems), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn top_items(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    ApiQuery(query): ApiQuery<TopItemsQuery>,
) -> ApiResult<Json<TopItems>> {
    Ok(Json(analytics::top_items(&app, &tenant, query).await?))
}

#[utoipa::path(get, path = "/api/v1/analytics/funnel", tag = "analytics",
    description = "Users who went through the steps (event types) in order within window_hours of the \
        first, per step, with the conversion from the first step.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), FunnelQuery),
    responses((status = 200, body = Funnel), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn funnel(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    ApiQuery(query): ApiQuery<FunnelQuery>,
) -> ApiResult<Json<Funnel>> {
    Ok(Json(analytics::funnel(&app, &tenant, query).await?))
}
