//! User profile aggregator (SPEC §3.4 job 2): per (tenant, user, scenario), 5-minute tumbling
//! windows of event time; when a window closes its counts, categories, tags, active hours and
//! items are folded into `user_profiles` (interests decayed with a 14-day time constant).
//!
//! Each tenant has its own watermark — the newest event time seen for the tenant minus 5 s of
//! allowed lateness — so one tenant's clock cannot close another's windows. A window closes when
//! its tenant's watermark passes its end, or when no event has arrived for 10 s of the clock (so
//! the last window of a quiet stream does not wait for the next event). A late event opens its
//! window again, and it is folded in on the next close.
//!
//! Exactly-once folds: the job commits its offset only below the oldest event of a still-open
//! window, so a restart replays open windows whole; and a profile records, per window, the
//! highest offset folded in from it, so replayed events that were folded already are skipped —
//! whatever order windows closed in. A batch the runner retries after a failure is recognised by
//! its offsets and not counted twice.
//!
//! The real-time part: every positive event also goes at once to the user's recent-items list in
//! the realtime store, which item-based recall reads — a click changes the next answer without
//! waiting for the window.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use polyrec_core::clock::{DAY_MS, MINUTE_MS, SECOND_MS};
use polyrec_core::item::is_label;
use polyrec_core::{Item, Result, ScenarioId, TenantId, UserId, UserProfile};
use polyrec_storage::BusRecord;

use super::{Start, StreamJob};
use crate::App;

/// The job's name, and its consumer group's.
pub const NAME: &str = "user_profile_aggregator";

pub const WINDOW_MS: i64 = 5 * MINUTE_MS;
pub const LATENESS_MS: i64 = 5 * SECOND_MS;
pub const IDLE_CLOSE_MS: i64 = 10 * SECOND_MS;
pub const INTEREST_DECAY_MS: f64 = 14.0 * DAY_MS as f64;
pub const RECENT_TTL_MS: i64 = 7 * DAY_MS;
/// The most tag scores and category scores a profile keeps (the best ones): a tenant's catalog
/// decides how many distinct values there are, and without a cap one user's clicks across many
/// of them grow the profile every window folds, every request reads and MongoDB stores whole
/// (a document of at most 16 MB, past which the fold could never be written).
const MAX_TAGS: usize = 200;
const MAX_CATEGORIES: usize = 200;

/// One event as a window keeps it: what the fold needs, with its offset for the replay guard.
/// Windows hold every event of their five minutes, so a tenant's event rate decides how many
/// there are: an event shares its item with the catalog rather than copying the item's id,
/// category and tags (`size_of` 64 bytes and nothing on the heap, against 112 and three copied
/// strings and a vector of them before).
struct WindowEvent {
    offset: u64,
    /// The scenario incarnation the event was accepted for (see `Event::scenario_incarnation`).
    incarnation: u64,
    timestamp_ms: i64,
    weight: f64,
    value: f64,
    item: EventItem,
}

/// The item of an event: the catalog's, or only its id when the catalog has no such item.
enum EventItem {
    Known(Arc<Item>),
    Unknown(String),
}

impl EventItem {
    fn of(item: Option<&Arc<Item>>, id: &str) -> Self {
        match item {
            Some(item) => Self::Known(item.clone()),
            None => Self::Unknown(id.to_owned()),
        }
    }

    fn id(&self) -> &str {
        match self {
            Self::Known(item) => item.item_id.as_str(),
            Self::Unknown(id) => id.as_str(),
        }
    }

    fn known(&self) -> Option<&Item> {
        match self {
            Self::Known(item) => Some(item),
            Self::Unknown(_) => None,
        }
    }
}

type WindowKey = (i64, TenantId, ScenarioId, UserId);

