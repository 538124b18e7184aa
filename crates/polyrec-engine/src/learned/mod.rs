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
pub mod blend;
pub mod dlae;
pub mod ease;
pub mod interaction_ranker;
pub mod item_cf;
mod rankers;
pub mod sparse_ease;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use polyrec_core::model::ModelKind;
use polyrec_core::{Code, Error, Result, ScenarioConfig};
use polyrec_models::holdout::Holdout;
use polyrec_models::metrics::RankingSummary;
use polyrec_models::{Artifact, ArtifactError, CtrData, Interactions, Vocabulary};
use polyrec_storage::{Interaction, VectorCollection, VectorIndex};
use serde_json::{Map, Value};

pub use rankers::{LearnedRanker, TrainedRanker};

use crate::ScenarioModels;
use crate::features::FeatureSpace;

/// Every learned model, the one list of them.
pub static LEARNED: &[&dyn LearnedModel] = &[
    &als::ALS,
    &ease::EASE,
    &dlae::DLAE,
    &sparse_ease::SPARSE_EASE,
    &item_cf::ITEM_CF,
    &blend::BLEND,
    &interaction_ranker::INTERACTION_RANKER,
    &rankers::LIGHTGBM,
    &rankers::DEEPFM,
    &rankers::WIDE_DEEP,
];

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
    /// The hyperparameters `config` sets for it (a recall channel's `params.model`): kept as
    /// given, the search choosing the others.
    fn configured<'c>(&self, _config: &'c ScenarioConfig) -> Option<&'c Map<String, Value>> {
        None
    }
    /// Checks its hyperparameters (`rank.params.model` for rankers).
    fn check_params(&self, _params: &Value) -> std::result::Result<(), String> {
        Ok(())
    }
    /// Fits it: once on a split of the data for its offline metrics, once on all for serving.
    fn fit(&self, data: &TrainingData<'_>, progress: &(dyn Fn(f64) + Sync)) -> Result<Fitted>;
    /// Reads an artifact [`Trained::to_bytes`] wrote.
    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn Trained>>;
    /// Whether it is fitted on the recall stage's candidates for a validation split
    /// ([`TrainingData::Blend`]): after the recall models, which it refits.
    fn fits_on_candidates(&self) -> bool {
        false
    }
    /// The impression-trained ranker itself, when it is one (for offline evaluation, which fits
    /// it once).
    fn as_ranker(&self) -> Option<&LearnedRanker> {
        None
    }
}

/// What a model is fitted on; a model of each stage gets its stage's kind.
pub enum TrainingData<'a> {
    /// Recall: the scenario's positive interactions, and how the parameters are chosen.
    Interactions { rows: &'a [Interaction], tuning: Tuning<'a> },
    /// The models fitted on the recall stage's candidates (the blend of the `"auto"` channels,
    /// the interaction ranker): the interactions, the config, the catalog and the parameters
    /// each learned recall model was fitted with (registry `config.params`, by name).
    Blend {
        rows: &'a [Interaction],
        config: &'a ScenarioConfig,
        catalog: &'a crate::Catalog,
        params: &'a BTreeMap<String, Value>,
        now_ms: i64,
    },
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
    fit: fn(&[Interaction], Tuning<'_>, Progress<'_>) -> Result<Fitted>,
    load: fn(&[u8]) -> Result<Arc<dyn Trained>>,
}

impl LearnedModel for LearnedRecall {
    fn about(&self) -> &About {
        &self.about
    }

    fn used_by(&self, config: &ScenarioConfig) -> bool {
        config.recall.strategies.iter().any(|s| s.name == self.strategy)
    }

    fn configured<'c>(&self, config: &'c ScenarioConfig) -> Option<&'c Map<String, Value>> {
        let channel = config.recall.strategies.iter().find(|s| s.name == self.strategy)?;
        channel.params.get("model")?.as_object()
    }

    fn fit(&self, data: &TrainingData<'_>, progress: &(dyn Fn(f64) + Sync)) -> Result<Fitted> {
        match data {
            TrainingData::Interactions { rows, tuning } => (self.fit)(rows, *tuning, progress),
            _ => Err(Error::internal(format!("{} fits on interactions", self.name()))),
        }
    }

    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn Trained>> {
        (self.load)(bytes)
    }
}

