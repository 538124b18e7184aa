use polyrec_core::scenario::{FeaturesConfig, RankConfig, RecallConfig, RecallStrategySpec, RerankConfig};
use polyrec_core::{
    Event, EventType, Item, ItemId, ItemStatus, Scenario, ScenarioConfig, ScenarioId, ScenarioStatus, TenantId, UserId,
};
use polyrec_storage::BusRecord;

#[path = "../common/servers.rs"]
mod servers;
pub use servers::{server, unique};

pub fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

pub fn scenario_id(name: &str) -> ScenarioId {
    ScenarioId::parse(name).unwrap()
}

pub fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

pub fn scenario(id: &str) -> Scenario {
    Scenario {
        scenario_id: scenario_id(id),
        scenario_type: "vlog".into(),
        name: format!("scenario {id}"),
        config: ScenarioConfig {
            features: FeaturesConfig::default(),
            recall: RecallConfig {
                strategies: vec![RecallStrategySpec {
                    name: "hot_items".into(),
                    weight: polyrec_core::ChannelWeight::Fixed(0.7),
                    limit: 100,
                    timeout_ms: None,
                    params: serde_json::json!({"window_hours": 24}),
                }],
            },
            rank: RankConfig {
                model: "weighted".into(),
                version: None,
                objective: None,
                params: serde_json::json!({}),
            },
            rerank: RerankConfig::default(),
            cache: Default::default(),
        },
        status: ScenarioStatus::Active,
        version: 1,
        incarnation: (1 << 52) + 12_345,
        created_ms: 1_700_000_000_000,
        updated_ms: 1_700_000_000_000,
    }
}

pub fn item(scenario: &str, id: &str, category: &str, updated_ms: i64) -> Item {
    let metadata = serde_json::json!({
        "title": format!("title of {id}"),
        "category": category,
        "tags": ["a", "b"],
        "duration": 120,
        "score": 0.5,
        "nested": {"x": 1.25, "flag": true, "none": null},
    });
    Item {
        item_id: ItemId::parse(id).unwrap(),
        scenario_id: scenario_id(scenario),
        metadata: metadata.as_object().unwrap().clone(),
        embedding: Some(vec![0.25, -1.5, 3.0]),
        status: ItemStatus::Active,
        created_ms: updated_ms,
        updated_ms,
        publish_memo: Default::default(),
    }
}

pub fn record(
    offset: u64,
    tenant: &str,
    scenario: &str,
    user: &str,
    item: &str,
    kind: EventType,
    ts: i64,
) -> BusRecord {
    BusRecord {
        offset,
        event: Event {
            event_id: format!("{tenant}-{offset}"),
            tenant_id: TenantId::parse(tenant).unwrap(),
            scenario_id: scenario_id(scenario),
            user_id: UserId::parse(user).unwrap(),
            item_id: ItemId::parse(item).unwrap(),
            event_type: kind,
            timestamp_ms: ts,
            received_ms: ts + 5,
            scenario_incarnation: 7,
            request_id: Some(format!("req-{offset}")),
            value: (kind == EventType::Play).then_some(30.5),
            context: None,
            replay_for: None,
        },
    }
}
