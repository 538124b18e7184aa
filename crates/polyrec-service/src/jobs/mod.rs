//! The stream jobs of SPEC §3.4 (Flink's role, DESIGN §3) and the collaborative-filtering
//! trainer (a Celery job in the original).
//!
//! Each stream job is a consumer of the event bus with its own group name. The runner reads
//! batches after the job's offset, hands them to the job, and moves on only once the job has
//! taken them: a failing sink is retried with backoff, never skipped. Jobs with durable sinks
//! (warehouse, profiles) commit their offset after the sink has acknowledged and resume from it;
//! jobs with volatile sinks (the in-memory realtime store) rebuild it after a restart by
//! replaying the bus since the oldest moment their keys can still be alive. Effects are
//! idempotent (event ids in the warehouse, offsets in profiles, whole-set replaces for hot
//! sets), which gives exactly-once effects over at-least-once delivery.

pub(crate) mod dead_letters;
mod hot_score;
mod metrics;
mod profile;
pub mod queue;
mod runner;
pub mod training;
mod warehouse_sink;

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use polyrec_core::{Result, ScenarioId, TenantId};
use polyrec_engine::Catalog;
use polyrec_storage::BusRecord;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use hot_score::HotWindow;
pub use metrics::{MAX_BUCKET_FIELDS, METRICS_TTL_MS};
pub use training::{CfReport, train_now};

use crate::App;

/// The records whose scenario incarnation still exists: a deleted scenario's events, and those
/// of an earlier incarnation of a scenario created again under the same id, are dropped — also
/// when a restart replays them. (Events from before incarnations were stamped count as live.)
pub(crate) async fn live<'r>(app: &App, records: &'r [BusRecord]) -> Result<Vec<&'r BusRecord>> {
    // A batch spans few scenarios: a short list beats hashing two ids per record.
    let mut incarnations: Vec<(&TenantId, &ScenarioId, Option<u64>)> = Vec::new();
    let mut live = Vec::with_capacity(records.len());
    for record in records {
        let event = &record.event;
        let known = incarnations.iter().find(|(t, s, _)| **t == event.tenant_id && **s == event.scenario_id);
        let incarnation = match known {
            Some((_, _, incarnation)) => *incarnation,
            None => {
                let incarnation = app.scenarios.incarnation(&event.tenant_id, &event.scenario_id).await?;
                incarnations.push((&event.tenant_id, &event.scenario_id, incarnation));
                incarnation
            }
        };
        if incarnation.is_some_and(|current| event.scenario_incarnation == 0 || event.scenario_incarnation == current) {
            live.push(record);
        }
    }
    Ok(live)
}

/// How long a batch waits, all its scenarios together, for catalogs being rebuilt; past it a
/// scenario's snapshot is taken as it is (without the item writes of the last moments).
const CATALOG_WAIT: Duration = Duration::from_secs(1);

/// The catalogs of the scenarios the records belong to, loaded once each. A tenant's catalogs
/// being rebuilt hold the batch (and so every tenant's events in it) up [`CATALOG_WAIT`] at
/// most, all of them together: see [`crate::app::Catalogs::get_by`].
pub(crate) async fn catalogs(
    app: &App,
    records: &[&BusRecord],
) -> Result<HashMap<(TenantId, ScenarioId), Arc<Catalog>>> {
    let deadline = tokio::time::Instant::now() + CATALOG_WAIT;
    let mut catalogs = HashMap::new();
    for record in records {
        let key = (record.event.tenant_id.clone(), record.event.scenario_id.clone());
        if let std::collections::hash_map::Entry::Vacant(slot) = catalogs.entry(key) {
            let (tenant, scenario) = slot.key();
            let catalog = app.catalogs.get_by(tenant, scenario, deadline).await?;
            slot.insert(catalog);
        }
    }
    Ok(catalogs)
}

/// The stream jobs of SPEC §3.4, the one list of them: each job's name (and its consumer
/// group's), and how to build its instance for one partition (named by its source,
/// `topic/partition`, the contributor name of shared hot sets and counters).
const JOBS: [(&str, runner::JobFactory); 4] = [
    (warehouse_sink::NAME, |app, _| Box::new(warehouse_sink::WarehouseSink::new(app))),
    (profile::NAME, |_, _| Box::new(profile::ProfileAggregator::default())),
    (hot_score::NAME, |_, source| Box::new(hot_score::HotScore::new(source))),
    (metrics::NAME, |_, source| Box::new(metrics::RecommendationMetrics::new(source))),
];

