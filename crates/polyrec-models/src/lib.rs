//! Learned models for polyrec, with no I/O but bytes: what the training jobs fit, what the
//! request path scores with, and the metrics that judge them offline.
//!
//! - [`data`]: the user × item matrix (dense indices, sparse rows both ways).
//! - [`als`]: implicit-feedback matrix factorisation (user and item vectors).
//! - [`ease`]: the EASE item × item model (closed form, dense).
//! - [`holdout`]: offline metrics of a recall model at training time.
//! - [`metrics`]: precision / recall / NDCG / MAP at k, coverage, AUC, log-loss.
//! - [`split`]: interaction files and train/test splits.
//! - [`artifact`]: the saved form of every model (JSON header + raw f32 arrays).
//! - [`rank`]: CTR rankers over [`CtrData`] rows — LightGBM (cargo feature `lightgbm`), DeepFM
//!   and Wide & Deep (cargo feature `deep`, on by default) — behind the [`Ranker`] trait.

pub mod als;
pub mod artifact;
pub mod data;
pub mod ease;
pub mod holdout;
pub mod linalg;
pub mod metrics;
pub mod rank;
pub mod sparse_ease;
pub mod split;
#[cfg(test)]
mod testdata;
pub mod tune;

pub use als::{AlsModel, AlsParams};
pub use artifact::{Artifact, ArtifactError};
pub use data::{Interactions, Vocabulary};
pub use ease::{EaseModel, EaseParams};
#[cfg(feature = "deep")]
pub use rank::deep::{DeepFm, DeepParams, WideDeep};
#[cfg(feature = "lightgbm")]
pub use rank::lightgbm::{GbdtParams, GbdtRanker, Objective};
pub use rank::{CtrData, FeatureSchema, RankError, Ranker};
pub use sparse_ease::{SparseEaseModel, SparseEaseParams};
