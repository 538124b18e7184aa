//! The scenario service: CRUD of scenarios and their configs. A config is validated whole
//! before anything is saved; every change bumps the version, and the next recommend call
//! compiles the new version.

use polyrec_core::Code;
use polyrec_core::timefmt::format_ms;
use polyrec_core::{Error, Result, Scenario, ScenarioConfig, ScenarioId, ScenarioStatus, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{merge_patch, parse_body};
use crate::App;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScenario {
    pub scenario_id: String,
    /// vlog, news, ecommerce, ... (free, lowercase letters, digits and '_').
    pub scenario_type: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The config of SPEC §5: features, recall, rank, rerank.
    #[schema(value_type = ScenarioConfig)]
    pub config: Value,
    #[serde(default)]
    pub status: Option<ScenarioStatus>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceScenario {
    /// Optional; must equal the id in the path when given.
    #[serde(default)]
    pub scenario_id: Option<String>,
    pub scenario_type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[schema(value_type = ScenarioConfig)]
    pub config: Value,
    #[serde(default)]
    pub status: Option<ScenarioStatus>,
}

/// A partial update: any of these fields; `config` is merged into the stored config (JSON merge
/// patch, `null` removes) and the result is validated whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchScenario {
    #[serde(default)]
    pub scenario_type: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Option<Value>,
    #[serde(default)]
    pub status: Option<ScenarioStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioView {
    pub scenario_id: String,
    pub scenario_type: String,
    pub name: String,
    pub config: ScenarioConfig,
    pub status: ScenarioStatus,
    /// Grows by one with every change.
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioHistory {
    /// Newest first.
    pub versions: Vec<ScenarioView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioList {
    pub scenarios: Vec<ScenarioView>,
}

impl From<Scenario> for ScenarioView {
    fn from(s: Scenario) -> Self {
        Self {
            scenario_id: s.scenario_id.to_string(),
            scenario_type: s.scenario_type,
            name: s.name,
            config: s.config,
            status: s.status,
            version: s.version,
            created_at: format_ms(s.created_ms),
            updated_at: format_ms(s.updated_ms),
        }
    }
}

/// The longest `scenario_type`.
pub const MAX_SCENARIO_TYPE_LEN: usize = 64;
/// The longest name of a scenario or an experiment, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// The versions `GET …/versions` answers with, newest first: all the store keeps.
pub const MAX_HISTORY: usize = polyrec_storage::SCENARIO_VERSIONS_KEPT as usize;

pub(crate) fn check_name(name: Option<&str>) -> Result<()> {
    match name {
        Some(name) if name.chars().nth(MAX_NAME_CHARS).is_some() => Err(Error::invalid(
            Code::InvalidBody,
            format!("name is {} characters long; at most {MAX_NAME_CHARS}", name.chars().count()),
        )),
        _ => Ok(()),
    }
}

fn check_type(scenario_type: &str) -> Result<()> {
    let ok = !scenario_type.is_empty()
        && scenario_type.len() <= MAX_SCENARIO_TYPE_LEN
        && scenario_type.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            Code::InvalidScenarioType,
            format!(
                "scenario_type {scenario_type:?} must be 1 to {MAX_SCENARIO_TYPE_LEN} lowercase letters, digits or '_', e.g. vlog, news, ecommerce"
            ),
        ))
    }
}

/// Validates a whole config; the error lists every problem with its JSON path.
pub use polyrec_engine::validate::check_config;

pub async fn create(app: &App, tenant: &TenantId, body: CreateScenario) -> Result<ScenarioView> {
    let scenario_id = ScenarioId::parse(body.scenario_id)?;
    check_type(&body.scenario_type)?;
    check_name(body.name.as_deref())?;
    let config = check_config(&body.config)?;
    let now = app.now_ms();
    let quota = app.tenancy.tenant(tenant, now).await?.quota;
    let over_quota = || {
        Error::forbidden(
            Code::QuotaExceeded,
            format!("this tenant may have {} scenarios and has them all; delete one first", quota.max_scenarios),
        )
    };
    let count = || async move { Ok::<_, Error>(app.stores.documents.list_scenarios(tenant).await?.len() as u64) };
    // Held until the create is counted in.
    let counted = app.checked_writes.acquire_if(quota.max_scenarios > 0, tenant).await;
    if quota.max_scenarios > 0 && count().await? >= quota.max_scenarios {
        return Err(over_quota());
    }
    let scenario = Scenario {
        name: body.name.unwrap_or_else(|| scenario_id.to_string()),
        scenario_id,
        scenario_type: body.scenario_type,
        config,
        status: body.status.unwrap_or(ScenarioStatus::Active),
        version: 1,
        // Non-zero: 0 marks events and documents from before incarnations existed. 53 bits, so
        // it is exact in every document store's numbers (BSON int64, JSON in JavaScript).
        incarnation: (uuid::Uuid::new_v4().as_u64_pair().0 >> 11) | 1,
        created_ms: now,
        updated_ms: now,
    };
    app.stores.documents.insert_scenario(tenant, &scenario).await?;
    // Creates at once in other processes may all have passed the count above before any had
    // inserted: counted again now, with this one in, a create past the quota takes itself back.
    // Each create kept counted itself after its insert, so the creates kept never pass the
    // quota (racing ones in several processes may all be refused; the client tries again).
    if quota.max_scenarios > 0 && count().await? > quota.max_scenarios {
        app.stores.documents.delete_scenario(tenant, &scenario.scenario_id).await?;
        return Err(over_quota());
    }
    drop(counted);
    app.scenario_saved(tenant, &scenario).await?;
    ranker_follows_config(app, tenant, &scenario.scenario_id).await;
    tracing::info!(tenant = %tenant, scenario = %scenario.scenario_id, "scenario created");
    Ok(scenario.into())
}

pub async fn get(app: &App, tenant: &TenantId, id: &ScenarioId) -> Result<ScenarioView> {
    Ok(load(app, tenant, id).await?.into())
}

pub(crate) async fn load(app: &App, tenant: &TenantId, id: &ScenarioId) -> Result<Scenario> {
    app.stores
        .documents
        .get_scenario(tenant, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("scenario {:?}", id.as_str())))
}

