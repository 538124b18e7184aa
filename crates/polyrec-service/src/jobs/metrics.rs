//! Recommendation metrics (SPEC §3.4 job 4): impressions, clicks, watch value and conversions
//! per tenant and scenario (and per experiment group when the event's context names one) into
//! per-minute buckets of `metrics:realtime:{tenant}:{scenario}`, kept an hour, so the counters read
//! are always the last hour's; and the exposure sets `exposed:{tenant}:{user}:{scenario}`, each
//! item kept 24 hours from when it was shown, that keep recommend from showing it again. Both go
//! by event time.
//!
//! The job keeps each bucket's counts of its events and writes them whole, as its source's
//! contribution (`RealtimeStore::put_metrics`): instances that split a scenario's events (one per
//! Kafka partition) add up, and a replay after a restart rewrites the same values instead of
//! counting twice.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use polyrec_core::clock::{DAY_MS, HOUR_MS, MINUTE_MS};
use polyrec_core::{Code, EventType, Result, ScenarioId, TenantId, UserId};
use polyrec_storage::BusRecord;

use super::{Start, StreamJob};
use crate::App;

/// The job's name, and its consumer group's.
pub const NAME: &str = "recommendation_metrics";

pub const METRICS_TTL_MS: i64 = HOUR_MS;
pub const METRICS_BUCKET_MS: i64 = MINUTE_MS;
pub const EXPOSED_TTL_MS: i64 = DAY_MS;

type BucketKey = (TenantId, ScenarioId, i64);

pub struct RecommendationMetrics {
    /// This instance's name as a contributor to the shared counters.
    source: String,
    /// The last offset of the partition handed to the group before this instance: the replay
    /// that rebuilds the buckets goes through it, and its events were counted in Prometheus
    /// already (by this process before a restart, or by the member that had the partition), so
    /// they are not counted again. The Redis counters, written whole per source, need no such care.
    replayed_through: u64,
    /// Counters per (tenant, scenario, minute) of the last hour, from this instance's events.
    buckets: HashMap<BucketKey, HashMap<String, f64>>,
    dirty: HashSet<BucketKey>,
    /// Batches that found a minute with more experiment groups than it holds counters for.
    crowded_log: super::runner::Repeating,
    /// The last offset counted; a batch retried after a failed write is not counted twice.
    taken_through: u64,
}

impl RecommendationMetrics {
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            replayed_through: 0,
            buckets: HashMap::new(),
            dirty: HashSet::new(),
            crowded_log: Default::default(),
            taken_through: 0,
        }
    }

    /// Whether `record` goes into `polyrec_recommendation_events_total`: only records the group
    /// is handed for the first time, so each event is counted once across restarts and
    /// partition moves (the replay before them rebuilds the buckets only).
    fn counts_in_prometheus(&self, record: &BusRecord) -> bool {
        record.offset > self.replayed_through
    }
}

/// The Prometheus counts of one batch, per (tenant, scenario, kind): one counter update each,
/// not one per event.
type PrometheusCounts<'r> = HashMap<(&'r TenantId, &'r ScenarioId, &'static str), u64>;

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

/// The most counters one scenario's minute holds: its own eight and those of about 60
/// experiment groups. The experiment and group are what the event's context says, so a tenant
/// naming a new one in every event would otherwise grow the job's buckets, the Redis hash and
/// every read of it without bound.
pub const MAX_BUCKET_FIELDS: usize = 512;

/// `exp:{experiment}:{group}:` for an event whose context names an experiment, when both are
/// ids (1–128 of `A-Z a-z 0-9 _ - . @`: no ':' to confuse the field's parts, nothing long); an
/// event naming something else counts in the totals only.
fn group_prefix(event: &polyrec_core::Event) -> Option<String> {
    let experiment = event.experiment_id()?;
    let group = event.context.as_ref().and_then(|c| c.get("group")).and_then(|g| g.as_str()).unwrap_or("-");
    let is_id = |value: &str| polyrec_core::ids::check_id("id", Code::InvalidContext, value).is_ok();
    (is_id(experiment) && is_id(group)).then(|| format!("exp:{experiment}:{group}:"))
}

/// Adds `delta` to the counter `field`, a new counter only while the bucket has fewer than
/// [`MAX_BUCKET_FIELDS`]; false when it was left out.
fn count_apart(counters: &mut HashMap<String, f64>, field: String, delta: f64) -> bool {
    if let Some(count) = counters.get_mut(&field) {
        *count += delta;
        return true;
    }
    if counters.len() >= MAX_BUCKET_FIELDS {
        return false;
    }
    counters.insert(field, delta);
    true
}

