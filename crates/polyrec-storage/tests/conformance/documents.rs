//! The document store: scenarios, items and user profiles.

use polyrec_core::Code;
use polyrec_core::ModelKind;
use std::sync::Arc;

use polyrec_core::profile::UserProfile;
use polyrec_core::{Error, EventType, ItemId, ItemStatus, JobRecord, JobState, ModelRecord, ModelStatus};
use polyrec_storage::{DocumentStore, ItemFilter, SCENARIO_VERSIONS_KEPT, Upserted};

use crate::support::*;

/// A store and what keeps it alive (a temporary directory for SQLite).
struct Backend {
    store: Arc<dyn DocumentStore>,
    _guard: Option<tempfile::TempDir>,
}

fn embedded() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let store = polyrec_storage::SqliteDocuments::open(&dir.path().join("documents.db")).unwrap();
    Some(Backend { store: Arc::new(store), _guard: Some(dir) })
}

#[cfg(feature = "mongodb")]
async fn mongo() -> Option<Backend> {
    let url = server("POLYREC_TEST_MONGO_URL")?;
    let store =
        polyrec_storage::production::mongo::MongoDocuments::connect(&url, &unique("conformance")).await.unwrap();
    Some(Backend { store: Arc::new(store), _guard: None })
}

macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod embedded_documents {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(backend) = super::embedded() {
                        super::$test(backend.store.as_ref()).await;
                    }
                }
            )*
        }
        #[cfg(feature = "mongodb")]
        mod mongo_documents {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(backend) = super::mongo().await {
                        super::$test(backend.store.as_ref()).await;
                    }
                }
            )*
        }
    };
}

suite!(
    scenarios_insert_get_list_replace_delete,
    items_upsert_keeps_created_time_and_reports_created_or_updated,
    items_list_filters_and_pages_by_item_id,
    profiles_round_trip,
    a_document_the_store_cannot_hold_fails_as_data_not_as_the_store,
    tenants_never_see_each_other,
    scans_read_every_item_of_a_large_scenario,
    model_versions_register_list_and_replace,
    jobs_list_newest_first_and_stale_ones_are_found,
    jobs_are_swapped_only_from_the_revision_they_hold,
    unfinished_jobs_are_counted_per_tenant,
    experiments_insert_list_replace_with_versions_and_delete,
    scenario_history_keeps_every_version_of_one_tenant_and_goes_with_the_scenario,
    scenario_history_keeps_the_newest_hundred_versions,
    dead_letters_are_kept_per_tenant_paged_deleted_and_trimmed,
);

#[cfg(feature = "mongodb")]
#[tokio::test]
async fn mongo_has_exactly_the_indexes_of_the_specification() {
    use mongodb::bson::doc;
    let Some(url) = server("POLYREC_TEST_MONGO_URL") else { return };
    let store = polyrec_storage::production::mongo::MongoDocuments::connect(&url, &unique("indexes")).await.unwrap();
    let mut indexes = Vec::new();
    for collection in [
        "scenarios",
        "scenario_versions",
        "items",
        "user_profiles",
        "model_configs",
        "training_jobs",
        "experiments",
        "dead_letters",
    ] {
        for (name, keys, unique) in store.index_keys(collection).await.unwrap() {
            if name != "_id_" {
                indexes.push((collection, keys, unique));
            }
        }
    }
    assert_eq!(
        indexes,
        [
            ("scenarios", doc! { "tenant_id": 1, "scenario_id": 1 }, true),
            ("scenario_versions", doc! { "tenant_id": 1, "scenario_id": 1, "version": 1 }, true),
            ("items", doc! { "tenant_id": 1, "scenario_id": 1, "item_id": 1 }, true),
            ("items", doc! { "metadata.category": 1 }, false),
            ("user_profiles", doc! { "tenant_id": 1, "user_id": 1, "scenario_id": 1 }, true),
            ("model_configs", doc! { "tenant_id": 1, "scenario_id": 1, "model_name": 1, "sequence": 1 }, true),
            ("training_jobs", doc! { "tenant_id": 1, "job_id": 1 }, true),
            ("experiments", doc! { "tenant_id": 1, "scenario_id": 1, "experiment_id": 1 }, true),
            ("dead_letters", doc! { "tenant_id": 1, "id": 1 }, true),
        ]
    );
}

