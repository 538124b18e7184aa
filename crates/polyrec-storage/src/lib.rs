//! Storage by purpose (DESIGN §2): one trait per purpose, an embedded backend for each, and the
//! production engine behind the same trait (`production/`, each behind its cargo feature).
//!
//! | purpose | trait | embedded backend | production engine |
//! |---|---|---|---|
//! | configuration documents: scenarios, items, user profiles, model versions, training jobs, dead letters | [`DocumentStore`] | SQLite, `documents.db` | MongoDB |
//! | model artifacts | [`BlobStore`] | a directory | |
//! | the behavior stream | [`EventBus`] | SQLite append-only log with consumer offsets, `events.db` | Kafka |
//! | behavior analytics | [`Warehouse`] | SQLite raw events + rollups, `warehouse.db` | ClickHouse |
//! | hot data: hot sets, exposure sets, counters | [`RealtimeStore`] | in memory, Redis semantics (TTL, sorted sets) | Redis |
//! | item vectors | [`VectorIndex`] | in process (exact scan, HNSW) | Milvus |
//!
//! **Architecture invariant:** every stored row, key and topic carries the tenant, and every
//! method of the request path takes the tenant first, so none of them can reach another tenant's
//! data. The stream side works across tenants by design (as a Kafka consumer of
//! `user-behaviors-*` does): the bus's read, offset and retention methods,
//! [`Warehouse::insert`] and [`DocumentStore::all_scenarios`]. Only this crate knows a database
//! client, with one exception today: the server's Kafka consumer loop
//! (`polyrec-server/src/jobs/kafka.rs`) drives rdkafka itself (issue 16 moves it behind a trait
//! here).
//!
//! Each embedded SQLite file has its own write lock, so ingestion (bus), analytics (warehouse)
//! and configuration writes (documents) never wait for each other.

use polyrec_core::Code;
use std::collections::HashMap;

use async_trait::async_trait;
use polyrec_core::{
    DeadLetter, Event, Experiment, Item, ItemId, JobRecord, ModelRecord, Result, Scenario, ScenarioId, TenantId,
    UserId, UserProfile,
};

pub mod blob;
pub mod embedded;
pub mod keys;
mod open;
pub mod production;
pub mod stream;
pub mod vector;

pub use blob::{BlobStore, DirBlobs};
pub use embedded::{Durability, MemoryRealtime, SqliteDocuments, SqliteEventBus, SqliteWarehouse};
pub use open::{StorageConfig, Stores};
pub use stream::{Partition, StreamLog, Subscription};
pub use vector::{HnswParams, IvfIndex, IvfParams, VectorCollection, VectorIndex};

/// What an upsert did to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
}

/// Filters of the item listing. `cursor` is the last `item_id` of the previous page.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    pub category: Option<String>,
    pub status: Option<polyrec_core::ItemStatus>,
    pub updated_since_ms: Option<i64>,
    pub cursor: Option<String>,
    pub limit: usize,
}

/// How many versions of a scenario its history keeps: each insert and replace keeps one and
/// drops those `SCENARIO_VERSIONS_KEPT` or more behind it. A config is up to 256 KiB, so a
/// scenario's history holds at most about 25 MiB however often it is changed.
pub const SCENARIO_VERSIONS_KEPT: u64 = 100;

/// The document store's scenarios and their version history.
#[async_trait]
pub trait ScenarioStore: Send + Sync {
    /// Inserts a new scenario; `Conflict` if the id is taken for this tenant.
    async fn insert_scenario(&self, tenant: &TenantId, scenario: &Scenario) -> Result<()>;
    async fn get_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<Option<Scenario>>;
    async fn list_scenarios(&self, tenant: &TenantId) -> Result<Vec<Scenario>>;
    /// The newest `limit` stored versions of a scenario (each insert and replace keeps one, up
    /// to [`SCENARIO_VERSIONS_KEPT`]), newest first; empty for an unknown scenario. Deleting the
    /// scenario deletes its history.
    async fn scenario_history(&self, tenant: &TenantId, scenario: &ScenarioId, limit: usize) -> Result<Vec<Scenario>>;
    /// Replaces a scenario if its stored version is `expected_version` (optimistic concurrency).
    async fn replace_scenario(&self, tenant: &TenantId, scenario: &Scenario, expected_version: u64) -> Result<()>;
    /// Deletes a scenario with its items and profiles. Returns false if there was none.
    async fn delete_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<bool>;
    /// Every (tenant, scenario) pair, for background jobs that walk all tenants.
    async fn all_scenarios(&self) -> Result<Vec<(TenantId, Scenario)>>;
}

