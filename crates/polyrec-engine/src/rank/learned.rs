//! `lightgbm`, `deepfm`, `wide_deep`: rankers trained from the scenario's impressions (a training
//! job, `rank.objective` choosing the label) and served from the scenario's model snapshot. The
//! candidates are scored in one batch: each becomes a row of the model's [`FeatureSpace`], and
//! the model's output (a probability for the binary objectives) is the rank score.
//!
//! Which version serves: `rank.version` when the config pins one, else the registry's active
//! version. Until that version is loaded (no training yet, or a pin on a version that is not
//! loaded), candidates keep their recall order and `explain` shows `rank_model: "none"`.

use std::sync::Arc;

use async_trait::async_trait;
use polyrec_core::{Error, Result, ScenarioConfig};
use polyrec_models::rank::Ranker;

use crate::learned::LearnedModel;
use serde::Deserialize;
use serde_json::Value;

use crate::features::FeatureSpace;
use crate::pipeline::{Candidate, Rank, RequestContext};
use crate::registry::{BuildError, parse_params};

/// A trained ranker in a scenario's model snapshot.
#[derive(Clone)]
pub struct RankerModel {
    pub name: String,
    pub version: String,
    pub model: Arc<dyn Ranker>,
    pub space: Arc<FeatureSpace>,
}

/// The objectives of `rank.objective`, which pick the training label.
pub const OBJECTIVES: &[&str] = &["click_rate", "watch_time", "conversion"];

/// `rank.params` of the learned rankers: what training uses (the model's own hyperparameters,
/// and the label thresholds).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedParams {
    /// `watch_time`: a play/view/read worth at least this many seconds is a positive.
    #[serde(default = "default_min_watch")]
    pub min_watch_seconds: f64,
    /// How long after an impression a click (or order) still counts for it, in hours.
    #[serde(default = "default_label_window")]
    pub label_window_hours: f64,
    /// The model's hyperparameters (LightGBM or the deep models' own names).
    #[serde(default)]
    pub model: Value,
}

fn default_min_watch() -> f64 {
    10.0
}

fn default_label_window() -> f64 {
    24.0
}

pub struct Learned {
    name: &'static str,
    pinned: Option<String>,
}

pub fn params(config: &ScenarioConfig) -> Result<LearnedParams, BuildError> {
    let params: LearnedParams = parse_params(&config.rank.params)?;
    if !(params.min_watch_seconds.is_finite() && params.min_watch_seconds >= 0.0) {
        return Err(BuildError::new("params.min_watch_seconds", "must be a number >= 0"));
    }
    if !(params.label_window_hours.is_finite() && params.label_window_hours > 0.0) {
        return Err(BuildError::new("params.label_window_hours", "must be > 0"));
    }
    if let Some(objective) = &config.rank.objective
        && !OBJECTIVES.contains(&objective.as_str())
    {
        return Err(BuildError::new(
            "objective",
            format!("unknown objective `{objective}`; known: {}", OBJECTIVES.join(", ")),
        ));
    }
    Ok(params)
}

/// Whether this build serves the model `name`: every one but a learned model whose cargo feature
/// it lacks (LightGBM is a C++ build behind one).
pub fn in_this_build(name: &str) -> bool {
    crate::learned::named(name).is_none_or(|model| model.missing_feature().is_none())
}

/// The rank strategy of a learned ranker: checks `rank.params` (the label thresholds, and the
/// model's own hyperparameters), and that this build has the model.
pub fn build(model: &dyn LearnedModel, config: &ScenarioConfig) -> Result<Box<dyn Rank>, BuildError> {
    let learned = params(config)?;
    model.check_params(&learned.model).map_err(|message| BuildError::new("params.model", message))?;
    if let Some(feature) = model.missing_feature() {
        let name = model.name();
        let mut error = BuildError::new(
            "model",
            format!(
                "rank model `{name}` is not in this build; build polyrec with `cargo build --release --features \
                 {feature}` (it needs cmake >= 3.28 and libclang; see the README) or run the \
                 Docker image, which has it"
            ),
        );
        error.unavailable = Some(name.to_owned());
        return Err(error);
    }
    Ok(Box::new(Learned { name: model.name(), pinned: config.rank.version.clone() }))
}

/// Scores `items` with a loaded ranker: one row of its feature space per item.
pub fn score_items<'a>(
    model: &RankerModel,
    items: impl Iterator<Item = &'a polyrec_core::Item>,
    profile: Option<&polyrec_core::UserProfile>,
    context: &serde_json::Map<String, Value>,
    now_ms: i64,
) -> Result<Vec<f32>> {
    let mut data = model.space.empty_data();
    model
        .space
        .push_items(&mut data, items, profile, context, now_ms)
        .map_err(|e| Error::internal(format!("rank features: {e}")))?;
    model.model.try_predict(&data).map_err(|e| Error::internal(format!("{}: {e}", model.name)))
}

#[async_trait]
impl Rank for Learned {
    async fn rank(&self, ctx: &RequestContext<'_>, candidates: &mut [Candidate]) -> Result<()> {
        let scores = match ctx.ranking {
            Some(service) => {
                let ids: Vec<&str> = candidates.iter().map(|c| c.item_id()).collect();
                service.score(ctx, self.name, self.pinned.as_deref(), &ids).await?
            }
            None => {
                let model = ctx.models.and_then(|m| m.ranker.as_ref()).filter(|r| {
                    r.name == self.name
                        && self.pinned.as_ref().is_none_or(|pin| polyrec_core::model::same_version(pin, &r.version))
                });
                match model {
                    Some(model) => Some(score_items(
                        model,
                        candidates.iter().map(|c| &*c.item),
                        ctx.profile,
                        ctx.context,
                        ctx.now_ms,
                    )?),
                    None => None,
                }
            }
        };
        let Some(scores) = scores else {
            for candidate in candidates.iter_mut() {
                candidate.rank_score = candidate.recall_score;
                candidate.score = candidate.recall_score;
            }
            return Ok(());
        };
        if scores.len() != candidates.len() {
            return Err(Error::internal(format!(
                "{}: {} scores for {} candidates",
                self.name,
                scores.len(),
                candidates.len()
            )));
        }
        for (candidate, score) in candidates.iter_mut().zip(scores) {
            candidate.rank_score = score as f64;
            candidate.score = score as f64;
        }
        Ok(())
    }
}
