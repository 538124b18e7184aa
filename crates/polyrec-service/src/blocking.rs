//! Work proportional to a tenant's data, run on tokio's blocking pool.
//!
//! A runtime thread busy for seconds holds up every task polled on it, whichever tenant's, so
//! catalog and index builds, model coding, the grouping of warehouse rows and the fits run on
//! the blocking pool ([`blocking`]). That pool is shared as well (up to 512 threads, on as many
//! cores as the machine has): the catalog and index builds one tenant's item writes and
//! requests cause go through [`TenantWork::run`], which holds one of that tenant's
//! `limits.max_blocking_tasks_per_tenant` slots (per process) while it runs. A tenant writing
//! items to fifty scenarios at once then rebuilds that many catalogs at a time, not fifty, and
//! the other tenants keep the remaining cores. Loading a model version to serve it (decoding
//! the artifact, indexing its item vectors) and rebuilding a scenario's CF neighbours are
//! charged where they are caused ([`Bound`]): an API call or a request following another
//! process's activation takes the tenant's slots; a training job and the schedule loop, bounded
//! already (`limits.max_concurrent_trainings`; one scenario at a time), call [`blocking`]
//! directly and do not queue behind one tenant's catalog builds.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use polyrec_core::{Error, Result, TenantId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Runs `work` on the blocking pool; `what` names it in the error if it panics.
pub async fn blocking<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::internal(format!("{what}: {e}")))
}

/// Runs `work` on a task of its own and waits for it: a caller that gives up (a request past
/// its deadline) does not drop it halfway, so what it had done is not lost for the next caller.
pub async fn to_completion<T: Send + 'static>(
    what: &str,
    work: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(work).await.map_err(|e| Error::internal(format!("{what}: {e}")))?
}

/// A semaphore of `per_tenant` permits for each tenant, made on first use. Only the tenants
/// whose permits are taken or waited for hold their semaphore (the holders and waiters own it):
/// one nobody holds is all free, as a new one is, so it goes. A cache that evicted by count
/// could drop a semaphore in use and hand its tenant a second set.
#[derive(Clone)]
pub struct TenantSemaphores {
    per_tenant: usize,
    slots: Arc<Mutex<Held>>,
}

impl TenantSemaphores {
    /// `per_tenant` permits for each tenant (at least one).
    pub fn new(per_tenant: usize) -> Self {
        Self { per_tenant: per_tenant.max(1), slots: Arc::default() }
    }

    /// The tenant's semaphore: the one in use, or a new one (all free).
    fn of(&self, tenant: &TenantId) -> Arc<Semaphore> {
        let mut held = self.slots.lock();
        if let Some(semaphore) = held.semaphores.get(tenant).and_then(Weak::upgrade) {
            return semaphore;
        }
        if held.semaphores.len() >= held.prune_at {
            held.semaphores.retain(|_, semaphore| semaphore.strong_count() > 0);
            held.prune_at = (held.semaphores.len() * 2).max(64);
        }
        let semaphore = Arc::new(Semaphore::new(self.per_tenant));
        held.semaphores.insert(tenant.clone(), Arc::downgrade(&semaphore));
        semaphore
    }

    /// Waits for one of `tenant`'s permits; it is taken until dropped. With one permit per
    /// tenant, a lock per tenant: what `App::checked_writes` holds across a check and the write
    /// it allows, so writes at once cannot all pass one check.
    pub async fn acquire(&self, tenant: &TenantId) -> OwnedSemaphorePermit {
        self.of(tenant).acquire_owned().await.expect("the semaphore is never closed")
    }

    /// [`Self::acquire`] when `needed` (a quota is set), else nothing to wait for.
    pub async fn acquire_if(&self, needed: bool, tenant: &TenantId) -> Option<OwnedSemaphorePermit> {
        match needed {
            true => Some(self.acquire(tenant).await),
            false => None,
        }
    }

    /// How many of `tenant`'s permits are taken now.
    fn taken(&self, tenant: &TenantId) -> usize {
        let semaphore = self.slots.lock().semaphores.get(tenant).and_then(Weak::upgrade);
        semaphore.map_or(0, |permits| self.per_tenant - permits.available_permits())
    }

    /// How many tenants' semaphores the map holds, the free ones not yet cleared out included.
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.slots.lock().semaphores.len()
    }
}

/// Each tenant's slots on the blocking pool (see the module's documentation).
#[derive(Clone)]
pub struct TenantWork {
    slots: TenantSemaphores,
    /// Works that found their tenant's slots taken, every tenant together.
    waits: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Default)]
