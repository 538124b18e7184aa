//! Recommendation metrics (SPEC §3.4 job 4): impressions, clicks, watch value and conversions
//! per tenant and scenario (and per experiment group when the event's context names one) into
//! per-minute buckets of `metrics:realtime:{tenant}:{scenario}`, kept an hour, so the counters read
//! are always the last hour's; and the exposure sets `exposed:{tenant}:{user}:{scenario}`, each
//! item kept 24 hours from when it was shown, that keep recommend from showing it again. Both go
//! by event time.

use std::collections::HashMap;

use async_trait::async_trait;
use polyrec_core::clock::{DAY_MS, HOUR_MS, MINUTE_MS};
use polyrec_core::{EventType, Result, ScenarioId, TenantId, UserId};
use polyrec_storage::BusRecord;

use super::{Start, StreamJob};
use crate::App;

pub const METRICS_TTL_MS: i64 = HOUR_MS;
pub const METRICS_BUCKET_MS: i64 = MINUTE_MS;
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
        let mut deltas: HashMap<(TenantId, ScenarioId, i64), HashMap<String, f64>> = HashMap::new();
        let mut exposed: HashMap<(TenantId, UserId, ScenarioId), Vec<(String, i64)>> = HashMap::new();
        for record in super::live(app, records).await? {
            let event = &record.event;
            if event.event_type == EventType::Impression && event.timestamp_ms > now - EXPOSED_TTL_MS {
                exposed
                    .entry((event.tenant_id.clone(), event.user_id.clone(), event.scenario_id.clone()))
                    .or_default()
                    .push((event.item_id.to_string(), event.timestamp_ms));
            }
            // Counters cover the last hour of event time; older events (a replay after a restart,
            // a history import) are not real-time.
            if event.timestamp_ms <= now - METRICS_TTL_MS {
                continue;
            }
            let bucket = event.timestamp_ms.div_euclid(METRICS_BUCKET_MS) * METRICS_BUCKET_MS;
            let scenario = deltas.entry((event.tenant_id.clone(), event.scenario_id.clone(), bucket)).or_default();
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
        for ((tenant, scenario, bucket), fields) in deltas {
            let fields: Vec<(String, f64)> = fields.into_iter().collect();
            app.realtime.incr_metrics(&tenant, &scenario, bucket, &fields, METRICS_TTL_MS).await?;
        }
        Ok(())
    }
}
