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

/// A client `event_id` makes sending idempotent: the same id sent again — a retry after a
/// timeout, a whole batch resent — is answered `duplicate` with the first event's id, and the
/// event is stored, counted and folded once. Ids are the tenant's own: another tenant's same id
/// is a different event.
#[tokio::test]
async fn an_event_sent_twice_with_its_event_id_is_stored_and_counted_once() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("hot_items", 1.0, 10)])).await;
    server.scenario("t2", "feed", config(&[("hot_items", 1.0, 10)])).await;
    let with_id = |id: &str, user: &str| {
        let mut e = event("click", user, "i1", "feed");
        e["event_id"] = json!(id);
        e
    };
    let batch = json!({"events": [with_id("e-1", "u1"), with_id("e-2", "u2"), event("click", "u3", "i1", "feed")]});
    let (status, first) = server.post("t1", "/api/v1/behaviors/batch", batch.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!((first["accepted"].as_u64(), first["duplicates"].as_u64()), (Some(3), Some(0)), "{first}");
    // The whole batch again (the client never saw the answer): the two with ids are duplicates,
    // the one without is a new event (nothing says it is the same).
    let (status, again) = server.post("t1", "/api/v1/behaviors/batch", batch).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!((again["accepted"].as_u64(), again["duplicates"].as_u64()), (Some(1), Some(2)), "{again}");
    for index in 0..2 {
        assert_eq!(again["results"][index]["status"], "duplicate", "{again}");
        assert_eq!(again["results"][index]["event_id"], first["results"][index]["event_id"], "the first one's id");
    }
    assert_eq!(again["results"][2]["status"], "stored", "{again}");
    // One event, sent twice.
    let (status, one) = server.post("t1", "/api/v1/behaviors", with_id("e-3", "u1")).await;
    assert_eq!((status, one["status"].as_str()), (StatusCode::ACCEPTED, Some("stored")), "{one}");
    let (status, retry) = server.post("t1", "/api/v1/behaviors", with_id("e-3", "u1")).await;
    assert_eq!((status, retry["status"].as_str()), (StatusCode::ACCEPTED, Some("duplicate")), "{retry}");
    assert_eq!(retry["event_id"], one["event_id"]);
    // One id twice in one batch: stored once, the second copy a duplicate of the first.
    let twice = json!({"events": [with_id("e-4", "u1"), with_id("e-4", "u1")]});
    let (status, report) = server.post("t1", "/api/v1/behaviors/batch", twice).await;
    assert_eq!(
        (status, report["accepted"].as_u64(), report["duplicates"].as_u64()),
        (StatusCode::OK, Some(1), Some(1))
    );
    assert_eq!(report["results"][1]["event_id"], report["results"][0]["event_id"], "{report}");
    assert_eq!(report["results"][1]["status"], "duplicate", "{report}");
    // Another tenant's e-1 is its own event.
    let (status, other) = server.post("t2", "/api/v1/behaviors", with_id("e-1", "u1")).await;
    assert_eq!((status, other["status"].as_str()), (StatusCode::ACCEPTED, Some("stored")), "{other}");
    // An id that is not one is refused with what to fix.
    let (status, bad) = server.post("t1", "/api/v1/behaviors", with_id("e:1", "u1")).await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_event_id")), "{bad}");

    // Counted and folded once: 6 events of t1 (e-1 to e-4 and the two without an id) on the bus
    // and in the warehouse, i1 clicked 6 times.
    server.settle().await;
    let (_, stats) = server.get("t1", "/api/v1/behaviors/stats").await;
    assert_eq!(stats, json!({"events": 6, "warehouse_events": 6, "dead_letters": 0}));
    let (_, item) = server.get("t1", "/api/v1/scenarios/feed/items/i1/stats").await;
    assert_eq!(item["counts"]["click_count"], 6, "{item}");
    let (_, stats) = server.get("t2", "/api/v1/behaviors/stats").await;
    assert_eq!(stats["events"], 1);
}

/// Ten requests with one `event_id` at once: one stores it, the others are told it is a
/// duplicate or still being stored (409 `event_in_flight`, to retry) — never stored twice.
#[tokio::test]
async fn concurrent_sends_of_one_event_id_store_it_once() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("hot_items", 1.0, 10)])).await;
    let mut click = event("click", "u1", "i1", "feed");
    click["event_id"] = json!("0193a9f2-7c3b-7d2e-9f00-123456789abc");
    let sends = (0..10).map(|_| server.post("t1", "/api/v1/behaviors", click.clone()));
    let answers = futures::future::join_all(sends).await;
    let mut stored = 0;
    for (status, answer) in &answers {
        match (status.as_u16(), answer["status"].as_str(), answer["code"].as_str()) {
            (202, Some("stored"), _) => stored += 1,
            (202, Some("duplicate"), _) | (409, _, Some("event_in_flight")) => {}
            other => panic!("unexpected answer {other:?}: {answer}"),
        }
    }
    assert_eq!(stored, 1, "{answers:?}");
    let (_, stats) = server.get("t1", "/api/v1/behaviors/stats").await;
    assert_eq!(stats["events"], 1);
}