async fn scenario_history_keeps_every_version_of_one_tenant_and_goes_with_the_scenario(store: &dyn DocumentStore) {
    let (t, other) = (tenant(&unique("t")), tenant(&unique("o")));
    let first = scenario("feed");
    store.insert_scenario(&t, &first).await.unwrap();
    store.insert_scenario(&other, &first).await.unwrap();
    let mut second = first.clone();
    second.name = "second".into();
    second.version = 2;
    store.replace_scenario(&t, &second, 1).await.unwrap();
    // A refused replace leaves no history behind.
    let mut stale = first.clone();
    stale.version = 3;
    store.replace_scenario(&t, &stale, 1).await.unwrap_err();
    let history = store.scenario_history(&t, &first.scenario_id, 100).await.unwrap();
    assert_eq!(history, [second.clone(), first.clone()], "newest first, exact");
    let newest = store.scenario_history(&t, &first.scenario_id, 1).await.unwrap();
    assert_eq!(newest, std::slice::from_ref(&second), "the newest `limit`");
    assert_eq!(
        store.scenario_history(&other, &first.scenario_id, 100).await.unwrap(),
        std::slice::from_ref(&first),
        "per tenant"
    );
    assert!(store.scenario_history(&t, &scenario_id("nope"), 100).await.unwrap().is_empty());
    store.delete_scenario(&t, &first.scenario_id).await.unwrap();
    assert!(store.scenario_history(&t, &first.scenario_id, 100).await.unwrap().is_empty(), "gone with the scenario");
    store.insert_scenario(&t, &first).await.unwrap();
    assert_eq!(
        store.scenario_history(&t, &first.scenario_id, 100).await.unwrap(),
        [first],
        "a new scenario starts over"
    );
}

async fn scenario_history_keeps_the_newest_hundred_versions(store: &dyn DocumentStore) {
    let (t, other) = (tenant(&unique("t")), tenant(&unique("o")));
    let mut current = scenario("feed");
    store.insert_scenario(&t, &current).await.unwrap();
    store.insert_scenario(&other, &current).await.unwrap();
    for version in 2..=105 {
        let mut next = current.clone();
        next.version = version;
        store.replace_scenario(&t, &next, current.version).await.unwrap();
        current = next;
    }
    let history = store.scenario_history(&t, &current.scenario_id, 1_000).await.unwrap();
    let versions: Vec<u64> = history.iter().map(|s| s.version).collect();
    assert_eq!(versions, (6..=105).rev().collect::<Vec<u64>>(), "the newest {SCENARIO_VERSIONS_KEPT}, no more");
    assert_eq!(store.scenario_history(&other, &current.scenario_id, 1_000).await.unwrap().len(), 1, "per tenant");
}

async fn scenarios_insert_get_list_replace_delete(store: &dyn DocumentStore) {
    let t = tenant(&unique("t"));
    let (a, b) = (scenario("feed_b"), scenario("feed_a"));
    store.insert_scenario(&t, &a).await.unwrap();
    store.insert_scenario(&t, &b).await.unwrap();
    let again = store.insert_scenario(&t, &a).await.unwrap_err();
    assert!(matches!(again, Error::Conflict { code: Code::ScenarioExists, .. }), "{again:?}");

    assert_eq!(store.get_scenario(&t, &a.scenario_id).await.unwrap(), Some(a.clone()), "round trip is exact");
    assert_eq!(store.get_scenario(&t, &scenario_id("nope")).await.unwrap(), None);
    let listed: Vec<_> = store.list_scenarios(&t).await.unwrap().into_iter().map(|s| s.scenario_id).collect();
    assert_eq!(listed, [b.scenario_id.clone(), a.scenario_id.clone()], "ordered by id");

    let mut changed = a.clone();
    changed.name = "renamed".into();
    changed.version = 2;
    store.replace_scenario(&t, &changed, 1).await.unwrap();
    let stale = store.replace_scenario(&t, &changed, 1).await.unwrap_err();
    assert!(matches!(stale, Error::Conflict { code: Code::VersionConflict, .. }), "{stale:?}");
    assert_eq!(store.get_scenario(&t, &a.scenario_id).await.unwrap().unwrap().name, "renamed");

    let all = store.all_scenarios().await.unwrap();
    assert_eq!(all.iter().filter(|(tenant, _)| *tenant == t).count(), 2);

    // Deleting a scenario takes its items and profiles with it.
    store.upsert_items(&t, vec![item("feed_b", "i1", "c", 1)]).await.unwrap();
    store.put_profiles(&t, &[UserProfile::empty(user("u1"), a.scenario_id.clone())]).await.unwrap();
    assert!(store.delete_scenario(&t, &a.scenario_id).await.unwrap());
    assert!(!store.delete_scenario(&t, &a.scenario_id).await.unwrap(), "a second delete finds nothing");
    assert_eq!(store.get_scenario(&t, &a.scenario_id).await.unwrap(), None);
    assert!(store.scan_items(&t, &a.scenario_id).await.unwrap().is_empty());
    assert_eq!(store.get_profile(&t, &user("u1"), &a.scenario_id).await.unwrap(), None);
    assert!(store.get_scenario(&t, &b.scenario_id).await.unwrap().is_some(), "the other scenario stays");
}

