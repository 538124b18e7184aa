//! The trained models of one scenario, as the request path sees them: an immutable snapshot the
//! trainer swaps whole (so a request reads one consistent set, and a swap never waits for
//! requests or drops them).

use std::collections::BTreeMap;
use std::sync::Arc;

use polyrec_models::{AlsModel, EaseModel};
use polyrec_storage::{VectorCollection, VectorIndex};

use crate::CfModel;
use crate::rank::learned::RankerModel;

#[derive(Clone, Default)]
pub struct ScenarioModels {
    /// Item–item and user–user neighbours (`item_cf`, `user_cf`).
    pub cf: Option<Arc<CfModel>>,
    /// The scenario's warehouse event count when `cf` was trained (the trainer's schedule
    /// retrains when it changes).
    pub trained_on_events: Option<u64>,
    /// User and item vectors; the item vectors are in `index` under `collection`.
    pub vectors: Option<VectorModel>,
    pub ease: Option<Arc<EaseModel>>,
    /// The learned ranker that serves (`lightgbm`, `deepfm`, `wide_deep`).
    pub ranker: Option<RankerModel>,
    /// The registry version of each learned model in this snapshot, by model name.
    pub versions: BTreeMap<String, String>,
}

#[derive(Clone)]
pub struct VectorModel {
    pub als: Arc<AlsModel>,
    pub index: Arc<dyn VectorIndex>,
    pub collection: VectorCollection,
}
