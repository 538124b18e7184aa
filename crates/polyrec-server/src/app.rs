//! The application: the storage trait objects, the caches in front of them, and what the jobs
//! share with the request path. Built once at start-up ([`App::open_embedded`]) and shared as
//! `Arc<App>` by every service, job and handler.
//!
//! Caches (all per tenant and scenario, all invalidated by the writes of this process):
//! - compiled scenarios: the config and its [`Pipeline`], rebuilt when the version changes;
//! - catalogs: the item index the engine reads, kept in step with item writes;
//! - collaborative-filtering models, swapped whole by the trainer;
//! - user profiles (SPEC §6.3: 1 h), replaced when the profile job writes one.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use polyrec_core::clock::{HOUR_MS, SharedClock};
use polyrec_core::{Error, Item, Result, Scenario, ScenarioId, TenantId, UserId, UserProfile};
use polyrec_engine::{Catalog, CfModel, Pipeline, ScenarioModels};
use polyrec_storage::{
    BlobStore, Cached, DocumentStore, EventBus, EventLog, MemoryRealtime, RealtimeStore, VectorIndex, Warehouse,
};
use tokio::sync::Notify;

use crate::ServerConfig;
use crate::backends::Backends;
use crate::service::experiments::LiveExperiment;
use crate::sources::Sources;
use crate::telemetry;
use crate::tenancy::{Charge, Tenancy};

type Key = (TenantId, ScenarioId);
/// A cached profile (or the knowledge that there is none) and when the entry expires.
type ProfileEntry = (Option<Arc<UserProfile>>, i64);

/// A scenario with its config compiled into strategy objects.
pub struct CompiledScenario {
    pub scenario: Scenario,
    pub pipeline: Pipeline,
    /// The shared cache entry it was compiled from, when the cache is shared.
    json: Option<String>,
}

#[derive(Default)]
struct CatalogSlot {
    /// `None` until first loaded from the document store.
    items: tokio::sync::Mutex<Option<HashMap<String, Arc<Item>>>>,
    snapshot: RwLock<Arc<Catalog>>,
    /// Set once the first snapshot is built; with `dirty` clear, `snapshot` is current.
    loaded: AtomicBool,
    dirty: AtomicBool,
    /// With a shared realtime store: the `catalog:version` this catalog reflects, and when
    /// (ms since the process started) it was last compared with the shared one.
    version: AtomicU64,
    checked_ms: AtomicU64,
}

const PROFILE_TTL_MS: i64 = HOUR_MS;
/// SPEC §5.3: scenario configs are cached for an hour after a read of the document store.
const SCENARIO_CACHE_TTL_MS: i64 = HOUR_MS;
const PROFILE_CACHE_MAX: u64 = 200_000;
/// How long the serving-models mark stays in the realtime store after the last change.
const SERVING_MARK_TTL_MS: i64 = 30 * polyrec_core::clock::DAY_MS;

/// One async lock per scenario, made on first use.
#[derive(Default)]
struct KeyedLocks(parking_lot::Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>);

impl KeyedLocks {
    fn of(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        self.0.lock().entry(key.clone()).or_default().clone()
    }
}

/// One scenario's following of other processes' model changes.
#[derive(Default)]
struct FollowSlot {
    /// Held while following, so the scenario's requests wait for the models being loaded.
    running: tokio::sync::Mutex<()>,
    state: parking_lot::Mutex<Followed>,
}

#[derive(Debug, Clone, Default)]
struct Followed {
    /// When (ms since the process started, from 1) it last checked; 0: never.
    checked: u64,
    /// The serving-models mark it followed.
    mark: Option<String>,
    /// The scenario config version its ranker was chosen for.
    config_version: Option<u64>,
}

