//! Scenarios and their configuration (SPEC §4.1, §5). The config is data: the engine turns it
//! into a pipeline of named strategies. Its shape is checked here by serde; its meaning (known
//! strategy names, typed params, ranges) is checked whole by `polyrec_engine::validate_config`
//! before anything is saved.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ScenarioId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioStatus {
    Active,
    /// Kept with its data; recommend answers 409 `scenario_inactive` until reactivated.
    Inactive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeatureType {
    Numeric,
    Categorical,
    MultiCategorical,
    Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub feature_type: FeatureType,
    #[serde(default = "one")]
    pub weight: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {
    #[serde(default)]
    pub item_features: Vec<FeatureSpec>,
    #[serde(default)]
    pub user_features: Vec<FeatureSpec>,
}

/// One recall channel: `name` picks the strategy, `weight` scales its scores in the merge,
/// `limit` caps how many candidates it returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallStrategySpec {
    pub name: String,
    pub weight: ChannelWeight,
    pub limit: usize,
    /// Deadline for this channel; past it the channel is reported as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default = "empty_object", skip_serializing_if = "is_empty_object")]
    #[schema(value_type = Object)]
    pub params: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallConfig {
    pub strategies: Vec<RecallStrategySpec>,
}

/// A recall channel's weight in the merge: a number from 0 to 1, or `"auto"` — fitted by the
/// scenario's training job on a validation split (the `blend` model) and 1 until it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChannelWeight {
    Fixed(f64),
    Auto,
}

impl ChannelWeight {
    /// The fixed weight; `None` for `"auto"`.
    pub fn fixed(self) -> Option<f64> {
        match self {
            ChannelWeight::Fixed(weight) => Some(weight),
            ChannelWeight::Auto => None,
        }
    }

    pub fn is_auto(self) -> bool {
        self == ChannelWeight::Auto
    }
}

impl Serialize for ChannelWeight {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ChannelWeight::Fixed(weight) => serializer.serialize_f64(*weight),
            ChannelWeight::Auto => serializer.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for ChannelWeight {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ChannelWeight;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number between 0 and 1, or \"auto\"")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ChannelWeight, E> {
                Ok(ChannelWeight::Fixed(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ChannelWeight, E> {
                Ok(ChannelWeight::Fixed(v as f64))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ChannelWeight, E> {
                Ok(ChannelWeight::Fixed(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ChannelWeight, E> {
                match v {
                    "auto" => Ok(ChannelWeight::Auto),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl utoipa::PartialSchema for ChannelWeight {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Number).minimum(Some(0.0)).maximum(Some(1.0)))
            .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["auto"])))
            .description(Some("A number from 0 to 1, or \"auto\": fitted by the training job on a validation split."))
            .into()
    }
}

impl utoipa::ToSchema for ChannelWeight {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RankConfig {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<String>,
    #[serde(default = "empty_object", skip_serializing_if = "is_empty_object")]
    #[schema(value_type = Object)]
    pub params: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RerankRuleSpec {
    pub name: String,
    #[serde(default = "one")]
    pub weight: f64,
    #[serde(default = "empty_object", skip_serializing_if = "is_empty_object")]
    #[schema(value_type = Object)]
    pub params: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RerankConfig {
    #[serde(default)]
    pub rules: Vec<RerankRuleSpec>,
}

/// The result cache of a scenario (SPEC §4.2's `recommend:` key): off unless turned on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Answers are cached per user and request, and served from the cache while nothing they
    /// depend on changed.
    #[serde(default)]
    pub enabled: bool,
    /// How long a cached answer may be served, 1 to 3,600 (600).
    #[serde(default = "default_cache_ttl")]
    #[schema(minimum = 1, maximum = 3600)]
    pub ttl_seconds: u64,
}

/// The longest a cached answer may live.
pub const MAX_CACHE_TTL_SECONDS: u64 = 3_600;

fn default_cache_ttl() -> u64 {
    600
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self { enabled: false, ttl_seconds: default_cache_ttl() }
    }
}

impl CacheConfig {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The four parts of SPEC §5, and the result cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioConfig {
    #[serde(default)]
    pub features: FeaturesConfig,
    pub recall: RecallConfig,
    pub rank: RankConfig,
    #[serde(default)]
    pub rerank: RerankConfig,
    #[serde(default, skip_serializing_if = "CacheConfig::is_default")]
    pub cache: CacheConfig,
}

/// A stored scenario. `version` grows by one on every change of the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub scenario_id: ScenarioId,
    pub scenario_type: String,
    pub name: String,
    pub config: ScenarioConfig,
    pub status: ScenarioStatus,
    pub version: u64,
    /// Random, fixed at creation: tells this scenario from an earlier one of the same id that
    /// was deleted (their events must not mix). 0 only in documents older than the field.
    #[serde(default)]
    pub incarnation: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

fn one() -> f64 {
    1.0
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

fn is_empty_object(value: &Value) -> bool {
    value.as_object().is_some_and(Map::is_empty)
}
