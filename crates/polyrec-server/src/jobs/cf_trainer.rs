//! The collaborative-filtering trainer: item–item and user–user similarities per scenario from
//! the warehouse's interactions, off the request path; and, for scenarios whose config uses
//! them, the learned recall models — ALS vectors for `vector_search` (loaded into the vector
//! index as a new collection before the swap, the old one dropped after) and EASE for `ease`.
//! A model that fails to train leaves the scenario's previous one in place. It retrains a scenario on a schedule
//! (`cf_interval_seconds`) when the scenario has new events since its last training, at start-up,
//! and on demand ([`train_now`], `POST /api/v1/scenarios/{id}/jobs/cf`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use polyrec_core::clock::DAY_MS;
use polyrec_core::{Result, ScenarioId, TenantId};
use polyrec_engine::cf::CfParams;
use polyrec_engine::{CfModel, VectorModel};
use polyrec_models::{AlsModel, AlsParams, EaseModel, EaseParams, Interactions, Vocabulary};
use polyrec_storage::VectorCollection;
use serde::Serialize;
use tokio::sync::watch;
use utoipa::ToSchema;

use crate::App;

/// How long a replaced vector collection stays searchable for requests that still hold the
/// snapshot that points at it (recall channels time out in milliseconds).
const RETIRE_AFTER: Duration = Duration::from_secs(30);

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
    /// The learned recall models trained in this round (`als`, `ease`), by what the config uses.
    pub models: Vec<String>,
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
    let _one_at_a_time = app.training_slot(tenant, scenario).await;
    let started = Instant::now();
    let now = app.now_ms();
    let since = now - app.config.cf_window_days as i64 * DAY_MS;
    // Counted before reading, so events that land during training trigger the next round.
    let event_count = app.warehouse.count(tenant, Some(scenario)).await?;
    let interactions = Arc::new(app.warehouse.interactions(tenant, scenario, since).await?);
    let n_interactions = interactions.len();
    let rows = interactions.clone();
    let model = tokio::task::spawn_blocking(move || CfModel::train(&rows, CfParams::default(), now))
        .await
        .map_err(polyrec_core::Error::internal)?;
    let (users, items) = (model.n_users(), model.n_items());
    app.set_cf_model(tenant, scenario, model, event_count);
    let models = train_learned(app, tenant, scenario, interactions, now).await?;
    let report = CfReport {
        scenario_id: scenario.to_string(),
        interactions: n_interactions,
        users,
        items,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        models,
    };
    tracing::info!(
        tenant = %tenant, scenario = %scenario, interactions = report.interactions,
        users = report.users, items = report.items, took_ms = report.took_ms, "collaborative filtering trained"
    );
    Ok(report)
}

/// Trains the learned recall models the scenario's config uses and swaps them in together.
async fn train_learned(
    app: &App,
    tenant: &TenantId,
    scenario: &ScenarioId,
    interactions: Arc<Vec<polyrec_storage::Interaction>>,
    now: i64,
) -> Result<Vec<String>> {
    let compiled = app.scenario(tenant, scenario).await?;
    let uses = |name: &str| compiled.scenario.config.recall.strategies.iter().any(|s| s.name == name);
    let (want_als, want_ease) = (uses("vector_search"), uses("ease"));
    if (!want_als && !want_ease) || interactions.is_empty() {
        return Ok(Vec::new());
    }
    let (als, ease) = tokio::task::spawn_blocking(move || {
        // Implicit feedback: every positive interaction is one observation.
        let matrix = Interactions::build(
            interactions.iter().map(|i| (i.user_id.as_str(), i.item_id.as_str(), 1.0)),
            Vocabulary::default(),
        );
        let als = want_als.then(|| AlsModel::fit(&matrix, AlsParams::default(), &|_| {}));
        let ease = want_ease.then(|| EaseModel::fit(&matrix, EaseParams::default()));
        (als, ease)
    })
    .await
    .map_err(polyrec_core::Error::internal)?;
    let mut trained = Vec::new();
    let vectors = match als {
        Some(als) => {
            // The vectors are searchable before the model that queries them is swapped in.
            // Unique per training, also between processes and under a clock that stands still.
            let run = uuid::Uuid::new_v4().simple().to_string();
            let collection = VectorCollection::new(tenant, scenario, format!("als-{now}-{}", &run[..12]));
            app.vectors.create(&collection, als.factors(), als.items.names(), &als.item_factors).await?;
            trained.push("als".to_owned());
            Some(VectorModel { als: Arc::new(als), index: app.vectors.clone(), collection })
        }
        None => None,
    };
    let ease = match ease {
        Some(Ok(ease)) => {
            trained.push("ease".to_owned());
            Some(Arc::new(ease))
        }
        // Too large a catalog for a dense model: the channel keeps its previous model (if any).
        Some(Err(error)) => {
            tracing::warn!(tenant = %tenant, scenario = %scenario, %error, "EASE not trained");
            None
        }
        None => None,
    };
    let new_collection = vectors.as_ref().map(|v| v.collection.clone());
    let replaced = app.update_models(tenant, scenario, |models| {
        if vectors.is_some() {
            models.vectors = vectors;
        }
        if ease.is_some() {
            models.ease = ease;
        }
    });
    let retired = replaced.and_then(|m| m.vectors.as_ref().map(|v| v.collection.clone()));
    if let (Some(old), Some(new)) = (retired, new_collection)
        && old != new
    {
        // Requests that read the old snapshot may still be about to search it: drop it later.
        let index = app.vectors.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RETIRE_AFTER).await;
            if let Err(error) = index.drop_collection(&old).await {
                tracing::warn!(%error, collection = %old.model, "could not drop a retired vector collection");
            }
        });
    }
    Ok(trained)
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
