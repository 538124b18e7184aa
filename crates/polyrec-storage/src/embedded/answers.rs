//! The embedded result cache's answers (`recommend:` keys): each tenant's under a lock of its
//! own, in one byte budget shared so that no tenant loses its answers to one holding more.
//!
//! Past the budget, room is made by the tenant holding the most bytes, from its answers that
//! expire first (expired ones before any live one). So a tenant alone may fill the whole budget,
//! and however many answers one tenant writes, another keeps its own and can always cache new
//! ones. moka's weighted caches evict by recency and frequency over every entry, with no notion
//! of whose entry it is; this fairness is why the structure is written here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::RwLock;
use polyrec_core::TenantId;

/// One tenant's answers, with their bytes counted outside its lock so that picking the tenant
/// that makes room takes no lock of another.
#[derive(Default)]
struct Held {
    bytes: AtomicUsize,
    answers: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Key → (answer, expiry, sequence number).
    by_key: HashMap<Arc<str>, (Arc<str>, i64, u64)>,
    /// (expiry, sequence number) → key (the same allocation): the order in which this tenant's
    /// answers make room.
    by_expiry: BTreeMap<(i64, u64), Arc<str>>,
    next_seq: u64,
}

impl Entries {
    /// Removes `key`; returns its bytes.
    fn remove(&mut self, key: &str) -> usize {
        let Some((text, expires_ms, seq)) = self.by_key.remove(key) else { return 0 };
        self.by_expiry.remove(&(expires_ms, seq));
        key.len() + text.len()
    }

    /// Removes the answer that expires first, while `more` says so; returns the bytes freed.
    fn pop_first_while(&mut self, mut more: impl FnMut(i64, usize) -> bool) -> usize {
        let mut freed = 0;
        while let Some(entry) = self.by_expiry.first_entry() {
            if !more(entry.key().0, freed) {
                break;
            }
            let key = entry.remove();
            if let Some((text, ..)) = self.by_key.remove(&*key) {
                freed += key.len() + text.len();
            }
        }
        freed
    }
}

pub(super) struct Answers {
    budget: usize,
    bytes: AtomicUsize,
    tenants: RwLock<HashMap<TenantId, Arc<Held>>>,
}

impl Answers {
    pub(super) fn new(budget: usize) -> Self {
        Self { budget, bytes: AtomicUsize::new(0), tenants: RwLock::default() }
    }

    /// The bytes held now (keys and answers).
    pub(super) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The bytes `tenant` holds now.
    #[cfg(test)]
    pub(super) fn tenant_bytes(&self, tenant: &TenantId) -> usize {
        self.tenants.read().get(tenant).map_or(0, |held| held.bytes.load(Ordering::Relaxed))
    }

    pub(super) fn get(&self, tenant: &TenantId, key: &str, now: i64) -> Option<Arc<str>> {
        let tenants = self.tenants.read();
        let entries = tenants.get(tenant)?.answers.read();
        let (text, expires_ms, _) = entries.by_key.get(key)?;
        (*expires_ms > now).then(|| text.clone())
    }

    /// Caches `text` under `key` until `expires_ms`; past the budget, the tenant holding the
    /// most bytes makes room ([`Self::make_room`]). With `only_if_absent`, a live answer already
    /// there wins. Returns whether the answer was written and is held.
    pub(super) fn put(
        &self,
        tenant: &TenantId,
        key: String,
        text: &str,
        expires_ms: i64,
        now: i64,
        only_if_absent: bool,
    ) -> bool {
        let key: Arc<str> = key.into();
        let size = key.len() + text.len();
        if size > self.budget {
            return false;
        }
        let held = self.held(tenant);
        let seq = {
            let mut entries = held.answers.write();
            if only_if_absent && entries.by_key.get(&*key).is_some_and(|(_, expires_ms, _)| *expires_ms > now) {
                return false;
            }
            let mut freed = entries.remove(&key);
            // The tenant's expired answers go as it writes, so none waits for the sweep.
            freed += entries.pop_first_while(|expires_ms, _| expires_ms <= now);
            let seq = entries.next_seq;
            entries.next_seq += 1;
            entries.by_expiry.insert((expires_ms, seq), key.clone());
            entries.by_key.insert(key.clone(), (text.into(), expires_ms, seq));
            self.account(&held, size, freed);
            seq
        };
        drop(held);
        if self.bytes() <= self.budget {
            return true;
        }
        self.make_room(now);
        // Held unless the room was made from this answer itself (it expires first of its
        // tenant's, which held the most).
        let tenants = self.tenants.read();
        tenants.get(tenant).is_some_and(|held| held.answers.read().by_key.get(&*key).is_some_and(|(.., s)| *s == seq))
    }

