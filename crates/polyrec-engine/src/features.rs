//! What a learned ranker sees of one (user, item, moment): one [`FeatureSpace`] turns an
//! [`Observation`] into a row of numeric and categorical features, the same way when the trainer
//! replays an impression from the warehouse and when a request ranks its candidates, so a model
//! is never served features it was not trained on.
//!
//! From the scenario's `config.features`:
//! - item `numeric` → the metadata number; `timestamp` → its age in hours at the moment;
//!   `categorical` → the value; `multi_categorical` → its first value, and the share of its
//!   values the user has shown interest in;
//! - user `numeric` → the profile feature of that name; `categorical` → its value;
//!   `multi_categorical` (e.g. `favorite_categories`) → whether the item's category is among them.
//!
//! Always: the item id and category, hour of day, item age, the user's activity (impressions,
//! watches), their interest in the item's category and tags, and the request context's
//! `device_type` and `location`.
//!
//! Categorical values are indexed by a vocabulary fitted on the training rows (the most frequent
//! [`MAX_VALUES`] per field); an unseen or missing value is index 0.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use polyrec_core::clock::HOUR_MS;
use polyrec_core::scenario::{FeatureSpec, FeatureType, FeaturesConfig};
use polyrec_core::{Item, UserProfile};
use polyrec_models::rank::{CtrData, RankError};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Values kept per categorical field.
pub const MAX_VALUES: usize = 10_000;
const CONTEXT_FIELDS: [&str; 2] = ["device_type", "location"];

/// One (user, item) at one moment.
pub struct Observation<'a> {
    pub item: &'a Item,
    pub profile: Option<&'a UserProfile>,
    pub context: &'a Map<String, Value>,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpace {
    item_features: Vec<FeatureSpec>,
    user_features: Vec<FeatureSpec>,
    numeric_names: Vec<String>,
    categorical_names: Vec<String>,
    /// Per categorical field: value → index, from 1 (0 is unseen or missing).
    vocabularies: Vec<FxHashMap<String, u32>>,
}

impl FeatureSpace {
    pub fn new(features: &FeaturesConfig) -> Self {
        let mut numeric: Vec<String> = [
            "hour_of_day",
            "item_age_hours",
            "user_impressions_log",
            "user_watches_log",
            "user_active_hour_share",
            "category_affinity",
            "tag_affinity",
        ]
        .map(String::from)
        .to_vec();
        let mut categorical: Vec<String> = ["item_id", "item.category"].map(String::from).to_vec();
        for f in &features.item_features {
            match f.feature_type {
                FeatureType::Numeric => numeric.push(format!("item.{}", f.name)),
                FeatureType::Timestamp => numeric.push(format!("item.{}.age_hours", f.name)),
                FeatureType::Categorical if f.name != "category" => categorical.push(format!("item.{}", f.name)),
                FeatureType::Categorical => {}
                FeatureType::MultiCategorical => {
                    numeric.push(format!("item.{}.liked_share", f.name));
                    categorical.push(format!("item.{}.first", f.name));
                }
            }
        }
        for f in &features.user_features {
            match f.feature_type {
                FeatureType::Numeric | FeatureType::Timestamp => numeric.push(format!("user.{}", f.name)),
                FeatureType::Categorical => categorical.push(format!("user.{}", f.name)),
                FeatureType::MultiCategorical => numeric.push(format!("user.{}.has_item_category", f.name)),
            }
        }
        categorical.extend(CONTEXT_FIELDS.iter().map(|f| format!("context.{f}")));
        let vocabularies = vec![FxHashMap::default(); categorical.len()];
        Self {
            item_features: features.item_features.clone(),
            user_features: features.user_features.clone(),
            numeric_names: numeric,
            categorical_names: categorical,
            vocabularies,
        }
    }

    pub fn numeric_names(&self) -> &[String] {
        &self.numeric_names
    }

    pub fn categorical_names(&self) -> &[String] {
        &self.categorical_names
    }