/// The newest [`MAX_HISTORY`] versions of the scenario, newest first (the current one included):
/// what a revert puts back with `PUT`.
pub async fn history(app: &App, tenant: &TenantId, id: &ScenarioId) -> Result<ScenarioHistory> {
    load(app, tenant, id).await?;
    let versions = app.stores.documents.scenario_history(tenant, id, MAX_HISTORY).await?;
    Ok(ScenarioHistory { versions: versions.into_iter().map(Into::into).collect() })
}

pub async fn list(app: &App, tenant: &TenantId) -> Result<ScenarioList> {
    let scenarios = app.stores.documents.list_scenarios(tenant).await?;
    Ok(ScenarioList { scenarios: scenarios.into_iter().map(Into::into).collect() })
}

pub async fn replace(app: &App, tenant: &TenantId, id: &ScenarioId, body: ReplaceScenario) -> Result<ScenarioView> {
    if let Some(body_id) = &body.scenario_id
        && body_id != id.as_str()
    {
        return Err(Error::invalid(
            Code::ScenarioIdMismatch,
            format!("the body's scenario_id {body_id:?} differs from the path's {:?}; ids cannot change", id.as_str()),
        ));
    }
    check_type(&body.scenario_type)?;
    check_name(body.name.as_deref())?;
    let config = check_config(&body.config)?;
    let current = load(app, tenant, id).await?;
    let updated = Scenario {
        scenario_type: body.scenario_type,
        name: body.name.unwrap_or_else(|| current.name.clone()),
        config,
        status: body.status.unwrap_or(current.status),
        version: current.version + 1,
        updated_ms: app.now_ms(),
        ..current.clone()
    };
    save(app, tenant, updated, current.version).await
}

pub async fn patch(app: &App, tenant: &TenantId, id: &ScenarioId, body: Value) -> Result<ScenarioView> {
    let body: PatchScenario = parse_body(body)?;
    let current = load(app, tenant, id).await?;
    let mut updated = current.clone();
    if let Some(scenario_type) = body.scenario_type {
        check_type(&scenario_type)?;
        updated.scenario_type = scenario_type;
    }
    check_name(body.name.as_deref())?;
    if let Some(name) = body.name {
        updated.name = name;
    }
    if let Some(status) = body.status {
        updated.status = status;
    }
    if let Some(config_patch) = body.config {
        let mut config = serde_json::to_value(&current.config).map_err(Error::internal)?;
        merge_patch(&mut config, &config_patch);
        updated.config = check_config(&config)?;
    }
    updated.version = current.version + 1;
    updated.updated_ms = app.now_ms();
    save(app, tenant, updated, current.version).await
}

async fn save(app: &App, tenant: &TenantId, scenario: Scenario, expected_version: u64) -> Result<ScenarioView> {
    app.stores.documents.replace_scenario(tenant, &scenario, expected_version).await?;
    app.scenario_saved(tenant, &scenario).await?;
    ranker_follows_config(app, tenant, &scenario.scenario_id).await;
    tracing::info!(tenant = %tenant, scenario = %scenario.scenario_id, version = scenario.version, "scenario updated");
    Ok(scenario.into())
}

pub async fn delete(app: &App, tenant: &TenantId, id: &ScenarioId) -> Result<()> {
    if !app.stores.documents.delete_scenario(tenant, id).await? {
        return Err(Error::not_found(format!("scenario {:?}", id.as_str())));
    }
    app.scenario_deleted(tenant, id).await?;
    // Derived data goes too, so a scenario created again under the id starts clean.
    app.stores.realtime.drop_scenario(tenant, id).await?;
    app.stores.warehouse.drop_scenario(tenant, id).await?;
    tracing::info!(tenant = %tenant, scenario = %id, "scenario deleted");
    Ok(())
}

/// A config change may name another ranker or pin another version: serve what it asks for.
async fn ranker_follows_config(app: &App, tenant: &TenantId, id: &ScenarioId) {
    if let Err(error) = crate::service::models::sync_ranker(app, tenant, id, crate::blocking::Bound::Tenant).await {
        tracing::error!(tenant = %tenant, scenario = %id, %error, "could not load the ranker the config asks for");
    }
}