/// The names of the stream jobs (and of their consumer groups).
pub const STREAM_JOBS: [&str; 4] = [JOBS[0].0, JOBS[1].0, JOBS[2].0, JOBS[3].0];

/// Records per read.
pub const BATCH: usize = 1_000;
/// How often an idle job looks at the clock (windows and flushes advance with it).
pub(crate) const IDLE_TICK: Duration = Duration::from_millis(200);

/// Where a job starts reading after a (re)start.
pub enum Start {
    /// From the group's committed offset (durable sinks).
    Committed,
    /// From the first event received at or after this time (volatile sinks rebuild).
    ReceivedSince(i64),
}

#[async_trait]
pub trait StreamJob: Send {
    fn name(&self) -> &'static str;
    fn start(&self, app: &App) -> Start;
    /// Takes a batch; returns only once its effects are stored (or fails, to be retried).
    async fn process(&mut self, app: &App, records: &[BusRecord]) -> Result<()>;
    /// Called when the job has caught up with the bus, and every tick while idle.
    async fn on_idle(&mut self, _app: &App) -> Result<()> {
        Ok(())
    }
    /// The highest offset whose effects are all durable, given the last processed one.
    fn safe_offset(&self, processed: u64) -> u64 {
        processed
    }
    /// The offset through which the job has taken every record and shows its effects, given the
    /// last processed one (what `App::wait_for_jobs` waits for). Events in windows the job holds
    /// open by design count as taken; events a sink holds back to batch them do not.
    fn visible_offset(&self, processed: u64) -> u64 {
        processed
    }
    /// Told after the group's offset was committed: nothing at or below it is read again.
    fn committed(&mut self, _offset: u64) {}
    /// Told, before a new instance rebuilds its volatile state, that the records at or below
    /// `offset` were handed to the group before: their effects outside the job's state (the
    /// process-local Prometheus counters) already happened, in this process or another.
    fn replays_through(&mut self, _offset: u64) {}
}

pub struct Jobs {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Jobs {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for handle in self.handles {
            let _ = handle.await;
        }
    }
}

/// Which jobs a process runs.
#[derive(Debug, Clone)]
pub struct JobSet {
    /// The four stream jobs of SPEC §3.4…
    pub stream: bool,
    /// …or only these of them (names of `STREAM_JOBS`), so that on Kafka each job can be
    /// scaled on its own.
    pub only: Option<Vec<String>>,
    /// The schedule (neighbours rebuilt, trainings and profile recomputes enqueued) and
    /// housekeeping (expiry sweeps, bus retention).
    pub background: bool,
    /// The job queue ([`queue`]): claims and runs queued trainings and scheduled work.
    pub training: bool,
}

/// The name `polyrec worker --jobs` gives the job queue.
pub const TRAINING_JOBS: &str = "training";

impl JobSet {
    /// The all-in-one process: everything, the job queue in-process.
    pub const ALL: JobSet = JobSet { stream: true, only: None, background: true, training: true };

    fn runs(&self, job: &str) -> bool {
        self.stream && self.only.as_ref().is_none_or(|only| only.iter().any(|name| name == job))
    }
}

/// Whether the bus is this process's own (the embedded log): only its own stream jobs read it,
/// so it cannot hand them to a worker process.
pub fn bus_is_local(app: &App) -> bool {
    !app.stores.stream.is_shared()
}

