//! Recommendation metrics (SPEC §3.4 job 4): impressions, clicks, watch value and conversions
//! per tenant and scenario (and per experiment group when the event's context names one) into
//! `metrics:realtime:{tenant}:{scenario}` with a 1-hour TTL; and the exposure sets
//! `exposed:{tenant}:{user}:{scenario}` (24-hour TTL) that keep recommend from showing an item
//! twice in a day.

use std::collections::HashMap;

use async_trait::async_trait;
use polyrec_core::clock::{DAY_MS, HOUR_MS};
use polyrec_core::{EventType, Result, ScenarioId, TenantId, UserId};
use polyrec_storage::BusRecord;

use super::{Start, StreamJob};
use crate::App;

pub const METRICS_TTL_MS: i64 = HOUR_MS;
pub const EXPOSED_TTL_MS: i64 = DAY_MS;

pub struct RecommendationMetrics;

fn fields(event_type: EventType, value: Option<f64>) -> Vec<(&'static str, f64)> {
    let mut fields = Vec::new();
    match event_type {
        EventType::Impression => fields.push(("impressions", 1.0)),
        EventType::Click => fields.push(("clicks", 1.0)),
        EventType::Play | EventType::View | EventType::Read | EventType::Learn => {
            fields.push(("views", 1.0));
            if let Some(value) = value {
                fields.push(("watch_value_sum", value));
                fields.push(("watch_value_events", 1.0));
            }
        }
        EventType::Order | EventType::Payment => {
            fields.push(("conversions", 1.0));
            fields.push(("revenue", value.unwrap_or(0.0)));
        }
        EventType::Like | EventType::Share | EventType::Comment | EventType::AddCart => {
            fields.push(("engagements", 1.0));
        }
    }
    fields
}

#[async_trait]
impl StreamJob for RecommendationMetrics {
    fn name(&self) -> &'static str {
        "recommendation_metrics"
    }

    fn start(&self, app: &App) -> Start {
        // Exposure sets live a day: replay a day (and a little) to rebuild them.
        Start::ReceivedSince(app.now_ms() - EXPOSED_TTL_MS - HOUR_MS)
    }

    async fn process(&mut self, app: &App, records: &[BusRecord]) -> Result<()> {
        let now = app.now_ms();
        let mut deltas: HashMap<(TenantId, ScenarioId), HashMap<String, f64>> = HashMap::new();
        let mut exposed: HashMap<(TenantId, UserId, ScenarioId), Vec<String>> = HashMap::new();
        for record in records {
            let event = &record.event;
            if event.event_type == EventType::Impression && event.received_ms >= now - EXPOSED_TTL_MS {
                exposed
                    .entry((event.tenant_id.clone(), event.user_id.clone(), event.scenario_id.clone()))
                    .or_default()
                    .push(event.item_id.to_string());
            }
            // Counters cover the last hour only: a replay after a restart must not count a day.
            if event.received_ms < now - METRICS_TTL_MS {
                continue;
            }
            let scenario = deltas.entry((event.tenant_id.clone(), event.scenario_id.clone())).or_default();
            let group = event.experiment_id().map(|experiment| {
                let group = event.context.as_ref().and_then(|c| c.get("group")).and_then(|g| g.as_str());
                format!("exp:{experiment}:{}:", group.unwrap_or("-"))
            });
            for (field, delta) in fields(event.event_type, event.value) {
                *scenario.entry(field.to_owned()).or_default() += delta;
                if let Some(prefix) = &group {
                    *scenario.entry(format!("{prefix}{field}")).or_default() += delta;
                }
            }
        }
        for ((tenant, user, scenario), items) in exposed {
            app.realtime.add_exposed(&tenant, &user, &scenario, &items, EXPOSED_TTL_MS).await?;
        }
        for ((tenant, scenario), fields) in deltas {
            let fields: Vec<(String, f64)> = fields.into_iter().collect();
            app.realtime.incr_metrics(&tenant, &scenario, &fields, METRICS_TTL_MS).await?;
        }
        Ok(())
    }
}
