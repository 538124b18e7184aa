//! `ease` and `dlae`: items scored by the EASE item × item model (Steck 2019), or its EDLAE
//! variant (Steck 2020), from everything the user took — their training history in the model
//! plus their recent items — so a click changes the next answer. Users with neither get nothing
//! from this channel.

use async_trait::async_trait;
use polyrec_core::{Result, ScenarioConfig};
use polyrec_models::{EaseParams, SparseEaseModel, SparseEaseParams};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::learned::with_fixed;
use crate::pipeline::{Hit, Recall, RequestContext};
use crate::recall::top_eligible;
use crate::registry::{BuildError, parse_params, positive};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EaseConfig {
    /// Hyperparameters kept as given at training (`lambda`, `dropout`, `max_items`); the
    /// training job's search chooses the others.
    #[serde(default)]
    pub model: Option<Map<String, Value>>,
}

/// Checks a channel's `params.model` over the model's defaults `base`.
fn check_model(config: &EaseConfig, base: EaseParams) -> Result<(), BuildError> {
    let Some(fixed) = &config.model else { return Ok(()) };
    let params: EaseParams = with_fixed(&base, fixed).map_err(|e| BuildError::new("params.model", e))?;
    if !positive(params.lambda) {
        return Err(BuildError::new("params.model.lambda", "must be a number > 0"));
    }
    if !(0.0..1.0).contains(&params.dropout) {
        return Err(BuildError::new("params.model.dropout", "must be at least 0 and below 1"));
    }
    // The fit's peak is about 23 bytes × items² (9.4 GB at the default cap): a tenant may lower
    // the cap, not raise it.
    let most = EaseParams::default().max_items;
    if !(1..=most).contains(&params.max_items) {
        return Err(BuildError::new(
            "params.model.max_items",
            format!("must be between 1 and {most} (the fit's peak is about 23 bytes × items²)"),
        ));
    }
    Ok(())
}

/// Serves the item × item model the snapshot holds under `model`.
pub struct Ease {
    model: &'static str,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    check_model(&parse_params(params)?, EaseParams::default())?;
    Ok(Box::new(Ease { model: crate::learned::ease::NAME }))
}

/// `sparse_ease`: `params.model` holds the model's `lambda`, `dropout`, `neighbors` and
/// `max_user_items`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SparseEaseConfig {
    #[serde(default)]
    pub model: Option<Map<String, Value>>,
}

pub fn build_sparse(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    let config: SparseEaseConfig = parse_params(params)?;
    if let Some(fixed) = &config.model {
        let params: SparseEaseParams =
            with_fixed(&SparseEaseParams::default(), fixed).map_err(|e| BuildError::new("params.model", e))?;
        params.validate().map_err(|e| BuildError::new("params.model", e))?;
    }
    Ok(Box::new(SparseEase))
}

/// Serves the sparse EASE model of the snapshot.
pub struct SparseEase;

#[async_trait]
impl Recall for SparseEase {
    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<Hit>> {
        let Some(model) = ctx.models.and_then(|m| m.learned::<SparseEaseModel>(crate::learned::sparse_ease::NAME))
        else {
            return Ok(Vec::new());
        };
        let mut taken: HashSet<u32> = model.history(ctx.user.as_str()).iter().copied().collect();
        taken.extend(ctx.recent_items.iter().filter_map(|item| model.items.get(item)));
        let by_index: HashMap<u32, f64> = model
            .score_sparse(taken.iter().copied())
            .into_iter()
            .map(|(i, score)| (i, score as f64))
            .filter(|&(i, score)| score > 0.0 && !taken.contains(&i))
            .collect();
        Ok(top_eligible(ctx, by_index, limit, |i| model.items.name(i)))
    }
}

pub fn build_dlae(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    check_model(&parse_params(params)?, EaseParams::dlae())?;
    Ok(Box::new(Ease { model: crate::learned::dlae::NAME }))
}

#[async_trait]
impl Recall for Ease {
    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<Hit>> {
        let Some(model) = ctx.models.and_then(|m| m.learned::<polyrec_models::EaseModel>(self.model)) else {
            return Ok(Vec::new());
        };
        let mut taken: HashSet<u32> = model.history(ctx.user.as_str()).iter().copied().collect();
        taken.extend(ctx.recent_items.iter().filter_map(|item| model.items.get(item)));
        if taken.is_empty() {
            return Ok(Vec::new());
        }
        let scores = model.score(taken.iter().copied());
        let by_index: HashMap<u32, f64> = scores
            .into_iter()
            .enumerate()
            .map(|(i, score)| (i as u32, score as f64))
            .filter(|&(i, score)| score > 0.0 && !taken.contains(&i))
            .collect();
        Ok(top_eligible(ctx, by_index, limit, |i| model.items.name(i)))
    }
}