    /// What a row takes from the user and the moment, computed once for all of a request's
    /// candidates.
    fn user_part<'a>(
        &self,
        profile: Option<&'a UserProfile>,
        context: &'a Map<String, Value>,
        at_ms: i64,
    ) -> UserPart<'a> {
        let hour = at_ms.rem_euclid(24 * HOUR_MS) / HOUR_MS;
        let max_of =
            |scores: &BTreeMap<String, f64>| scores.values().copied().fold(0.0, f64::max).max(f64::MIN_POSITIVE);
        let fields = profile.and_then(|p| match serde_json::to_value(&p.features) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        });
        let mut user = Vec::new();
        let mut categorical = Vec::new();
        for f in &self.user_features {
            // The profile's field, else the context's (the user service's age, gender, location).
            let value = fields.as_ref().and_then(|m| m.get(&f.name)).or_else(|| context.get(&f.name));
            match f.feature_type {
                FeatureType::Numeric | FeatureType::Timestamp => {
                    user.push(UserNumeric::Value(value.and_then(Value::as_f64).map_or(f32::NAN, |x| x as f32)));
                }
                FeatureType::Categorical => categorical.push(value.and_then(text).map(|v| Cow::Owned(v.into_owned()))),
                FeatureType::MultiCategorical => user.push(UserNumeric::HasCategory(
                    value
                        .and_then(Value::as_array)
                        .map(|values| values.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
                )),
            }
        }
        for field in CONTEXT_FIELDS {
            categorical.push(context.get(field).and_then(text));
        }
        // The user's and the context's columns are the last ones, the same in every row.
        let first = self.vocabularies.len() - categorical.len();
        let codes =
            categorical.iter().zip(&self.vocabularies[first..]).map(|(v, vocabulary)| code(vocabulary, v)).collect();
        UserPart {
            codes,
            profile,
            at_ms,
            hour,
            category_max: profile.map_or(1.0, |p| max_of(&p.preferences.category_scores)),
            tag_max: profile.map_or(1.0, |p| max_of(&p.preferences.tag_scores)),
            base: [
                profile.map_or(f32::NAN, |p| (p.features.total_impressions as f32).ln_1p()),
                profile.map_or(f32::NAN, |p| (p.features.total_watch_count as f32).ln_1p()),
                profile.map_or(f32::NAN, |p| {
                    let total: u64 = p.features.active_hours.iter().sum();
                    if total == 0 {
                        0.0
                    } else {
                        p.features.active_hours.get(hour as usize).copied().unwrap_or(0) as f32 / total as f32
                    }
                }),
            ],
            user,
            categorical,
            category_scores: profile.map(|p| index(&p.preferences.category_scores)).unwrap_or_default(),
            tag_scores: profile.map(|p| index(&p.preferences.tag_scores)).unwrap_or_default(),
        }
    }

    /// One row's raw values: numbers (NaN if missing) and categorical values, in column order.
    fn raw<'a>(
        &self,
        user: &'a UserPart<'_>,
        item: &'a Item,
        numeric: &mut Vec<f32>,
        categorical: &mut Vec<Option<Cow<'a, str>>>,
    ) {
        numeric.clear();
        categorical.clear();
        let prefs = user.profile.map(|p| &p.preferences);
        let age_hours = |at: i64| (user.at_ms - at).max(0) as f32 / HOUR_MS as f32;
        let category = item.category();
        let category_affinity = match (prefs, category) {
            (Some(_), Some(c)) => user.category_scores.get(c).copied().map_or(0.0, |s| s / user.category_max) as f32,
            _ => f32::NAN,
        };
        let tags = item.metadata.get("tags").and_then(Value::as_array);
        let tag_affinity = match (prefs, tags) {
            (Some(_), Some(tags)) if !tags.is_empty() => {
                let sum: f64 =
                    tags.iter().filter_map(Value::as_str).map(|t| user.tag_scores.get(t).copied().unwrap_or(0.0)).sum();
                (sum / user.tag_max / tags.len() as f64) as f32
            }
            _ => f32::NAN,
        };
        numeric.extend([user.hour as f32, age_hours(item.publish_ms()), user.base[0], user.base[1], user.base[2]]);
        numeric.extend([category_affinity, tag_affinity]);
        categorical.push(Some(Cow::Borrowed(item.item_id.as_str())));
        categorical.push(category.map(Cow::Borrowed));
        // One metadata lookup per feature (the item's `category` and `tags` are at hand already).
        for f in &self.item_features {
            let value = || item.metadata.get(&f.name);
            match f.feature_type {
                FeatureType::Numeric => numeric.push(item.number(&f.name).map_or(f32::NAN, |x| x as f32)),
                FeatureType::Timestamp => numeric.push(item.timestamp(&f.name).map_or(f32::NAN, age_hours)),
                FeatureType::Categorical if f.name != "category" => categorical.push(value().and_then(text)),
                FeatureType::Categorical => {}
                FeatureType::MultiCategorical => {
                    let values = if f.name == "tags" { tags } else { value().and_then(Value::as_array) };
                    let values = values.map(Vec::as_slice).unwrap_or_default();
                    let liked = match prefs {
                        Some(_) if !values.is_empty() => {
                            let n = values
                                .iter()
                                .filter_map(Value::as_str)
                                .filter(|v| user.tag_scores.contains_key(v) || user.category_scores.contains_key(v))
                                .count();
                            n as f32 / values.len() as f32
                        }
                        _ => f32::NAN,
                    };
                    numeric.push(liked);
                    categorical.push(values.first().and_then(text));
                }
            }
        }
        for value in &user.user {
            numeric.push(match value {
                UserNumeric::Value(x) => *x,
                UserNumeric::HasCategory(None) => f32::NAN,
                UserNumeric::HasCategory(Some(values)) => {
                    f32::from(u8::from(category.is_some_and(|c| values.iter().any(|v| v == c))))
                }
            });
        }
        categorical.extend(user.categorical.iter().map(|v| v.as_deref().map(Cow::Borrowed)));
    }

    /// Fits the vocabularies on training observations.
    pub fn fit<'a>(&mut self, observations: impl IntoIterator<Item = Observation<'a>>) {
        let mut counts: Vec<HashMap<String, u64>> = vec![HashMap::new(); self.categorical_names.len()];
        let mut numeric = Vec::new();
        for obs in observations {
            let user = self.user_part(obs.profile, obs.context, obs.at_ms);
            let mut categorical = Vec::new();
            self.raw(&user, obs.item, &mut numeric, &mut categorical);
            for (field, value) in categorical.drain(..).enumerate() {
                if let Some(value) = value {
                    *counts[field].entry(value.into_owned()).or_default() += 1;
                }
            }
        }
        self.vocabularies = counts
            .into_iter()
            .map(|counts| {
                let mut values: Vec<(String, u64)> = counts.into_iter().collect();
                values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                values.truncate(MAX_VALUES);
                values.into_iter().enumerate().map(|(i, (value, _))| (value, i as u32 + 1)).collect()
            })
            .collect();
    }

    /// An empty data set with this space's columns.
    pub fn empty_data(&self) -> CtrData {
        let cardinalities = self.vocabularies.iter().map(|v| v.len() as u32 + 1).collect();
        CtrData::new(self.numeric_names.clone(), self.categorical_names.clone(), cardinalities)
    }

    /// Appends one observation as a row.
    pub fn push(&self, data: &mut CtrData, obs: &Observation<'_>, label: Option<f32>) -> Result<(), RankError> {
        let user = self.user_part(obs.profile, obs.context, obs.at_ms);
        self.push_row(data, &user, obs.item, label, &mut Row::default())
    }

    /// Appends one row per item for one user at one moment (a request's candidates): the user's
    /// part of the row is computed once.
    pub fn push_items<'a>(
        &self,
        data: &mut CtrData,
        items: impl IntoIterator<Item = &'a Item>,
        profile: Option<&UserProfile>,
        context: &Map<String, Value>,
        at_ms: i64,
    ) -> Result<(), RankError> {
        let user = self.user_part(profile, context, at_ms);
        let mut row = Row::default();
        for item in items {
            self.push_row(data, &user, item, None, &mut row)?;
        }
        Ok(())
    }

    fn push_row<'a>(
        &self,
        data: &mut CtrData,
        user: &'a UserPart<'_>,
        item: &'a Item,
        label: Option<f32>,
        row: &mut Row<'a>,
    ) -> Result<(), RankError> {
        let categorical = &mut row.categorical;
        self.raw(user, item, &mut row.numeric, categorical);
        // The item's columns looked up; the user's and the context's were, once per request.
        let items = self.vocabularies.len() - user.codes.len();
        row.codes.clear();
        row.codes
            .extend(categorical[..items].iter().zip(&self.vocabularies).map(|(v, vocabulary)| code(vocabulary, v)));
        row.codes.extend_from_slice(&user.codes);
        data.push_row(&row.numeric, &row.codes, label)
    }
}

