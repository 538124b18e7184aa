//! Model snapshots: per scenario, the trained models the request path reads, each snapshot
//! swapped whole (requests already running keep the one they read); the locks that keep one
//! training and one serving change of a scenario at a time; and, shared, the following of other
//! processes' activations through the serving-models mark.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use polyrec_core::{Result, ScenarioConfig, ScenarioId, TenantId};
use polyrec_engine::cf::CfParams;
use polyrec_engine::{CfModel, ScenarioModels};
use polyrec_storage::Cached;

use super::coherence::{Coherence, Current};
use super::{App, Key, KeyedLocks};

/// How long the serving-models mark stays in the realtime store after the last change.
const SERVING_MARK_TTL_MS: i64 = 30 * polyrec_core::clock::DAY_MS;

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

pub struct Models {
    coherence: Arc<dyn Coherence>,
    snapshots: RwLock<HashMap<Key, Arc<ScenarioModels>>>,
    /// One training of a scenario at a time (the schedule and an on-demand call may overlap).
    training: KeyedLocks,
    /// One change of a scenario's serving versions at a time (an activation, a rollback, the
    /// schedule following the registry), so none sees another half done.
    serving: KeyedLocks,
    followed: RwLock<HashMap<Key, Arc<FollowSlot>>>,
    started: std::time::Instant,
}

impl Models {
    pub(crate) fn new(coherence: Arc<dyn Coherence>) -> Self {
        Self {
            coherence,
            snapshots: RwLock::default(),
            training: KeyedLocks::default(),
            serving: KeyedLocks::default(),
            followed: RwLock::default(),
            started: std::time::Instant::now(),
        }
    }

    /// The scenario's trained models, if any.
    pub fn current(&self, tenant: &TenantId, id: &ScenarioId) -> Option<Arc<ScenarioModels>> {
        self.snapshots.read().get(&(tenant.clone(), id.clone())).cloned()
    }

    /// Replaces the scenario's snapshot with a changed copy; requests already running keep the
    /// snapshot they read. Returns the snapshot it replaced.
    pub fn update(
        &self,
        tenant: &TenantId,
        id: &ScenarioId,
        change: impl FnOnce(&mut ScenarioModels),
    ) -> Option<Arc<ScenarioModels>> {
        let mut snapshots = self.snapshots.write();
        let key = (tenant.clone(), id.clone());
        let mut next = snapshots.get(&key).map(|m| (**m).clone()).unwrap_or_default();
        change(&mut next);
        snapshots.insert(key, Arc::new(next))
    }

    /// Installs a trained CF model; `event_count` is the scenario's warehouse count it was trained on.
    pub fn set_cf(&self, tenant: &TenantId, id: &ScenarioId, model: CfModel, event_count: u64) {
        super::drop_off_runtime(self.update(tenant, id, |models| {
            models.cf = Some(Arc::new(model));
            models.trained_on_events = Some(event_count);
        }));
    }

    /// The warehouse event count the scenario's CF model was trained on, if any.
    pub fn cf_trained_at(&self, tenant: &TenantId, id: &ScenarioId) -> Option<u64> {
        self.current(tenant, id)?.trained_on_events
    }

    /// The parameters the scenario's CF neighbours should be built with: the serving `item_cf`
    /// version's choice, else the config's `params.model`, else the defaults.
    pub fn cf_params(&self, tenant: &TenantId, id: &ScenarioId, config: &ScenarioConfig) -> CfParams {
        polyrec_engine::learned::item_cf::params_for(self.current(tenant, id).as_deref(), Some(config))
    }

    /// Whether the scenario's CF neighbours were built from `event_count` events with `params`.
    pub fn cf_is_current(&self, tenant: &TenantId, id: &ScenarioId, event_count: u64, params: &CfParams) -> bool {
        self.current(tenant, id).is_some_and(|models| {
            models.trained_on_events == Some(event_count) && models.cf.as_ref().is_some_and(|cf| cf.params == *params)
        })
    }

