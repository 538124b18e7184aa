//! The analytics service on a hand-built set of events: exact funnel counts, dashboard totals,
//! trends, distributions and top items, bad input, and tenant isolation. (Run on the embedded
//! warehouse and, in the production pass, on ClickHouse: the same numbers.)

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{START_MS, TestServer, config};

const HOUR: i64 = 3_600_000;

fn at(kind: &str, user: &str, item: &str, ms: i64, value: Option<f64>) -> Value {
    let mut e = json!({"event_type": kind, "user_id": user, "item_id": item, "scenario_id": "feed", "timestamp": ms});
    if let Some(v) = value {
        e["value"] = json!(v);
    }
    e
}

async fn setup() -> (TestServer, i64) {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("latest", 1.0, 10)])).await;
    server.scenario("t1", "news", config(&[("latest", 1.0, 10)])).await;
    // 30 hours ago, on an hour boundary.
    let base = START_MS - 30 * HOUR - (START_MS - 30 * HOUR).rem_euclid(HOUR);
    let m = 60_000;
    let mut news = at("click", "u9", "n1", base, None);
    news["scenario_id"] = json!("news");
    let events = vec![
        // u1 goes all the way, and watches twice.
        at("impression", "u1", "a", base, None),
        at("click", "u1", "a", base + m, None),
        at("add_cart", "u1", "a", base + 2 * m, None),
        at("order", "u1", "a", base + 3 * m, Some(20.0)),
        at("play", "u1", "a", base + 4 * m, Some(30.0)),
        at("play", "u1", "b", base + HOUR + 5 * m, Some(50.0)),
        // u2 skips the cart.
        at("impression", "u2", "b", base, None),
        at("click", "u2", "b", base + m, None),
        at("order", "u2", "b", base + 2 * m, Some(5.0)),
        // u3 clicks before the impression.
        at("click", "u3", "a", base, None),
        at("impression", "u3", "a", base + m, None),
        // u4 clicks 25 hours after the impression: outside a 24-hour window.
        at("impression", "u4", "b", base, None),
        at("click", "u4", "a", base + 25 * HOUR, None),
        // u5 only puts something in the cart.
        at("add_cart", "u5", "b", base + m, None),
        news,
    ];
    server.events("t1", events).await;
    server.settle().await;
    (server, base)
}

fn query(base: i64) -> String {
    format!("from={}&to={}", base / 1000, START_MS / 1000)
}

#[tokio::test]
async fn funnels_count_users_who_went_through_the_steps_in_order_within_the_window() {
    let (server, base) = setup().await;
    let (status, funnel) =
        server.get("t1", &format!("/api/v1/analytics/funnel?scenario_id=feed&{}", query(base))).await;
    assert_eq!(status, StatusCode::OK, "{funnel}");
    let users: Vec<u64> = funnel["steps"].as_array().unwrap().iter().map(|s| s["users"].as_u64().unwrap()).collect();
    assert_eq!(users, [4, 2, 1, 1], "{funnel}");
    assert_eq!(funnel["steps"][1]["conversion"], 0.5);
    let path =
        format!("/api/v1/analytics/funnel?scenario_id=feed&steps=impression,click&window_hours=48&{}", query(base));
    let (_, wide) = server.get("t1", &path).await;
    let users: Vec<u64> = wide["steps"].as_array().unwrap().iter().map(|s| s["users"].as_u64().unwrap()).collect();
    assert_eq!(users, [4, 3], "u4's late click counts in a 48-hour window: {wide}");
}

#[tokio::test]
async fn dashboard_trends_distributions_and_top_items_add_up() {
    let (server, base) = setup().await;
    let (status, dash) =
        server.get("t1", &format!("/api/v1/analytics/dashboard?scenario_id=feed&{}", query(base))).await;
    assert_eq!(status, StatusCode::OK, "{dash}");
    assert_eq!(dash["events"], 14, "{dash}");
    assert_eq!(
        (dash["impressions"].as_u64(), dash["clicks"].as_u64(), dash["orders"].as_u64()),
        (Some(4), Some(4), Some(2))
    );
    assert_eq!(dash["ctr"], 1.0);
    assert_eq!(dash["conversion_rate"], 0.5);
    assert_eq!(dash["avg_watch_time"], 40.0);
    assert_eq!(dash["revenue"], 25.0);
    let (_, all) = server.get("t1", &format!("/api/v1/analytics/dashboard?{}", query(base))).await;
    assert_eq!(all["events"], 15, "every scenario of the tenant: {all}");

    let path = format!("/api/v1/analytics/trends?metric=click&interval=hour&scenario_id=feed&{}", query(base));
    let (status, trend) = server.get("t1", &path).await;
    assert_eq!(status, StatusCode::OK, "{trend}");
    let points = trend["points"].as_array().unwrap();
    assert_eq!(points.len(), 31, "one point per hour the window touches (30 h and 2.5 min): {trend}");
    assert_eq!(points[0]["value"], 3.0, "{trend}");
    assert_eq!(points[25]["value"], 1.0, "{trend}");
    assert_eq!(points.iter().map(|p| p["value"].as_f64().unwrap()).sum::<f64>(), 4.0);
    let (_, ctr) = server.get("t1", &format!("/api/v1/analytics/trends?metric=ctr&interval=day&{}", query(base))).await;
    assert!(
        ctr["points"].as_array().unwrap().iter().all(|p| p["value"].is_null() || p["value"].as_f64().is_some()),
        "{ctr}"
    );

    let path = format!("/api/v1/analytics/distributions?by=event_type&scenario_id=feed&{}", query(base));
    let (_, by_type) = server.get("t1", &path).await;
    assert_eq!(
        by_type["buckets"],
        json!({"add_cart": 2, "click": 4, "impression": 4, "order": 2, "play": 2}),
        "{by_type}"
    );
    let path = format!("/api/v1/analytics/top_items?scenario_id=feed&event_type=click&n=1&{}", query(base));
    let (_, top) = server.get("t1", &path).await;
    assert_eq!(top["items"], json!([{"item_id": "a", "events": 3}]), "{top}");
}

