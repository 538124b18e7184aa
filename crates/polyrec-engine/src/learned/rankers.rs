//! The learned rankers (`lightgbm`, `deepfm`, `wide_deep`): fitted on a scenario's impressions
//! in a [`FeatureSpace`], served as the scenario's `rank.model`. Their artifact is the feature
//! space (its JSON's length in 8 bytes little endian, then the JSON) followed by the ranker's own.

use std::sync::Arc;

use polyrec_core::model::ModelKind;
use polyrec_core::{Code, Error, Result, ScenarioConfig};
use polyrec_models::rank::{RankError, Ranker};
use polyrec_models::{Artifact, CtrData};
use serde::de::DeserializeOwned;
use serde_json::Value;

use polyrec_models::rank::deep::{DeepFm, DeepParams, WideDeep};

use super::{About, Fitted, LearnedModel, Trained, TrainingData, Vectors};
use crate::ScenarioModels;
use crate::features::FeatureSpace;
use crate::rank::learned::RankerModel;

/// LightGBM's name, whether or not this build has it.
const LIGHTGBM_NAME: &str = "lightgbm";

type Fit = fn(&CtrData, &Value, &dyn Fn(f32)) -> std::result::Result<Box<dyn Ranker>, RankError>;
type Load = fn(&[u8]) -> std::result::Result<Box<dyn Ranker>, RankError>;
type Check = fn(&Value) -> std::result::Result<(), String>;

/// One learned ranker: its name and its model type's fit, load and parameter check.
pub struct LearnedRanker {
    about: About,
    /// The cargo feature this build lacks for it.
    missing: Option<&'static str>,
    fit: Fit,
    load: Load,
    check: Check,
}

fn params<P: DeserializeOwned>(params: &Value) -> std::result::Result<P, RankError> {
    let params = if params.is_null() { Value::Object(Default::default()) } else { params.clone() };
    serde_json::from_value(params).map_err(|e| RankError::InvalidParams(format!("rank.params.model: {e}")))
}

/// A ranker of `$model`, fitted with its `$params` through `$fit`.
macro_rules! ranker {
    ($name:expr, $summary:literal, $model:ty, $params:ty, $fit:ident) => {
        LearnedRanker {
            about: About { name: $name, summary: $summary, stage: ModelKind::Rank },
            missing: None,
            fit: |data, model, progress| {
                let model: $params = params(model)?;
                model.validate()?;
                Ok(Box::new(<$model>::$fit(data, &model, progress)?))
            },
            load: |bytes| Ok(Box::new(<$model>::from_artifact(&Artifact::from_bytes(bytes)?)?)),
            check: |model| params::<$params>(model).and_then(|p| p.validate()).map_err(|e| e.to_string()),
        }
    };
}

#[cfg(feature = "lightgbm")]
pub const LIGHTGBM: LearnedRanker = ranker!(
    LIGHTGBM_NAME,
    "gradient-boosted trees (LightGBM) trained on impressions",
    polyrec_models::rank::lightgbm::GbdtRanker,
    polyrec_models::rank::lightgbm::GbdtParams,
    fit_with_progress
);

#[cfg(not(feature = "lightgbm"))]
pub const LIGHTGBM: LearnedRanker = LearnedRanker {
    about: About {
        name: LIGHTGBM_NAME,
        summary: "gradient-boosted trees (LightGBM) trained on impressions",
        stage: ModelKind::Rank,
    },
    missing: Some("lightgbm"),
    fit: |_, _, _| Err(RankError::NotBuilt { name: LIGHTGBM_NAME.into(), feature: "lightgbm" }),
    load: |_| Err(RankError::NotBuilt { name: LIGHTGBM_NAME.into(), feature: "lightgbm" }),
    check: |_| Ok(()),
};

pub const DEEPFM: LearnedRanker = ranker!("deepfm", "DeepFM trained on impressions", DeepFm, DeepParams, fit);

/// Wide & Deep: DeepFM's parameters, a linear part instead of the factorisation machine.
pub const WIDE_DEEP: LearnedRanker =
    ranker!("wide_deep", "Wide & Deep trained on impressions", WideDeep, DeepParams, fit);

