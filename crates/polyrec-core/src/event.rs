//! Behavior events (SPEC §3.3). Events live on the event bus and in the warehouse only, never in
//! the document store.

use serde::{Deserialize, Serialize};

use crate::{ItemId, ScenarioId, TenantId, UserId};

/// The twelve behavior types of SPEC §3.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Impression,
    Click,
    View,
    Play,
    Read,
    Learn,
    Like,
    Share,
    Comment,
    AddCart,
    Order,
    Payment,
}

impl EventType {
    /// Every type, in the order of the specification.
    pub const ALL: [EventType; 12] = [
        EventType::Impression,
        EventType::Click,
        EventType::View,
        EventType::Play,
        EventType::Read,
        EventType::Learn,
        EventType::Like,
        EventType::Share,
        EventType::Comment,
        EventType::AddCart,
        EventType::Order,
        EventType::Payment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Impression => "impression",
            EventType::Click => "click",
            EventType::View => "view",
            EventType::Play => "play",
            EventType::Read => "read",
            EventType::Learn => "learn",
            EventType::Like => "like",
            EventType::Share => "share",
            EventType::Comment => "comment",
            EventType::AddCart => "add_cart",
            EventType::Order => "order",
            EventType::Payment => "payment",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// How much one event of this type says about interest in the item. Impressions say
    /// nothing (the user was shown the item, not drawn to it); conversions say the most.
    /// Used by hotness, profiles and collaborative filtering alike, so they agree.
    pub fn interest_weight(self) -> f64 {
        match self {
            EventType::Impression => 0.0,
            EventType::Click | EventType::View => 1.0,
            EventType::Play | EventType::Read | EventType::Learn => 1.5,
            EventType::Like | EventType::Comment => 2.0,
            EventType::Share | EventType::AddCart => 3.0,
            EventType::Order | EventType::Payment => 5.0,
        }
    }

    pub fn is_positive(self) -> bool {
        self.interest_weight() > 0.0
    }
}

/// One accepted behavior event, as it travels on the bus and lands in the warehouse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Assigned on acceptance; sinks deduplicate on it (exactly-once effects by idempotence).
    pub event_id: String,
    pub tenant_id: TenantId,
    pub scenario_id: ScenarioId,
    pub user_id: UserId,
    pub item_id: ItemId,
    pub event_type: EventType,
    /// Event time, epoch ms: when it happened on the client (or when received, if not given).
    pub timestamp_ms: i64,
    /// Processing time, epoch ms: when the behavior service accepted it.
    pub received_ms: i64,
    /// The incarnation of the scenario the event was accepted for (`Scenario::incarnation`). A
    /// scenario deleted and created again under the same id is another incarnation; the stream
    /// jobs drop events of an incarnation that no longer exists, also when a restart replays them.
    #[serde(default)]
    pub scenario_incarnation: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Event {
    /// The experiment id the event carries in its context, if any (A/B joins on it).
    pub fn experiment_id(&self) -> Option<&str> {
        self.context.as_ref()?.get("experiment_id")?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert_eq!(EventType::parse("purchase"), None);
        assert!(!EventType::Impression.is_positive());
        assert!(EventType::Order.interest_weight() > EventType::Click.interest_weight());
    }
}
