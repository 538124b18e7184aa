//! `sparse_ease`: EASE restricted to each item's strongest co-occurrence neighbours
//! (`polyrec_models::sparse_ease`), for catalogs past the dense EASE's 20,000 items; serves the
//! `sparse_ease` recall strategy.

use std::sync::Arc;

use polyrec_core::model::ModelKind;
use polyrec_core::{Code, Error};
use polyrec_models::{Interactions, SparseEaseModel, SparseEaseParams};

use super::{About, LearnedRecall, Trained, Vectors, fit_recall, load_artifact};
use crate::ScenarioModels;

/// The model's name (and where it is in a snapshot).
pub const NAME: &str = polyrec_models::sparse_ease::KIND;

pub const SPARSE_EASE: LearnedRecall = LearnedRecall {
    about: About {
        name: NAME,
        summary: "EASE over each item's strongest co-occurrence neighbours, for large catalogs; serves the \
                  sparse_ease recall strategy",
        stage: ModelKind::Recall,
    },
    strategy: NAME,
    fit: |rows, tuning, progress| {
        let fit = |matrix: &Interactions, params, _: &(dyn Fn(f64) + Sync)| {
            SparseEaseModel::fit(matrix, params)
                .map_err(|e| Error::invalid(Code::ModelNotTrainable, format!("sparse_ease: {e}")))
        };
        let score = |model: &SparseEaseModel, user: &str| {
            let history = model.history(user);
            (!history.is_empty()).then(|| model.score(history.iter().copied()))
        };
        let candidates = polyrec_models::tune::sparse_ease_candidates(SparseEaseParams::default());
        fit_recall(rows, tuning, candidates, fit, score, progress)
    },
    load: |bytes| load_artifact(NAME, bytes, SparseEaseModel::from_artifact),
};

impl Trained for SparseEaseModel {
    fn to_bytes(&self) -> Vec<u8> {
        self.to_artifact().to_bytes()
    }

    fn install(self: Arc<Self>, name: &'static str, version: &str, models: &mut ScenarioModels, _: Vectors) {
        models.learned.insert(name, self);
        models.versions.insert(name.to_owned(), version.to_owned());
    }
}
