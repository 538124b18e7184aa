//! `hot_items`: the scenario's hottest items, read from the realtime hot set that the item hot
//! score job keeps (1-hour sliding window, time-decayed).

use async_trait::async_trait;
use polyrec_core::{Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Hit, Recall, RequestContext};
use crate::registry::{BuildError, parse_params};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotItemsConfig {
    /// Only items of this category (e.g. a shelf per category).
    #[serde(default)]
    pub category: Option<String>,
}

pub struct HotItems {
    config: HotItemsConfig,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    Ok(Box::new(HotItems { config: parse_params(params)? }))
}

/// How many more entries than `limit` to read, so exclusions and inactive items do not starve
/// the channel.
pub(crate) const OVERFETCH: usize = 3;

#[async_trait]
impl Recall for HotItems {
    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<Hit>> {
        let hot = ctx.realtime.hot_items(ctx.tenant, ctx.scenario, limit * OVERFETCH + ctx.exclude.len()).await?;
        Ok(hot
            .into_iter()
            .filter_map(|(id, score)| ctx.eligible(&id).map(|item| (item.clone(), score)))
            .filter(|(item, _)| match &self.config.category {
                Some(category) => item.category() == Some(category),
                None => true,
            })
            .take(limit)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, item};
    use crate::recall::test_support::{Fixture, dummy, ids};
    use polyrec_storage::RealtimeStore;
    use serde_json::json;

    #[tokio::test]
    async fn returns_hottest_eligible_items() {
        let now = 1_700_000_000_000;
        let mut fx = Fixture::new(
            now,
            catalog(vec![
                item("a", now, 1, json!({"category": "x"})),
                item("b", now, 1, json!({"category": "y"})),
                item("c", now, 1, json!({"category": "x"})),
            ]),
        );
        let hot = vec![("a".into(), 3.0), ("b".into(), 9.0), ("c".into(), 1.0), ("gone".into(), 99.0)];
        fx.realtime.replace_hot_items(&fx.tenant, &fx.scenario, hot, 60_000).await.unwrap();
        fx.exclude.insert("a".into());
        let all = build(&json!({}), &dummy()).unwrap();
        let hits = all.recall(&fx.ctx(), 10).await.unwrap();
        assert_eq!(ids(&hits), ["b", "c"], "unknown and excluded items are skipped");
        let only_x = build(&json!({"category": "x"}), &dummy()).unwrap();
        assert_eq!(ids(&only_x.recall(&fx.ctx(), 10).await.unwrap()), ["c"]);
        assert!(build(&json!({"colour": 1}), &dummy()).is_err());
    }
}