/// Starts the jobs of a worker process (`polyrec worker`): the stream jobs, as consumer-group
/// members of a Kafka bus, and the job queue — all, or the ones named in `only` (stream job
/// names and `training`).
pub async fn start_workers(app: Arc<App>, only: Option<Vec<String>>) -> anyhow::Result<Jobs> {
    if bus_is_local(&app) {
        anyhow::bail!(
            "polyrec worker reads a Kafka bus (storage.bus = \"kafka://host:port\" or POLYREC_BUS_URL); \
             with the embedded bus, `polyrec serve` runs the stream jobs and the job queue itself"
        );
    }
    if let Some(unknown) =
        only.iter().flatten().find(|name| !STREAM_JOBS.contains(&name.as_str()) && name.as_str() != TRAINING_JOBS)
    {
        anyhow::bail!(
            "--jobs: unknown job {unknown:?}; the jobs are {} and {TRAINING_JOBS} (the job queue)",
            STREAM_JOBS.join(", ")
        );
    }
    let training = only.as_ref().is_none_or(|only| only.iter().any(|name| name == TRAINING_JOBS));
    let only = only.map(|only| only.into_iter().filter(|name| name != TRAINING_JOBS).collect::<Vec<_>>());
    let stream = only.as_ref().is_none_or(|only| !only.is_empty());
    start_jobs(app, JobSet { stream, only, background: false, training }).await
}

/// Starts every job of the all-in-one process.
pub async fn start(app: Arc<App>) -> anyhow::Result<Jobs> {
    start_jobs(app, JobSet::ALL).await
}

/// Starts the chosen jobs: each stream job a member of its consumer group on the bus (one
/// runner for both buses), and the background jobs.
pub async fn start_jobs(app: Arc<App>, set: JobSet) -> anyhow::Result<Jobs> {
    let (stop, stopped) = watch::channel(false);
    let mut handles = Vec::new();
    if set.stream {
        for (name, factory) in JOBS.into_iter().filter(|(name, _)| set.runs(name)) {
            app.progress.runs_here(name);
            let log = app.stores.stream.clone();
            handles.push(tokio::spawn(runner::run(app.clone(), log, name, factory, stopped.clone())));
        }
    }
    if set.background {
        handles.push(tokio::spawn(training::run_schedule(app.clone(), stopped.clone())));
        handles.push(tokio::spawn(housekeeping(app.clone(), stopped.clone())));
    }
    if set.training {
        handles.push(tokio::spawn(queue::run(app.clone(), stopped.clone())));
    }
    Ok(Jobs { stop, handles })
}

/// Every minute: expired realtime keys go; every hour: dead letters and events past retention.
async fn housekeeping(app: Arc<App>, mut stopped: watch::Receiver<bool>) {
    let mut minutes = 0u64;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = stopped.changed() => break,
        }
        if let Some(realtime) = &app.stores.memory_realtime {
            realtime.sweep();
        }
        minutes += 1;
        if !minutes.is_multiple_of(60) {
            continue;
        }
        let cutoff = app.now_ms() - polyrec_core::event::DEAD_LETTER_RETENTION_MS;
        match app.stores.documents.trim_dead_letters(cutoff).await {
            Ok(dropped) if dropped > 0 => tracing::info!(dropped, "dead letters past retention dropped"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "dead-letter retention failed; will retry"),
        }
        // On Kafka the topics' own retention.ms does this.
        let cutoff = app.now_ms() - app.config.event_retention_days as i64 * polyrec_core::clock::DAY_MS;
        match app.stores.stream.apply_retention(cutoff).await {
            Ok(dropped) if dropped > 0 => tracing::info!(dropped, "event bus retention applied"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "event bus retention failed; will retry"),
        }
    }
}

/// Publishes a stream job's output, `(key, value)` records, to a derived topic of SPEC §3.3
/// (`user-profile-updates`, `item-stats-updates`, `recommendation-metrics`) for other
/// consumers, when the bus has derived topics (Kafka). Keyed `{tenant}:{…}`; the values are
/// absolute (a whole profile, a whole contribution), so a replay's re-delivery is harmless.
pub(crate) async fn publish_derived(app: &App, topic: &str, records: &[(String, serde_json::Value)]) -> Result<()> {
    let payloads = records
        .iter()
        .map(|(key, value)| Ok((key.clone(), serde_json::to_vec(value).map_err(polyrec_core::Error::internal)?)))
        .collect::<Result<Vec<_>>>()?;
    app.stores.stream.publish(topic, &payloads).await
}

