//! Item hot score (SPEC §3.4 job 3), and the running per-item counts of every event type in
//! `item:stats:{tenant}:{item}` (`click_count`, `view_count`, …; counted exactly once per event by
//! an offset kept with them). The hot score: per tenant, scenario and item, the interest-weighted events
//! of a 1-hour sliding window of event time, each decayed by e^(−age / 30 min), into the hot set
//! `hot:items:{tenant}:{scenario}` (24-hour TTL). The window ends at the newest event time seen
//! in the scenario, so replays and history imports score as they would have live.
//!
//! Scores are recomputed from the window when the set is written (not kept as running sums that
//! drift; the window sums its events per item and minute, [`HotWindow`]), at most once a second
//! while events stream in and at once when the job has caught up — so a click shows in the hot
//! set within about a second. They are written as this
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

/// The most items one scenario's window follows: ten times the hot set. Events may name any
/// item id, so a tenant could otherwise grow the window, and the work of every flush, without
/// bound; past it the coldest items are forgotten at the next flush, far below the hot set.
pub const MAX_WINDOW_ITEMS: usize = 10 * HOT_SET_SIZE;

/// One scenario's hot-score window: per item, the decayed weights of its events summed per minute
/// of event time, so an item costs at most 61 sums whatever its traffic, and a flush computes no
/// exponential per event.
///
/// A minute's sum is Σ weight · e^((t − minute) / τ) over its events, so the score at the window's
/// end, Σ sum · e^(−(end − minute) / τ), is each event's weight · e^(−(end − t) / τ) exactly. Only
/// the window's edge goes by the minute: a minute counts while any of it is inside the last hour,
/// so events up to a minute older than that count too, at e^(−2) of their weight or less.
#[derive(Default)]
pub struct HotWindow {
    /// Per item: (minute start, sum), by minute.
    items: HashMap<String, VecDeque<(i64, f64)>>,
    /// The newest event time seen: the window is the hour up to it.
    end_ms: i64,
}

impl HotWindow {
    /// Adds an event of `weight` for `item` at `at_ms`; false when it is older than the window.
    pub fn add(&mut self, item: &str, at_ms: i64, weight: f64) -> bool {
        self.end_ms = self.end_ms.max(at_ms);
        if at_ms <= self.end_ms - WINDOW_MS {
            return false;
        }
        let minute = at_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        let part = weight * ((at_ms - minute) as f64 / DECAY_MS).exp();
        let minutes = match self.items.get_mut(item) {
            Some(minutes) => minutes,
            None => self.items.entry(item.to_owned()).or_default(),
        };
        // Events come nearly in time order: the search ends at the back.
        let at = minutes.partition_point(|(m, _)| *m < minute);
        match minutes.get_mut(at) {
            Some((m, sum)) if *m == minute => *sum += part,
            _ => minutes.insert(at, (minute, part)),
        }
        true
    }

    /// The end of the window: the newest event time seen.
    pub fn end_ms(&self) -> i64 {
        self.end_ms
    }

    /// Drops the minutes that left the window, keeps the [`MAX_WINDOW_ITEMS`] hottest items, and
    /// returns their scores.
    pub fn scores(&mut self) -> Vec<(String, f64)> {
        let (end, start) = (self.end_ms, self.end_ms - WINDOW_MS);
        let end_minute = end.div_euclid(MINUTE_MS) * MINUTE_MS;
        // e^(−(end − minute) / τ) for the 62 minutes a window can touch, newest first.
        let to_end = (-((end - end_minute) as f64) / DECAY_MS).exp();
        let factors: Vec<f64> = (0..62).map(|k| to_end * (-(k as f64) * MINUTE_MS as f64 / DECAY_MS).exp()).collect();
        self.items.retain(|_, minutes| {
            while minutes.front().is_some_and(|(m, _)| m + MINUTE_MS - 1 <= start) {
                minutes.pop_front();
            }
            !minutes.is_empty()
        });
        let mut scores: Vec<(String, f64)> = self
            .items
            .iter()
            .map(|(item, minutes)| {
                let score =
                    minutes.iter().map(|(m, sum)| sum * factors[(((end_minute - m) / MINUTE_MS) as usize).min(61)]);
                (item.clone(), score.sum())
            })
            .collect();
        if scores.len() > MAX_WINDOW_ITEMS {
            // Hottest first, ties by id, so every instance forgets the same items.
            scores.select_nth_unstable_by(MAX_WINDOW_ITEMS, |a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            for (item, _) in scores.drain(MAX_WINDOW_ITEMS..) {
                self.items.remove(&item);
            }
        }
        scores
    }
}

#[derive(Default)]
struct ScenarioWindow {
    hot: HotWindow,
    /// The scenario incarnation the window counts; a newer one starts from an empty window.
    incarnation: u64,
    /// When the newest event arrived: the set lives `HOT_TTL_MS` from then, as it would have
    /// without a restart in between.
    last_received_ms: i64,
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
                let mut scores = window.hot.scores();
                if scores.len() > HOT_SET_SIZE {
                    scores.select_nth_unstable_by(HOT_SET_SIZE, |a, b| b.1.total_cmp(&a.1));
                    scores.truncate(HOT_SET_SIZE);
                }
                let update = serde_json::json!({"tenant_id": key.0, "scenario_id": key.1, "source": source,
                    "window_end_ms": window.hot.end_ms(), "items": scores.iter().map(|(item, hotness)| serde_json::json!({"item_id": item, "hotness": hotness})).collect::<Vec<_>>()});
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
        self.forget_expired(now);
        Ok(())
    }

