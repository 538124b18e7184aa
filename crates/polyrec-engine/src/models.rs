//! The trained models of one scenario, as the request path sees them: an immutable snapshot the
//! trainer swaps whole (so a request reads one consistent set, and a swap never waits for
//! requests or drops them).

use std::collections::BTreeMap;
use std::sync::Arc;

use std::any::Any;

use polyrec_models::AlsModel;
use polyrec_storage::{VectorCollection, VectorIndex};

use crate::CfModel;
use crate::rank::learned::RankerModel;

#[derive(Clone, Default)]
pub struct ScenarioModels {
    /// Item–item and user–user neighbours (`item_cf`, `user_cf`).
    pub cf: Option<Arc<CfModel>>,
    /// The parameters `cf` is built with: the serving `item_cf` version's
    /// ([`crate::learned::item_cf`]); `None`: the config's or the defaults.
    pub cf_params: Option<crate::cf::CfParams>,
    /// The scenario's warehouse event count when `cf` was trained (the trainer's schedule
    /// retrains when it changes).
    pub trained_on_events: Option<u64>,
    /// The serving recall models, by name (`crate::learned`): what each installed, read by the
    /// strategy that serves it through [`ScenarioModels::learned`].
    pub learned: BTreeMap<&'static str, Arc<dyn Any + Send + Sync>>,
    /// The learned ranker that serves (`lightgbm`, `deepfm`, `wide_deep`).
    pub ranker: Option<RankerModel>,
    /// The registry version of each learned model in this snapshot, by model name.
    pub versions: BTreeMap<String, String>,
}

impl ScenarioModels {
    /// The serving recall model `name`, if it is a `T`.
    pub fn learned<T: Any>(&self, name: &str) -> Option<&T> {
        self.learned.get(name)?.downcast_ref::<T>()
    }
}

/// A model served through the vector index: user and item vectors, the item vectors in `index`
/// under `collection`.
#[derive(Clone)]
pub struct VectorModel {
    pub als: Arc<AlsModel>,
    pub index: Arc<dyn VectorIndex>,
    pub collection: VectorCollection,
}
