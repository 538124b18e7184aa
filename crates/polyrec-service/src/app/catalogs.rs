//! Catalogs: per scenario, the item index the engine reads, kept in step with item writes. Shared,
//! each process compares its catalog with `catalog:version` at most every `services.follow_ms`
//! and reloads it when another process wrote items.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::RwLock;
use polyrec_core::{Error, Item, Result, ScenarioId, TenantId};
use polyrec_engine::Catalog;

use super::Key;
use super::coherence::Coherence;
use crate::blocking::{TenantWork, to_completion};
use crate::sources::ItemSource;
use tokio::sync::OwnedSemaphorePermit;

/// A scenario's items by id, as this process holds them.
type Items = HashMap<String, Arc<Item>>;

#[derive(Default)]
struct Slot {
    /// `None` until first loaded from the document store.
    /// (In an `Arc`: a load on a task of its own hands its guard back, see [`Catalogs::census`].)
    items: Arc<tokio::sync::Mutex<Option<Items>>>,
    snapshot: RwLock<Arc<Catalog>>,
    /// Set once the first snapshot is built; with `dirty` clear, `snapshot` is current.
    loaded: AtomicBool,
    dirty: AtomicBool,
    /// Shared: the `catalog:version` this catalog reflects, and when (ms since the process
    /// started, from 1; 0: never) it was last compared with the shared one.
    version: AtomicU64,
    checked_ms: AtomicU64,
}

pub struct Catalogs {
    source: Arc<dyn ItemSource>,
    coherence: Arc<dyn Coherence>,
    slots: RwLock<HashMap<Key, Arc<Slot>>>,
    follow_ms: u64,
    started: std::time::Instant,
    /// Snapshots built, every scenario together.
    builds: AtomicU64,
    /// Snapshots given out of date by [`Self::get_by`] past its deadline.
    stale: AtomicU64,
    /// Where the builds run: on the tenant's blocking slots.
    work: TenantWork,
}

impl Catalogs {
    pub(crate) fn new(
        source: Arc<dyn ItemSource>,
        coherence: Arc<dyn Coherence>,
        follow_ms: u64,
        work: TenantWork,
    ) -> Self {
        Self {
            source,
            coherence,
            slots: RwLock::default(),
            follow_ms,
            started: std::time::Instant::now(),
            builds: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            work,
        }
    }

    fn slot(&self, tenant: &TenantId, id: &ScenarioId) -> Arc<Slot> {
        let key = (tenant.clone(), id.clone());
        if let Some(slot) = self.slots.read().get(&key) {
            return slot.clone();
        }
        self.slots.write().entry(key).or_default().clone()
    }

