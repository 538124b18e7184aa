//! The caches of `App`'s components against their coherence, local and shared: a read racing a
//! write never caches the old version, and one process sees another's write.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use polyrec_core::clock::ManualClock;
use polyrec_core::{Experiment, Item, Result, Scenario, ScenarioId, TenantId};
use polyrec_storage::{MemoryRealtime, RealtimeStore};
use serde_json::json;

use super::coherence::{self, Local};
use super::{Catalogs, Scenarios};
use crate::blocking::TenantWork;
use crate::sources::{ItemSource, ScenarioSource};

/// The document store of the tests: what it holds, and (when armed) a read that waits, after
/// reading, until the test releases it.
#[derive(Default)]
struct Documents {
    scenarios: Mutex<HashMap<ScenarioId, Scenario>>,
    items: Mutex<Vec<Item>>,
    /// How many times the items were read.
    scans: AtomicUsize,
    /// Set: the next scenario read or item scan tells `read` and waits for `release`.
    stall: Mutex<bool>,
    read: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

impl Documents {
    async fn maybe_stall(&self) {
        if std::mem::take(&mut *self.stall.lock()) {
            self.read.notify_one();
            self.release.notified().await;
        }
    }
}

#[async_trait]
impl ScenarioSource for Documents {
    async fn scenario(&self, _: &TenantId, id: &ScenarioId) -> Result<Option<Scenario>> {
        let found = self.scenarios.lock().get(id).cloned();
        self.maybe_stall().await;
        Ok(found)
    }

