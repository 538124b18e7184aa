//! Item hot score (SPEC §3.4 job 3), and the running per-item counts of every event type in
//! `item:stats:{tenant}:{item}` (`click_count`, `view_count`, …; counted exactly once per event by
//! an offset kept with them). The hot score: per tenant, scenario and item, the interest-weighted events
//! of a 1-hour sliding window of event time, each decayed by e^(−age / 30 min), into the hot set
//! `hot:items:{tenant}:{scenario}` (24-hour TTL). The window ends at the newest event time seen
//! in the scenario, so replays and history imports score as they would have live.
//!
//! Scores are recomputed from the window's events when the set is written (not kept as running
//! sums that drift), at most once a second while events stream in and at once when the job has
//! caught up — so a click shows in the hot set within about a second. They are written as this
//! instance's contribution (`RealtimeStore::put_hot_items`): instances that split a scenario's
//! events (one per Kafka partition) add up instead of overwriting each other.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use polyrec_core::clock::{DAY_MS, HOUR_MS, MINUTE_MS};
use polyrec_core::{Result, ScenarioId, TenantId};
use polyrec_storage::BusRecord;

use super::{Start, StreamJob};
use crate::App;

/// The job's name, and its consumer group's.
pub const NAME: &str = "item_hot_score";

pub const WINDOW_MS: i64 = HOUR_MS;
pub const DECAY_MS: f64 = 30.0 * MINUTE_MS as f64;
pub const HOT_TTL_MS: i64 = DAY_MS;
/// The hot set keeps this many items.
pub const HOT_SET_SIZE: usize = 1_000;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct ScenarioWindow {
    /// Per item: (event time, weight), in arrival order.
    items: HashMap<String, VecDeque<(i64, f64)>>,
    /// The scenario incarnation the window counts; a newer one starts from an empty window.
    incarnation: u64,
    end_ms: i64,
    /// When the newest event arrived: the set lives `HOT_TTL_MS` from then, as it would have
    /// without a restart in between.
    last_received_ms: i64,
}

impl ScenarioWindow {
    /// Drops events older than the window and returns the current scores.
    fn scores(&mut self) -> Vec<(String, f64)> {
        let start = self.end_ms - WINDOW_MS;
        let end = self.end_ms;
        self.items.retain(|_, events| {
            events.retain(|(t, _)| *t > start);
            !events.is_empty()
        });
        self.items
            .iter()
            .map(|(item, events)| {
                let score = events.iter().map(|(t, w)| w * (-((end - t).max(0) as f64) / DECAY_MS).exp()).sum();
                (item.clone(), score)
            })
            .collect()
    }
}

pub struct HotScore {
    /// This instance's name as a contributor to the shared hot sets.
    source: String,
    windows: HashMap<(TenantId, ScenarioId), ScenarioWindow>,
    dirty: HashSet<(TenantId, ScenarioId)>,
    last_flush: Instant,
    /// The last offset taken into a window; a batch retried after a failed flush is skipped.
    taken_through: u64,
}

impl HotScore {
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            windows: HashMap::new(),
            dirty: HashSet::new(),
            last_flush: Instant::now(),
            taken_through: 0,
        }
    }
}

impl HotScore {
    async fn flush(&mut self, app: &App) -> Result<()> {
        let (windows, source, now) = (&mut self.windows, self.source.as_str(), app.now_ms());
        super::flush_dirty(&mut self.dirty, |key: (TenantId, ScenarioId)| {
            // What to write is computed here; the future only writes it.
            let write = windows.get_mut(&key).and_then(|window| {
                let ttl_ms = window.last_received_ms + HOT_TTL_MS - now;
                if ttl_ms <= 0 {
                    return None; // Expired before a restart replayed it: stays expired.
                }
                let mut scores = window.scores();
                if scores.len() > HOT_SET_SIZE {
                    scores.select_nth_unstable_by(HOT_SET_SIZE, |a, b| b.1.total_cmp(&a.1));
                    scores.truncate(HOT_SET_SIZE);
                }
                let update = serde_json::json!({"tenant_id": key.0, "scenario_id": key.1, "source": source,
                    "window_end_ms": window.end_ms, "items": scores.iter().map(|(item, hotness)| serde_json::json!({"item_id": item, "hotness": hotness})).collect::<Vec<_>>()});
                Some((scores, ttl_ms, update))
            });
            async move {
                let Some((scores, ttl_ms, update)) = write else { return Ok(()) };
                app.stores.realtime.put_hot_items(&key.0, &key.1, source, scores, ttl_ms).await?;
                super::publish_derived(app, "item-stats-updates", &[(format!("{}:{}", key.0, key.1), update)]).await
            }
        })
        .await?;
        self.last_flush = Instant::now();
        Ok(())
    }
}

