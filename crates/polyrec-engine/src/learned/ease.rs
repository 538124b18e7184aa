//! `ease`: the closed-form item-item model (Steck 2019) over the user's history; serves the
//! `ease` recall strategy.

use std::sync::Arc;

use polyrec_core::model::ModelKind;
use polyrec_core::{Code, Error};
use polyrec_models::{EaseModel, EaseParams, Interactions};

use super::{About, LearnedRecall, Trained, Vectors, fit_recall, load_artifact};
use crate::ScenarioModels;

/// The model's name (and where it is in a snapshot).
pub const NAME: &str = polyrec_models::ease::KIND;

pub const EASE: LearnedRecall = LearnedRecall {
    about: About {
        name: NAME,
        summary: "EASE item-item model; serves the ease recall strategy",
        stage: ModelKind::Recall,
    },
    strategy: NAME,
    fit: |rows, tuning, progress| {
        let fit = |matrix: &Interactions, params, _: &(dyn Fn(f64) + Sync)| {
            EaseModel::fit(matrix, params).map_err(|e| Error::invalid(Code::ModelNotTrainable, format!("ease: {e}")))
        };
        let score = |model: &EaseModel, user: &str| {
            let history = model.history(user);
            (!history.is_empty()).then(|| model.score(history.iter().copied()))
        };
        fit_recall(rows, tuning, polyrec_models::tune::ease_candidates(EaseParams::default()), fit, score, progress)
    },
    load: |bytes| load_artifact(NAME, bytes, EaseModel::from_artifact),
};

impl Trained for EaseModel {
    fn to_bytes(&self) -> Vec<u8> {
        self.to_artifact().to_bytes()
    }

    fn install(self: Arc<Self>, name: &'static str, version: &str, models: &mut ScenarioModels, _: Vectors) {
        models.learned.insert(name, self);
        models.versions.insert(name.to_owned(), version.to_owned());
    }
}