struct ExperimentEntry {
    live: Option<Arc<LiveExperiment>>,
    /// The scenario version its pipelines were compiled against.
    scenario_version: u64,
    loaded: std::time::Instant,
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
    pub documents: Arc<dyn DocumentStore>,
    pub bus: Arc<dyn EventBus>,
    /// The embedded log, when that is the bus (the in-process stream jobs read it).
    pub log: Option<Arc<dyn EventLog>>,
    /// The Kafka bus, when that is the bus (the stream jobs are consumer-group members on it).
    #[cfg(feature = "kafka")]
    pub kafka: Option<Arc<polyrec_storage::production::kafka::KafkaBus>>,
    pub warehouse: Arc<dyn Warehouse>,
    pub realtime: Arc<dyn RealtimeStore>,
    /// The embedded realtime store, when that is the backend (it needs sweeping).
    pub memory_realtime: Option<Arc<MemoryRealtime>>,
    /// Where trained item vectors are searched (in-process HNSW or Milvus).
    pub vectors: Arc<dyn VectorIndex>,
    /// Model artifacts.
    pub blobs: Arc<dyn BlobStore>,
    /// Woken after every append to the bus, so the jobs react at once instead of polling.
    pub bus_appended: Notify,
    scenarios: RwLock<HashMap<Key, Arc<CompiledScenario>>>,
    /// Bumped by every scenario change. A reader that missed the cache fills it only if no
    /// change happened while it read the store, so a slow read cannot cache an old version.
    scenario_generation: AtomicU64,
    catalogs: RwLock<HashMap<Key, Arc<CatalogSlot>>>,
    /// The trained models per scenario, each snapshot swapped whole by the trainer.
    models: RwLock<HashMap<Key, Arc<ScenarioModels>>>,
    /// Bounded (TinyLFU): users are what callers choose, and one tenant's many users must not
    /// grow the process or flush the other tenants' profiles.
    profiles: moka::sync::Cache<(TenantId, UserId, ScenarioId), ProfileEntry>,
    /// Bumped by every profile write, for the same reason as `scenario_generation`.
    profile_generation: AtomicU64,
    /// Each scenario's running experiment (or none), compiled per group.
    experiments: RwLock<HashMap<Key, ExperimentEntry>>,
    /// One read of a scenario's experiments at a time (`live_experiment`).
    experiment_reads: KeyedLocks,
    /// Bumped by every experiment change, for the same reason as `scenario_generation`.
    experiment_generation: AtomicU64,
    /// One training of a scenario at a time (the schedule and an on-demand call may overlap).
    training: KeyedLocks,
    /// Training jobs running at once in this process (`limits.max_concurrent_trainings`).
    pub(crate) training_permits: Arc<tokio::sync::Semaphore>,
    /// HTTP requests in flight in this process (`limits.max_concurrent_requests`), the one limit
    /// of every route the server protects (`http::serve::protect`).
    pub(crate) request_permits: Arc<tokio::sync::Semaphore>,
    /// Refusals held back now (`limits.refusal_delay_ms`), at most `MAX_HELD_REFUSALS`.
    pub(crate) held_refusals: Arc<tokio::sync::Semaphore>,
    /// One change of a scenario's serving versions at a time (an activation, a rollback, the
    /// schedule following the registry), so none sees another half done.
    serving: KeyedLocks,
    /// With shared stores: per scenario, what this process last followed of other processes'
    /// model changes (`follow_models`).
    followed: RwLock<HashMap<Key, Arc<FollowSlot>>>,
    /// The last bus offset each job has fully processed, by job name.
    job_offsets: RwLock<HashMap<&'static str, Arc<AtomicU64>>>,
    /// On Kafka: the stream jobs this process runs as consumer-group members.
    #[cfg(feature = "kafka")]
    pub(crate) local_jobs: RwLock<std::collections::HashSet<&'static str>>,
    /// On Kafka: per job and partition, the next offset whose effects are not all stored yet.
    partition_progress: RwLock<HashMap<(&'static str, String, i32), u64>>,
    started: std::time::Instant,
}

impl App {
    /// Opens the stores `config.storage` names: embedded under `config.data_dir` by default,
    /// the production engines where a URL is given.
    pub async fn open(config: ServerConfig, clock: SharedClock) -> anyhow::Result<Arc<App>> {
        Self::open_as(config, clock, None).await
    }

    /// Opens the application of one service of the split deployment (`None`: all-in-one). The
    /// recommendation service reads scenarios, items, features and ranker scores through the
    /// gRPC clients of `config.services`; every other process reads its own stores.
    pub async fn open_as(
        config: ServerConfig,
        clock: SharedClock,
        service: Option<crate::split::Service>,
    ) -> anyhow::Result<Arc<App>> {
        let backends = Backends::open(&config.storage, &config.data_dir, clock.clone()).await?;
        let (tenant_source, user_source) = crate::external::sources(&config.tenancy)?;
        let tenancy = Tenancy::new(&config.auth, &config.tenancy, tenant_source, user_source)?;
        let sources = match service {
            Some(crate::split::Service::Recommendation) => crate::grpc::client::sources(&config.services)?,
            _ => Sources::local(backends.documents.clone()),
        };
        Ok(Self::with_backends(config, clock, backends, tenancy, sources))
    }

    fn with_backends(
        config: ServerConfig,
        clock: SharedClock,
        backends: Backends,
        tenancy: Tenancy,
        sources: Sources,
    ) -> Arc<App> {
        let training_permits = Arc::new(tokio::sync::Semaphore::new(config.limits.max_concurrent_trainings.max(1)));
        let request_permits = Arc::new(tokio::sync::Semaphore::new(config.limits.max_concurrent_requests.max(1)));
        Arc::new(App {
            config,
            clock,
            tenancy,
            sources,
            instance: uuid::Uuid::new_v4().simple().to_string(),
            documents: backends.documents,
            bus: backends.bus,
            log: backends.log,
            #[cfg(feature = "kafka")]
            kafka: backends.kafka,
            warehouse: backends.warehouse,
            realtime: backends.realtime,
            memory_realtime: backends.memory_realtime,
            vectors: backends.vectors,
            blobs: backends.blobs,
            bus_appended: Notify::new(),
            scenarios: RwLock::default(),
            scenario_generation: AtomicU64::new(0),
            catalogs: RwLock::default(),
            models: RwLock::default(),
            profiles: moka::sync::Cache::builder()
                .max_capacity(PROFILE_CACHE_MAX)
                .support_invalidation_closures()
                .build(),
            profile_generation: AtomicU64::new(0),
            experiments: RwLock::default(),
            experiment_reads: KeyedLocks::default(),
            experiment_generation: AtomicU64::new(0),
            training: KeyedLocks::default(),
            training_permits,
            request_permits,
            held_refusals: Arc::new(tokio::sync::Semaphore::new(crate::config::MAX_HELD_REFUSALS)),
            serving: KeyedLocks::default(),
            followed: RwLock::default(),
            job_offsets: RwLock::default(),
            #[cfg(feature = "kafka")]
            local_jobs: RwLock::default(),
            partition_progress: RwLock::default(),
            started: std::time::Instant::now(),
        })
    }