    /// The current catalog snapshot of a scenario, loading it on first use.
    pub async fn get(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Arc<Catalog>> {
        let slot = self.slot(tenant, id);
        self.follow(tenant, id, &slot).await;
        // The request path: loaded and unchanged since the last build, no lock to take.
        if slot.loaded.load(Ordering::SeqCst) && !slot.dirty.load(Ordering::SeqCst) {
            return Ok(slot.snapshot.read().clone());
        }
        // On a task of its own, so a caller that gives up (a request past its deadline) cannot
        // drop a build halfway and leave the next caller to load the catalog all over again.
        let (work, source, tenant, id) = (self.work.clone(), self.source.clone(), tenant.clone(), id.clone());
        let (catalog, built) =
            to_completion(
                "building the catalog",
                async move { Self::refresh(&work, &*source, &tenant, &id, &slot).await },
            )
            .await?;
        if built {
            self.builds.fetch_add(1, Ordering::Relaxed);
        }
        Ok(catalog)
    }

    /// As [`Self::get`], but past `deadline` the snapshot already there (without the writes
    /// since) rather than wait longer for its rebuild, which goes on. For the stream jobs, which
    /// every tenant shares: one tenant's rebuilds (seconds each at a million items, queued on
    /// its blocking slots) must not hold up the other tenants' events. A scenario never loaded
    /// has no snapshot to give: that one is waited for.
    pub async fn get_by(
        &self,
        tenant: &TenantId,
        id: &ScenarioId,
        deadline: tokio::time::Instant,
    ) -> Result<Arc<Catalog>> {
        if let Ok(catalog) = tokio::time::timeout_at(deadline, self.get(tenant, id)).await {
            return catalog;
        }
        let slot = self.slot(tenant, id);
        if slot.loaded.load(Ordering::SeqCst) {
            self.stale.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("polyrec_catalog_stale_total").increment(1);
            return Ok(slot.snapshot.read().clone());
        }
        self.get(tenant, id).await
    }

    /// How many items the scenario has, and for each of `ids` whether it is among them: read
    /// from the items this process holds (loaded on first use), without building a snapshot.
    /// The item quota asks this before each write; building a snapshot for it made a bulk import
    /// of n items rebuild the catalog every 1,000 lines, quadratic in n.
    pub async fn census<'a>(
        &self,
        tenant: &TenantId,
        id: &ScenarioId,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<(u64, Vec<bool>)> {
        let slot = self.slot(tenant, id);
        self.follow(tenant, id, &slot).await;
        // Loaded on a task of its own, as a rebuild is: a load whose caller gave up (a request
        // past its deadline) is kept for the next caller rather than thrown away halfway.
        let (work, source, tenant, id) = (self.work.clone(), self.source.clone(), tenant.clone(), id.clone());
        let (items, _load_slot) =
            to_completion("loading the catalog", async move { Self::held(&work, &*source, &tenant, &id, &slot).await })
                .await?;
        let map = items.as_ref().ok_or_else(|| Error::internal("the catalog's items were not loaded"))?;
        Ok((map.len() as u64, ids.into_iter().map(|id| map.contains_key(id)).collect()))
    }

    /// Snapshots built since the process started, every scenario together.
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// Snapshots [`Self::get_by`] gave out of date since the process started.
    pub fn stale(&self) -> u64 {
        self.stale.load(Ordering::Relaxed)
    }

    /// Locks the scenario's items, loading them first when this process does not hold them (a
    /// first use, or another process wrote): then the snapshot is out of date (`dirty`). They
    /// are held (`Some`) when this returns. A load runs on one of the tenant's blocking slots
    /// (decoding a million documents from MongoDB or gRPC, then indexing them, is seconds of
    /// CPU: a tenant writing to fifty scenarios made every other process reload all fifty at
    /// once), and hands the slot back for the build that follows, so a load waits its turn
    /// once, not twice. Called on a task of its own, which holds the slot until the work ends.
    async fn held(
        work: &TenantWork,
        source: &dyn ItemSource,
        tenant: &TenantId,
        id: &ScenarioId,
        slot: &Slot,
    ) -> Result<(tokio::sync::OwnedMutexGuard<Option<Items>>, Option<OwnedSemaphorePermit>)> {
        let mut items = slot.items.clone().lock_owned().await;
        if items.is_some() {
            return Ok((items, None));
        }
        let taken = work.slot(tenant, "loading the catalog").await?;
        let loaded = source.scan_items(tenant, id).await?;
        let map = crate::blocking::blocking("indexing the catalog's items", move || {
            loaded.into_iter().map(|item| (item.item_id.to_string(), Arc::new(item))).collect()
        })
        .await?;
        *items = Some(map);
        slot.dirty.store(true, Ordering::SeqCst);
        Ok((items, Some(taken)))
    }

    /// Loads the items when they are not held, and builds the snapshot when they changed. The
    /// work proportional to the catalog (indexing the loaded items, building the snapshot: 2.6 to
    /// 2.9 s at a million items, `memory -- catalog`) runs on the tenant's blocking slots
    /// ([`TenantWork`]): on a runtime thread it stalled the requests of every tenant polled on
    /// that thread for as long, and unbounded it let one tenant take every core.
    async fn refresh(
        work: &TenantWork,
        source: &dyn ItemSource,
        tenant: &TenantId,
        id: &ScenarioId,
        slot: &Slot,
    ) -> Result<(Arc<Catalog>, bool)> {
        let (mut items, taken) = Self::held(work, source, tenant, id, slot).await?;
        // `dirty` is cleared only once the new snapshot is in: until then every reader comes
        // here and waits for it rather than take the old one. Writes set it under the lock
        // held here, so none is missed.
        if !slot.dirty.load(Ordering::SeqCst) {
            return Ok((slot.snapshot.read().clone(), false));
        }
        let map = items.take().unwrap_or_default();
        let previous = slot.snapshot.read().clone();
        // On failure the items went with the build (`None`): the next caller loads them again.
        // The slot the load took, kept for the build; or one of the tenant's, once free.
        let taken = match taken {
            Some(taken) => taken,
            None => work.slot(tenant, "building the catalog").await?,
        };
        let (map, built) = crate::blocking::blocking("building the catalog", move || {
            let _slot = taken;
            let built = Arc::new(Catalog::build_like(map.values().cloned(), &previous));
            (map, built)
        })
        .await?;
        *items = Some(map);
        let replaced = std::mem::replace(&mut *slot.snapshot.write(), built);
        slot.loaded.store(true, Ordering::SeqCst);
        slot.dirty.store(false, Ordering::SeqCst);
        // Freed off the runtime threads (and outside the lock readers take), unless a request
        // still holds it: then that request frees it.
        super::drop_off_runtime(replaced);
        Ok((slot.snapshot.read().clone(), true))
    }

    /// At most every `services.follow_ms`, compares the catalog with the shared version and,
    /// when another process has written items since, drops it so the caller reloads it.
    async fn follow(&self, tenant: &TenantId, id: &ScenarioId, slot: &Slot) {
        if self.coherence.revalidate_after().is_none() {
            return; // Every item write passes through this process.
        }
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let checked = slot.checked_ms.load(Ordering::SeqCst);
        if (checked != 0 && now.saturating_sub(checked) < self.follow_ms)
            || slot.checked_ms.compare_exchange(checked, now, Ordering::SeqCst, Ordering::SeqCst).is_err()
        {
            return;
        }
        let shared = match self.coherence.catalog_version(tenant, id).await {
            Ok(Some(version)) => version,
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(%tenant, scenario = %id, %error, "catalog version unavailable; keeping the catalog");
                return;
            }
        };
        if shared != slot.version.load(Ordering::SeqCst) {
            let mut items = slot.items.lock().await;
            *items = None;
            slot.version.store(shared, Ordering::SeqCst);
            slot.dirty.store(true, Ordering::SeqCst);
        }
    }

