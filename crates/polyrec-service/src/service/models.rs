//! The model registry (SPEC §4.1 `model_configs`, DESIGN §5): every trained model is an artifact
//! in the blob store plus a versioned record with its config, offline metrics and status. The
//! serving version of each model is loaded into the scenario's [`ScenarioModels`](polyrec_engine::ScenarioModels) snapshot,
//! which requests read without locks: activating or rolling back swaps the snapshot, and a
//! request that already holds the old one finishes with it (a replaced vector collection stays
//! searchable for [`RETIRE_AFTER`]).
//!
//! Activation loads the artifact first and writes the registry after, so a version that cannot
//! be loaded never becomes active, and a failed training never touches the serving version.

use polyrec_core::Code;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use polyrec_core::model::{ModelKind, same_version, serving_version};
use polyrec_core::timefmt::format_ms;
use polyrec_core::{Error, ModelRecord, ModelStatus, Result, ScenarioId, TenantId};
use polyrec_engine::VectorModel;
use polyrec_engine::learned::{self, LearnedModel, Trained};
use polyrec_storage::VectorCollection;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::App;
use crate::blocking::{Bound, blocking};

/// How long a replaced vector collection stays searchable for requests that still hold the
/// snapshot that points at it (recall channels time out in milliseconds).
pub const RETIRE_AFTER: Duration = Duration::from_secs(30);

/// A trained model in memory, ready to serve: which learned model it is, and the model.
#[derive(Clone)]
pub struct Loaded {
    pub model: &'static dyn LearnedModel,
    pub trained: Arc<dyn Trained>,
}

impl Loaded {
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self> {
        let model = learned::named(name).ok_or_else(|| Error::internal(format!("no loader for model {name:?}")))?;
        Ok(Loaded { model, trained: model.load(bytes)? })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.trained.to_bytes()
    }

    pub fn name(&self) -> &'static str {
        self.model.name()
    }
}

