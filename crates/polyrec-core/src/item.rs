//! Items of a tenant's scenario (SPEC §4.1), with free-form `metadata`. A few metadata fields
//! have a meaning to the engine: `category` (string), `tags` (array of strings), `location`
//! (string) and `publish_time` (RFC 3339 or epoch); any numeric field can be a ranking feature.

use crate::Code;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::timefmt::parse_timestamp;
use crate::{Error, ItemId, Result, ScenarioId};

pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// The longest `category`, `location` or tag an item may have, in bytes. They key the users'
/// profile scores (200 of each a profile, kept whole in one document: MongoDB's limit is 16 MB)
/// and the recall channels' indexes, so a few long ones must not make a profile unstorable.
pub const MAX_LABEL_BYTES: usize = 256;

/// Whether `label` can key a profile's scores and the recall indexes: at most
/// [`MAX_LABEL_BYTES`], and no NUL character (MongoDB keeps keys as C strings).
pub fn is_label(label: &str) -> bool {
    label.len() <= MAX_LABEL_BYTES && !label.contains('\0')
}
pub const MAX_EMBEDDING_DIM: usize = 4096;
pub const MAX_EMBEDDING_VALUE: f32 = 1e6;

/// An item as a client sends it (one create, one NDJSON line of a bulk import).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub item_id: String,
    /// Free fields; `category` (string), `tags` (strings), `location` (string) and
    /// `publish_time` (RFC 3339 or epoch) have a meaning to the engine.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    #[serde(default)]
    pub embedding: Option<Vec<f32>>,
    #[serde(default)]
    pub status: Option<ItemStatus>,
}

impl ItemInput {
    /// Checks the input and turns it into an item of `scenario` (new: both times are `now`).
    pub fn into_item(self, scenario: &ScenarioId, now: i64) -> Result<Item> {
        let input = self;
        let item_id = ItemId::parse(input.item_id)?;
        if item_id.as_str() == "bulk" {
            // `.../items/bulk` is the bulk import's route, so an item of that id could not be read.
            return Err(Error::invalid(Code::InvalidItemId, "item_id \"bulk\" is reserved; choose another id"));
        }
        let item = Item {
            item_id,
            scenario_id: scenario.clone(),
            metadata: input.metadata,
            embedding: input.embedding,
            status: input.status.unwrap_or(ItemStatus::Active),
            created_ms: now,
            updated_ms: now,
            publish_memo: Default::default(),
        };
        check_item(&item)?;
        Ok(item)
    }
}

/// Checks an item against the bounds on what a tenant sends (`metadata` size and depth, the
/// meaning of its known fields, the embedding's size and values).
pub fn check_item(item: &Item) -> Result<()> {
    let invalid = |message: String| Err(Error::invalid(Code::InvalidItem, message));
    let size = crate::limits::json_len(&item.metadata);
    if size > MAX_METADATA_BYTES {
        return invalid(format!("metadata is {size} bytes; the limit is {MAX_METADATA_BYTES}"));
    }
    let meta = &item.metadata;
    if let Err(message) = crate::limits::check_depth("metadata", meta) {
        return invalid(message);
    }
    for field in ["category", "location"] {
        match meta.get(field) {
            Some(Value::String(label)) if label.len() > MAX_LABEL_BYTES => {
                return invalid(format!(
                    "metadata.{field} is {} bytes long; the limit is {MAX_LABEL_BYTES}",
                    label.len()
                ));
            }
            Some(Value::String(label)) if !is_label(label) => {
                return invalid(format!("metadata.{field} holds a NUL character; labels cannot hold one"));
            }
            Some(value) if !value.is_string() => {
                return invalid(format!("metadata.{field} must be a string, got {value}"));
            }
            _ => {}
        }
    }
    if let Some(tags) = meta.get("tags") {
        let Some(tags) = tags.as_array().filter(|t| t.iter().all(Value::is_string)) else {
            return invalid(format!("metadata.tags must be an array of strings, got {tags}"));
        };
        if let Some(at) = tags.iter().position(|t| t.as_str().is_some_and(|t| !is_label(t))) {
            return invalid(format!(
                "metadata.tags[{at}] is longer than {MAX_LABEL_BYTES} bytes or holds a NUL character"
            ));
        }
    }
    if let Some(publish_time) = meta.get("publish_time")
        && let Err(message) = parse_timestamp(publish_time)
    {
        return invalid(format!("metadata.publish_time: {message}"));
    }
    if let Some(embedding) = &item.embedding {
        if embedding.is_empty() || embedding.len() > MAX_EMBEDDING_DIM {
            return invalid(format!(
                "embedding must have 1 to {MAX_EMBEDDING_DIM} dimensions, got {}",
                embedding.len()
            ));
        }
        if embedding.iter().any(|x| !(x.is_finite() && x.abs() <= MAX_EMBEDDING_VALUE)) {
            // Bounded so that inner products over every dimension stay finite in f32.
            return invalid(format!("embedding values must be finite numbers within ±{MAX_EMBEDDING_VALUE:e}"));
        }
    }
    Ok(())
}

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