/// A row's buffers, reused from row to row.
#[derive(Default)]
struct Row<'a> {
    numeric: Vec<f32>,
    categorical: Vec<Option<Cow<'a, str>>>,
    codes: Vec<u32>,
}

/// A categorical value's index in its field's vocabulary (0: unseen or missing).
fn code(vocabulary: &FxHashMap<String, u32>, value: &Option<Cow<'_, str>>) -> u32 {
    value.as_deref().and_then(|v| vocabulary.get(v).copied()).unwrap_or(0)
}

/// A categorical value of a JSON field: strings as they are, numbers and booleans as text.
fn text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

/// The user's and the moment's share of a row.
struct UserPart<'a> {
    /// The codes of `categorical`, in the space's vocabularies.
    codes: Vec<u32>,
    profile: Option<&'a UserProfile>,
    at_ms: i64,
    hour: i64,
    category_max: f64,
    tag_max: f64,
    /// Impressions (log), watches (log), share of activity at this hour.
    base: [f32; 3],
    /// The user features' numeric columns, in order.
    user: Vec<UserNumeric>,
    /// The user features' categorical columns, then the context's.
    categorical: Vec<Option<Cow<'a, str>>>,
    /// The profile's category and tag scores in hash maps: every candidate of a request looks
    /// several up, and a `BTreeMap` of strings compares keys all the way down.
    category_scores: Scores<'a>,
    tag_scores: Scores<'a>,
}

