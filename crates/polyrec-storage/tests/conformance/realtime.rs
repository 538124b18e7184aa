//! The realtime store: hot sets, exposures, per-minute metrics, recent items.

use std::sync::Arc;

use polyrec_core::clock::SharedClock;
use polyrec_core::{Clock, ManualClock};
use polyrec_storage::{Cached, RealtimeStore};

use crate::support::*;

const NOW: i64 = 1_768_471_350_000;
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(NOW))
}

fn embedded(clock: SharedClock) -> Option<Arc<dyn RealtimeStore>> {
    Some(Arc::new(polyrec_storage::MemoryRealtime::new(clock)))
}

#[cfg(feature = "redis")]
async fn redis(clock: SharedClock) -> Option<Arc<dyn RealtimeStore>> {
    let url = server("POLYREC_TEST_REDIS_URL")?;
    Some(Arc::new(polyrec_storage::production::redis::RedisRealtime::connect(&url, clock, "").await.unwrap()))
}

/// The same store on a three-master Redis Cluster (`redis+cluster://…`, started by
/// `scripts/servers.sh`): every script, `MULTI` block and multi-key command must stay in one slot.
#[cfg(feature = "redis")]
async fn redis_cluster(clock: SharedClock) -> Option<Arc<dyn RealtimeStore>> {
    let url = server("POLYREC_TEST_REDIS_CLUSTER_URL")?;
    Some(Arc::new(polyrec_storage::production::redis::RedisRealtime::connect(&url, clock, "").await.unwrap()))
}

macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod embedded_realtime {
            $(
                #[tokio::test]
                async fn $test() {
                    let clock = super::clock();
                    if let Some(store) = super::embedded(clock.clone()) {
                        super::$test(store.as_ref(), &clock).await;
                    }
                }
            )*
        }
        #[cfg(feature = "redis")]
        mod redis_realtime {
            $(
                #[tokio::test]
                async fn $test() {
                    let clock = super::clock();
                    if let Some(store) = super::redis(clock.clone()).await {
                        super::$test(store.as_ref(), &clock).await;
                    }
                }
            )*
        }
        #[cfg(feature = "redis")]
        mod redis_cluster_realtime {
            $(
                #[tokio::test]
                async fn $test() {
                    let clock = super::clock();
                    if let Some(store) = super::redis_cluster(clock.clone()).await {
                        super::$test(store.as_ref(), &clock).await;
                    }
                }
            )*
        }
    };
}

suite!(
    hot_sets_are_replaced_whole_and_read_hottest_first,
    exposures_count_from_when_each_item_was_shown,
    only_the_latest_exposures_are_kept,
    metrics_sum_the_minute_buckets_of_the_window,
    recent_items_are_newest_first_unique_and_capped,
    dropping_a_scenario_removes_only_its_keys,
    cached_documents_honour_only_if_absent_and_delete,
    a_training_lease_is_held_by_one_until_released_or_expired,
    sources_add_up_and_a_replayed_contribution_changes_nothing,
    item_stats_count_each_event_once_per_source,
    event_id_claims_are_taken_once_and_settled_only_by_their_holder,
    cached_answers_are_per_tenant_scenario_user_and_hash_and_go_with_their_scenario,
);

