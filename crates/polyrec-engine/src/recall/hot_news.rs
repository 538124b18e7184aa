//! `hot_news`: hot items weighted by freshness — hotness × e^(−age / decay_hours), among items
//! published within `max_age_hours`. News goes stale faster than it cools down.

use async_trait::async_trait;
use polyrec_core::clock::HOUR_MS;
use polyrec_core::{Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Hit, Recall, RequestContext};
use crate::registry::{BuildError, parse_params, positive};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotNewsConfig {
    #[serde(default = "default_decay_hours")]
    pub decay_hours: f64,
    #[serde(default = "default_max_age_hours")]
    pub max_age_hours: f64,
}

fn default_decay_hours() -> f64 {
    12.0
}

fn default_max_age_hours() -> f64 {
    72.0
}

pub struct HotNews {
    config: HotNewsConfig,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    let config: HotNewsConfig = parse_params(params)?;
    if !positive(config.decay_hours) || config.decay_hours > 24.0 * 365.0 {
        return Err(BuildError::new("params.decay_hours", "must be > 0 and at most 8760 (a year)"));
    }
    if !positive(config.max_age_hours) {
        return Err(BuildError::new("params.max_age_hours", "must be > 0"));
    }
    Ok(Box::new(HotNews { config }))
}

#[async_trait]
impl Recall for HotNews {
    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<Hit>> {
        let fetch = limit * super::hot_items::OVERFETCH * 2 + ctx.exclude.len();
        let hot = ctx.realtime.hot_items(ctx.tenant, ctx.scenario, fetch).await?;
        let max_age_ms = self.config.max_age_hours * HOUR_MS as f64;
        let mut hits: Vec<Hit> = hot
            .into_iter()
            .filter_map(|(id, hotness)| {
                let item = ctx.eligible(&id)?;
                let age_ms = (ctx.now_ms - item.publish_ms()).max(0) as f64;
                let decayed = hotness * (-age_ms / (self.config.decay_hours * HOUR_MS as f64)).exp();
                (age_ms <= max_age_ms).then(|| (item.clone(), decayed))
            })
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1));
        hits.truncate(limit);
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, item};
    use crate::recall::test_support::dummy;
    use crate::recall::test_support::{Fixture, ids};
    use polyrec_storage::RealtimeStore;
    use serde_json::json;

    #[tokio::test]
    async fn fresh_news_beats_slightly_hotter_old_news() {
        let now = 1_700_000_000_000;
        let fx = Fixture::new(
            now,
            catalog(vec![
                item("old", now, 30, json!({})),
                item("new", now, 1, json!({})),
                item("ancient", now, 500, json!({})),
            ]),
        );
        let hot = vec![("old".into(), 10.0), ("new".into(), 8.0), ("ancient".into(), 100.0)];
        fx.realtime.replace_hot_items(&fx.tenant, &fx.scenario, hot, 60_000).await.unwrap();
        let strategy = build(&json!({"decay_hours": 6}), &dummy()).unwrap();
        let hits = strategy.recall(&fx.ctx(), 10).await.unwrap();
        assert_eq!(ids(&hits), ["new", "old"], "older than max_age_hours is dropped");
        assert!(build(&json!({"decay_hours": 0}), &dummy()).is_err());
    }
}
