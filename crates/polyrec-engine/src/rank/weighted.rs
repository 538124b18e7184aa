//! `weighted`: a ranker that needs no trained model. Each item feature of `config.features`
//! becomes a value in [0, 1], and
//!
//! score = recall_weight × recall score + Σ w_f × v_f / Σ w_f
//!
//! - `numeric`: the metadata number, min–max scaled over this request's candidates.
//! - `categorical`: 1 when the item's value matches the user: for `category`, the user's
//!   category interest (profile, scaled so the top category is 1); otherwise when the request
//!   `context` has the same field with the same value (e.g. `location`).
//! - `multi_categorical`: the share of the item's values (e.g. `tags`) the user has shown
//!   interest in.
//! - `timestamp`: e^(−age / `recency_days`).
//!
//! User features describe the user alone and cannot reorder one user's candidates in a linear
//! score, so this ranker leaves them to the learned models; `favorite_categories` is the
//! exception and boosts items in those categories.

use crate::catalog::CatalogIndex;
use async_trait::async_trait;
use polyrec_core::clock::DAY_MS;
use polyrec_core::scenario::{FeatureSpec, FeatureType};
use polyrec_core::{Item, Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Candidate, Rank, RequestContext};
use crate::registry::{BuildError, parse_params, positive};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedConfig {
    /// How much the merged recall score counts next to the features.
    #[serde(default = "one")]
    pub recall_weight: f64,
    /// The e-folding age of `timestamp` features.
    #[serde(default = "default_recency_days")]
    pub recency_days: f64,
}

fn one() -> f64 {
    1.0
}

fn default_recency_days() -> f64 {
    7.0
}

pub struct Weighted {
    config: WeightedConfig,
    item_features: Vec<FeatureSpec>,
    favorite_categories_weight: f64,
}

pub fn build(params: &Value, scenario: &ScenarioConfig) -> Result<Box<dyn Rank>, BuildError> {
    let config: WeightedConfig = parse_params(params)?;
    if !(0.0..=100.0).contains(&config.recall_weight) {
        return Err(BuildError::new("params.recall_weight", "must be between 0 and 100"));
    }
    if !positive(config.recency_days) {
        return Err(BuildError::new("params.recency_days", "must be > 0"));
    }
    let favorite_categories_weight =
        scenario.features.user_features.iter().filter(|f| f.name == "favorite_categories").map(|f| f.weight).sum();
    Ok(Box::new(Weighted {
        config,
        item_features: scenario.features.item_features.clone(),
        favorite_categories_weight,
    }))
}

impl Weighted {
    fn value(&self, ctx: &RequestContext<'_>, feature: &FeatureSpec, item: &Item, category_max: f64) -> Option<f64> {
        match feature.feature_type {
            FeatureType::Numeric => item.number(&feature.name),
            FeatureType::Categorical => {
                let value = item.metadata.get(&feature.name)?;
                if feature.name == "category" {
                    let scores = &ctx.profile?.preferences.category_scores;
                    return Some(scores.get(value.as_str()?).copied().unwrap_or(0.0) / category_max);
                }
                Some(if ctx.context.get(&feature.name) == Some(value) { 1.0 } else { 0.0 })
            }
            FeatureType::MultiCategorical => {
                let values = item.metadata.get(&feature.name)?.as_array()?;
                let profile = ctx.profile?;
                let liked = values
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|v| {
                        profile.preferences.tag_scores.contains_key(*v)
                            || profile.preferences.category_scores.contains_key(*v)
                    })
                    .count();
                Some(liked as f64 / values.len().max(1) as f64)
            }
            FeatureType::Timestamp => {
                let at = item.timestamp(&feature.name).unwrap_or_else(|| item.publish_ms());
                let age_days = (ctx.now_ms - at).max(0) as f64 / DAY_MS as f64;
                Some((-age_days / self.config.recency_days).exp())
            }
        }
    }
}

#[async_trait]
impl Rank for Weighted {
    fn catalog_indexes(&self) -> Vec<CatalogIndex> {
        self.item_features
            .iter()
            .filter(|f| f.feature_type == FeatureType::Numeric)
            .map(|f| CatalogIndex::Numeric(f.name.clone()))
            .collect()
    }