/// How a recall model's parameters are chosen at a fit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tuning<'a> {
    /// The fields the scenario's config sets (the channel's `params.model`): every candidate
    /// has them as given, so the search runs over the others only.
    pub fixed: Option<&'a Map<String, Value>>,
    /// Parameters a previous version chose (its registry `config.params`): fitted again without
    /// a search (the schedule's rounds, `POST …/jobs/cf`).
    pub reuse: Option<&'a Value>,
    /// How long the search may take (the first candidate, the defaults, always runs); `None` or
    /// zero fits the defaults.
    pub budget: Option<Duration>,
    /// Fit once on every row, without the holdout fit and its metrics (the blend's refits on its
    /// own validation split).
    pub unmeasured: bool,
}

/// `base` with the fields of `fixed` set as given (a config's `params.model` over a model's
/// parameters); an unknown field or a wrong type is an error.
pub fn with_fixed<P: serde::Serialize + serde::de::DeserializeOwned>(
    base: &P,
    fixed: &Map<String, Value>,
) -> std::result::Result<P, String> {
    let mut value = serde_json::to_value(base).map_err(|e| e.to_string())?;
    if let Value::Object(fields) = &mut value {
        fields.extend(fixed.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." { e.into_inner().to_string() } else { format!("{path}: {}", e.into_inner()) }
    })
}

/// A recall model's fit: its parameters chosen among `candidates` on a validation split of the
/// training part (`polyrec_models::tune`) when `tuning` has a budget, else a previous version's
/// or the first candidate's (the defaults); then fitted on the per-user split for its offline
/// metrics, then on every interaction for serving. The chosen parameters, with how they were
/// chosen (`tuning`: the search's trials and their validation NDCG), are what the registry
/// records.
fn fit_recall<M: Trained + 'static, P: serde::Serialize + serde::de::DeserializeOwned + Clone>(
    rows: &[Interaction],
    tuning: Tuning<'_>,
    candidates: Vec<P>,
    fit: impl Fn(&Interactions, P, &(dyn Fn(f64) + Sync)) -> Result<M>,
    score: impl Fn(&M, &str) -> Option<Vec<f32>>,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<Fitted> {
    fit_recall_serving(rows, tuning, candidates, &fit, |all, params, report| fit(all, params, report), score, progress)
}