#[async_trait]
impl StreamJob for HotScore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn start(&self, app: &App) -> Start {
        // A hot set outlives its window by its TTL: replaying as long as a set can live rebuilds
        // the sets a restart lost, each as of its scenario's newest event.
        Start::ReceivedSince(app.now_ms() - HOT_TTL_MS - WINDOW_MS)
    }

    async fn process(&mut self, app: &App, records: &[BusRecord]) -> Result<()> {
        let taken_through = self.taken_through;
        let live = super::live(app, records).await?;
        // Running counts per item, every event type. The store skips offsets this source has
        // counted already, so retries and replays count nothing twice; so all live records go.
        let mut stats: HashMap<(&TenantId, &str), Vec<(u64, String)>> = HashMap::new();
        for record in &live {
            let event = &record.event;
            let field = format!("{}_count", event.event_type.as_str());
            stats.entry((&event.tenant_id, event.item_id.as_str())).or_default().push((record.offset, field));
        }
        let writes = stats
            .iter()
            .map(|((tenant, item), events)| app.stores.realtime.add_item_stats(tenant, item, &self.source, events));
        futures::future::try_join_all(writes).await?;
        self.taken_through = records.last().map_or(taken_through, |r| r.offset.max(taken_through));
        for record in live.into_iter().filter(|r| r.offset > taken_through) {
            let event = &record.event;
            let weight = event.event_type.interest_weight();
            if weight <= 0.0 {
                continue;
            }
            let key = (event.tenant_id.clone(), event.scenario_id.clone());
            let window = self.windows.entry(key.clone()).or_default();
            if event.scenario_incarnation != window.incarnation {
                *window = ScenarioWindow { incarnation: event.scenario_incarnation, ..Default::default() };
            }
            window.end_ms = window.end_ms.max(event.timestamp_ms);
            window.last_received_ms = window.last_received_ms.max(event.received_ms);
            if event.timestamp_ms <= window.end_ms - WINDOW_MS {
                continue; // Too late for the window.
            }
            window.items.entry(event.item_id.to_string()).or_default().push_back((event.timestamp_ms, weight));
            self.dirty.insert(key);
        }
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush(app).await?;
        }
        Ok(())
    }

    async fn on_idle(&mut self, app: &App) -> Result<()> {
        if self.dirty.is_empty() { Ok(()) } else { self.flush(app).await }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_events_count_more_and_old_ones_leave_the_window() {
        let mut window = ScenarioWindow::default();
        let now = 10 * HOUR_MS;
        window.end_ms = now;
        window.items.insert("fresh".into(), VecDeque::from([(now, 1.0)]));
        window.items.insert("stale".into(), VecDeque::from([(now - 50 * MINUTE_MS, 1.0), (now - 55 * MINUTE_MS, 1.0)]));
        window.items.insert("gone".into(), VecDeque::from([(now - 2 * HOUR_MS, 5.0)]));
        let scores: HashMap<String, f64> = window.scores().into_iter().collect();
        assert!(!scores.contains_key("gone"));
        assert!(scores["fresh"] > scores["stale"], "{scores:?}");
        assert!((scores["fresh"] - 1.0).abs() < 1e-9);
    }
}
