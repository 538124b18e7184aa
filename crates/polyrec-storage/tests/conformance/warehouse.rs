//! The event warehouse: raw events once, rollups, interactions.

use std::sync::Arc;

use polyrec_core::EventType::{Click, Impression, Like, Play};
use polyrec_storage::{BehaviorRow, GroupTotals, Interaction, Warehouse};

use crate::support::*;

const T0: i64 = 1_768_471_350_000;

struct Backend {
    store: Arc<dyn Warehouse>,
    _guard: Option<tempfile::TempDir>,
}

fn embedded() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let store = polyrec_storage::SqliteWarehouse::open(&dir.path().join("warehouse.db")).unwrap();
    Some(Backend { store: Arc::new(store), _guard: Some(dir) })
}

#[cfg(feature = "clickhouse")]
async fn clickhouse() -> Option<Backend> {
    let url = server("POLYREC_TEST_CLICKHOUSE_URL")?;
    let url = format!("{}?database={}", url.trim_end_matches('/'), unique("conformance"));
    let store = polyrec_storage::production::clickhouse::ClickHouseWarehouse::connect(&url).await.unwrap();
    Some(Backend { store: Arc::new(store), _guard: None })
}

macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod embedded_warehouse {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(backend) = super::embedded() {
                        super::$test(backend.store.as_ref()).await;
                    }
                }
            )*
        }
        #[cfg(feature = "clickhouse")]
        mod clickhouse_warehouse {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(backend) = super::clickhouse().await {
                        super::$test(backend.store.as_ref()).await;
                    }
                }
            )*
        }
    };
}

suite!(
    a_replayed_batch_inserts_nothing_twice,
    interactions_sum_interest_per_user_and_item,
    dropping_a_scenario_removes_its_events_and_rollups,
    behaviors_come_back_whole_oldest_first_and_filtered,
    experiment_totals_count_each_group_exactly,
    rollups_answer_hourly_series_and_top_items,
    a_batch_of_twenty_thousand_is_stored_once,
    funnels_count_users_through_ordered_steps_within_the_window,
    the_dimension_rollup_cuts_hours_by_device_category_and_group,
    a_busy_users_long_sequence_is_read_whole,
);

async fn a_replayed_batch_inserts_nothing_twice(store: &dyn Warehouse) {
    let (a, b) = (unique("a"), unique("b"));
    let batch = vec![
        record(1, &a, "s1", "u1", "i1", Click, T0),
        record(2, &a, "s2", "u1", "i1", Impression, T0 + 1),
        record(3, &b, "s1", "u1", "i1", Click, T0 + 2),
    ];
    assert_eq!(store.insert(&batch).await.unwrap(), 3);
    assert_eq!(store.insert(&batch).await.unwrap(), 0, "the same events again");
    let overlapping = vec![batch[2].clone(), record(4, &a, "s1", "u2", "i2", Play, T0 + 3)];
    assert_eq!(store.insert(&overlapping).await.unwrap(), 1, "only the new one");
    assert_eq!(store.count(&tenant(&a), None).await.unwrap(), 3);
    assert_eq!(store.count(&tenant(&a), Some(&scenario_id("s1"))).await.unwrap(), 2);
    assert_eq!(store.count(&tenant(&b), None).await.unwrap(), 1);
    assert_eq!(store.count(&tenant(&unique("nobody")), None).await.unwrap(), 0);
}

async fn interactions_sum_interest_per_user_and_item(store: &dyn Warehouse) {
    let t = unique("t");
    let batch = vec![
        record(1, &t, "s", "u1", "i1", Click, T0),
        record(2, &t, "s", "u1", "i1", Like, T0 + 10),
        record(3, &t, "s", "u1", "i2", Impression, T0 + 20),
        record(4, &t, "s", "u2", "i1", Play, T0 + 30),
        record(5, &t, "s", "u2", "i3", Click, T0 - 100_000),
        record(6, &t, "other", "u1", "i1", Click, T0),
    ];
    store.insert(&batch).await.unwrap();
    let mut got = store.interactions(&tenant(&t), &scenario_id("s"), T0 - 1).await.unwrap();
    got.sort_by(|x, y| (&x.user_id, &x.item_id).cmp(&(&y.user_id, &y.item_id)));
    let w = |kind: polyrec_core::EventType| kind.interest_weight();
    let expected = [
        Interaction { user_id: "u1".into(), item_id: "i1".into(), weight: w(Click) + w(Like), last_ms: T0 + 10 },
        Interaction { user_id: "u2".into(), item_id: "i1".into(), weight: w(Play), last_ms: T0 + 30 },
    ];
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!((&got.user_id, &got.item_id, got.last_ms), (&expected.user_id, &expected.item_id, expected.last_ms));
        assert!((got.weight - expected.weight).abs() < 1e-9, "{got:?} vs {expected:?}");
    }
}

