//! The application: the stores, the caches in front of them and what the jobs share with the
//! request path, as named components. Built once at start-up ([`App::open`]) and shared as
//! `Arc<App>` by every service, job and transport.
//!
//! - [`Stores`]: the storage trait objects (private to this crate);
//! - [`Scenarios`]: compiled scenarios; [`Experiments`]: each scenario's running experiment;
//! - [`Catalogs`]: the item index the engine reads; [`Profiles`]: user profiles;
//! - [`Models`]: the trained models each scenario serves, swapped whole by the trainer;
//! - [`JobProgress`]: how far the stream jobs have processed the bus.
//!
//! Each cache keeps itself true to writes through one [`coherence::Coherence`], chosen once
//! from whether the realtime store is shared with other processes.

mod catalogs;
pub mod coherence;
mod experiments;
mod models;
mod profiles;
mod progress;
mod scenarios;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use polyrec_core::clock::SharedClock;
use polyrec_core::{Result, Scenario, ScenarioId, TenantId};
pub use polyrec_storage::Stores;

pub use self::catalogs::Catalogs;
pub use self::experiments::{Experiments, ScenarioExperiments};
pub use self::models::Models;
pub use self::profiles::Profiles;
pub use self::progress::JobProgress;
pub use self::scenarios::{CompiledScenario, Scenarios};
use crate::ServerConfig;
use crate::sources::Sources;

/// Drops `value` on the blocking pool when called on a runtime, else here (a test, the CLI): a
/// replaced snapshot whose last reference this is (a catalog, a CF model of millions of lists)
/// takes up to seconds to free, which on a runtime thread holds up every task polled there.
pub(crate) fn drop_off_runtime<T: Send + 'static>(value: T) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(move || drop(value))),
        Err(_) => drop(value),
    }
}
use crate::tenancy::{Charge, Tenancy, TenantSource, UserSource};

type Key = (TenantId, ScenarioId);

/// One async lock per scenario, made on first use.
#[derive(Default)]
pub(crate) struct KeyedLocks(parking_lot::Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>);

impl KeyedLocks {
    pub(crate) fn of(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        self.0.lock().entry(key.clone()).or_default().clone()
    }
}

/// What a process reads from outside its own stores, given by the transport crate: the tenant
/// and user services (SPEC §6.2) and, for the split recommendation service, the other services.
#[derive(Default)]
pub struct Remote {
    pub tenants: Option<Arc<dyn TenantSource>>,
    pub users: Option<Arc<dyn UserSource>>,
    /// `None`: this process's document store.
    pub sources: Option<Sources>,
}

pub struct App {
    pub config: ServerConfig,
    pub clock: SharedClock,
    /// Tokens, tenant and user information, quotas.
    pub tenancy: Tenancy,
    /// Where the request path reads scenarios, items, user features and learned-ranker scores:
    /// this process's stores, or (split) the other services over gRPC.
    pub sources: Sources,
    /// This process's id among the processes sharing the stores (the holder of a lease).
    pub instance: String,
    pub(crate) stores: Stores,
    pub scenarios: Scenarios,
    pub experiments: Experiments,
    pub catalogs: Catalogs,
    pub profiles: Profiles,
    pub models: Models,
    pub progress: JobProgress,
    /// Each tenant's slots for work off the request threads (`limits.max_blocking_tasks_per_tenant`).
    pub tenant_work: crate::blocking::TenantWork,
    /// Training jobs running at once in this process (`limits.max_concurrent_trainings`).
    pub(crate) training_permits: Arc<tokio::sync::Semaphore>,
    /// Wakes this process's job-queue worker when it enqueues a job (others poll).
    pub(crate) job_queued: tokio::sync::Notify,
    /// Requests in flight in this process (`limits.max_concurrent_requests`), the one limit of
    /// every route the server protects but the bulk import.
    pub request_permits: Arc<tokio::sync::Semaphore>,
    /// One lock per tenant, held across a check of the tenant's documents and the write it
    /// allows (a quota's count and a scenario, item or job written; no other experiment running
    /// and one started), so that writes at once in this process cannot all pass one check.
    pub(crate) checked_writes: crate::blocking::TenantSemaphores,
    /// The bulk imports' own slots (`limits.max_concurrent_imports`).
    pub import_permits: Arc<tokio::sync::Semaphore>,
    /// Refusals held back now (`limits.refusal_delay_ms`), at most `MAX_HELD_REFUSALS`.
    pub held_refusals: Arc<tokio::sync::Semaphore>,
}

impl App {
    /// Opens the stores `config.storage` names (embedded under `config.data_dir` by default, the
    /// production engines where a URL is given) and builds the application over them.
    pub async fn open(config: ServerConfig, clock: SharedClock, remote: Remote) -> anyhow::Result<Arc<App>> {
        let stores = Stores::open(&config.storage, &config.data_dir, clock.clone()).await?;
        let tenancy =
            Tenancy::new(&config.auth, &config.services.internal_key, &config.tenancy, remote.tenants, remote.users)?;
        let sources = remote.sources.unwrap_or_else(|| Sources::local(stores.documents.clone()));
        Ok(Arc::new(Self::build(config, clock, stores, tenancy, sources)))
    }