    /// After this process wrote items: shared, bumps the version so other processes reload;
    /// this catalog is current unless another process wrote in between.
    async fn written(coherence: &dyn Coherence, tenant: &TenantId, id: &ScenarioId, slot: &Slot) {
        match coherence.bump_catalog_version(tenant, id).await {
            Ok(Some(version)) => {
                let _ = slot.version.compare_exchange(version - 1, version, Ordering::SeqCst, Ordering::SeqCst);
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%tenant, scenario = %id, %error,
                "cannot bump the catalog version; other processes see the item change on restart"),
        }
    }

    /// Called after items were written: a loaded catalog takes them in.
    pub async fn upsert(&self, tenant: &TenantId, id: &ScenarioId, written: &[Item]) {
        let written: Vec<Arc<Item>> = written.iter().cloned().map(Arc::new).collect();
        self.change(tenant, id, move |map| {
            for item in written {
                map.insert(item.item_id.to_string(), item);
            }
        })
        .await
    }

    /// Called after an item was deleted.
    pub async fn remove(&self, tenant: &TenantId, id: &ScenarioId, item_id: &str) {
        let item_id = item_id.to_owned();
        self.change(tenant, id, move |map| {
            map.remove(&item_id);
        })
        .await
    }

    /// Applies a write to the items held, on a task of its own: the items' lock may be held by
    /// a rebuild waiting for the tenant's blocking slots, and a caller that gave up meanwhile (a
    /// request past its deadline) must not leave this process's catalog, and through the
    /// version every other process's, without a write the store has.
    async fn change(&self, tenant: &TenantId, id: &ScenarioId, change: impl FnOnce(&mut Items) + Send + 'static) {
        let (slot, coherence, tenant, id) = (self.slot(tenant, id), self.coherence.clone(), tenant.clone(), id.clone());
        let applied = to_completion("applying an item write to the catalog", async move {
            {
                let mut items = slot.items.lock().await;
                if let Some(map) = items.as_mut() {
                    change(map);
                    slot.dirty.store(true, Ordering::SeqCst);
                }
            }
            Self::written(&*coherence, &tenant, &id, &slot).await;
            Ok(())
        });
        if let Err(error) = applied.await {
            tracing::error!(%error, "applying an item write to the catalog failed");
        }
    }

    /// Called after the scenario was deleted.
    pub(crate) fn forget(&self, tenant: &TenantId, id: &ScenarioId) {
        self.slots.write().remove(&(tenant.clone(), id.clone()));
    }
}
