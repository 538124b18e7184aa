//! `als`: implicit-feedback matrix factorisation; its item vectors serve `vector_search`
//! through the vector index.

use std::sync::Arc;

use polyrec_core::model::ModelKind;
use polyrec_models::{AlsModel, AlsParams, Interactions};

use super::{About, LearnedRecall, Trained, Vectors, fit_recall, load_artifact};
use crate::{ScenarioModels, VectorModel};

/// The model's name (and where it is in a snapshot).
pub const NAME: &str = polyrec_models::als::KIND;
/// The recall strategy that serves it (a scenario with this channel trains it).
pub const STRATEGY: &str = "vector_search";

pub const ALS: LearnedRecall = LearnedRecall {
    about: About {
        name: NAME,
        summary: "implicit ALS; its item vectors serve vector_search",
        stage: ModelKind::Recall,
    },
    strategy: STRATEGY,
    fit: |rows, tuning, progress| {
        let fit = |matrix: &Interactions, params, progress: &(dyn Fn(f64) + Sync)| {
            Ok(AlsModel::fit(matrix, params, progress))
        };
        let score = |model: &AlsModel, user: &str| model.user_vector(user).map(|vector| model.score_all(vector));
        fit_recall(rows, tuning, polyrec_models::tune::als_candidates(AlsParams::default()), fit, score, progress)
    },
    load: |bytes| load_artifact(NAME, bytes, AlsModel::from_artifact),
};

impl Trained for AlsModel {
    fn to_bytes(&self) -> Vec<u8> {
        self.to_artifact().to_bytes()
    }

    fn item_vectors(&self) -> Option<(usize, &[String], &[f32])> {
        Some((self.factors(), self.items.names(), &self.item_factors))
    }

    fn install(self: Arc<Self>, name: &'static str, version: &str, models: &mut ScenarioModels, vectors: Vectors) {
        let Some((index, collection)) = vectors else { return };
        models.learned.insert(name, Arc::new(VectorModel { als: self, index, collection }));
        models.versions.insert(name.to_owned(), version.to_owned());
    }
}
