//! Each scenario's running experiment (or none), compiled per group against the scenario's
//! config. Local, a write drops the entry; shared, an entry is read again after
//! `services.follow_ms`, stale-while-revalidate.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use polyrec_core::{Experiment, ExperimentStatus, Result, ScenarioId, TenantId};

use super::coherence::Coherence;
use super::scenarios::CompiledScenario;
use super::{Key, KeyedLocks};
use crate::service::experiments::LiveExperiment;
use crate::sources::ScenarioSource;

/// A scenario's experiments as serving and event stamping see them.
#[derive(Default)]
pub struct ScenarioExperiments {
    /// The running one, compiled per group.
    pub live: Option<Arc<LiveExperiment>>,
    /// The others (not started, stopped), by id: an event that names one is stamped from its
    /// assignment, not as it was sent.
    pub others: HashMap<String, Experiment>,
}

struct Entry {
    experiments: Arc<ScenarioExperiments>,
    /// The scenario version its pipelines were compiled against.
    scenario_version: u64,
    loaded: std::time::Instant,
}

pub struct Experiments {
    source: Arc<dyn ScenarioSource>,
    coherence: Arc<dyn Coherence>,
    entries: RwLock<HashMap<Key, Entry>>,
    /// One read of a scenario's experiments at a time.
    reads: KeyedLocks,
}

impl Experiments {
    pub(crate) fn new(source: Arc<dyn ScenarioSource>, coherence: Arc<dyn Coherence>) -> Self {
        Self { source, coherence, entries: RwLock::default(), reads: KeyedLocks::default() }
    }

    /// Called after an experiment of the scenario (or the scenario) was written by this process.
    pub fn changed(&self, tenant: &TenantId, id: &ScenarioId) {
        let mut entries = self.entries.write();
        // Under the lock, so a reader filling after this sees the new generation.
        self.coherence.bump();
        entries.remove(&(tenant.clone(), id.clone()));
    }

    fn cached(&self, key: &Key, version: u64) -> Option<(Arc<ScenarioExperiments>, bool)> {
        let entries = self.entries.read();
        let entry = entries.get(key).filter(|e| e.scenario_version == version)?;
        let fresh = self.coherence.revalidate_after().is_none_or(|after| entry.loaded.elapsed() < after);
        Some((entry.experiments.clone(), fresh))
    }

    /// The scenario's running experiment, compiled per group against `compiled`'s config; `None`
    /// when none runs. (Whether it assigns at a given moment is `LiveExperiment::assign`'s call.)
    pub async fn live(&self, tenant: &TenantId, compiled: &CompiledScenario) -> Result<Option<Arc<LiveExperiment>>> {
        Ok(self.all(tenant, compiled).await?.live.clone())
    }

    /// The scenario's experiments: the running one compiled, and the others.
    pub async fn all(&self, tenant: &TenantId, compiled: &CompiledScenario) -> Result<Arc<ScenarioExperiments>> {
        let id = &compiled.scenario.scenario_id;
        let version = compiled.scenario.version;
        let key = (tenant.clone(), id.clone());
        if let Some((known, true)) = self.cached(&key, version) {
            return Ok(known);
        }
        // One read per scenario at a time. While it runs, the other requests answer with what
        // was read before (stale while revalidating); only without any entry do they wait.
        let slot = self.reads.of(&key);
        let _reading = match (self.cached(&key, version), slot.try_lock()) {
            (_, Ok(guard)) => guard,
            (Some((known, _)), Err(_)) => return Ok(known),
            (None, Err(_)) => slot.lock().await,
        };
        let stale = match self.cached(&key, version) {
            Some((known, true)) => return Ok(known),
            Some((known, false)) => Some(known),
            None => None,
        };
        let generation = self.coherence.begin();
        let experiments = match self.source.experiments(tenant, id).await {
            Ok(experiments) => experiments,
            // SPEC §6.3: with the source down, what was read before still serves.
            Err(error) if stale.is_some() => {
                tracing::warn!(%tenant, scenario = %id, %error, "cannot read the experiments; serving the last ones read");
                return Ok(stale.unwrap_or_default());
            }
            Err(error) => return Err(error),
        };
        let (running, others): (Vec<Experiment>, Vec<Experiment>) =
            experiments.into_iter().partition(|e| e.status == ExperimentStatus::Running);
        let others = others.into_iter().map(|e| (e.experiment_id.clone(), e)).collect();
        let live = running.into_iter().next().and_then(|experiment| {
            let name = experiment.experiment_id.clone();
            match LiveExperiment::compile(compiled, experiment) {
                Ok(live) => Some(Arc::new(live)),
                // The scenario's config changed so that a group's patch no longer fits: every
                // user gets the scenario's own config until the experiment is fixed.
                Err(error) => {
                    tracing::error!(tenant = %tenant, scenario = %id, experiment = %name, %error,
                        "a running experiment's group does not compile against the current config; not assigning");
                    None
                }
            }
        });
        let experiments = Arc::new(ScenarioExperiments { live, others });
        let mut entries = self.entries.write();
        if self.coherence.unchanged(generation) {
            let entry = Entry {
                experiments: experiments.clone(),
                scenario_version: version,
                loaded: std::time::Instant::now(),
            };
            entries.insert(key, entry);
        }
        Ok(experiments)
    }
}
