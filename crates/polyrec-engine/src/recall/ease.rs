//! `ease` and `dlae`: items scored by the EASE item × item model (Steck 2019), or its EDLAE
//! variant (Steck 2020), from everything the user took — their training history in the model
//! plus their recent items — so a click changes the next answer. Users with neither get nothing
//! from this channel.

use async_trait::async_trait;
use polyrec_core::{Result, ScenarioConfig};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Hit, Recall, RequestContext};
use crate::recall::top_eligible;
use crate::registry::{BuildError, parse_params};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EaseConfig {}

/// Serves the item × item model the snapshot holds under `model`.
pub struct Ease {
    model: &'static str,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    let _: EaseConfig = parse_params(params)?;
    Ok(Box::new(Ease { model: crate::learned::ease::NAME }))
}

pub fn build_dlae(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    let _: EaseConfig = parse_params(params)?;
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