/// The document store's catalog items.
#[async_trait]
pub trait ItemStore: Send + Sync {
    /// Inserts or replaces items in one transaction. An item that existed keeps its
    /// `created_ms`; the items are returned as stored.
    async fn upsert_items(&self, tenant: &TenantId, items: Vec<Item>) -> Result<Vec<(Item, Upserted)>>;
    /// Inserts a new item; `Conflict` (`item_exists`) if the id is taken in the scenario.
    async fn insert_item(&self, tenant: &TenantId, item: &Item) -> Result<()>;
    async fn get_item(&self, tenant: &TenantId, scenario: &ScenarioId, item: &ItemId) -> Result<Option<Item>>;
    async fn delete_item(&self, tenant: &TenantId, scenario: &ScenarioId, item: &ItemId) -> Result<bool>;
    /// One page ordered by item id.
    async fn list_items(&self, tenant: &TenantId, scenario: &ScenarioId, filter: &ItemFilter) -> Result<Vec<Item>>;
    /// Every item of a scenario, to build the in-memory catalog.
    async fn scan_items(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<Vec<Item>>;
}

/// The document store's user profiles.
#[async_trait]
pub trait ProfileStore: Send + Sync {
    async fn get_profile(&self, tenant: &TenantId, user: &UserId, scenario: &ScenarioId)
    -> Result<Option<UserProfile>>;
    /// Stores profiles (insert or replace) in one transaction.
    async fn put_profiles(&self, tenant: &TenantId, profiles: &[UserProfile]) -> Result<()>;
}

/// The document store's model registry (`model_configs`).
#[async_trait]
pub trait ModelStore: Send + Sync {
    /// Registers a model version (`model_configs`); `Conflict` (`model_version_exists`) if the
    /// (scenario, model name, sequence) is taken.
    async fn insert_model(&self, tenant: &TenantId, model: &ModelRecord) -> Result<()>;
    /// Rewrites a registered version (its status and activation time); `NotFound` if absent.
    async fn replace_model(&self, tenant: &TenantId, model: &ModelRecord) -> Result<()>;
    /// A scenario's model versions, of one model or of all: by name, newest first.
    async fn list_models(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        name: Option<&str>,
    ) -> Result<Vec<ModelRecord>>;
}

/// The document store's A/B experiments.
#[async_trait]
pub trait ExperimentStore: Send + Sync {
    /// Inserts an experiment; `Conflict` (`experiment_exists`) if its id is taken in the scenario.
    async fn insert_experiment(&self, tenant: &TenantId, experiment: &Experiment) -> Result<()>;
    async fn get_experiment(&self, tenant: &TenantId, scenario: &ScenarioId, id: &str) -> Result<Option<Experiment>>;
    /// A scenario's experiments (or all of the tenant's), by scenario and id.
    async fn list_experiments(&self, tenant: &TenantId, scenario: Option<&ScenarioId>) -> Result<Vec<Experiment>>;
    /// Replaces an experiment if its stored version is `expected_version`; `Conflict`
    /// (`version_conflict`) if it changed meanwhile, `NotFound` if it is gone.
    async fn replace_experiment(&self, tenant: &TenantId, experiment: &Experiment, expected_version: u64)
    -> Result<()>;
    async fn delete_experiment(&self, tenant: &TenantId, scenario: &ScenarioId, id: &str) -> Result<bool>;
}

/// The document store's training jobs (`training_jobs`).
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Inserts or replaces a training job's record.
    async fn put_job(&self, tenant: &TenantId, job: &JobRecord) -> Result<()>;
    async fn get_job(&self, tenant: &TenantId, job_id: &str) -> Result<Option<JobRecord>>;
    /// A tenant's jobs, of one scenario or of all, newest first.
    async fn list_jobs(&self, tenant: &TenantId, scenario: Option<&ScenarioId>, limit: usize)
    -> Result<Vec<JobRecord>>;
    /// The job queue's work, oldest first, at most `limit`, of every tenant but those in
    /// `except`: unfinished jobs that are queued, or running with a heartbeat older than
    /// `lease_before` (their worker is gone: they are claimed again or, past their attempts,
    /// failed).
    async fn pending_jobs(
        &self,
        lease_before: i64,
        except: &[TenantId],
        limit: usize,
    ) -> Result<Vec<(TenantId, JobRecord)>>;
    /// How many of a tenant's jobs are unfinished (queued or running).
    async fn count_unfinished_jobs(&self, tenant: &TenantId) -> Result<u64>;
    /// How many of a tenant's jobs are running with a heartbeat at or after `lease_before`
    /// (their worker is alive).
    async fn count_running_jobs(&self, tenant: &TenantId, lease_before: i64) -> Result<u64>;
    /// Compare-and-swap: writes `job` only if the stored record's `revision` is `expected` (or,
    /// with `None`, only if there is no record with its id). Returns whether it wrote. A record
    /// without a `revision` field counts as revision 0.
    async fn swap_job(&self, tenant: &TenantId, job: &JobRecord, expected: Option<u64>) -> Result<bool>;
}