async fn dropping_a_scenario_removes_its_events_and_rollups(store: &dyn Warehouse) {
    let (a, b) = (unique("a"), unique("b"));
    let batch = vec![
        record(1, &a, "gone", "u1", "i1", Click, T0),
        record(2, &a, "kept", "u1", "i1", Click, T0),
        record(3, &b, "gone", "u1", "i1", Click, T0),
    ];
    store.insert(&batch).await.unwrap();
    store.drop_scenario(&tenant(&a), &scenario_id("gone")).await.unwrap();
    assert_eq!(store.count(&tenant(&a), Some(&scenario_id("gone"))).await.unwrap(), 0);
    assert!(store.interactions(&tenant(&a), &scenario_id("gone"), 0).await.unwrap().is_empty());
    assert_eq!(store.count(&tenant(&a), Some(&scenario_id("kept"))).await.unwrap(), 1);
    assert_eq!(store.count(&tenant(&b), Some(&scenario_id("gone"))).await.unwrap(), 1, "another tenant's is kept");
    let funnel = |t: &str| {
        let t = tenant(t);
        async move { store.funnel(&t, &scenario_id("gone"), &[Click], 60_000, T0..T0 + 1).await.unwrap() }
    };
    assert_eq!(funnel(&a).await, [0], "the funnel's events are gone too");
    assert_eq!(funnel(&b).await, [1], "and another tenant's are kept");
}

/// A database made before `funnel_events` existed gets it filled with the events stored
/// before, also when a process died before its copy finished; one whose view was made before an
/// event type existed gets this version's view.
#[cfg(feature = "clickhouse")]
#[tokio::test]
async fn an_older_clickhouse_database_gets_its_funnel_table_filled_and_grown() {
    use polyrec_core::EventType::Order;
    use polyrec_storage::production::clickhouse::ClickHouseWarehouse;
    let Some(url) = server("POLYREC_TEST_CLICKHOUSE_URL") else { return };
    let url = format!("{}?database={}", url.trim_end_matches('/'), unique("upgrade"));
    let t = unique("t");
    let (tenant, s) = (tenant(&t), scenario_id("s"));
    let reconnect = || async { funnel_copied(ClickHouseWarehouse::connect(&url).await.unwrap()).await };
    let funnel = |store: ClickHouseWarehouse| {
        let (tenant, s) = (tenant.clone(), s.clone());
        async move { store.funnel(&tenant, &s, &[Impression, Click, Order], 3_600_000, T0..T0 + 3_600_000).await.unwrap() }
    };
    let view = format!("funnel_events_mv_{}", polyrec_core::EventType::ALL.len());
    let old = ClickHouseWarehouse::connect(&url).await.unwrap();
    old.insert(&[record(1, &t, "s", "u1", "i1", Impression, T0), record(2, &t, "s", "u1", "i1", Click, T0 + 1_000)])
        .await
        .unwrap();
    old.execute(&format!("DROP TABLE {view}"), None).await.unwrap();
    old.execute("DROP TABLE funnel_events", None).await.unwrap();
    old.insert(&[record(3, &t, "s", "u2", "i1", Impression, T0), record(4, &t, "s", "u2", "i1", Click, T0 + 1_000)])
        .await
        .unwrap();
    assert_eq!(funnel(reconnect().await).await, [2, 2, 0], "both users copied");

    // A process that made the table and died before copying: the marker is still there.
    old.execute("TRUNCATE TABLE funnel_events", None).await.unwrap();
    old.execute("CREATE TABLE funnel_events_copying (pending UInt8) ENGINE = Log", None).await.unwrap();
    assert_eq!(funnel(reconnect().await).await, [2, 2, 0], "copied by the next process");

    // As if the view had been made when impression and click were the only types.
    old.execute(&format!("DROP TABLE {view}"), None).await.unwrap();
    let older = "CREATE MATERIALIZED VIEW funnel_events_mv_2 TO funnel_events AS SELECT tenant_id, scenario_id, \
                 user_id, timestamp_ms, toUInt8(indexOf(['impression', 'click'], event_type)) AS event_type \
                 FROM user_behaviors";
    old.execute(older, None).await.unwrap();
    let grown = reconnect().await;
    grown.insert(&[record(5, &t, "s", "u1", "i1", Order, T0 + 2_000)]).await.unwrap();
    assert_eq!(funnel(grown.clone()).await, [2, 2, 1], "an order is stored and counted after the types grew");
    let views = format!(
        "SELECT name FROM system.tables WHERE database = '{}' AND engine = 'MaterializedView' \
         AND startsWith(name, 'funnel') ORDER BY name",
        grown.database()
    );
    assert_eq!(grown.execute(&views, None).await.unwrap(), format!("{view}\n"), "the older view is gone");

    // As if a process died between making this version's view and dropping the older one.
    old.execute(older, None).await.unwrap();
    let mended = reconnect().await;
    assert_eq!(mended.execute(&views, None).await.unwrap(), format!("{view}\n"), "the older view is gone");
}

