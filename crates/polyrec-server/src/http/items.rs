//! `/api/v1/scenarios/{scenario_id}/items`: the item service over HTTP, with the streaming
//! NDJSON bulk import.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use polyrec_core::ItemId;
use serde_json::Value;

use super::error::{ApiJson, ApiQuery, ApiResult, ErrorBody, Tenant};
use super::scenarios::scenario_id;
use crate::App;
use crate::service::items::{self, BulkReport, ItemInput, ItemPage, ItemPatch, ItemQuery, ItemView};

fn item_id(raw: &str) -> ApiResult<ItemId> {
    Ok(ItemId::parse(raw)?)
}

#[utoipa::path(post, path = "/api/v1/scenarios/{scenario_id}/items", tag = "items",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    request_body = ItemInput,
    responses((status = 201, body = ItemView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(scenario): Path<String>,
    ApiJson(body): ApiJson<ItemInput>,
) -> ApiResult<(StatusCode, Json<ItemView>)> {
    let scenario = scenario_id(&scenario)?;
    Ok((StatusCode::CREATED, Json(items::create(&app, &tenant, &scenario, body).await?)))
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/items", tag = "items",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path), ItemQuery),
    responses((status = 200, body = ItemPage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(scenario): Path<String>,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> ApiResult<Json<ItemPage>> {
    let scenario = scenario_id(&scenario)?;
    Ok(Json(items::list(&app, &tenant, &scenario, query).await?))
}

#[utoipa::path(get, path = "/api/v1/scenarios/{scenario_id}/items/{item_id}", tag = "items",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path), ("item_id" = String, Path)),
    responses((status = 200, body = ItemView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((scenario, item)): Path<(String, String)>,
) -> ApiResult<Json<ItemView>> {
    Ok(Json(items::get(&app, &tenant, &scenario_id(&scenario)?, &item_id(&item)?).await?))
}

#[utoipa::path(patch, path = "/api/v1/scenarios/{scenario_id}/items/{item_id}", tag = "items",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path), ("item_id" = String, Path)),
    request_body = ItemPatch,
    responses((status = 200, body = ItemView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((scenario, item)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<ItemView>> {
    Ok(Json(items::patch(&app, &tenant, &scenario_id(&scenario)?, &item_id(&item)?, body).await?))
}

#[utoipa::path(delete, path = "/api/v1/scenarios/{scenario_id}/items/{item_id}", tag = "items",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path), ("item_id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path((scenario, item)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    items::delete(&app, &tenant, &scenario_id(&scenario)?, &item_id(&item)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/scenarios/{scenario_id}/items/bulk", tag = "items",
    description = "Creates or replaces items from an NDJSON body (one item object per line), streamed: \
        any size, in batches of 1,000. A bad line is reported with its line number and skipped.",
    params(("X-Tenant-Id" = String, Header, description = "tenant id"), ("scenario_id" = String, Path)),
    request_body(content = String, content_type = "application/x-ndjson"),
    responses((status = 200, body = BulkReport), (status = 404, body = ErrorBody)))]
pub async fn bulk(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(scenario): Path<String>,
    body: Body,
) -> ApiResult<Json<BulkReport>> {
    let scenario = scenario_id(&scenario)?;
    let stream = body.into_data_stream();
    Ok(Json(items::bulk_import(&app, &tenant, &scenario, stream).await?))
}
