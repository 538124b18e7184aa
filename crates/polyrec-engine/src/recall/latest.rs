//! `latest`: the newest items, optionally of one category or of the category the request's
//! context names, and no older than `max_age_days`. Score = e^(−age / 1 day) so newer is higher.

use async_trait::async_trait;
use polyrec_core::clock::DAY_MS;
use polyrec_core::{Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Hit, Recall, RequestContext};
use crate::registry::{BuildError, parse_params, positive};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatestConfig {
    #[serde(default)]
    pub max_age_days: Option<f64>,
    #[serde(default)]
    pub category: Option<String>,
}

pub struct Latest {
    config: LatestConfig,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    let config: LatestConfig = parse_params(params)?;
    if config.max_age_days.is_some_and(|days| !positive(days)) {
        return Err(BuildError::new("params.max_age_days", "must be > 0"));
    }
    Ok(Box::new(Latest { config }))
}

#[async_trait]
impl Recall for Latest {
    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<Hit>> {
        let category = self.config.category.as_deref().or_else(|| ctx.context.get("category").and_then(Value::as_str));
        let items = match category {
            Some(category) => ctx.catalog.newest_in_category(category),
            None => ctx.catalog.newest(),
        };
        let max_age_ms = self.config.max_age_days.map(|days| days * DAY_MS as f64);
        Ok(items
            .iter()
            .filter(|item| !ctx.exclude.contains(item.item_id.as_str()))
            .map(|item| (item, (ctx.now_ms - item.publish_ms()).max(0) as f64))
            .take_while(|(_, age_ms)| max_age_ms.is_none_or(|max| *age_ms <= max))
            .take(limit)
            .map(|(item, age_ms)| (item.clone(), (-age_ms / DAY_MS as f64).exp().max(1e-9)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, item};
    use crate::recall::test_support::dummy;
    use crate::recall::test_support::{Fixture, ids};
    use serde_json::json;

    #[tokio::test]
    async fn newest_first_within_age_and_category() {
        let now = 1_700_000_000_000;
        let mut fx = Fixture::new(
            now,
            catalog(vec![
                item("a", now, 1, json!({"category": "x"})),
                item("b", now, 2, json!({"category": "y"})),
                item("c", now, 100, json!({"category": "x"})),
            ]),
        );
        let strategy = build(&json!({}), &dummy()).unwrap();
        assert_eq!(ids(&strategy.recall(&fx.ctx(), 10).await.unwrap()), ["a", "b", "c"]);
        let recent = build(&json!({"max_age_days": 1}), &dummy()).unwrap();
        assert_eq!(ids(&recent.recall(&fx.ctx(), 10).await.unwrap()), ["a", "b"]);
        fx.context.insert("category".into(), json!("x"));
        assert_eq!(ids(&strategy.recall(&fx.ctx(), 10).await.unwrap()), ["a", "c"]);
    }
}
