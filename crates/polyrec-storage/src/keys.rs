//! The realtime keys of SPEC §4.2, built in one place. Ids cannot contain ':' (see
//! `polyrec_core::ids`), so no key of one tenant can collide with another tenant's.
//!
//! Every key carries a Redis Cluster hash tag — the part in braces, which alone decides the
//! key's slot — chosen so that each multi-key operation stays within one slot:
//!
//! | SPEC §4.2 key | here | hash tag |
//! |---|---|---|
//! | `hot:items:{tenant_id}:{scenario_id}` | `hot:items:{tenant:scenario}` (+ `:src:{source}`) | the scenario |
//! | `metrics:realtime:{tenant_id}:{scenario_id}` | `metrics:realtime:{tenant:scenario}` (+ `:src:{source}`) | the scenario |
//! | `exposed:{tenant_id}:{user_id}:{scenario_id}` | `exposed:{tenant:scenario}:user` | the scenario |
//! | `user:profile:{tenant_id}:{user_id}:{scenario_id}` | `user:profile:{tenant:scenario}:user` | the scenario |
//! | `scenario:config:{tenant_id}:{scenario_id}` | `scenario:config:{tenant:scenario}` | the scenario |
//! | `recommend:{tenant_id}:{scenario_id}:{user_id}:{hash}` | `recommend:{tenant:scenario}:user:hash` | the scenario |
//! | `item:stats:{tenant_id}:{item_id}` | `item:stats:{tenant:item}` (+ `:src:{source}`) | the item |
//! | — | `recent:{tenant:scenario}:user`, `catalog:version:…`, `lease:training:…`, `models:serving:…` | the scenario |
//! | — | `ingest:{tenant}:event_id` | the tenant |
//!
//! So a scenario's keys (the hot set and each source's share of it, the exposures, the
//! profiles) live in one slot, which `drop_scenario` clears with one `SCAN` on one node; a
//! tenant's event-id claims are settled by one script; and different scenarios, items and
//! tenants spread over the cluster. The braces are only a tag: on a single Redis they change
//! nothing but the names.

use polyrec_core::{ScenarioId, TenantId, UserId};

/// The hash tag of a scenario's keys, braces included.
fn scenario_tag(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("{{{tenant}:{scenario}}}")
}

pub fn hot_items(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("hot:items:{}", scenario_tag(tenant, scenario))
}

pub fn exposed(tenant: &TenantId, user: &UserId, scenario: &ScenarioId) -> String {
    format!("exposed:{}:{user}", scenario_tag(tenant, scenario))
}

pub fn metrics_realtime(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("metrics:realtime:{}", scenario_tag(tenant, scenario))
}

/// Not in SPEC §4.2: the user's most recent positive items, which item-based recall needs
/// within seconds of a click rather than after the profile window closes.
pub fn recent(tenant: &TenantId, user: &UserId, scenario: &ScenarioId) -> String {
    format!("recent:{}:{user}", scenario_tag(tenant, scenario))
}

/// The Kafka topic of a tenant's behaviors (SPEC §3.3).
pub fn behavior_topic(tenant: &TenantId) -> String {
    format!("user-behaviors-{tenant}")
}

/// Not in SPEC §4.2: a client's event id (the idempotency key of ingestion) → the state of
/// the event stored for it. Client ids hold no ':' or braces, so no key of one tenant is
/// another's, and a tenant's claims share one slot (they are settled by one script).
pub fn ingested(tenant: &TenantId, client_id: &str) -> String {
    format!("ingest:{{{tenant}}}:{client_id}")
}

/// A cached answer (SPEC §4.2 `recommend:`, the scenario's `cache.ttl_seconds`): `hash` stands
/// for everything the answer depended on (see the recommendation service).
pub fn recommendation(tenant: &TenantId, scenario: &ScenarioId, user: &UserId, hash: u64) -> String {
    format!("recommend:{}:{user}:{hash:016x}", scenario_tag(tenant, scenario))
}

/// The cached scenario document (SPEC §4.2, 1 h; SPEC §5.3).
pub fn scenario_config(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("scenario:config:{}", scenario_tag(tenant, scenario))
}

/// The lease on a scenario's scheduled training (one process of a shared deployment at a time).
pub fn training_lease(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("lease:training:{}", scenario_tag(tenant, scenario))
}

pub fn serving_models(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("models:serving:{}", scenario_tag(tenant, scenario))
}

/// The cached user profile (SPEC §4.2, 1 h).
pub fn user_profile(tenant: &TenantId, user: &UserId, scenario: &ScenarioId) -> String {
    format!("user:profile:{}:{user}", scenario_tag(tenant, scenario))
}

