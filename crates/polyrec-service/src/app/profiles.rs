//! User profiles (SPEC §6.3: cached for an hour), replaced when the profile job writes one.
//! Local, a bounded in-process cache; shared, `user:profile:{tenant}:{user}:{scenario}`.

use std::sync::Arc;

use polyrec_core::clock::{HOUR_MS, SharedClock};
use polyrec_core::{Error, Result, ScenarioId, TenantId, UserId, UserProfile};
use polyrec_storage::{Cached, DocumentStore};

use super::coherence::{Coherence, Current};
use crate::sources::FeatureSource;
use crate::telemetry;

const PROFILE_TTL_MS: i64 = HOUR_MS;
const PROFILE_CACHE_MAX: u64 = 200_000;

/// A cached profile (or the knowledge that there is none) and when the entry expires.
type Entry = (Option<Arc<UserProfile>>, i64);

pub struct Profiles {
    source: Arc<dyn FeatureSource>,
    documents: Arc<dyn DocumentStore>,
    coherence: Arc<dyn Coherence>,
    clock: SharedClock,
    /// Bounded (TinyLFU): users are what callers choose, and one tenant's many users must not
    /// grow the process or flush the other tenants' profiles.
    local: moka::sync::Cache<(TenantId, UserId, ScenarioId), Entry>,
    /// Held across "no write since?" and the insert, and across a write's bump and insert, so a
    /// read racing a write never puts the old profile back.
    fill: parking_lot::Mutex<()>,
}

impl Profiles {
    pub(crate) fn new(
        source: Arc<dyn FeatureSource>,
        documents: Arc<dyn DocumentStore>,
        coherence: Arc<dyn Coherence>,
        clock: SharedClock,
    ) -> Self {
        let local =
            moka::sync::Cache::builder().max_capacity(PROFILE_CACHE_MAX).support_invalidation_closures().build();
        Self { source, documents, coherence, clock, local, fill: parking_lot::Mutex::new(()) }
    }

    /// The user's profile, from the cache or the document store.
    pub async fn get(&self, tenant: &TenantId, user: &UserId, id: &ScenarioId) -> Result<Option<Arc<UserProfile>>> {
        // A cached profile is answered without suspending: a loop of reads (the profile
        // recompute, the ranker's labelling, precomputed answers) kept its runtime thread, and
        // every tenant's requests polled there, until it ended. Every so often this yields.
        tokio::task::consume_budget().await;
        let entry = Cached::UserProfile(tenant, user, id);
        let key = (tenant.clone(), user.clone(), id.clone());
        let now = self.clock.now_ms();
        match self.coherence.current(entry).await {
            Ok(Current::Kept) => {
                if let Some((profile, expires)) = self.local.get(&key)
                    && expires > now
                {
                    telemetry::cache_lookup("profile", true);
                    return Ok(profile);
                }
            }
            Ok(Current::Entry(json)) if json == "null" => {
                telemetry::cache_lookup("profile", true);
                return Ok(None);
            }
            Ok(Current::Entry(json)) => match serde_json::from_str::<UserProfile>(&json) {
                Ok(profile) => {
                    telemetry::cache_lookup("profile", true);
                    return Ok(Some(Arc::new(profile)));
                }
                Err(error) => tracing::warn!(%tenant, %user, %error, "unreadable cached profile; reading the store"),
            },
            Ok(Current::Absent) => {}
            // Without the cache the document store still answers.
            Err(error) => tracing::debug!(%tenant, %user, %error, "profile cache unavailable"),
        }
        telemetry::cache_lookup("profile", false);
        let generation = self.coherence.begin();
        let profile = self.source.profile(tenant, user, id).await?.map(Arc::new);
        // Shared, the shared entry is the cache; local, this process's copy is (no text needed).
        let own_copy = match self.coherence.is_shared() {
            true => {
                let json = serde_json::to_string(&profile.as_deref()).map_err(Error::internal)?;
                self.coherence.fill(entry, &json, PROFILE_TTL_MS).await
            }
            false => true,
        };
        if own_copy {
            let _filling = self.fill.lock();
            if self.coherence.unchanged(generation) {
                self.local.insert(key, (profile.clone(), now + PROFILE_TTL_MS));
            }
        }
        Ok(profile)
    }