impl LearnedRanker {
    /// Fits it once on `data` with its hyperparameters `params` (`rank.params.model`).
    pub fn fit_once(
        &self,
        data: &CtrData,
        params: &Value,
        progress: &dyn Fn(f32),
    ) -> std::result::Result<Box<dyn Ranker>, RankError> {
        (self.fit)(data, params, progress)
    }

    fn error(&self, error: RankError) -> Error {
        match error {
            RankError::NotBuilt { .. } => Error::invalid(Code::ModelNotInBuild, error.to_string()),
            other => Error::invalid(Code::ModelNotTrainable, format!("{}: {other}", self.about.name)),
        }
    }
}

impl LearnedModel for LearnedRanker {
    fn about(&self) -> &About {
        &self.about
    }

    fn missing_feature(&self) -> Option<&'static str> {
        self.missing
    }

    fn used_by(&self, config: &ScenarioConfig) -> bool {
        config.rank.model == self.about.name
    }

    fn check_params(&self, params: &Value) -> std::result::Result<(), String> {
        if params.is_null() { Ok(()) } else { (self.check)(params) }
    }

    fn fit(&self, data: &TrainingData<'_>, progress: &(dyn Fn(f64) + Sync)) -> Result<super::Fitted> {
        let TrainingData::Impressions { train, test, test_labels, all, space, params } = data else {
            return Err(Error::internal(format!("{} fits on impressions", self.about.name)));
        };
        let evaluated = (self.fit)(train, params, &|f| progress(f64::from(f) * 0.5)).map_err(|e| self.error(e))?;
        let scores: Vec<f64> = evaluated.predict(test).into_iter().map(f64::from).collect();
        let mut metrics = std::collections::BTreeMap::new();
        if let Some(auc) = polyrec_models::metrics::auc(&scores, test_labels) {
            metrics.insert("auc".to_owned(), auc);
        }
        metrics.insert("log_loss".to_owned(), polyrec_models::metrics::log_loss(&scores, test_labels));
        let model = (self.fit)(all, params, &|f| progress(0.5 + f64::from(f) * 0.5)).map_err(|e| self.error(e))?;
        let trained = TrainedRanker { name: self.about.name, model: model.into(), space: Arc::new((*space).clone()) };
        Ok(Fitted { model: Arc::new(trained), metrics, params: (*params).clone() })
    }

    fn as_ranker(&self) -> Option<&LearnedRanker> {
        Some(self)
    }

    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn Trained>> {
        let corrupt = |what: String| Error::internal(format!("artifact of {}: {what}", self.about.name));
        let len = bytes.get(..8).ok_or_else(|| corrupt("truncated".into()))?;
        let len = u64::from_le_bytes(len.try_into().expect("eight bytes")) as usize;
        let space = bytes.get(8..8 + len).ok_or_else(|| corrupt("truncated feature space".into()))?;
        let space: FeatureSpace = serde_json::from_slice(space).map_err(|e| corrupt(e.to_string()))?;
        let model = (self.load)(&bytes[8 + len..]).map_err(|e| match e {
            RankError::NotBuilt { .. } => self.error(e),
            other => corrupt(other.to_string()),
        })?;
        Ok(Arc::new(TrainedRanker { name: self.about.name, model: model.into(), space: Arc::new(space) }))
    }
}

/// A trained ranker with the feature space its rows are built in.
pub struct TrainedRanker {
    pub name: &'static str,
    pub model: Arc<dyn Ranker>,
    pub space: Arc<FeatureSpace>,
}

impl Trained for TrainedRanker {
    fn to_bytes(&self) -> Vec<u8> {
        let space = serde_json::to_vec(&*self.space).expect("a feature space serializes");
        let mut bytes = (space.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(&space);
        bytes.extend_from_slice(&self.model.to_bytes());
        bytes
    }

    fn install(self: Arc<Self>, name: &'static str, version: &str, models: &mut ScenarioModels, _: Vectors) {
        // One ranker serves a scenario.
        if let Some(old) = &models.ranker {
            models.versions.remove(&old.name);
        }
        let ranker = RankerModel {
            name: name.to_owned(),
            version: version.to_owned(),
            model: self.model.clone(),
            space: self.space.clone(),
        };
        models.ranker = Some(ranker);
        models.versions.insert(name.to_owned(), version.to_owned());
    }
}
