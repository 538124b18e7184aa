//! The learned models: what a training job fits, the registry versions and a scenario serves.
//! One trait, [`LearnedModel`], and one list, [`LEARNED`]: the names the API accepts, the
//! parameter checks, the training plan (what a scenario's config uses), fitting and loading
//! are all derived from it.
//!
//! **Adding a learned model** is two places: a file here implementing [`LearnedModel`] (its fit,
//! its artifact, where it goes in the scenario's snapshot), and its line in [`LEARNED`]. A
//! ranker is then a `rank.model` at once; a recall model is read by the recall strategy that
//! serves it (`models.learned::<T>(NAME)`), which is the strategy registry's extension point.

pub mod als;
pub mod ease;
mod rankers;

use std::collections::BTreeMap;
use std::sync::Arc;

use polyrec_core::model::ModelKind;
use polyrec_core::{Result, ScenarioConfig};
use polyrec_models::CtrData;
use polyrec_models::holdout::Holdout;
use polyrec_models::metrics::RankingSummary;
use polyrec_storage::{Interaction, VectorCollection, VectorIndex};
use serde_json::Value;

pub use als::Als;
pub use ease::Ease;
pub use rankers::{LearnedRanker, TrainedRanker};

use crate::ScenarioModels;
use crate::features::FeatureSpace;

/// Every learned model, the one list of them.
pub static LEARNED: &[&dyn LearnedModel] = &[&Als, &Ease, &rankers::LIGHTGBM, &rankers::DEEPFM, &rankers::WIDE_DEEP];

/// The learned model `name`, if there is one.
pub fn named(name: &str) -> Option<&'static dyn LearnedModel> {
    LEARNED.iter().copied().find(|model| model.name() == name)
}

/// The names of the learned models of `stage` (every stage: `None`).
pub fn names(stage: Option<ModelKind>) -> impl Iterator<Item = &'static str> {
    LEARNED.iter().filter(move |model| stage.is_none_or(|s| model.stage() == s)).map(|model| model.name())
}

/// A model a training job fits from a scenario's events.
pub trait LearnedModel: Send + Sync {
    fn name(&self) -> &'static str;
    /// What a strategy list says about it.
    fn summary(&self) -> &'static str;
    /// The pipeline stage it serves.
    fn stage(&self) -> ModelKind;
    /// The cargo feature this build lacks to train and serve it, if any.
    fn missing_feature(&self) -> Option<&'static str> {
        None
    }
    /// Whether `config` uses it: what a training job trains when it is not told.
    fn used_by(&self, config: &ScenarioConfig) -> bool;
    /// Checks its hyperparameters (`rank.params.model` for rankers).
    fn check_params(&self, _params: &Value) -> std::result::Result<(), String> {
        Ok(())
    }
    /// Fits it: once on a split of the data for its offline metrics, once on all for serving.
    fn fit(&self, data: &TrainingData<'_>, progress: &(dyn Fn(f64) + Sync)) -> Result<Fitted>;
    /// Reads an artifact [`Trained::to_bytes`] wrote.
    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn Trained>>;
    /// The ranker itself, when it is one (for offline evaluation, which fits it once).
    fn as_ranker(&self) -> Option<&LearnedRanker> {
        None
    }
}

/// What a model is fitted on; a model of each stage gets its stage's kind.
pub enum TrainingData<'a> {
    /// Recall: the scenario's positive interactions.
    Interactions(&'a [Interaction]),
    /// Rank: impressions in a feature space, the older ones (`train`) to fit for the metrics on
    /// the newest (`test`, with their labels), every one (`all`, in `space`) to fit for serving;
    /// `params` is `rank.params.model`.
    Impressions {
        train: &'a CtrData,
        test: &'a CtrData,
        test_labels: &'a [bool],
        all: &'a CtrData,
        space: &'a FeatureSpace,
        params: &'a Value,
    },
}

/// A fitted model, its offline metrics and the parameters it was fitted with.
pub struct Fitted {
    pub model: Arc<dyn Trained>,
    pub metrics: BTreeMap<String, f64>,
    pub params: Value,
}

/// A trained model in memory, ready to serve.
pub trait Trained: Send + Sync {
    /// The artifact the registry keeps.
    fn to_bytes(&self) -> Vec<u8>;
    /// Item vectors it serves through the vector index (ALS): dimensions, item names, factors.
    fn item_vectors(&self) -> Option<(usize, &[String], &[f32])> {
        None
    }
    /// Puts itself into a scenario's snapshot as model `name` at `version`; `vectors` is where
    /// its [`Trained::item_vectors`] were put.
    fn install(
        self: Arc<Self>,
        name: &'static str,
        version: &str,
        models: &mut ScenarioModels,
        vectors: Option<(Arc<dyn VectorIndex>, VectorCollection)>,
    );
}

/// The recall models' offline protocol: per user, this fraction of interactions held out…
pub const HOLDOUT_FRACTION: f64 = 0.2;
/// …drawn with this seed…
pub const HOLDOUT_SEED: u64 = 42;
/// …and scored at this cut-off.
pub const METRICS_K: usize = 10;

/// The recall models' split: per user, [`HOLDOUT_FRACTION`] of the interactions held out.
pub fn holdout(interactions: &[Interaction]) -> Holdout {
    Holdout::new(interactions.iter().map(|i| (i.user_id.as_str(), i.item_id.as_str())), HOLDOUT_FRACTION, HOLDOUT_SEED)
}

/// A recall model's offline metrics.
pub fn summary_metrics(summary: &RankingSummary) -> BTreeMap<String, f64> {
    let k = summary.k;
    BTreeMap::from([
        (format!("precision@{k}"), summary.precision),
        (format!("recall@{k}"), summary.recall),
        (format!("ndcg@{k}"), summary.ndcg),
        (format!("map@{k}"), summary.map),
        (format!("hit_rate@{k}"), summary.hit_rate),
        ("coverage".to_owned(), summary.coverage),
        ("test_users".to_owned(), summary.users as f64),
    ])
}

/// The interactions a recall model is fitted on, or the error that says it is the wrong stage.
fn interactions<'a>(name: &str, data: &TrainingData<'a>) -> Result<&'a [Interaction]> {
    match data {
        TrainingData::Interactions(interactions) => Ok(interactions),
        TrainingData::Impressions { .. } => Err(polyrec_core::Error::internal(format!("{name} fits on interactions"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_learned_model_has_one_name_and_loads_what_it_saves() {
        let mut seen = std::collections::HashSet::new();
        for model in LEARNED {
            assert!(seen.insert(model.name()), "{} twice", model.name());
            assert!(named(model.name()).is_some());
        }
        assert!(named("no_such_model").is_none());
        assert_eq!(names(Some(ModelKind::Recall)).collect::<Vec<_>>(), ["als", "ease"]);
    }
}
