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
pub mod dlae;
pub mod ease;
mod rankers;

use std::collections::BTreeMap;
use std::sync::Arc;

use polyrec_core::model::ModelKind;
use polyrec_core::{Error, Result, ScenarioConfig};
use polyrec_models::holdout::Holdout;
use polyrec_models::metrics::RankingSummary;
use polyrec_models::{Artifact, ArtifactError, CtrData, Interactions, Vocabulary};
use polyrec_storage::{Interaction, VectorCollection, VectorIndex};
use serde_json::Value;

pub use rankers::{LearnedRanker, TrainedRanker};

use crate::ScenarioModels;
use crate::features::FeatureSpace;

/// Every learned model, the one list of them.
pub static LEARNED: &[&dyn LearnedModel] =
    &[&als::ALS, &ease::EASE, &dlae::DLAE, &rankers::LIGHTGBM, &rankers::DEEPFM, &rankers::WIDE_DEEP];

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
    /// Its name, what a strategy list says about it, the pipeline stage it serves.
    fn about(&self) -> &About;
    fn name(&self) -> &'static str {
        self.about().name
    }
    fn summary(&self) -> &'static str {
        self.about().summary
    }
    fn stage(&self) -> ModelKind {
        self.about().stage
    }
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
    fn install(self: Arc<Self>, name: &'static str, version: &str, models: &mut ScenarioModels, vectors: Vectors);
}

/// How a model reports its progress through a fit: the fraction done, 0 to 1.
pub type Progress<'a> = &'a (dyn Fn(f64) + Sync);

/// Where a model's item vectors were put: the index and the collection.
pub type Vectors = Option<(Arc<dyn VectorIndex>, VectorCollection)>;

/// What every learned model says of itself.
pub struct About {
    pub name: &'static str,
    pub summary: &'static str,
    pub stage: ModelKind,
}

/// A recall model: fitted on the scenario's interactions, served by one recall strategy.
pub struct LearnedRecall {
    about: About,
    /// The recall strategy that serves it: a config that uses the strategy trains the model.
    strategy: &'static str,
    fit: fn(&[Interaction], Progress<'_>) -> Result<Fitted>,
    load: fn(&[u8]) -> Result<Arc<dyn Trained>>,
}

impl LearnedModel for LearnedRecall {
    fn about(&self) -> &About {
        &self.about
    }

    fn used_by(&self, config: &ScenarioConfig) -> bool {
        config.recall.strategies.iter().any(|s| s.name == self.strategy)
    }

    fn fit(&self, data: &TrainingData<'_>, progress: &(dyn Fn(f64) + Sync)) -> Result<Fitted> {
        match data {
            TrainingData::Interactions(rows) => (self.fit)(rows, progress),
            TrainingData::Impressions { .. } => Err(Error::internal(format!("{} fits on interactions", self.name()))),
        }
    }

    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn Trained>> {
        (self.load)(bytes)
    }
}

/// A recall model's fit: on the per-user split for its offline metrics (`score` ranks every
/// item for a user), then on every interaction for serving, each with the same `params`.
fn fit_recall<M: Trained + 'static, P: serde::Serialize + Copy>(
    rows: &[Interaction],
    params: P,
    fit: impl Fn(&Interactions, P, &(dyn Fn(f64) + Sync)) -> Result<M>,
    score: impl Fn(&M, &str) -> Option<Vec<f32>>,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<Fitted> {
    let holdout = holdout(rows);
    // Implicit feedback: every positive interaction is one observation.
    let all =
        Interactions::build(rows.iter().map(|i| (i.user_id.as_str(), i.item_id.as_str(), 1.0)), Vocabulary::default());
    let evaluated = fit(&holdout.train, params, &|f| progress(f / 2.0))?;
    let summary = holdout.evaluate(METRICS_K, |user| score(&evaluated, user));
    progress(0.5);
    let model = fit(&all, params, &|f| progress(0.5 + f / 2.0))?;
    let params = serde_json::to_value(params).map_err(Error::internal)?;
    Ok(Fitted { model: Arc::new(model), metrics: summary_metrics(&summary), params })
}

/// Reads an artifact of the model `name` back with its type's `from_artifact`.
fn load_artifact<M: Trained + 'static>(
    name: &str,
    bytes: &[u8],
    from_artifact: fn(&Artifact) -> std::result::Result<M, ArtifactError>,
) -> Result<Arc<dyn Trained>> {
    let corrupt = |e: ArtifactError| Error::internal(format!("artifact of {name}: {e}"));
    let artifact = Artifact::from_bytes(bytes).map_err(corrupt)?;
    Ok(Arc::new(from_artifact(&artifact).map_err(corrupt)?))
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
        assert_eq!(names(Some(ModelKind::Recall)).collect::<Vec<_>>(), ["als", "ease", "dlae"]);
    }
}
