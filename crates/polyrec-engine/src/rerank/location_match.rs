//! `location_match`: items at the request's location rank higher: score × (1 + weight) when
//! `metadata.<field>` equals `context.<context_key>` (both default to `location`).

use polyrec_core::{Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Candidate, RequestContext, Rerank};
use crate::registry::{BuildError, parse_params};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationMatchConfig {
    #[serde(default = "default_location")]
    pub field: String,
    #[serde(default = "default_location")]
    pub context_key: String,
}

fn default_location() -> String {
    "location".into()
}

pub struct LocationMatch {
    config: LocationMatchConfig,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Rerank>, BuildError> {
    Ok(Box::new(LocationMatch { config: parse_params(params)? }))
}

impl Rerank for LocationMatch {
    fn rerank(&self, ctx: &RequestContext<'_>, weight: f64, candidates: &mut Vec<Candidate>) {
        let Some(here) = ctx.context.get(&self.config.context_key) else { return };
        for candidate in candidates.iter_mut() {
            if candidate.item.metadata.get(&self.config.field) == Some(here) {
                candidate.score *= 1.0 + weight;
            }
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
    fn boosts_local_items_only_when_the_request_has_a_location() {
        let now = 0;
        let mut fx = Fixture::new(
            now,
            catalog(vec![
                item("far", now, 0, json!({"location": "paris"})),
                item("near", now, 0, json!({"location": "lyon"})),
            ]),
        );
        let rule = build(&json!({}), &dummy()).unwrap();
        let mut list = scored(&fx, &[("far", 1.0), ("near", 0.9)]);
        rule.rerank(&fx.ctx(), 0.5, &mut list);
        assert_eq!(order(&list), ["far", "near"]);
        fx.context.insert("location".into(), json!("lyon"));
        rule.rerank(&fx.ctx(), 0.5, &mut list);
        assert_eq!(order(&list), ["near", "far"]);
    }
}
