//! The realtime store in memory, with Redis semantics: keys with TTLs (read from the injected
//! clock, so tests move time instead of sleeping), sorted sets, sets, hashes and capped lists.
//! It holds derived data only; after a restart the stream jobs rebuild it by replaying the last
//! 24 hours of the event bus.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::RwLock;
use polyrec_core::clock::SharedClock;
use polyrec_core::{Result, ScenarioId, TenantId, UserId};

use crate::{RealtimeStore, keys};

enum Value {
    /// Sorted by score, highest first; shared so readers copy a pointer, not the set.
    SortedSet(Arc<Vec<(String, f64)>>),
    Set(HashSet<String>),
    Hash(HashMap<String, f64>),
    List(VecDeque<String>),
}

struct Entry {
    value: Value,
    expires_ms: i64,
}

pub struct MemoryRealtime {
    clock: SharedClock,
    entries: RwLock<HashMap<String, Entry>>,
}

impl MemoryRealtime {
    pub fn new(clock: SharedClock) -> Self {
        Self { clock, entries: RwLock::new(HashMap::new()) }
    }

    /// Drops expired keys; a background task calls this periodically (reads already ignore them).
    pub fn sweep(&self) -> usize {
        let now = self.clock.now_ms();
        let mut entries = self.entries.write();
        let before = entries.len();
        entries.retain(|_, entry| entry.expires_ms > now);
        before - entries.len()
    }

    fn read<R>(&self, key: &str, f: impl FnOnce(&Value) -> R) -> Option<R> {
        let now = self.clock.now_ms();
        let entries = self.entries.read();
        let entry = entries.get(key)?;
        (entry.expires_ms > now).then(|| f(&entry.value))
    }

    /// Runs `f` on the live value of `key`, creating it with `init` if absent or expired, and
    /// sets the key's expiry to now + ttl.
    fn write(&self, key: String, ttl_ms: i64, init: impl FnOnce() -> Value, f: impl FnOnce(&mut Value)) {
        let now = self.clock.now_ms();
        let mut entries = self.entries.write();
        let entry = entries.entry(key).or_insert_with(|| Entry { value: Value::List(VecDeque::new()), expires_ms: 0 });
        if entry.expires_ms <= now {
            // Absent (just inserted with expiry 0) or expired: start from a fresh value.
            entry.value = init();
        }
        entry.expires_ms = now + ttl_ms;
        f(&mut entry.value);
    }
}

#[async_trait]
impl RealtimeStore for MemoryRealtime {
    async fn replace_hot_items(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        mut items: Vec<(String, f64)>,
        ttl_ms: i64,
    ) -> Result<()> {
        items.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let sorted = Arc::new(items);
        self.write(
            keys::hot_items(tenant, scenario),
            ttl_ms,
            || Value::SortedSet(Arc::default()),
            |value| *value = Value::SortedSet(sorted),
        );
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
        items: &[String],
        ttl_ms: i64,
    ) -> Result<()> {
        self.write(
            keys::exposed(tenant, user, scenario),
            ttl_ms,
            || Value::Set(HashSet::new()),
            |value| {
                if let Value::Set(set) = value {
                    set.extend(items.iter().cloned());
                }
            },
        );
        Ok(())
    }

    async fn exposed(&self, tenant: &TenantId, user: &UserId, scenario: &ScenarioId) -> Result<Vec<String>> {
        let members = self.read(&keys::exposed(tenant, user, scenario), |value| match value {
            Value::Set(set) => set.iter().cloned().collect(),
            _ => Vec::new(),
        });
        Ok(members.unwrap_or_default())
    }

    async fn incr_metrics(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        deltas: &[(String, f64)],
        ttl_ms: i64,
    ) -> Result<()> {
        self.write(
            keys::metrics_realtime(tenant, scenario),
            ttl_ms,
            || Value::Hash(HashMap::new()),
            |value| {
                if let Value::Hash(hash) = value {
                    for (field, delta) in deltas {
                        *hash.entry(field.clone()).or_default() += delta;
                    }
                }
            },
        );
        Ok(())
    }

    async fn metrics(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<HashMap<String, f64>> {
        let hash = self.read(&keys::metrics_realtime(tenant, scenario), |value| match value {
            Value::Hash(hash) => hash.clone(),
            _ => HashMap::new(),
        });
        Ok(hash.unwrap_or_default())
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

    async fn recent(&self, tenant: &TenantId, user: &UserId, scenario: &ScenarioId, n: usize) -> Result<Vec<String>> {
        let list = self.read(&keys::recent(tenant, user, scenario), |value| match value {
            Value::List(list) => list.iter().take(n).cloned().collect(),
            _ => Vec::new(),
        });
        Ok(list.unwrap_or_default())
    }
}