#[derive(Default)]
pub struct ProfileAggregator {
    /// Open windows ordered by start.
    windows: BTreeMap<WindowKey, Vec<WindowEvent>>,
    /// Newest event time seen per tenant.
    max_event_ms: HashMap<TenantId, i64>,
    /// When (by the clock) each tenant with open windows last sent an event.
    last_arrival_ms: HashMap<TenantId, i64>,
    /// The group's committed offset: replay marks at or below it can never be needed again.
    committed: u64,
    /// The last offset taken into a window; a retried batch is skipped up to it.
    taken_through: u64,
    /// Closes that failed on their data, logged now and then, not at every batch.
    close_failures: super::runner::Repeating,
}

impl ProfileAggregator {
    /// Closes the windows a watermark has passed, and every window of a tenant that has been
    /// quiet for `IDLE_CLOSE_MS` (each tenant on its own: one busy tenant keeps no other's open).
    async fn close(&mut self, app: &App) -> Result<()> {
        let now = app.now_ms();
        let (quiet, closable) = self.due(now);
        if !closable.is_empty() {
            self.fold_and_store(app, &closable, now).await?;
        }
        // Only once stored: a failed write leaves the windows open and their tenants quiet, so the
        // next idle tick retries them (forgetting a quiet tenant first would leave its windows
        // open until it sends again, and hold the job's committed offset back as long).
        for key in closable {
            self.windows.remove(&key);
        }
        for tenant in &quiet {
            self.last_arrival_ms.remove(tenant);
        }
        Ok(())
    }

    /// The tenants quiet for `IDLE_CLOSE_MS` at `now`, and the windows that close: every window
    /// of a quiet tenant, and the others a watermark has passed. Changes nothing.
    fn due(&self, now: i64) -> (Vec<TenantId>, Vec<WindowKey>) {
        let quiet: Vec<TenantId> = self
            .last_arrival_ms
            .iter()
            .filter(|(_, last)| now - **last >= IDLE_CLOSE_MS)
            .map(|(tenant, _)| tenant.clone())
            .collect();
        // Windows are ordered by start: past the newest watermark of any tenant only a quiet
        // tenant's windows can close, so the walk stops there unless a tenant went quiet.
        let newest_watermark = self.max_event_ms.values().max().map_or(i64::MIN, |newest| newest - LATENESS_MS);
        let closable: Vec<WindowKey> = self
            .windows
            .keys()
            .take_while(|(start, ..)| !quiet.is_empty() || start + WINDOW_MS <= newest_watermark)
            .filter(|(start, tenant, ..)| {
                quiet.contains(tenant)
                    || self.max_event_ms.get(tenant).is_some_and(|newest| start + WINDOW_MS <= newest - LATENESS_MS)
            })
            .cloned()
            .collect();
        (quiet, closable)
    }

