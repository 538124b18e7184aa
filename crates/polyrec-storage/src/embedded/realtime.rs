//! The realtime store in memory, with Redis semantics: keys with TTLs (read from the injected
//! clock, so tests move time instead of sleeping), sorted sets, sets, hashes and capped lists.
//! It holds derived data only; after a restart the stream jobs rebuild hot sets, metrics and
//! exposures by replaying the event bus (recent-item lists are not rebuilt: recommend falls back
//! to the profile's).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::RwLock;
use polyrec_core::clock::SharedClock;
use polyrec_core::{Result, ScenarioId, TenantId, UserId};

use super::answers::Answers;
use crate::{Cached, RealtimeStore, keys};

enum Value {
    /// Sorted by score, highest first; shared so readers copy a pointer, not the set.
    SortedSet(Arc<Vec<(String, f64)>>),
    /// Members with the time each was last added (exposures).
    Timed(HashMap<String, i64>),
    /// Counters per time bucket (real-time metrics).
    Buckets(BTreeMap<i64, HashMap<String, f64>>),
    List(VecDeque<String>),
    Text(Arc<str>),
    /// One source's contribution to a hot set.
    Partial(HashMap<String, f64>),
    /// Running counts (item stats), and per source the last offset added.
    Counts(HashMap<String, u64>),
}

/// Sums of contributions at or below this are zero (floating-point residue of a subtraction).
const MIN_SCORE: f64 = 1e-9;

struct Entry {
    value: Value,
    expires_ms: i64,
}

/// The most bytes of cached answers (`recommend:` keys) the store holds, so however many users
/// every tenant has, the result cache cannot take the process's memory. Past it, the tenant
/// holding the most bytes makes room from its answers that expire first (see `answers.rs`).
pub const MAX_CACHED_ANSWER_BYTES: usize = 256 << 20;

/// How many shards the keys are spread over (see [`shard_of`]).
const SHARDS: usize = 64;

/// The shard of `key`, by Redis Cluster's rule: its hash tag (the text between the first `{` and
/// the next `}`, when not empty) or else the whole key. Every key one operation touches shares
/// a tag (as it must on a Redis Cluster), so each operation locks one shard; and the tags hold
/// the tenant, so one tenant's writes, and the sweep of its keys, hold up only the tenants that
/// share its shard, not every tenant's reads.
fn shard_of(key: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let tag = key
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(tag, _)| tag)
        .filter(|tag| !tag.is_empty())
        .unwrap_or(key);
    let mut hasher = std::hash::DefaultHasher::new();
    tag.hash(&mut hasher);
    (hasher.finish() % SHARDS as u64) as usize
}

type Shard = RwLock<HashMap<String, Entry>>;

pub struct MemoryRealtime {
    clock: SharedClock,
    /// The keys, in [`SHARDS`] shards ([`shard_of`]).
    entries: Box<[Shard]>,
    /// The result cache's answers, each tenant's apart, in a byte budget.
    answers: Answers,
}

impl MemoryRealtime {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            entries: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            answers: Answers::new(MAX_CACHED_ANSWER_BYTES),
        }
    }

    /// A store whose cached answers take at most `bytes`.
    pub fn with_answer_budget(clock: SharedClock, bytes: usize) -> Self {
        Self { answers: Answers::new(bytes), ..Self::new(clock) }
    }

    /// Drops expired keys; a background task calls this periodically (reads already ignore them).
    /// One shard at a time, so the sweep holds up only the keys of the shard it is in.
    pub fn sweep(&self) -> usize {
        let now = self.clock.now_ms();
        let mut swept = 0;
        for shard in &self.entries {
            let mut entries = shard.write();
            let before = entries.len();
            entries.retain(|_, entry| entry.expires_ms > now);
            swept += before - entries.len();
        }
        swept + self.answers.sweep(now)
    }

    /// The shard that holds `key`.
    fn shard(&self, key: &str) -> &Shard {
        &self.entries[shard_of(key)]
    }

    /// The bytes of cached answers held now.
    pub fn cached_answer_bytes(&self) -> usize {
        self.answers.bytes()
    }

    fn read<R>(&self, key: &str, f: impl FnOnce(&Value) -> R) -> Option<R> {
        let now = self.clock.now_ms();
        let entries = self.shard(key).read();
        let entry = entries.get(key)?;
        (entry.expires_ms > now).then(|| f(&entry.value))
    }

    /// Runs `f` on the live value of `key`, creating it with `init` if absent or expired, and
    /// sets the key's expiry to now + ttl.
    fn write(&self, key: String, ttl_ms: i64, init: impl FnOnce() -> Value, f: impl FnOnce(&mut Value)) {
        let expires_ms = self.clock.now_ms() + ttl_ms;
        self.write_until(key, expires_ms, init, f)
    }

    /// Like [`Self::write`], with the key expiring at `expires_ms` (never earlier than it was).
    fn write_until(&self, key: String, expires_ms: i64, init: impl FnOnce() -> Value, f: impl FnOnce(&mut Value)) {
        let now = self.clock.now_ms();
        let mut entries = self.shard(&key).write();
        let entry = entries.entry(key).or_insert_with(|| Entry { value: Value::List(VecDeque::new()), expires_ms: 0 });
        if entry.expires_ms <= now {
            // Absent (just inserted with expiry 0) or expired: start from a fresh value.
            entry.value = init();
            entry.expires_ms = expires_ms;
        }
        entry.expires_ms = entry.expires_ms.max(expires_ms);
        f(&mut entry.value);
    }
}

