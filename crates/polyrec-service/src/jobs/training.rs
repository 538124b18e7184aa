//! Training jobs (the role Celery plays, DESIGN §5): on demand (`POST …/jobs/train`, the CLI's
//! `polyrec train`), and on a schedule that retrains a scenario when it has new events.
//!
//! A job is a record in the document store (`training_jobs`), which is also the queue
//! ([`super::queue`]): enqueued `queued`, claimed by one worker (state `running`, the worker's
//! instance, an attempt counted) and then written only by compare-and-swap on its `revision`,
//! with its stage and progress as it advances and a heartbeat that renews the claim. A job whose
//! worker died stops beating; once its lease (`job_lease_seconds`) has run out another worker
//! claims it again, up to [`MAX_ATTEMPTS`], after which it is failed. A worker that lost its
//! claim can write nothing more, and a retried job reuses the model versions its earlier
//! attempt registered, so each job's versions are registered once.
//!
//! A round trains the item–item and user–user neighbours (`item_cf`, `user_cf`; cheap, rebuilt
//! every round and not versioned), then each learned model asked for, or else each the
//! scenario's config uses (`vector_search` → ALS, `ease` → EASE). Every learned model is
//! measured on held-out interactions, registered with its metrics as a new version, and
//! activated. A model that fails fails the job and leaves the serving version in place.

use polyrec_core::Code;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use polyrec_core::clock::DAY_MS;
use polyrec_core::model::ModelKind;
use polyrec_core::model::serving_version;
use polyrec_core::{Error, JobRecord, JobState, Result, Scenario, ScenarioConfig, ScenarioId, TenantId, UserId};
use polyrec_engine::CfModel;

use polyrec_engine::learned;
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use tracing::Instrument;
use utoipa::ToSchema;

use crate::App;
use crate::blocking::{Bound, blocking};
use crate::service::models::{self, Loaded};

/// How long an on-demand training waits for the warehouse sink to catch up with the bus.
const CATCH_UP: Duration = Duration::from_secs(30);
/// How many times a job is claimed before a job whose workers keep dying is failed.
pub const MAX_ATTEMPTS: u32 = 3;

/// The job queue's lease, in ms (`job_lease_seconds`).
pub fn lease_ms(app: &App) -> i64 {
    app.config.job_lease_seconds.max(1) as i64 * 1_000
}

/// How often a running job renews its claim: a fifth of the lease, at most every 2 s.
fn heartbeat(app: &App) -> Duration {
    Duration::from_millis((lease_ms(app) as u64 / 5).clamp(100, 2_000))
}
/// What `POST …/jobs/cf` answers: the round it ran, synchronously.
#[derive(Debug, Serialize, ToSchema)]
pub struct CfReport {
    pub scenario_id: String,
    /// (user, item) pairs with positive interest in the window.
    pub interactions: usize,
    pub users: usize,
    pub items: usize,
    pub took_ms: f64,
    /// The learned models trained and activated in this round (`als`, `ease`).
    pub models: Vec<String>,
    /// The job that ran it.
    pub job_id: String,
}

/// Checks a job's model list: known names, each once.
fn check_models(models: &[String]) -> Result<()> {
    for (i, name) in models.iter().enumerate() {
        if let Err(Error::InvalidInput { code, message }) = models::check_name(name) {
            return Err(Error::InvalidInput { code, message: format!("models[{i}]: {message}") });
        }
        if models[..i].contains(name) {
            return Err(Error::invalid(Code::DuplicateModel, format!("models[{i}]: {name:?} is listed twice")));
        }
    }
    Ok(())
}

/// What a caller may name as a job's trigger (`api` when it names none): both transports pass
/// theirs through here.
pub fn caller_trigger(raw: Option<&str>) -> Result<&'static str> {
    match raw {
        None | Some("" | "api") => Ok("api"),
        Some("cli") => Ok("cli"),
        Some(other) => Err(Error::invalid(Code::InvalidTrigger, format!("trigger {other:?} is not one of api, cli"))),
    }
}

/// Records a training job as queued and starts it; returns its record at once. Its recall
/// models search their hyperparameters (within `limits.tuning_budget_seconds` each).
pub async fn submit(
    app: &Arc<App>,
    tenant: &TenantId,
    scenario: &ScenarioId,
    models: Vec<String>,
    trigger: &str,
) -> Result<JobRecord> {
    queue_training(app, tenant, scenario, models, trigger, true).await
}

async fn queue_training(
    app: &Arc<App>,
    tenant: &TenantId,
    scenario: &ScenarioId,
    models: Vec<String>,
    trigger: &str,
    tune: bool,
) -> Result<JobRecord> {
    app.scenario(tenant, scenario).await?;
    check_models(&models)?;
    let mut job = new_job(app, scenario, uuid::Uuid::now_v7().to_string(), "train", trigger);
    job.models = models;
    job.tune = tune;
    enqueue_counted(app, tenant, &job).await?;
    Ok(job)
}

/// Queues a recompute of a scenario's user profiles from the warehouse (what the schedule
/// does every `profile_recompute_hours`); returns its record at once.
pub async fn submit_profile_recompute(app: &App, tenant: &TenantId, scenario: &ScenarioId) -> Result<JobRecord> {
    app.scenario(tenant, scenario).await?;
    let job = new_job(app, scenario, uuid::Uuid::now_v7().to_string(), super::profile::RECOMPUTE_KIND, "api");
    enqueue_counted(app, tenant, &job).await?;
    Ok(job)
}

/// The job kind that fills a scenario's result cache ([`precompute_answers`]).
pub const PRECOMPUTE_KIND: &str = "precompute";
/// A precompute fills the answers of users active in the last this many days by default…
pub const PRECOMPUTE_ACTIVE_DAYS: u64 = 7;
/// …and at most this many.
pub const MAX_PRECOMPUTE_ACTIVE_DAYS: u64 = 90;
/// The most users one precompute answers (the most recently active first).
pub const MAX_PRECOMPUTE_USERS: usize = 100_000;