/// The document store's dead letters: events a stream job could not apply (`jobs::dead_letters`).
#[async_trait]
pub trait DeadLetterStore: Send + Sync {
    /// Stores dead letters, each under its tenant (the stream side writes across tenants); a
    /// letter with an id already stored replaces it.
    async fn put_dead_letters(&self, letters: &[DeadLetter]) -> Result<()>;
    /// A tenant's dead letters in id order, those of one job or all, after the id `after`.
    async fn list_dead_letters(
        &self,
        tenant: &TenantId,
        job: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>>;
    /// These dead letters of the tenant (the ids it has; unknown ones are left out), in id order.
    async fn get_dead_letters(&self, tenant: &TenantId, ids: &[String]) -> Result<Vec<DeadLetter>>;
    /// How many dead letters the tenant has.
    async fn count_dead_letters(&self, tenant: &TenantId) -> Result<u64>;
    /// Removes these dead letters of the tenant (after they were replayed).
    async fn delete_dead_letters(&self, tenant: &TenantId, ids: &[String]) -> Result<u64>;
    /// Removes every tenant's dead letters older than `before_ms` (retention).
    async fn trim_dead_letters(&self, before_ms: i64) -> Result<u64>;
}

/// Every collection of the document store (SPEC §4.1), one trait each; a backend implements
/// them all.
pub trait DocumentStore:
    ScenarioStore + ItemStore + ProfileStore + ModelStore + ExperimentStore + JobStore + DeadLetterStore
{
}

impl<T: ScenarioStore + ItemStore + ProfileStore + ModelStore + ExperimentStore + JobStore + DeadLetterStore>
    DocumentStore for T
{
}

/// How deep one user went into a funnel: `events` are the user's (time, type), oldest first
/// (ties in arrival order). An attempt starts at each first-step event; each later step must
/// come after the previous one and within `window_ms` of the attempt's start; the answer is the
/// deepest step any attempt reached (0 if none started).
///
/// One pass, O(events × steps): for each depth it keeps the latest start among the attempts
/// that reached it, since a later start leaves the most window for the steps still to come.
pub fn funnel_depth(
    events: impl IntoIterator<Item = (i64, polyrec_core::EventType)>,
    steps: &[polyrec_core::EventType],
    window_ms: i64,
) -> usize {
    // latest[d] = the latest start of an attempt that has reached depth d + 1.
    let mut latest: Vec<Option<i64>> = vec![None; steps.len()];
    for (at, kind) in events {
        // Deepest first, so one event advances an attempt by one step at most.
        for depth in (1..steps.len()).rev() {
            if steps[depth] == kind
                && let Some(start) = latest[depth - 1]
                && at - start <= window_ms
            {
                latest[depth] = latest[depth].max(Some(start));
            }
        }
        if steps.first() == Some(&kind) {
            latest[0] = Some(at);
        }
    }
    latest.iter().rposition(Option::is_some).map_or(0, |d| d + 1)
}

/// Adds `users` who went `depth` steps deep to per-step user counts (each step up to `depth`).
pub fn count_depth(reached: &mut [u64], depth: usize, users: u64) {
    for count in reached.iter_mut().take(depth) {
        *count += users;
    }
}

/// An analytics dimension kept in the hourly dimension rollup (`metrics_hourly_dims`): trends
/// and distributions can be cut by one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// The event context's `device_type` (or `device`).
    Device,
    /// The item's catalog category, stamped by the warehouse sink as `context.item_category`.
    Category,
    /// The experiment group, `{experiment_id}/{group}`, from the context the server stamps.
    Group,
}

