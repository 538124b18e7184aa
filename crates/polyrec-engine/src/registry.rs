//! The strategy registry: an explicit list, one line per strategy.

use polyrec_core::{FieldError, ScenarioConfig};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::pipeline::{Rank, Recall, Rerank};
use crate::{rank, recall, rerank};

type Build<T> = fn(&Value, &ScenarioConfig) -> Result<Box<T>, BuildError>;

pub struct Entry<T: ?Sized> {
    pub name: &'static str,
    pub summary: &'static str,
    pub build: Build<T>,
}

pub static RECALL: &[Entry<dyn Recall>] = &[
    Entry {
        name: "hot_items",
        summary: "hottest items of the last hour (stream job)",
        build: recall::hot_items::build,
    },
    Entry { name: "hot_news", summary: "hot items weighted by freshness", build: recall::hot_news::build },
    Entry { name: "latest", summary: "newest items", build: recall::latest::build },
    Entry {
        name: "location",
        summary: "items of the request's region, and items nearest its coordinates",
        build: recall::location::build,
    },
    Entry { name: "item_cf", summary: "items similar to the user's recent items", build: recall::item_cf::build },
    Entry { name: "user_cf", summary: "items of users similar to the user", build: recall::user_cf::build },
    Entry {
        name: "content_based",
        summary: "items matching the user's categories and tags",
        build: recall::content_based::build,
    },
    Entry {
        name: "vector_search",
        summary: "nearest item vectors to the user's (trained ALS model, vector index)",
        build: recall::vector_search::build,
    },
    Entry { name: "ease", summary: "EASE item-item model over the user's history", build: recall::ease::build },
    Entry {
        name: crate::learned::dlae::NAME,
        summary: "EDLAE item-item model (EASE with dropout regularization) over the user's history",
        build: recall::ease::build_dlae,
    },
    Entry {
        name: crate::learned::sparse_ease::NAME,
        summary: "EASE over each item's strongest co-occurrence neighbours (catalogs past 20,000 items)",
        build: recall::ease::build_sparse,
    },
];

pub static RANK: &[Entry<dyn Rank>] = &[Entry {
    name: "weighted",
    summary: "weighted sum of config.features, no trained model",
    build: rank::weighted::build,
}];

/// Every rank model's name and summary: the heuristics of [`RANK`], then the learned rankers of
/// [`crate::learned::LEARNED`].
pub fn rank_models() -> Vec<(&'static str, &'static str)> {
    let learned = crate::learned::LEARNED.iter().filter(|m| m.stage() == polyrec_core::model::ModelKind::Rank);
    RANK.iter().map(|e| (e.name, e.summary)).chain(learned.map(|m| (m.name(), m.summary()))).collect()
}

pub static RERANK: &[Entry<dyn Rerank>] = &[
    Entry { name: "diversity", summary: "penalise repeats of a category", build: rerank::diversity::build },
    Entry {
        name: "mmr",
        summary: "diversity over item vectors (embeddings or ALS), maximal marginal relevance",
        build: rerank::mmr::build,
    },
    Entry { name: "freshness", summary: "decay scores with item age", build: rerank::freshness::build },
    Entry {
        name: "location_match",
        summary: "boost items at the request's location",
        build: rerank::location_match::build,
    },
    Entry {
        name: "business_rules",
        summary: "filter, boost, bury, pin by item metadata",
        build: rerank::business_rules::build,
    },
];

/// A problem building a strategy, relative to the strategy's own JSON path.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildError {
    pub sub_path: String,
    pub message: String,
    /// The name is a model this build leaves out (a cargo feature it was built without).
    pub unavailable: Option<String>,
}

impl BuildError {
    pub fn new(sub_path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { sub_path: sub_path.into(), message: message.into(), unavailable: None }
    }

    pub fn at(self, base: &str) -> FieldError {
        let path = if self.sub_path.is_empty() { base.to_owned() } else { format!("{base}.{}", self.sub_path) };
        FieldError::new(path, self.message)
    }
}

/// A finite number above zero (NaN is not).
pub fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// Strict params: unknown fields and wrong types are errors at `params`.
pub fn parse_params<P: DeserializeOwned>(params: &Value) -> Result<P, BuildError> {
    serde_path_to_error::deserialize(params.clone()).map_err(|e| {
        let path = e.path().to_string();
        let sub_path = if path.is_empty() || path == "." { "params".to_owned() } else { format!("params.{path}") };
        BuildError::new(sub_path, e.into_inner().to_string())
    })
}

fn lookup<T: ?Sized>(
    kind: &str,
    entries: &'static [Entry<T>],
    name: &str,
    params: &Value,
    config: &ScenarioConfig,
) -> Result<Box<T>, BuildError> {
    if let Some(entry) = entries.iter().find(|entry| entry.name == name) {
        return (entry.build)(params, config);
    }
    let known = entries.iter().map(|e| e.name).collect::<Vec<_>>().join(", ");
    Err(BuildError::new("name", format!("unknown {kind} `{name}`; known: {known}")))
}

pub fn build_recall(name: &str, params: &Value, config: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    lookup("recall strategy", RECALL, name, params, config)
}

pub fn build_rank(name: &str, params: &Value, config: &ScenarioConfig) -> Result<Box<dyn Rank>, BuildError> {
    if name == crate::learned::interaction_ranker::NAME {
        return rank::interaction::build(params, config);
    }
    if let Some(model) = crate::learned::named(name).filter(|m| m.stage() == polyrec_core::model::ModelKind::Rank) {
        return rank::learned::build(model, config);
    }
    lookup("rank model", RANK, name, params, config).map_err(|mut e| {
        // The rank section names its strategy in `model`, not `name`.
        if e.sub_path == "name" {
            e.sub_path = "model".into();
        }
        e
    })
}

pub fn build_rerank(name: &str, params: &Value, config: &ScenarioConfig) -> Result<Box<dyn Rerank>, BuildError> {
    lookup("rerank rule", RERANK, name, params, config)
}

/// The rank model a config names when this build leaves it out, for the summary of an error.
pub fn unavailable_names(config: &Value) -> Vec<String> {
    config
        .pointer("/rank/model")
        .and_then(Value::as_str)
        .filter(|model| !rank::learned::in_this_build(model))
        .map(str::to_owned)
        .into_iter()
        .collect()
}