/// Queues a job that fills a scenario's result cache (`config.cache`) for the users with an
/// interaction in the last `active_days`; returns its record at once. `409 cache_disabled` when
/// the scenario's cache is off.
pub async fn submit_precompute(
    app: &App,
    tenant: &TenantId,
    scenario: &ScenarioId,
    active_days: Option<u64>,
) -> Result<JobRecord> {
    let active_days = active_days.unwrap_or(PRECOMPUTE_ACTIVE_DAYS);
    if !(1..=MAX_PRECOMPUTE_ACTIVE_DAYS).contains(&active_days) {
        return Err(Error::invalid(
            Code::InvalidBody,
            format!("active_days must be between 1 and {MAX_PRECOMPUTE_ACTIVE_DAYS}, got {active_days}"),
        ));
    }
    cache_enabled(&*app.scenario(tenant, scenario).await?)?;
    let mut job = new_job(app, scenario, uuid::Uuid::now_v7().to_string(), PRECOMPUTE_KIND, "api");
    job.data.insert("active_days".into(), active_days);
    enqueue_counted(app, tenant, &job).await?;
    Ok(job)
}

fn cache_enabled(compiled: &crate::app::CompiledScenario) -> Result<()> {
    if compiled.scenario.config.cache.enabled {
        return Ok(());
    }
    Err(Error::Conflict {
        code: Code::CacheDisabled,
        message: format!(
            "scenario {:?} has its result cache off; set config.cache.enabled to true first",
            compiled.scenario.scenario_id.as_str()
        ),
    })
}

/// Queues a job a tenant asked for, refused while the tenant has `max_unfinished_jobs_per_tenant`
/// queued or running: the queue is shared, so without a cap one tenant's burst would delay every
/// other tenant's jobs behind it. The count and the insert are one step per tenant in this
/// process (`App::checked_writes`), so requests at once cannot all pass one count; processes that
/// queue for one tenant at the same instant may pass the cap by one each.
async fn enqueue_counted(app: &App, tenant: &TenantId, job: &JobRecord) -> Result<()> {
    let cap = app.config.limits.max_unfinished_jobs_per_tenant;
    if cap == 0 {
        enqueue(app, tenant, job).await?;
        return Ok(());
    }
    let _counted = app.checked_writes.acquire(tenant).await;
    let mine = app.stores.documents.count_unfinished_jobs(tenant).await?;
    if mine >= cap as u64 {
        return Err(Error::from_code(
            Code::TooManyJobs,
            format!("this tenant has {mine} jobs queued or running (at most {cap}); wait for one to finish"),
        ));
    }
    enqueue(app, tenant, job).await?;
    Ok(())
}

/// Puts a job on the queue unless one with its id is there already (scheduled jobs have ids
/// derived from what they do, so processes that schedule the same round enqueue it once);
/// returns whether it did. Wakes this process's worker.
pub async fn enqueue(app: &App, tenant: &TenantId, job: &JobRecord) -> Result<bool> {
    let queued = app.stores.documents.swap_job(tenant, job, None).await?;
    if queued {
        app.job_queued.notify_one();
    }
    Ok(queued)
}

/// A job's record; `NotFound` for another tenant's job.
pub async fn get(app: &App, tenant: &TenantId, job_id: &str) -> Result<JobRecord> {
    app.stores.documents.get_job(tenant, job_id).await?.ok_or_else(|| Error::not_found(format!("job {job_id:?}")))
}

/// The most jobs one `GET …/jobs` lists.
pub const MAX_JOBS_LISTED: usize = 500;

/// The scenario's jobs, newest first, at most `limit` (1 to [`MAX_JOBS_LISTED`]).
pub async fn list(app: &App, tenant: &TenantId, scenario: &ScenarioId, limit: usize) -> Result<Vec<JobRecord>> {
    app.scenario(tenant, scenario).await?;
    if !(1..=MAX_JOBS_LISTED).contains(&limit) {
        return Err(Error::invalid(Code::InvalidLimit, format!("limit {limit} is not in 1–{MAX_JOBS_LISTED}")));
    }
    app.stores.documents.list_jobs(tenant, Some(scenario), limit).await
}