async fn cached_answers_are_per_tenant_scenario_user_and_hash_and_go_with_their_scenario(
    store: &dyn RealtimeStore,
    _clock: &ManualClock,
) {
    let (a, b) = (tenant(&unique("a")), tenant(&unique("b")));
    let (s, other) = (scenario_id("s"), scenario_id("other"));
    let u = user("u");
    let answer = Cached::Recommendation(&a, &s, &u, 7);
    assert_eq!(store.cache_get(answer).await.unwrap(), None);
    assert!(store.cache_put(answer, r#"{"items":[]}"#, HOUR, false).await.unwrap());
    assert_eq!(store.cache_get(answer).await.unwrap().as_deref(), Some(r#"{"items":[]}"#));
    for elsewhere in [
        Cached::Recommendation(&b, &s, &u, 7),
        Cached::Recommendation(&a, &other, &u, 7),
        Cached::Recommendation(&a, &s, &user("v"), 7),
        Cached::Recommendation(&a, &s, &u, 8),
    ] {
        assert_eq!(store.cache_get(elsewhere).await.unwrap(), None, "{}", elsewhere.key());
    }
    store.cache_put(Cached::Recommendation(&b, &s, &u, 7), "{}", HOUR, false).await.unwrap();
    store.cache_put(Cached::Recommendation(&a, &other, &u, 7), "{}", HOUR, false).await.unwrap();
    store.drop_scenario(&a, &s).await.unwrap();
    assert_eq!(store.cache_get(answer).await.unwrap(), None, "a dropped scenario's answers go with it");
    assert!(store.cache_get(Cached::Recommendation(&b, &s, &u, 7)).await.unwrap().is_some());
    assert!(store.cache_get(Cached::Recommendation(&a, &other, &u, 7)).await.unwrap().is_some());
    store.cache_delete(Cached::Recommendation(&a, &other, &u, 7)).await.unwrap();
    assert_eq!(store.cache_get(Cached::Recommendation(&a, &other, &u, 7)).await.unwrap(), None);
}

async fn hot_sets_are_replaced_whole_and_read_hottest_first(store: &dyn RealtimeStore, _clock: &ManualClock) {
    let (t, s) = (tenant(&unique("t")), scenario_id("s"));
    store.replace_hot_items(&t, &s, vec![("a".into(), 1.0), ("b".into(), 3.5), ("c".into(), 2.0)], DAY).await.unwrap();
    assert_eq!(store.hot_items(&t, &s, 2).await.unwrap(), [("b".to_string(), 3.5), ("c".to_string(), 2.0)]);
    store.replace_hot_items(&t, &s, vec![("d".into(), 9.0)], DAY).await.unwrap();
    assert_eq!(store.hot_items(&t, &s, 10).await.unwrap(), [("d".to_string(), 9.0)], "the old members are gone");
    assert!(store.hot_items(&t, &s, 0).await.unwrap().is_empty());
    assert!(store.hot_items(&t, &scenario_id("other"), 10).await.unwrap().is_empty());
}

async fn exposures_count_from_when_each_item_was_shown(store: &dyn RealtimeStore, clock: &ManualClock) {
    let (t, u, s) = (tenant(&unique("t")), user("u"), scenario_id("s"));
    store.add_exposed(&t, &u, &s, &[("old".into(), NOW - DAY + 1_000), ("x".into(), NOW - 5_000)], DAY).await.unwrap();
    // Shown again later: the later time counts.
    store.add_exposed(&t, &u, &s, &[("x".into(), NOW), ("y".into(), NOW)], DAY).await.unwrap();
    let mut shown = store.exposed(&t, &u, &s, clock.now_ms() - DAY).await.unwrap();
    shown.sort();
    assert_eq!(shown, ["old", "x", "y"]);
    let mut recent = store.exposed(&t, &u, &s, NOW - 1_000).await.unwrap();
    recent.sort();
    assert_eq!(recent, ["x", "y"], "x counts from its second showing");
    clock.set_ms(NOW + 2_000);
    let mut shown = store.exposed(&t, &u, &s, clock.now_ms() - DAY).await.unwrap();
    shown.sort();
    assert_eq!(shown, ["x", "y"], "old was shown more than a day ago");
    assert!(store.exposed(&t, &user("other"), &s, 0).await.unwrap().is_empty());
}

async fn only_the_latest_exposures_are_kept(store: &dyn RealtimeStore, _clock: &ManualClock) {
    let (t, u, s) = (tenant(&unique("t")), user("u"), scenario_id("s"));
    let cap = polyrec_storage::MAX_EXPOSED;
    // More impressions of distinct items than the cap, in one write and then in small ones.
    // Items 10 and 11 share a time at the boundary: the lesser id goes, as in Redis.
    let shown = |i: usize| (format!("item{i:05}"), NOW - 60_000 + if i == 10 { 11 } else { i as i64 });
    let batch: Vec<(String, i64)> = (0..cap + 5).map(shown).collect();
    store.add_exposed(&t, &u, &s, &batch, DAY).await.unwrap();
    for i in cap + 5..cap + 11 {
        store.add_exposed(&t, &u, &s, &[shown(i)], DAY).await.unwrap();
    }
    let mut kept = store.exposed(&t, &u, &s, 0).await.unwrap();
    kept.sort();
    let expected: Vec<String> = (11..cap + 11).map(|i| shown(i).0).collect();
    assert_eq!(kept.len(), cap);
    assert_eq!(kept, expected, "the earliest 11 went, the latest {cap} stayed");
}

async fn metrics_sum_the_minute_buckets_of_the_window(store: &dyn RealtimeStore, clock: &ManualClock) {
    let (t, s) = (tenant(&unique("t")), scenario_id("s"));
    let minute = 60_000;
    let start = NOW - NOW % minute;
    let counters = [("clicks".to_string(), 2.0), ("impressions".to_string(), 10.0)];
    store.put_metrics(&t, &s, "p0", start - 30 * minute, &counters, HOUR).await.unwrap();
    store.put_metrics(&t, &s, "p0", start, &[("clicks".into(), 1.0)], HOUR).await.unwrap();
    store.put_metrics(&t, &s, "p1", start, &[("clicks".into(), 0.5)], HOUR).await.unwrap();
    // A replay writes the same absolute values again: nothing changes.
    store.put_metrics(&t, &s, "p1", start, &[("clicks".into(), 0.5)], HOUR).await.unwrap();
    let all = store.metrics(&t, &s, clock.now_ms() - HOUR).await.unwrap();
    assert_eq!((all["clicks"], all["impressions"]), (3.5, 10.0));
    let last = store.metrics(&t, &s, start).await.unwrap();
    assert_eq!(last.get("clicks"), Some(&1.5));
    assert_eq!(last.get("impressions"), None, "that bucket is before the window");
    assert!(store.metrics(&t, &scenario_id("other"), 0).await.unwrap().is_empty());
}

async fn recent_items_are_newest_first_unique_and_capped(store: &dyn RealtimeStore, _clock: &ManualClock) {
    let (t, u, s) = (tenant(&unique("t")), user("u"), scenario_id("s"));
    store.push_recent(&t, &u, &s, &["a".into(), "b".into(), "c".into()], 3, DAY).await.unwrap();
    store.push_recent(&t, &u, &s, &["a".into(), "d".into()], 3, DAY).await.unwrap();
    assert_eq!(store.recent(&t, &u, &s, 10).await.unwrap(), ["d", "a", "c"]);
    assert_eq!(store.recent(&t, &u, &s, 1).await.unwrap(), ["d"]);
    assert!(store.recent(&t, &user("other"), &s, 10).await.unwrap().is_empty());
}

async fn dropping_a_scenario_removes_only_its_keys(store: &dyn RealtimeStore, _clock: &ManualClock) {
    let (a, b) = (tenant(&unique("a")), tenant(&unique("b")));
    let (gone, kept) = (scenario_id("gone"), scenario_id("kept"));
    for t in [&a, &b] {
        for s in [&gone, &kept] {
            store.replace_hot_items(t, s, vec![("i".into(), 1.0)], DAY).await.unwrap();
            store.add_exposed(t, &user("u1"), s, &[("i".into(), NOW)], DAY).await.unwrap();
            store.put_metrics(t, s, "p0", NOW, &[("clicks".into(), 1.0)], HOUR).await.unwrap();
            store.push_recent(t, &user("u2"), s, &["i".into()], 10, DAY).await.unwrap();
            store.cache_put(Cached::UserProfile(t, &user("u3"), s), "{}", HOUR, false).await.unwrap();
        }
    }
    store.drop_scenario(&a, &gone).await.unwrap();
    assert_eq!(store.cache_get(Cached::UserProfile(&a, &user("u3"), &gone)).await.unwrap(), None);
    assert!(store.hot_items(&a, &gone, 10).await.unwrap().is_empty());
    assert!(store.exposed(&a, &user("u1"), &gone, 0).await.unwrap().is_empty());
    assert!(store.metrics(&a, &gone, 0).await.unwrap().is_empty());
    assert!(store.recent(&a, &user("u2"), &gone, 10).await.unwrap().is_empty());
    // Another scenario of the tenant, and the same scenario id of another tenant, are untouched.
    for (t, s) in [(&a, &kept), (&b, &gone), (&b, &kept)] {
        assert_eq!(store.hot_items(t, s, 10).await.unwrap().len(), 1);
        assert_eq!(store.exposed(t, &user("u1"), s, 0).await.unwrap(), ["i"]);
        assert_eq!(store.metrics(t, s, 0).await.unwrap()["clicks"], 1.0);
        assert_eq!(store.recent(t, &user("u2"), s, 10).await.unwrap(), ["i"]);
        assert!(store.cache_get(Cached::UserProfile(t, &user("u3"), s)).await.unwrap().is_some());
    }
}

async fn cached_documents_honour_only_if_absent_and_delete(store: &dyn RealtimeStore, _clock: &ManualClock) {
    let (t, s, u) = (tenant(&unique("t")), scenario_id("s"), user("u"));
    let config = Cached::ScenarioConfig(&t, &s);
    assert_eq!(store.cache_get(config).await.unwrap(), None);
    assert!(store.cache_put(config, r#"{"v":1}"#, HOUR, true).await.unwrap(), "a free key is taken");
    assert!(!store.cache_put(config, r#"{"v":0}"#, HOUR, true).await.unwrap(), "a taken key is not");
    assert_eq!(store.cache_get(config).await.unwrap().as_deref(), Some(r#"{"v":1}"#), "a reader's fill loses");
    store.cache_put(config, r#"{"v":2}"#, HOUR, false).await.unwrap();
    assert_eq!(store.cache_get(config).await.unwrap().as_deref(), Some(r#"{"v":2}"#), "a writer's put wins");
    let profile = Cached::UserProfile(&t, &u, &s);
    store.cache_put(profile, "{}", HOUR, false).await.unwrap();
    assert_eq!(store.cache_get(Cached::UserProfile(&t, &user("other"), &s)).await.unwrap(), None);
    store.cache_delete(config).await.unwrap();
    assert_eq!(store.cache_get(config).await.unwrap(), None);
    store.cache_put(config, "{}", HOUR, false).await.unwrap();
    store.drop_scenario(&t, &s).await.unwrap();
    assert_eq!(store.cache_get(config).await.unwrap(), None, "a dropped scenario's config is not cached");
    assert_eq!(store.cache_get(profile).await.unwrap(), None, "nor its users' profiles");
}

async fn a_training_lease_is_held_by_one_until_released_or_expired(store: &dyn RealtimeStore, clock: &ManualClock) {
    let (t, s) = (tenant(&unique("t")), scenario_id("s"));
    let lease = Cached::TrainingLease(&t, &s);
    assert!(store.cache_put(lease, "process-a", 60_000, true).await.unwrap());
    assert!(!store.cache_put(lease, "process-b", 60_000, true).await.unwrap(), "held by a");
    let other = scenario_id("other");
    assert!(store.cache_put(Cached::TrainingLease(&t, &other), "process-b", 60_000, true).await.unwrap());
    store.cache_delete(lease).await.unwrap();
    assert!(store.cache_put(lease, "process-b", 1_000, true).await.unwrap(), "released");
    clock.advance_ms(1_500);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert!(store.cache_put(lease, "process-a", 60_000, true).await.unwrap(), "expired");
}

async fn sources_add_up_and_a_replayed_contribution_changes_nothing(store: &dyn RealtimeStore, _clock: &ManualClock) {
    let (t, s) = (tenant(&unique("t")), scenario_id("s"));
    store.put_hot_items(&t, &s, "p0", vec![("a".into(), 1.0), ("b".into(), 2.0)], DAY).await.unwrap();
    store.put_hot_items(&t, &s, "p1", vec![("a".into(), 2.5), ("c".into(), 0.5)], DAY).await.unwrap();
    let hot = store.hot_items(&t, &s, 10).await.unwrap();
    assert_eq!(hot, [("a".to_string(), 3.5), ("b".to_string(), 2.0), ("c".to_string(), 0.5)]);
    // p0 again with the same items (a replay), then with b gone and a lower.
    store.put_hot_items(&t, &s, "p0", vec![("a".into(), 1.0), ("b".into(), 2.0)], DAY).await.unwrap();
    assert_eq!(store.hot_items(&t, &s, 10).await.unwrap(), hot);
    store.put_hot_items(&t, &s, "p0", vec![("a".into(), 0.5)], DAY).await.unwrap();
    assert_eq!(store.hot_items(&t, &s, 10).await.unwrap(), [("a".to_string(), 3.0), ("c".to_string(), 0.5)]);
    store.put_hot_items(&t, &s, "p1", vec![], DAY).await.unwrap();
    assert_eq!(store.hot_items(&t, &s, 10).await.unwrap(), [("a".to_string(), 0.5)], "p1's items left with it");

    let minute = NOW - NOW % 60_000;
    store.put_metrics(&t, &s, "p0", minute, &[("clicks".into(), 3.0), ("views".into(), 1.0)], HOUR).await.unwrap();
    store.put_metrics(&t, &s, "p1", minute, &[("clicks".into(), 2.0)], HOUR).await.unwrap();
    store.put_metrics(&t, &s, "p0", minute, &[("clicks".into(), 4.0)], HOUR).await.unwrap();
    let sums = store.metrics(&t, &s, minute).await.unwrap();
    assert_eq!(sums.get("clicks"), Some(&6.0));
    assert!(sums.get("views").is_none_or(|v| v.abs() < 1e-9), "p0 no longer counts a view: {sums:?}");
}

async fn item_stats_count_each_event_once_per_source(store: &dyn RealtimeStore, _clock: &ManualClock) {
    let t = tenant(&unique("t"));
    let click = |offset: u64| (offset, "click_count".to_string());
    store.add_item_stats(&t, "i1", "p0", &[click(1), click(2), (3, "view_count".into())]).await.unwrap();
    store.add_item_stats(&t, "i1", "p1", &[click(1)]).await.unwrap();
    // A replay overlapping what p0 counted: only offset 4 is new.
    store.add_item_stats(&t, "i1", "p0", &[click(2), (3, "view_count".into()), click(4)]).await.unwrap();
    let stats = store.item_stats(&t, "i1").await.unwrap();
    assert_eq!((stats.get("click_count"), stats.get("view_count")), (Some(&4), Some(&1)), "{stats:?}");
    assert!(store.item_stats(&t, "i2").await.unwrap().is_empty());
    assert!(store.item_stats(&tenant(&unique("other")), "i1").await.unwrap().is_empty());
}

/// Counts live 30 days after their last event, on the store's clock (Redis expires on its own:
/// `redis_keys_are_the_specifications` checks the TTL there).
#[tokio::test]
async fn embedded_item_stats_expire_30_days_after_the_last_event() {
    let clock = clock();
    let store = embedded(clock.clone()).unwrap();
    let t = tenant(&unique("t"));
    let click = |offset: u64| (offset, "click_count".to_string());
    let ttl = polyrec_storage::keys::ITEM_STATS_TTL_MS;
    store.add_item_stats(&t, "i1", "p0", &[click(1)]).await.unwrap();
    clock.advance_ms(ttl - 1_000);
    store.add_item_stats(&t, "i1", "p0", &[click(2)]).await.unwrap();
    clock.advance_ms(ttl - 1_000);
    assert_eq!(store.item_stats(&t, "i1").await.unwrap().get("click_count"), Some(&2), "refreshed by the add");
    clock.advance_ms(2_000);
    assert!(store.item_stats(&t, "i1").await.unwrap().is_empty(), "expired 30 days after the last add");
}

/// The keys in Redis are SPEC §4.2's with their cluster hash tags (`polyrec_storage::keys`), with
/// their types and TTLs.
#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_keys_are_the_specifications() {
    use polyrec_storage::production::redis::{client, scan};
    let Some(url) = server("POLYREC_TEST_REDIS_URL") else { return };
    let clock = clock();
    let store = polyrec_storage::production::redis::RedisRealtime::connect(&url, clock.clone(), "").await.unwrap();
    let (t, u, s) = (tenant(&unique("layout")), user("u1"), scenario_id("feed"));
    store.put_hot_items(&t, &s, "all", vec![("i1".into(), 2.0)], DAY).await.unwrap();
    store.add_exposed(&t, &u, &s, &[("i1".into(), NOW)], DAY).await.unwrap();
    store.put_metrics(&t, &s, "all", NOW - NOW % 60_000, &[("clicks".into(), 1.0)], HOUR).await.unwrap();
    store.cache_put(Cached::ScenarioConfig(&t, &s), "{}", HOUR, false).await.unwrap();
    store.cache_put(Cached::UserProfile(&t, &u, &s), "{}", HOUR, false).await.unwrap();
    store.add_item_stats(&t, "i1", "all", &[(1, "click_count".into())]).await.unwrap();
    let redis = client(&url).unwrap();
    let mut keys = scan(&redis, &format!("*{t}*")).await.unwrap();
    keys.sort();
    let expected = [
        (format!("exposed:{{{t}:feed}}:u1"), "zset"),
        (format!("hot:items:{{{t}:feed}}"), "zset"),
        (format!("hot:items:{{{t}:feed}}:src:all"), "hash"),
        (format!("item:stats:{{{t}:i1}}"), "hash"),
        (format!("item:stats:{{{t}:i1}}:src:all"), "string"),
        (format!("metrics:realtime:{{{t}:feed}}"), "hash"),
        (format!("metrics:realtime:{{{t}:feed}}:src:all"), "hash"),
        (format!("scenario:config:{{{t}:feed}}"), "string"),
        (format!("user:profile:{{{t}:feed}}:u1"), "string"),
    ];
    let expected: Vec<(String, String)> = expected.into_iter().map(|(k, kind)| (k, kind.to_owned())).collect();
    assert_eq!(keys, expected);
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    for (key, ttl) in [
        (format!("hot:items:{{{t}:feed}}"), DAY),
        (format!("exposed:{{{t}:feed}}:u1"), DAY),
        (format!("metrics:realtime:{{{t}:feed}}"), HOUR),
        (format!("scenario:config:{{{t}:feed}}"), HOUR),
        (format!("user:profile:{{{t}:feed}}:u1"), HOUR),
        (format!("item:stats:{{{t}:i1}}"), polyrec_storage::keys::ITEM_STATS_TTL_MS),
        (format!("item:stats:{{{t}:i1}}:src:all"), polyrec_storage::keys::ITEM_STATS_TTL_MS),
    ] {
        let left: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
        assert!(left > ttl - 60_000 && left <= ttl, "{key}: PTTL {left}, want about {ttl}");
    }
}

async fn event_id_claims_are_taken_once_and_settled_only_by_their_holder(
    store: &dyn RealtimeStore,
    _clock: &ManualClock,
) {
    let (t, other) = (tenant(&unique("t")), tenant(&unique("o")));
    let claimed = store.claim_event_ids(&t, &[("x", "e1"), ("y", "e2")], 60_000).await.unwrap();
    assert_eq!(claimed, [None, None], "both free");
    let again = store.claim_event_ids(&t, &[("x", "e3")], 60_000).await.unwrap();
    assert_eq!(again, [Some("pending:e1".to_owned())], "held while pending");
    // Another tenant's x is its own.
    assert_eq!(store.claim_event_ids(&other, &[("x", "e9")], 60_000).await.unwrap(), [None]);
    // A request that does not hold the claim (its own expired and was taken) settles nothing.
    store.settle_event_ids(&t, &[("x", "e3")], &[("y", "e4")], 86_400_000).await.unwrap();
    let held = store.claim_event_ids(&t, &[("x", "e5"), ("y", "e5")], 60_000).await.unwrap();
    assert_eq!(held, [Some("pending:e1".to_owned()), Some("pending:e2".to_owned())]);
    // The holder settles: x stored, y freed for a retry.
    store.settle_event_ids(&t, &[("x", "e1")], &[("y", "e2")], 86_400_000).await.unwrap();
    let settled = store.claim_event_ids(&t, &[("x", "e6"), ("y", "e7")], 60_000).await.unwrap();
    assert_eq!(settled, [Some("stored:e1".to_owned()), None], "x stored; y taken by the retry");
}