    /// Folds the closing windows into their users' profiles and stores them.
    async fn fold_and_store(&mut self, app: &App, closable: &[WindowKey], now: i64) -> Result<()> {
        // Each profile is read once, takes all its closing windows in time order, and is written
        // once; the writes of a tenant go in one transaction.
        let mut profiles: HashMap<(TenantId, ScenarioId, UserId), UserProfile> = HashMap::new();
        let mut incarnations: HashMap<(TenantId, ScenarioId), Option<u64>> = HashMap::new();
        for key in closable {
            let (start, tenant, scenario, user) = key;
            // Events of a scenario deleted since (or of its earlier incarnation) fold nowhere.
            let scenario_key = (tenant.clone(), scenario.clone());
            if !incarnations.contains_key(&scenario_key) {
                incarnations.insert(scenario_key.clone(), app.scenarios.incarnation(tenant, scenario).await?);
            }
            let Some(current) = incarnations[&scenario_key] else { continue };
            let Some(events) = self.windows.get_mut(key) else { continue };
            events.retain(|e| e.incarnation == 0 || e.incarnation == current);
            if events.is_empty() {
                continue;
            }
            let profile_key = (tenant.clone(), scenario.clone(), user.clone());
            if !profiles.contains_key(&profile_key) {
                let stored = match app.profiles.get(tenant, user, scenario).await {
                    Ok(stored) => stored.map(|p| (*p).clone()),
                    // A stored profile that does not read (a corrupt document) is one user's
                    // problem: the fold starts a new one, which replaces it. Failing would hold
                    // every tenant's windows open behind it.
                    Err(error) if !super::dead_letters::is_backend_failure(&error) => {
                        tracing::error!(tenant = %tenant, user = %user, scenario = %scenario, %error,
                            "a stored profile does not read; a new one replaces it");
                        None
                    }
                    Err(error) => return Err(error),
                };
                let profile = stored.unwrap_or_else(|| UserProfile::empty(user.clone(), scenario.clone()));
                profiles.insert(profile_key.clone(), profile);
            }
            if let (Some(profile), Some(events)) = (profiles.get_mut(&profile_key), self.windows.get(key)) {
                fold(profile, *start, events, now, self.committed);
            }
        }
        let mut by_tenant: HashMap<TenantId, Vec<UserProfile>> = HashMap::new();
        for ((tenant, ..), profile) in profiles {
            by_tenant.entry(tenant).or_default().push(profile);
        }
        for (tenant, profiles) in by_tenant {
            let updates: Vec<(String, serde_json::Value)> = profiles
                .iter()
                .map(|p| {
                    let key = format!("{tenant}:{}", p.user_id);
                    let value = serde_json::json!({"tenant_id": tenant, "user_id": p.user_id, "scenario_id": p.scenario_id,
                        "window_end_ms": p.window_end_ms, "features": p.features, "preferences": p.preferences});
                    (key, value)
                })
                .collect();
            app.profiles.put(&tenant, profiles).await?;
            super::publish_derived(app, "user-profile-updates", &updates).await?;
        }
        Ok(())
    }
}

/// The job kind of the offline profile recompute ([`recompute`]).
pub const RECOMPUTE_KIND: &str = "profiles";

/// How long a user must have sent nothing for the recompute to rebuild their profile.
pub const RECOMPUTE_QUIET_MS: i64 = 60 * MINUTE_MS;

/// The most events of a scenario one recompute reads.
const RECOMPUTE_MAX_EVENTS: usize = 5_000_000;

/// What a recompute did.
pub struct Recomputed {
    pub users: u64,
    pub events: u64,
    /// Users left to the stream job: active within [`RECOMPUTE_QUIET_MS`], or not folded since
    /// their last event.
    pub skipped: u64,
}