    fn build(config: ServerConfig, clock: SharedClock, stores: Stores, tenancy: Tenancy, sources: Sources) -> App {
        let follow = Duration::from_millis(config.services.follow_ms);
        let coherence = || coherence::of(stores.realtime.clone(), follow);
        let limits = &config.limits;
        let tenant_work = crate::blocking::TenantWork::new(limits.max_blocking_tasks_per_tenant);
        App {
            scenarios: Scenarios::new(sources.scenarios.clone(), coherence()),
            experiments: Experiments::new(sources.scenarios.clone(), coherence()),
            catalogs: Catalogs::new(sources.items.clone(), coherence(), config.services.follow_ms, tenant_work.clone()),
            tenant_work,
            profiles: Profiles::new(sources.features.clone(), stores.documents.clone(), coherence(), clock.clone()),
            models: Models::new(coherence()),
            progress: JobProgress::default(),
            training_permits: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_trainings.max(1))),
            job_queued: tokio::sync::Notify::new(),
            request_permits: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_requests.max(1))),
            import_permits: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_imports.max(1))),
            checked_writes: crate::blocking::TenantSemaphores::new(1),
            held_refusals: Arc::new(tokio::sync::Semaphore::new(crate::config::MAX_HELD_REFUSALS)),
            instance: uuid::Uuid::new_v4().simple().to_string(),
            config,
            clock,
            tenancy,
            sources,
            stores,
        }
    }

    /// The stores, for the integration tests that seed or inspect them directly.
    #[cfg(feature = "test-support")]
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Takes `charge` from the tenant's quota (`429 rate_limited` when it is used up).
    pub async fn charge(&self, tenant: &TenantId, charge: Charge) -> Result<()> {
        let now = self.now_ms();
        let info = self.tenancy.tenant(tenant, now).await?;
        self.tenancy.charge(tenant, &info.quota, charge, now)
    }

    /// Admits the tenant as a request's own check does (its bearer token `authorization`
    /// verified when tokens are checked, its status), then refuses at once (`429`) when its
    /// quota for `charge` is used up now, before its request is read: the quota is still charged
    /// in full by [`App::charge`] when it is not. Admission first, so a caller without the
    /// tenant's token learns nothing of its quota or its load (it gets the admission's error).
    /// Returns the user the token is bound to, if it is.
    pub async fn refuse_if_spent(
        &self,
        tenant: &TenantId,
        authorization: Option<&str>,
        charge: Charge,
    ) -> Result<Option<polyrec_core::UserId>> {
        let now = self.now_ms();
        let scope = charge.scope();
        let admission =
            self.tenancy.admit(tenant, crate::tenancy::Credential::Bearer { authorization, scope }, now).await?;
        self.tenancy.refuse_if_empty(tenant, &admission.info.quota, charge, now)?;
        Ok(admission.user)
    }

    /// Requests this process is running now, within `limits.max_concurrent_requests`.
    pub fn requests_in_flight(&self) -> usize {
        self.config.limits.max_concurrent_requests.max(1) - self.request_permits.available_permits()
    }

    /// Bulk imports this process is running now, within `limits.max_concurrent_imports`.
    pub fn imports_in_flight(&self) -> usize {
        self.config.limits.max_concurrent_imports.max(1) - self.import_permits.available_permits()
    }

    /// Requests refused for their tenant's rate that are being held back now.
    pub fn refusals_held(&self) -> usize {
        crate::config::MAX_HELD_REFUSALS - self.held_refusals.available_permits()
    }

    /// The scenario with its compiled pipeline; `NotFound` for unknown (or other tenants')
    /// scenarios.
    pub async fn scenario(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Arc<CompiledScenario>> {
        self.scenarios.get(tenant, id).await
    }

    /// Called after a scenario write: the next request, in this process and (shared) in every
    /// other, compiles the new version, and its experiments are compiled against it.
    pub async fn scenario_saved(&self, tenant: &TenantId, scenario: &Scenario) -> Result<()> {
        self.experiments.changed(tenant, &scenario.scenario_id);
        self.scenarios.written(tenant, &scenario.scenario_id, Some(scenario)).await
    }

    /// Called after a scenario is deleted: its caches go too.
    pub async fn scenario_deleted(&self, tenant: &TenantId, id: &ScenarioId) -> Result<()> {
        self.experiments.changed(tenant, id);
        self.scenarios.written(tenant, id, None).await?;
        self.catalogs.forget(tenant, id);
        self.models.forget(tenant, id);
        self.stores.vectors.drop_scenario(tenant, id).await?;
        self.profiles.forget(tenant, id)
    }
}
