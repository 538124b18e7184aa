//! `interaction_ranker`: the rank stage of the model a training job learns from interactions on
//! the recall candidates ([`crate::learned::interaction_ranker`]). It scores the top
//! [`DEPTH`](crate::learned::interaction_ranker::DEPTH) candidates by merged recall score with
//! the scenario's trained model and puts them, in its order, above the others, which keep their
//! recall order. Until a model is trained — or when training found that it does not beat the
//! recall order — every candidate keeps its recall order. It runs where the recall stage runs
//! (its features are the channels' scores of this request), in every topology.

use async_trait::async_trait;
use polyrec_core::{Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::learned::interaction_ranker::{InteractionRanker, NAME};
use crate::pipeline::{Candidate, Rank, RequestContext};
use crate::registry::{BuildError, parse_params};

/// It takes no parameters: what it learns is chosen on the validation split.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {}

pub struct Interaction;

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Rank>, BuildError> {
    if !params.is_null() {
        let _: Params = parse_params(params)?;
    }
    Ok(Box::new(Interaction))
}

#[async_trait]
impl Rank for Interaction {
    async fn rank(&self, ctx: &RequestContext<'_>, candidates: &mut [Candidate]) -> Result<()> {
        // Recall order, scaled into [0, 1]: what stays below the learned order.
        let max = candidates.iter().map(|c| c.recall_score).fold(0.0, f64::max);
        for candidate in candidates.iter_mut() {
            candidate.rank_score = if max > 0.0 { candidate.recall_score / max } else { 0.0 };
            candidate.score = candidate.rank_score;
        }
        let model = ctx.models.and_then(|m| m.learned::<InteractionRanker>(NAME));
        let Some((rows, scores)) = model.map(|m| m.score(candidates, ctx.recent_items.len())).transpose()?.flatten()
        else {
            return Ok(());
        };
        for (row, score) in rows.into_iter().zip(scores) {
            // Above every candidate it did not score: 1 + a logistic of the learner's score.
            let candidate = &mut candidates[row];
            candidate.rank_score = 1.0 + 1.0 / (1.0 + (-f64::from(score)).exp());
            candidate.score = candidate.rank_score;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learned::interaction_ranker::tests::{candidates, fixture};
    use crate::learned::interaction_ranker::{DEPTH, feature_names};
    use crate::rerank::test_support::order;
    use polyrec_models::rank::{CtrData, FeatureSchema, Ranker};
    use std::sync::Arc;

    /// A stand-in learner: the score is the `item_popularity` column.
    struct ByPopularity(FeatureSchema);

    impl Ranker for ByPopularity {
        fn name(&self) -> &'static str {
            "by_popularity"
        }
        fn schema(&self) -> &FeatureSchema {
            &self.0
        }
        fn predict(&self, data: &CtrData) -> Vec<f32> {
            let column = data.numeric_names.iter().position(|n| n == "item_popularity").unwrap();
            (0..data.n_rows).map(|r| data.numeric_row(r)[column]).collect()
        }
        fn to_bytes(&self) -> Vec<u8> {
            Vec::new()
        }
    }

    fn install(fx: &mut crate::recall::test_support::Fixture, model: Option<Arc<dyn Ranker>>, n: usize) {
        let popularity = (0..n).map(|i| (format!("i{i}"), i as f32 / n as f32)).collect();
        let ranker = InteractionRanker { channels: vec!["a".into()], popularity, model };
        models_insert(fx, ranker);
    }

    fn models_insert(fx: &mut crate::recall::test_support::Fixture, ranker: InteractionRanker) {
        use crate::learned::Trained;
        Arc::new(ranker).install(NAME, "v1", &mut fx.models, None);
    }

    #[tokio::test]
    async fn the_learned_order_heads_the_top_candidates_and_the_rest_keep_their_recall_order() {
        let n = DEPTH + 3;
        let mut fx = fixture(n);
        let schema = FeatureSchema {
            numeric_names: feature_names(&["a".to_owned()]),
            categorical_names: vec![],
            cardinalities: vec![],
        };
        install(&mut fx, Some(Arc::new(ByPopularity(schema))), n);
        // Recall prefers low ids; popularity high ids.
        let rows: Vec<(f64, &[(&str, f64)])> = (0..n).map(|i| ((n - i) as f64, &[][..])).collect();
        let mut list = candidates(&fx, &rows);
        Interaction.rank(&fx.ctx(), &mut list).await.unwrap();
        let ranked = order(&list);
        // The top DEPTH by recall (i0..i99) in popularity order, highest first…
        assert_eq!(ranked[0], format!("i{}", DEPTH - 1));
        assert_eq!(ranked[DEPTH - 1], "i0");
        // …then the three the learner did not score, in recall order.
        assert_eq!(&ranked[DEPTH..], [format!("i{DEPTH}"), format!("i{}", DEPTH + 1), format!("i{}", DEPTH + 2)]);
        assert!(list.iter().all(|c| c.score > 0.0 && c.score < 2.0));
    }

    #[tokio::test]
    async fn without_a_model_or_with_one_that_did_not_help_the_recall_order_stays() {
        for with_model in [false, true] {
            let mut fx = fixture(4);
            if with_model {
                install(&mut fx, None, 4);
            }
            let mut list = candidates(&fx, &[(0.2, &[]), (0.8, &[]), (0.4, &[]), (0.0, &[])]);
            Interaction.rank(&fx.ctx(), &mut list).await.unwrap();
            assert_eq!(order(&list), ["i1", "i2", "i0", "i3"]);
            assert_eq!(list[1].score, 1.0);
        }
    }

    #[test]
    fn it_takes_no_parameters() {
        let config = crate::recall::test_support::dummy();
        assert!(build(&Value::Null, &config).is_ok());
        assert!(build(&serde_json::json!({}), &config).is_ok());
        let error = build(&serde_json::json!({"depth": 10}), &config).err().unwrap();
        assert!(error.message.contains("depth"), "{error:?}");
    }
}