/// The longest dimension value kept; longer ones are cut (they are labels, not data).
pub const MAX_DIMENSION_CHARS: usize = 64;

/// The most exposures kept per user and scenario (see [`RealtimeStore::add_exposed`]): four
/// answers of the largest `count`, a hundred pages of twenty. Impressions are what a tenant
/// sends, of any item id; without a bound one user's set could hold millions of members, each
/// answer for that user would read them all, and on Redis that read would block every tenant.
pub const MAX_EXPOSED: usize = 2_000;

impl Dimension {
    pub const ALL: [Dimension; 3] = [Dimension::Device, Dimension::Category, Dimension::Group];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Device => "device",
            Dimension::Category => "category",
            Dimension::Group => "group",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == raw)
    }

    /// The event's value of this dimension, if it has one. Both warehouses take it from here.
    pub fn of(self, event: &Event) -> Option<String> {
        let context = event.context.as_ref()?;
        let text = |key: &str| context.get(key).and_then(serde_json::Value::as_str).filter(|s| !s.is_empty());
        let value = match self {
            Dimension::Device => text("device_type").or_else(|| text("device"))?.to_owned(),
            Dimension::Category => text(ITEM_CATEGORY)?.to_owned(),
            Dimension::Group => format!("{}/{}", text("experiment_id")?, text("group")?),
        };
        Some(value.chars().take(MAX_DIMENSION_CHARS).collect())
    }
}

/// The context key under which the warehouse sink stamps the item's catalog category.
pub const ITEM_CATEGORY: &str = "item_category";

/// A stored event context (JSON text, possibly empty).
/// Runs `work` on the blocking pool: CPU work proportional to a tenant's data (parsing an
/// answer of millions of rows, indexing a vector collection) held up every task of the runtime
/// thread it ran on.
pub(crate) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(polyrec_core::Error::internal)
}

pub(crate) fn parse_context(text: Option<&str>) -> Result<serde_json::Map<String, serde_json::Value>> {
    match text.map(str::trim) {
        None | Some("") | Some("null") => Ok(serde_json::Map::new()),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| polyrec_core::Error::internal(format!("stored event context is not a JSON object: {e}"))),
    }
}

pub(crate) fn experiment_exists(id: &str) -> polyrec_core::Error {
    polyrec_core::Error::Conflict {
        code: Code::ExperimentExists,
        message: format!("experiment {id:?} exists already in this scenario; update it with PUT"),
    }
}

pub(crate) fn experiment_changed(id: &str, expected: u64) -> polyrec_core::Error {
    polyrec_core::Error::Conflict {
        code: Code::VersionConflict,
        message: format!(
            "experiment {id:?} was changed concurrently (expected version {expected}); read it again and retry"
        ),
    }
}

/// The conflict of two trainings that numbered their versions alike.
pub(crate) fn model_version_exists(name: &str, sequence: u64) -> polyrec_core::Error {
    polyrec_core::Error::Conflict {
        code: Code::ModelVersionExists,
        message: format!("model {name} has a version v{sequence} already (another training registered it first)"),
    }
}

/// A record read back from the bus: its offset and the event.
#[derive(Debug, Clone)]
pub struct BusRecord {
    pub offset: u64,
    pub event: Event,
}

/// The behavior stream (Kafka's role), as the behavior service sees it: topic
/// `user-behaviors-{tenant}`, key user id. `append` returns only once the events are durable: an
/// acknowledged event survives a crash.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Appends events (any tenants) and returns their offsets, in order (positions in the
    /// embedded log; offsets within each event's partition on Kafka).
    async fn append(&self, events: Vec<Event>) -> Result<Vec<u64>>;
    /// [`EventBus::append`] with each event's own outcome, for a bus that can take part of a
    /// batch (Kafka: each record is acknowledged on its own). The embedded bus appends a batch
    /// in one transaction: all or none.
    async fn append_each(&self, events: Vec<Event>) -> Result<Vec<Result<u64>>> {
        Ok(self.append(events).await?.into_iter().map(Ok).collect())
    }
    /// Whether an append that failed certainly stored nothing (a transaction rolled back), as
    /// opposed to a send that got no acknowledgement and may have been written (Kafka).
    fn failures_store_nothing(&self) -> bool {
        true
    }
    /// How many events a tenant has ever had acknowledged on the bus (retention does not lower it).
    async fn count(&self, tenant: &TenantId) -> Result<u64>;
    /// Whether the bus can be reached (readiness).
    async fn check(&self) -> Result<()>;
}