/// Rebuilds a scenario's user profiles from the warehouse (SPEC's offline profile update): each
/// user's events of the last `cf_window_days`, folded window by window in time order into a
/// fresh profile, as the stream job would have. Only users whose last event (by event time) is
/// [`RECOMPUTE_QUIET_MS`] old and whose stored profile was folded after it are rebuilt — the
/// stream job holds no open window of theirs — and a profile the stream job changed while the
/// recompute ran is left as it is. (An event arriving more than the quiet time late, for such a
/// user, while the recompute runs, can be folded twice: the warehouse rows carry no processing
/// time to tell.) The rebuilt profile
/// keeps the stored one's replay marks. `held` fails once the job's worker lost its claim.
pub async fn recompute(
    app: &App,
    tenant: &TenantId,
    scenario: &ScenarioId,
    held: &(dyn Fn() -> Result<()> + Sync),
) -> Result<Recomputed> {
    let now = app.now_ms();
    let since = now - app.config.cf_window_days as i64 * DAY_MS;
    let rows = app
        .stores
        .warehouse
        .behaviors(tenant, scenario, since, &polyrec_core::EventType::ALL, RECOMPUTE_MAX_EVENTS)
        .await?;
    let catalog = app.catalogs.get(tenant, scenario).await?;
    // (A scenario's deletion removes its events from the warehouse: these are all its own.)
    // Up to RECOMPUTE_MAX_EVENTS rows: grouped on the blocking pool.
    let by_user = crate::blocking::blocking("grouping events by user", move || {
        let mut by_user: BTreeMap<String, Vec<polyrec_storage::BehaviorRow>> = BTreeMap::new();
        for event in rows {
            by_user.entry(event.user_id.clone()).or_default().push(event);
        }
        by_user
    })
    .await?;
    let mut report = Recomputed { users: 0, events: 0, skipped: 0 };
    let mut rebuilt = Vec::new();
    for (user, mut events) in by_user {
        held()?;
        let Ok(user) = UserId::parse(&user) else { continue };
        let user = &user;
        // By event time: the warehouse rows carry no processing time.
        let last_received = events.iter().map(|e| e.timestamp_ms).max().unwrap_or(i64::MAX);
        let stored = app.profiles.get(tenant, user, scenario).await?;
        let folded_since = stored.as_ref().is_some_and(|p| p.updated_ms > last_received);
        if now - last_received < RECOMPUTE_QUIET_MS || !folded_since {
            report.skipped += 1;
            continue;
        }
        let stored = stored.expect("checked above");
        events.sort_by_key(|e| e.timestamp_ms);
        let mut windows: BTreeMap<i64, Vec<WindowEvent>> = BTreeMap::new();
        for (i, event) in events.iter().enumerate() {
            let item = catalog.get(event.item_id.as_str());
            windows.entry(event.timestamp_ms.div_euclid(WINDOW_MS) * WINDOW_MS).or_default().push(WindowEvent {
                offset: i as u64 + 1,
                incarnation: 0,
                timestamp_ms: event.timestamp_ms,
                weight: event.event_type.interest_weight(),
                value: event.value.unwrap_or(0.0),
                item: EventItem::of(item, &event.item_id),
            });
        }
        let mut profile = UserProfile::empty(user.clone(), scenario.clone());
        for (start, window) in &windows {
            fold(&mut profile, *start, window, now, 0);
        }
        profile.applied_windows = stored.applied_windows.clone();
        report.users += 1;
        report.events += events.len() as u64;
        rebuilt.push((stored.updated_ms, profile));
    }
    // Checked again just before the write: a profile the stream job folded into meanwhile keeps
    // that fold (the next recompute includes it).
    let mut unchanged = Vec::with_capacity(rebuilt.len());
    for (updated_ms, profile) in rebuilt {
        let now_stored = app.profiles.get(tenant, &profile.user_id, scenario).await?;
        if now_stored.is_some_and(|p| p.updated_ms == updated_ms) {
            unchanged.push(profile);
        } else {
            report.users -= 1;
            report.skipped += 1;
        }
    }
    held()?;
    for chunk in unchanged.chunks(1_000) {
        app.profiles.put(tenant, chunk.to_vec()).await?;
    }
    Ok(report)
}

