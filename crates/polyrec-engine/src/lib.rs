//! The recommendation engine: scenario configs become pipelines of named strategies
//! (recall → merge → rank → rerank), and a pipeline answers one request.
//!
//! Layout:
//! - [`registry`]: the explicit list of strategies, one line each; [`validate`] checks a whole
//!   config against it with the JSON path of every problem.
//! - [`recall`], [`rank`], [`rerank`]: one file per strategy, each with its typed params
//!   (`#[serde(deny_unknown_fields)]`) and its own tests.
//! - [`pipeline`]: compiles a validated config into a [`Pipeline`] and runs it.
//! - [`catalog`]: the in-memory index of a scenario's items the strategies read; [`geo`] its
//!   items by place (an R*-tree), for the `location` recall.
//! - [`cf`]: collaborative-filtering similarities, trained by a background job, never on the
//!   request path.
//! - [`models`]: the snapshot of a scenario's trained models (vectors, EASE) the learned
//!   strategies read; `polyrec-models` trains them.
//!
//! **Architecture invariant:** the engine reaches data only through the traits of
//! `polyrec-storage` and the snapshots it is handed ([`catalog::Catalog`], [`cf::CfModel`]); it
//! knows no database client and no transport.

pub mod catalog;
pub mod cf;
pub mod features;
pub mod geo;
pub mod labels;
pub mod learned;
pub mod models;
pub mod offline;
pub mod pipeline;
pub mod rank;
pub mod recall;
pub mod registry;
pub mod rerank;
pub mod validate;

pub use catalog::{Catalog, CatalogIndex};
pub use cf::CfModel;
pub use models::{ScenarioModels, VectorModel};
pub use pipeline::{Candidate, ChannelReport, ChannelStatus, Pipeline, RankService, RecommendInput, RecommendOutput};
pub use validate::validate_config;
