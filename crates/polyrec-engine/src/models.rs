//! The trained models of one scenario, as the request path sees them: an immutable snapshot the
//! model service swaps whole when a version is activated (so a request reads one consistent set
//! and a swap never waits for requests or drops them).

use std::sync::Arc;

use polyrec_models::{AlsModel, EaseModel};
use polyrec_storage::{VectorCollection, VectorIndex};

#[derive(Clone, Default)]
pub struct ScenarioModels {
    /// User and item vectors; the item vectors are in `index` under `collection`.
    pub vectors: Option<VectorModel>,
    pub ease: Option<Arc<EaseModel>>,
}

#[derive(Clone)]
pub struct VectorModel {
    pub als: Arc<AlsModel>,
    pub index: Arc<dyn VectorIndex>,
    pub collection: VectorCollection,
}

impl ScenarioModels {
    pub fn is_empty(&self) -> bool {
        self.vectors.is_none() && self.ease.is_none()
    }
}