/// Writes each key of `dirty` with `write`, one at a time. A key leaves `dirty` only once
/// written, so after a failure the key that failed and every key not tried yet are still there
/// for the next flush. (Taking the set first and putting back only the key that failed lost the
/// keys after it: their windows or counters went unwritten until new events dirtied them again,
/// and a retried batch does not, as its records were taken already.)
pub(crate) async fn flush_dirty<K, F, Fut>(dirty: &mut HashSet<K>, mut write: F) -> Result<()>
where
    K: Eq + Hash + Clone,
    F: FnMut(K) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let keys: Vec<K> = dirty.iter().cloned().collect();
    for key in keys {
        write(key.clone()).await?;
        dirty.remove(&key);
    }
    Ok(())
}

/// Hands a batch to the job, keeping out what it must not apply and isolating what it fails on
/// (`dead_letters`): returns once the batch's effects and its dead letters are stored, or with
/// a backend failure, to retry the batch.
pub(crate) async fn apply(app: &App, job: &mut dyn StreamJob, records: &[BusRecord]) -> Result<()> {
    let name = job.name();
    let (fit, mut failed) = dead_letters::screen(name, records);
    failed.extend(dead_letters::isolate(&fit, &mut dead_letters::Process { app, job }).await?);
    dead_letters::record(app, name, failed).await
}

/// Runs `step` on each of `scenarios` in turn (a schedule round, the registry followed): a
/// step's failure is logged with its tenant and scenario and counted
/// (`polyrec_schedule_failures_total{step}`), and the next step runs, so one tenant's failing
/// scenario never holds back the others. Returns the values of the steps that succeeded.
pub(crate) async fn each_apart<S, T, F, Fut>(name: &'static str, scenarios: Vec<S>, mut step: F) -> Vec<T>
where
    F: FnMut(S) -> Fut,
    Fut: std::future::Future<Output = (TenantId, ScenarioId, Result<T>)>,
{
    let mut done = Vec::with_capacity(scenarios.len());
    for scenario in scenarios {
        match step(scenario).await {
            (_, _, Ok(value)) => done.push(value),
            (tenant, scenario, Err(error)) => {
                ::metrics::counter!("polyrec_schedule_failures_total", "step" => name).increment(1);
                tracing::error!(%tenant, %scenario, %error, step = name,
                    "the step for this scenario failed; the others go on");
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the hot-set and metrics flushes took their dirty set and put back only the key
    /// whose write failed, so the keys after it were never written.
    #[tokio::test]
    async fn a_failed_write_leaves_its_key_and_the_untried_ones_dirty() {
        let mut dirty: HashSet<u32> = (0..10).collect();
        let mut written = Vec::new();
        let failed =
            flush_dirty(&mut dirty, |key: u32| {
                let up = written.len() < 3;
                if up {
                    written.push(key);
                }
                async move {
                    if up { Ok(()) } else { Err(polyrec_core::Error::unavailable(format!("store down at {key}"))) }
                }
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(dirty.len(), 7, "only the three written keys leave: {dirty:?}");
        assert!(written.iter().all(|key| !dirty.contains(key)));
        // The next flush writes the rest.
        flush_dirty(&mut dirty, |key: u32| {
            written.push(key);
            async { Ok(()) }
        })
        .await
        .unwrap();
        assert!(dirty.is_empty());
        written.sort();
        assert_eq!(written, (0..10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_scenario_whose_step_fails_does_not_stop_the_others() {
        let ids =
            |tenant: &str, scenario: &str| (TenantId::parse(tenant).unwrap(), ScenarioId::parse(scenario).unwrap());
        let scenarios = vec![ids("a", "feed"), ids("broken", "feed"), ids("broken", "shop"), ids("z", "feed")];
        let mut stepped = Vec::new();
        let done = each_apart("test", scenarios, |(tenant, scenario)| {
            stepped.push(format!("{tenant}/{scenario}"));
            async move {
                let result = if tenant.as_str() == "broken" {
                    Err(polyrec_core::Error::unavailable("the warehouse timed out"))
                } else {
                    Ok(tenant.to_string())
                };
                (tenant, scenario, result)
            }
        })
        .await;
        assert_eq!(done, ["a", "z"]);
        assert_eq!(stepped, ["a/feed", "broken/feed", "broken/shop", "z/feed"], "the steps went on past the failures");
    }
}