/// Dropping a scenario waits for a copy into `funnel_events` still running, which would bring the
/// scenario's rows back after the delete. The copy is played by a statement under its query id.
#[cfg(feature = "clickhouse")]
#[tokio::test]
async fn dropping_a_scenario_waits_for_a_running_funnel_copy() {
    use polyrec_storage::production::clickhouse::ClickHouseWarehouse;
    let Some(url) = server("POLYREC_TEST_CLICKHOUSE_URL") else { return };
    let base = url.trim_end_matches('/').to_owned();
    let store =
        funnel_copied(ClickHouseWarehouse::connect(&format!("{base}?database={}", unique("copy"))).await.unwrap())
            .await;
    let copy_id = format!("polyrec-funnel-copy-{}", store.database());
    let running = format!("SELECT count() FROM system.processes WHERE query_id = '{copy_id}'");
    let copy = tokio::spawn({
        let (base, copy_id) = (format!("{base}/"), copy_id.clone());
        async move { reqwest::Client::new().post(base).query(&[("query_id", copy_id)]).body("SELECT sleep(3)").send().await }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while store.execute(&running, None).await.unwrap().trim() == "0" {
        assert!(std::time::Instant::now() < deadline, "the stand-in copy never started");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    store.drop_scenario(&tenant("t"), &scenario_id("s")).await.unwrap();
    assert_eq!(store.execute(&running, None).await.unwrap().trim(), "0", "the drop went on while the copy ran");
    copy.await.unwrap().unwrap();
}

/// Waits until the copy into `funnel_events` that connecting `store` started has finished (its
/// marker is gone): `connect` waits for it only a few seconds.
#[cfg(feature = "clickhouse")]
async fn funnel_copied(
    store: polyrec_storage::production::clickhouse::ClickHouseWarehouse,
) -> polyrec_storage::production::clickhouse::ClickHouseWarehouse {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while store.execute("EXISTS TABLE funnel_events_copying", None).await.unwrap().trim() == "1" {
        assert!(std::time::Instant::now() < deadline, "the copy into funnel_events did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    store
}

/// The ClickHouse schema is SPEC §4.3's: `user_behaviors` partitioned by tenant and month and
/// ordered by tenant and time, and the two materialized views; plus the dimension rollup.
#[cfg(feature = "clickhouse")]
#[tokio::test]
async fn clickhouse_schema_is_the_specifications() {
    let Some(url) = server("POLYREC_TEST_CLICKHOUSE_URL") else { return };
    let url = format!("{}?database={}", url.trim_end_matches('/'), unique("schema"));
    let store =
        funnel_copied(polyrec_storage::production::clickhouse::ClickHouseWarehouse::connect(&url).await.unwrap()).await;
    let create = store.execute("SHOW CREATE TABLE user_behaviors", None).await.unwrap();
    assert!(create.contains("PARTITION BY (tenant_id, toYYYYMM(toDateTime(intDiv(timestamp_ms, 1000))))"), "{create}");
    assert!(create.contains("ORDER BY (tenant_id, scenario_id, timestamp_ms, event_id)"), "{create}");
    let tables = store
        .execute(
            &format!("SELECT name, engine FROM system.tables WHERE database = '{}' ORDER BY name", store.database()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        tables,
        "funnel_events\tMergeTree\nfunnel_events_mv_12\tMaterializedView\n\
         item_stats_daily\tSummingMergeTree\nitem_stats_daily_mv\tMaterializedView\nmetrics_hourly\tSummingMergeTree\n\
         metrics_hourly_dims\tSummingMergeTree\nmetrics_hourly_dims_mv\tMaterializedView\n\
         metrics_hourly_mv\tMaterializedView\nuser_behaviors\tReplacingMergeTree\n"
    );
}

async fn behaviors_come_back_whole_oldest_first_and_filtered(store: &dyn Warehouse) {
    let (t, other) = (unique("t"), unique("o"));
    let mut with_context = record(3, &t, "s", "u1", "i2", Impression, T0 + 2);
    with_context.event.context = Some(
        serde_json::json!({"device_type": "mobile", "note": "tab\tand \"quotes\"", "long": "é".repeat(200)})
            .as_object()
            .unwrap()
            .clone(),
    );
    let batch = vec![
        record(1, &t, "s", "u1", "i1", Impression, T0),
        record(2, &t, "s", "u1", "i1", Play, T0 + 1),
        with_context,
        record(4, &t, "s", "u2", "i1", Like, T0 + 3),
        record(5, &t, "s", "u2", "i1", Impression, T0 - 10_000),
        record(6, &t, "other", "u1", "i1", Impression, T0 + 4),
        record(7, &other, "s", "u1", "i1", Impression, T0 + 5),
    ];
    store.insert(&batch).await.unwrap();
    let (tenant, s) = (tenant(&t), scenario_id("s"));
    let rows = store.behaviors(&tenant, &s, T0, &[Impression, Play], 100).await.unwrap();
    let seen: Vec<(&str, &str, i64)> =
        rows.iter().map(|r| (r.user_id.as_str(), r.event_type.as_str(), r.timestamp_ms)).collect();
    assert_eq!(seen, [("u1", "impression", T0), ("u1", "play", T0 + 1), ("u1", "impression", T0 + 2)]);
    assert_eq!(
        rows[1],
        BehaviorRow {
            user_id: "u1".into(),
            item_id: "i1".into(),
            event_type: Play,
            timestamp_ms: T0 + 1,
            value: Some(30.5),
            request_id: Some("req-2".into()),
            context: Default::default(),
        }
    );
    assert_eq!(rows[2].context["note"], "tab\tand \"quotes\"", "free text survives");
    assert_eq!(rows[2].context["device_type"], "mobile");
    assert_eq!(rows[2].context["long"], "é".repeat(200), "a string of 400 bytes (a two-byte length)");
    // Over the limit: the latest ones, still oldest first.
    let latest = store.behaviors(&tenant, &s, 0, &[Impression, Play, Like], 2).await.unwrap();
    let times: Vec<i64> = latest.iter().map(|r| r.timestamp_ms).collect();
    assert_eq!(times, [T0 + 2, T0 + 3]);
}

async fn experiment_totals_count_each_group_exactly(store: &dyn Warehouse) {
    use polyrec_core::EventType::{Order, View};
    let t = unique("t");
    let grouped = |offset: u64, user: &str, kind, ts: i64, experiment: &str, group: &str, value: Option<f64>| {
        let mut r = record(offset, &t, "s", user, "i1", kind, ts);
        r.event.value = value;
        r.event.context =
            Some(serde_json::json!({"experiment_id": experiment, "group": group}).as_object().unwrap().clone());
        r
    };
    let batch = vec![
        grouped(1, "u1", Impression, T0, "e1", "a", None),
        grouped(2, "u1", Click, T0 + 1, "e1", "a", None),
        grouped(3, "u2", Impression, T0 + 2, "e1", "a", None),
        grouped(4, "u2", View, T0 + 3, "e1", "a", Some(30.0)),
        grouped(5, "u2", View, T0 + 4, "e1", "a", Some(10.0)),
        grouped(6, "u3", Impression, T0 + 5, "e1", "b", None),
        grouped(7, "u3", Order, T0 + 6, "e1", "b", Some(19.5)),
        grouped(8, "u3", Play, T0 + 7, "e1", "b", None),
        grouped(9, "u4", Impression, T0 + 8, "e2", "a", None),
        grouped(10, "u5", Impression, T0 + 100, "e1", "b", None),
        record(11, &t, "s", "u6", "i1", Impression, T0 + 9),
    ];
    store.insert(&batch).await.unwrap();
    let totals = store.experiment_totals(&tenant(&t), &scenario_id("s"), "e1", T0, T0 + 100).await.unwrap();
    assert_eq!(
        totals,
        [
            GroupTotals {
                group: "a".into(),
                users: 2,
                impressions: 2,
                clicks: 1,
                orders: 0,
                watches: 2,
                watch_sum: 40.0,
                watch_sum_squares: 1000.0,
                revenue: 0.0,
            },
            GroupTotals {
                group: "b".into(),
                users: 1,
                impressions: 1,
                clicks: 0,
                orders: 1,
                watches: 0,
                watch_sum: 0.0,
                watch_sum_squares: 0.0,
                revenue: 19.5,
            },
        ],
        "the window is half-open, another experiment and ungrouped events do not count"
    );
    assert!(
        store.experiment_totals(&tenant(&unique("o")), &scenario_id("s"), "e1", 0, i64::MAX).await.unwrap().is_empty()
    );
}

async fn rollups_answer_hourly_series_and_top_items(store: &dyn Warehouse) {
    use polyrec_core::clock::{DAY_MS, HOUR_MS};
    let (t, other) = (unique("t"), unique("o"));
    let hour = T0 - T0.rem_euclid(HOUR_MS);
    let mut batch = vec![
        record(1, &t, "s", "u1", "i1", Impression, hour + 1),
        record(2, &t, "s", "u1", "i1", Click, hour + 2),
        record(3, &t, "s", "u2", "i2", Click, hour + 3),
        record(4, &t, "s", "u2", "i2", Play, hour + HOUR_MS + 5),
        record(5, &t, "x", "u2", "i2", Click, hour + 6),
        record(6, &other, "s", "u1", "i1", Click, hour + 7),
    ];
    batch.push(record(7, &t, "s", "u3", "i2", Click, hour + 8));
    store.insert(&batch).await.unwrap();
    let (tenant, s) = (tenant(&t), scenario_id("s"));
    let rows = store.hourly(&tenant, Some(&s), hour, hour + 2 * HOUR_MS).await.unwrap();
    let seen: Vec<(i64, &str, u64, f64)> =
        rows.iter().map(|r| (r.hour_ms - hour, r.event_type.as_str(), r.events, r.value_sum)).collect();
    assert_eq!(seen, [(0, "click", 3, 0.0), (0, "impression", 1, 0.0), (HOUR_MS, "play", 1, 30.5)]);
    let all = store.hourly(&tenant, None, hour, hour + HOUR_MS).await.unwrap();
    assert_eq!(all.iter().map(|r| r.events).sum::<u64>(), 5, "every scenario of the tenant, not the other tenant");
    let day = hour - hour.rem_euclid(DAY_MS);
    let top = store.top_items(&tenant, &s, Click, day, day + DAY_MS, 10).await.unwrap();
    assert_eq!(top, [("i2".to_owned(), 2), ("i1".to_owned(), 1)]);
    assert_eq!(store.top_items(&tenant, &s, Click, day, day + DAY_MS, 1).await.unwrap().len(), 1);
}

/// A sink configured with large batches (`sink_batch_events`): the stored-id lookup of a replay
/// must not outgrow a statement (ClickHouse refuses statements over 256 KiB).
async fn a_batch_of_twenty_thousand_is_stored_once(store: &dyn Warehouse) {
    let t = unique("t");
    let batch: Vec<_> = (0..20_000u64)
        .map(|i| {
            let mut r = record(i + 1, &t, "s", "u1", "i1", Click, T0 + i as i64);
            r.event.event_id = format!("{}-{i:08}-a-long-event-id-like-a-uuid", t);
            r
        })
        .collect();
    assert_eq!(store.insert(&batch).await.unwrap(), 20_000);
    assert_eq!(store.insert(&batch).await.unwrap(), 0, "a replay of the whole batch");
    assert_eq!(store.count(&tenant(&t), None).await.unwrap(), 20_000);
}

async fn funnels_count_users_through_ordered_steps_within_the_window(store: &dyn Warehouse) {
    use polyrec_core::EventType::{AddCart, Order};
    let t = unique("t");
    let (m, h) = (60_000, 3_600_000);
    let events = [
        ("u1", Impression, 0),
        ("u1", Click, m),
        ("u1", AddCart, 2 * m),
        ("u1", Order, 3 * m),
        ("u2", Impression, 0),
        ("u2", Click, m),
        ("u2", Order, 2 * m),
        ("u3", Click, 0),
        ("u3", Impression, m),
        ("u4", Impression, 0),
        ("u4", Click, 25 * h),
        ("u5", AddCart, m),
    ];
    let batch: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, (user, kind, at))| record(i as u64 + 1, &t, "s", user, "i1", *kind, T0 + at))
        .collect();
    store.insert(&batch).await.unwrap();
    let (tenant, s) = (tenant(&t), scenario_id("s"));
    let span = T0..T0 + 30 * h;
    let steps = [Impression, Click, AddCart, Order];
    assert_eq!(store.funnel(&tenant, &s, &steps, 24 * h, span.clone()).await.unwrap(), [4, 2, 1, 1]);
    assert_eq!(store.funnel(&tenant, &s, &[Impression, Click], 48 * h, span.clone()).await.unwrap(), [4, 3]);
    assert_eq!(store.funnel(&tenant, &s, &steps, 24 * h, T0 + 10 * h..T0 + 30 * h).await.unwrap(), [0, 0, 0, 0]);
    assert_eq!(
        store.funnel(&tenant, &s, &steps, 24 * h, T0..T0 + 2 * m).await.unwrap(),
        [4, 2, 0, 0],
        "the span is half-open: u1's add_cart at 2 min is out"
    );
    // Later batches add to the same users and days; a day boundary splits nobody's attempt.
    let later = [("u4", AddCart, 25 * h + m), ("u4", Order, 25 * h + 2 * m), ("u5", Order, 2 * m)];
    let batch: Vec<_> = later
        .iter()
        .enumerate()
        .map(|(i, (user, kind, at))| record(i as u64 + 100, &t, "s", user, "i1", *kind, T0 + at))
        .collect();
    store.insert(&batch).await.unwrap();
    assert_eq!(store.funnel(&tenant, &s, &steps, 48 * h, span.clone()).await.unwrap(), [4, 3, 2, 2]);
    assert_eq!(store.funnel(&tenant, &s, &[AddCart, Order], 24 * h, span.clone()).await.unwrap(), [3, 3]);
    let nobody = polyrec_core::TenantId::parse(unique("o")).unwrap();
    assert_eq!(store.funnel(&nobody, &s, &steps, 24 * h, span).await.unwrap(), [0, 0, 0, 0], "another tenant");

    // The window is measured in milliseconds: 1.15 s apart is within 1.5 s (whole seconds, 0 and
    // 2, would not be), and a click 0.8 s before an impression in the same second is not after it.
    let fine_id = unique("t");
    let batch = [
        record(200, &fine_id, "s", "u1", "i1", Impression, T0 + 900),
        record(201, &fine_id, "s", "u1", "i1", Click, T0 + 2_050),
        record(202, &fine_id, "s", "u2", "i1", Click, T0 + 100),
        record(203, &fine_id, "s", "u2", "i1", Impression, T0 + 900),
    ];
    store.insert(&batch).await.unwrap();
    let fine = polyrec_core::TenantId::parse(fine_id).unwrap();
    assert_eq!(store.funnel(&fine, &s, &[Impression, Click], 1_500, T0..T0 + 3_000).await.unwrap(), [2, 1]);
    assert_eq!(store.funnel(&fine, &s, &[Impression, Click], 1_000, T0..T0 + 3_000).await.unwrap(), [2, 0]);
}

async fn the_dimension_rollup_cuts_hours_by_device_category_and_group(store: &dyn Warehouse) {
    use polyrec_core::clock::HOUR_MS;
    use polyrec_storage::Dimension;
    let (t, other) = (unique("t"), unique("o"));
    let hour = T0 - T0.rem_euclid(HOUR_MS);
    let with = |offset: u64, tenant: &str, kind, at: i64, context: serde_json::Value| {
        let mut r = record(offset, tenant, "s", "u1", "i1", kind, at);
        r.event.value = None;
        r.event.context = context.as_object().cloned();
        r
    };
    let batch = vec![
        with(1, &t, Impression, hour, serde_json::json!({"device_type": "mobile", "item_category": "news"})),
        with(2, &t, Click, hour + 1, serde_json::json!({"device_type": "mobile", "item_category": "sport"})),
        with(3, &t, Click, hour + 2, serde_json::json!({"device": "tv \"4k\"", "experiment_id": "e1", "group": "b"})),
        with(4, &t, Click, hour + HOUR_MS, serde_json::json!({"device_type": "mobile"})),
        with(5, &t, Click, hour + 3, serde_json::json!({})),
        with(6, &other, Click, hour + 4, serde_json::json!({"device_type": "mobile"})),
    ];
    store.insert(&batch).await.unwrap();
    store.insert(&batch).await.unwrap();
    let (tenant, s) = (tenant(&t), scenario_id("s"));
    let cut = |rows: Vec<(String, polyrec_storage::HourlyRow)>| -> Vec<(String, i64, &'static str, u64)> {
        rows.into_iter().map(|(key, r)| (key, r.hour_ms - hour, r.event_type.as_str(), r.events)).collect()
    };
    let devices = store.hourly_by(&tenant, Some(&s), Dimension::Device, hour, hour + 2 * HOUR_MS).await.unwrap();
    assert_eq!(
        cut(devices),
        [
            ("mobile".to_owned(), 0, "click", 1),
            ("mobile".to_owned(), 0, "impression", 1),
            ("tv \"4k\"".to_owned(), 0, "click", 1),
            ("mobile".to_owned(), HOUR_MS, "click", 1),
        ]
    );
    let categories = store.hourly_by(&tenant, None, Dimension::Category, hour, hour + HOUR_MS).await.unwrap();
    assert_eq!(cut(categories), [("news".to_owned(), 0, "impression", 1), ("sport".to_owned(), 0, "click", 1)]);
    let groups = store.hourly_by(&tenant, Some(&s), Dimension::Group, hour, hour + HOUR_MS).await.unwrap();
    assert_eq!(cut(groups), [("e1/b".to_owned(), 0, "click", 1)]);
    let elsewhere = store.hourly_by(&tenant, Some(&scenario_id("x")), Dimension::Device, 0, i64::MAX).await.unwrap();
    assert!(elsewhere.is_empty());
    let theirs = polyrec_core::TenantId::parse(&other).unwrap();
    let theirs = store.hourly_by(&theirs, None, Dimension::Device, 0, i64::MAX).await.unwrap();
    assert_eq!(theirs.len(), 1, "the other tenant sees only its own event");
}

/// Hundreds of events of one user in one quarter hour, over several inserts: the embedded
/// sequence rollup splits them into parts; the funnel must see them all, in time order.
async fn a_busy_users_long_sequence_is_read_whole(store: &dyn Warehouse) {
    use polyrec_core::EventType::{AddCart, Order};
    let t = unique("t");
    let mut offset = 0;
    // 600 impressions, 1 s apart, inserted newest batch first; a click, cart and order after.
    for batch in (0..6).rev() {
        let records: Vec<_> = (0..100)
            .map(|i| {
                offset += 1;
                record(offset, &t, "s", "busy", "i1", Impression, T0 + (batch * 100 + i) * 1_000)
            })
            .collect();
        store.insert(&records).await.unwrap();
    }
    let tail = [(Click, 601_000), (AddCart, 602_000), (Order, 603_000)];
    let records: Vec<_> = tail
        .iter()
        .enumerate()
        .map(|(i, (kind, at))| record(1_000 + i as u64, &t, "s", "busy", "i1", *kind, T0 + at))
        .collect();
    store.insert(&records).await.unwrap();
    let (tenant, s) = (tenant(&t), scenario_id("s"));
    let steps = [Impression, Click, AddCart, Order];
    let span = T0..T0 + 3_600_000;
    assert_eq!(store.funnel(&tenant, &s, &steps, 60_000, span.clone()).await.unwrap(), [1, 1, 1, 1]);
    assert_eq!(
        store.funnel(&tenant, &s, &[Order, Impression], 3_600_000, span.clone()).await.unwrap(),
        [1, 0],
        "nothing comes after the order: the parts were put back in time order"
    );
    assert_eq!(store.funnel(&tenant, &s, &steps, 60_000, T0 + 602_500..T0 + 3_600_000).await.unwrap(), [0, 0, 0, 0]);
}
