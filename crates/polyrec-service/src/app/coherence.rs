//! How the caches in front of the document store learn of writes: one small trait, two answers,
//! chosen once at start-up from [`RealtimeStore::is_shared`]. Each cache has its own instance
//! (its own generation), so one cache's writes never refuse another's fills.
//!
//! - [`Local`]: the stores are this process's own, so every write passes through it; a write
//!   drops the cached copy and bumps a generation counter, and a reader that missed fills the
//!   cache only if no write happened while it read the store (a slow read never caches an old
//!   version).
//! - [`Shared`]: other processes write too; the realtime store holds the current text of each
//!   cached document (`scenario:config:…`, `user:profile:…`) or a version mark (`catalog:version`,
//!   the serving-models mark), every process compares its copy with it, and writers replace it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use polyrec_core::{Result, ScenarioId, TenantId};
use polyrec_storage::{Cached, RealtimeStore};

/// What a reader learns before it uses its cached copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    /// Local: a copy this process holds is current (writes drop it).
    Kept,
    /// Shared: the current text of the entry; a copy made from other text is stale.
    Entry(String),
    /// Shared: no entry; read the store.
    Absent,
}

/// A generation taken before reading the store (see [`Coherence::begin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

#[async_trait]
pub trait Coherence: Send + Sync {
    /// Whether the stores are shared with other processes (then copies are read again).
    fn is_shared(&self) -> bool {
        self.revalidate_after().is_some()
    }
    /// This cache's generation: bumped by every write of this process.
    fn generation(&self) -> &AtomicU64;
    /// Taken before a read of the store that may fill the cache.
    fn begin(&self) -> Generation {
        Generation(self.generation().load(Ordering::SeqCst))
    }
    /// Whether a copy read after `begin` may still be cached: no write since.
    fn unchanged(&self, since: Generation) -> bool {
        self.generation().load(Ordering::SeqCst) == since.0
    }
    /// A write by this process that passes through no shared entry: readers that began before
    /// it must not fill (what [`Coherence::written`] does first).
    fn bump(&self) {
        self.generation().fetch_add(1, Ordering::SeqCst);
    }
    /// What is current for `entry`. An `Err` is the realtime store down: the caller serves what
    /// it has (SPEC §6.3) or reads the store.
    async fn current(&self, entry: Cached<'_>) -> Result<Current>;
    /// After a miss was read from the store: shared, puts the entry unless a writer put a newer
    /// one meanwhile. Returns whether the process keeps its own copy (local) or not (shared: the
    /// entry is the cache).
    async fn fill(&self, entry: Cached<'_>, json: &str, ttl_ms: i64) -> bool;
    /// After a write by this process: bumps the generation; shared, replaces the entry (`None`:
    /// removes it) so every process sees the write at its next read.
    async fn written(&self, entry: Cached<'_>, json: Option<&str>, ttl_ms: i64) -> Result<()>;
    /// A scenario catalog's shared version (`None`: local, nothing else writes items).
    async fn catalog_version(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Option<u64>>;
    /// Bumps it after this process wrote items; returns the new version (`None`: local).
    async fn bump_catalog_version(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Option<u64>>;
    /// How long a copy of what other processes may change without passing through a cached
    /// entry (a running experiment) serves before it is read again; `None`: until a write.
    fn revalidate_after(&self) -> Option<Duration>;
}

/// Chooses the coherence of `realtime`'s deployment for one cache; `follow` is
/// `services.follow_ms`.
pub fn of(realtime: Arc<dyn RealtimeStore>, follow: Duration) -> Arc<dyn Coherence> {
    if realtime.is_shared() { shared(realtime, follow) } else { Arc::new(Local::default()) }
}

/// The shared coherence over `realtime`, whatever it says of itself (what tests of two
/// processes over one in-memory store use).
pub fn shared(realtime: Arc<dyn RealtimeStore>, follow: Duration) -> Arc<dyn Coherence> {
    Arc::new(Shared { realtime, follow, local: Local::default() })
}

/// The stores are this process's own.
#[derive(Default)]
pub struct Local {
    generation: AtomicU64,
}

#[async_trait]
impl Coherence for Local {
    fn generation(&self) -> &AtomicU64 {
        &self.generation
    }

    async fn current(&self, _: Cached<'_>) -> Result<Current> {
        Ok(Current::Kept)
    }

    async fn fill(&self, _: Cached<'_>, _: &str, _: i64) -> bool {
        true
    }

    async fn written(&self, _: Cached<'_>, _: Option<&str>, _: i64) -> Result<()> {
        self.bump();
        Ok(())
    }

    async fn catalog_version(&self, _: &TenantId, _: &ScenarioId) -> Result<Option<u64>> {
        Ok(None)
    }

    async fn bump_catalog_version(&self, _: &TenantId, _: &ScenarioId) -> Result<Option<u64>> {
        Ok(None)
    }

    fn revalidate_after(&self) -> Option<Duration> {
        None
    }
}

/// The stores are shared through the realtime store (Redis).
pub struct Shared {
    realtime: Arc<dyn RealtimeStore>,
    follow: Duration,
    /// This process's own writes still drop its copies at once.
    local: Local,
}

#[async_trait]
impl Coherence for Shared {
    fn revalidate_after(&self) -> Option<Duration> {
        Some(self.follow)
    }

    fn generation(&self) -> &AtomicU64 {
        &self.local.generation
    }

    async fn current(&self, entry: Cached<'_>) -> Result<Current> {
        Ok(match self.realtime.cache_get(entry).await? {
            Some(json) => Current::Entry(json),
            None => Current::Absent,
        })
    }

    async fn fill(&self, entry: Cached<'_>, json: &str, ttl_ms: i64) -> bool {
        // Only if absent: a writer may have put a newer version since the read.
        if let Err(error) = self.realtime.cache_put(entry, json, ttl_ms, true).await {
            tracing::debug!(%error, "cannot fill the shared cache");
        }
        false
    }

    async fn written(&self, entry: Cached<'_>, json: Option<&str>, ttl_ms: i64) -> Result<()> {
        self.bump();
        match json {
            Some(json) => self.realtime.cache_put(entry, json, ttl_ms, false).await.map(drop),
            None => self.realtime.cache_delete(entry).await,
        }
    }

    async fn catalog_version(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Option<u64>> {
        self.realtime.catalog_version(tenant, id).await.map(Some)
    }

    async fn bump_catalog_version(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Option<u64>> {
        self.realtime.bump_catalog_version(tenant, id).await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyrec_core::clock::ManualClock;
    use polyrec_storage::MemoryRealtime;

    fn ids() -> (TenantId, ScenarioId) {
        (TenantId::parse("t").unwrap(), ScenarioId::parse("s").unwrap())
    }

    #[tokio::test]
    async fn a_write_between_begin_and_fill_forbids_caching_in_either_mode() {
        let realtime: Arc<dyn RealtimeStore> = Arc::new(MemoryRealtime::new(Arc::new(ManualClock::new(0))));
        let shared = Shared { realtime, follow: Duration::from_millis(10), local: Local::default() };
        let (tenant, id) = ids();
        for coherence in [&Local::default() as &dyn Coherence, &shared] {
            let before = coherence.begin();
            assert!(coherence.unchanged(before));
            coherence.written(Cached::ScenarioConfig(&tenant, &id), Some("{}"), 1000).await.unwrap();
            assert!(!coherence.unchanged(before), "a read racing a write must not cache the old version");
            assert!(coherence.unchanged(coherence.begin()));
        }
    }

    #[tokio::test]
    async fn shared_entries_carry_the_current_text_and_writers_replace_it() {
        let realtime: Arc<dyn RealtimeStore> = Arc::new(MemoryRealtime::new(Arc::new(ManualClock::new(0))));
        let coherence = Shared { realtime, follow: Duration::from_millis(10), local: Local::default() };
        let (tenant, id) = ids();
        let entry = Cached::ScenarioConfig(&tenant, &id);
        assert_eq!(coherence.current(entry).await.unwrap(), Current::Absent);
        assert!(!coherence.fill(entry, "v1", 1000).await, "shared: the entry is the cache");
        assert_eq!(coherence.current(entry).await.unwrap(), Current::Entry("v1".into()));
        assert!(!coherence.fill(entry, "v0", 1000).await);
        assert_eq!(coherence.current(entry).await.unwrap(), Current::Entry("v1".into()), "a fill never overwrites");
        coherence.written(entry, Some("v2"), 1000).await.unwrap();
        assert_eq!(coherence.current(entry).await.unwrap(), Current::Entry("v2".into()));
        coherence.written(entry, None, 1000).await.unwrap();
        assert_eq!(coherence.current(entry).await.unwrap(), Current::Absent);
        assert_eq!(coherence.bump_catalog_version(&tenant, &id).await.unwrap(), Some(1));
        assert_eq!(coherence.catalog_version(&tenant, &id).await.unwrap(), Some(1));
    }

    #[tokio::test]
    async fn local_keeps_its_own_copies_and_has_no_versions() {
        let coherence = Local::default();
        let (tenant, id) = ids();
        let entry = Cached::ScenarioConfig(&tenant, &id);
        assert_eq!(coherence.current(entry).await.unwrap(), Current::Kept);
        assert!(coherence.fill(entry, "v1", 1000).await);
        assert_eq!(coherence.catalog_version(&tenant, &id).await.unwrap(), None);
        assert_eq!(coherence.revalidate_after(), None);
    }
}
