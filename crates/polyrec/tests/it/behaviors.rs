use reqwest::StatusCode;
use serde_json::json;

use crate::support::{START_MS, TestServer, config, event};

#[tokio::test]
async fn single_events_are_acknowledged_and_counted() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("hot_items", 1.0, 10)])).await;
    let mut click = event("click", "u1", "i1", "feed");
    click["timestamp"] = json!("2026-01-15T10:00:00Z");
    click["request_id"] = json!("req_1");
    click["context"] = json!({"device_type": "mobile"});
    let (status, answer) = server.post("t1", "/api/v1/behaviors", click).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert!(answer["event_id"].as_str().is_some_and(|id| !id.is_empty()));

    for kind in
        ["impression", "view", "play", "read", "learn", "like", "share", "comment", "add_cart", "order", "payment"]
    {
        let mut e = event(kind, "u1", "i1", "feed");
        e["value"] = json!(3.5);
        let (status, answer) = server.post("t1", "/api/v1/behaviors", e).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{kind}: {answer}");
    }
    server.settle().await;
    let (_, stats) = server.get("t1", "/api/v1/behaviors/stats").await;
    assert_eq!(stats, json!({"events": 12, "warehouse_events": 12, "dead_letters": 0}));
}

#[tokio::test]
async fn bad_events_get_a_code_and_a_reason() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("hot_items", 1.0, 10)])).await;
    let in_an_hour = START_MS / 1000 + 3600;
    let cases = [
        (
            json!({"event_type": "purchase", "user_id": "u", "item_id": "i", "scenario_id": "feed"}),
            "invalid_event_type",
        ),
        (
            json!({"event_type": "click", "user_id": "u", "item_id": "i", "scenario_id": "feed", "timestamp": "last week"}),
            "invalid_timestamp",
        ),
        (
            json!({"event_type": "click", "user_id": "u", "item_id": "i", "scenario_id": "feed", "timestamp": in_an_hour}),
            "invalid_timestamp",
        ),
        (json!({"event_type": "click", "user_id": "", "item_id": "i", "scenario_id": "feed"}), "invalid_user_id"),
        (
            json!({"event_type": "click", "user_id": "u", "item_id": "i", "scenario_id": "feed", "tenant_id": "other"}),
            "invalid_body",
        ),
        (json!({"event_type": "click", "user_id": "u", "scenario_id": "feed"}), "invalid_body"),
        (
            json!({"event_type": "click", "user_id": "u", "item_id": "i", "scenario_id": "feed", "value": "lots"}),
            "invalid_body",
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = server.post("t1", "/api/v1/behaviors", body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{body} -> {answer}"
        );
    }
    // A scenario that does not exist is not found, like every other reference to one.
    let body = json!({"event_type": "click", "user_id": "u", "item_id": "i", "scenario_id": "elsewhere"});
    let (status, answer) = server.post("t1", "/api/v1/behaviors", body).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{answer}");
    let response = server
        .client
        .post(format!("{}/api/v1/behaviors", server.url))
        .json(&event("click", "u", "i", "feed"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "no tenant, no event");
    let response = server
        .client
        .post(format!("{}/api/v1/behaviors", server.url))
        .header("X-Tenant-Id", "bad tenant")
        .json(&event("click", "u", "i", "feed"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (_, stats) = server.get("t1", "/api/v1/behaviors/stats").await;
    assert_eq!(stats["events"], 0, "nothing refused was stored");
}

#[tokio::test]
async fn a_batch_takes_the_valid_events_and_reports_the_others() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("hot_items", 1.0, 10)])).await;
    let events = vec![
        event("click", "u1", "i1", "feed"),
        json!({"event_type": "teleport", "user_id": "u1", "item_id": "i1", "scenario_id": "feed"}),
        event("play", "u2", "i2", "feed"),
        json!("not an object"),
        event("like", "u3", "i3", "nowhere"),
    ];
    let (status, report) = server.post("t1", "/api/v1/behaviors/batch", json!({"events": events})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["accepted"].as_u64(), report["rejected"].as_u64()), (Some(2), Some(3)));
    let errors: Vec<(u64, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [(1, "invalid_event_type"), (3, "invalid_event"), (4, "unknown_scenario")]);
    assert_eq!(report["event_ids"].as_array().unwrap().len(), 2);

    let too_many: Vec<_> = (0..10_001).map(|i| event("click", "u", &format!("i{i}"), "feed")).collect();
    let (status, answer) = server.post("t1", "/api/v1/behaviors/batch", json!({"events": too_many})).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("batch_too_large")));
    let (_, stats) = server.get("t1", "/api/v1/behaviors/stats").await;
    assert_eq!(stats["events"], 2);
}
