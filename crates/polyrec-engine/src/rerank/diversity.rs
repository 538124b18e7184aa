//! `diversity`: fewer repeats of one category (or another metadata `field`) near the top.
//! Greedy: walking the list best first, an item whose field value was already taken `k` times
//! has its score multiplied by (1 − weight)^k. Scores only go down, and the best item of each
//! category keeps its score.

use rustc_hash::FxHashMap as HashMap;

use polyrec_core::{Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Candidate, RequestContext, Rerank};
use crate::registry::{BuildError, parse_params};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiversityConfig {
    #[serde(default = "default_field")]
    pub field: String,
}

fn default_field() -> String {
    "category".into()
}

pub struct Diversity {
    config: DiversityConfig,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Rerank>, BuildError> {
    Ok(Box::new(Diversity { config: parse_params(params)? }))
}

impl Rerank for Diversity {
    fn rerank(&self, ctx: &RequestContext<'_>, weight: f64, candidates: &mut Vec<Candidate>) {
        let keep = (1.0 - weight).clamp(0.0, 1.0);
        // The list arrives sorted best first.
        if self.config.field == "category" {
            // The catalog's category ids: no string to hash or copy per candidate.
            let mut seen: HashMap<u32, i32> = HashMap::default();
            for candidate in candidates.iter_mut() {
                let row = ctx.catalog.row(&candidate.item);
                let Some((category, _)) = row.and_then(|row| ctx.catalog.category_at(row)) else { continue };
                let repeats = seen.entry(category).or_default();
                candidate.score *= keep.powi(*repeats);
                *repeats += 1;
            }
            return;
        }
        let mut seen: HashMap<String, i32> = HashMap::default();
        for candidate in candidates.iter_mut() {
            let Some(value) = candidate.item.metadata.get(&self.config.field) else { continue };
            let key = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            let repeats = seen.entry(key).or_default();
            candidate.score *= keep.powi(*repeats);
            *repeats += 1;
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
    fn a_second_item_of_a_category_drops_below_another_category() {
        let now = 0;
        let fx = Fixture::new(
            now,
            catalog(vec![
                item("a1", now, 0, json!({"category": "a"})),
                item("a2", now, 0, json!({"category": "a"})),
                item("b1", now, 0, json!({"category": "b"})),
            ]),
        );
        let mut list = scored(&fx, &[("a1", 1.0), ("a2", 0.9), ("b1", 0.8)]);
        build(&json!({}), &dummy()).unwrap().rerank(&fx.ctx(), 0.3, &mut list);
        assert_eq!(order(&list), ["a1", "b1", "a2"]);
        let mut list = scored(&fx, &[("a1", 1.0), ("a2", 0.9), ("b1", 0.8)]);
        build(&json!({}), &dummy()).unwrap().rerank(&fx.ctx(), 0.0, &mut list);
        assert_eq!(order(&list), ["a1", "a2", "b1"], "weight 0 changes nothing");
    }

    #[test]
    fn any_metadata_field_can_be_diversified() {
        let now = 0;
        let fx = Fixture::new(
            now,
            catalog(vec![
                item("x1", now, 0, json!({"brand": "x", "category": "c"})),
                item("x2", now, 0, json!({"brand": "x", "category": "c"})),
                item("y1", now, 0, json!({"brand": "y", "category": "c"})),
            ]),
        );
        let mut list = scored(&fx, &[("x1", 1.0), ("x2", 0.9), ("y1", 0.8)]);
        build(&json!({"field": "brand"}), &dummy()).unwrap().rerank(&fx.ctx(), 0.3, &mut list);
        assert_eq!(order(&list), ["x1", "y1", "x2"]);
    }
}
