//! `vector_search`: the items whose vectors have the largest inner product with the user's
//! vector, through the vector index (in-process HNSW, or Milvus). The user's vector comes from
//! the trained matrix-factorisation model; a user it has not seen gets the mean vector of their
//! recent items, and a user with neither gets nothing from this channel.

use async_trait::async_trait;
use polyrec_core::{Result, ScenarioConfig};
use polyrec_models::AlsParams;
use rustc_hash::FxHashMap as HashMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::learned::with_fixed;
use crate::pipeline::{Hit, Recall, RequestContext};
use crate::recall::top_eligible;
use crate::registry::{BuildError, parse_params};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorSearchConfig {
    /// How many recent items make the vector of a user the model has not seen.
    #[serde(default = "default_seeds")]
    pub seed_items: usize,
    /// ALS hyperparameters kept as given at training (`factors`, `regularization`, `alpha`,
    /// `iterations`, `cg_steps`, `seed`); the training job's search chooses the others.
    #[serde(default)]
    pub model: Option<Map<String, Value>>,
}

fn default_seeds() -> usize {
    20
}

/// The largest ALS a scenario's config may ask for (`params.model`).
pub const MAX_CONFIG_FACTORS: usize = 256;
pub const MAX_CONFIG_ITERATIONS: usize = 50;

pub struct VectorSearch {
    config: VectorSearchConfig,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    let config: VectorSearchConfig = parse_params(params)?;
    if !(1..=50).contains(&config.seed_items) {
        return Err(BuildError::new("params.seed_items", "must be between 1 and 50"));
    }
    if let Some(fixed) = &config.model {
        let params: AlsParams =
            with_fixed(&AlsParams::default(), fixed).map_err(|e| BuildError::new("params.model", e))?;
        params.validate().map_err(|e| BuildError::new("params.model", e))?;
        // A config may raise the cost of a fit, not without bound: the job holds a training slot
        // other tenants wait for.
        if params.factors > MAX_CONFIG_FACTORS {
            return Err(BuildError::new("params.model.factors", format!("must be at most {MAX_CONFIG_FACTORS}")));
        }
        if params.iterations > MAX_CONFIG_ITERATIONS {
            return Err(BuildError::new("params.model.iterations", format!("must be at most {MAX_CONFIG_ITERATIONS}")));
        }
    }
    Ok(Box::new(VectorSearch { config }))
}

#[async_trait]
impl Recall for VectorSearch {
    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<Hit>> {
        let Some(model) = ctx.models.and_then(|m| m.learned::<crate::VectorModel>(crate::learned::als::NAME)) else {
            return Ok(Vec::new());
        };
        let folded;
        let query = match model.als.user_vector(ctx.user.as_str()) {
            Some(vector) => vector,
            None => match model.als.fold_in(ctx.recent_items.iter().take(self.config.seed_items).map(String::as_str)) {
                Some(vector) => {
                    folded = vector;
                    &folded
                }
                None => return Ok(Vec::new()),
            },
        };
        // Over-fetch so that excluded and recent items do not leave the channel short.
        let want = limit + ctx.exclude.len().min(limit * 4) + ctx.recent_items.len();
        let found = model.index.search(&model.collection, query, want).await?;
        let ids: Vec<String> = found.iter().map(|(id, _)| id.clone()).collect();
        let scores: HashMap<usize, f64> = found.iter().enumerate().map(|(i, (_, s))| (i, *s as f64)).collect();
        Ok(top_eligible(ctx, scores, limit, |i| ids[i].as_str()))
    }
}
