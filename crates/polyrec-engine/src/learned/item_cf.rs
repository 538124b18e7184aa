//! `item_cf`'s neighbours, tuned: how many neighbours each item and user keeps and the
//! shrinkage of the item–item cosine are chosen on a validation split, as every recall model's
//! parameters are, and recorded as a registry version. The neighbours themselves are not the
//! artifact: every serving process rebuilds them from the warehouse as events arrive
//! ([`crate::CfModel`], the training worker's `refresh_neighbours`), with the parameters of the
//! serving version of this model (the defaults until one is trained). The artifact is those
//! parameters.
//!
//! The search fits on the validation split's interaction matrix, where every interaction weighs
//! what its cell holds and all are equally recent; the served neighbours see the events'
//! weights and recency. Only the two parameters that shape quality are searched; the bounds
//! that cap the cost (items per user, users per item, …) stay as the config gives them.

use std::sync::Arc;

use polyrec_core::model::ModelKind;
use polyrec_core::{Error, ScenarioConfig};
use polyrec_models::{Interactions, Vocabulary};
use serde_json::{Map, Value};

use super::{About, LearnedModel, LearnedRecall, Trained, Vectors, fit_recall_serving};
use crate::ScenarioModels;
use crate::cf::{CfModel, CfParams};

/// The model's name (and the strategy whose neighbours it tunes).
pub const NAME: &str = "item_cf";

/// The neighbours' parameters and, when fitted in this process, the neighbours it scored.
pub struct CfChoice {
    pub params: CfParams,
    /// The model the fit scored with and the matrix's items (a search's candidate, the offline
    /// metrics' fit); `None` when loaded from the registry.
    fitted: Option<(CfModel, Vocabulary)>,
}

pub const ITEM_CF: LearnedRecall = LearnedRecall {
    about: About {
        name: NAME,
        summary: "item_cf and user_cf neighbours' parameters (neighbours kept, shrinkage) chosen on a validation \
                  split; every serving process builds the neighbours from the events with them",
        stage: ModelKind::Recall,
    },
    strategy: NAME,
    fit: |rows, tuning, progress| {
        let fit = |matrix: &Interactions, params: CfParams, _: &(dyn Fn(f64) + Sync)| {
            params
                .validate()
                .map_err(|e| Error::invalid(polyrec_core::Code::InvalidConfig, format!("item_cf: {e}")))?;
            let model = CfModel::train_matrix(matrix, params);
            Ok(CfChoice { params, fitted: Some((model, matrix.items.clone())) })
        };
        let score = |choice: &CfChoice, user: &str| {
            let (model, items) = choice.fitted.as_ref()?;
            model.history_scores(items, user)
        };
        // What serves is the parameters: every process builds the neighbours from the events.
        let serve =
            |_: &Interactions, params: CfParams, _: &(dyn Fn(f64) + Sync)| Ok(CfChoice { params, fitted: None });
        fit_recall_serving(rows, tuning, CfParams::default().candidates(), fit, serve, score, progress)
    },
    load: |bytes| {
        let params: CfParams =
            serde_json::from_slice(bytes).map_err(|e| Error::internal(format!("artifact of {NAME}: {e}")))?;
        Ok(Arc::new(CfChoice { params, fitted: None }))
    },
};

impl Trained for CfChoice {
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.params).expect("CF parameters serialize")
    }

    fn install(self: Arc<Self>, name: &'static str, version: &str, models: &mut ScenarioModels, _: Vectors) {
        models.cf_params = Some(self.params);
        models.versions.insert(name.to_owned(), version.to_owned());
    }
}

/// The `params.model` of a config's `item_cf` channel, if it sets one.
pub fn configured(config: &ScenarioConfig) -> Option<&Map<String, Value>> {
    ITEM_CF.configured(config)
}

/// The neighbours' parameters for a scenario: the serving version's, else the config's fields
/// over the defaults, else the defaults.
pub fn params_for(models: Option<&ScenarioModels>, config: Option<&ScenarioConfig>) -> CfParams {
    if let Some(params) = models.and_then(|m| m.cf_params) {
        return params;
    }
    config
        .and_then(configured)
        .and_then(|fixed| super::with_fixed(&CfParams::default(), fixed).ok())
        .unwrap_or_default()
}