    pub(super) fn remove(&self, tenant: &TenantId, key: &str) {
        let tenants = self.tenants.read();
        if let Some(held) = tenants.get(tenant) {
            let freed = held.answers.write().remove(key);
            self.account(held, 0, freed);
        }
    }

    /// Removes the tenant's answers whose key `drop` selects.
    pub(super) fn remove_where(&self, tenant: &TenantId, drop: impl Fn(&str) -> bool) {
        let tenants = self.tenants.read();
        if let Some(held) = tenants.get(tenant) {
            let mut entries = held.answers.write();
            let keys: Vec<Arc<str>> = entries.by_key.keys().filter(|key| drop(key)).cloned().collect();
            let freed = keys.iter().map(|key| entries.remove(key)).sum();
            self.account(held, 0, freed);
        }
    }

    /// Drops expired answers, one tenant at a time, and forgets tenants left with none.
    /// Returns how many answers went.
    pub(super) fn sweep(&self, now: i64) -> usize {
        let mut swept = 0;
        let mut emptied = Vec::new();
        for (tenant, held) in self.tenants.read().iter() {
            let mut entries = held.answers.write();
            let before = entries.by_key.len();
            let freed = entries.pop_first_while(|expires_ms, _| expires_ms <= now);
            swept += before - entries.by_key.len();
            self.account(held, 0, freed);
            if entries.by_key.is_empty() {
                emptied.push(tenant.clone());
            }
        }
        if !emptied.is_empty() {
            let mut tenants = self.tenants.write();
            for tenant in emptied {
                // Nobody else holds it (a holder clones it under the read lock, which this write
                // lock excludes), so no answer can be written into it once it is gone.
                if tenants
                    .get(&tenant)
                    .is_some_and(|held| Arc::strong_count(held) == 1 && held.answers.read().by_key.is_empty())
                {
                    tenants.remove(&tenant);
                }
            }
        }
        swept
    }

    fn held(&self, tenant: &TenantId) -> Arc<Held> {
        if let Some(held) = self.tenants.read().get(tenant) {
            return held.clone();
        }
        self.tenants.write().entry(tenant.clone()).or_default().clone()
    }

    /// Counts `added` bytes in and `freed` out, for `held` and in all (under `held`'s lock).
    fn account(&self, held: &Held, added: usize, freed: usize) {
        held.bytes.fetch_add(added, Ordering::Relaxed);
        held.bytes.fetch_sub(freed, Ordering::Relaxed);
        self.bytes.fetch_add(added, Ordering::Relaxed);
        self.bytes.fetch_sub(freed, Ordering::Relaxed);
    }