/// [`fit_recall`] where what serves is made by `serve` from every interaction and the chosen
/// parameters, instead of `fit` (a model whose artifact is its parameters: `item_cf`).
fn fit_recall_serving<M: Trained + 'static, S: Trained + 'static, P>(
    rows: &[Interaction],
    tuning: Tuning<'_>,
    candidates: Vec<P>,
    fit: impl Fn(&Interactions, P, &(dyn Fn(f64) + Sync)) -> Result<M>,
    serve: impl FnOnce(&Interactions, P, &(dyn Fn(f64) + Sync)) -> Result<S>,
    score: impl Fn(&M, &str) -> Option<Vec<f32>>,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<Fitted>
where
    P: serde::Serialize + serde::de::DeserializeOwned + Clone,
{
    let invalid = |e: String| Error::invalid(Code::InvalidConfig, format!("recall model parameters: {e}"));
    // The config's fields over every candidate; candidates that become equal are tried once.
    let mut distinct = Vec::with_capacity(candidates.len());
    let mut seen = std::collections::HashSet::new();
    for candidate in &candidates {
        let candidate = match tuning.fixed {
            Some(fixed) => with_fixed(candidate, fixed).map_err(invalid)?,
            None => candidate.clone(),
        };
        if seen.insert(serde_json::to_string(&candidate).map_err(Error::internal)?) {
            distinct.push(candidate);
        }
    }
    let candidates = distinct;
    // The per-user split, for the search and the metrics; built once, when either needs it.
    let split = std::cell::OnceCell::new();
    let holdout = || split.get_or_init(|| holdout(rows));
    // Implicit feedback: every positive interaction is one observation.
    let all =
        Interactions::build(rows.iter().map(|i| (i.user_id.as_str(), i.item_id.as_str(), 1.0)), Vocabulary::default());
    let reused = tuning.reuse.and_then(|recorded| {
        let mut recorded = recorded.clone();
        if let Value::Object(fields) = &mut recorded {
            fields.remove("tuning");
            fields.extend(tuning.fixed.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
        }
        serde_json::from_value::<P>(recorded).ok()
    });
    let budget = tuning.budget.filter(|b| !b.is_zero() && candidates.len() > 1);
    let (params, how, offset) = match (reused, budget) {
        (Some(params), _) => (params, serde_json::json!({"reused": true}), 0.0),
        (None, None) => (candidates[0].clone(), serde_json::json!({"searched": false}), 0.0),
        (None, Some(budget)) => {
            let tried = std::sync::atomic::AtomicUsize::new(0);
            let search = polyrec_models::tune::search(
                &holdout().train,
                &candidates,
                budget,
                |matrix, params| {
                    let done = tried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    progress(0.6 * done as f64 / candidates.len() as f64);
                    fit(matrix, params.clone(), &|_| {})
                },
                &score,
            );
            let how = serde_json::json!({
                "trials": search.trials,
                "skipped": search.skipped,
                "budget_seconds": search.budget_seconds,
                "validation": {"fraction": polyrec_models::tune::VALIDATION_FRACTION,
                               "seed": polyrec_models::tune::VALIDATION_SEED,
                               "metric": format!("ndcg@{}", polyrec_models::tune::VALIDATION_K)},
            });
            (search.chosen, how, 0.6)
        }
    };
    let (metrics, offset) = if tuning.unmeasured {
        (BTreeMap::new(), offset)
    } else {
        let share = (1.0 - offset) / 2.0;
        let evaluated = fit(&holdout().train, params.clone(), &|f| progress(offset + f * share))?;
        let summary = holdout().evaluate(METRICS_K, |user| score(&evaluated, user));
        progress(offset + share);
        (summary_metrics(&summary), offset + share)
    };
    let model = serve(&all, params.clone(), &|f| progress(offset + f * (1.0 - offset)))?;
    let mut recorded = serde_json::to_value(params).map_err(Error::internal)?;
    if let Value::Object(fields) = &mut recorded {
        let mut how = how;
        if let Some(fixed) = tuning.fixed.filter(|f| !f.is_empty()) {
            how["fixed"] = serde_json::json!(fixed.keys().collect::<Vec<_>>());
        }
        fields.insert("tuning".to_owned(), how);
    }
    Ok(Fitted { model: Arc::new(model), metrics, params: recorded })
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
        // The blend comes after the recall models it weighs: a job trains in this order.
        assert_eq!(
            names(Some(ModelKind::Recall)).collect::<Vec<_>>(),
            ["als", "ease", "dlae", "sparse_ease", "item_cf", "blend"]
        );
    }

    #[test]
    fn configured_fields_are_kept_over_every_candidate_and_checked() {
        let fixed = serde_json::json!({"factors": 8}).as_object().unwrap().clone();
        let params: polyrec_models::AlsParams = with_fixed(&polyrec_models::AlsParams::default(), &fixed).unwrap();
        assert_eq!((params.factors, params.iterations), (8, 15));
        let wrong = serde_json::json!({"factor": 8}).as_object().unwrap().clone();
        let error = with_fixed(&polyrec_models::AlsParams::default(), &wrong).unwrap_err();
        assert!(error.contains("factor"), "{error}");
        let typed = serde_json::json!({"factors": "eight"}).as_object().unwrap().clone();
        let error = with_fixed(&polyrec_models::AlsParams::default(), &typed).unwrap_err();
        assert!(error.starts_with("factors"), "{error}");
    }
}