/// The parameters a training data set recorded for the neighbours (a job's `params` by model
/// name), else the defaults.
pub fn recorded(params: Option<&Value>) -> CfParams {
    let Some(Value::Object(fields)) = params else { return CfParams::default() };
    let mut fields = fields.clone();
    fields.remove("tuning");
    serde_json::from_value(Value::Object(fields)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learned::TrainingData;
    use polyrec_storage::Interaction;

    /// Two groups of users, each taking most of its own group's items.
    fn rows() -> Vec<Interaction> {
        let mut rows = Vec::new();
        for user in 0..60 {
            let group = user % 2;
            for item in 0..20 {
                if (item + user) % 4 != 0 {
                    rows.push(Interaction {
                        user_id: format!("u{user}"),
                        item_id: format!("g{group}i{item}"),
                        weight: 1.0,
                        last_ms: item as i64,
                    });
                }
            }
        }
        rows
    }

    #[test]
    fn a_search_records_its_trials_and_the_artifact_is_the_chosen_parameters() {
        let rows = rows();
        let tuning = super::super::Tuning { budget: Some(std::time::Duration::from_secs(60)), ..Default::default() };
        let fitted = ITEM_CF.fit(&TrainingData::Interactions { rows: &rows, tuning }, &|_| {}).unwrap();
        let trials = fitted.params["tuning"]["trials"].as_array().unwrap();
        assert_eq!(trials.len(), CfParams::default().candidates().len(), "{}", fitted.params);
        assert!(trials.iter().all(|t| t["ndcg"].as_f64().is_some_and(|n| n > 0.0)), "{trials:?}");
        assert!(fitted.metrics["ndcg@10"] > 0.0, "{:?}", fitted.metrics);
        let loaded = ITEM_CF.load(&fitted.model.to_bytes()).unwrap();
        let mut models = ScenarioModels::default();
        loaded.install(NAME, "v1", &mut models, None);
        assert_eq!(serde_json::to_value(models.cf_params.unwrap()).unwrap()["neighbors"], fitted.params["neighbors"]);
        assert_eq!(models.versions[NAME], "v1");
    }

    #[test]
    fn fields_the_config_sets_are_kept_and_bad_ones_refused() {
        let rows = rows();
        let fixed = serde_json::json!({"neighbors": 7}).as_object().unwrap().clone();
        let tuning = super::super::Tuning {
            fixed: Some(&fixed),
            budget: Some(std::time::Duration::from_secs(60)),
            ..Default::default()
        };
        let fitted = ITEM_CF.fit(&TrainingData::Interactions { rows: &rows, tuning }, &|_| {}).unwrap();
        assert_eq!(fitted.params["neighbors"], 7);
        let trials = fitted.params["tuning"]["trials"].as_array().unwrap();
        assert!(trials.iter().all(|t| t["params"]["neighbors"] == 7), "{trials:?}");
        let zero = serde_json::json!({"neighbors": 0}).as_object().unwrap().clone();
        let tuning = super::super::Tuning { fixed: Some(&zero), ..Default::default() };
        let error = ITEM_CF.fit(&TrainingData::Interactions { rows: &rows, tuning }, &|_| {}).err().unwrap();
        assert!(error.to_string().contains("neighbors"), "{error}");
    }

    #[test]
    fn the_parameters_come_from_the_serving_version_then_the_config_then_the_defaults() {
        let config: ScenarioConfig = serde_json::from_value(serde_json::json!({
            "recall": {"strategies": [{"name": "item_cf", "weight": 1.0, "limit": 10,
                                       "params": {"model": {"shrink": 25.0}}}]},
            "rank": {"model": "weighted"}
        }))
        .unwrap();
        assert_eq!(params_for(None, None), CfParams::default());
        assert_eq!(params_for(None, Some(&config)).shrink, 25.0);
        let models = ScenarioModels {
            cf_params: Some(CfParams { neighbors: 11, ..CfParams::default() }),
            ..ScenarioModels::default()
        };
        assert_eq!(params_for(Some(&models), Some(&config)).neighbors, 11);
        let recorded_params = serde_json::json!({"neighbors": 30, "shrink": 5.0, "items_per_user": 500,
            "users_per_item": 1000, "user_items": 50, "user_recs": 300, "tuning": {"searched": false}});
        assert_eq!(recorded(Some(&recorded_params)).neighbors, 30);
        assert_eq!(recorded(None), CfParams::default());
    }
}
