//! The realtime keys of SPEC §4.2, built in one place. Ids cannot contain ':' (see
//! `polyrec_core::ids`), so no key of one tenant can collide with another tenant's.

use polyrec_core::{ScenarioId, TenantId, UserId};

pub fn hot_items(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("hot:items:{tenant}:{scenario}")
}

pub fn exposed(tenant: &TenantId, user: &UserId, scenario: &ScenarioId) -> String {
    format!("exposed:{tenant}:{user}:{scenario}")
}

pub fn metrics_realtime(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("metrics:realtime:{tenant}:{scenario}")
}

/// Not in SPEC §4.2: the user's most recent positive items, which item-based recall needs
/// within seconds of a click rather than after the profile window closes.
pub fn recent(tenant: &TenantId, user: &UserId, scenario: &ScenarioId) -> String {
    format!("recent:{tenant}:{user}:{scenario}")
}

/// The Kafka topic of a tenant's behaviors (SPEC §3.3).
pub fn behavior_topic(tenant: &TenantId) -> String {
    format!("user-behaviors-{tenant}")
}

/// Not in SPEC §4.2: a client's event id (the idempotency key of ingestion) → the state of
/// the event stored for it. Client ids hold no ':', so no key of one tenant is another's.
pub fn ingested(tenant: &TenantId, client_id: &str) -> String {
    format!("ingest:{tenant}:{client_id}")
}

/// The cached scenario document (SPEC §4.2, 1 h; SPEC §5.3).
pub fn scenario_config(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("scenario:config:{tenant}:{scenario}")
}

/// The lease on a scenario's scheduled training (one process of a shared deployment at a time).
pub fn training_lease(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("lease:training:{tenant}:{scenario}")
}

pub fn serving_models(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("models:serving:{tenant}:{scenario}")
}

/// The cached user profile (SPEC §4.2, 1 h).
pub fn user_profile(tenant: &TenantId, user: &UserId, scenario: &ScenarioId) -> String {
    format!("user:profile:{tenant}:{user}:{scenario}")
}

/// One source's contribution to the hot set (see `RealtimeStore::put_hot_items`), a HASH item →
/// score. Internal to the store: readers read `hot:items:…` only.
pub fn hot_items_source(tenant: &TenantId, scenario: &ScenarioId, source: &str) -> String {
    format!("hot:items:{tenant}:{scenario}:src:{source}")
}

/// One source's counters of the real-time metrics (see `RealtimeStore::put_metrics`), a HASH
/// `{bucket_ms}:{counter}` → value. Internal to the store: readers read `metrics:realtime:…`.
pub fn metrics_source(tenant: &TenantId, scenario: &ScenarioId, source: &str) -> String {
    format!("metrics:realtime:{tenant}:{scenario}:src:{source}")
}

/// Not in SPEC §4.2: a counter bumped by every item write of a scenario, so that processes
/// sharing the stores know when their in-memory catalog of it is stale.
pub fn catalog_version(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("catalog:version:{tenant}:{scenario}")
}

/// How long an item's running counts live after their last event: 30 days. SPEC §4.2 gives
/// `item:stats` no TTL, but item ids are what tenants send, so keys that never expire would grow
/// the realtime store for ever with items long gone.
pub const ITEM_STATS_TTL_MS: i64 = 30 * polyrec_core::clock::DAY_MS;

/// An item's running counts per event type (SPEC §4.2 `item:stats:{tenant_id}:{item_id}`; kept
/// [`ITEM_STATS_TTL_MS`] after the last event).
pub fn item_stats(tenant: &TenantId, item: &str) -> String {
    format!("item:stats:{tenant}:{item}")
}

/// The last offset one source (a stream-job instance) has added to an item's stats.
pub fn item_stats_source(tenant: &TenantId, item: &str, source: &str) -> String {
    format!("item:stats:{tenant}:{item}:src:{source}")
}