/// Keeps the `cap` latest members (ties: the greater item), as Redis's `ZREMRANGEBYRANK key 0
/// -(cap+1)` does to a set scored by time. Linear: a selection, not a sort.
fn keep_latest(members: &mut HashMap<String, i64>, cap: usize) {
    let Some(excess) = members.len().checked_sub(cap).filter(|&excess| excess > 0) else { return };
    let mut by_time: Vec<(i64, &String)> = members.iter().map(|(item, shown)| (*shown, item)).collect();
    by_time.select_nth_unstable(excess - 1);
    let dropped: Vec<String> = by_time[..excess].iter().map(|(_, item)| (*item).clone()).collect();
    for item in dropped {
        members.remove(&item);
    }
}

#[async_trait]
impl RealtimeStore for MemoryRealtime {
    fn is_shared(&self) -> bool {
        false
    }

    async fn cache_get(&self, key: Cached<'_>) -> Result<Option<String>> {
        if let Cached::Recommendation(tenant, ..) = key {
            return Ok(self.answers.get(tenant, &key.key(), self.clock.now_ms()).map(|text| text.to_string()));
        }
        let text = self.read(&key.key(), |value| match value {
            Value::Text(text) => Some(text.to_string()),
            _ => None,
        });
        Ok(text.flatten())
    }

    async fn cache_put(&self, key: Cached<'_>, json: &str, ttl_ms: i64, only_if_absent: bool) -> Result<bool> {
        let now = self.clock.now_ms();
        if let Cached::Recommendation(tenant, ..) = key {
            return Ok(self.answers.put(tenant, key.key(), json, now + ttl_ms, now, only_if_absent));
        }
        let key = key.key();
        let mut entries = self.shard(&key).write();
        if only_if_absent && entries.get(&key).is_some_and(|entry| entry.expires_ms > now) {
            return Ok(false);
        }
        entries.insert(key, Entry { value: Value::Text(json.into()), expires_ms: now + ttl_ms });
        Ok(true)
    }

    async fn cache_delete(&self, key: Cached<'_>) -> Result<()> {
        if let Cached::Recommendation(tenant, ..) = key {
            self.answers.remove(tenant, &key.key());
            return Ok(());
        }
        let key = key.key();
        self.shard(&key).write().remove(&key);
        Ok(())
    }

    async fn claim_event_ids(
        &self,
        tenant: &TenantId,
        claims: &[(&str, &str)],
        ttl_ms: i64,
    ) -> Result<Vec<Option<String>>> {
        let now = self.clock.now_ms();
        // Every claim key of the tenant has the tag `{tenant}`: one shard.
        let mut entries = self.shard(&keys::ingested(tenant, "")).write();
        Ok(claims
            .iter()
            .map(|(client_id, event_id)| {
                let key = keys::ingested(tenant, client_id);
                match entries.get(&key) {
                    Some(Entry { value: Value::Text(held), expires_ms }) if *expires_ms > now => Some(held.to_string()),
                    _ => {
                        let pending = Value::Text(format!("pending:{event_id}").into());
                        entries.insert(key, Entry { value: pending, expires_ms: now + ttl_ms });
                        None
                    }
                }
            })
            .collect())
    }

