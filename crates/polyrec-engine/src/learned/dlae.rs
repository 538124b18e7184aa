//! `dlae`: EDLAE (Steck 2020), EASE's closed form with the regularizer of input dropout, over the
//! user's history; serves the `dlae` recall strategy. Its artifact is an EASE artifact (the same
//! item × item matrix) with its parameters.

use polyrec_core::model::ModelKind;
use polyrec_core::{Code, Error};
use polyrec_models::{EaseModel, EaseParams, Interactions};

use super::{About, LearnedRecall, fit_recall, load_artifact};

/// The model's name (and where it is in a snapshot).
pub const NAME: &str = "dlae";

pub const DLAE: LearnedRecall = LearnedRecall {
    about: About {
        name: NAME,
        summary: "EDLAE item-item model (EASE with dropout regularization); serves the dlae recall strategy",
        stage: ModelKind::Recall,
    },
    strategy: NAME,
    fit: |rows, tuning, progress| {
        let fit = |matrix: &Interactions, params, _: &(dyn Fn(f64) + Sync)| {
            EaseModel::fit(matrix, params).map_err(|e| Error::invalid(Code::ModelNotTrainable, format!("dlae: {e}")))
        };
        let score = |model: &EaseModel, user: &str| {
            let history = model.history(user);
            (!history.is_empty()).then(|| model.score(history.iter().copied()))
        };
        fit_recall(rows, tuning, polyrec_models::tune::dlae_candidates(EaseParams::dlae()), fit, score, progress)
    },
    load: |bytes| load_artifact(NAME, bytes, EaseModel::from_artifact),
};