    async fn experiments(&self, _: &TenantId, _: &ScenarioId) -> Result<Vec<Experiment>> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl ItemSource for Documents {
    async fn scan_items(&self, _: &TenantId, _: &ScenarioId) -> Result<Vec<Item>> {
        self.scans.fetch_add(1, Ordering::SeqCst);
        let items = self.items.lock().clone();
        self.maybe_stall().await;
        Ok(items)
    }
}

fn ids() -> (TenantId, ScenarioId) {
    (TenantId::parse("t").unwrap(), ScenarioId::parse("feed").unwrap())
}

fn scenario(version: u64) -> Scenario {
    serde_json::from_value(json!({
        "scenario_id": "feed", "scenario_type": "feed", "name": format!("v{version}"),
        "config": {"recall": {"strategies": [{"name": "latest", "weight": 1.0, "limit": 10}]},
                   "rank": {"model": "weighted"}},
        "status": "active", "version": version, "incarnation": 1, "created_ms": 0, "updated_ms": 0,
    }))
    .unwrap()
}

fn item(id: &str) -> Item {
    serde_json::from_value(json!({
        "item_id": id, "scenario_id": "feed", "metadata": {}, "status": "active", "created_ms": 0, "updated_ms": 0,
    }))
    .unwrap()
}

#[tokio::test]
async fn a_scenario_read_racing_a_write_never_caches_the_old_version() {
    let documents = Arc::new(Documents::default());
    let (tenant, id) = ids();
    documents.scenarios.lock().insert(id.clone(), scenario(1));
    let scenarios = Arc::new(Scenarios::new(documents.clone(), Arc::new(Local::default())));
    // A read takes version 1 from the store and stalls before it fills the cache…
    *documents.stall.lock() = true;
    let reader = tokio::spawn({
        let (scenarios, tenant, id) = (scenarios.clone(), tenant.clone(), id.clone());
        async move { scenarios.get(&tenant, &id).await.unwrap().scenario.version }
    });
    documents.read.notified().await;
    // …while version 2 is written.
    documents.scenarios.lock().insert(id.clone(), scenario(2));
    scenarios.written(&tenant, &id, Some(&scenario(2))).await.unwrap();
    documents.release.notify_one();
    assert_eq!(reader.await.unwrap(), 1, "the racing read answers what it read");
    assert_eq!(scenarios.get(&tenant, &id).await.unwrap().scenario.version, 2, "the next read sees the write");
}

#[tokio::test]
async fn one_process_sees_another_processs_scenario_write_through_the_shared_entry() {
    let realtime: Arc<dyn RealtimeStore> = Arc::new(MemoryRealtime::new(Arc::new(ManualClock::new(0))));
    let documents = Arc::new(Documents::default());
    let (tenant, id) = ids();
    documents.scenarios.lock().insert(id.clone(), scenario(1));
    let process = || Scenarios::new(documents.clone(), coherence::shared(realtime.clone(), Duration::ZERO));
    let (a, b) = (process(), process());
    assert_eq!(b.get(&tenant, &id).await.unwrap().scenario.version, 1);
    documents.scenarios.lock().insert(id.clone(), scenario(2));
    a.written(&tenant, &id, Some(&scenario(2))).await.unwrap();
    assert_eq!(b.get(&tenant, &id).await.unwrap().scenario.version, 2, "b's compiled copy was stale");
    // A delete through a is a not-found through b.
    documents.scenarios.lock().clear();
    a.written(&tenant, &id, None).await.unwrap();
    assert!(b.get(&tenant, &id).await.is_err());
}

#[tokio::test]
async fn catalogs_take_item_writes_locally_and_from_other_processes() {
    let realtime: Arc<dyn RealtimeStore> = Arc::new(MemoryRealtime::new(Arc::new(ManualClock::new(0))));
    let documents = Arc::new(Documents::default());
    let (tenant, id) = ids();
    documents.items.lock().push(item("i1"));
    let process =
        || Catalogs::new(documents.clone(), coherence::shared(realtime.clone(), Duration::ZERO), 0, TenantWork::new(1));
    let (a, b) = (process(), process());
    assert!(b.get(&tenant, &id).await.unwrap().get("i1").is_some());
    // a writes an item: a's catalog takes it at once, b's at its next check of the version.
    documents.items.lock().push(item("i2"));
    a.get(&tenant, &id).await.unwrap();
    a.upsert(&tenant, &id, &[item("i2")]).await;
    assert!(a.get(&tenant, &id).await.unwrap().get("i2").is_some());
    assert!(b.get(&tenant, &id).await.unwrap().get("i2").is_some(), "b reloaded after a bumped the version");
    // Removed in one process, gone in both.
    documents.items.lock().retain(|i| i.item_id.as_str() != "i1");
    a.remove(&tenant, &id, "i1").await;
    assert!(a.get(&tenant, &id).await.unwrap().get("i1").is_none());
    assert!(b.get(&tenant, &id).await.unwrap().get("i1").is_none());
}

/// A catalog of `n` items, loaded once into `Catalogs` and then written to, so the next read
/// rebuilds it.
async fn written_catalog(n: usize) -> (Arc<Documents>, Arc<Catalogs>) {
    written_catalog_on(n, TenantWork::new(1)).await
}

/// [`written_catalog`], building on the blocking slots of `work`.
async fn written_catalog_on(n: usize, work: TenantWork) -> (Arc<Documents>, Arc<Catalogs>) {
    let documents = Arc::new(Documents::default());
    let (tenant, id) = ids();
    documents.items.lock().extend((0..n).map(|i| item(&format!("i{i}"))));
    let catalogs = Arc::new(Catalogs::new(documents.clone(), Arc::new(Local::default()), 0, work));
    assert_eq!(catalogs.get(&tenant, &id).await.unwrap().len(), n);
    catalogs.upsert(&tenant, &id, &[item("new")]).await;
    (documents, catalogs)
}

/// One runtime thread (as each of a 2-core server's two is): while a tenant's large catalog is
/// rebuilt after a write, the thread goes on polling other tasks (other tenants' requests).
#[tokio::test(flavor = "current_thread")]
async fn a_catalog_rebuild_leaves_the_runtime_thread_to_other_tasks() {
    let (_documents, catalogs) = written_catalog(50_000).await;
    let (tenant, id) = ids();
    let done = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn({
        let (catalogs, done) = (catalogs.clone(), done.clone());
        async move {
            let catalog = catalogs.get(&tenant, &id).await.unwrap();
            done.store(true, Ordering::SeqCst);
            catalog
        }
    });
    let mut polled_meanwhile = 0;
    while !done.load(Ordering::SeqCst) {
        polled_meanwhile += 1;
        tokio::task::yield_now().await;
    }
    assert!(reader.await.unwrap().get("new").is_some());
    // Built on the runtime thread, the other task is polled about twice: before the build
    // starts and after it ends.
    assert!(polled_meanwhile > 100, "another task was polled only {polled_meanwhile} times during the build");
}

/// A written catalog of 1,000 items whose rebuild a reader asked for and which waits for the
/// tenant's only blocking slot, held by the test until it drops `release` (the slot's permit).
struct StalledRebuild {
    documents: Arc<Documents>,
    catalogs: Arc<Catalogs>,
    release: tokio::sync::OwnedSemaphorePermit,
    reader: tokio::task::JoinHandle<Result<Arc<polyrec_engine::Catalog>>>,
}

async fn stalled_rebuild() -> StalledRebuild {
    let work = TenantWork::new(1);
    let (documents, catalogs) = written_catalog_on(1_000, work.clone()).await;
    let release = work.slot(&ids().0, "held by the test").await.unwrap();
    // The rebuild takes the items' lock, then waits for the slot.
    let reader = reader_waiting_for_the_slot(&catalogs, &work).await;
    StalledRebuild { documents, catalogs, release, reader }
}

/// Asks for the catalog of [`ids`] and returns the reader once its work waits for the tenant's
/// slot (held by the test).
async fn reader_waiting_for_the_slot(
    catalogs: &Arc<Catalogs>,
    work: &TenantWork,
) -> tokio::task::JoinHandle<Result<Arc<polyrec_engine::Catalog>>> {
    let reader = tokio::spawn({
        let (catalogs, (tenant, id)) = (catalogs.clone(), ids());
        async move { catalogs.get(&tenant, &id).await }
    });
    while work.waits() == 0 {
        tokio::task::yield_now().await;
    }
    assert!(!reader.is_finished(), "the reader's work waits for the slot");
    reader
}

/// A caller that gives up while the catalog is being built (a request past its deadline) does
/// not throw the build away: the next caller finds it done, and the items are not read again.
#[tokio::test(flavor = "current_thread")]
async fn a_caller_giving_up_during_a_rebuild_does_not_lose_it() {
    // The build cannot start before the caller has given up: it waits for the held slot.
    let StalledRebuild { documents, catalogs, release, reader } = stalled_rebuild().await;
    let (tenant, id) = ids();
    reader.abort();
    assert!(reader.await.unwrap_err().is_cancelled());
    drop(release);
    assert!(catalogs.get(&tenant, &id).await.unwrap().get("new").is_some());
    assert_eq!(documents.scans.load(Ordering::SeqCst), 1, "the items were read again");
}

/// A tenant's rebuilds run on its own blocking slots: while they are taken its catalog waits,
/// and another tenant's is built meanwhile.
#[tokio::test(flavor = "current_thread")]
async fn a_tenants_rebuild_waits_for_its_own_slot_and_not_for_another_tenants() {
    let StalledRebuild { catalogs, release, reader, .. } = stalled_rebuild().await;
    let (other, id) = (TenantId::parse("other").unwrap(), ids().1);
    // (The bound only fails a version where it waits: it would wait for good.)
    let other_catalog = tokio::time::timeout(Duration::from_secs(60), catalogs.get(&other, &id))
        .await
        .expect("another tenant's build waited for the first tenant's slot");
    assert_eq!(other_catalog.unwrap().len(), 1_000, "built while the first tenant's waits");
    assert!(!reader.is_finished(), "the tenant's build waits for its slot");
    drop(release);
    assert!(reader.await.unwrap().unwrap().get("new").is_some());
}

/// An item write whose caller gives up while a rebuild holds the items (waiting for the
/// tenant's slot) is still applied: the store has it, so the catalog must too.
#[tokio::test(flavor = "current_thread")]
async fn an_item_write_whose_caller_gives_up_behind_a_rebuild_is_still_applied() {
    let StalledRebuild { catalogs, release, reader, .. } = stalled_rebuild().await;
    let (tenant, id) = ids();
    let writer = tokio::spawn({
        let (catalogs, tenant, id) = (catalogs.clone(), tenant.clone(), id.clone());
        async move { catalogs.upsert(&tenant, &id, &[item("late")]).await }
    });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!writer.is_finished(), "the write waits for the rebuild's lock");
    writer.abort();
    assert!(writer.await.unwrap_err().is_cancelled());
    drop(release);
    reader.await.unwrap().unwrap();
    let catalog = catalogs.get(&tenant, &id).await.unwrap();
    assert!(catalog.get("late").is_some(), "the write was lost with its caller");
    assert!(catalog.get("new").is_some());
}

/// The item quota's count of a catalog not loaded yet keeps the load when its caller gives up
/// during it (an item write past its deadline): the next count does not read the items again.
#[tokio::test(flavor = "current_thread")]
async fn a_count_whose_caller_gives_up_during_the_load_keeps_it() {
    let documents = Arc::new(Documents::default());
    let (tenant, id) = ids();
    documents.items.lock().extend((0..10).map(|i| item(&format!("i{i}"))));
    *documents.stall.lock() = true;
    let catalogs = Arc::new(Catalogs::new(documents.clone(), Arc::new(Local::default()), 0, TenantWork::new(1)));
    let counting = tokio::spawn({
        let (catalogs, tenant, id) = (catalogs.clone(), tenant.clone(), id.clone());
        async move { catalogs.census(&tenant, &id, []).await.map(|(count, _)| count) }
    });
    documents.read.notified().await;
    counting.abort();
    assert!(counting.await.unwrap_err().is_cancelled());
    documents.release.notify_one();
    assert_eq!(catalogs.census(&tenant, &id, ["i3"]).await.unwrap(), (10, vec![true]));
    assert_eq!(documents.scans.load(Ordering::SeqCst), 1, "the items were read again");
}

/// A catalog's first load (the scan's decoding, the indexing) runs on one of the tenant's
/// blocking slots, which it keeps for the build that follows: while the slots are taken the
/// items are not even read, another tenant's catalog loads meanwhile, and the load waits its
/// turn once, not once more for the build.
#[tokio::test(flavor = "current_thread")]
async fn a_catalogs_load_waits_for_its_tenants_slot_once_and_not_for_another_tenants() {
    let documents = Arc::new(Documents::default());
    documents.items.lock().extend((0..100).map(|i| item(&format!("i{i}"))));
    let work = TenantWork::new(1);
    let catalogs = Arc::new(Catalogs::new(documents.clone(), Arc::new(Local::default()), 0, work.clone()));
    let (tenant, id) = ids();
    let release = work.slot(&tenant, "held by the test").await.unwrap();
    let reader = reader_waiting_for_the_slot(&catalogs, &work).await;
    assert_eq!(documents.scans.load(Ordering::SeqCst), 0, "the items were read while the tenant's slot was taken");
    let other = TenantId::parse("other").unwrap();
    // (The bound only fails a version where it waits: it would wait for good.)
    let other_catalog = tokio::time::timeout(Duration::from_secs(60), catalogs.get(&other, &id))
        .await
        .expect("another tenant's load waited for the first tenant's slot");
    assert_eq!(other_catalog.unwrap().len(), 100);
    assert!(!reader.is_finished());
    drop(release);
    assert_eq!(reader.await.unwrap().unwrap().len(), 100);
    assert_eq!(work.waits(), 1, "the build waited for the slot again after the load");
}

/// A stream job (every tenant's) does not wait past its deadline for one tenant's rebuild
/// queued behind its slots: it gets the snapshot there is, and the rebuild goes on.
#[tokio::test(flavor = "current_thread")]
async fn a_catalog_asked_by_a_deadline_is_the_old_snapshot_past_it() {
    let work = TenantWork::new(1);
    let (_documents, catalogs) = written_catalog_on(1_000, work.clone()).await;
    let (tenant, id) = ids();
    let release = work.slot(&tenant, "held by the test").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
    // (The bound only fails a version that waits for the slot: it would wait for good.)
    let old = tokio::time::timeout(Duration::from_secs(60), catalogs.get_by(&tenant, &id, deadline))
        .await
        .expect("waited for the tenant's rebuild past the deadline")
        .unwrap();
    assert_eq!(old.len(), 1_000);
    assert!(old.get("new").is_none(), "the snapshot from before the write");
    assert_eq!(catalogs.stale(), 1);
    drop(release);
    assert!(catalogs.get(&tenant, &id).await.unwrap().get("new").is_some());
}

/// The indexes a scenario's requests asked of one snapshot are built with the next (on the
/// blocking pool), not by the first request after the item write.
#[tokio::test]
async fn a_rebuilt_catalog_comes_with_the_indexes_the_scenario_reads() {
    let (_documents, catalogs) = written_catalog(10).await;
    let (tenant, id) = ids();
    let catalog = catalogs.get(&tenant, &id).await.unwrap();
    assert_eq!(catalog.indexes_built_on_ask(), 0);
    catalog.by_field("region");
    catalogs.upsert(&tenant, &id, &[item("newer")]).await;
    let rebuilt = catalogs.get(&tenant, &id).await.unwrap();
    assert!(rebuilt.get("newer").is_some());
    assert_eq!(rebuilt.indexes_built_on_ask(), 1, "the field index came built with the snapshot");
}

/// The item quota's count reads the items held, without building a snapshot: a bulk import
/// asks before every batch of 1,000 lines.
#[tokio::test]
async fn counting_a_catalogs_items_builds_no_snapshot() {
    let (_documents, catalogs) = written_catalog(10).await;
    let (tenant, id) = ids();
    let built = catalogs.builds();
    assert_eq!(built, 1, "the first load");
    let (count, held) = catalogs.census(&tenant, &id, ["i3", "new", "nope"]).await.unwrap();
    assert_eq!(count, 11);
    assert_eq!(held, [true, true, false], "i3 and new are held, nope is not");
    catalogs.upsert(&tenant, &id, &[item("newer")]).await;
    assert_eq!(catalogs.census(&tenant, &id, []).await.unwrap().0, 12);
    assert_eq!(catalogs.builds(), built, "counted without a build");
    assert!(catalogs.get(&tenant, &id).await.unwrap().get("newer").is_some());
    assert_eq!(catalogs.builds(), built + 1, "the next read builds once");
}

/// A replaced snapshot is freed on the blocking pool, not on the runtime thread that replaced
/// it (the only one of this runtime).
#[tokio::test(flavor = "current_thread")]
async fn a_replaced_snapshot_is_freed_off_the_runtime_thread() {
    struct Freed(std::sync::mpsc::Sender<std::thread::ThreadId>);
    impl Drop for Freed {
        fn drop(&mut self) {
            self.0.send(std::thread::current().id()).unwrap();
        }
    }
    let (sender, freed_on) = std::sync::mpsc::channel();
    super::drop_off_runtime(Freed(sender));
    let thread = tokio::task::spawn_blocking(move || freed_on.recv().unwrap()).await.unwrap();
    assert_ne!(thread, std::thread::current().id());
    // Without a runtime, it is freed where it is dropped.
    let (sender, freed_on) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        super::drop_off_runtime(Freed(sender));
        assert_eq!(freed_on.recv().unwrap(), std::thread::current().id());
    })
    .join()
    .unwrap();
}