/// Whether `name` is a learned ranker (one of them serves a scenario, the one its config names).
fn is_ranker(name: &str) -> bool {
    learned::named(name).is_some_and(|model| model.stage() == ModelKind::Rank)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelView {
    pub scenario_id: String,
    pub model_type: ModelKind,
    pub model_name: String,
    pub model_version: String,
    /// The artifact's key in the blob store.
    pub model_path: String,
    #[schema(value_type = Object)]
    pub config: Value,
    /// Offline metrics on held-out data.
    pub metrics: BTreeMap<String, f64>,
    pub status: ModelStatus,
    /// Whether this process serves it (the active version, or the one `rank.version` pins).
    pub serving: bool,
    pub job_id: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<String>,
}

impl ModelView {
    fn new(record: ModelRecord, serving: bool) -> Self {
        Self {
            scenario_id: record.scenario_id.to_string(),
            model_type: record.model_type,
            model_name: record.model_name,
            model_version: record.model_version,
            model_path: record.model_path,
            config: record.config,
            metrics: record.metrics,
            status: record.status,
            serving,
            job_id: record.job_id,
            created_at: format_ms(record.created_ms),
            activated_at: record.activated_ms.map(format_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelView>,
}

/// The stage a model name serves; `unknown_model` (listing the known ones) if none.
pub(crate) fn check_name(name: &str) -> Result<ModelKind> {
    learned::named(name).map(|model| model.stage()).ok_or_else(|| {
        let known: Vec<&str> = learned::names(None).collect();
        Error::invalid(Code::UnknownModel, format!("unknown model {name:?}; the registry knows {}", known.join(", ")))
    })
}

/// A scenario's registered versions, of one model or of all, newest first.
pub async fn list(app: &App, tenant: &TenantId, scenario: &ScenarioId, name: Option<&str>) -> Result<ModelList> {
    app.scenario(tenant, scenario).await?;
    if let Some(name) = name {
        check_name(name)?;
    }
    app.follow_models(tenant, scenario).await;
    let serving = app.models.current(tenant, scenario).map(|m| m.versions.clone()).unwrap_or_default();
    let records = app.stores.documents.list_models(tenant, scenario, name).await?;
    let models = records
        .into_iter()
        .map(|record| {
            let serves = serving.get(&record.model_name) == Some(&record.model_version);
            ModelView::new(record, serves)
        })
        .collect();
    Ok(ModelList { models })
}

/// Stores a trained model's artifact and registers it as a new, inactive version.
pub async fn register(
    app: &App,
    tenant: &TenantId,
    scenario: &ScenarioId,
    loaded: &Loaded,
    config: Value,
    metrics: BTreeMap<String, f64>,
    job_id: &str,
) -> Result<ModelRecord> {
    let name = loaded.name();
    let model_type = check_name(name)?;
    // Two trainings (in two processes) may number a version alike: the second takes the next.
    for _ in 0..5 {
        let existing = app.stores.documents.list_models(tenant, scenario, Some(name)).await?;
        let sequence = existing.iter().map(|m| m.sequence).max().unwrap_or(0) + 1;
        let run = uuid::Uuid::new_v4().simple().to_string();
        let key = format!("{scenario}/{name}/v{sequence}-{}.bin", &run[..8]);
        // Encoded on the blocking pool (a dense EASE at its item cap is gigabytes), once per
        // attempt rather than copied: a second attempt is rare.
        let encoding = loaded.clone();
        // (Not on the tenant's blocking slots: a training job holding one of the process's
        // training slots would wait there behind the tenant's catalog builds.)
        let bytes = blocking(&format!("encoding model {name}"), move || encoding.to_bytes()).await?;
        app.stores.blobs.put(tenant, &key, bytes).await?;
        let record = ModelRecord {
            scenario_id: scenario.clone(),
            model_type,
            model_name: name.to_owned(),
            model_version: ModelRecord::version_name(sequence),
            sequence,
            model_path: key,
            config: config.clone(),
            metrics: metrics.clone(),
            status: ModelStatus::Inactive,
            job_id: job_id.to_owned(),
            created_ms: app.now_ms(),
            activated_ms: None,
        };
        match app.stores.documents.insert_model(tenant, &record).await {
            Ok(()) => return Ok(record),
            Err(Error::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::unavailable(format!("could not number a new version of {name}: too many concurrent trainings")))
}

/// Activates `version` of model `name`: loads its artifact into this process, then marks it
/// active (and the version it replaces inactive) in the registry.
pub async fn activate(
    app: &App,
    tenant: &TenantId,
    scenario: &ScenarioId,
    name: &str,
    version: &str,
) -> Result<ModelView> {
    app.scenario(tenant, scenario).await?;
    check_name(name)?;
    let versions = app.stores.documents.list_models(tenant, scenario, Some(name)).await?;
    let record = versions
        .into_iter()
        .find(|m| m.model_version == version)
        .ok_or_else(|| Error::not_found(format!("version {version:?} of model {name}")))?;
    let loaded = load(app, tenant, &record, Bound::Tenant).await?;
    activate_loaded(app, tenant, record, loaded, Bound::Tenant).await
}

/// Activates the version that was serving before the current one.
pub async fn rollback(app: &App, tenant: &TenantId, scenario: &ScenarioId, name: &str) -> Result<ModelView> {
    app.scenario(tenant, scenario).await?;
    check_name(name)?;
    let versions = app.stores.documents.list_models(tenant, scenario, Some(name)).await?;
    let current = serving_version(&versions).map(|m| m.sequence);
    let previous = versions
        .iter()
        .filter(|m| Some(m.sequence) != current && m.activated_ms.is_some())
        .max_by_key(|m| (m.activated_ms, m.sequence))
        .ok_or_else(|| Error::Conflict {
            code: Code::NoPreviousVersion,
            message: format!("model {name} has no version that served before the current one to roll back to"),
        })?
        .clone();
    let loaded = load(app, tenant, &previous, Bound::Tenant).await?;
    activate_loaded(app, tenant, previous, loaded, Bound::Tenant).await
}

/// Serves a model that is in memory already (just trained), then records it as active; its
/// item vectors are indexed under `bound`.
pub async fn activate_loaded(
    app: &App,
    tenant: &TenantId,
    record: ModelRecord,
    loaded: Loaded,
    bound: Bound,
) -> Result<ModelView> {
    // Installed and recorded as one step: the schedule following the registry must not read the
    // registry between the two and put the previous version back.
    let _serving = app.models.serving_slot(tenant, &record.scenario_id).await;
    install(app, tenant, &record, loaded, bound).await?;
    let mut active = record;
    active.status = ModelStatus::Active;
    active.activated_ms = Some(app.now_ms());
    app.stores.documents.replace_model(tenant, &active).await?;
    // The activation is recorded; now retire the others (a crash in between leaves two active
    // records, and the one activated last serves: `serving_version`).
    for mut other in app.stores.documents.list_models(tenant, &active.scenario_id, Some(&active.model_name)).await? {
        if other.status == ModelStatus::Active && other.sequence != active.sequence {
            other.status = ModelStatus::Inactive;
            app.stores.documents.replace_model(tenant, &other).await?;
        }
    }
    tracing::info!(
        tenant = %tenant, scenario = %active.scenario_id, model = %active.model_name,
        version = %active.model_version, "model version activated"
    );
    app.models.serving_changed(tenant, &active.scenario_id).await;
    Ok(ModelView::new(active, true))
}

/// Reads and decodes a version's artifact, the decoding under `bound`.
async fn load(app: &App, tenant: &TenantId, record: &ModelRecord, bound: Bound) -> Result<Loaded> {
    let bytes = app.stores.blobs.get(tenant, &record.model_path).await?.ok_or_else(|| Error::Conflict {
        code: Code::ArtifactMissing,
        message: format!(
            "the artifact of {} {} ({}) is not in the blob store; train a new version",
            record.model_name, record.model_version, record.model_path
        ),
    })?;
    let name = record.model_name.clone();
    let what = format!("decoding model {name}");
    bound.blocking(&app.tenant_work, tenant, &what, move || Loaded::from_bytes(&name, &bytes)).await?
}

/// A vector collection a load created: dropped again unless the load keeps it, so a load whose
/// caller gave up (a request past its deadline, a client gone) leaves no index behind.
struct Created {
    index: Arc<dyn polyrec_storage::VectorIndex>,
    collection: Option<VectorCollection>,
}

impl Created {
    fn keep(mut self) -> VectorCollection {
        self.collection.take().expect("kept once")
    }
}

impl Drop for Created {
    fn drop(&mut self) {
        let Some(collection) = self.collection.take() else { return };
        let index = self.index.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = index.drop_collection(&collection).await {
                    tracing::warn!(%error, collection = %collection.model, "could not drop an abandoned vector collection");
                }
            });
        }
    }
}

/// Puts a loaded model into the scenario's snapshot, its item vectors indexed under `bound` (an
/// index over a million vectors is seconds of clustering).
async fn install(app: &App, tenant: &TenantId, record: &ModelRecord, loaded: Loaded, bound: Bound) -> Result<()> {
    let scenario = &record.scenario_id;
    let name = loaded.model.name();
    let version = record.model_version.clone();
    if loaded.model.stage() == ModelKind::Rank {
        // One ranker serves a scenario: the one its config names, at the pinned version if
        // `rank.version` pins one. Others stay registered without serving.
        let config = app.scenario(tenant, scenario).await?.scenario.config.rank.clone();
        let pinned_elsewhere = config.version.as_ref().is_some_and(|pin| !same_version(pin, &version));
        if config.model != name || pinned_elsewhere {
            return Ok(());
        }
    }
    // Item vectors are searchable before the model that queries them is swapped in. The
    // collection's name is unique per load, also between processes and under a clock that
    // stands still.
    let vectors = match loaded.trained.item_vectors() {
        Some(_) => {
            let run = uuid::Uuid::new_v4().simple().to_string();
            let collection = VectorCollection::new(tenant, scenario, format!("{name}-{version}-{}", &run[..12]));
            let (index, trained, named) = (app.stores.vectors.clone(), loaded.trained.clone(), collection.clone());
            // Indexed on a task of its own on the tenant's slots: if this load's caller gives up
            // meanwhile, the collection comes back to nobody and `Created` drops it again.
            let indexing = async move {
                if let Some((dimensions, items, factors)) = trained.item_vectors() {
                    index.create(&named, dimensions, items, factors).await?;
                }
                Ok(Created { index, collection: Some(named) })
            };
            let created = bound
                .run_async(&app.tenant_work, tenant, &format!("indexing the item vectors of {name}"), indexing)
                .await?;
            // Kept from here on: nothing below waits, so the load cannot stop before the model
            // that searches the collection is in.
            Some((app.stores.vectors.clone(), created.keep()))
        }
        None => None,
    };
    let installed = vectors.as_ref().map(|(_, collection)| collection.clone());
    let replaced =
        app.models.update(tenant, scenario, |models| loaded.trained.install(name, &version, models, vectors));
    let old = replaced.as_ref().and_then(|m| m.learned::<VectorModel>(name).map(|v| v.collection.clone()));
    crate::app::drop_off_runtime(replaced);
    // A replaced collection goes once the requests that may still search it are done.
    if let Some(new) = installed
        && let Some(old) = old
        && old != new
    {
        retire(app, old);
    }
    Ok(())
}

/// Makes the scenario serve the ranker its config asks for: the pinned version when
/// `rank.version` pins one, else the active version; none when the config names no learned
/// ranker. Called at start-up and after every config change; decoded under `bound`.
pub async fn sync_ranker(app: &App, tenant: &TenantId, scenario: &ScenarioId, bound: Bound) -> Result<()> {
    let rank = app.scenario(tenant, scenario).await?.scenario.config.rank.clone();
    let current = app
        .models
        .current(tenant, scenario)
        .and_then(|m| m.ranker.as_ref().map(|r| (r.name.clone(), r.version.clone())));
    if !is_ranker(&rank.model) {
        if current.is_some() {
            crate::app::drop_off_runtime(app.models.update(tenant, scenario, |models| {
                if let Some(old) = models.ranker.take() {
                    models.versions.remove(&old.name);
                }
            }));
        }
        return Ok(());
    }
    let versions = app.stores.documents.list_models(tenant, scenario, Some(&rank.model)).await?;
    let wanted = match &rank.version {
        Some(pin) => versions.iter().find(|m| same_version(pin, &m.model_version)),
        None => serving_version(&versions),
    };
    let Some(wanted) = wanted else { return Ok(()) };
    if current.as_ref() == Some(&(wanted.model_name.clone(), wanted.model_version.clone())) {
        return Ok(());
    }
    let loaded = load(app, tenant, wanted, bound).await?;
    install(app, tenant, wanted, loaded, bound).await
}

/// Drops a replaced vector collection once requests that may still search it are done.
fn retire(app: &App, collection: VectorCollection) {
    let index = app.stores.vectors.clone();
    tokio::spawn(async move {
        tokio::time::sleep(RETIRE_AFTER).await;
        if let Err(error) = index.drop_collection(&collection).await {
            tracing::warn!(%error, collection = %collection.model, "could not drop a retired vector collection");
        }
    });
}

/// Loads the serving version of every model of every scenario that this process does not serve
/// yet: at start-up all of them (this process serves what the registry says, without
/// retraining), and then, on shared stores, every schedule tick, so a version that another
/// process trained, activated or rolled back serves here too. A version that fails to load, or
/// a scenario whose registry cannot be read, is logged and skipped; the scenario answers through
/// its other channels. Returns how many were loaded.
pub async fn load_serving(app: &App) -> Result<usize> {
    let scenarios = app.stores.documents.all_scenarios().await?;
    // A scenario whose registry cannot be read now is skipped, not every one after it.
    let loaded = crate::jobs::each_apart("load_serving", scenarios, |(tenant, scenario)| async move {
        let loaded = follow(app, &tenant, &scenario.scenario_id, Bound::Caller).await;
        (tenant, scenario.scenario_id, loaded)
    })
    .await;
    Ok(loaded.into_iter().sum())
}

/// Loads the serving version of every model of one scenario that this process does not serve
/// yet (see [`load_serving`]), under `bound`; returns how many were loaded.
pub async fn follow(app: &App, tenant: &TenantId, id: &ScenarioId, bound: Bound) -> Result<usize> {
    let mut loaded = 0;
    // The registry is read and followed while no activation of this process is half done.
    let _serving = app.models.serving_slot(tenant, id).await;
    let records = app.stores.documents.list_models(tenant, id, None).await?;
    let mut names: Vec<&str> = records.iter().map(|m| m.model_name.as_str()).collect();
    names.dedup();
    // Rankers: the one the config asks for (pinned or active).
    names.retain(|name| !is_ranker(name));
    if records.iter().any(|m| is_ranker(&m.model_name)) {
        let ranker =
            |app: &App| app.models.current(tenant, id).and_then(|m| m.ranker.as_ref().map(|r| r.version.clone()));
        let before = ranker(app);
        match sync_ranker(app, tenant, id, bound).await {
            Ok(()) => loaded += usize::from(ranker(app) != before),
            Err(error) => {
                tracing::error!(tenant = %tenant, scenario = %id, %error, "could not load the scenario's ranker")
            }
        }
    }
    let serving = app.models.current(tenant, id).map(|m| m.versions.clone()).unwrap_or_default();
    for name in names {
        let versions: Vec<ModelRecord> = records.iter().filter(|m| m.model_name == name).cloned().collect();
        let Some(record) = serving_version(&versions) else { continue };
        if serving.get(name) == Some(&record.model_version) {
            continue;
        }
        let result = match load(app, tenant, record, bound).await {
            Ok(model) => install(app, tenant, record, model, bound).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => loaded += 1,
            Err(error) => tracing::error!(
                tenant = %tenant, scenario = %id, model = name, version = %record.model_version, %error,
                "could not load the serving version"
            ),
        }
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocking::TenantWork;
    use polyrec_storage::{IvfIndex, IvfParams, VectorIndex};

    /// A load's indexing runs on a task of its own (on the tenant's slot); when the load's caller
    /// gives up meanwhile, the collection it created comes back to nobody and is dropped again,
    /// not left in the index for good.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_collection_whose_load_gave_up_is_dropped_again() {
        let index: Arc<dyn VectorIndex> = Arc::new(IvfIndex::new(IvfParams::default()));
        let (tenant, scenario) = (TenantId::parse("acme").unwrap(), ScenarioId::parse("feed").unwrap());
        let collection = VectorCollection::new(&tenant, &scenario, "als-v1-abandoned".to_owned());
        let notify = || Arc::new(tokio::sync::Notify::new());
        let (started, go, created) = (notify(), notify(), notify());
        let indexing = {
            let (index, collection) = (index.clone(), collection.clone());
            let (started, go, created) = (started.clone(), go.clone(), created.clone());
            async move {
                started.notify_one();
                go.notified().await;
                index.create(&collection, 2, &["i1".to_owned()], &[0.5, 0.5]).await?;
                created.notify_one();
                Ok(Created { index, collection: Some(collection) })
            }
        };
        let work = TenantWork::new(1);
        let caller = tokio::spawn({
            let tenant = tenant.clone();
            async move { Bound::Tenant.run_async(&work, &tenant, "indexing", indexing).await.map(Created::keep) }
        });
        started.notified().await;
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        go.notify_one();
        created.notified().await;
        // (The bound only fails a version that leaves the collection: it would stay for good.)
        tokio::time::timeout(Duration::from_secs(60), async {
            while index.exists(&collection).await.unwrap() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the abandoned collection stayed in the index");
    }
}
