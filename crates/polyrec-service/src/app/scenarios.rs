//! Compiled scenarios: the config and its [`Pipeline`] per tenant and scenario, rebuilt when the
//! scenario changes. SPEC §5.3: configs are cached for an hour after a read of the document
//! store; shared, through `scenario:config:{tenant}:{scenario}`, which every write replaces.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use polyrec_core::clock::HOUR_MS;
use polyrec_core::{Error, Result, Scenario, ScenarioId, TenantId};
use polyrec_engine::Pipeline;
use polyrec_storage::Cached;

use super::Key;
use super::coherence::{Coherence, Current};
use crate::sources::ScenarioSource;
use crate::telemetry;

/// SPEC §5.3: scenario configs are cached for an hour after a read of the document store.
const SCENARIO_CACHE_TTL_MS: i64 = HOUR_MS;

/// A scenario with its config compiled into strategy objects.
pub struct CompiledScenario {
    pub scenario: Scenario,
    pub pipeline: Pipeline,
    /// The shared cache entry it was compiled from, when the cache is shared.
    json: Option<String>,
}

pub struct Scenarios {
    source: Arc<dyn ScenarioSource>,
    coherence: Arc<dyn Coherence>,
    compiled: RwLock<HashMap<Key, Arc<CompiledScenario>>>,
}

impl Scenarios {
    pub(crate) fn new(source: Arc<dyn ScenarioSource>, coherence: Arc<dyn Coherence>) -> Self {
        Self { source, coherence, compiled: RwLock::default() }
    }

    /// The scenario with its compiled pipeline; `NotFound` for unknown (or other tenants')
    /// scenarios. With the shared entry unchanged the compiled pipeline is reused; with the
    /// realtime store down, the last compiled version serves (SPEC §6.3).
    pub async fn get(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Arc<CompiledScenario>> {
        let key = (tenant.clone(), id.clone());
        let entry = Cached::ScenarioConfig(tenant, id);
        let held = self.compiled.read().get(&key).cloned();
        let current = self.coherence.current(entry).await;
        telemetry::cache_lookup(
            "scenario",
            match &current {
                Ok(Current::Kept) => held.is_some(),
                Ok(Current::Entry(_)) => true,
                _ => false,
            },
        );
        match current {
            Ok(Current::Kept) => {
                if let Some(compiled) = held {
                    return Ok(compiled);
                }
            }
            Ok(Current::Entry(json)) => {
                if let Some(compiled) = held.filter(|c| c.json.as_deref() == Some(json.as_str())) {
                    return Ok(compiled);
                }
                match serde_json::from_str::<Scenario>(&json) {
                    Ok(scenario) => {
                        let compiled = Arc::new(compile(scenario, Some(json))?);
                        self.compiled.write().insert(key, compiled.clone());
                        return Ok(compiled);
                    }
                    Err(error) => {
                        tracing::warn!(%tenant, scenario = %id, %error, "unreadable cached scenario; reading the store")
                    }
                }
            }
            Ok(Current::Absent) => {}
            Err(error) => {
                if let Some(compiled) = held {
                    tracing::warn!(%tenant, scenario = %id, %error, "realtime store unavailable; serving the cached scenario");
                    return Ok(compiled);
                }
            }
        }
        let generation = self.coherence.begin();
        let Some(scenario) = self.source.scenario(tenant, id).await? else {
            self.compiled.write().remove(&key);
            return Err(Error::not_found(format!("scenario {:?}", id.as_str())));
        };
        // Shared, the text fills the shared entry and marks the compiled copy; local, no text.
        let json = match self.coherence.is_shared() {
            true => Some(serde_json::to_string(&scenario).map_err(Error::internal)?),
            false => None,
        };
        if let Some(json) = &json {
            self.coherence.fill(entry, json, SCENARIO_CACHE_TTL_MS).await;
        }
        let compiled = Arc::new(compile(scenario, json)?);
        let mut cache = self.compiled.write();
        if self.coherence.unchanged(generation) {
            cache.insert(key, compiled.clone());
        }
        Ok(compiled)
    }

    /// The scenario's incarnation (`Scenario::incarnation`), or `None` if it does not exist.
    pub async fn incarnation(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Option<u64>> {
        match self.get(tenant, id).await {
            Ok(compiled) => Ok(Some(compiled.scenario.incarnation)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// After a write (`Some`) or a delete (`None`) of the scenario: the next request, in this
    /// process and (shared) in every other, compiles the new version.
    pub(crate) async fn written(&self, tenant: &TenantId, id: &ScenarioId, scenario: Option<&Scenario>) -> Result<()> {
        let json = scenario.map(serde_json::to_string).transpose().map_err(Error::internal)?;
        {
            let mut cache = self.compiled.write();
            cache.remove(&(tenant.clone(), id.clone()));
        }
        let entry = Cached::ScenarioConfig(tenant, id);
        self.coherence.written(entry, json.as_deref(), SCENARIO_CACHE_TTL_MS).await?;
        // A reader that began before the write and fills after it is refused by `unchanged`;
        // one that filled between the removal and the bump is dropped here.
        self.compiled.write().remove(&(tenant.clone(), id.clone()));
        Ok(())
    }
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