    /// Stores profiles in one write and puts them in the cache.
    pub async fn put(&self, tenant: &TenantId, profiles: Vec<UserProfile>) -> Result<()> {
        self.documents.put_profiles(tenant, &profiles).await?;
        if self.coherence.is_shared() {
            for profile in &profiles {
                let json = serde_json::to_string(profile).map_err(Error::internal)?;
                let entry = Cached::UserProfile(tenant, &profile.user_id, &profile.scenario_id);
                self.coherence.written(entry, Some(&json), PROFILE_TTL_MS).await?;
            }
            return Ok(());
        }
        let expires = self.clock.now_ms() + PROFILE_TTL_MS;
        let _writing = self.fill.lock();
        self.coherence.bump();
        for profile in profiles {
            let key = (tenant.clone(), profile.user_id.clone(), profile.scenario_id.clone());
            self.local.insert(key, (Some(Arc::new(profile)), expires));
        }
        Ok(())
    }

    /// Called after the scenario was deleted: its profiles leave the cache.
    pub(crate) fn forget(&self, tenant: &TenantId, id: &ScenarioId) -> Result<()> {
        self.coherence.bump();
        let (tenant, id) = (tenant.clone(), id.clone());
        self.local
            .invalidate_entries_if(move |(t, _, s), _| *t == tenant && *s == id)
            .map_err(|e| Error::internal(format!("profile cache: {e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::coherence::Local;
    use async_trait::async_trait;
    use polyrec_core::clock::ManualClock;
    use polyrec_storage::SqliteDocuments;

    /// A feature source whose read waits until released, to race a write against it.
    struct Slow {
        documents: Arc<dyn DocumentStore>,
        release: tokio::sync::Notify,
        reading: tokio::sync::Notify,
    }

    #[async_trait]
    impl FeatureSource for Slow {
        async fn profile(&self, tenant: &TenantId, user: &UserId, id: &ScenarioId) -> Result<Option<UserProfile>> {
            let read = self.documents.get_profile(tenant, user, id).await;
            self.reading.notify_one();
            self.release.notified().await;
            read
        }
    }

    #[tokio::test]
    async fn a_read_racing_a_write_never_caches_the_old_profile() {
        let dir = tempfile::tempdir().unwrap();
        let documents: Arc<dyn DocumentStore> = Arc::new(SqliteDocuments::open(&dir.path().join("d.db")).unwrap());
        let slow =
            Arc::new(Slow { documents: documents.clone(), release: Default::default(), reading: Default::default() });
        let clock: SharedClock = Arc::new(ManualClock::new(0));
        let profiles = Arc::new(Profiles::new(slow.clone(), documents, Arc::new(Local::default()), clock));
        let (tenant, user, id) =
            (TenantId::parse("t").unwrap(), UserId::parse("u").unwrap(), ScenarioId::parse("s").unwrap());
        // The read sees no profile, then a write lands before the read fills the cache.
        let reader = tokio::spawn({
            let (profiles, tenant, user, id) = (profiles.clone(), tenant.clone(), user.clone(), id.clone());
            async move { profiles.get(&tenant, &user, &id).await.unwrap() }
        });
        slow.reading.notified().await;
        let mut written = UserProfile::empty(user.clone(), id.clone());
        written.updated_ms = 7;
        profiles.put(&tenant, vec![written]).await.unwrap();
        slow.release.notify_one();
        assert!(reader.await.unwrap().is_none(), "the racing read answers what it read");
        // The next read must see the write, not the racing read's empty answer.
        let next = profiles.get(&tenant, &user, &id).await.unwrap();
        assert_eq!(next.map(|p| p.updated_ms), Some(7));
    }

    /// One runtime thread (as each of a 2-core server's two is): a job reading thousands of
    /// cached profiles in a row leaves the thread to the other tasks now and then.
    #[tokio::test(flavor = "current_thread")]
    async fn reading_cached_profiles_in_a_row_leaves_the_thread_to_other_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let documents: Arc<dyn DocumentStore> = Arc::new(SqliteDocuments::open(&dir.path().join("d.db")).unwrap());
        let clock: SharedClock = Arc::new(ManualClock::new(0));
        let source = Arc::new(crate::sources::Local(documents.clone()));
        let profiles = Profiles::new(source, documents, Arc::new(Local::default()), clock);
        let (tenant, user, id) =
            (TenantId::parse("t").unwrap(), UserId::parse("u").unwrap(), ScenarioId::parse("s").unwrap());
        profiles.put(&tenant, vec![UserProfile::empty(user.clone(), id.clone())]).await.unwrap();
        let polled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let other = tokio::spawn({
            let polled = polled.clone();
            async move {
                loop {
                    polled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            }
        });
        for _ in 0..10_000 {
            assert!(profiles.get(&tenant, &user, &id).await.unwrap().is_some());
        }
        let polled = polled.load(std::sync::atomic::Ordering::SeqCst);
        other.abort();
        // Without the yield the other task is not polled once before the loop ends.
        assert!(polled >= 10, "the other task was polled {polled} times during 10,000 reads");
    }
}