/// Folds the not-yet-folded events of one closed window into a profile. Replay marks at or
/// below `committed` are dropped: no replay reads those offsets again.
fn fold(profile: &mut UserProfile, start: i64, events: &[WindowEvent], now_ms: i64, committed: u64) {
    let end = start + WINDOW_MS;
    let folded_through = profile.applied_windows.get(&start).copied().unwrap_or(0);
    let fresh: Vec<&WindowEvent> = events.iter().filter(|e| e.offset > folded_through).collect();
    let Some(max_offset) = fresh.iter().map(|e| e.offset).max() else {
        return; // Replayed after a restart: folded already.
    };

    let mut categories: HashMap<&str, f64> = HashMap::new();
    let mut tags: HashMap<&str, f64> = HashMap::new();
    let features = &mut profile.features;
    if features.active_hours.len() != 24 {
        features.active_hours = vec![0; 24];
    }
    let mut items: Vec<(i64, &str)> = Vec::new();
    for event in &fresh {
        let hour = event.timestamp_ms.div_euclid(3_600_000).rem_euclid(24) as usize;
        features.active_hours[hour] += 1;
        if event.weight <= 0.0 {
            features.total_impressions += 1;
            continue;
        }
        features.total_watch_count += 1;
        features.total_watch_value += event.value;
        items.push((event.timestamp_ms, event.item.id()));
        if let Some(category) = category(event.item.known()) {
            *categories.entry(category).or_default() += event.weight;
        }
        for tag in labels(event.item.known()) {
            *tags.entry(tag).or_default() += event.weight;
        }
    }
    items.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    let mut recent: Vec<String> = Vec::with_capacity(UserProfile::RECENT_ITEMS_CAP);
    for item in items.into_iter().map(|(_, item)| item.to_owned()).chain(features.recent_items.drain(..)) {
        if recent.len() < UserProfile::RECENT_ITEMS_CAP && !recent.contains(&item) {
            recent.push(item);
        }
    }
    features.recent_items = recent;

    let elapsed = (end - profile.window_end_ms).max(0) as f64;
    let decay = if profile.window_end_ms == 0 { 1.0 } else { (-elapsed / INTEREST_DECAY_MS).exp() };
    let prefs = &mut profile.preferences;
    for (scores, fresh) in [(&mut prefs.category_scores, &categories), (&mut prefs.tag_scores, &tags)] {
        scores.values_mut().for_each(|s| *s *= decay);
        for (key, add) in fresh {
            *scores.entry((*key).to_owned()).or_default() += add;
        }
        scores.retain(|_, s| *s >= 0.01);
    }
    keep_best(&mut prefs.tag_scores, MAX_TAGS);
    keep_best(&mut prefs.category_scores, MAX_CATEGORIES);
    let mut ranked: Vec<(&String, &f64)> = prefs.category_scores.iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
    profile.features.favorite_categories =
        ranked.into_iter().take(UserProfile::FAVORITE_CATEGORIES).map(|(c, _)| c.clone()).collect();

    profile.window_end_ms = profile.window_end_ms.max(end);
    profile.applied_windows.insert(start, folded_through.max(max_offset));
    profile.applied_windows.retain(|_, folded| *folded > committed);
    profile.updated_ms = now_ms;
}

/// The item's category and tags as a profile scores them. Labels `check_item` refuses (past
/// `MAX_LABEL_BYTES`, or with a NUL) can only be on items stored before it had the bound; they are
/// left out, as a profile holding them could outgrow what its store takes in one document, or
/// not be storable in MongoDB at all.
fn category(item: Option<&Item>) -> Option<&str> {
    item.and_then(Item::category).filter(|c| is_label(c))
}

fn labels(item: Option<&Item>) -> impl Iterator<Item = &str> {
    item.into_iter().flat_map(Item::tags).filter(|t| is_label(t))
}

/// Keeps the `cap` best scores (ties by name, so every process keeps the same ones).
fn keep_best(scores: &mut BTreeMap<String, f64>, cap: usize) {
    if scores.len() > cap {
        let mut kept: Vec<(String, f64)> = std::mem::take(scores).into_iter().collect();
        kept.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        kept.truncate(cap);
        *scores = kept.into_iter().collect();
    }
}

