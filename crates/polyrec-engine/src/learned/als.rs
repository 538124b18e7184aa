//! `als`: implicit-feedback matrix factorisation; its item vectors serve `vector_search`
//! through the vector index.

use std::sync::Arc;

use polyrec_core::model::ModelKind;
use polyrec_core::{Error, Result, ScenarioConfig};
use polyrec_models::{AlsModel, AlsParams, Artifact, Interactions, Vocabulary};
use polyrec_storage::{VectorCollection, VectorIndex};

use super::{Fitted, LearnedModel, METRICS_K, Trained, TrainingData, holdout, interactions, summary_metrics};
use crate::{ScenarioModels, VectorModel};

pub struct Als;

/// The model's name (and where it is in a snapshot).
pub const NAME: &str = polyrec_models::als::KIND;

impl LearnedModel for Als {
    fn name(&self) -> &'static str {
        NAME
    }

    fn summary(&self) -> &'static str {
        "implicit ALS; its item vectors serve vector_search"
    }

    fn stage(&self) -> ModelKind {
        ModelKind::Recall
    }

    fn used_by(&self, config: &ScenarioConfig) -> bool {
        config.recall.strategies.iter().any(|s| s.name == "vector_search")
    }

    fn fit(&self, data: &TrainingData<'_>, progress: &(dyn Fn(f64) + Sync)) -> Result<Fitted> {
        let rows = interactions(NAME, data)?;
        let holdout = holdout(rows);
        // Implicit feedback: every positive interaction is one observation.
        let all = Interactions::build(
            rows.iter().map(|i| (i.user_id.as_str(), i.item_id.as_str(), 1.0)),
            Vocabulary::default(),
        );
        let params = AlsParams::default();
        let evaluated = AlsModel::fit(&holdout.train, params, &|f| progress(f / 2.0));
        let summary =
            holdout.evaluate(METRICS_K, |user| evaluated.user_vector(user).map(|vector| evaluated.score_all(vector)));
        let model = AlsModel::fit(&all, params, &|f| progress(0.5 + f / 2.0));
        let params = serde_json::to_value(params).map_err(Error::internal)?;
        Ok(Fitted { model: Arc::new(model), metrics: summary_metrics(&summary), params })
    }

    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn Trained>> {
        let corrupt = |e: polyrec_models::ArtifactError| Error::internal(format!("artifact of {NAME}: {e}"));
        let artifact = Artifact::from_bytes(bytes).map_err(corrupt)?;
        Ok(Arc::new(AlsModel::from_artifact(&artifact).map_err(corrupt)?))
    }
}

impl Trained for AlsModel {
    fn to_bytes(&self) -> Vec<u8> {
        self.to_artifact().to_bytes()
    }

    fn item_vectors(&self) -> Option<(usize, &[String], &[f32])> {
        Some((self.factors(), self.items.names(), &self.item_factors))
    }

    fn install(
        self: Arc<Self>,
        name: &'static str,
        version: &str,
        models: &mut ScenarioModels,
        vectors: Option<(Arc<dyn VectorIndex>, VectorCollection)>,
    ) {
        let Some((index, collection)) = vectors else { return };
        models.learned.insert(name, Arc::new(VectorModel { als: self, index, collection }));
        models.versions.insert(name.to_owned(), version.to_owned());
    }
}
