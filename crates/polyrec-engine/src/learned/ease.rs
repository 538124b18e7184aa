//! `ease`: the closed-form item-item model (Steck 2019) over the user's history; serves the
//! `ease` recall strategy.

use std::sync::Arc;

use polyrec_core::model::ModelKind;
use polyrec_core::{Code, Error, Result, ScenarioConfig};
use polyrec_models::{Artifact, EaseModel, EaseParams, Interactions, Vocabulary};
use polyrec_storage::{VectorCollection, VectorIndex};

use super::{Fitted, LearnedModel, METRICS_K, Trained, TrainingData, holdout, interactions, summary_metrics};
use crate::ScenarioModels;

pub struct Ease;

/// The model's name (and where it is in a snapshot).
pub const NAME: &str = polyrec_models::ease::KIND;

impl LearnedModel for Ease {
    fn name(&self) -> &'static str {
        NAME
    }

    fn summary(&self) -> &'static str {
        "EASE item-item model; serves the ease recall strategy"
    }

    fn stage(&self) -> ModelKind {
        ModelKind::Recall
    }

    fn used_by(&self, config: &ScenarioConfig) -> bool {
        config.recall.strategies.iter().any(|s| s.name == NAME)
    }

    fn fit(&self, data: &TrainingData<'_>, progress: &(dyn Fn(f64) + Sync)) -> Result<Fitted> {
        let rows = interactions(NAME, data)?;
        let holdout = holdout(rows);
        let all = Interactions::build(
            rows.iter().map(|i| (i.user_id.as_str(), i.item_id.as_str(), 1.0)),
            Vocabulary::default(),
        );
        let params = EaseParams::default();
        let too_large =
            |e: polyrec_models::ease::EaseError| Error::invalid(Code::ModelNotTrainable, format!("ease: {e}"));
        let evaluated = EaseModel::fit(&holdout.train, params).map_err(too_large)?;
        progress(0.5);
        let summary = holdout.evaluate(METRICS_K, |user| {
            let history = evaluated.history(user);
            (!history.is_empty()).then(|| evaluated.score(history.iter().copied()))
        });
        let model = EaseModel::fit(&all, params).map_err(too_large)?;
        let params = serde_json::to_value(params).map_err(Error::internal)?;
        Ok(Fitted { model: Arc::new(model), metrics: summary_metrics(&summary), params })
    }

    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn Trained>> {
        let corrupt = |e: polyrec_models::ArtifactError| Error::internal(format!("artifact of {NAME}: {e}"));
        let artifact = Artifact::from_bytes(bytes).map_err(corrupt)?;
        Ok(Arc::new(EaseModel::from_artifact(&artifact).map_err(corrupt)?))
    }
}

impl Trained for EaseModel {
    fn to_bytes(&self) -> Vec<u8> {
        self.to_artifact().to_bytes()
    }

    fn install(
        self: Arc<Self>,
        name: &'static str,
        version: &str,
        models: &mut ScenarioModels,
        _: Option<(Arc<dyn VectorIndex>, VectorCollection)>,
    ) {
        models.learned.insert(name, self);
        models.versions.insert(name.to_owned(), version.to_owned());
    }
}