/// Category or tag → the profile's score.
type Scores<'a> = FxHashMap<&'a str, f64>;

fn index(scores: &BTreeMap<String, f64>) -> Scores<'_> {
    scores.iter().map(|(key, score)| (key.as_str(), *score)).collect()
}

enum UserNumeric {
    Value(f32),
    /// A multi-categorical user feature: whether it lists the item's category.
    HasCategory(Option<Vec<String>>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyrec_core::scenario::FeatureSpec;
    use polyrec_core::{ItemId, ItemStatus, ScenarioId, UserId};
    use serde_json::json;

    fn item(id: &str, metadata: Value) -> Item {
        Item {
            scenario_id: ScenarioId::parse("s").unwrap(),
            item_id: ItemId::parse(id).unwrap(),
            metadata: metadata.as_object().unwrap().clone(),
            embedding: None,
            status: ItemStatus::Active,
            created_ms: 0,
            updated_ms: 0,
            publish_memo: Default::default(),
        }
    }

    fn spec(name: &str, feature_type: FeatureType) -> FeatureSpec {
        FeatureSpec { name: name.into(), feature_type, weight: 1.0 }
    }

    #[test]
    fn training_and_serving_encode_alike_and_unseen_values_are_zero() {
        let features = FeaturesConfig {
            item_features: vec![
                spec("price", FeatureType::Numeric),
                spec("brand", FeatureType::Categorical),
                spec("tags", FeatureType::MultiCategorical),
            ],
            user_features: vec![spec("total_watch_count", FeatureType::Numeric)],
        };
        let mut space = FeatureSpace::new(&features);
        let a = item("a", json!({"category": "shoes", "price": 12.5, "brand": "acme", "tags": ["red", "sale"]}));
        let b = item("b", json!({"category": "hats", "brand": "zeta"}));
        let mut profile = UserProfile::empty(UserId::parse("u").unwrap(), ScenarioId::parse("s").unwrap());
        profile.features.total_watch_count = 7;
        profile.preferences.category_scores.insert("shoes".into(), 2.0);
        profile.preferences.tag_scores.insert("red".into(), 1.0);
        let context = json!({"device_type": "mobile"}).as_object().unwrap().clone();
        let obs = |item, profile| Observation { item, profile, context: &context, at_ms: 5 * HOUR_MS };
        let (a, b) = (&a, &b);
        space.fit([obs(a, Some(&profile)), obs(a, None)]);

        let mut data = space.empty_data();
        space.push(&mut data, &obs(a, Some(&profile)), Some(1.0)).unwrap();
        space.push(&mut data, &obs(b, None), Some(0.0)).unwrap();
        let names = space.numeric_names();
        let value = |row: usize, name: &str| data.numeric_row(row)[names.iter().position(|n| n == name).unwrap()];
        assert_eq!(value(0, "hour_of_day"), 5.0);
        assert_eq!(value(0, "item.price"), 12.5);
        assert!(value(1, "item.price").is_nan(), "missing is NaN");
        assert_eq!(value(0, "category_affinity"), 1.0);
        assert_eq!(value(0, "item.tags.liked_share"), 0.5);
        assert_eq!(value(0, "user.total_watch_count"), 7.0);
        let categorical = space.categorical_names();
        let index =
            |row: usize, name: &str| data.categorical_row(row)[categorical.iter().position(|n| n == name).unwrap()];
        assert_eq!(index(0, "item_id"), 1);
        assert_eq!(index(1, "item_id"), 0, "b was not in the training rows");
        assert_eq!(index(0, "item.brand"), 1);
        assert_eq!(index(1, "item.brand"), 0);
        assert_eq!(index(0, "context.device_type"), 1);
        assert_eq!(data.cardinalities[categorical.iter().position(|n| n == "item.brand").unwrap()], 2);

        // A request's candidates (the user's part computed once for all of them) encode
        // as the trainer's rows, one observation at a time, do.
        let mut one_by_one = space.empty_data();
        let mut request = space.empty_data();
        for item in [a, b] {
            space.push(&mut one_by_one, &obs(item, Some(&profile)), None).unwrap();
        }
        space.push_items(&mut request, [a, b], Some(&profile), &context, 5 * HOUR_MS).unwrap();
        assert_eq!(request.categorical, one_by_one.categorical);
        let bits = |data: &CtrData| data.numeric.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&request), bits(&one_by_one));
        assert_eq!(value(0, "tag_affinity"), 0.5, "red scores the best tag score, sale nothing: the mean");

        // What a model stores and loads is the same space.
        let reloaded: FeatureSpace = serde_json::from_str(&serde_json::to_string(&space).unwrap()).unwrap();
        assert_eq!(reloaded, space);
    }
}