    async fn rank(&self, ctx: &RequestContext<'_>, candidates: &mut [Candidate]) -> Result<()> {
        let category_max = ctx
            .profile
            .map(|p| p.preferences.category_scores.values().copied().fold(0.0, f64::max))
            .filter(|max| *max > 0.0)
            .unwrap_or(1.0);
        let n_features = self.item_features.len();
        // Numeric features come from the catalog's columns (see `Catalog::numeric_column`).
        let columns: Vec<Option<std::sync::Arc<[f64]>>> = self
            .item_features
            .iter()
            .map(|f| if f.feature_type == FeatureType::Numeric { ctx.catalog.numeric_column(&f.name) } else { None })
            .collect();
        // values[c][f]; numeric features are scaled over the candidates afterwards.
        let mut values: Vec<Vec<Option<f64>>> = candidates
            .iter()
            .map(|c| {
                let row = ctx.catalog.row(&c.item);
                self.item_features
                    .iter()
                    .zip(&columns)
                    .map(|(f, column)| match (f.feature_type, column, row) {
                        (FeatureType::Numeric, Some(column), Some(row)) => Some(column[row]).filter(|v| !v.is_nan()),
                        (FeatureType::Numeric, None, Some(_)) => None,
                        (FeatureType::Categorical, _, Some(row)) if f.name == "category" => {
                            let (_, category) = ctx.catalog.category_at(row)?;
                            let scores = &ctx.profile?.preferences.category_scores;
                            Some(scores.get(category).copied().unwrap_or(0.0) / category_max)
                        }
                        _ => self.value(ctx, f, &c.item, category_max),
                    })
                    .collect()
            })
            .collect();
        for (f, feature) in self.item_features.iter().enumerate() {
            if feature.feature_type != FeatureType::Numeric {
                continue;
            }
            let present = values.iter().filter_map(|row| row[f]);
            let (low, high) = present.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
            for row in &mut values {
                row[f] = row[f].map(|v| if high > low { (v - low) / (high - low) } else { 1.0 });
            }
        }
        let total_weight: f64 =
            self.item_features.iter().map(|f| f.weight).sum::<f64>() + self.favorite_categories_weight;
        let favorites = ctx.profile.map(|p| p.features.favorite_categories.as_slice()).unwrap_or_default();
        for (candidate, row) in candidates.iter_mut().zip(values) {
            let mut feature_score: f64 =
                (0..n_features).map(|f| self.item_features[f].weight * row[f].unwrap_or(0.0)).sum();
            let category = ctx.catalog.row(&candidate.item).and_then(|row| ctx.catalog.category_at(row));
            if self.favorite_categories_weight > 0.0 && category.is_some_and(|(_, c)| favorites.iter().any(|f| f == c))
            {
                feature_score += self.favorite_categories_weight;
            }
            let feature_score = if total_weight > 0.0 { feature_score / total_weight } else { 0.0 };
            candidate.rank_score = feature_score;
            candidate.score = self.config.recall_weight * candidate.recall_score + feature_score;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, item};
    use crate::recall::test_support::Fixture;
    use crate::rerank::test_support::scored;
    use polyrec_core::{ScenarioId, UserId, UserProfile};
    use serde_json::json;

    fn scenario(features: Value) -> ScenarioConfig {
        serde_json::from_value(
            json!({"features": features, "recall": {"strategies": []}, "rank": {"model": "weighted"}}),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn numeric_and_category_features_order_candidates() {
        let now = 1_700_000_000_000;
        let mut fx = Fixture::new(
            now,
            catalog(vec![
                item("short", now, 1, json!({"duration": 10, "category": "news"})),
                item("long", now, 1, json!({"duration": 100, "category": "sport"})),
            ]),
        );
        let by_duration = build(
            &json!({}),
            &scenario(json!({"item_features": [{"name": "duration", "type": "numeric", "weight": 1.0}]})),
        )
        .unwrap();
        let mut list = scored(&fx, &[("short", 0.5), ("long", 0.5)]);
        by_duration.rank(&fx.ctx(), &mut list).await.unwrap();
        assert!(list[1].score > list[0].score, "longer scores higher");
        assert_eq!((list[0].rank_score, list[1].rank_score), (0.0, 1.0));

        let mut profile = UserProfile::empty(UserId::parse("u").unwrap(), ScenarioId::parse("s").unwrap());
        profile.preferences.category_scores.insert("news".into(), 4.0);
        fx.profile = Some(profile);
        let by_category = build(
            &json!({"recall_weight": 0}),
            &scenario(json!({"item_features": [{"name": "category", "type": "categorical", "weight": 2.0}]})),
        )
        .unwrap();
        let mut list = scored(&fx, &[("short", 0.5), ("long", 0.5)]);
        by_category.rank(&fx.ctx(), &mut list).await.unwrap();
        assert_eq!((list[0].score, list[1].score), (1.0, 0.0));
    }

    #[test]
    fn params_are_checked() {
        let config = scenario(json!({}));
        assert!(build(&json!({"recall_weight": -1}), &config).is_err());
        assert!(build(&json!({"unknown": 1}), &config).is_err());
    }
}
