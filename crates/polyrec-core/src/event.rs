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
    /// Every type, in the order of the specification. A new type goes at the end: ClickHouse's
    /// `funnel_events` stores a type as its place here.
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
    /// Set on an event re-queued from the dead letters (`POST /api/v1/behaviors/dead_letters/replay`):
    /// the one stream job that failed on it; every other job already applied it and skips it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_for: Option<String>,
}

/// The largest magnitude of an event's `value` (a price, watch seconds, a rating). Bounded so
/// that every sum downstream (rollups, profiles, counters) stays finite: 10^12 per event leaves
/// room for 10^296 events before an f64 sum overflows.
pub const MAX_EVENT_VALUE: f64 = 1e12;

impl Event {
    /// Whether a stream job can apply this event: what the behavior service checks at the edge,
    /// checked again by every job, because the bus may hold events accepted before a bound
    /// existed or written by another producer. An event that fails is dead-lettered, never
    /// retried.
    pub fn check_applicable(&self) -> Result<(), String> {
        if let Some(value) = self.value
            && !(value.is_finite() && value.abs() <= MAX_EVENT_VALUE)
        {
            return Err(format!("value {value} is not a finite number within ±{MAX_EVENT_VALUE:e}"));
        }
        if self.timestamp_ms < 0 || self.received_ms < 0 {
            return Err("negative timestamp".to_owned());
        }
        Ok(())
    }

    /// Whether the stream job `job` takes this event: all of them, or the one a replay names.
    pub fn is_for(&self, job: &str) -> bool {
        self.replay_for.as_deref().is_none_or(|target| target == job)
    }

    /// The experiment id the event carries in its context, if any (A/B joins on it).
    pub fn experiment_id(&self) -> Option<&str> {
        self.context.as_ref()?.get("experiment_id")?.as_str()
    }
}

/// An event a stream job could not apply because of the event itself (not because a backend was
/// down): kept per tenant for [`DEAD_LETTER_RETENTION_MS`], listed and replayed through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadLetter {
    /// `{job}/{event_id}`: one dead letter per job and event, however often it failed.
    pub id: String,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    /// The stream job that failed on it: `warehouse_sink`, `user_profile_aggregator`, …
    pub job: String,
    /// The bus offset it had (a Kafka partition's offset plus one on Kafka).
    pub offset: u64,
    /// Why the job refused it.
    pub error: String,
    /// When it was dead-lettered, epoch ms.
    pub dead_ms: i64,
    /// The event as it was on the bus.
    #[schema(value_type = Object)]
    pub event: Event,
}

/// How long dead letters are kept: 7 days.
pub const DEAD_LETTER_RETENTION_MS: i64 = 7 * crate::clock::DAY_MS;

impl DeadLetter {
    pub fn new(job: &str, offset: u64, event: Event, error: impl std::fmt::Display, dead_ms: i64) -> Self {
        Self {
            id: format!("{job}/{}", event.event_id),
            tenant_id: event.tenant_id.clone(),
            job: job.to_owned(),
            offset,
            error: error.to_string(),
            dead_ms,
            event,
        }
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