    /// Drops the windows of scenarios whose hot set has expired (no event for `HOT_TTL_MS`): a
    /// scenario that went quiet, or was deleted, would otherwise keep its window for as long as
    /// the process runs.
    fn forget_expired(&mut self, now: i64) {
        let dirty = &self.dirty;
        self.windows.retain(|key, window| dirty.contains(key) || window.last_received_ms + HOT_TTL_MS > now);
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
            window.last_received_ms = window.last_received_ms.max(event.received_ms);
            // An event too late for the window changes nothing.
            if window.hot.add(event.item_id.as_str(), event.timestamp_ms, weight) {
                self.dirty.insert(key);
            }
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

    /// The definition the window computes: each event in the hour up to `end`, decayed.
    fn per_event(events: &[(&str, i64, f64)], end: i64) -> HashMap<String, f64> {
        let mut scores = HashMap::new();
        for (item, at, weight) in events.iter().filter(|(_, at, _)| *at > end - WINDOW_MS) {
            *scores.entry(item.to_string()).or_default() += weight * (-((end - at) as f64) / DECAY_MS).exp();
        }
        scores
    }

    #[test]
    fn recent_events_count_more_and_old_ones_leave_the_window() {
        let mut window = HotWindow::default();
        let now = 10 * HOUR_MS + 17_345;
        let events = [
            ("gone", now - 2 * HOUR_MS, 5.0),
            ("stale", now - 55 * MINUTE_MS, 1.0),
            ("stale", now - 50 * MINUTE_MS, 1.0),
            ("fresh", now, 1.0),
        ];
        for (item, at, weight) in events {
            window.add(item, at, weight);
        }
        assert!(!window.add("late", now - 2 * HOUR_MS, 1.0), "older than the window");
        let scores: HashMap<String, f64> = window.scores().into_iter().collect();
        assert!(!scores.contains_key("gone") && !scores.contains_key("late"));
        assert!(scores["fresh"] > scores["stale"], "{scores:?}");
        assert!((scores["fresh"] - 1.0).abs() < 1e-9);
    }

    #[test]
    fn minute_sums_score_each_event_as_its_own_decay_would() {
        let mut window = HotWindow::default();
        let mut events = Vec::new();
        let mut rng = 7u64;
        let start = 100 * HOUR_MS;
        for i in 0..5_000i64 {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let item = ["a", "b", "c", "d"][(rng >> 33) as usize % 4];
            // Two hours of events, a little out of order, with the weights of the event types.
            let at = start + i * 1_440 - (rng >> 40) as i64 % 30_000;
            let weight = [0.5, 1.0, 3.0][(rng >> 20) as usize % 3];
            window.add(item, at, weight);
            events.push((item, at, weight));
        }
        let end = window.end_ms();
        // Events whose minute straddles the window's edge count whole; leave that minute out.
        let edge = (end - WINDOW_MS).div_euclid(MINUTE_MS) * MINUTE_MS;
        events.retain(|(_, at, _)| *at >= edge + MINUTE_MS || *at <= end - WINDOW_MS);
        let mut exact = HotWindow { end_ms: end, ..HotWindow::default() };
        for (item, at, weight) in &events {
            exact.add(item, *at, *weight);
        }
        let expected = per_event(&events, end);
        let scores: HashMap<String, f64> = exact.scores().into_iter().collect();
        assert_eq!(scores.len(), expected.len());
        for (item, score) in &scores {
            assert!((score - expected[item]).abs() <= 1e-9 * expected[item], "{item}: {score} vs {}", expected[item]);
        }
        window.scores();
        assert!(window.items.values().all(|minutes| minutes.len() <= 61), "at most 61 sums an item");
    }

    #[test]
    fn the_window_of_a_scenario_quiet_for_a_day_is_forgotten() {
        let mut job = HotScore::new("test");
        let key = |s: &str| (TenantId::parse("t").unwrap(), ScenarioId::parse(s).unwrap());
        for (scenario, received) in [("quiet", 0), ("busy", DAY_MS), ("unwritten", 0)] {
            let window = job.windows.entry(key(scenario)).or_default();
            window.hot.add("i", received, 1.0);
            window.last_received_ms = received;
        }
        job.dirty.insert(key("unwritten"));
        job.forget_expired(DAY_MS + 1);
        let mut kept: Vec<&str> = job.windows.keys().map(|(_, s)| s.as_str()).collect();
        kept.sort();
        assert_eq!(kept, ["busy", "unwritten"], "a window not written yet stays");
    }

    #[test]
    fn a_window_follows_at_most_its_hottest_items() {
        let mut window = HotWindow::default();
        let now = 10 * HOUR_MS;
        for i in 0..MAX_WINDOW_ITEMS + 500 {
            window.add(&format!("once_{i}"), now, 1.0);
        }
        for _ in 0..3 {
            window.add("popular", now, 1.0);
        }
        let scores: HashMap<String, f64> = window.scores().into_iter().collect();
        assert_eq!((scores.len(), window.items.len()), (MAX_WINDOW_ITEMS, MAX_WINDOW_ITEMS));
        assert!((scores["popular"] - 3.0).abs() < 1e-9, "the hottest stays");
    }
}