/// Waits for a job to finish (or `timeout`) and returns its record.
pub async fn wait(app: &App, tenant: &TenantId, job_id: &str, timeout: Duration) -> Result<JobRecord> {
    let deadline = Instant::now() + timeout;
    loop {
        let job = get(app, tenant, job_id).await?;
        if job.state.is_finished() || Instant::now() >= deadline {
            return Ok(job);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Trains one scenario now, from everything acknowledged before the call, and waits for it
/// (on whichever worker claims the job); then this process serves what it trained. It answers
/// within the request's deadline, so its recall models do not search their hyperparameters:
/// each is fitted with its serving version's, or the defaults.
pub async fn train_now(app: &Arc<App>, tenant: &TenantId, scenario: &ScenarioId) -> Result<CfReport> {
    let job = queue_training(app, tenant, scenario, Vec::new(), "api", false).await?;
    let job = wait(app, tenant, &job.job_id, Duration::from_secs(3_600)).await?;
    match job.state {
        JobState::Succeeded => {
            // A worker elsewhere trained it: this process rebuilds its own neighbours from the
            // same events and loads the versions the job activated.
            models::follow(app, tenant, scenario, Bound::Tenant).await?;
            let compiled = app.scenario(tenant, scenario).await?;
            refresh_neighbours(app, tenant, scenario, &compiled.scenario.config, Bound::Tenant).await?;
            let count = |key: &str| job.data.get(key).copied().unwrap_or(0) as usize;
            Ok(CfReport {
                scenario_id: scenario.to_string(),
                interactions: count("interactions"),
                users: count("users"),
                items: count("items"),
                took_ms: (job.finished_ms.unwrap_or(0) - job.started_ms.unwrap_or(0)) as f64,
                models: job.versions.keys().cloned().collect(),
                job_id: job.job_id,
            })
        }
        // Nothing to train on is the scenario's state, not a fault of the server.
        JobState::Failed if job.error_code.as_deref() == Some(Code::NoTrainingData.as_str()) => Err(Error::Conflict {
            code: Code::NoTrainingData,
            message: job.error.unwrap_or_default() + "; send events first",
        }),
        JobState::Failed => Err(Error::internal(format!(
            "training job {} failed: {}",
            job.job_id,
            job.error.as_deref().unwrap_or("unknown error")
        ))),
        _ => Err(Error::unavailable(format!("training job {} is still {:?}", job.job_id, job.stage))),
    }
}

/// The record of a running job, shared by the trainer (stages), the fit loops (progress within
/// a stage) and the heartbeat.
struct Tracker {
    app: Arc<App>,
    tenant: TenantId,
    job: Mutex<JobRecord>,
    /// Writes go one at a time (each swaps on the revision the previous one left).
    writing: tokio::sync::Mutex<()>,
    /// Set when a write found the record changed: another worker holds the job now.
    lost: std::sync::atomic::AtomicBool,
    /// The current stage's share of the whole, as (from, to).
    span: Mutex<(f64, f64)>,
    /// Progress within the stage, 0–1, as f64 bits (set from blocking fit threads).
    within: Arc<AtomicU64>,
}

impl Tracker {
    fn snapshot(&self) -> JobRecord {
        let mut job = self.job.lock().clone();
        if !job.state.is_finished() {
            let (from, to) = *self.span.lock();
            let within = f64::from_bits(self.within.load(Ordering::Relaxed)).clamp(0.0, 1.0);
            job.progress = from + (to - from) * within;
            job.heartbeat_ms = self.app.now_ms();
        }
        job
    }

    /// Writes the record if this worker still holds the job; returns whether it does.
    async fn flush(&self) -> Result<bool> {
        let _one_at_a_time = self.writing.lock().await;
        self.write(self.snapshot()).await
    }

    async fn write(&self, mut record: JobRecord) -> Result<bool> {
        if self.lost.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let expected = record.revision;
        record.revision += 1;
        if self.app.stores.documents.swap_job(&self.tenant, &record, Some(expected)).await? {
            self.job.lock().revision = record.revision;
            Ok(true)
        } else {
            tracing::warn!(tenant = %self.tenant, job = %record.job_id, "another worker holds this job now: stopping");
            self.lost.store(true, Ordering::Relaxed);
            Ok(false)
        }
    }

    /// Fails the job's run when this worker no longer holds it.
    fn still_held(&self) -> Result<()> {
        if self.lost.load(Ordering::Relaxed) {
            return Err(Error::unavailable("the job's lease passed to another worker"));
        }
        Ok(())
    }

    /// Enters a stage that takes the share `from..to` of the job.
    async fn stage(&self, name: impl Into<String>, from: f64, to: f64) {
        self.job.lock().stage = name.into();
        *self.span.lock() = (from, to);
        self.within.store(0f64.to_bits(), Ordering::Relaxed);
        if let Err(error) = self.flush().await {
            tracing::warn!(%error, "could not record a training job's progress");
        }
    }
}

/// Runs a job this process has claimed ([`super::queue`]) to its end.
pub(super) async fn run_claimed(app: Arc<App>, tenant: TenantId, job: JobRecord) {
    let work = match job.kind.as_str() {
        super::profile::RECOMPUTE_KIND => Work::Profiles,
        PRECOMPUTE_KIND => Work::Precompute,
        _ => Work::Train,
    };
    run(app, tenant, job, work).await
}

/// What a job does.
#[derive(Clone, Copy)]
enum Work {
    Train,
    Profiles,
    Precompute,
}

async fn run(app: Arc<App>, tenant: TenantId, job: JobRecord, work: Work) {
    let scenario = job.scenario_id.clone();
    let tracker = Arc::new(Tracker {
        app: app.clone(),
        tenant: tenant.clone(),
        job: Mutex::new(job),
        writing: tokio::sync::Mutex::new(()),
        lost: std::sync::atomic::AtomicBool::new(false),
        span: Mutex::new((0.0, 0.0)),
        within: Arc::new(AtomicU64::new(0)),
    });
    // The claim counted the process-wide limit (`limits.max_concurrent_trainings`); one job of a
    // scenario at a time runs here. Waiting, the job keeps beating.
    let (stop_beat, mut beat_stopped) = tokio::sync::oneshot::channel::<()>();
    let beat = {
        let tracker = tracker.clone();
        let every = heartbeat(&app);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = &mut beat_stopped => break,
                }
                match tracker.flush().await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(error) => tracing::warn!(%error, "training job heartbeat failed"),
                }
            }
        })
    };
    let _one_at_a_time = app.models.training_slot(&tenant, &scenario).await;
    let started = Instant::now();
    let outcome = match work {
        Work::Train => {
            train(&app, &tenant, &scenario, &tracker)
                .instrument(tracing::info_span!("training_job", tenant = %tenant, scenario = %scenario))
                .await
        }
        Work::Profiles => {
            recompute_profiles(&app, &tenant, &scenario, &tracker)
                .instrument(tracing::info_span!("profile_recompute_job", tenant = %tenant, scenario = %scenario))
                .await
        }
        Work::Precompute => {
            precompute_answers(&app, &tenant, &scenario, &tracker)
                .instrument(tracing::info_span!("precompute_job", tenant = %tenant, scenario = %scenario))
                .await
        }
    };
    metrics::histogram!(
        "polyrec_training_job_duration_seconds",
        "outcome" => if outcome.is_ok() { "succeeded" } else { "failed" }
    )
    .record(started.elapsed().as_secs_f64());
    // Stopped, not aborted: a heartbeat write in flight lands before the final record.
    let _ = stop_beat.send(());
    let _ = beat.await;
    let mut final_record = {
        let mut job = tracker.job.lock();
        job.finished_ms = Some(app.now_ms());
        job.heartbeat_ms = app.now_ms();
        match &outcome {
            Ok(()) => {
                job.state = JobState::Succeeded;
                job.progress = 1.0;
                job.stage = "done".to_owned();
            }
            Err(error) => {
                job.state = JobState::Failed;
                job.error = Some(error.to_string());
                job.error_code = Some(error.code().into());
            }
        }
        job.clone()
    };
    if let Err(error) = &outcome {
        final_record.progress = tracker.snapshot().progress;
        tracing::error!(tenant = %tenant, scenario = %scenario, job = %final_record.job_id, %error, "training job failed");
    } else {
        tracing::info!(
            tenant = %tenant, scenario = %scenario, job = %final_record.job_id,
            took_ms = started.elapsed().as_secs_f64() * 1000.0, versions = ?final_record.versions,
            "training job finished"
        );
    }
    // The final state must land (a job left `running` would be claimed again once its lease
    // ran out), unless another worker holds the job now.
    let _one_write_at_a_time = tracker.writing.lock().await;
    final_record.revision = tracker.job.lock().revision;
    for attempt in 0..5 {
        match tracker.write(final_record.clone()).await {
            Ok(_) => break,
            Err(error) => {
                tracing::warn!(%error, attempt, "could not record a training job's end; retrying");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
}

/// The learned models a job trains: those asked for, or those the config uses.
fn wanted(config: &polyrec_core::ScenarioConfig, asked: &[String]) -> Vec<String> {
    if !asked.is_empty() {
        return asked.to_vec();
    }
    learned::LEARNED.iter().filter(|model| model.used_by(config)).map(|model| model.name().to_owned()).collect()
}

/// The models the schedule retrains when events arrive: those the config uses but `item_cf`,
/// whose version is only the neighbours' parameters — they change by a search alone (a job
/// asked for), and the neighbours themselves are rebuilt by every round anyway. So a scenario of
/// heuristic channels gets no training job per round, as before `item_cf` was searched.
fn scheduled(config: &polyrec_core::ScenarioConfig) -> Vec<String> {
    let mut models = wanted(config, &[]);
    models.retain(|name| name != learned::item_cf::NAME);
    models
}

async fn train(app: &Arc<App>, tenant: &TenantId, scenario: &ScenarioId, tracker: &Tracker) -> Result<()> {
    let (trigger, asked) = {
        let job = tracker.job.lock();
        (job.trigger.clone(), job.models.clone())
    };
    let compiled = app.scenario(tenant, scenario).await?;
    if trigger != "schedule" {
        tracker.stage("waiting for the event warehouse", 0.0, 0.05).await;
        if !app.wait_for_job("warehouse_sink", CATCH_UP).await? {
            tracing::warn!(tenant = %tenant, scenario = %scenario, "warehouse sink still behind; training on what it has");
        }
    }
    tracker.stage("reading events", 0.05, 0.1).await;
    let now = app.now_ms();
    let since = now - app.config.cf_window_days as i64 * DAY_MS;
    // Counted before reading, so events that land during training trigger the next round.
    let event_count = app.stores.warehouse.count(tenant, Some(scenario)).await?;
    let interactions = Arc::new(app.stores.warehouse.interactions(tenant, scenario, since).await?);

    tracker.stage("training item_cf and user_cf neighbours", 0.1, 0.2).await;
    let rows = interactions.clone();
    let cf_params = app.models.cf_params(tenant, scenario, &compiled.scenario.config);
    let model =
        blocking("training item_cf and user_cf neighbours", move || CfModel::train(&rows, cf_params, now)).await?;
    {
        let mut job = tracker.job.lock();
        job.data.insert("events".into(), event_count);
        job.data.insert("interactions".into(), interactions.len() as u64);
        job.data.insert("users".into(), model.n_users() as u64);
        job.data.insert("items".into(), model.n_items() as u64);
    }
    app.models.set_cf(tenant, scenario, model, event_count);

    let mut models = wanted(&compiled.scenario.config, &asked);
    if trigger == "schedule" {
        models = scheduled(&compiled.scenario.config);
        // The schedule retrains a model only when the events changed since its serving version.
        let registered = app.stores.documents.list_models(tenant, scenario, None).await?;
        models.retain(|name| {
            let versions: Vec<_> = registered.iter().filter(|m| &m.model_name == name).cloned().collect();
            serving_version(&versions).and_then(|m| m.config.get("events")?.as_u64()) != Some(event_count)
        });
    }
    tracker.still_held()?;
    train_registered(app, tenant, scenario, &compiled, &models, &interactions, event_count, tracker).await?;
    // A new `item_cf` version may have chosen other neighbours' parameters: built with them now.
    let cf_params = app.models.cf_params(tenant, scenario, &compiled.scenario.config);
    if !app.models.cf_is_current(tenant, scenario, event_count, &cf_params) {
        tracker.stage("building item_cf and user_cf neighbours with the chosen parameters", 0.97, 0.99).await;
        let model =
            blocking("training item_cf and user_cf neighbours", move || CfModel::train(&interactions, cf_params, now))
                .await?;
        app.models.set_cf(tenant, scenario, model, event_count);
    }
    Ok(())
}

/// Trains, registers and activates `models` (ALS, EASE, rankers), reporting progress.
#[allow(clippy::too_many_arguments)]
async fn train_registered(
    app: &Arc<App>,
    tenant: &TenantId,
    scenario: &ScenarioId,
    compiled: &crate::app::CompiledScenario,
    models: &[String],
    interactions: &Arc<Vec<polyrec_storage::Interaction>>,
    event_count: u64,
    tracker: &Tracker,
) -> Result<()> {
    let (job_id, tune) = {
        let job = tracker.job.lock();
        (job.job_id.clone(), job.tune)
    };
    let plan = models
        .iter()
        .map(|name| {
            learned::named(name).ok_or_else(|| Error::invalid(Code::UnknownModel, format!("unknown model {name:?}")))
        })
        .collect::<Result<Vec<_>>>()?;
    if plan.iter().any(|model| model.stage() == ModelKind::Recall) && interactions.is_empty() {
        return Err(Error::invalid(
            Code::NoTrainingData,
            format!("scenario {scenario} has no positive interactions in the last {} days", app.config.cf_window_days),
        ));
    }
    let share = 0.8 / plan.len().max(1) as f64;
    // The parameters each recall model of this job was fitted with: what the blend refits.
    let mut chosen: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for (i, model) in plan.into_iter().enumerate() {
        let name = model.name();
        let from = 0.2 + share * i as f64;
        tracker.stage(format!("training {name}"), from, from + share).await;
        tracker.still_held()?;
        // A retried job: the version an earlier attempt registered is this job's, not trained again.
        let registered = app.stores.documents.list_models(tenant, scenario, Some(name)).await?;
        if let Some(earlier) = registered.iter().find(|m| m.job_id == job_id) {
            if let Some(params) = earlier.config.get("params") {
                chosen.insert(name.to_owned(), params.clone());
            }
            let version = earlier.model_version.clone();
            // Activated unless the attempt died between registering and activating it.
            if earlier.activated_ms.is_none() {
                models::activate(app, tenant, scenario, name, &version).await?;
            }
            tracker.job.lock().versions.insert(name.to_owned(), version);
            continue;
        }
        let (loaded, metrics, config) = match model.stage() {
            _ if model.fits_on_candidates() => {
                // The blend and the interaction ranker refit the recall models after them
                // (LEARNED's order): those of this job with the parameters it chose, the others
                // (a job asked for the blend alone) with their serving version's.
                let config = compiled.scenario.config.clone();
                let mut params = chosen.clone();
                for other in learned::LEARNED.iter().filter(|m| {
                    m.stage() == ModelKind::Recall
                        && m.name() != name
                        && m.used_by(&config)
                        && !chosen.contains_key(m.name())
                }) {
                    let versions = app.stores.documents.list_models(tenant, scenario, Some(other.name())).await?;
                    if let Some(serving) = serving_version(&versions).and_then(|m| m.config.get("params").cloned()) {
                        params.insert(other.name().to_owned(), serving);
                    }
                }
                let catalog = app.catalogs.get(tenant, scenario).await?;
                let (rows, now_ms) = (interactions.clone(), app.now_ms());
                let (loaded, metrics, params) = fit(model, tracker, move |report| {
                    let data = learned::TrainingData::Blend {
                        rows: &rows,
                        config: &config,
                        catalog: &catalog,
                        params: &params,
                        now_ms,
                    };
                    model.fit(&data, report)
                })
                .await?;
                let config = json!({"params": params, "events": event_count, "interactions": interactions.len()});
                (loaded, metrics, config)
            }
            ModelKind::Rank => {
                let (loaded, metrics, mut config) = fit_ranker(app, tenant, compiled, model, tracker).await?;
                config["events"] = json!(event_count);
                (loaded, metrics, config)
            }
            ModelKind::Recall => {
                // A job that does not search (the schedule's, `…/jobs/cf`) refits with the
                // parameters the serving version's search chose.
                let reuse = if tune {
                    None
                } else {
                    serving_version(&registered).and_then(|m| m.config.get("params").cloned())
                };
                let budget = tune.then(|| Duration::from_secs(app.config.limits.tuning_budget_seconds));
                let fixed = model.configured(&compiled.scenario.config).cloned();
                let rows = interactions.clone();
                let (loaded, metrics, params) = fit(model, tracker, move |report| {
                    let tuning =
                        learned::Tuning { fixed: fixed.as_ref(), reuse: reuse.as_ref(), budget, unmeasured: false };
                    model.fit(&learned::TrainingData::Interactions { rows: &rows, tuning }, report)
                })
                .await?;
                let holdout = json!({"fraction": learned::HOLDOUT_FRACTION, "seed": learned::HOLDOUT_SEED, "k": learned::METRICS_K});
                let config = json!({
                    "params": params,
                    "events": event_count,
                    "interactions": interactions.len(),
                    "holdout": holdout,
                });
                (loaded, metrics, config)
            }
        };
        tracker.still_held()?;
        if model.stage() == ModelKind::Recall
            && let Some(params) = config.get("params")
        {
            chosen.insert(name.to_owned(), params.clone());
        }
        let record = models::register(app, tenant, scenario, &loaded, config, metrics, &job_id).await?;
        let version = record.model_version.clone();
        models::activate_loaded(app, tenant, record, loaded, Bound::Caller).await?;
        tracker.job.lock().versions.insert(name.to_owned(), version);
    }
    Ok(())
}

/// Fits a model off the async threads, its progress within the stage going straight into the
/// tracker.
async fn fit(
    model: &'static dyn learned::LearnedModel,
    tracker: &Tracker,
    fit: impl FnOnce(learned::Progress<'_>) -> Result<learned::Fitted> + Send + 'static,
) -> Result<(Loaded, BTreeMap<String, f64>, serde_json::Value)> {
    let bits = tracker.within.clone();
    blocking("fitting the model", move || -> Result<(Loaded, BTreeMap<String, f64>, serde_json::Value)> {
        let report = |fraction: f64| bits.store(fraction.to_bits(), Ordering::Relaxed);
        let fitted = fit(&report)?;
        Ok((Loaded { model, trained: fitted.model }, fitted.metrics, fitted.params))
    })
    .await?
}

/// How many of the latest events a ranker trains on, at most.
const MAX_RANKER_EVENTS: usize = 2_000_000;
/// The ranker's offline metrics: the latest fraction of impressions (by time) is held out.
const RANKER_TEST_FRACTION: f64 = 0.2;

/// Fits a learned ranker on the scenario's impressions: first on the older 80% for AUC and
/// log-loss on the newest 20%, then on all of them for serving.
async fn fit_ranker(
    app: &App,
    tenant: &TenantId,
    compiled: &crate::app::CompiledScenario,
    model: &'static dyn learned::LearnedModel,
    tracker: &Tracker,
) -> Result<(Loaded, BTreeMap<String, f64>, serde_json::Value)> {
    use polyrec_engine::features::FeatureSpace;
    use polyrec_engine::labels::label_impressions;

    let name = model.name();

    let scenario = &compiled.scenario.scenario_id;
    let config = &compiled.scenario.config;
    let objective = config.rank.objective.clone().unwrap_or_else(|| "click_rate".to_owned());
    let params = polyrec_engine::rank::learned::params(config).map_err(|e| {
        let e = e.at("config.rank");
        Error::invalid(Code::InvalidConfig, format!("{}: {}", e.path, e.message))
    })?;
    let since = app.now_ms() - app.config.cf_window_days as i64 * DAY_MS;
    let rows = app
        .stores
        .warehouse
        .behaviors(tenant, scenario, since, &polyrec_core::EventType::ALL, MAX_RANKER_EVENTS)
        .await?;
    let window_ms = (params.label_window_hours * 3_600_000.0) as i64;
    let catalog = app.catalogs.get(tenant, scenario).await?;
    // Up to MAX_RANKER_EVENTS rows labelled: on the blocking pool, as the fit is.
    let impressions: Vec<_> = {
        let (catalog, objective, min_watch_seconds) = (catalog.clone(), objective.clone(), params.min_watch_seconds);
        blocking("labelling impressions", move || {
            label_impressions(&rows, &objective, min_watch_seconds, window_ms)
                .into_iter()
                .filter(|i| catalog.get(&i.item_id).is_some())
                .collect()
        })
        .await?
    };
    let positives = impressions.iter().filter(|i| i.label > 0.0).count();
    if impressions.is_empty() || positives == 0 || positives == impressions.len() {
        return Err(Error::invalid(
            Code::NoTrainingData,
            format!(
                "{name} learns from impression events of catalog items followed (or not) by the objective's \
                 action ({objective}); scenario {scenario} has {} impressions, {positives} of them positive, in the \
                 last {} days: report `impression` events for the items shown",
                impressions.len(),
                app.config.cf_window_days
            ),
        ));
    }
    let mut profiles = std::collections::HashMap::new();
    for impression in &impressions {
        if !profiles.contains_key(&impression.user_id) {
            let profile = match polyrec_core::UserId::parse(impression.user_id.clone()) {
                Ok(user) => app.profiles.get(tenant, &user, scenario).await?,
                Err(_) => None,
            };
            profiles.insert(impression.user_id.clone(), profile);
        }
    }
    let features = config.features.clone();
    let model_params = params.model.clone();
    let bits = tracker.within.clone();
    let n = impressions.len();
    blocking("fitting the ranker", move || -> Result<(Loaded, BTreeMap<String, f64>, serde_json::Value)> {
        let report = |fraction: f64| bits.store(fraction.to_bits(), Ordering::Relaxed);
        let build = |space: &FeatureSpace, rows: &[polyrec_engine::labels::Impression]| {
            let mut data = space.empty_data();
            for i in rows {
                space
                    .push(&mut data, &observation(&catalog, &profiles, i), Some(i.label))
                    .map_err(|e| Error::internal(e.to_string()))?;
            }
            Ok::<_, Error>(data)
        };
        // Offline metrics: older impressions train, the newest are held out; serving: every one.
        let cut = ((n as f64) * (1.0 - RANKER_TEST_FRACTION)).round() as usize;
        let (older, newer) = impressions.split_at(cut.clamp(1, n - 1));
        let mut split_space = FeatureSpace::new(&features);
        split_space.fit(older.iter().map(|i| observation(&catalog, &profiles, i)));
        let (train, test) = (build(&split_space, older)?, build(&split_space, newer)?);
        let test_labels: Vec<bool> = newer.iter().map(|i| i.label > 0.0).collect();
        let mut space = FeatureSpace::new(&features);
        space.fit(impressions.iter().map(|i| observation(&catalog, &profiles, i)));
        let all = build(&space, &impressions)?;
        let data = learned::TrainingData::Impressions {
            train: &train,
            test: &test,
            test_labels: &test_labels,
            all: &all,
            space: &space,
            params: &model_params,
        };
        let fitted = model.fit(&data, &report)?;
        let mut metrics = fitted.metrics;
        metrics.insert("test_rows".to_owned(), newer.len() as f64);
        metrics.insert("train_rows".to_owned(), older.len() as f64);
        let positive_rate = test_labels.iter().filter(|l| **l).count() as f64 / test_labels.len() as f64;
        metrics.insert("test_positive_rate".to_owned(), positive_rate);
        let config = json!({
            "objective": objective,
            "params": {"model": model_params, "min_watch_seconds": params.min_watch_seconds,
                       "label_window_hours": params.label_window_hours},
            "impressions": n,
            "positives": positives,
            "features": {"numeric": space.numeric_names(), "categorical": space.categorical_names()},
            "holdout": {"split": "time", "test_fraction": RANKER_TEST_FRACTION},
        });
        Ok((Loaded { model, trained: fitted.model }, metrics, config))
    })
    .await?
}

/// An impression as the feature space sees it.
fn observation<'a>(
    catalog: &'a polyrec_engine::Catalog,
    profiles: &'a std::collections::HashMap<String, Option<Arc<polyrec_core::UserProfile>>>,
    impression: &'a polyrec_engine::labels::Impression,
) -> polyrec_engine::features::Observation<'a> {
    polyrec_engine::features::Observation {
        item: catalog.get(&impression.item_id).expect("impressions are filtered to catalog items"),
        profile: profiles.get(&impression.user_id).and_then(|p| p.as_deref()),
        context: &impression.context,
        at_ms: impression.at_ms,
    }
}

/// The schedule: every interval, fail the jobs whose workers kept dying, load the serving
/// versions other processes registered (on shared stores), rebuild this process's neighbours
/// of the scenarios with new events, and enqueue a training of their registered models (one job
/// per scenario and event count, however many processes schedule it) and, every
/// `profile_recompute_hours`, a recompute of their profiles. First it loads the registry's
/// serving versions and, on embedded stores, puts back on the queue the jobs this process was
/// running when it stopped.
pub(super) async fn run_schedule(app: Arc<App>, mut stopped: watch::Receiver<bool>) {
    // The embedded document store belongs to this process alone: a job left running in it was
    // running here when the process stopped.
    if app.config.storage.documents.is_empty()
        && let Err(error) = reap(&app, i64::MAX).await
    {
        tracing::error!(%error, "could not recover the unfinished jobs");
    }
    match models::load_serving(&app).await {
        Ok(loaded) => tracing::info!(loaded, "serving model versions loaded from the registry"),
        Err(error) => tracing::error!(%error, "could not load the registry's serving versions"),
    }
    let interval = Duration::from_secs(app.config.cf_interval_seconds.max(1));
    // On shared stores other processes train and activate too: follow the registry.
    let shared = !app.config.storage.documents.is_empty();
    let mut first = true;
    loop {
        if let Err(error) = reap(&app, app.now_ms() - lease_ms(&app)).await {
            tracing::error!(%error, "could not reap the jobs whose workers stopped");
        }
        if shared && !std::mem::take(&mut first) {
            match models::load_serving(&app).await {
                Ok(0) => {}
                Ok(loaded) => tracing::info!(loaded, "serving versions changed in the registry: loaded"),
                Err(error) => tracing::error!(%error, "could not follow the registry's serving versions"),
            }
        }
        if let Err(error) = schedule_round(&app).await {
            tracing::error!(%error, "training round failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stopped.changed() => break,
        }
    }
}

/// Settles the unfinished jobs whose lease ran out before `lease_before`: those past their
/// attempts are failed; the others go back on the queue (they would be claimed again anyway;
/// this makes it visible, and on embedded stores at once). Returns how many it failed.
pub async fn reap(app: &App, lease_before: i64) -> Result<usize> {
    let mut failed = 0;
    for (tenant, job) in app.stores.documents.pending_jobs(lease_before, &[], 1_000).await? {
        if job.state != JobState::Running {
            continue;
        }
        let mut settled = job.clone();
        settled.revision += 1;
        settled.worker = None;
        if job.attempts >= MAX_ATTEMPTS {
            settled.state = JobState::Failed;
            settled.error = Some(format!(
                "the process running this job stopped before it finished, {} times; the serving models were not changed",
                job.attempts
            ));
            settled.error_code = Some(Code::Internal.as_str().to_owned());
            settled.finished_ms = Some(app.now_ms());
        } else {
            settled.state = JobState::Queued;
            settled.stage = format!("queued again: the process running attempt {} stopped", job.attempts);
        }
        if app.stores.documents.swap_job(&tenant, &settled, Some(job.revision)).await? {
            if settled.state == JobState::Failed {
                failed += 1;
                tracing::warn!(tenant = %tenant, job = %job.job_id, "training job lost its process too often: failed");
            } else {
                tracing::warn!(tenant = %tenant, job = %job.job_id, "training job lost its process: queued again");
                app.job_queued.notify_one();
            }
        }
    }
    Ok(failed)
}

/// Rebuilds this process's item–item and user–user neighbours of a scenario from the warehouse
/// when its event count or their parameters (a new `item_cf` version's choice) changed since
/// they were built (they are an in-memory index of each serving process; the registry keeps
/// only their parameters). The fit runs under `bound`.
pub async fn refresh_neighbours(
    app: &App,
    tenant: &TenantId,
    scenario: &ScenarioId,
    config: &ScenarioConfig,
    bound: Bound,
) -> Result<()> {
    let count = app.stores.warehouse.count(tenant, Some(scenario)).await?;
    let params = app.models.cf_params(tenant, scenario, config);
    if count == 0 || app.models.cf_is_current(tenant, scenario, count, &params) {
        return Ok(());
    }
    let now = app.now_ms();
    let since = now - app.config.cf_window_days as i64 * DAY_MS;
    let interactions = app.stores.warehouse.interactions(tenant, scenario, since).await?;
    let what = "training item_cf and user_cf neighbours";
    let model =
        bound.blocking(&app.tenant_work, tenant, what, move || CfModel::train(&interactions, params, now)).await?;
    app.models.set_cf(tenant, scenario, model, count);
    Ok(())
}

/// One round of the schedule over every scenario. A scenario whose step fails (its store
/// query timed out, its neighbours could not be built) is logged and counted, and the round
/// goes on: one tenant's failing scenario must not stop every scenario after it, round after
/// round.
async fn schedule_round(app: &Arc<App>) -> Result<()> {
    let now = app.now_ms();
    let scenarios = app.stores.documents.all_scenarios().await?;
    super::each_apart("round", scenarios, |(tenant, scenario)| async move {
        let result = schedule_scenario(app, &tenant, &scenario, now).await;
        (tenant, scenario.scenario_id, result)
    })
    .await;
    Ok(())
}

/// The schedule's step for one scenario: its CF neighbours refreshed when its events changed,
/// its scheduled training and profile recompute queued.
async fn schedule_scenario(app: &Arc<App>, tenant: &TenantId, scenario: &Scenario, now: i64) -> Result<()> {
    let recompute_ms = app.config.profile_recompute_hours as i64 * 3_600_000;
    let id = &scenario.scenario_id;
    let count = app.stores.warehouse.count(tenant, Some(id)).await?;
    if count == 0 {
        return Ok(());
    }
    let events_changed = app.models.cf_trained_at(tenant, id) != Some(count);
    // Also when the registry's `item_cf` version (followed above) chose other parameters.
    refresh_neighbours(app, tenant, id, &scenario.config, Bound::Caller).await?;
    if events_changed {
        let models = scheduled(&scenario.config);
        if !models.is_empty() {
            let job_id = format!("schedule-{id}-{count}");
            enqueue(app, tenant, &new_job(app, id, job_id, "train", "schedule")).await?;
        }
    }
    if recompute_ms > 0 {
        let job_id = format!("profiles-{id}-{}", now.div_euclid(recompute_ms));
        enqueue(app, tenant, &new_job(app, id, job_id, super::profile::RECOMPUTE_KIND, "schedule")).await?;
    }
    Ok(())
}

/// A queued job's record.
fn new_job(app: &App, scenario: &ScenarioId, job_id: String, kind: &str, trigger: &str) -> JobRecord {
    let now = app.now_ms();
    JobRecord {
        job_id,
        scenario_id: scenario.clone(),
        kind: kind.to_owned(),
        models: Vec::new(),
        trigger: trigger.to_owned(),
        tune: false,
        state: JobState::Queued,
        progress: 0.0,
        stage: "queued".to_owned(),
        error: None,
        error_code: None,
        versions: BTreeMap::new(),
        data: BTreeMap::new(),
        created_ms: now,
        started_ms: None,
        finished_ms: None,
        heartbeat_ms: now,
        attempts: 0,
        worker: None,
        revision: 0,
    }
}

/// Recomputes a scenario's user profiles from the warehouse (the SPEC's offline profile update).
/// Fills the result cache: the answer of each user with an interaction in the job's
/// `active_days` (most recent first, at most [`MAX_PRECOMPUTE_USERS`]) to a plain request, as
/// `POST /recommend` would cache it. One user at a time, so a tenant's precompute takes one core
/// of the process at most.
async fn precompute_answers(app: &Arc<App>, tenant: &TenantId, scenario: &ScenarioId, tracker: &Tracker) -> Result<()> {
    cache_enabled(&*app.scenario(tenant, scenario).await?)?;
    let active_days = tracker.job.lock().data.get("active_days").copied().unwrap_or(PRECOMPUTE_ACTIVE_DAYS);
    tracker.stage("reading active users", 0.0, 0.1).await;
    let since = app.now_ms() - active_days as i64 * DAY_MS;
    let interactions = app.stores.warehouse.interactions(tenant, scenario, since).await?;
    // Proportional to the scenario's interactions: on the blocking pool, as the fits are.
    let (users, skipped) = blocking("ordering the active users", move || {
        let mut last: HashMap<&str, i64> = HashMap::new();
        for row in interactions.iter() {
            let at = last.entry(row.user_id.as_str()).or_insert(row.last_ms);
            *at = (*at).max(row.last_ms);
        }
        let mut users: Vec<(&str, i64)> = last.into_iter().collect();
        users.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let skipped = users.len().saturating_sub(MAX_PRECOMPUTE_USERS);
        users.truncate(MAX_PRECOMPUTE_USERS);
        (users.into_iter().map(|(user, _)| user.to_owned()).collect::<Vec<String>>(), skipped)
    })
    .await?;
    tracker.stage("filling the result cache", 0.1, 1.0).await;
    let (mut computed, mut cached) = (0u64, 0u64);
    for (n, user) in users.iter().enumerate() {
        if n % 1_000 == 0 {
            tracker.still_held()?;
            tracker.within.store((n as f64 / users.len() as f64).to_bits(), Ordering::Relaxed);
        }
        // Each answer is a request's work, and with every store answering from memory nothing
        // below needs to wait: without this the job kept its runtime thread for all its users.
        // (`Profiles::get` yields too, but only every hundred-odd reads: a request's work each.)
        tokio::task::yield_now().await;
        // Ids came through ingestion's checks; one that does not parse is not answered.
        let Ok(user) = UserId::parse(user) else { continue };
        if crate::service::recommend::precompute(app, tenant, &user, scenario).await? {
            cached += 1;
        } else {
            computed += 1;
        }
    }
    let mut job = tracker.job.lock();
    job.data.insert("users".into(), users.len() as u64);
    job.data.insert("computed".into(), computed);
    job.data.insert("cached_already".into(), cached);
    job.data.insert("users_past_the_cap".into(), skipped as u64);
    Ok(())
}

async fn recompute_profiles(app: &Arc<App>, tenant: &TenantId, scenario: &ScenarioId, tracker: &Tracker) -> Result<()> {
    app.scenario(tenant, scenario).await?;
    tracker.stage("reading events", 0.0, 0.3).await;
    let report = super::profile::recompute(app, tenant, scenario, &|| tracker.still_held()).await?;
    let mut job = tracker.job.lock();
    job.data.insert("users".into(), report.users);
    job.data.insert("events".into(), report.events);
    job.data.insert("skipped_active_users".into(), report.skipped);
    Ok(())
}
