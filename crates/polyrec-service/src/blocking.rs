//! Work proportional to a tenant's data, run on tokio's blocking pool.
//!
//! A runtime thread busy for seconds holds up every task polled on it, whichever tenant's, so
//! catalog and index builds, model coding, the grouping of warehouse rows and the fits run on
//! the blocking pool ([`blocking`]). That pool is shared as well (up to 512 threads, on as many
//! cores as the machine has): the catalog and index builds one tenant's item writes and
//! requests cause go through [`TenantWork::run`], which holds one of that tenant's
//! `limits.max_blocking_tasks_per_tenant` slots (per process) while it runs. A tenant writing
//! items to fifty scenarios at once then rebuilds that many catalogs at a time, not fifty, and
//! the other tenants keep the remaining cores. The rest calls [`blocking`] directly: the
//! training jobs' work is bounded by `limits.max_concurrent_trainings`, and model coding runs
//! inside a training job or a model activation (one at a time per scenario).

use std::sync::Arc;

use polyrec_core::{Error, Result, TenantId};
use tokio::sync::Semaphore;

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

/// Each tenant's slots on the blocking pool (see the module's documentation).
#[derive(Clone)]
pub struct TenantWork {
    per_tenant: usize,
    slots: moka::sync::Cache<TenantId, Arc<Semaphore>>,
    /// Works that found their tenant's slots taken, every tenant together.
    waits: Arc<std::sync::atomic::AtomicU64>,
}

impl TenantWork {
    /// `per_tenant` slots for each tenant (at least one).
    pub fn new(per_tenant: usize) -> Self {
        let slots = moka::sync::Cache::builder().max_capacity(crate::tenancy::MAX_TENANTS_KEPT as u64).build();
        Self { per_tenant: per_tenant.max(1), slots, waits: Arc::default() }
    }

    fn slots(&self, tenant: &TenantId) -> Arc<Semaphore> {
        self.slots.get_with_by_ref(tenant, || Arc::new(Semaphore::new(self.per_tenant)))
    }

    /// Runs `work` on the blocking pool once one of `tenant`'s slots is free, and holds the slot
    /// until `work` ends, even if the caller stops waiting for it: the core is taken until then.
    pub async fn run<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        what: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let slots = self.slots(tenant);
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                metrics::counter!("polyrec_tenant_blocking_waits_total").increment(1);
                self.waits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                slots.acquire_owned().await.map_err(|e| Error::internal(format!("{what}: {e}")))?
            }
        };
        blocking(what, move || {
            let _slot = slot;
            work()
        })
        .await
    }

    /// How many works found their tenant's slots taken (and waited), every tenant together.
    pub fn waits(&self) -> u64 {
        self.waits.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many of `tenant`'s slots are taken now.
    pub fn running(&self, tenant: &TenantId) -> usize {
        self.slots.get(tenant).map_or(0, |slots| self.per_tenant - slots.available_permits())
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
        while work.running(&tenant("heavy")) == 0 {
            tokio::task::yield_now().await;
        }
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
        while work.running(&tenant("acme")) == 0 {
            tokio::task::yield_now().await;
        }
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        assert_eq!(work.running(&tenant("acme")), 1, "the work still runs, so the slot stays taken");
        drop(release);
        // The slot comes back when the work returns.
        assert_eq!(work.run(&tenant("acme"), "work", || 1).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_panic_is_an_internal_error_naming_the_work() {
        let error = blocking("building the catalog", || panic!("boom")).await.unwrap_err();
        assert!(error.to_string().contains("building the catalog"), "{error}");
    }
}