    async fn settle_event_ids(
        &self,
        tenant: &TenantId,
        stored: &[(&str, &str)],
        released: &[(&str, &str)],
        ttl_ms: i64,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let mut entries = self.shard(&keys::ingested(tenant, "")).write();
        // Whether the claim is still `pending:{event_id}` (or gone).
        let ours = |entry: Option<&Entry>, event_id: &str| match entry {
            Some(Entry { value: Value::Text(held), expires_ms }) if *expires_ms > now => {
                held.strip_prefix("pending:") == Some(event_id)
            }
            _ => true,
        };
        for (client_id, event_id) in stored {
            let key = keys::ingested(tenant, client_id);
            if ours(entries.get(&key), event_id) {
                let value = Value::Text(format!("stored:{event_id}").into());
                entries.insert(key, Entry { value, expires_ms: now + ttl_ms });
            }
        }
        for (client_id, event_id) in released {
            let key = keys::ingested(tenant, client_id);
            if ours(entries.get(&key), event_id) {
                entries.remove(&key);
            }
        }
        Ok(())
    }

    async fn add_item_stats(
        &self,
        tenant: &TenantId,
        item: &str,
        source: &str,
        events: &[(u64, String)],
    ) -> Result<()> {
        // One key holds the counts and, under `src:{source}` fields, the offsets (one process).
        let expires_ms = self.clock.now_ms() + keys::ITEM_STATS_TTL_MS;
        let key = keys::item_stats(tenant, item);
        let mut entries = self.shard(&key).write();
        let entry = entries.entry(key).or_insert_with(|| Entry { value: Value::Counts(HashMap::new()), expires_ms });
        entry.expires_ms = expires_ms;
        if let Value::Counts(fields) = &mut entry.value {
            let applied = fields.get(&format!("src:{source}")).copied().unwrap_or(0);
            let mut last = applied;
            for (offset, field) in events.iter().filter(|(offset, _)| *offset > applied) {
                *fields.entry(field.clone()).or_default() += 1;
                last = last.max(*offset);
            }
            fields.insert(format!("src:{source}"), last);
        }
        Ok(())
    }

    async fn item_stats(&self, tenant: &TenantId, item: &str) -> Result<HashMap<String, u64>> {
        let stats = self.read(&keys::item_stats(tenant, item), |value| match value {
            Value::Counts(fields) => {
                fields.iter().filter(|(k, _)| !k.starts_with("src:")).map(|(k, v)| (k.clone(), *v)).collect()
            }
            _ => HashMap::new(),
        });
        Ok(stats.unwrap_or_default())
    }

