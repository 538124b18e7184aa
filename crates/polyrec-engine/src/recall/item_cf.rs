//! `item_cf`: items similar to what the user touched most recently. The similarities come from
//! the collaborative-filtering job ([`crate::CfModel`]); the user's recent items from the
//! realtime store, so a click changes the next answer. Score = Σ over recent items r of
//! sim(r, i) / (1 + position of r), newest counting most.

use std::collections::HashMap;

use async_trait::async_trait;
use polyrec_core::{Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Recall, RequestContext};
use crate::registry::{BuildError, parse_params};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemCfConfig {
    /// How many of the user's recent items seed the search.
    #[serde(default = "default_seeds")]
    pub seed_items: usize,
}

fn default_seeds() -> usize {
    20
}

pub struct ItemCf {
    config: ItemCfConfig,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    let config: ItemCfConfig = parse_params(params)?;
    if !(1..=200).contains(&config.seed_items) {
        return Err(BuildError::new("params.seed_items", "must be between 1 and 200"));
    }
    Ok(Box::new(ItemCf { config }))
}

#[async_trait]
impl Recall for ItemCf {
    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<(String, f64)>> {
        let Some(cf) = ctx.cf else { return Ok(Vec::new()) };
        let mut scores: HashMap<&str, f64> = HashMap::new();
        for (position, seed) in ctx.recent_items.iter().take(self.config.seed_items).enumerate() {
            for (neighbor, similarity) in cf.similar_items(seed) {
                if ctx.eligible(neighbor).is_some() && !ctx.recent_items.iter().any(|r| r == neighbor) {
                    *scores.entry(neighbor).or_default() += similarity as f64 / (1 + position) as f64;
                }
            }
        }
        Ok(top(scores, limit))
    }
}

/// The `limit` best of a score map, best first, ties by id.
pub(crate) fn top(scores: HashMap<&str, f64>, limit: usize) -> Vec<(String, f64)> {
    let mut hits: Vec<(String, f64)> = scores.into_iter().map(|(id, s)| (id.to_owned(), s)).collect();
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    hits.truncate(limit);
    hits
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
        fx.cf = Some(CfModel::train(
            &[seen("x", "a"), seen("x", "b"), seen("y", "a"), seen("y", "b"), seen("z", "c"), seen("z", "d")],
            CfParams::default(),
            now,
        ));
        let strategy = build(&json!({}), &dummy()).unwrap();
        assert!(strategy.recall(&fx.ctx(), 10).await.unwrap().is_empty(), "no recent items, no seeds");
        fx.recent = vec!["a".into()];
        assert_eq!(ids(&strategy.recall(&fx.ctx(), 10).await.unwrap()), ["b"]);
        fx.exclude.insert("b".into());
        assert!(strategy.recall(&fx.ctx(), 10).await.unwrap().is_empty());
    }
}