async fn items_upsert_keeps_created_time_and_reports_created_or_updated(store: &dyn DocumentStore) {
    let t = tenant(&unique("t"));
    let first =
        store.upsert_items(&t, vec![item("s", "i1", "news", 100), item("s", "i2", "sport", 100)]).await.unwrap();
    assert!(first.iter().all(|(_, outcome)| *outcome == Upserted::Created));

    let mut newer = item("s", "i1", "tech", 500);
    newer.created_ms = 500;
    let second = store.upsert_items(&t, vec![newer, item("s", "i3", "news", 500)]).await.unwrap();
    assert_eq!(second.iter().map(|(_, o)| *o).collect::<Vec<_>>(), [Upserted::Updated, Upserted::Created]);
    assert_eq!(second[0].0.created_ms, 100, "an update keeps the creation time");

    let stored = store.get_item(&t, &scenario_id("s"), &ItemId::parse("i1").unwrap()).await.unwrap().unwrap();
    assert_eq!((stored.created_ms, stored.updated_ms, stored.category()), (100, 500, Some("tech")));
    let mut expected = item("s", "i1", "tech", 500);
    expected.created_ms = 100;
    assert_eq!(serde_json::to_value(&stored).unwrap(), serde_json::to_value(&expected).unwrap(), "round trip is exact");

    let duplicate = store.insert_item(&t, &item("s", "i2", "x", 1)).await.unwrap_err();
    assert!(matches!(duplicate, Error::Conflict { code: Code::ItemExists, .. }), "{duplicate:?}");
    store.insert_item(&t, &item("s", "i4", "x", 1)).await.unwrap();

    assert!(store.delete_item(&t, &scenario_id("s"), &ItemId::parse("i4").unwrap()).await.unwrap());
    assert!(!store.delete_item(&t, &scenario_id("s"), &ItemId::parse("i4").unwrap()).await.unwrap());
    let mut ids: Vec<String> =
        store.scan_items(&t, &scenario_id("s")).await.unwrap().into_iter().map(|i| i.item_id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["i1", "i2", "i3"]);
}