struct Held {
    semaphores: HashMap<TenantId, Weak<Semaphore>>,
    /// The map's size at which the dropped ones are cleared out next (twice the live ones then,
    /// so clearing is amortised over as many insertions as it scans).
    prune_at: usize,
}

impl TenantWork {
    /// `per_tenant` slots for each tenant (at least one).
    pub fn new(per_tenant: usize) -> Self {
        Self { slots: TenantSemaphores::new(per_tenant), waits: Arc::default() }
    }

    /// Waits for one of `tenant`'s slots, counting the wait when they are all taken. The slot
    /// is taken until the permit is dropped: a caller holds it in a task of its own (as
    /// [`Self::run_async`] does), so that a caller giving up does not free it while the work
    /// goes on.
    pub async fn slot(&self, tenant: &TenantId, what: &str) -> Result<OwnedSemaphorePermit> {
        let slots = self.slots.of(tenant);
        match slots.clone().try_acquire_owned() {
            Ok(slot) => Ok(slot),
            Err(_) => {
                metrics::counter!("polyrec_tenant_blocking_waits_total").increment(1);
                self.waits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                slots.acquire_owned().await.map_err(|e| Error::internal(format!("{what}: {e}")))
            }
        }
    }

    /// Runs `work` on the blocking pool once one of `tenant`'s slots is free, and holds the slot
    /// until `work` ends, even if the caller stops waiting for it: the core is taken until then.
    pub async fn run<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        what: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let slot = self.slot(tenant, what).await?;
        blocking(what, move || {
            let _slot = slot;
            work()
        })
        .await
    }

    /// As [`Self::run`], for work that reaches the blocking pool through another crate's calls
    /// (a vector store indexing a collection): it runs on a task of its own once one of
    /// `tenant`'s slots is free, and holds the slot until it ends.
    pub async fn run_async<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        what: &str,
        work: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let slot = self.slot(tenant, what).await?;
        to_completion(what, async move {
            let _slot = slot;
            work.await
        })
        .await
    }

    /// How many works found their tenant's slots taken (and waited), every tenant together.
    pub fn waits(&self) -> u64 {
        self.waits.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many of `tenant`'s slots are taken now.
    pub fn running(&self, tenant: &TenantId) -> usize {
        self.slots.taken(tenant)
    }
}

/// Whose bound the CPU work of loading a model version, or of rebuilding CF neighbours, counts
/// against (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The tenant's slots: the work an API call or a request causes (an activation, a rollback,
    /// a config change, following what another process activated or trained).
    Tenant,
    /// The caller's own: a training job (the process's training slots) or the schedule loop
    /// (one scenario at a time, every tenant's in turn).
    Caller,
}