#[async_trait]
impl StreamJob for ProfileAggregator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn start(&self, _: &App) -> Start {
        Start::Committed
    }

    async fn process(&mut self, app: &App, records: &[BusRecord]) -> Result<()> {
        let live = super::live(app, records).await?;
        let fresh: Vec<&BusRecord> = live.iter().copied().filter(|r| r.offset > self.taken_through).collect();
        // Everything that can fail comes first, so a failure leaves the windows as they were.
        let catalogs = super::catalogs(app, &fresh).await?;
        for record in fresh {
            let event = &record.event;
            let item = catalogs[&(event.tenant_id.clone(), event.scenario_id.clone())].get(event.item_id.as_str());
            let start = event.timestamp_ms.div_euclid(WINDOW_MS) * WINDOW_MS;
            let key = (start, event.tenant_id.clone(), event.scenario_id.clone(), event.user_id.clone());
            let weight = event.event_type.interest_weight();
            self.windows.entry(key).or_default().push(WindowEvent {
                offset: record.offset,
                incarnation: event.scenario_incarnation,
                timestamp_ms: event.timestamp_ms,
                weight,
                value: event.value.unwrap_or(0.0),
                item: EventItem::of(item, event.item_id.as_str()),
            });
            let newest = self.max_event_ms.entry(event.tenant_id.clone()).or_insert(i64::MIN);
            *newest = (*newest).max(event.timestamp_ms);
            self.last_arrival_ms.insert(event.tenant_id.clone(), app.now_ms());
        }
        if let Some(last) = records.last() {
            self.taken_through = self.taken_through.max(last.offset);
        }
        // From every record, not only the fresh ones, so a retried batch pushes what a failed
        // push left out; pushing the same items again only moves them to the front again.
        let mut recent: HashMap<(TenantId, UserId, ScenarioId), Vec<String>> = HashMap::new();
        for record in live.iter().filter(|r| r.event.event_type.interest_weight() > 0.0) {
            let event = &record.event;
            recent
                .entry((event.tenant_id.clone(), event.user_id.clone(), event.scenario_id.clone()))
                .or_default()
                .push(event.item_id.to_string());
        }
        for ((tenant, user, scenario), items) in recent {
            app.stores
                .realtime
                .push_recent(&tenant, &user, &scenario, &items, UserProfile::RECENT_ITEMS_CAP, RECENT_TTL_MS)
                .await?;
        }
        // Closing folds windows of earlier batches too: what fails there on the data is not this
        // batch's records', so it is not handed to the poison isolation (which would dead-letter
        // them); the windows stay open and the idle ticks retry them.
        match self.close(app).await {
            Err(error) if !super::dead_letters::is_backend_failure(&error) => {
                if let Some(left_out) = self.close_failures.failed(std::time::Instant::now()) {
                    tracing::error!(job = NAME, %error, left_out,
                        "closing windows failed on their data; retried when idle");
                }
                Ok(())
            }
            closed => closed,
        }
    }

    async fn on_idle(&mut self, app: &App) -> Result<()> {
        self.close(app).await
    }

    fn committed(&mut self, offset: u64) {
        self.committed = offset;
    }

    fn safe_offset(&self, processed: u64) -> u64 {
        // A window's events arrive in offset order: its first is its oldest.
        let oldest_open = self.windows.values().filter_map(|events| events.first().map(|e| e.offset)).min();
        match oldest_open {
            Some(offset) => offset.saturating_sub(1).min(processed),
            None => processed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, category: &str, tags: &[&str]) -> EventItem {
        let input: polyrec_core::item::ItemInput = serde_json::from_value(
            serde_json::json!({"item_id": id, "metadata": {"category": category, "tags": tags}}),
        )
        .unwrap();
        EventItem::Known(Arc::new(input.into_item(&ScenarioId::parse("s").unwrap(), 0).unwrap()))
    }

    fn event(offset: u64, timestamp_ms: i64, id: &str) -> WindowEvent {
        WindowEvent { offset, incarnation: 0, timestamp_ms, weight: 1.0, value: 0.0, item: item(id, "c", &[]) }
    }

    #[test]
    fn a_window_event_stays_small() {
        assert!(std::mem::size_of::<WindowEvent>() <= 64, "{}", std::mem::size_of::<WindowEvent>());
    }

    fn profile() -> UserProfile {
        UserProfile::empty(UserId::parse("u").unwrap(), ScenarioId::parse("s").unwrap())
    }

    /// Regression: windows closing out of offset order (an event 3 s late across a window
    /// boundary) used to make the second window look replayed, and its events were dropped.
    #[test]
    fn windows_folded_out_of_offset_order_all_count() {
        let mut p = profile();
        let later_window = [event(5, WINDOW_MS + 1_000, "a")];
        let earlier_window = [event(6, WINDOW_MS - 2_000, "b")];
        fold(&mut p, WINDOW_MS, &later_window, 0, 0);
        fold(&mut p, 0, &earlier_window, 0, 0);
        assert_eq!(p.features.total_watch_count, 2);
    }

    /// A user's clicks across more categories and tags than the caps keep the best of each, so a
    /// tenant's catalog cannot grow one profile without bound.
    #[test]
    fn a_profile_keeps_its_best_categories_and_tags_only() {
        let mut p = profile();
        let events: Vec<WindowEvent> = (0..1_000u64)
            .map(|i| WindowEvent {
                weight: 1.0 + i as f64,
                item: item(&format!("i{i}"), &format!("c{i}"), &[&format!("t{i}")]),
                ..event(i + 1, 1_000, &format!("i{i}"))
            })
            .collect();
        fold(&mut p, 0, &events, 0, 0);
        let prefs = &p.preferences;
        assert_eq!((prefs.category_scores.len(), prefs.tag_scores.len()), (MAX_CATEGORIES, MAX_TAGS));
        assert!(prefs.category_scores.contains_key("c999") && !prefs.category_scores.contains_key("c799"));
        assert!(prefs.tag_scores.contains_key("t800") && !prefs.tag_scores.contains_key("t0"));
        assert_eq!(p.features.favorite_categories[0], "c999");
    }

    /// Regression: the tenants found quiet were forgotten before their windows were stored, so
    /// a failed write left those windows open until the tenant sent again. Finding what is due
    /// changes nothing; `close` forgets only after the writes succeed.
    #[test]
    fn a_quiet_tenant_stays_due_until_its_windows_are_stored() {
        let (quiet, busy) = (TenantId::parse("quiet").unwrap(), TenantId::parse("busy").unwrap());
        let (scenario, user) = (ScenarioId::parse("s").unwrap(), UserId::parse("u").unwrap());
        let mut job = ProfileAggregator::default();
        job.windows.insert((0, quiet.clone(), scenario.clone(), user.clone()), vec![event(1, 1_000, "a")]);
        job.windows.insert((0, busy.clone(), scenario.clone(), user.clone()), vec![event(2, 1_000, "b")]);
        job.max_event_ms.extend([(quiet.clone(), 1_000), (busy.clone(), 1_000)]);
        job.last_arrival_ms.extend([(quiet.clone(), 0), (busy.clone(), IDLE_CLOSE_MS)]);
        let first = job.due(IDLE_CLOSE_MS);
        assert_eq!(first, (vec![quiet.clone()], vec![(0, quiet.clone(), scenario.clone(), user.clone())]));
        // The write failed (nothing was removed): the next tick finds the same.
        assert_eq!(job.due(IDLE_CLOSE_MS + crate::jobs::IDLE_TICK.as_millis() as i64), first);
        // The busy tenant's window closes when it goes quiet in turn.
        let (later_quiet, later) = job.due(2 * IDLE_CLOSE_MS);
        assert_eq!((later_quiet.len(), later.len()), (2, 2));
    }

    #[test]
    fn a_replayed_window_folds_only_what_it_had_not() {
        let mut p = profile();
        fold(&mut p, 0, &[event(1, 10, "a"), event(2, 20, "b")], 0, 0);
        // After a restart the window is replayed whole, with one late event more.
        fold(&mut p, 0, &[event(1, 10, "a"), event(2, 20, "b"), event(9, 30, "c")], 0, 0);
        assert_eq!(p.features.total_watch_count, 3);
        assert_eq!(p.features.recent_items, ["c", "b", "a"]);
        assert_eq!(p.preferences.category_scores["c"], 3.0);
    }

    #[test]
    fn the_replay_guard_forgets_only_what_is_committed() {
        let mut p = profile();
        fold(&mut p, 0, &[event(1, 10, "a")], 0, 0);
        fold(&mut p, 2 * DAY_MS, &[event(5, 2 * DAY_MS + 10, "b")], 0, 0);
        assert_eq!(p.applied_windows.len(), 2, "nothing committed yet: a replay may reach both");
        fold(&mut p, 3 * DAY_MS, &[event(9, 3 * DAY_MS, "c")], 0, 4);
        assert_eq!(p.applied_windows.keys().copied().collect::<Vec<_>>(), [2 * DAY_MS, 3 * DAY_MS]);
    }
}