    /// Waits for any training of the scenario in this process to finish; the guard holds off
    /// the next one until dropped.
    pub async fn training_slot(&self, tenant: &TenantId, id: &ScenarioId) -> tokio::sync::OwnedMutexGuard<()> {
        self.training.of(&(tenant.clone(), id.clone())).lock_owned().await
    }

    /// Waits for any change of the scenario's serving versions in this process (install, then
    /// the registry's record of it) to finish; the guard holds off the next one until dropped.
    pub async fn serving_slot(&self, tenant: &TenantId, id: &ScenarioId) -> tokio::sync::OwnedMutexGuard<()> {
        self.serving.of(&(tenant.clone(), id.clone())).lock_owned().await
    }

    /// Called after this process changed a scenario's serving models (an activation, a
    /// rollback): shared, replaces the mark other processes follow.
    pub async fn serving_changed(&self, tenant: &TenantId, id: &ScenarioId) {
        if !self.coherence.is_shared() {
            return;
        }
        let mark = uuid::Uuid::new_v4().simple().to_string();
        // This process serves the change already.
        let slot = self.followed.write().entry((tenant.clone(), id.clone())).or_default().clone();
        slot.state.lock().mark = Some(mark.clone());
        if let Err(error) =
            self.coherence.written(Cached::ServingModels(tenant, id), Some(&mark), SERVING_MARK_TTL_MS).await
        {
            tracing::warn!(%tenant, scenario = %id, %error,
                "cannot publish the model change; other processes follow it at their next schedule tick");
        }
    }

    /// Called after the scenario was deleted.
    pub(crate) fn forget(&self, tenant: &TenantId, id: &ScenarioId) {
        self.snapshots.write().remove(&(tenant.clone(), id.clone()));
    }

    fn now(&self) -> u64 {
        // 1 at the earliest, so 0 keeps meaning "never checked".
        self.started.elapsed().as_millis() as u64 + 1
    }
}

impl App {
    /// Shared: at most every `services.follow_ms` per scenario, brings this process's serving
    /// models in line with what other processes changed: the versions the registry serves when
    /// the serving-models mark changed (an activation or rollback elsewhere), and the ranker the
    /// config asks for when the config changed (a `rank.version` pin set elsewhere). Requests of
    /// the scenario wait while it loads.
    pub async fn follow_models(&self, tenant: &TenantId, id: &ScenarioId) {
        let models = &self.models;
        let Some(every) = models.coherence.revalidate_after() else { return };
        let key = (tenant.clone(), id.clone());
        let fresh = |followed: &Followed| {
            followed.checked != 0 && models.now().saturating_sub(followed.checked) < every.as_millis() as u64
        };
        let known = models.followed.read().get(&key).cloned();
        let slot = match known {
            Some(slot) if fresh(&slot.state.lock()) => return,
            Some(slot) => slot,
            None => models.followed.write().entry(key).or_default().clone(),
        };
        let _following = slot.running.lock().await;
        let seen = slot.state.lock().clone();
        if fresh(&seen) {
            return; // Another request followed while this one waited.
        }
        let mark = match models.coherence.current(Cached::ServingModels(tenant, id)).await {
            Ok(Current::Entry(mark)) => Some(mark),
            Ok(_) => None,
            Err(error) => {
                tracing::debug!(%tenant, scenario = %id, %error, "serving-models mark unavailable; keeping the models");
                return;
            }
        };
        let config_version = self.scenario(tenant, id).await.ok().map(|c| c.scenario.version);
        let result: Result<()> = if mark.is_some() && mark != seen.mark {
            crate::service::models::follow(self, tenant, id, crate::blocking::Bound::Tenant).await.map(|loaded| {
                if loaded > 0 {
                    tracing::info!(%tenant, scenario = %id, loaded, "serving the versions another process activated");
                }
            })
        } else if config_version != seen.config_version && seen.checked != 0 {
            crate::service::models::sync_ranker(self, tenant, id, crate::blocking::Bound::Tenant).await
        } else {
            Ok(())
        };
        if let Err(error) = result {
            tracing::warn!(%tenant, scenario = %id, %error, "could not follow the model registry");
        }
        *slot.state.lock() = Followed { checked: models.now(), mark, config_version };
    }
}
