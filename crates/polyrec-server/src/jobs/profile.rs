//! User profile aggregator (SPEC §3.4 job 2): per (tenant, user, scenario), 5-minute tumbling
//! windows of event time; when a window closes its counts, categories, tags, active hours and
//! items are folded into `user_profiles` (interests decayed with a 14-day time constant).
//!
//! A window closes when the watermark — the newest event time seen minus 5 s of allowed
//! lateness — passes its end, or when no event has arrived for 10 s of the clock (so the last
//! window of a quiet stream does not wait for the next event). Late events open their window
//! again and are folded in on the next close.
//!
//! Offsets: the job commits only below the oldest event of a still-open window, so a restart
//! replays open windows whole. A profile records the highest offset folded into it and a
//! replayed window at or below it is skipped, which makes the fold idempotent.
//!
//! The real-time part: every positive event also goes at once to the user's recent-items list in
//! the realtime store, which item-based recall reads — a click changes the next answer without
//! waiting for the window.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use polyrec_core::clock::{DAY_MS, MINUTE_MS, SECOND_MS};
use polyrec_core::{Result, ScenarioId, TenantId, UserId, UserProfile};
use polyrec_engine::Catalog;
use polyrec_storage::BusRecord;

use super::{Start, StreamJob};
use crate::App;

pub const WINDOW_MS: i64 = 5 * MINUTE_MS;
pub const LATENESS_MS: i64 = 5 * SECOND_MS;
pub const IDLE_CLOSE_MS: i64 = 10 * SECOND_MS;
pub const INTEREST_DECAY_MS: f64 = 14.0 * DAY_MS as f64;
pub const RECENT_TTL_MS: i64 = 7 * DAY_MS;
const MAX_TAGS: usize = 200;

#[derive(Default)]
struct Window {
    positive: u64,
    impressions: u64,
    watch_value: f64,
    categories: HashMap<String, f64>,
    tags: HashMap<String, f64>,
    hours: [u64; 24],
    /// (event time, item), positive events only.
    items: Vec<(i64, String)>,
    min_offset: u64,
    max_offset: u64,
}

type WindowKey = (i64, TenantId, ScenarioId, UserId);

#[derive(Default)]
pub struct ProfileAggregator {
    /// Open windows ordered by start, so closing is a walk from the front.
    windows: BTreeMap<WindowKey, Window>,
    max_event_ms: i64,
    last_event_clock_ms: i64,
}

impl ProfileAggregator {
    async fn close(&mut self, app: &App, all: bool) -> Result<()> {
        let watermark = self.max_event_ms - LATENESS_MS;
        let closable: Vec<WindowKey> =
            self.windows.keys().take_while(|(start, ..)| all || start + WINDOW_MS <= watermark).cloned().collect();
        if closable.is_empty() {
            return Ok(());
        }
        // Each profile is read once, takes all its closing windows in time order, and is written
        // once; the writes of a tenant go in one transaction.
        let mut profiles: HashMap<(TenantId, ScenarioId, UserId), UserProfile> = HashMap::new();
        let now = app.now_ms();
        for key in &closable {
            let (start, tenant, scenario, user) = key;
            let profile_key = (tenant.clone(), scenario.clone(), user.clone());
            if !profiles.contains_key(&profile_key) {
                let stored = app.profile(tenant, user, scenario).await?;
                let profile =
                    stored.map(|p| (*p).clone()).unwrap_or_else(|| UserProfile::empty(user.clone(), scenario.clone()));
                profiles.insert(profile_key.clone(), profile);
            }
            if let (Some(profile), Some(window)) = (profiles.get_mut(&profile_key), self.windows.get(key)) {
                fold(profile, *start, window, now);
            }
        }
        let mut by_tenant: HashMap<TenantId, Vec<UserProfile>> = HashMap::new();
        for ((tenant, ..), profile) in profiles {
            by_tenant.entry(tenant).or_default().push(profile);
        }
        for (tenant, profiles) in by_tenant {
            app.put_profiles(&tenant, profiles).await?;
        }
        // Removed only once stored: a failure leaves them open, to be retried.
        for key in closable {
            self.windows.remove(&key);
        }
        Ok(())
    }
}