/// One source's contribution to the hot set (see `RealtimeStore::put_hot_items`), a HASH item →
/// score. Internal to the store: readers read `hot:items:…` only.
pub fn hot_items_source(tenant: &TenantId, scenario: &ScenarioId, source: &str) -> String {
    format!("{}:src:{source}", hot_items(tenant, scenario))
}

/// One source's counters of the real-time metrics (see `RealtimeStore::put_metrics`), a HASH
/// `{bucket_ms}:{counter}` → value. Internal to the store: readers read `metrics:realtime:…`.
pub fn metrics_source(tenant: &TenantId, scenario: &ScenarioId, source: &str) -> String {
    format!("{}:src:{source}", metrics_realtime(tenant, scenario))
}

/// Not in SPEC §4.2: a counter bumped by every item write of a scenario, so that processes
/// sharing the stores know when their in-memory catalog of it is stale.
pub fn catalog_version(tenant: &TenantId, scenario: &ScenarioId) -> String {
    format!("catalog:version:{}", scenario_tag(tenant, scenario))
}

/// The patterns matching every key of one scenario that names a user or a source (what
/// `drop_scenario` clears besides the scenario's own keys). Ids hold none of the glob
/// characters (`*?[]\`), so they match only this scenario's keys.
pub fn scenario_patterns(tenant: &TenantId, scenario: &ScenarioId) -> [String; 6] {
    let tag = scenario_tag(tenant, scenario);
    [
        format!("recommend:{tag}:*"),
        format!("hot:items:{tag}:src:*"),
        format!("metrics:realtime:{tag}:src:*"),
        format!("exposed:{tag}:*"),
        format!("recent:{tag}:*"),
        format!("user:profile:{tag}:*"),
    ]
}

/// How long an item's running counts live after their last event: 30 days. SPEC §4.2 gives
/// `item:stats` no TTL, but item ids are what tenants send, so keys that never expire would grow
/// the realtime store for ever with items long gone.
pub const ITEM_STATS_TTL_MS: i64 = 30 * polyrec_core::clock::DAY_MS;

/// An item's running counts per event type (SPEC §4.2 `item:stats:{tenant_id}:{item_id}`; kept
/// [`ITEM_STATS_TTL_MS`] after the last event).
pub fn item_stats(tenant: &TenantId, item: &str) -> String {
    format!("item:stats:{{{tenant}:{item}}}")
}

/// The last offset one source (a stream-job instance) has added to an item's stats.
pub fn item_stats_source(tenant: &TenantId, item: &str, source: &str) -> String {
    format!("{}:src:{source}", item_stats(tenant, item))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Redis Cluster hashes: the first `{…}` with something in it, else the whole key.
    fn hash_tag(key: &str) -> &str {
        if let Some(open) = key.find('{')
            && let Some(len) = key[open + 1..].find('}')
            && len > 0
        {
            return &key[open + 1..open + 1 + len];
        }
        key
    }

    #[test]
    fn the_keys_of_each_multi_key_operation_share_a_hash_tag() {
        let tenant = TenantId::parse("acme").unwrap();
        let scenario = ScenarioId::parse("feed").unwrap();
        let user = UserId::parse("u1").unwrap();
        // drop_scenario's DEL, put_hot_items' and put_metrics' scripts, and the SCANs of the
        // scenario's patterns: one slot.
        let scenario_keys = [
            hot_items(&tenant, &scenario),
            hot_items_source(&tenant, &scenario, "hot_score:0"),
            metrics_realtime(&tenant, &scenario),
            metrics_source(&tenant, &scenario, "metrics:0"),
            scenario_config(&tenant, &scenario),
            catalog_version(&tenant, &scenario),
            exposed(&tenant, &user, &scenario),
            recent(&tenant, &user, &scenario),
            user_profile(&tenant, &user, &scenario),
            training_lease(&tenant, &scenario),
            serving_models(&tenant, &scenario),
        ];
        for key in &scenario_keys {
            assert_eq!(hash_tag(key), "acme:feed", "{key}");
        }
        for pattern in scenario_patterns(&tenant, &scenario) {
            assert_eq!(hash_tag(&pattern), "acme:feed", "{pattern}");
        }
        // add_item_stats' script, even for an item id holding braces.
        for item in ["i1", "a}b{c", "{x}"] {
            assert_eq!(hash_tag(&item_stats(&tenant, item)), hash_tag(&item_stats_source(&tenant, item, "s")));
        }
        // settle_event_ids' script.
        assert_eq!(hash_tag(&ingested(&tenant, "e-1")), "acme");
        assert_eq!(hash_tag(&ingested(&tenant, "e.2")), "acme");
        // Different scenarios and tenants spread over the cluster.
        let other = ScenarioId::parse("shop").unwrap();
        assert_ne!(hash_tag(&hot_items(&tenant, &other)), hash_tag(&hot_items(&tenant, &scenario)));
    }
}
