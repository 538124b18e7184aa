//! `item_cf`: items similar to what the user touched most recently. The similarities come from
//! the collaborative-filtering job ([`crate::CfModel`]); the user's recent items from the
//! realtime store, so a click changes the next answer. Score = Σ over recent items r of
//! sim(r, i) / (1 + decay × position of r): with the default decay 1 the newest counts most;
//! decay 0 weighs all of them alike (the classic item-based kNN). With `history` (the default)
//! the user's training items seed too, each counting as a seed after the recent ones
//! (1 / (1 + decay × number of recent seeds)). Their part is summed by the training job
//! ([`crate::CfModel::history_items`]), so a request only adds its recent seeds: a recent seed
//! that is also a training item counts with its recent weight, not twice.

use rustc_hash::FxHashMap as HashMap;

use async_trait::async_trait;
use polyrec_core::{Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Hit, Recall, RequestContext};
use crate::recall::top_eligible;
use crate::registry::{BuildError, parse_params};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemCfConfig {
    /// How many of the user's recent items seed the search (at most the 50 the service reads).
    #[serde(default = "default_seeds")]
    pub seed_items: usize,
    /// How fast older seeds count less (0 = all alike).
    #[serde(default = "default_decay")]
    pub decay: f64,
    /// Also seed from the user's items in the trained model, after the recent ones.
    #[serde(default = "default_history")]
    pub history: bool,
    /// The neighbours' parameters ([`crate::cf::CfParams`]) kept as given; the training job's
    /// search chooses the others ([`crate::learned::item_cf`]).
    #[serde(default)]
    pub model: Option<serde_json::Map<String, Value>>,
}

fn default_history() -> bool {
    true
}

fn default_decay() -> f64 {
    1.0
}

fn default_seeds() -> usize {
    20
}

pub struct ItemCf {
    config: ItemCfConfig,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    let config: ItemCfConfig = parse_params(params)?;
    if !(1..=50).contains(&config.seed_items) {
        return Err(BuildError::new("params.seed_items", "must be between 1 and 50"));
    }
    if !(config.decay.is_finite() && config.decay >= 0.0) {
        return Err(BuildError::new("params.decay", "must be a number ≥ 0"));
    }
    if let Some(fixed) = &config.model {
        let params: crate::cf::CfParams = crate::learned::with_fixed(&crate::cf::CfParams::default(), fixed)
            .map_err(|e| BuildError::new("params.model", e))?;
        params.validate().map_err(|e| BuildError::new("params.model", e))?;
    }
    Ok(Box::new(ItemCf { config }))
}

#[async_trait]
impl Recall for ItemCf {
    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<Hit>> {
        let Some(cf) = ctx.cf() else { return Ok(Vec::new()) };
        // Summed by item index: hashing a u32 is cheaper than hashing the id.
        let mut by_index: HashMap<u32, f64> = HashMap::default();
        let seeds: Vec<u32> =
            ctx.recent_items.iter().take(self.config.seed_items).filter_map(|seed| cf.item_index(seed)).collect();
        let history = if self.config.history { cf.user_history(ctx.user.as_str()) } else { &[] };
        let history_weight = 1.0 / (1.0 + self.config.decay * seeds.len() as f64);
        if !history.is_empty() {
            for &(item, score) in cf.history_items(ctx.user.as_str()) {
                by_index.insert(item, history_weight * score as f64);
            }
        }
        for (position, &seed) in seeds.iter().enumerate() {
            let mut weight = 1.0 / (1.0 + self.config.decay * position as f64);
            if history.binary_search(&seed).is_ok() {
                weight -= history_weight; // already counted in the history part
            }
            if weight == 0.0 {
                continue;
            }
            for &(neighbor, similarity) in cf.similar_items_of(seed) {
                *by_index.entry(neighbor).or_default() += weight * similarity as f64;
            }
        }
        Ok(top_eligible(ctx, by_index, limit, |index| cf.item_name(index)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, item};
    use crate::cf::{CfModel, CfParams};
    use crate::recall::test_support::dummy;
    use crate::recall::test_support::{Fixture, ids};
    use polyrec_storage::Interaction;
    use serde_json::json;
    use std::sync::Arc;

    #[tokio::test]
    async fn recommends_neighbors_of_recent_items() {
        let now = 1_700_000_000_000;
        let items = ["a", "b", "c", "d"].iter().map(|id| item(id, now, 1, json!({}))).collect();
        let mut fx = Fixture::new(now, catalog(items));
        let seen = |user: &str, item: &str| Interaction {
            user_id: user.into(),
            item_id: item.into(),
            weight: 1.0,
            last_ms: 0,
        };
        fx.models.cf = Some(Arc::new(CfModel::train(
            &[seen("x", "a"), seen("x", "b"), seen("y", "a"), seen("y", "b"), seen("z", "c"), seen("z", "d")],
            CfParams::default(),
            now,
        )));
        let strategy = build(&json!({}), &dummy()).unwrap();
        assert!(strategy.recall(&fx.ctx(), 10).await.unwrap().is_empty(), "no recent items, no seeds");
        fx.set_recent(&["a"]);
        assert_eq!(ids(&strategy.recall(&fx.ctx(), 10).await.unwrap()), ["b"]);
        fx.exclude.insert("b".into());
        assert!(strategy.recall(&fx.ctx(), 10).await.unwrap().is_empty());
    }

    #[test]
    fn the_neighbours_model_params_are_checked() {
        assert!(build(&json!({"model": {"neighbors": 50, "shrink": 10.0}}), &dummy()).is_ok());
        for (model, field) in [
            (json!({"neighbors": 0}), "neighbors"),
            (json!({"neighbors": 1_000_000}), "neighbors"),
            (json!({"shrink": -1.0}), "shrink"),
            (json!({"neighbours": 5}), "neighbours"),
            (json!({"users_per_item": "all"}), "users_per_item"),
        ] {
            let error = build(&json!({ "model": model }), &dummy()).err().expect("refused");
            assert_eq!(error.sub_path, "params.model", "{error:?}");
            assert!(error.message.contains(field), "{error:?}");
        }
    }
}
