//! Items of a tenant's scenario (SPEC §4.1), with free-form `metadata`. A few metadata fields
//! have a meaning to the engine: `category` (string), `tags` (array of strings), `location`
//! (string) and `publish_time` (RFC 3339 or epoch); any numeric field can be a ranking feature.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{ItemId, ScenarioId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Recommendable.
    Active,
    /// Kept, but never recommended.
    Inactive,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Active => "active",
            ItemStatus::Inactive => "inactive",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(ItemStatus::Active),
            "inactive" => Some(ItemStatus::Inactive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub item_id: ItemId,
    pub scenario_id: ScenarioId,
    pub metadata: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    pub status: ItemStatus,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// [`Item::publish_ms`], parsed once: ranking asks for it for every candidate of every
    /// request. Items are not changed in place once shared, so the memo cannot go stale.
    #[serde(skip)]
    pub publish_memo: std::sync::OnceLock<i64>,
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.item_id == other.item_id
            && self.scenario_id == other.scenario_id
            && self.metadata == other.metadata
            && self.embedding == other.embedding
            && self.status == other.status
            && self.created_ms == other.created_ms
            && self.updated_ms == other.updated_ms
    }
}

impl Item {
    pub fn category(&self) -> Option<&str> {
        self.metadata.get("category")?.as_str()
    }

    pub fn location(&self) -> Option<&str> {
        self.metadata.get("location")?.as_str()
    }

    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.metadata.get("tags").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    }

    /// A numeric metadata field (numbers, or strings that parse as numbers).
    pub fn number(&self, field: &str) -> Option<f64> {
        match self.metadata.get(field)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse().ok(),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    /// A timestamp metadata field in epoch ms.
    pub fn timestamp(&self, field: &str) -> Option<i64> {
        crate::timefmt::parse_timestamp(self.metadata.get(field)?).ok()
    }

    /// When the item was published: `metadata.publish_time`, else when it was created.
    pub fn publish_ms(&self) -> i64 {
        *self.publish_memo.get_or_init(|| self.timestamp("publish_time").unwrap_or(self.created_ms))
    }

    pub fn is_active(&self) -> bool {
        self.status == ItemStatus::Active
    }
}