#[async_trait]
impl StreamJob for RecommendationMetrics {
    fn name(&self) -> &'static str {
        NAME
    }

    fn replays_through(&mut self, offset: u64) {
        self.replayed_through = offset;
    }

    fn start(&self, app: &App) -> Start {
        // Exposure sets live a day: replay a day (and a little) to rebuild them.
        Start::ReceivedSince(app.now_ms() - EXPOSED_TTL_MS - HOUR_MS)
    }

    async fn process(&mut self, app: &App, records: &[BusRecord]) -> Result<()> {
        let now = app.now_ms();
        let taken_through = self.taken_through;
        let mut exposed: HashMap<(TenantId, UserId, ScenarioId), Vec<(String, i64)>> = HashMap::new();
        let mut counted = PrometheusCounts::new();
        // The first scenario this batch found with more groups than its counters hold.
        let mut crowded = None;
        for record in super::live(app, records).await? {
            let event = &record.event;
            // Exposures are idempotent (a later showing wins), so a retried batch adds them again.
            if event.event_type == EventType::Impression && event.timestamp_ms > now - EXPOSED_TTL_MS {
                exposed
                    .entry((event.tenant_id.clone(), event.user_id.clone(), event.scenario_id.clone()))
                    .or_default()
                    .push((event.item_id.to_string(), event.timestamp_ms));
            }
            // Counters cover the last hour of event time; older events (a replay after a restart,
            // a history import) are not real-time.
            if record.offset <= taken_through || event.timestamp_ms <= now - METRICS_TTL_MS {
                continue;
            }
            let prometheus = self.counts_in_prometheus(record);
            let bucket = event.timestamp_ms.div_euclid(METRICS_BUCKET_MS) * METRICS_BUCKET_MS;
            let key = (event.tenant_id.clone(), event.scenario_id.clone(), bucket);
            let counters = self.buckets.entry(key.clone()).or_default();
            let group = group_prefix(event);
            for (field, delta) in fields(event.event_type, event.value) {
                if prometheus && matches!(field, "impressions" | "clicks" | "views" | "conversions" | "engagements") {
                    *counted.entry((&event.tenant_id, &event.scenario_id, field)).or_default() += 1;
                }
                *counters.entry(field.to_owned()).or_default() += delta;
                if let Some(prefix) = &group
                    && !count_apart(counters, format!("{prefix}{field}"), delta)
                {
                    crowded.get_or_insert((&event.tenant_id, &event.scenario_id));
                }
            }
            self.dirty.insert(key);
        }
        self.taken_through = records.last().map_or(taken_through, |r| r.offset.max(taken_through));
        // A tenant naming a new group in every event would otherwise log at every batch.
        if let Some((tenant, scenario)) = crowded
            && let Some(left_out) = self.crowded_log.failed(std::time::Instant::now())
        {
            tracing::warn!(%tenant, %scenario, limit = MAX_BUCKET_FIELDS, left_out,
                "more experiment groups in a minute than the counters hold; the rest count in the totals only");
        }
        for ((tenant, scenario, kind), events) in counted {
            crate::telemetry::recommendation_events(tenant, scenario, kind, events);
        }
        for ((tenant, user, scenario), items) in exposed {
            app.stores.realtime.add_exposed(&tenant, &user, &scenario, &items, EXPOSED_TTL_MS).await?;
        }
        let (buckets, source) = (&self.buckets, self.source.as_str());
        super::flush_dirty(&mut self.dirty, |key: BucketKey| {
            let counters: Option<Vec<(String, f64)>> =
                buckets.get(&key).map(|counters| counters.iter().map(|(k, v)| (k.clone(), *v)).collect());
            async move {
                let Some(counters) = counters else { return Ok(()) };
                let (tenant, scenario, bucket) = &key;
                app.stores.realtime.put_metrics(tenant, scenario, source, *bucket, &counters, METRICS_TTL_MS).await?;
                let update = serde_json::json!({"tenant_id": tenant, "scenario_id": scenario, "source": source,
                    "bucket_ms": bucket, "counters": counters.iter().cloned().collect::<HashMap<String, f64>>()});
                super::publish_derived(app, "recommendation-metrics", &[(format!("{tenant}:{scenario}"), update)]).await
            }
        })
        .await?;
        self.buckets.retain(|(_, _, bucket), _| *bucket + METRICS_TTL_MS > now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: u64) -> BusRecord {
        let event = serde_json::from_value(serde_json::json!({
            "event_id": "e1", "tenant_id": "t", "user_id": "u", "item_id": "i", "scenario_id": "s",
            "event_type": "click", "timestamp_ms": 1_000_000, "received_ms": 1_000_000
        }))
        .unwrap();
        BusRecord { offset, event }
    }

    #[test]
    fn prometheus_counts_only_records_the_group_had_not_been_handed() {
        let mut job = RecommendationMetrics::new("topic/0");
        assert!(job.counts_in_prometheus(&record(1)), "a fresh partition: everything is new");
        job.replays_through(41);
        assert!(!job.counts_in_prometheus(&record(40)), "replayed: counted when first handed over");
        assert!(!job.counts_in_prometheus(&record(41)), "replayed: counted when first handed over");
        assert!(job.counts_in_prometheus(&record(42)));
        assert!(job.counts_in_prometheus(&record(500)));
    }
}
