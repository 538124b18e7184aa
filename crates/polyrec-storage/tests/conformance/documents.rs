//! The document store: scenarios, items and user profiles.

use std::sync::Arc;

use polyrec_core::profile::UserProfile;
use polyrec_core::{Error, ItemId, ItemStatus};
use polyrec_storage::{DocumentStore, ItemFilter, Upserted};

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
    tenants_never_see_each_other,
    scans_read_every_item_of_a_large_scenario,
);

#[cfg(feature = "mongodb")]
#[tokio::test]
async fn mongo_has_exactly_the_indexes_of_the_specification() {
    use mongodb::bson::doc;
    let Some(url) = server("POLYREC_TEST_MONGO_URL") else { return };
    let store = polyrec_storage::production::mongo::MongoDocuments::connect(&url, &unique("indexes")).await.unwrap();
    let mut indexes = Vec::new();
    for collection in ["scenarios", "items", "user_profiles", "model_configs", "experiments"] {
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
            ("items", doc! { "tenant_id": 1, "scenario_id": 1, "item_id": 1 }, true),
            ("items", doc! { "metadata.category": 1 }, false),
            ("user_profiles", doc! { "tenant_id": 1, "user_id": 1, "scenario_id": 1 }, true),
        ]
    );
}

async fn scenarios_insert_get_list_replace_delete(store: &dyn DocumentStore) {
    let t = tenant(&unique("t"));
    let (a, b) = (scenario("feed_b"), scenario("feed_a"));
    store.insert_scenario(&t, &a).await.unwrap();
    store.insert_scenario(&t, &b).await.unwrap();
    let again = store.insert_scenario(&t, &a).await.unwrap_err();
    assert!(matches!(again, Error::Conflict { code: "scenario_exists", .. }), "{again:?}");

    assert_eq!(store.get_scenario(&t, &a.scenario_id).await.unwrap(), Some(a.clone()), "round trip is exact");
    assert_eq!(store.get_scenario(&t, &scenario_id("nope")).await.unwrap(), None);
    let listed: Vec<_> = store.list_scenarios(&t).await.unwrap().into_iter().map(|s| s.scenario_id).collect();
    assert_eq!(listed, [b.scenario_id.clone(), a.scenario_id.clone()], "ordered by id");

    let mut changed = a.clone();
    changed.name = "renamed".into();
    changed.version = 2;
    store.replace_scenario(&t, &changed, 1).await.unwrap();
    let stale = store.replace_scenario(&t, &changed, 1).await.unwrap_err();
    assert!(matches!(stale, Error::Conflict { code: "version_conflict", .. }), "{stale:?}");
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
    assert!(matches!(duplicate, Error::Conflict { code: "item_exists", .. }), "{duplicate:?}");
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
