//! The stored documents as they are, for the split deployment's internal calls (what the
//! recommendation service's sources read from the scenario and item services): the same reads
//! and the same not-found answers as the public routes.

use polyrec_core::{Error, Experiment, Item, ItemId, Result, Scenario, ScenarioId, TenantId};

use crate::App;

pub async fn scenario(app: &App, tenant: &TenantId, id: &ScenarioId) -> Result<Scenario> {
    super::scenarios::load(app, tenant, id).await
}

pub async fn scenarios(app: &App, tenant: &TenantId) -> Result<Vec<Scenario>> {
    app.stores.documents.list_scenarios(tenant).await
}

/// The scenario's experiments in every status; `NotFound` for an unknown scenario.
pub async fn experiments(app: &App, tenant: &TenantId, id: &ScenarioId) -> Result<Vec<Experiment>> {
    super::scenarios::load(app, tenant, id).await?;
    app.stores.documents.list_experiments(tenant, Some(id)).await
}

pub async fn item(app: &App, tenant: &TenantId, id: &ScenarioId, item: &ItemId) -> Result<Item> {
    let found = app.stores.documents.get_item(tenant, id, item).await?;
    found.ok_or_else(|| Error::not_found(format!("item {:?}", item.as_str())))
}

/// Every item of the scenario, in any status; `NotFound` for an unknown scenario.
pub async fn items(app: &App, tenant: &TenantId, id: &ScenarioId) -> Result<Vec<Item>> {
    super::scenarios::load(app, tenant, id).await?;
    app.stores.documents.scan_items(tenant, id).await
}
