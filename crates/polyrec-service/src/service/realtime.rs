//! The read-outs of what the stream jobs keep for a scenario (SPEC §4.2): an item's running
//! counts, the hot set, the last hour's counters, a user's profile; and the readiness probe.

use polyrec_core::Code;
use std::collections::BTreeMap;

use polyrec_core::{Error, ItemId, Result, ScenarioId, TenantId, UserId, UserProfile};
use serde::Serialize;
use utoipa::ToSchema;

use crate::App;

/// The most hot items one `GET …/hot` lists.
pub const MAX_HOT_N: usize = 1_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct HotItem {
    pub item_id: String,
    /// The item's events of the last hour, each weighted by type and decayed by its age.
    pub hotness: f64,
}

/// The hot set, hottest first.
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

#[derive(Debug, Serialize, ToSchema)]
pub struct RealtimeMetrics {
    /// Counters of the last hour: impressions, clicks, views, conversions, ... and per
    /// experiment group `exp:{experiment}:{group}:{counter}`.
    pub counters: BTreeMap<String, f64>,
    /// clicks / impressions, when there were impressions.
    pub ctr: Option<f64>,
}

pub async fn item_stats(app: &App, tenant: &TenantId, id: &ScenarioId, item: &ItemId) -> Result<ItemStats> {
    app.scenario(tenant, id).await?;
    let counts = app.stores.realtime.item_stats(tenant, item.as_str()).await?.into_iter().collect();
    Ok(ItemStats { item_id: item.to_string(), counts })
}

/// The `n` hottest items (1 to [`MAX_HOT_N`]).
pub async fn hot(app: &App, tenant: &TenantId, id: &ScenarioId, n: usize) -> Result<HotItems> {
    app.scenario(tenant, id).await?;
    if !(1..=MAX_HOT_N).contains(&n) {
        return Err(Error::invalid(Code::InvalidLimit, format!("n must be between 1 and {MAX_HOT_N}, got {n}")));
    }
    let hot = app.stores.realtime.hot_items(tenant, id, n).await?;
    Ok(HotItems { items: hot.into_iter().map(|(item_id, hotness)| HotItem { item_id, hotness }).collect() })
}

pub async fn metrics(app: &App, tenant: &TenantId, id: &ScenarioId) -> Result<RealtimeMetrics> {
    app.scenario(tenant, id).await?;
    let since = app.now_ms() - crate::jobs::METRICS_TTL_MS;
    let counters: BTreeMap<String, f64> = app.stores.realtime.metrics(tenant, id, since).await?.into_iter().collect();
    let impressions = counters.get("impressions").copied().unwrap_or(0.0);
    let ctr = (impressions > 0.0).then(|| counters.get("clicks").copied().unwrap_or(0.0) / impressions);
    Ok(RealtimeMetrics { counters, ctr })
}

/// The stored profile (not the cached one), `NotFound` for a user without one.
pub async fn profile(app: &App, tenant: &TenantId, id: &ScenarioId, user: &UserId) -> Result<UserProfile> {
    app.scenario(tenant, id).await?;
    let profile = app.stores.documents.get_profile(tenant, user, id).await?;
    profile.ok_or_else(|| Error::not_found(format!("profile of user {:?}", user.as_str())))
}

/// One read-only query against each store, concurrently, each within 2 s: the names and errors
/// of the stores that failed or did not answer (empty: ready).
pub async fn readiness(app: &App) -> Vec<String> {
    let probe = TenantId::parse("readiness-probe").expect("a valid id");
    let (documents, event_bus, warehouse) = tokio::join!(
        within_2s(async { app.stores.documents.list_scenarios(&probe).await.map(drop) }),
        within_2s(app.stores.bus.check()),
        within_2s(async { app.stores.warehouse.count(&probe, None).await.map(drop) }),
    );
    let checks = [("documents", documents), ("event_bus", event_bus), ("warehouse", warehouse)];
    checks.iter().filter_map(|(name, e)| e.as_ref().map(|e| format!("{name}: {e}"))).collect()
}

/// A readiness check's failure, if it failed or did not answer within 2 s.
async fn within_2s(check: impl std::future::Future<Output = Result<()>>) -> Option<String> {
    match tokio::time::timeout(std::time::Duration::from_secs(2), check).await {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some("no answer within 2 s".to_owned()),
    }
}