/// Folds one closed window into a profile.
fn fold(profile: &mut UserProfile, start: i64, window: &Window, now_ms: i64) {
    let end = start + WINDOW_MS;
    if window.max_offset <= profile.applied_offset {
        return; // Replayed after a restart: already folded in.
    }
    let features = &mut profile.features;
    features.total_watch_count += window.positive;
    features.total_impressions += window.impressions;
    features.total_watch_value += window.watch_value;
    if features.active_hours.len() != 24 {
        features.active_hours = vec![0; 24];
    }
    for (hour, n) in window.hours.iter().enumerate() {
        features.active_hours[hour] += n;
    }
    let mut items = window.items.clone();
    items.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    let mut recent: Vec<String> = Vec::with_capacity(UserProfile::RECENT_ITEMS_CAP);
    for item in items.into_iter().map(|(_, item)| item).chain(features.recent_items.drain(..)) {
        if recent.len() < UserProfile::RECENT_ITEMS_CAP && !recent.contains(&item) {
            recent.push(item);
        }
    }
    features.recent_items = recent;

    let elapsed = (end - profile.window_end_ms).max(0) as f64;
    let decay = if profile.window_end_ms == 0 { 1.0 } else { (-elapsed / INTEREST_DECAY_MS).exp() };
    let prefs = &mut profile.preferences;
    for (scores, fresh) in [(&mut prefs.category_scores, &window.categories), (&mut prefs.tag_scores, &window.tags)] {
        scores.values_mut().for_each(|s| *s *= decay);
        for (key, add) in fresh {
            *scores.entry(key.clone()).or_default() += add;
        }
        scores.retain(|_, s| *s >= 0.01);
    }
    if prefs.tag_scores.len() > MAX_TAGS {
        let mut tags: Vec<(String, f64)> = std::mem::take(&mut prefs.tag_scores).into_iter().collect();
        tags.sort_by(|a, b| b.1.total_cmp(&a.1));
        prefs.tag_scores = tags.into_iter().take(MAX_TAGS).collect();
    }
    let mut categories: Vec<(&String, &f64)> = prefs.category_scores.iter().collect();
    categories.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
    profile.features.favorite_categories =
        categories.into_iter().take(UserProfile::FAVORITE_CATEGORIES).map(|(c, _)| c.clone()).collect();

    profile.window_end_ms = profile.window_end_ms.max(end);
    profile.applied_offset = profile.applied_offset.max(window.max_offset);
    profile.updated_ms = now_ms;
}

#[async_trait]
impl StreamJob for ProfileAggregator {
    fn name(&self) -> &'static str {
        "user_profile_aggregator"
    }

    fn start(&self, _: &App) -> Start {
        Start::Committed
    }

    async fn process(&mut self, app: &App, records: &[BusRecord]) -> Result<()> {
        let mut catalogs: HashMap<(TenantId, ScenarioId), Arc<Catalog>> = HashMap::new();
        let mut recent: HashMap<(TenantId, UserId, ScenarioId), Vec<String>> = HashMap::new();
        for record in records {
            let event = &record.event;
            let scenario_key = (event.tenant_id.clone(), event.scenario_id.clone());
            if !catalogs.contains_key(&scenario_key) {
                let catalog = app.catalog(&event.tenant_id, &event.scenario_id).await?;
                catalogs.insert(scenario_key.clone(), catalog);
            }
            let item = catalogs[&scenario_key].get(event.item_id.as_str());
            let start = event.timestamp_ms.div_euclid(WINDOW_MS) * WINDOW_MS;
            let key = (start, event.tenant_id.clone(), event.scenario_id.clone(), event.user_id.clone());
            let window =
                self.windows.entry(key).or_insert_with(|| Window { min_offset: record.offset, ..Default::default() });
            window.min_offset = window.min_offset.min(record.offset);
            window.max_offset = window.max_offset.max(record.offset);
            let hour = event.timestamp_ms.div_euclid(3_600_000).rem_euclid(24) as usize;
            window.hours[hour] += 1;
            let weight = event.event_type.interest_weight();
            if weight <= 0.0 {
                window.impressions += 1;
            } else {
                window.positive += 1;
                window.watch_value += event.value.unwrap_or(0.0);
                window.items.push((event.timestamp_ms, event.item_id.to_string()));
                if let Some(item) = item {
                    if let Some(category) = item.category() {
                        *window.categories.entry(category.to_owned()).or_default() += weight;
                    }
                    for tag in item.tags() {
                        *window.tags.entry(tag.to_owned()).or_default() += weight;
                    }
                }
                recent
                    .entry((event.tenant_id.clone(), event.user_id.clone(), event.scenario_id.clone()))
                    .or_default()
                    .push(event.item_id.to_string());
            }
            self.max_event_ms = self.max_event_ms.max(event.timestamp_ms);
        }
        self.last_event_clock_ms = app.now_ms();
        for ((tenant, user, scenario), items) in recent {
            app.realtime
                .push_recent(&tenant, &user, &scenario, &items, UserProfile::RECENT_ITEMS_CAP, RECENT_TTL_MS)
                .await?;
        }
        self.close(app, false).await
    }

    async fn on_idle(&mut self, app: &App) -> Result<()> {
        let quiet = app.now_ms() - self.last_event_clock_ms >= IDLE_CLOSE_MS;
        self.close(app, quiet).await
    }

    fn safe_offset(&self, processed: u64) -> u64 {
        let oldest_open = self.windows.values().map(|w| w.min_offset).min();
        match oldest_open {
            Some(offset) => offset.saturating_sub(1).min(processed),
            None => processed,
        }
    }
}
