//! What the recommendation path reads from the other services (SPEC §3.1: recommendation depends
//! on scenario, item, feature and model services), one trait per service. All-in-one, each is
//! the document store in this process ([`Local`]); split (`polyrec serve --service
//! recommendation`), each is a gRPC client of the service that owns the data
//! (`polyrec_server::grpc::client`, given through [`crate::Remote`]). The caches in front of them ([`crate::App`]) are the same either way.

use std::sync::Arc;

use async_trait::async_trait;
use polyrec_core::{Experiment, Item, Result, Scenario, ScenarioId, TenantId, UserId, UserProfile};
use polyrec_storage::DocumentStore;

/// The scenario service: configs and their experiments.
#[async_trait]
pub trait ScenarioSource: Send + Sync {
    /// The scenario, or `None` if the tenant has no such scenario.
    async fn scenario(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Option<Scenario>>;
    /// The scenario's experiments, in every status.
    async fn experiments(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Vec<Experiment>>;
}

/// The item service: the catalog.
#[async_trait]
pub trait ItemSource: Send + Sync {
    /// Every item of the scenario, in any status.
    async fn scan_items(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Vec<Item>>;
}

/// The feature service: user features.
#[async_trait]
pub trait FeatureSource: Send + Sync {
    /// The user's profile in the scenario, or `None` for a user without one.
    async fn profile(&self, tenant: &TenantId, user: &UserId, id: &ScenarioId) -> Result<Option<UserProfile>>;
}

/// The sources a process reads through.
#[derive(Clone)]
pub struct Sources {
    pub scenarios: Arc<dyn ScenarioSource>,
    pub items: Arc<dyn ItemSource>,
    pub features: Arc<dyn FeatureSource>,
    /// Online prediction by the model service; `None`: the rankers in this process score.
    pub ranking: Option<Arc<dyn polyrec_engine::RankService>>,
}

impl Sources {
    /// Everything read from this process's document store, rankers scored in process.
    pub fn local(documents: Arc<dyn DocumentStore>) -> Sources {
        let local = Arc::new(Local(documents));
        Sources { scenarios: local.clone(), items: local.clone(), features: local, ranking: None }
    }
}

/// The in-process implementation: the document store.
pub struct Local(pub Arc<dyn DocumentStore>);

#[async_trait]
impl ScenarioSource for Local {
    async fn scenario(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Option<Scenario>> {
        self.0.get_scenario(tenant, id).await
    }

    async fn experiments(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Vec<Experiment>> {
        self.0.list_experiments(tenant, Some(id)).await
    }
}

#[async_trait]
impl ItemSource for Local {
    async fn scan_items(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Vec<Item>> {
        self.0.scan_items(tenant, id).await
    }
}

#[async_trait]
impl FeatureSource for Local {
    async fn profile(&self, tenant: &TenantId, user: &UserId, id: &ScenarioId) -> Result<Option<UserProfile>> {
        self.0.get_profile(tenant, user, id).await
    }
}
