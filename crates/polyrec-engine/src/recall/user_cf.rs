//! `user_cf`: what users similar to this one liked (similarities from the collaborative-
//! filtering job). Score = Σ over neighbors v of sim(u, v) × v's interest in the item; items
//! the user already touched recently are left out.

use async_trait::async_trait;
use polyrec_core::{Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Hit, Recall, RequestContext};
use crate::registry::{BuildError, parse_params};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCfConfig {}

pub struct UserCf;

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    let _: UserCfConfig = parse_params(params)?;
    Ok(Box::new(UserCf))
}

#[async_trait]
impl Recall for UserCf {
    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<Hit>> {
        let Some(cf) = ctx.cf() else { return Ok(Vec::new()) };
        // Precomputed best first by the trainer: walk it until `limit` are eligible.
        Ok(cf
            .neighbor_items(ctx.user.as_str())
            .filter(|(item, _)| !ctx.is_recent(item))
            .filter_map(|(item, score)| ctx.eligible(item).map(|item| (item.clone(), score as f64)))
            .take(limit)
            .collect())
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

    #[tokio::test]
    async fn recommends_what_similar_users_saw() {
        let now = 1_700_000_000_000;
        let items = ["a", "b", "z", "q"].iter().map(|id| item(id, now, 1, json!({}))).collect();
        let mut fx = Fixture::new(now, catalog(items));
        let seen = |user: &str, item: &str| Interaction {
            user_id: user.into(),
            item_id: item.into(),
            weight: 2.0,
            last_ms: 0,
        };
        fx.models.cf = Some(std::sync::Arc::new(CfModel::train(
            &[seen("u", "a"), seen("u", "b"), seen("v", "a"), seen("v", "b"), seen("v", "z"), seen("w", "q")],
            CfParams::default(),
            now,
        )));
        fx.set_recent(&["a", "b"]);
        let strategy = build(&json!({}), &dummy()).unwrap();
        assert_eq!(ids(&strategy.recall(&fx.ctx(), 10).await.unwrap()), ["z"]);
        assert!(build(&json!({"k": 1}), &dummy()).is_err());
    }
}