    async fn catalog_version(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<u64> {
        let version = self.read(&keys::catalog_version(tenant, scenario), |value| match value {
            Value::Text(text) => text.parse().ok(),
            _ => None,
        });
        Ok(version.flatten().unwrap_or(0))
    }

    async fn bump_catalog_version(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<u64> {
        let mut version = 0;
        self.write(
            keys::catalog_version(tenant, scenario),
            i64::MAX / 4,
            || Value::Text("0".into()),
            |value| {
                if let Value::Text(text) = value {
                    version = text.parse::<u64>().unwrap_or(0) + 1;
                    *text = version.to_string().into();
                }
            },
        );
        Ok(version)
    }

    async fn put_hot_items(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        source: &str,
        items: Vec<(String, f64)>,
        ttl_ms: i64,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let (total_key, source_key) =
            (keys::hot_items(tenant, scenario), keys::hot_items_source(tenant, scenario, source));
        // The total and the source's part share the tag `{tenant:scenario}`: one shard.
        let mut entries = self.shard(&total_key).write();
        let live = |entry: &Entry| entry.expires_ms > now;
        let old: HashMap<String, f64> = match entries.get(&source_key) {
            Some(entry @ Entry { value: Value::Partial(old), .. }) if live(entry) => old.clone(),
            _ => HashMap::new(),
        };
        let mut total: HashMap<String, f64> = match entries.get(&total_key) {
            Some(entry @ Entry { value: Value::SortedSet(set), .. }) if live(entry) => set.iter().cloned().collect(),
            _ => HashMap::new(),
        };
        let new: HashMap<String, f64> = items.into_iter().collect();
        for (item, score) in &old {
            *total.entry(item.clone()).or_default() -= score;
        }
        for (item, score) in &new {
            *total.entry(item.clone()).or_default() += score;
        }
        let mut sorted: Vec<(String, f64)> = total.into_iter().filter(|(_, score)| *score > MIN_SCORE).collect();
        sorted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let expires_ms = now + ttl_ms;
        let total_expiry =
            entries.get(&total_key).filter(|e| live(e)).map_or(expires_ms, |e| e.expires_ms.max(expires_ms));
        entries.insert(total_key, Entry { value: Value::SortedSet(Arc::new(sorted)), expires_ms: total_expiry });
        entries.insert(source_key, Entry { value: Value::Partial(new), expires_ms });
        Ok(())
    }

    async fn hot_items(&self, tenant: &TenantId, scenario: &ScenarioId, n: usize) -> Result<Vec<(String, f64)>> {
        let set = self.read(&keys::hot_items(tenant, scenario), |value| match value {
            Value::SortedSet(set) => Some(set.clone()),
            _ => None,
        });
        Ok(set.flatten().map(|set| set.iter().take(n).cloned().collect()).unwrap_or_default())
    }

    async fn add_exposed(
        &self,
        tenant: &TenantId,
        user: &UserId,
        scenario: &ScenarioId,
        items: &[(String, i64)],
        ttl_ms: i64,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let newest = items.iter().map(|(_, shown)| *shown).max().unwrap_or(now);
        let key = keys::exposed(tenant, user, scenario);
        self.write_until(
            key,
            newest + ttl_ms,
            || Value::Timed(HashMap::new()),
            |value| {
                if let Value::Timed(members) = value {
                    for (item, shown) in items {
                        let at = members.entry(item.clone()).or_insert(*shown);
                        *at = (*at).max(*shown);
                    }
                    members.retain(|_, shown| *shown + ttl_ms > now);
                    keep_latest(members, crate::MAX_EXPOSED);
                }
            },
        );
        Ok(())
    }

    async fn exposed(
        &self,
        tenant: &TenantId,
        user: &UserId,
        scenario: &ScenarioId,
        since_ms: i64,
    ) -> Result<Vec<String>> {
        let members = self.read(&keys::exposed(tenant, user, scenario), |value| match value {
            Value::Timed(members) => {
                members.iter().filter(|(_, shown)| **shown >= since_ms).map(|(item, _)| item.clone()).collect()
            }
            _ => Vec::new(),
        });
        Ok(members.unwrap_or_default())
    }

    async fn put_metrics(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        source: &str,
        bucket_ms: i64,
        counters: &[(String, f64)],
        ttl_ms: i64,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let mut old: HashMap<String, f64> = HashMap::new();
        let new: HashMap<String, f64> = counters.iter().cloned().collect();
        self.write(
            keys::metrics_source(tenant, scenario, source),
            ttl_ms,
            || Value::Buckets(BTreeMap::new()),
            |value| {
                if let Value::Buckets(buckets) = value {
                    old = buckets.insert(bucket_ms, new.clone()).unwrap_or_default();
                    buckets.retain(|bucket, _| *bucket + ttl_ms > now);
                }
            },
        );
        self.write(
            keys::metrics_realtime(tenant, scenario),
            ttl_ms,
            || Value::Buckets(BTreeMap::new()),
            |value| {
                if let Value::Buckets(buckets) = value {
                    let bucket = buckets.entry(bucket_ms).or_default();
                    for (field, value) in &old {
                        *bucket.entry(field.clone()).or_default() -= value;
                    }
                    for (field, value) in &new {
                        *bucket.entry(field.clone()).or_default() += value;
                    }
                    bucket.retain(|_, value| value.abs() > MIN_SCORE);
                    buckets.retain(|bucket, counters| *bucket + ttl_ms > now && !counters.is_empty());
                }
            },
        );
        Ok(())
    }

    async fn metrics(&self, tenant: &TenantId, scenario: &ScenarioId, since_ms: i64) -> Result<HashMap<String, f64>> {
        let sums = self.read(&keys::metrics_realtime(tenant, scenario), |value| {
            let mut sums: HashMap<String, f64> = HashMap::new();
            if let Value::Buckets(buckets) = value {
                for counters in buckets.range(since_ms..).map(|(_, counters)| counters) {
                    for (field, n) in counters {
                        *sums.entry(field.clone()).or_default() += n;
                    }
                }
            }
            sums
        });
        Ok(sums.unwrap_or_default())
    }

    async fn push_recent(
        &self,
        tenant: &TenantId,
        user: &UserId,
        scenario: &ScenarioId,
        items: &[String],
        cap: usize,
        ttl_ms: i64,
    ) -> Result<()> {
        self.write(
            keys::recent(tenant, user, scenario),
            ttl_ms,
            || Value::List(VecDeque::new()),
            |value| {
                if let Value::List(list) = value {
                    for item in items {
                        list.retain(|existing| existing != item);
                        list.push_front(item.clone());
                    }
                    list.truncate(cap);
                }
            },
        );
        Ok(())
    }

    async fn drop_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<()> {
        let whole = [
            keys::hot_items(tenant, scenario),
            keys::metrics_realtime(tenant, scenario),
            keys::scenario_config(tenant, scenario),
            keys::catalog_version(tenant, scenario),
        ];
        // The patterns are prefixes ending in `*` (ids hold no glob characters).
        let patterns = keys::scenario_patterns(tenant, scenario);
        let prefixes: Vec<&str> = patterns.iter().map(|pattern| pattern.trim_end_matches('*')).collect();
        // Every key of the scenario has its tag `{tenant:scenario}`: one shard.
        self.shard(&whole[0])
            .write()
            .retain(|key, _| !(whole.contains(key) || prefixes.iter().any(|prefix| key.starts_with(prefix))));
        self.answers.remove_where(tenant, |key| prefixes.iter().any(|prefix| key.starts_with(prefix)));
        Ok(())
    }

    async fn recent(&self, tenant: &TenantId, user: &UserId, scenario: &ScenarioId, n: usize) -> Result<Vec<String>> {
        let list = self.read(&keys::recent(tenant, user, scenario), |value| match value {
            Value::List(list) => list.iter().take(n).cloned().collect(),
            _ => Vec::new(),
        });
        Ok(list.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use polyrec_core::{Clock, ManualClock};

    use super::*;

    fn ids() -> (TenantId, UserId, ScenarioId) {
        (TenantId::parse("t").unwrap(), UserId::parse("u").unwrap(), ScenarioId::parse("s").unwrap())
    }

    /// The keys one operation touches together are in one shard (their hash tag), and the
    /// tenants spread over the shards.
    #[test]
    fn the_keys_an_operation_touches_share_a_shard_and_tenants_spread() {
        let (t, _, s) = ids();
        assert_eq!(shard_of(&keys::hot_items(&t, &s)), shard_of(&keys::hot_items_source(&t, &s, "p0")));
        assert_eq!(shard_of(&keys::ingested(&t, "")), shard_of(&keys::ingested(&t, "event-7")));
        let used: std::collections::HashSet<usize> =
            (0..1_000).map(|n| shard_of(&keys::hot_items(&TenantId::parse(format!("t{n}")).unwrap(), &s))).collect();
        assert_eq!(used.len(), SHARDS, "a thousand tenants use every shard");
    }

    /// While one tenant's shard is locked (its keys swept, a large hot set of its merged), a
    /// tenant of another shard reads and writes: a store behind one lock held every tenant up.
    #[tokio::test]
    async fn a_tenant_whose_shard_is_locked_holds_up_no_tenant_of_another() {
        let store = Arc::new(MemoryRealtime::new(Arc::new(ManualClock::new(0))));
        let (_, u, s) = ids();
        let tenant = |n: usize| TenantId::parse(format!("t{n}")).unwrap();
        let busy = tenant(0);
        let other = (1..1_000)
            .map(tenant)
            .find(|t| shard_of(&keys::recent(t, &u, &s)) != shard_of(&keys::recent(&busy, &u, &s)))
            .expect("a thousand tenants all in one shard");
        store.push_recent(&other, &u, &s, &["i1".to_owned()], 10, 60_000).await.unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        let held = store.shard(&keys::recent(&busy, &u, &s)).write();
        std::thread::spawn({
            let (store, other, u, s) = (store.clone(), other.clone(), u.clone(), s.clone());
            move || {
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                let read = runtime.block_on(async {
                    store.push_recent(&other, &u, &s, &["i2".to_owned()], 10, 60_000).await.unwrap();
                    store.recent(&other, &u, &s, 10).await.unwrap()
                });
                let _ = done.send(read);
            }
        });
        // (The bound only fails a store where the read waits for the held lock.)
        let read =
            finished.recv_timeout(std::time::Duration::from_secs(60)).expect("the other tenant waited for the lock");
        drop(held);
        assert_eq!(read, ["i2", "i1"]);
    }

    #[tokio::test]
    async fn cached_answers_keep_to_their_budget_and_one_tenants_do_not_push_out_anothers() {
        let clock = Arc::new(ManualClock::new(0));
        let store = MemoryRealtime::with_answer_budget(clock.clone(), 64 << 10);
        let (quiet, u, s) = ids();
        let noisy = TenantId::parse("noisy").unwrap();
        let answer = "x".repeat(1 << 10);
        let kept = Cached::Recommendation(&quiet, &s, &u, 0);
        assert!(store.cache_put(kept, &answer, 10_000, false).await.unwrap());
        for hash in 0..1_000 {
            let put = store.cache_put(Cached::Recommendation(&noisy, &s, &u, hash), &answer, 20_000, false);
            assert!(put.await.unwrap(), "a tenant's newest answer is cached");
            assert!(store.cached_answer_bytes() <= 64 << 10);
        }
        assert_eq!(store.cache_get(kept).await.unwrap().map(|a| a.len()), Some(answer.len()));
        assert!(store.cache_get(Cached::Recommendation(&noisy, &s, &u, 999)).await.unwrap().is_some());
        assert_eq!(store.cache_get(Cached::Recommendation(&noisy, &s, &u, 0)).await.unwrap(), None, "made room");
        // A deleted scenario's answers go, the other tenant's stay.
        store.drop_scenario(&noisy, &s).await.unwrap();
        assert_eq!(store.cached_answer_bytes(), kept.key().len() + answer.len());
        clock.set_ms(10_000);
        assert_eq!(store.cache_get(kept).await.unwrap(), None, "expired");
        store.sweep();
        assert_eq!(store.cached_answer_bytes(), 0);
    }

    #[tokio::test]
    async fn each_exposure_expires_a_day_after_it_was_shown() {
        let clock = Arc::new(ManualClock::new(0));
        let store = MemoryRealtime::new(clock.clone());
        let (t, u, s) = ids();
        let day = 86_400_000;
        store.add_exposed(&t, &u, &s, &[("old".into(), 0)], day).await.unwrap();
        clock.set_ms(day - 10);
        store.add_exposed(&t, &u, &s, &[("new".into(), day - 10)], day).await.unwrap();
        clock.set_ms(day + 5);
        let shown = store.exposed(&t, &u, &s, clock.now_ms() - day).await.unwrap();
        assert_eq!(shown, ["new"], "steady traffic does not keep old exposures alive");
    }

    #[tokio::test]
    async fn metrics_sum_the_buckets_of_the_window() {
        let clock = Arc::new(ManualClock::new(0));
        let store = MemoryRealtime::new(clock.clone());
        let (t, _, s) = ids();
        let hour = 3_600_000;
        store.put_metrics(&t, &s, "all", 0, &[("clicks".into(), 2.0)], hour).await.unwrap();
        clock.set_ms(hour - 60_000);
        store.put_metrics(&t, &s, "all", hour - 60_000, &[("clicks".into(), 1.0)], hour).await.unwrap();
        assert_eq!(store.metrics(&t, &s, clock.now_ms() - hour).await.unwrap()["clicks"], 3.0);
        clock.set_ms(hour + 1);
        assert_eq!(store.metrics(&t, &s, clock.now_ms() - hour).await.unwrap()["clicks"], 1.0, "the first minute left");
        clock.set_ms(3 * hour);
        assert!(store.metrics(&t, &s, clock.now_ms() - hour).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn hot_sets_expire_with_their_ttl() {
        let clock = Arc::new(ManualClock::new(0));
        let store = MemoryRealtime::new(clock.clone());
        let (t, _, s) = ids();
        store.replace_hot_items(&t, &s, vec![("a".into(), 1.0), ("b".into(), 2.0)], 1_000).await.unwrap();
        assert_eq!(store.hot_items(&t, &s, 1).await.unwrap(), [("b".to_string(), 2.0)]);
        clock.set_ms(1_000);
        assert!(store.hot_items(&t, &s, 5).await.unwrap().is_empty());
        assert_eq!(store.sweep(), 2, "the set and its one source");
    }
}