    /// Brings the bytes back within the budget: the tenant holding the most gives up its
    /// answers that expire first, then the next, so a tenant never loses an answer to one that
    /// holds more than it. One tenant's lock at a time.
    fn make_room(&self, now: i64) {
        while let Some(over) = self.bytes().checked_sub(self.budget).filter(|&over| over > 0) {
            let tenants = self.tenants.read();
            let Some(held) = tenants.values().max_by_key(|held| held.bytes.load(Ordering::Relaxed)) else { return };
            let mut entries = held.answers.write();
            let expired = entries.pop_first_while(|expires_ms, _| expires_ms <= now);
            let freed = expired + entries.pop_first_while(|_, freed| expired + freed < over);
            self.account(held, 0, freed);
            if freed == 0 {
                // Nothing to give: the counts are between two updates of another writer's, which
                // looks at the budget itself once done.
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).unwrap()
    }

    #[test]
    fn a_tenant_alone_fills_the_budget_and_its_earliest_answers_make_room() {
        let answers = Answers::new(1_000);
        let t = tenant("t");
        for n in 0..20 {
            assert!(answers.put(&t, format!("k{n:02}"), &"x".repeat(97), 100 + n, 0, false));
        }
        assert_eq!(answers.bytes(), 1_000, "ten answers of 100 bytes");
        assert_eq!(answers.get(&t, "k09", 0), None, "the earliest made room");
        assert_eq!(answers.get(&t, "k10", 0).as_deref().map(str::len), Some(97));
        assert!(!answers.put(&t, "big".into(), &"x".repeat(1_000), 200, 0, false), "larger than the budget");
        // Replacing an answer counts its bytes once.
        assert!(answers.put(&t, "k19".into(), "small", 119, 0, false));
        assert_eq!(answers.bytes(), 900 + 3 + 5);
        // With only_if_absent, a live answer wins; an expired one does not.
        assert!(!answers.put(&t, "k19".into(), "other", 119, 0, true));
        assert!(answers.put(&t, "k19".into(), "other", 300, 119, true));
    }

    #[test]
    fn a_tenant_keeps_its_answers_however_many_another_writes() {
        let answers = Answers::new(10_000);
        let (noisy, quiet) = (tenant("noisy"), tenant("quiet"));
        for n in 0..50 {
            assert!(answers.put(&noisy, format!("n{n:04}"), &"x".repeat(95), 1_000 + n, 0, false));
        }
        for n in 0..5 {
            assert!(answers.put(&quiet, format!("q{n}"), &"y".repeat(98), 500 + n, 0, false));
        }
        // The noisy tenant writes ten budgets' worth, its answers expiring after the quiet one's.
        for n in 50..1_000 {
            assert!(answers.put(&noisy, format!("n{n:04}"), &"x".repeat(95), 1_000 + n, 0, false));
            assert!(answers.bytes() <= 10_000);
        }
        for n in 0..5 {
            assert!(answers.get(&quiet, &format!("q{n}"), 0).is_some(), "q{n} was evicted for the noisy tenant");
        }
        assert_eq!(answers.tenant_bytes(&noisy), 10_000 - 500);
        // And the quiet tenant still caches new answers: the noisy one makes room.
        assert!(answers.put(&quiet, "q5".into(), &"y".repeat(98), 100, 0, false));
        assert_eq!(answers.tenant_bytes(&quiet), 600);
        assert!(answers.bytes() <= 10_000);
        // Tenants' keys do not meet: the same key is two answers.
        assert!(answers.put(&noisy, "q0".into(), "z", 2_000, 0, false));
        assert_eq!(answers.get(&quiet, "q0", 0).as_deref().map(str::len), Some(98));
    }

    #[test]
    fn expired_answers_go_and_emptied_tenants_are_forgotten() {
        let answers = Answers::new(10_000);
        let (a, b) = (tenant("a"), tenant("b"));
        answers.put(&a, "a1".into(), "x", 10, 0, false);
        answers.put(&b, "b1".into(), "x", 20, 0, false);
        answers.put(&b, "b2".into(), "x", 20, 0, false);
        assert_eq!(answers.get(&a, "a1", 10), None, "expired answers are not read");
        assert_eq!(answers.sweep(10), 1);
        assert_eq!(answers.tenants.read().len(), 1, "a is forgotten");
        answers.remove_where(&b, |key| key == "b1");
        answers.remove(&b, "b2");
        assert_eq!(answers.bytes(), 0);
        assert_eq!(answers.sweep(10), 0);
        assert!(answers.tenants.read().is_empty());
    }
}