impl Bound {
    /// Runs `work` on the blocking pool, on `tenant`'s slots when they bound it.
    pub async fn blocking<T: Send + 'static>(
        self,
        slots: &TenantWork,
        tenant: &TenantId,
        what: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        match self {
            Bound::Tenant => slots.run(tenant, what, work).await,
            Bound::Caller => blocking(what, work).await,
        }
    }

    /// Awaits `work`, which reaches the blocking pool through another crate's calls, holding one
    /// of `tenant`'s slots when they bound it ([`TenantWork::run_async`]).
    pub async fn run_async<T: Send + 'static>(
        self,
        slots: &TenantWork,
        tenant: &TenantId,
        what: &str,
        work: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        match self {
            Bound::Tenant => slots.run_async(tenant, what, work).await,
            Bound::Caller => work.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).unwrap()
    }

    /// Work that runs until its sender is dropped: by the test, or by its panic (work held
    /// for good would keep the runtime from shutting down).
    fn held() -> (std::sync::mpsc::Sender<()>, impl FnOnce() + Send + 'static) {
        let (release, released) = std::sync::mpsc::channel::<()>();
        (release, move || {
            let _ = released.recv();
        })
    }

    /// Waits until one of `name`'s slots is taken.
    async fn until_taken(work: &TenantWork, name: &str) {
        while work.running(&tenant(name)) == 0 {
            tokio::task::yield_now().await;
        }
    }

    /// Starts acme's next work and returns it once it waits for acme's slot.
    async fn next_in_line(work: &TenantWork) -> tokio::task::JoinHandle<Result<i32>> {
        let waits = work.waits();
        let next = {
            let work = work.clone();
            tokio::spawn(async move { work.run_async(&tenant("acme"), "next", async { Ok(1) }).await })
        };
        while work.waits() == waits {
            tokio::task::yield_now().await;
        }
        assert!(!next.is_finished(), "acme's next work waits for its slot");
        next
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tenant_runs_at_most_its_slots_at_once_and_others_are_not_held_up() {
        let work = TenantWork::new(1);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (mut releases, mut heavy) = (Vec::new(), Vec::new());
        for _ in 0..4 {
            let (release, wait) = held();
            releases.push(release);
            let (work, running, most) = (work.clone(), running.clone(), most.clone());
            heavy.push(tokio::spawn(async move {
                work.run(&tenant("heavy"), "heavy work", move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    wait();
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        until_taken(&work, "heavy").await;
        // Three of the heavy tenant's tasks wait for its one slot; another tenant's runs now.
        // (The bound only fails a version where it waits: it would wait for good.)
        let light_tenant = tenant("light");
        let light = tokio::time::timeout(Duration::from_secs(60), work.run(&light_tenant, "light work", || 7));
        assert_eq!(light.await.expect("another tenant's work waited for the heavy tenant's").unwrap(), 7);
        assert_eq!(work.running(&tenant("heavy")), 1);
        drop(releases);
        for task in heavy {
            task.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "one slot: never two of the tenant's tasks at once");
        assert_eq!(work.running(&tenant("heavy")), 0);
    }

    #[tokio::test]
    async fn a_slot_is_held_until_the_work_ends_though_its_caller_gave_up() {
        let work = TenantWork::new(1);
        let (release, wait) = held();
        let caller = {
            let work = work.clone();
            tokio::spawn(async move { work.run(&tenant("acme"), "work", wait).await })
        };
        until_taken(&work, "acme").await;
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        assert_eq!(work.running(&tenant("acme")), 1, "the work still runs, so the slot stays taken");
        drop(release);
        // The slot comes back when the work returns.
        assert_eq!(work.run(&tenant("acme"), "work", || 1).await.unwrap(), 1);
    }

    /// Work reaching the blocking pool through another crate (a vector store's index build)
    /// holds its slot until it ends as well, and a caller of another tenant does not wait.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_async_work_holds_its_slot_until_it_ends_though_its_caller_gave_up() {
        let work = TenantWork::new(1);
        let (release, wait) = held();
        let caller = {
            let work = work.clone();
            tokio::spawn(async move { work.run_async(&tenant("acme"), "indexing", blocking("indexing", wait)).await })
        };
        until_taken(&work, "acme").await;
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        assert_eq!(work.running(&tenant("acme")), 1, "the work still runs, so the slot stays taken");
        let other_tenant = tenant("other");
        let other = work.run_async(&other_tenant, "indexing", async { Ok(2) });
        let other = tokio::time::timeout(Duration::from_secs(60), other).await.expect("another tenant waited");
        assert_eq!(other.unwrap(), 2);
        let next = next_in_line(&work).await;
        drop(release);
        assert_eq!(next.await.unwrap().unwrap(), 1, "the slot comes back when the work ends");
    }

    /// A tenant's semaphore stays while its slots are taken, however many other tenants come
    /// and go, and the others' are cleared out once free.
    #[tokio::test]
    async fn a_tenant_in_use_keeps_its_slots_among_many_others() {
        let work = TenantWork::new(1);
        let release = work.slot(&tenant("acme"), "held").await.unwrap();
        for n in 0..10_000 {
            work.run(&tenant(&format!("t{n}")), "quick", || ()).await.unwrap();
        }
        assert!(work.slots.kept() < 1_000, "the free ones were cleared out");
        assert_eq!(work.running(&tenant("acme")), 1, "acme's slot is still taken");
        let next = next_in_line(&work).await;
        drop(release);
        assert_eq!(next.await.unwrap().unwrap(), 1);
    }

    /// A bound of the caller's own runs the work without taking the tenant's slots.
    #[tokio::test]
    async fn work_under_the_callers_bound_does_not_take_the_tenants_slots() {
        let work = TenantWork::new(1);
        let acme = tenant("acme");
        let release = work.slot(&acme, "held").await.unwrap();
        let decoded = Bound::Caller.blocking(&work, &acme, "decoding", || 3);
        let decoded = tokio::time::timeout(Duration::from_secs(60), decoded).await.expect("it waited for the slot");
        assert_eq!(decoded.unwrap(), 3);
        assert_eq!(work.waits(), 0);
        drop(release);
    }

    #[tokio::test]
    async fn a_panic_is_an_internal_error_naming_the_work() {
        let error = blocking("building the catalog", || panic!("boom")).await.unwrap_err();
        assert!(error.to_string().contains("building the catalog"), "{error}");
    }
}