#[tokio::test]
async fn bad_analytics_queries_are_refused_and_tenants_see_only_their_own() {
    let (server, base) = setup().await;
    let q = query(base);
    for (path, code) in [
        (format!("/api/v1/analytics/trends?metric=happiness&{q}"), "unknown_metric"),
        (format!("/api/v1/analytics/trends?metric=ctr&interval=week&{q}"), "unknown_interval"),
        (format!("/api/v1/analytics/distributions?by=colour&{q}"), "unknown_dimension"),
        (format!("/api/v1/analytics/funnel?scenario_id=feed&steps=impression,hug&{q}"), "unknown_event_type"),
        (format!("/api/v1/analytics/top_items?scenario_id=feed&n=0&{q}"), "invalid_n"),
        (format!("/api/v1/analytics/dashboard?from={}&to={}", START_MS / 1000, base / 1000), "invalid_time_range"),
        (
            "/api/v1/analytics/dashboard?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z".to_owned(),
            "invalid_time_range",
        ),
    ] {
        let (status, error) = server.get("t1", &path).await;
        assert_eq!((status, error["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{path}: {error}");
    }
    let (_, theirs) = server.get("t2", &format!("/api/v1/analytics/dashboard?{q}")).await;
    assert_eq!(theirs["events"], 0, "{theirs}");
    let (status, _) = server.get("t2", &format!("/api/v1/analytics/funnel?scenario_id=feed&{q}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's scenario");
}

#[tokio::test]
async fn distributions_and_trends_cut_by_device_item_category_and_experiment_group() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("latest", 1.0, 10)])).await;
    server.items("t1", "feed", &[("a", json!({"category": "sport"})), ("b", json!({"category": "music"}))]).await;
    let base = START_MS - 3 * HOUR - (START_MS - 3 * HOUR).rem_euclid(HOUR);
    let with = |kind: &str, user: &str, item: &str, ms: i64, context: Value| {
        let mut e = at(kind, user, item, ms, None);
        e["context"] = context;
        e
    };
    server
        .events(
            "t1",
            vec![
                with(
                    "impression",
                    "u1",
                    "a",
                    base,
                    json!({"device_type": "mobile", "experiment_id": "e1", "group": "control"}),
                ),
                with(
                    "click",
                    "u1",
                    "a",
                    base + 1,
                    json!({"device_type": "mobile", "experiment_id": "e1", "group": "control"}),
                ),
                with(
                    "impression",
                    "u2",
                    "b",
                    base,
                    json!({"device_type": "desktop", "experiment_id": "e1", "group": "treatment"}),
                ),
                with("impression", "u3", "b", base + HOUR, json!({"device": "tv"})),
                with("click", "u3", "b", base + HOUR + 1, json!({"device": "tv"})),
                // Not in the catalog: no category.
                at("click", "u3", "zzz", base + HOUR + 2, None),
            ],
        )
        .await;
    server.settle().await;
    let q = query(base);
    let buckets = |by: &str| {
        let path = format!("/api/v1/analytics/distributions?by={by}&scenario_id=feed&{q}");
        let server = &server;
        async move {
            let (status, answer) = server.get("t1", &path).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            answer["buckets"].clone()
        }
    };
    assert_eq!(buckets("device").await, json!({"mobile": 2, "desktop": 1, "tv": 2}));
    assert_eq!(buckets("category").await, json!({"sport": 2, "music": 3}), "the sink stamps the catalog category");
    assert_eq!(buckets("group").await, json!({"e1/control": 2, "e1/treatment": 1}));
    assert_eq!(buckets("group&experiment_id=e1").await, json!({"control": 2, "treatment": 1}));
    assert_eq!(buckets("group&experiment_id=e2").await, json!({}));

    let trend = |filter: &str| {
        let path = format!("/api/v1/analytics/trends?metric=ctr&interval=day&scenario_id=feed&{filter}&{q}");
        let server = &server;
        async move {
            let (status, answer) = server.get("t1", &path).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            let values: Vec<f64> =
                answer["points"].as_array().unwrap().iter().filter_map(|p| p["value"].as_f64()).collect();
            values
        }
    };
    assert_eq!(trend("experiment_id=e1&group=control").await, [1.0]);
    assert_eq!(trend("experiment_id=e1&group=treatment").await, [0.0]);
    assert_eq!(trend("experiment_id=e1").await, [0.5], "every group of the experiment");
    assert_eq!(trend("device=tv").await, [1.0]);
    assert_eq!(trend("category=music").await, [0.5]);

    for (path, code) in [
        (format!("/api/v1/analytics/trends?metric=ctr&device=tv&category=music&{q}"), "too_many_filters"),
        (format!("/api/v1/analytics/trends?metric=ctr&group=control&{q}"), "invalid_filter"),
        (format!("/api/v1/analytics/distributions?by=device&experiment_id=e1&{q}"), "invalid_filter"),
    ] {
        let (status, error) = server.get("t1", &path).await;
        assert_eq!((status, error["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{path}: {error}");
    }
    let (_, theirs) = server.get("t2", &format!("/api/v1/analytics/distributions?by=device&{q}")).await;
    assert_eq!(theirs["buckets"], json!({}), "another tenant sees none of it");
}