    /// Takes `charge` from the tenant's quota (`429 rate_limited` when it is used up).
    pub async fn charge(&self, tenant: &TenantId, charge: Charge) -> Result<()> {
        let now = self.now_ms();
        let info = self.tenancy.tenant(tenant, now).await?;
        self.tenancy.charge(tenant, &info.quota, charge, now)
    }

    /// Refuses at once (`429`) a tenant whose quota for `charge` is used up now, before its
    /// request is read: the quota is still charged in full by [`App::charge`] when it is not.
    pub async fn refuse_if_spent(&self, tenant: &TenantId, charge: Charge) -> Result<()> {
        let now = self.now_ms();
        let info = self.tenancy.tenant(tenant, now).await?;
        self.tenancy.refuse_if_empty(tenant, &info.quota, charge, now)
    }

    /// HTTP requests this process is running now, within `limits.max_concurrent_requests`.
    pub fn requests_in_flight(&self) -> usize {
        self.config.limits.max_concurrent_requests.max(1) - self.request_permits.available_permits()
    }

    /// Requests refused for their tenant's rate that are being held back now.
    pub fn refusals_held(&self) -> usize {
        crate::config::MAX_HELD_REFUSALS - self.held_refusals.available_permits()
    }

    /// Whether the realtime store is shared with other processes (Redis): then the caches in
    /// front of the document store check it, so every process sees a change at once.
    fn shared_cache(&self) -> bool {
        self.memory_realtime.is_none()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The scenario with its compiled pipeline; `NotFound` for unknown (or other tenants')
    /// scenarios.
    pub async fn scenario(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Arc<CompiledScenario>> {
        if self.shared_cache() {
            return self.shared_scenario(tenant, id).await;
        }
        let key = (tenant.clone(), id.clone());
        if let Some(compiled) = self.scenarios.read().get(&key) {
            telemetry::cache_lookup("scenario", true);
            return Ok(compiled.clone());
        }
        telemetry::cache_lookup("scenario", false);
        let generation = self.scenario_generation.load(Ordering::SeqCst);
        let scenario = self
            .sources
            .scenarios
            .scenario(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("scenario {:?}", id.as_str())))?;
        let compiled = Arc::new(compile(scenario, None)?);
        let mut cache = self.scenarios.write();
        if self.scenario_generation.load(Ordering::SeqCst) == generation {
            cache.insert(key, compiled.clone());
        }
        Ok(compiled)
    }

    /// The scenario through the shared cache `scenario:config:{tenant}:{scenario}` (SPEC §5.3:
    /// 1 h, replaced by every write). Each call reads the shared entry, so a change made through
    /// any process is seen by the next request here; the compiled pipeline is reused while the
    /// entry's text is unchanged. With the realtime store down, the last compiled version
    /// serves (SPEC §6.3: cached data when a dependency is unavailable).
    async fn shared_scenario(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Arc<CompiledScenario>> {
        let key = (tenant.clone(), id.clone());
        let cached = Cached::ScenarioConfig(tenant, id);
        let answer = self.realtime.cache_get(cached).await;
        telemetry::cache_lookup("scenario", matches!(answer, Ok(Some(_))));
        match answer {
            Ok(Some(json)) => {
                if let Some(compiled) = self.scenarios.read().get(&key)
                    && compiled.json.as_deref() == Some(json.as_str())
                {
                    return Ok(compiled.clone());
                }
                match serde_json::from_str::<Scenario>(&json) {
                    Ok(scenario) => {
                        let compiled = Arc::new(compile(scenario, Some(json))?);
                        self.scenarios.write().insert(key, compiled.clone());
                        return Ok(compiled);
                    }
                    Err(error) => {
                        tracing::warn!(%tenant, scenario = %id, %error, "unreadable cached scenario; reading the store")
                    }
                }
            }
            Ok(None) => {}
            Err(error) => {
                if let Some(compiled) = self.scenarios.read().get(&key) {
                    tracing::warn!(%tenant, scenario = %id, %error, "realtime store unavailable; serving the cached scenario");
                    return Ok(compiled.clone());
                }
            }
        }
        let Some(scenario) = self.sources.scenarios.scenario(tenant, id).await? else {
            self.scenarios.write().remove(&key);
            return Err(Error::not_found(format!("scenario {:?}", id.as_str())));
        };
        let json = serde_json::to_string(&scenario).map_err(Error::internal)?;
        // Only if absent: a writer may have put a newer version since the read above.
        if let Err(error) = self.realtime.cache_put(cached, &json, SCENARIO_CACHE_TTL_MS, true).await {
            tracing::warn!(%tenant, scenario = %id, %error, "cannot cache the scenario config");
        }
        let compiled = Arc::new(compile(scenario, Some(json))?);
        self.scenarios.write().insert(key, compiled.clone());
        Ok(compiled)
    }

    /// The scenario's incarnation (`Scenario::incarnation`), or `None` if it does not exist.
    pub async fn incarnation(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Option<u64>> {
        match self.scenario(tenant, id).await {
            Ok(compiled) => Ok(Some(compiled.scenario.incarnation)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Called after a scenario write: the next request, in this process and (through the shared
    /// cache) in every other, compiles the new version.
    pub async fn scenario_saved(&self, tenant: &TenantId, scenario: &Scenario) -> Result<()> {
        self.forget_scenario(tenant, &scenario.scenario_id);
        if self.shared_cache() {
            let json = serde_json::to_string(scenario).map_err(Error::internal)?;
            self.realtime
                .cache_put(Cached::ScenarioConfig(tenant, &scenario.scenario_id), &json, SCENARIO_CACHE_TTL_MS, false)
                .await?;
        }
        Ok(())
    }

    fn forget_scenario(&self, tenant: &TenantId, id: &ScenarioId) {
        let mut cache = self.scenarios.write();
        self.scenario_generation.fetch_add(1, Ordering::SeqCst);
        cache.remove(&(tenant.clone(), id.clone()));
        drop(cache);
        self.experiment_changed(tenant, id);
    }

    /// Called after an experiment of the scenario was written by this process.
    pub fn experiment_changed(&self, tenant: &TenantId, id: &ScenarioId) {
        let mut cache = self.experiments.write();
        self.experiment_generation.fetch_add(1, Ordering::SeqCst);
        cache.remove(&(tenant.clone(), id.clone()));
    }

    /// The scenario's running experiment, compiled per group against `compiled`'s config; `None`
    /// when none runs. (Whether it assigns at a given moment is `LiveExperiment::assign`'s call.)
    pub async fn live_experiment(
        &self,
        tenant: &TenantId,
        compiled: &CompiledScenario,
    ) -> Result<Option<Arc<LiveExperiment>>> {
        let id = &compiled.scenario.scenario_id;
        let key = (tenant.clone(), id.clone());
        let cached = |app: &App| {
            let experiments = app.experiments.read();
            let entry = experiments.get(&key).filter(|e| e.scenario_version == compiled.scenario.version)?;
            let fresh = !app.shared_cache() || entry.loaded.elapsed() < app.follow_interval();
            Some((entry.live.clone(), fresh))
        };
        if let Some((live, true)) = cached(self) {
            return Ok(live);
        }
        // One read per scenario at a time. While it runs, the other requests answer with what
        // was read before (stale while revalidating); only without any entry do they wait.
        let slot = self.experiment_reads.of(&key);
        let _reading = match (cached(self), slot.try_lock()) {
            (_, Ok(guard)) => guard,
            (Some((live, _)), Err(_)) => return Ok(live),
            (None, Err(_)) => slot.lock().await,
        };
        let stale = match cached(self) {
            Some((live, true)) => return Ok(live),
            Some((live, false)) => Some(live),
            None => None,
        };
        let generation = self.experiment_generation.load(Ordering::SeqCst);
        let experiments = match self.sources.scenarios.experiments(tenant, id).await {
            Ok(experiments) => experiments,
            // SPEC §6.3: with the source down, what was read before still serves.
            Err(error) if stale.is_some() => {
                tracing::warn!(%tenant, scenario = %id, %error, "cannot read the experiments; serving the last ones read");
                return Ok(stale.flatten());
            }
            Err(error) => return Err(error),
        };
        let running = experiments.into_iter().find(|e| e.status == polyrec_core::ExperimentStatus::Running);
        let live = match running {
            None => None,
            Some(experiment) => {
                let name = experiment.experiment_id.clone();
                match LiveExperiment::compile(compiled, experiment) {
                    Ok(live) => Some(Arc::new(live)),
                    // The scenario's config changed so that a group's patch no longer fits:
                    // every user gets the scenario's own config until the experiment is fixed.
                    Err(error) => {
                        tracing::error!(tenant = %tenant, scenario = %id, experiment = %name, %error,
                            "a running experiment's group does not compile against the current config; not assigning");
                        None
                    }
                }
            }
        };
        let mut cache = self.experiments.write();
        if self.experiment_generation.load(Ordering::SeqCst) == generation {
            let entry = ExperimentEntry {
                live: live.clone(),
                scenario_version: compiled.scenario.version,
                loaded: std::time::Instant::now(),
            };
            cache.insert(key, entry);
        }
        Ok(live)
    }

    /// Called after a scenario is deleted: its caches go too.
    pub async fn scenario_deleted(&self, tenant: &TenantId, id: &ScenarioId) -> Result<()> {
        let key = (tenant.clone(), id.clone());
        self.forget_scenario(tenant, id);
        if self.shared_cache() {
            self.realtime.cache_delete(Cached::ScenarioConfig(tenant, id)).await?;
        }
        self.catalogs.write().remove(&key);
        self.models.write().remove(&key);
        self.vectors.drop_scenario(tenant, id).await?;
        self.profile_generation.fetch_add(1, Ordering::SeqCst);
        let (tenant, id) = (tenant.clone(), id.clone());
        self.profiles
            .invalidate_entries_if(move |(t, _, s), _| *t == tenant && *s == id)
            .map_err(|e| Error::internal(format!("profile cache: {e}")))?;
        Ok(())
    }

    fn catalog_slot(&self, tenant: &TenantId, id: &ScenarioId) -> Arc<CatalogSlot> {
        let key = (tenant.clone(), id.clone());
        if let Some(slot) = self.catalogs.read().get(&key) {
            return slot.clone();
        }
        self.catalogs.write().entry(key).or_default().clone()
    }

    /// The current catalog snapshot of a scenario, loading it on first use.
    pub async fn catalog(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Arc<Catalog>> {
        let slot = self.catalog_slot(tenant, id);
        if self.shared_cache() {
            self.check_catalog_version(tenant, id, &slot).await;
        }
        // The request path: loaded and unchanged since the last build, no lock to take.
        if slot.loaded.load(Ordering::SeqCst) && !slot.dirty.load(Ordering::SeqCst) {
            return Ok(slot.snapshot.read().clone());
        }
        let mut items = slot.items.lock().await;
        if items.is_none() {
            let loaded = self.sources.items.scan_items(tenant, id).await?;
            *items = Some(loaded.into_iter().map(|item| (item.item_id.to_string(), Arc::new(item))).collect());
            slot.dirty.store(true, Ordering::SeqCst);
        }
        if slot.dirty.swap(false, Ordering::SeqCst) {
            let built = Arc::new(Catalog::build(items.iter().flat_map(|map| map.values().cloned())));
            *slot.snapshot.write() = built;
            slot.loaded.store(true, Ordering::SeqCst);
        }
        Ok(slot.snapshot.read().clone())
    }

    /// With stores shared between processes: at most every `services.follow_ms`, compares the
    /// catalog with the shared version and, when another process has written items since, drops
    /// it so this call reloads it from the document store.
    async fn check_catalog_version(&self, tenant: &TenantId, id: &ScenarioId, slot: &CatalogSlot) {
        // 1 at the earliest, so 0 keeps meaning "never checked".
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let checked = slot.checked_ms.load(Ordering::SeqCst);
        if (checked != 0 && now.saturating_sub(checked) < self.config.services.follow_ms)
            || slot.checked_ms.compare_exchange(checked, now, Ordering::SeqCst, Ordering::SeqCst).is_err()
        {
            return;
        }
        let shared = match self.realtime.catalog_version(tenant, id).await {
            Ok(version) => version,
            Err(error) => {
                tracing::debug!(%tenant, scenario = %id, %error, "catalog version unavailable; keeping the catalog");
                return;
            }
        };
        if shared != slot.version.load(Ordering::SeqCst) {
            let mut items = slot.items.lock().await;
            *items = None;
            slot.version.store(shared, Ordering::SeqCst);
            slot.dirty.store(true, Ordering::SeqCst);
        }
    }

    /// After this process wrote items: with shared stores, bumps the shared version so other
    /// processes reload; this catalog is current unless another process wrote in between.
    async fn catalog_written(&self, tenant: &TenantId, id: &ScenarioId, slot: &CatalogSlot) {
        if !self.shared_cache() {
            return;
        }
        match self.realtime.bump_catalog_version(tenant, id).await {
            Ok(version) => {
                let _ = slot.version.compare_exchange(version - 1, version, Ordering::SeqCst, Ordering::SeqCst);
            }
            Err(error) => tracing::warn!(%tenant, scenario = %id, %error,
                "cannot bump the catalog version; other processes see the item change on restart"),
        }
    }

    /// Called after items were written: a loaded catalog takes them in.
    pub async fn catalog_upsert(&self, tenant: &TenantId, id: &ScenarioId, written: &[Item]) {
        let slot = self.catalog_slot(tenant, id);
        {
            let mut items = slot.items.lock().await;
            if let Some(map) = items.as_mut() {
                for item in written {
                    map.insert(item.item_id.to_string(), Arc::new(item.clone()));
                }
                slot.dirty.store(true, Ordering::SeqCst);
            }
        }
        self.catalog_written(tenant, id, &slot).await;
    }

    pub async fn catalog_remove(&self, tenant: &TenantId, id: &ScenarioId, item_id: &str) {
        let slot = self.catalog_slot(tenant, id);
        {
            let mut items = slot.items.lock().await;
            if let Some(map) = items.as_mut() {
                map.remove(item_id);
                slot.dirty.store(true, Ordering::SeqCst);
            }
        }
        self.catalog_written(tenant, id, &slot).await;
    }

    /// How long a process serves its copies of what other processes may change (a running
    /// experiment, a catalog's version, the serving models) before asking again.
    fn follow_interval(&self) -> Duration {
        Duration::from_millis(self.config.services.follow_ms)
    }

    /// With stores shared between processes: at most every `services.follow_ms` per scenario,
    /// brings this process's serving models in line with what other processes changed: the
    /// versions the registry serves when the serving-models mark changed (an activation or
    /// rollback elsewhere), and the ranker the config asks for when the config changed (a
    /// `rank.version` pin set elsewhere). Requests of the scenario wait while it loads.
    pub async fn follow_models(&self, tenant: &TenantId, id: &ScenarioId) {
        if !self.shared_cache() {
            return;
        }
        let key = (tenant.clone(), id.clone());
        let fresh = |followed: &Followed| {
            let now = self.started.elapsed().as_millis() as u64 + 1;
            followed.checked != 0 && now.saturating_sub(followed.checked) < self.config.services.follow_ms
        };
        let known = self.followed.read().get(&key).cloned();
        let slot = match known {
            Some(slot) if fresh(&slot.state.lock()) => return,
            Some(slot) => slot,
            None => self.followed.write().entry(key).or_default().clone(),
        };
        let _following = slot.running.lock().await;
        let seen = slot.state.lock().clone();
        if fresh(&seen) {
            return; // Another request followed while this one waited.
        }
        let mark = match self.realtime.cache_get(Cached::ServingModels(tenant, id)).await {
            Ok(mark) => mark,
            Err(error) => {
                tracing::debug!(%tenant, scenario = %id, %error, "serving-models mark unavailable; keeping the models");
                return;
            }
        };
        let config_version = self.scenario(tenant, id).await.ok().map(|c| c.scenario.version);
        let result = if mark.is_some() && mark != seen.mark {
            crate::service::models::follow(self, tenant, id).await.map(|loaded| {
                if loaded > 0 {
                    tracing::info!(%tenant, scenario = %id, loaded, "serving the versions another process activated");
                }
            })
        } else if config_version != seen.config_version && seen.checked != 0 {
            crate::service::models::sync_ranker(self, tenant, id).await
        } else {
            Ok(())
        };
        if let Err(error) = result {
            tracing::warn!(%tenant, scenario = %id, %error, "could not follow the model registry");
        }
        let checked = self.started.elapsed().as_millis() as u64 + 1;
        *slot.state.lock() = Followed { checked, mark, config_version };
    }

    /// Called after this process changed a scenario's serving models (an activation, a
    /// rollback): with shared stores, replaces the mark other processes follow.
    pub async fn serving_changed(&self, tenant: &TenantId, id: &ScenarioId) {
        if !self.shared_cache() {
            return;
        }
        let mark = uuid::Uuid::new_v4().simple().to_string();
        // This process serves the change already.
        let slot = self.followed.write().entry((tenant.clone(), id.clone())).or_default().clone();
        slot.state.lock().mark = Some(mark.clone());
        if let Err(error) =
            self.realtime.cache_put(Cached::ServingModels(tenant, id), &mark, SERVING_MARK_TTL_MS, false).await
        {
            tracing::warn!(%tenant, scenario = %id, %error,
                "cannot publish the model change; other processes follow it at their next schedule tick");
        }
    }

    /// The scenario's trained models, if any.
    pub fn scenario_models(&self, tenant: &TenantId, id: &ScenarioId) -> Option<Arc<ScenarioModels>> {
        self.models.read().get(&(tenant.clone(), id.clone())).cloned()
    }

    /// Replaces the scenario's snapshot with a changed copy; requests already running keep the
    /// snapshot they read. Returns the snapshot it replaced.
    pub fn update_models(
        &self,
        tenant: &TenantId,
        id: &ScenarioId,
        change: impl FnOnce(&mut ScenarioModels),
    ) -> Option<Arc<ScenarioModels>> {
        let mut models = self.models.write();
        let key = (tenant.clone(), id.clone());
        let mut next = models.get(&key).map(|m| (**m).clone()).unwrap_or_default();
        change(&mut next);
        models.insert(key, Arc::new(next))
    }

    /// Waits for any training of the scenario in this process to finish; the guard holds off
    /// the next one until dropped.
    pub async fn training_slot(&self, tenant: &TenantId, id: &ScenarioId) -> tokio::sync::OwnedMutexGuard<()> {
        let slot = self.training.of(&(tenant.clone(), id.clone()));
        slot.lock_owned().await
    }

    /// Waits for any change of the scenario's serving versions in this process (install, then
    /// the registry's record of it) to finish; the guard holds off the next one until dropped.
    pub async fn serving_slot(&self, tenant: &TenantId, id: &ScenarioId) -> tokio::sync::OwnedMutexGuard<()> {
        let slot = self.serving.of(&(tenant.clone(), id.clone()));
        slot.lock_owned().await
    }

    /// Installs a trained CF model; `event_count` is the scenario's warehouse count it was trained on.
    pub fn set_cf_model(&self, tenant: &TenantId, id: &ScenarioId, model: CfModel, event_count: u64) {
        self.update_models(tenant, id, |models| {
            models.cf = Some(Arc::new(model));
            models.trained_on_events = Some(event_count);
        });
    }

    /// The warehouse event count the scenario's CF model was trained on, if any.
    pub fn cf_trained_at(&self, tenant: &TenantId, id: &ScenarioId) -> Option<u64> {
        self.scenario_models(tenant, id)?.trained_on_events
    }

    /// The user's profile, from the cache or the document store.
    pub async fn profile(&self, tenant: &TenantId, user: &UserId, id: &ScenarioId) -> Result<Option<Arc<UserProfile>>> {
        if self.shared_cache() {
            return self.shared_profile(tenant, user, id).await;
        }
        let key = (tenant.clone(), user.clone(), id.clone());
        let now = self.now_ms();
        if let Some((profile, expires)) = self.profiles.get(&key)
            && expires > now
        {
            telemetry::cache_lookup("profile", true);
            return Ok(profile.clone());
        }
        telemetry::cache_lookup("profile", false);
        let generation = self.profile_generation.load(Ordering::SeqCst);
        let profile = self.sources.features.profile(tenant, user, id).await?.map(Arc::new);
        if self.profile_generation.load(Ordering::SeqCst) != generation {
            return Ok(profile); // A write raced this read: answer, but do not cache.
        }
        self.profiles.insert(key, (profile.clone(), now + PROFILE_TTL_MS));
        Ok(profile)
    }

    /// The profile through the shared cache `user:profile:{tenant}:{user}:{scenario}` (1 h),
    /// which the profile job (in whichever process runs it) replaces on every write.
    async fn shared_profile(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &ScenarioId,
    ) -> Result<Option<Arc<UserProfile>>> {
        let cached = Cached::UserProfile(tenant, user, id);
        let answer = self.realtime.cache_get(cached).await;
        telemetry::cache_lookup("profile", matches!(answer, Ok(Some(_))));
        match answer {
            Ok(Some(json)) if json == "null" => return Ok(None),
            Ok(Some(json)) => match serde_json::from_str::<UserProfile>(&json) {
                Ok(profile) => return Ok(Some(Arc::new(profile))),
                Err(error) => tracing::warn!(%tenant, %user, %error, "unreadable cached profile; reading the store"),
            },
            Ok(None) => {}
            // Without the cache the document store still answers.
            Err(error) => tracing::debug!(%tenant, %user, %error, "profile cache unavailable"),
        }
        let profile = self.sources.features.profile(tenant, user, id).await?;
        let json = serde_json::to_string(&profile).map_err(Error::internal)?;
        if let Err(error) = self.realtime.cache_put(cached, &json, PROFILE_TTL_MS, true).await {
            tracing::debug!(%tenant, %user, %error, "cannot cache the profile");
        }
        Ok(profile.map(Arc::new))
    }

    /// Stores profiles in one write and puts them in the cache.
    pub async fn put_profiles(&self, tenant: &TenantId, profiles: Vec<UserProfile>) -> Result<()> {
        self.documents.put_profiles(tenant, &profiles).await?;
        if self.shared_cache() {
            for profile in &profiles {
                let json = serde_json::to_string(profile).map_err(Error::internal)?;
                let cached = Cached::UserProfile(tenant, &profile.user_id, &profile.scenario_id);
                self.realtime.cache_put(cached, &json, PROFILE_TTL_MS, false).await?;
            }
            return Ok(());
        }
        let expires = self.now_ms() + PROFILE_TTL_MS;
        self.profile_generation.fetch_add(1, Ordering::SeqCst);
        for profile in profiles {
            let key = (tenant.clone(), profile.user_id.clone(), profile.scenario_id.clone());
            self.profiles.insert(key, (Some(Arc::new(profile)), expires));
        }
        Ok(())
    }

    /// The shared progress counter of a job (created on first use).
    pub fn job_offset(&self, job: &'static str) -> Arc<AtomicU64> {
        self.job_offsets.write().entry(job).or_default().clone()
    }

    /// Publishes a stream job's output, `(key, value)` records, to a derived topic of SPEC §3.3 (`user-profile-updates`,
    /// `item-stats-updates`, `recommendation-metrics`) for other consumers, when the bus is
    /// Kafka; the embedded bus has no derived topics. Keyed `{tenant}:{…}`; the values are
    /// absolute (a whole profile, a whole contribution), so a replay's re-delivery is harmless.
    pub async fn publish_derived(&self, topic: &str, records: &[(String, serde_json::Value)]) -> Result<()> {
        #[cfg(feature = "kafka")]
        if let Some(kafka) = &self.kafka {
            let payloads = records
                .iter()
                .map(|(key, value)| Ok((key.clone(), serde_json::to_vec(value).map_err(Error::internal)?)))
                .collect::<Result<Vec<_>>>()?;
            return kafka.publish(topic, &payloads).await;
        }
        let _ = (topic, records);
        Ok(())
    }

    /// Records a Kafka job's progress on one partition (see `partition_progress`).
    pub fn set_partition_progress(&self, job: &'static str, topic: &str, partition: i32, next: u64) {
        self.partition_progress.write().insert((job, topic.to_owned(), partition), next);
    }

    /// How far each stream job running in this process is behind the bus, in events: the
    /// embedded log's end minus the job's offset, or on Kafka the sum over the partitions the
    /// job holds of their end minus its next offset. Jobs that do not run here are left out.
    pub async fn stream_lag(&self) -> Result<Vec<(&'static str, u64)>> {
        if let Some(log) = &self.log {
            let end = log.end_offset().await?;
            let offsets = self.job_offsets.read();
            return Ok(offsets.iter().map(|(job, at)| (*job, end.saturating_sub(at.load(Ordering::SeqCst)))).collect());
        }
        #[cfg(feature = "kafka")]
        if let Some(kafka) = &self.kafka {
            let marks = kafka.end_offsets().await?;
            let progress = self.partition_progress.read();
            let mut lag: HashMap<&'static str, u64> = HashMap::new();
            for ((job, topic, partition), next) in progress.iter() {
                let high = marks.iter().find(|(t, p, _)| t == topic && p == partition).map_or(0, |(_, _, high)| *high);
                *lag.entry(*job).or_default() += (high - *next as i64).max(0) as u64;
            }
            return Ok(lag.into_iter().collect());
        }
        Ok(Vec::new())
    }

    /// Waits until every job has processed everything on the bus when called, or `timeout`.
    /// Returns whether they caught up.
    pub async fn wait_for_jobs(&self, timeout: Duration) -> Result<bool> {
        self.wait_for(None, timeout).await
    }

    /// Waits until one job has processed everything on the bus when called, or `timeout`.
    pub async fn wait_for_job(&self, job: &'static str, timeout: Duration) -> Result<bool> {
        self.wait_for(Some(job), timeout).await
    }

    async fn wait_for(&self, job: Option<&'static str>, timeout: Duration) -> Result<bool> {
        if let Some(log) = &self.log {
            let target = log.end_offset().await?;
            return Ok(wait_until(timeout, || {
                let offsets = self.job_offsets.read();
                match job {
                    Some(job) => offsets.get(job).is_some_and(|o| o.load(Ordering::SeqCst) >= target),
                    None => !offsets.is_empty() && offsets.values().all(|o| o.load(Ordering::SeqCst) >= target),
                }
            })
            .await);
        }
        #[cfg(feature = "kafka")]
        if let Some(kafka) = &self.kafka {
            // Every partition's end when called; a partition nobody has read yet counts as behind
            // unless it is empty.
            let marks = kafka.end_offsets().await?;
            let jobs: &[&'static str] = match &job {
                Some(job) => std::slice::from_ref(job),
                None => &crate::jobs::STREAM_JOBS,
            };
            let caught_up = |job: &'static str, progress: &dyn Fn(&String, i32) -> Option<i64>| {
                marks
                    .iter()
                    .all(|(topic, partition, high)| {
                        *high <= 0 || progress(topic, *partition).is_some_and(|next| next >= *high)
                    })
                    .then_some(job)
            };
            let deadline = tokio::time::Instant::now() + timeout;
            let partitions: Vec<(String, i32)> = marks.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
            let mut remaining: Vec<&'static str> = jobs.to_vec();
            let mut asked = tokio::time::Instant::now();
            loop {
                // The jobs this process runs say how far they are…
                remaining.retain(|job| {
                    let progress = self.partition_progress.read();
                    let ours = |topic: &String, partition: i32| {
                        progress.get(&(*job, topic.clone(), partition)).map(|next| *next as i64)
                    };
                    caught_up(job, &ours).is_none()
                });
                if remaining.is_empty() {
                    return Ok(true);
                }
                // …and the group's committed offsets say it for the jobs other processes run
                // (a split deployment's worker), a few times a second.
                if asked.elapsed() >= Duration::from_millis(200) {
                    asked = tokio::time::Instant::now();
                    let mut still = Vec::new();
                    for job in remaining {
                        if self.local_jobs.read().contains(job) {
                            still.push(job);
                            continue;
                        }
                        let committed = kafka.committed(job, &partitions).await.unwrap_or_default();
                        let theirs = |topic: &String, partition: i32| {
                            committed.iter().find(|((t, p), _)| t == topic && *p == partition).map(|(_, o)| *o)
                        };
                        if caught_up(job, &theirs).is_none() {
                            still.push(job);
                        }
                    }
                    remaining = still;
                    if remaining.is_empty() {
                        return Ok(true);
                    }
                }
                if tokio::time::Instant::now() >= deadline {
                    return Ok(false);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Ok(true)
    }
}

/// Polls `done` every 10 ms until it holds (true) or `timeout` passes (false).
async fn wait_until(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

fn compile(scenario: Scenario, json: Option<String>) -> Result<CompiledScenario> {
    // Configs are validated before they are saved, so this fails only if the stored document
    // predates a change of the registry; say so rather than serve a half pipeline.
    let pipeline = Pipeline::compile(&scenario.config).map_err(|errors| {
        Error::internal(format!(
            "stored config of scenario {} no longer compiles: {}",
            scenario.scenario_id,
            errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; ")
        ))
    })?;
    Ok(CompiledScenario { scenario, pipeline, json })
}
