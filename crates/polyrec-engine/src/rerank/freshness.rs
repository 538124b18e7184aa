//! `freshness`: newer items first, softly. score × ((1 − w) + w × e^(−age / decay)), with the
//! decay given as `decay_days` or `decay_hours` (one of them; default 7 days). Age is measured
//! from `metadata.publish_time`, else from when the item was created.

use polyrec_core::clock::{DAY_MS, HOUR_MS};
use polyrec_core::{Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Candidate, RequestContext, Rerank};
use crate::registry::{BuildError, parse_params, positive};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreshnessConfig {
    #[serde(default)]
    pub decay_days: Option<f64>,
    #[serde(default)]
    pub decay_hours: Option<f64>,
}

pub struct Freshness {
    decay_ms: f64,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Rerank>, BuildError> {
    let config: FreshnessConfig = parse_params(params)?;
    let decay_ms = match (config.decay_days, config.decay_hours) {
        (Some(_), Some(_)) => return Err(BuildError::new("params", "give decay_days or decay_hours, not both")),
        (Some(days), None) => days * DAY_MS as f64,
        (None, Some(hours)) => hours * HOUR_MS as f64,
        (None, None) => 7.0 * DAY_MS as f64,
    };
    if !positive(decay_ms) {
        let field = if config.decay_days.is_some() { "params.decay_days" } else { "params.decay_hours" };
        return Err(BuildError::new(field, "must be > 0"));
    }
    Ok(Box::new(Freshness { decay_ms }))
}

impl Rerank for Freshness {
    fn rerank(&self, ctx: &RequestContext<'_>, weight: f64, candidates: &mut Vec<Candidate>) {
        for candidate in candidates.iter_mut() {
            let age_ms = (ctx.now_ms - candidate.item.publish_ms()).max(0) as f64;
            candidate.score *= (1.0 - weight) + weight * (-age_ms / self.decay_ms).exp();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, item};
    use crate::recall::test_support::Fixture;
    use crate::recall::test_support::dummy;
    use crate::rerank::test_support::{order, scored};
    use serde_json::json;

    #[test]
    fn decays_old_items() {
        let now = 1_700_000_000_000;
        let fx = Fixture::new(now, catalog(vec![item("old", now, 48, json!({})), item("new", now, 1, json!({}))]));
        let mut list = scored(&fx, &[("old", 1.0), ("new", 0.8)]);
        build(&json!({"decay_hours": 6}), &dummy()).unwrap().rerank(&fx.ctx(), 0.5, &mut list);
        assert_eq!(order(&list), ["new", "old"]);
        assert!(build(&json!({"decay_hours": 6, "decay_days": 1}), &dummy()).is_err());
        assert!(build(&json!({"decay_days": 0}), &dummy()).is_err());
    }
}