/// The embedded bus's consumer side: one totally ordered log with per-group offsets, read by
/// the in-process stream jobs. (On Kafka the jobs are consumer-group members instead.)
#[async_trait]
pub trait EventLog: EventBus {
    /// Reads up to `max` records with offset > `after`, in offset order.
    async fn read_after(&self, after: u64, max: usize) -> Result<Vec<BusRecord>>;
    /// The committed offset of a consumer group (0 if none).
    async fn committed(&self, group: &str) -> Result<u64>;
    async fn commit(&self, group: &str, offset: u64) -> Result<()>;
    /// The first offset whose event was received at or after `received_ms` (for replays of
    /// volatile sinks after a restart), minus one.
    async fn offset_before_received(&self, received_ms: i64) -> Result<u64>;
    /// The highest offset written.
    async fn end_offset(&self) -> Result<u64>;
    /// Retention (SPEC §3.3: 7 days): drops events received before `before_received_ms` that
    /// every durable consumer group has committed. Returns how many were dropped.
    async fn trim(&self, before_received_ms: i64) -> Result<u64>;
}

/// One user's summed interest in one item (for collaborative filtering).
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    pub user_id: String,
    pub item_id: String,
    pub weight: f64,
    pub last_ms: i64,
}

/// One behavior event as a trainer reads it back from the warehouse.
#[derive(Debug, Clone, PartialEq)]
pub struct BehaviorRow {
    pub user_id: String,
    pub item_id: String,
    pub event_type: polyrec_core::EventType,
    pub timestamp_ms: i64,
    pub value: Option<f64>,
    pub request_id: Option<String>,
    /// The event's free context object (device, location, …); empty if none.
    pub context: serde_json::Map<String, serde_json::Value>,
}

/// One experiment group's totals in the warehouse (events whose context names the experiment).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupTotals {
    pub group: String,
    /// Distinct users with any event.
    pub users: u64,
    pub impressions: u64,
    pub clicks: u64,
    pub orders: u64,
    /// Play and view events that carry a value (the watch time).
    pub watches: u64,
    pub watch_sum: f64,
    pub watch_sum_squares: f64,
    /// The values of order events (their price).
    pub revenue: f64,
}

/// One row of the hourly rollup (`metrics_hourly`): a scenario's events of one type in one hour.
#[derive(Debug, Clone, PartialEq)]
pub struct HourlyRow {
    pub hour_ms: i64,
    pub scenario_id: String,
    pub event_type: polyrec_core::EventType,
    pub events: u64,
    pub value_sum: f64,
}