async fn items_list_filters_and_pages_by_item_id(store: &dyn DocumentStore) {
    let t = tenant(&unique("t"));
    let mut items: Vec<_> =
        (0..25).map(|n| item("s", &format!("i{n:02}"), if n % 2 == 0 { "even" } else { "odd" }, n)).collect();
    items[3].status = ItemStatus::Inactive;
    store.upsert_items(&t, items).await.unwrap();
    store.upsert_items(&t, vec![item("other", "i00", "even", 0)]).await.unwrap();

    let ids = |items: Vec<polyrec_core::Item>| items.into_iter().map(|i| i.item_id.to_string()).collect::<Vec<_>>();
    let page = store.list_items(&t, &scenario_id("s"), &ItemFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(ids(page), (0..10).map(|n| format!("i{n:02}")).collect::<Vec<_>>());
    let next = ItemFilter { limit: 10, cursor: Some("i09".into()), ..Default::default() };
    assert_eq!(ids(store.list_items(&t, &scenario_id("s"), &next).await.unwrap())[0], "i10");

    let odd = ItemFilter { limit: 100, category: Some("odd".into()), ..Default::default() };
    assert_eq!(store.list_items(&t, &scenario_id("s"), &odd).await.unwrap().len(), 12);
    let inactive = ItemFilter { limit: 100, status: Some(ItemStatus::Inactive), ..Default::default() };
    assert_eq!(ids(store.list_items(&t, &scenario_id("s"), &inactive).await.unwrap()), ["i03"]);
    let recent = ItemFilter { limit: 100, updated_since_ms: Some(20), ..Default::default() };
    assert_eq!(
        ids(store.list_items(&t, &scenario_id("s"), &recent).await.unwrap()),
        ["i20", "i21", "i22", "i23", "i24"]
    );
}

async fn profiles_round_trip(store: &dyn DocumentStore) {
    let t = tenant(&unique("t"));
    let mut profile = UserProfile::empty(user("u1"), scenario_id("s"));
    profile.features.total_watch_count = 42;
    profile.features.total_watch_value = 12.5;
    profile.features.favorite_categories = vec!["news".into(), "sport".into()];
    profile.features.recent_items = vec!["i9".into(), "i3".into()];
    profile.preferences.category_scores.insert("news".into(), 0.75);
    profile.applied_windows.insert(1_700_000_100_000, 99);
    profile.window_end_ms = 1_700_000_400_000;
    profile.updated_ms = 1_700_000_400_001;
    store.put_profiles(&t, std::slice::from_ref(&profile)).await.unwrap();
    assert_eq!(store.get_profile(&t, &user("u1"), &scenario_id("s")).await.unwrap(), Some(profile.clone()));

    profile.features.total_watch_count = 43;
    store.put_profiles(&t, &[profile.clone(), UserProfile::empty(user("u2"), scenario_id("s"))]).await.unwrap();
    assert_eq!(
        store.get_profile(&t, &user("u1"), &scenario_id("s")).await.unwrap().unwrap().features.total_watch_count,
        43
    );
    assert!(store.get_profile(&t, &user("u2"), &scenario_id("s")).await.unwrap().is_some());
    assert_eq!(store.get_profile(&t, &user("u1"), &scenario_id("other")).await.unwrap(), None);
}

/// A stream job retries what fails as `Unavailable` (the store is down: wait) and sets aside what
/// fails on its data; a document no retry can store must be the second, or the job would stall
/// every tenant behind it. Keys with a NUL cannot be written to MongoDB (C strings); the embedded
/// store, keeping JSON, takes them.
async fn a_document_the_store_cannot_hold_fails_as_data_not_as_the_store(store: &dyn DocumentStore) {
    let t = tenant(&unique("t"));
    let mut profile = UserProfile::empty(user("u1"), scenario_id("s"));
    profile.preferences.category_scores.insert("news\0".into(), 1.0);
    match store.put_profiles(&t, &[profile]).await {
        Ok(()) => {}
        Err(error @ Error::Unavailable { .. }) => panic!("reported as the store's failure: {error}"),
        Err(_) => {}
    }
    // The store itself is fine, and so is the next write.
    store.put_profiles(&t, &[UserProfile::empty(user("u2"), scenario_id("s"))]).await.unwrap();
    assert!(store.get_profile(&t, &user("u2"), &scenario_id("s")).await.unwrap().is_some());
}

async fn tenants_never_see_each_other(store: &dyn DocumentStore) {
    let (a, b) = (tenant(&unique("a")), tenant(&unique("b")));
    store.insert_scenario(&a, &scenario("shared")).await.unwrap();
    // The same ids in another tenant are another document.
    store.insert_scenario(&b, &scenario("shared")).await.unwrap();
    store.upsert_items(&a, vec![item("shared", "i1", "a-only", 1)]).await.unwrap();
    store.put_profiles(&a, &[UserProfile::empty(user("u1"), scenario_id("shared"))]).await.unwrap();

    assert!(store.scan_items(&b, &scenario_id("shared")).await.unwrap().is_empty());
    assert_eq!(store.get_item(&b, &scenario_id("shared"), &ItemId::parse("i1").unwrap()).await.unwrap(), None);
    assert_eq!(store.get_profile(&b, &user("u1"), &scenario_id("shared")).await.unwrap(), None);
    assert!(!store.delete_item(&b, &scenario_id("shared"), &ItemId::parse("i1").unwrap()).await.unwrap());
    assert!(store.delete_scenario(&b, &scenario_id("shared")).await.unwrap());
    assert!(store.get_scenario(&a, &scenario_id("shared")).await.unwrap().is_some(), "b's delete left a's scenario");
    assert_eq!(store.scan_items(&a, &scenario_id("shared")).await.unwrap().len(), 1, "and a's items");
    assert!(store.get_profile(&a, &user("u1"), &scenario_id("shared")).await.unwrap().is_some(), "and a's profiles");
}

/// More than a first batch of a MongoDB cursor (101 documents).
async fn scans_read_every_item_of_a_large_scenario(store: &dyn DocumentStore) {
    let t = tenant(&unique("t"));
    let items: Vec<_> = (0..300).map(|n| item("s", &format!("i{n:05}"), "c", n)).collect();
    store.upsert_items(&t, items).await.unwrap();
    assert_eq!(store.scan_items(&t, &scenario_id("s")).await.unwrap().len(), 300);
    let page = store.list_items(&t, &scenario_id("s"), &ItemFilter { limit: 250, ..Default::default() }).await.unwrap();
    assert_eq!(page.len(), 250);
}

fn model(scenario: &str, name: &str, sequence: u64) -> ModelRecord {
    ModelRecord {
        scenario_id: scenario_id(scenario),
        // The store keeps what it is given; which stage a name serves is the engine's business.
        model_type: ModelKind::Recall,
        model_name: name.to_owned(),
        model_version: ModelRecord::version_name(sequence),
        sequence,
        model_path: format!("file:///models/{name}/{sequence}"),
        config: serde_json::json!({"factors": 64}),
        metrics: [("ndcg@10".to_owned(), 0.25 + sequence as f64 / 100.0)].into_iter().collect(),
        status: ModelStatus::Inactive,
        job_id: format!("job-{sequence}"),
        created_ms: 1_000 * sequence as i64,
        activated_ms: None,
    }
}

async fn model_versions_register_list_and_replace(store: &dyn DocumentStore) {
    let (t, other) = (tenant(&unique("t")), tenant(&unique("u")));
    let feed = scenario_id("feed");
    for (name, sequence) in [("als", 1), ("als", 2), ("ease", 1), ("als", 3)] {
        store.insert_model(&t, &model("feed", name, sequence)).await.unwrap();
    }
    let taken = store.insert_model(&t, &model("feed", "als", 2)).await.unwrap_err();
    assert!(matches!(taken, Error::Conflict { code: Code::ModelVersionExists, .. }), "{taken:?}");
    // Another tenant numbers its own versions.
    store.insert_model(&other, &model("feed", "als", 1)).await.unwrap();

    let als = store.list_models(&t, &feed, Some("als")).await.unwrap();
    assert_eq!(als.iter().map(|m| m.sequence).collect::<Vec<_>>(), [3, 2, 1], "newest first");
    assert_eq!(als[2], model("feed", "als", 1), "round trip is exact");
    let all = store.list_models(&t, &feed, None).await.unwrap();
    let names: Vec<_> = all.iter().map(|m| (m.model_name.as_str(), m.sequence)).collect();
    assert_eq!(names, [("als", 3), ("als", 2), ("als", 1), ("ease", 1)]);
    assert!(store.list_models(&t, &scenario_id("news"), None).await.unwrap().is_empty());

    let mut active = model("feed", "als", 2);
    active.status = ModelStatus::Active;
    active.activated_ms = Some(5_000);
    store.replace_model(&t, &active).await.unwrap();
    let als = store.list_models(&t, &feed, Some("als")).await.unwrap();
    assert_eq!(polyrec_core::model::serving_version(&als), Some(&active));
    let theirs = store.list_models(&other, &feed, Some("als")).await.unwrap();
    assert_eq!(theirs[0].status, ModelStatus::Inactive, "a replace never reaches another tenant");
    let missing = store.replace_model(&other, &model("feed", "als", 9)).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");

    store.insert_scenario(&t, &scenario("feed")).await.unwrap();
    assert!(store.delete_scenario(&t, &feed).await.unwrap());
    assert!(store.list_models(&t, &feed, None).await.unwrap().is_empty(), "deleted with its scenario");
    assert_eq!(store.list_models(&other, &feed, None).await.unwrap().len(), 1);
}

fn job(scenario: &str, id: &str, created_ms: i64, state: JobState) -> JobRecord {
    JobRecord {
        job_id: id.to_owned(),
        scenario_id: scenario_id(scenario),
        kind: "train".to_owned(),
        models: vec!["als".to_owned()],
        trigger: "api".to_owned(),
        tune: false,
        state,
        progress: 0.0,
        stage: "queued".to_owned(),
        error: None,
        error_code: None,
        versions: Default::default(),
        data: Default::default(),
        created_ms,
        started_ms: None,
        finished_ms: None,
        heartbeat_ms: created_ms,
        attempts: 0,
        worker: None,
        revision: 0,
    }
}

async fn jobs_list_newest_first_and_stale_ones_are_found(store: &dyn DocumentStore) {
    let (t, other) = (tenant(&unique("t")), tenant(&unique("u")));
    // Far in the future, so jobs other tests leave behind are never stale here.
    let base = 4_000_000_000_000_000;
    store.put_job(&t, &job("feed", "a", base + 1, JobState::Running)).await.unwrap();
    store.put_job(&t, &job("news", "b", base + 2, JobState::Queued)).await.unwrap();
    store.put_job(&t, &job("feed", "c", base + 3, JobState::Succeeded)).await.unwrap();
    store.put_job(&other, &job("feed", "a", base + 9, JobState::Running)).await.unwrap();

    let ids = |jobs: Vec<JobRecord>| jobs.into_iter().map(|j| j.job_id).collect::<Vec<_>>();
    assert_eq!(ids(store.list_jobs(&t, None, 10).await.unwrap()), ["c", "b", "a"]);
    assert_eq!(ids(store.list_jobs(&t, Some(&scenario_id("feed")), 10).await.unwrap()), ["c", "a"]);
    assert_eq!(ids(store.list_jobs(&t, None, 1).await.unwrap()), ["c"]);

    let mut running = job("feed", "a", base + 1, JobState::Running);
    running.progress = 0.5;
    running.heartbeat_ms = base + 5;
    store.put_job(&t, &running).await.unwrap();
    assert_eq!(store.get_job(&t, "a").await.unwrap(), Some(running), "a put replaces");
    assert_eq!(store.get_job(&t, "zzz").await.unwrap(), None);
    assert_eq!(store.get_job(&other, "a").await.unwrap().unwrap().created_ms, base + 9, "per tenant");

    // The queue's work: the queued job always, a running one once its lease ran out; oldest first.
    let pending = |jobs: Vec<(polyrec_core::TenantId, JobRecord)>| {
        jobs.into_iter()
            .filter(|(tenant, _)| *tenant == t || *tenant == other)
            .map(|(tenant, j)| (tenant == t, j.job_id))
            .collect::<Vec<_>>()
    };
    let found = pending(store.pending_jobs(base + 5, &[], 100).await.unwrap());
    assert_eq!(found, [(true, "b".to_owned())], "only the queued job while the running one's lease holds");
    let found = pending(store.pending_jobs(base + 100, &[], 100).await.unwrap());
    assert_eq!(found, [(true, "a".to_owned()), (true, "b".to_owned()), (false, "a".to_owned())]);
    let found = pending(store.pending_jobs(base + 100, std::slice::from_ref(&t), 100).await.unwrap());
    assert_eq!(found, [(false, "a".to_owned())], "a tenant skipped");
    // Running: while the worker's lease holds, and per tenant.
    assert_eq!(store.count_running_jobs(&t, base + 5).await.unwrap(), 1);
    assert_eq!(store.count_running_jobs(&t, base + 6).await.unwrap(), 0, "its lease ran out");
    assert_eq!(store.count_running_jobs(&other, base + 9).await.unwrap(), 1);
}

/// The queue's claims: a compare-and-swap on the revision, an insert only of a new id.
async fn jobs_are_swapped_only_from_the_revision_they_hold(store: &dyn DocumentStore) {
    let t = tenant(&unique("t"));
    let base = 4_000_000_000_000_000;
    let queued = job("feed", "q", base, JobState::Queued);
    assert!(store.swap_job(&t, &queued, None).await.unwrap(), "a new id is inserted");
    let mut again = queued.clone();
    again.stage = "not this one".into();
    assert!(!store.swap_job(&t, &again, None).await.unwrap(), "an id taken is not inserted again");
    assert_eq!(store.get_job(&t, "q").await.unwrap(), Some(queued.clone()));
    // Two workers claim from revision 0: one wins.
    let claim = |worker: &str| {
        let mut claimed = queued.clone();
        claimed.state = JobState::Running;
        claimed.attempts = 1;
        claimed.worker = Some(worker.to_owned());
        claimed.revision = 1;
        claimed
    };
    assert!(store.swap_job(&t, &claim("w1"), Some(0)).await.unwrap());
    assert!(!store.swap_job(&t, &claim("w2"), Some(0)).await.unwrap(), "the second claim finds revision 1");
    assert_eq!(store.get_job(&t, "q").await.unwrap().unwrap().worker.as_deref(), Some("w1"));
    // The holder writes on from the revision it holds; a stale writer cannot.
    let mut beat = claim("w1");
    beat.revision = 2;
    beat.progress = 0.5;
    assert!(store.swap_job(&t, &beat, Some(1)).await.unwrap());
    assert!(!store.swap_job(&t, &claim("w1"), Some(0)).await.unwrap());
    assert_eq!(store.get_job(&t, "q").await.unwrap().unwrap().progress, 0.5);
    // A record put outside the queue is at revision 0.
    let legacy = job("feed", "old", base, JobState::Queued);
    store.put_job(&t, &legacy).await.unwrap();
    let mut taken = legacy.clone();
    taken.revision = 1;
    assert!(store.swap_job(&t, &taken, Some(0)).await.unwrap());
}

async fn unfinished_jobs_are_counted_per_tenant(store: &dyn DocumentStore) {
    let (a, b) = (tenant(&unique("a")), tenant(&unique("b")));
    let base = 4_100_000_000_000_000;
    for (id, state) in [("q", JobState::Queued), ("r", JobState::Running), ("s", JobState::Succeeded)] {
        store.put_job(&a, &job("feed", id, base, state)).await.unwrap();
    }
    store.put_job(&b, &job("feed", "q", base, JobState::Queued)).await.unwrap();
    assert_eq!(store.count_unfinished_jobs(&a).await.unwrap(), 2, "queued and running, not succeeded");
    assert_eq!(store.count_unfinished_jobs(&b).await.unwrap(), 1, "another tenant's count is its own");
    // A job that finishes through the queue stops counting.
    let mut done = job("feed", "r", base, JobState::Failed);
    done.revision = 1;
    assert!(store.swap_job(&a, &done, Some(0)).await.unwrap());
    assert_eq!(store.count_unfinished_jobs(&a).await.unwrap(), 1);
}

fn experiment(scenario: &str, id: &str) -> polyrec_core::Experiment {
    polyrec_core::Experiment {
        experiment_id: id.to_owned(),
        scenario_id: scenario_id(scenario),
        name: format!("experiment {id}"),
        groups: vec![
            polyrec_core::ExperimentGroup {
                group_id: "control".into(),
                traffic_ratio: 0.5,
                config: serde_json::json!({}),
            },
            polyrec_core::ExperimentGroup {
                group_id: "treatment".into(),
                traffic_ratio: 0.5,
                config: serde_json::json!({"rank": {"params": {"recall_weight": 2.0}}}),
            },
        ],
        status: polyrec_core::ExperimentStatus::Draft,
        start_ms: Some(1_000),
        end_ms: None,
        version: 1,
        created_ms: 1_000,
        updated_ms: 1_000,
    }
}

async fn experiments_insert_list_replace_with_versions_and_delete(store: &dyn DocumentStore) {
    let (t, other) = (tenant(&unique("t")), tenant(&unique("u")));
    let (feed, news) = (scenario_id("feed"), scenario_id("news"));
    store.insert_experiment(&t, &experiment("feed", "b")).await.unwrap();
    store.insert_experiment(&t, &experiment("feed", "a")).await.unwrap();
    store.insert_experiment(&t, &experiment("news", "a")).await.unwrap();
    let taken = store.insert_experiment(&t, &experiment("feed", "a")).await.unwrap_err();
    assert!(matches!(taken, Error::Conflict { code: Code::ExperimentExists, .. }), "{taken:?}");
    store.insert_experiment(&other, &experiment("feed", "a")).await.unwrap();

    assert_eq!(store.get_experiment(&t, &feed, "a").await.unwrap(), Some(experiment("feed", "a")), "exact");
    assert_eq!(store.get_experiment(&t, &feed, "zzz").await.unwrap(), None);
    let ids = |list: Vec<polyrec_core::Experiment>| {
        list.into_iter().map(|e| format!("{}/{}", e.scenario_id, e.experiment_id)).collect::<Vec<_>>()
    };
    assert_eq!(ids(store.list_experiments(&t, None).await.unwrap()), ["feed/a", "feed/b", "news/a"]);
    assert_eq!(ids(store.list_experiments(&t, Some(&news)).await.unwrap()), ["news/a"]);

    let mut running = experiment("feed", "a");
    running.status = polyrec_core::ExperimentStatus::Running;
    running.version = 2;
    store.replace_experiment(&t, &running, 1).await.unwrap();
    let stale = store.replace_experiment(&t, &running, 1).await.unwrap_err();
    assert!(matches!(stale, Error::Conflict { code: Code::VersionConflict, .. }), "{stale:?}");
    let missing = store.replace_experiment(&t, &experiment("feed", "zzz"), 1).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");
    assert_eq!(store.get_experiment(&t, &feed, "a").await.unwrap(), Some(running));
    assert_eq!(
        store.get_experiment(&other, &feed, "a").await.unwrap().unwrap().status,
        polyrec_core::ExperimentStatus::Draft,
        "another tenant's experiment of the same id is untouched"
    );

    assert!(store.delete_experiment(&t, &feed, "b").await.unwrap());
    assert!(!store.delete_experiment(&t, &feed, "b").await.unwrap());
    store.insert_scenario(&t, &scenario("news")).await.unwrap();
    assert!(store.delete_scenario(&t, &news).await.unwrap());
    assert_eq!(ids(store.list_experiments(&t, None).await.unwrap()), ["feed/a"], "deleted with its scenario");
}

async fn dead_letters_are_kept_per_tenant_paged_deleted_and_trimmed(store: &dyn DocumentStore) {
    use polyrec_core::DeadLetter;
    let (t, other) = (unique("t"), unique("o"));
    let letter = |tenant: &str, job: &str, offset: u64, dead_ms: i64| {
        let event = record(offset, tenant, "feed", "u1", "i1", EventType::Play, 1_000).event;
        DeadLetter::new(job, offset, event, format!("bad event {offset}"), dead_ms)
    };
    let mut letters: Vec<DeadLetter> = (1..=5).map(|o| letter(&t, "warehouse_sink", o, 1_000 + o as i64)).collect();
    letters.push(letter(&t, "item_hot_score", 1, 9_000));
    letters.push(letter(&other, "warehouse_sink", 1, 1_000));
    store.put_dead_letters(&letters).await.unwrap();
    // The same letter again replaces it (a retried batch fails on the same event).
    store.put_dead_letters(&letters[..1]).await.unwrap();
    assert_eq!(store.count_dead_letters(&tenant(&t)).await.unwrap(), 6);

    let all = store.list_dead_letters(&tenant(&t), None, None, 100).await.unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "in id order");
    assert_eq!(all.iter().find(|l| l.id == letters[0].id).unwrap(), &letters[0], "stored whole");
    let sink = store.list_dead_letters(&tenant(&t), Some("warehouse_sink"), None, 2).await.unwrap();
    assert_eq!(sink.len(), 2);
    let rest = store.list_dead_letters(&tenant(&t), Some("warehouse_sink"), Some(&sink[1].id), 100).await.unwrap();
    assert_eq!(rest.len(), 3, "the page after the cursor");
    assert!(rest.iter().all(|l| l.job == "warehouse_sink" && l.id > sink[1].id));

    let wanted = vec![letters[2].id.clone(), letters[6].id.clone(), "nope".to_owned(), letters[2].id.clone()];
    let got = store.get_dead_letters(&tenant(&t), &wanted).await.unwrap();
    assert_eq!(got, vec![letters[2].clone()], "only the tenant's own, once each, unknown ids left out");

    let ids = vec![sink[0].id.clone(), letters[6].id.clone()];
    assert_eq!(store.delete_dead_letters(&tenant(&t), &ids).await.unwrap(), 1, "only the tenant's own");
    assert_eq!(store.count_dead_letters(&tenant(&other)).await.unwrap(), 1);
    // Retention: everything dead before 1,004 ms goes, of every tenant.
    assert!(store.trim_dead_letters(1_004).await.unwrap() >= 3);
    let left: Vec<u64> =
        store.list_dead_letters(&tenant(&t), None, None, 100).await.unwrap().iter().map(|l| l.offset).collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert_eq!(store.count_dead_letters(&tenant(&other)).await.unwrap(), 0);
}
