//! The collaborative-filtering trainer: item–item and user–user similarities per scenario from
//! the warehouse's interactions, off the request path. It retrains a scenario on a schedule
//! (`cf_interval_seconds`) when the scenario has new events since its last training, at start-up,
//! and on demand ([`train_now`], `POST /api/v1/scenarios/{id}/jobs/cf`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use polyrec_core::clock::DAY_MS;
use polyrec_core::{Result, ScenarioId, TenantId};
use polyrec_engine::CfModel;
use polyrec_engine::cf::CfParams;
use serde::Serialize;
use tokio::sync::watch;
use utoipa::ToSchema;

use crate::App;

/// How long an on-demand training waits for the warehouse sink to catch up with the bus.
const CATCH_UP: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize, ToSchema)]
pub struct CfReport {
    pub scenario_id: String,
    /// (user, item) pairs with positive interest in the window.
    pub interactions: usize,
    pub users: usize,
    pub items: usize,
    pub took_ms: f64,
}

/// Trains one scenario now, from everything acknowledged before the call.
pub async fn train_now(app: &App, tenant: &TenantId, scenario: &ScenarioId) -> Result<CfReport> {
    app.scenario(tenant, scenario).await?;
    if !app.wait_for_job("warehouse_sink", CATCH_UP).await? {
        tracing::warn!(tenant = %tenant, scenario = %scenario, "warehouse sink still behind; training on what it has");
    }
    train(app, tenant, scenario).await
}

async fn train(app: &App, tenant: &TenantId, scenario: &ScenarioId) -> Result<CfReport> {
    let started = Instant::now();
    let now = app.now_ms();
    let since = now - app.config.cf_window_days as i64 * DAY_MS;
    // Counted before reading, so events that land during training trigger the next round.
    let event_count = app.warehouse.count(tenant, Some(scenario)).await?;
    let interactions = app.warehouse.interactions(tenant, scenario, since).await?;
    let n_interactions = interactions.len();
    let model = tokio::task::spawn_blocking(move || CfModel::train(&interactions, CfParams::default(), now))
        .await
        .map_err(polyrec_core::Error::internal)?;
    let report = CfReport {
        scenario_id: scenario.to_string(),
        interactions: n_interactions,
        users: model.n_users(),
        items: model.n_items(),
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    app.set_cf_model(tenant, scenario, model, event_count);
    tracing::info!(
        tenant = %tenant, scenario = %scenario, interactions = report.interactions,
        users = report.users, items = report.items, took_ms = report.took_ms, "collaborative filtering trained"
    );
    Ok(report)
}

/// The schedule: every interval, retrain the scenarios whose event count changed.
pub(super) async fn run(app: Arc<App>, mut stopped: watch::Receiver<bool>) {
    let interval = Duration::from_secs(app.config.cf_interval_seconds.max(1));
    loop {
        if let Err(error) = retrain_changed(&app).await {
            tracing::error!(%error, "collaborative filtering round failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stopped.changed() => break,
        }
    }
}

async fn retrain_changed(app: &App) -> Result<()> {
    for (tenant, scenario) in app.documents.all_scenarios().await? {
        let id = scenario.scenario_id;
        let count = app.warehouse.count(&tenant, Some(&id)).await?;
        if count == 0 || app.cf_trained_at(&tenant, &id) == Some(count) {
            continue;
        }
        if let Err(error) = train(app, &tenant, &id).await {
            // The others still train; this one is tried again next round.
            tracing::error!(tenant = %tenant, scenario = %id, %error, "collaborative filtering failed");
        }
    }
    Ok(())
}