/// Behavior analytics (ClickHouse's role): raw events and their rollups. The rollups'
/// readers arrive with the analytics service; here they back `count`.
#[async_trait]
pub trait Warehouse: Send + Sync {
    /// Inserts events, skipping any whose event id is already stored; returns how many were new.
    async fn insert(&self, records: &[BusRecord]) -> Result<usize>;
    async fn count(&self, tenant: &TenantId, scenario: Option<&ScenarioId>) -> Result<u64>;
    /// Positive interactions of a scenario since `since_ms`, summed per (user, item).
    async fn interactions(&self, tenant: &TenantId, scenario: &ScenarioId, since_ms: i64) -> Result<Vec<Interaction>>;
    /// A scenario's events of the given types since `since_ms`, oldest first (ties by event id),
    /// at most `limit` of them: the latest ones when there are more.
    async fn behaviors(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        since_ms: i64,
        types: &[polyrec_core::EventType],
        limit: usize,
    ) -> Result<Vec<BehaviorRow>>;
    /// A funnel over the events in `span` (ms, half-open): per step, how many users went through
    /// `steps` in order up to it, by [`funnel_depth`]'s rule. The embedded warehouse reads its
    /// per-user daily sequences; ClickHouse answers it in the query (`windowFunnel`, to the
    /// second).
    async fn funnel(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        steps: &[polyrec_core::EventType],
        window_ms: i64,
        span: std::ops::Range<i64>,
    ) -> Result<Vec<u64>>;
    /// Per group of an experiment, the totals of the events in `[since_ms, until_ms)` whose
    /// context names it (`experiment_id`, `group`), by group id.
    async fn experiment_totals(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        experiment: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<GroupTotals>>;
    /// The hourly rollup of the hours starting in `[from_ms, to_ms)`, of one scenario or all,
    /// by hour, scenario and event type.
    async fn hourly(
        &self,
        tenant: &TenantId,
        scenario: Option<&ScenarioId>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<HourlyRow>>;
    /// The hourly dimension rollup of the hours starting in `[from_ms, to_ms)`: like
    /// [`Warehouse::hourly`], cut by one dimension, as (dimension value, row). Events without a
    /// value for the dimension are not in it.
    async fn hourly_by(
        &self,
        tenant: &TenantId,
        scenario: Option<&ScenarioId>,
        dimension: Dimension,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, HourlyRow)>>;
    /// The daily item rollup (`item_stats_daily`): the `n` items with the most events of
    /// `event_type` in the days starting in `[from_ms, to_ms)`, most first (ties by id).
    async fn top_items(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        event_type: polyrec_core::EventType,
        from_ms: i64,
        to_ms: i64,
        n: usize,
    ) -> Result<Vec<(String, u64)>>;
    /// Deletes a scenario's events and rollups (the scenario was deleted).
    async fn drop_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<()>;
}

/// A JSON document cached in the realtime store with a TTL (SPEC §4.2, §5.3). The key is built
/// from the variant, so it always carries the tenant.
#[derive(Debug, Clone, Copy)]
pub enum Cached<'a> {
    /// `scenario:config:{tenant}:{scenario}` (1 h).
    ScenarioConfig(&'a TenantId, &'a ScenarioId),
    /// `user:profile:{tenant}:{user}:{scenario}` (1 h).
    UserProfile(&'a TenantId, &'a UserId, &'a ScenarioId),
    /// `lease:training:{tenant}:{scenario}`: held by the one process of a shared deployment that
    /// trains the scenario's registered models in a schedule round.
    TrainingLease(&'a TenantId, &'a ScenarioId),
    /// `models:serving:{tenant}:{scenario}`: a mark replaced by every activation or rollback, so
    /// processes that serve the scenario's models follow the registry at once.
    ServingModels(&'a TenantId, &'a ScenarioId),
    /// `recommend:{tenant:scenario}:{user}:{hash}`: an answer of the result cache. The embedded
    /// store holds at most [`embedded::MAX_CACHED_ANSWER_BYTES`] of them (past it, the tenant
    /// holding the most makes room from its answers that expire first; a put returns `false`
    /// when its answer was that room); Redis evicts by its own `maxmemory` policy.
    Recommendation(&'a TenantId, &'a ScenarioId, &'a UserId, u64),
}

impl Cached<'_> {
    pub fn key(&self) -> String {
        match self {
            Cached::ScenarioConfig(tenant, scenario) => keys::scenario_config(tenant, scenario),
            Cached::UserProfile(tenant, user, scenario) => keys::user_profile(tenant, user, scenario),
            Cached::TrainingLease(tenant, scenario) => keys::training_lease(tenant, scenario),
            Cached::ServingModels(tenant, scenario) => keys::serving_models(tenant, scenario),
            Cached::Recommendation(tenant, scenario, user, hash) => keys::recommendation(tenant, scenario, user, *hash),
        }
    }
}

/// Hot data with Redis semantics; every key is built by [`keys`] and carries the tenant.
#[async_trait]
pub trait RealtimeStore: Send + Sync {
    /// Whether other processes read and write this store too (Redis), so the caches in front of
    /// the document store must check it to see their changes; `false` for one process's own.
    fn is_shared(&self) -> bool;
    /// A cached document, if present and not expired.
    async fn cache_get(&self, key: Cached<'_>) -> Result<Option<String>>;
    /// Caches a document for `ttl_ms`. With `only_if_absent`, an entry already there wins: a
    /// reader filling the cache from the document store must not overwrite the fresher value a
    /// writer has put there meanwhile (writers put unconditionally). Returns whether it wrote
    /// (with `only_if_absent`, whether the key was free: a lease taken).
    async fn cache_put(&self, key: Cached<'_>, json: &str, ttl_ms: i64, only_if_absent: bool) -> Result<bool>;
    async fn cache_delete(&self, key: Cached<'_>) -> Result<()>;
    /// Claims clients' event ids (`ingest:{tenant}:{client_id}`, [`keys::ingested`]) before
    /// their events are appended: each `(client_id, event_id)` is set to `pending:{event_id}`
    /// for `ttl_ms` unless the id is held already. Per claim: `None` when it was claimed now,
    /// else what holds it (`pending:{event_id}` or `stored:{event_id}`).
    async fn claim_event_ids(
        &self,
        tenant: &TenantId,
        claims: &[(&str, &str)],
        ttl_ms: i64,
    ) -> Result<Vec<Option<String>>>;
    /// Settles this request's claims after the append, each `(client_id, event_id)`: the
    /// `stored` ones become `stored:{event_id}` for `ttl_ms` (the bus's retention), the
    /// `released` ones are freed for a retry — each only while it is still this request's
    /// (`pending:{event_id}`) or gone: a claim that expired and was taken by another request
    /// meanwhile is that request's to settle.
    async fn settle_event_ids(
        &self,
        tenant: &TenantId,
        stored: &[(&str, &str)],
        released: &[(&str, &str)],
        ttl_ms: i64,
    ) -> Result<()>;
    /// Counts events into `item:stats:{tenant}:{item}`: each `(offset, field)` adds one to the
    /// field unless this source has counted that offset (or a later one) already. The source's
    /// last offset is stored with the counts, atomically, so a replay counts nothing twice. A
    /// source's offsets must grow (one partition, or the embedded log, read in order). Both keys
    /// expire [`keys::ITEM_STATS_TTL_MS`] after the last add.
    async fn add_item_stats(&self, tenant: &TenantId, item: &str, source: &str, events: &[(u64, String)])
    -> Result<()>;
    /// An item's running counts.
    async fn item_stats(&self, tenant: &TenantId, item: &str) -> Result<HashMap<String, u64>>;
    /// The version of a scenario's catalog (`catalog:version:{tenant}:{scenario}`), 0 if never
    /// bumped.
    async fn catalog_version(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<u64>;
    /// Bumps it after an item write and returns the new version.
    async fn bump_catalog_version(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<u64>;

    /// Sets one source's contribution to the hot set `hot:items:{tenant}:{scenario}`: the set's
    /// score of an item is the sum over sources of their latest contributions. A source is a
    /// stream-job instance (one per Kafka partition in `polyrec worker`, one in all-in-one), so
    /// instances that split a scenario's events between them never overwrite each other, and
    /// writing the same contribution again changes nothing (idempotent, safe to replay).
    async fn put_hot_items(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        source: &str,
        items: Vec<(String, f64)>,
        ttl_ms: i64,
    ) -> Result<()>;
    /// Replaces the hot set with one source's items (for tools and tests with a single source).
    async fn replace_hot_items(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        items: Vec<(String, f64)>,
        ttl_ms: i64,
    ) -> Result<()> {
        self.put_hot_items(tenant, scenario, "all", items, ttl_ms).await
    }
    /// The `n` hottest items, hottest first.
    async fn hot_items(&self, tenant: &TenantId, scenario: &ScenarioId, n: usize) -> Result<Vec<(String, f64)>>;
    /// Records in `exposed:{tenant}:{user}:{scenario}` that items were shown, each `(item,
    /// shown_ms)`. Each member expires `ttl_ms` after it was shown (a sorted set scored by time in
    /// Redis), so steady traffic does not keep old exposures alive. Only the [`MAX_EXPOSED`]
    /// latest are kept (ties: the greater item id), so a stream of impressions of distinct
    /// items cannot grow the set, and every read of it, without bound.
    async fn add_exposed(
        &self,
        tenant: &TenantId,
        user: &UserId,
        scenario: &ScenarioId,
        items: &[(String, i64)],
        ttl_ms: i64,
    ) -> Result<()>;
    /// The items shown at or after `since_ms`: at most [`MAX_EXPOSED`], the latest.
    async fn exposed(
        &self,
        tenant: &TenantId,
        user: &UserId,
        scenario: &ScenarioId,
        since_ms: i64,
    ) -> Result<Vec<String>>;
    /// Sets one source's counters of one time bucket (starting at `bucket_ms`) of
    /// `metrics:realtime:{tenant}:{scenario}`; the bucket's counters are the sums over sources.
    /// Absolute values, not increments, so a replay rewrites what it wrote (idempotent). Buckets
    /// older than `ttl_ms` are dropped.
    async fn put_metrics(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        source: &str,
        bucket_ms: i64,
        counters: &[(String, f64)],
        ttl_ms: i64,
    ) -> Result<()>;
    /// The counters summed over the buckets that start at or after `since_ms`.
    async fn metrics(&self, tenant: &TenantId, scenario: &ScenarioId, since_ms: i64) -> Result<HashMap<String, f64>>;
    /// Pushes to the front of `recent:{tenant}:{user}:{scenario}`, keeping `cap` entries.
    async fn push_recent(
        &self,
        tenant: &TenantId,
        user: &UserId,
        scenario: &ScenarioId,
        items: &[String],
        cap: usize,
        ttl_ms: i64,
    ) -> Result<()>;
    async fn recent(&self, tenant: &TenantId, user: &UserId, scenario: &ScenarioId, n: usize) -> Result<Vec<String>>;
    /// Deletes every key of a scenario: its hot set, metrics, and every user's exposure set and
    /// recent items in it (the scenario was deleted).
    async fn drop_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use polyrec_core::EventType::{self, AddCart, Click, Impression, Order};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// The definition, attempt by attempt: from each first-step event, take each next step at
    /// its earliest later occurrence within the window.
    fn by_attempts(events: &[(i64, EventType)], steps: &[EventType], window_ms: i64) -> usize {
        let mut deepest = 0;
        for (start, (t0, kind)) in events.iter().enumerate() {
            if *kind != steps[0] {
                continue;
            }
            let mut depth = 1;
            for (t, kind) in &events[start + 1..] {
                if *t - t0 > window_ms || depth == steps.len() {
                    break;
                }
                if *kind == steps[depth] {
                    depth += 1;
                }
            }
            deepest = deepest.max(depth);
        }
        deepest
    }

    #[test]
    fn the_one_pass_funnel_agrees_with_trying_every_attempt() {
        let mut rng = StdRng::seed_from_u64(7);
        let kinds = [Impression, Click, AddCart, Order];
        let step_sets: [&[EventType]; 4] =
            [&[Impression, Click, AddCart, Order], &[Click, Click], &[Impression, Click, Impression], &[Order]];
        let mut deep = 0;
        for _ in 0..5_000 {
            let n = rng.random_range(0..30);
            let mut t = 0;
            let events: Vec<(i64, EventType)> = (0..n)
                .map(|_| {
                    t += rng.random_range(0..5);
                    (t, kinds[rng.random_range(0..kinds.len())])
                })
                .collect();
            for steps in step_sets {
                let window = rng.random_range(0..20);
                let expected = by_attempts(&events, steps, window);
                assert_eq!(
                    funnel_depth(events.iter().copied(), steps, window),
                    expected,
                    "{events:?} {steps:?} {window}"
                );
                deep += usize::from(expected == steps.len());
            }
        }
        assert!(deep > 1_000, "the cases reach the last step often enough to mean something ({deep})");
    }

    #[test]
    fn dimensions_come_from_the_context() {
        let mut event: Event = serde_json::from_value(serde_json::json!({
            "event_id": "e", "tenant_id": "t", "scenario_id": "s", "user_id": "u", "item_id": "i",
            "event_type": "click", "timestamp_ms": 0, "received_ms": 0,
            "context": {"device": "tablet", "experiment_id": "x", "group": "b", "item_category": "c".repeat(100)}
        }))
        .unwrap();
        assert_eq!(Dimension::Device.of(&event).as_deref(), Some("tablet"));
        assert_eq!(Dimension::Group.of(&event).as_deref(), Some("x/b"));
        assert_eq!(Dimension::Category.of(&event).map(|c| c.len()), Some(MAX_DIMENSION_CHARS));
        let context = event.context.as_mut().unwrap();
        context.insert("device_type".into(), "mobile".into());
        context.remove("group");
        assert_eq!(Dimension::Device.of(&event).as_deref(), Some("mobile"), "device_type wins");
        assert_eq!(Dimension::Group.of(&event), None, "an experiment without a group is no group");
        event.context = None;
        assert!(Dimension::ALL.iter().all(|d| d.of(&event).is_none()));
    }
}
