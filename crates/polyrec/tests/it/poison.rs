//! One tenant's poison cannot stop another's events: values out of bounds are refused at the
//! edge, and events on the bus that no job can apply (accepted before a bound existed, or
//! written by another producer) go to their tenant's dead letters while every job moves on.

use polyrec_core::{DeadLetter, Event, EventType, ItemId, ScenarioId, TenantId, UserId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestServer, config, event};
use polyrec_core::{Quota, TenantStatus};
use polyrec_server::ServerConfig;
use polyrec_server::config::TenantEntry;

/// An event as the behavior service would have stamped it, but with any `value`: what an older
/// release or another producer may have left on the bus.
fn raw_event(server: &TestServer, tenant: &str, user: &str, item: &str, value: f64) -> Event {
    Event {
        event_id: uuid::Uuid::now_v7().to_string(),
        tenant_id: TenantId::parse(tenant).unwrap(),
        scenario_id: ScenarioId::parse("s").unwrap(),
        user_id: UserId::parse(user).unwrap(),
        item_id: ItemId::parse(item).unwrap(),
        event_type: EventType::Play,
        timestamp_ms: server.app.now_ms(),
        received_ms: server.app.now_ms(),
        scenario_incarnation: 0,
        request_id: None,
        value: Some(value),
        context: None,
        replay_for: None,
    }
}

async fn setup(server: &TestServer, tenant: &str) {
    server.scenario(tenant, "s", config(&[("hot_items", 1.0, 10)])).await;
    server.items(tenant, "s", &[("i1", json!({"category": "music"})), ("i2", json!({"category": "news"}))]).await;
}

async fn dead_letters(server: &TestServer, tenant: &str, query: &str) -> Vec<Value> {
    let (status, body) = server.get(tenant, &format!("/api/v1/behaviors/dead_letters{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["dead_letters"].as_array().unwrap().clone()
}

#[tokio::test]
async fn out_of_range_values_are_refused_at_the_edge_with_the_bound() {
    let server = TestServer::start().await;
    setup(&server, "evil").await;
    for value in [1.7e308, -1.7e308, 1e13] {
        let mut poison = event("play", "u1", "i1", "s");
        poison["value"] = json!(value);
        let (status, body) = server.post("evil", "/api/v1/behaviors", poison.clone()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_value")),
            "{body}"
        );
        assert!(body["message"].as_str().unwrap().contains("1e12"), "the message states the bound: {body}");
        let (status, report) = server.post("evil", "/api/v1/behaviors/batch", json!({"events": [poison]})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (report["accepted"].as_u64(), report["errors"][0]["code"].as_str()),
            (Some(0), Some("invalid_value"))
        );
    }
    let mut fine = event("play", "u1", "i1", "s");
    fine["value"] = json!(1e12);
    assert_eq!(server.post("evil", "/api/v1/behaviors", fine).await.0, StatusCode::ACCEPTED);

    // A context nested deeper than 8 levels.
    let mut deep = json!(1);
    for _ in 0..9 {
        deep = json!({"a": deep});
    }
    let mut nested = event("click", "u1", "i1", "s");
    nested["context"] = deep;
    let (status, body) = server.post("evil", "/api/v1/behaviors", nested).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_context")), "{body}");

    // A key with a NUL, which no MongoDB document (a dead letter of the event) can hold.
    let mut nul = event("click", "u1", "i1", "s");
    nul["context"] = json!({"page": {"x\u{0}y": 1}});
    let (status, body) = server.post("evil", "/api/v1/behaviors", nul).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_context")), "{body}");
}

/// The reproduction of the issue: +1.7e308 twice then −1.7e308 twice for one user of `evil`,
/// here put straight on the bus (the edge refuses them now). Before, the warehouse sink retried
/// the batch for ever and `holdout`'s events never reached the warehouse.
#[tokio::test]
async fn poison_on_the_bus_is_dead_lettered_and_other_tenants_flow_on() {
    let server = TestServer::start().await;
    setup(&server, "evil").await;
    setup(&server, "holdout").await;
    server.events("evil", vec![event("click", "u1", "i1", "s")]).await;
    let poison: Vec<Event> =
        [1.7e308, 1.7e308, -1.7e308, -1.7e308].iter().map(|&v| raw_event(&server, "evil", "u1", "i2", v)).collect();
    let poison_ids: Vec<String> = poison.iter().map(|e| e.event_id.clone()).collect();
    server.app.stores().bus.append(poison).await.unwrap();
    server.events("holdout", vec![event("click", "h1", "i1", "s"), event("play", "h1", "i2", "s")]).await;
    server.settle().await;

    let (_, stats) = server.get("holdout", "/api/v1/behaviors/stats").await;
    assert_eq!(stats["events"], stats["warehouse_events"], "holdout's events all reached the warehouse: {stats}");
    assert_eq!(stats["dead_letters"], 0, "{stats}");
    assert!(dead_letters(&server, "holdout", "").await.is_empty(), "another tenant's dead letters are not listed");

    // The profile job closes u1's window when the tenant has been idle a while: the profile then
    // reads (it answered 500, a corrupt document, when the poison was folded in).
    server.clock.advance_ms(11_000);
    server.eventually("evil", "/api/v1/scenarios/s/users/u1/profile", |status, _| status == StatusCode::OK).await;

    // Every job dead-lettered the four events, each once.
    let letters = dead_letters(&server, "evil", "?limit=1000").await;
    assert_eq!(letters.len(), 4 * polyrec_server::jobs::STREAM_JOBS.len(), "{letters:?}");
    let sink = dead_letters(&server, "evil", "?job=warehouse_sink").await;
    let mut ids: Vec<&str> = sink.iter().map(|l| l["event"]["event_id"].as_str().unwrap()).collect();
    ids.sort();
    let mut expected: Vec<&str> = poison_ids.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(ids, expected);
    assert!(sink[0]["error"].as_str().unwrap().contains("not a finite number within"), "{}", sink[0]);
    let (_, stats) = server.get("evil", "/api/v1/behaviors/stats").await;
    assert_eq!(stats["dead_letters"], letters.len(), "{stats}");
    // Applied + dead-lettered = on the bus, for the warehouse sink.
    assert_eq!(stats["warehouse_events"].as_u64().unwrap() + sink.len() as u64, stats["events"].as_u64().unwrap());

    // Pages, by cursor.
    let (_, first) = server.get("evil", "/api/v1/behaviors/dead_letters?limit=5").await;
    assert_eq!(first["dead_letters"].as_array().unwrap().len(), 5);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = dead_letters(&server, "evil", &format!("?limit=1000&cursor={}", urlencode(cursor))).await;
    assert_eq!(rest.len(), letters.len() - 5);
    let (status, body) = server.get("evil", "/api/v1/behaviors/dead_letters?job=nope").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_job")), "{body}");
}

/// An event whose context has a key with a NUL (refused at the edge now; here put straight on
/// the bus, as one from before the bound or from another producer) and a value no job may apply.
/// Its dead letter could not be written to MongoDB (keys are C strings), and every job retried
/// the batch for ever, for every tenant of the partition. It is kept with the key made storable.
#[tokio::test]
async fn a_dead_letter_with_a_key_its_store_cannot_hold_stalls_no_job() {
    let server = TestServer::start().await;
    setup(&server, "evil").await;
    setup(&server, "holdout").await;
    let mut poison = raw_event(&server, "evil", "u1", "i2", f64::MAX);
    poison.context = Some(json!({"page": {"x\u{0}y": 1}}).as_object().unwrap().clone());
    server.app.stores().bus.append(vec![poison]).await.unwrap();
    server.events("holdout", vec![event("click", "h1", "i1", "s")]).await;
    server.settle().await;
    let (_, stats) = server.get("holdout", "/api/v1/behaviors/stats").await;
    assert_eq!(stats["events"], stats["warehouse_events"], "holdout's events reached the warehouse: {stats}");
    let letters = dead_letters(&server, "evil", "?job=warehouse_sink").await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    // As it was where the store can keep it (SQLite's JSON), the NUL replaced where it cannot.
    let context = &letters[0]["event"]["context"];
    assert!([json!({"page": {"x\u{0}y": 1}}), json!({"page": {"x\u{fffd}y": 1}})].contains(context), "{}", letters[0]);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A replay puts the event back on the bus for the one job that failed on it: that job applies
/// it, the others skip it (they applied it the first time).
#[tokio::test]
async fn a_replayed_dead_letter_reaches_only_the_job_that_failed_on_it() {
    let server = TestServer::start().await;
    setup(&server, "t").await;
    server.events("t", vec![event("click", "u1", "i1", "s")]).await;
    server.settle().await;
    let (_, before) = server.get("t", "/api/v1/behaviors/stats").await;
    let (_, stats_before) = server.get("t", "/api/v1/scenarios/s/items/i1/stats").await;

    // As if the warehouse sink had failed on a click that every other job applied.
    let mut clicked = raw_event(&server, "t", "u2", "i1", 1.0);
    clicked.event_type = EventType::Click;
    clicked.value = None;
    let letter = DeadLetter::new("warehouse_sink", 99, clicked, "a bug since fixed", server.app.now_ms());
    server.app.stores().documents.put_dead_letters(&[letter]).await.unwrap();
    assert_eq!(dead_letters(&server, "t", "").await.len(), 1);

    let (status, other) = server.post("other", "/api/v1/behaviors/dead_letters/replay", json!({})).await;
    assert_eq!((status, other["replayed"].as_u64()), (StatusCode::OK, Some(0)), "another tenant replays none of t's");
    let (status, report) =
        server.post("t", "/api/v1/behaviors/dead_letters/replay", json!({"job": "warehouse_sink"})).await;
    assert_eq!((status, report["replayed"].as_u64()), (StatusCode::OK, Some(1)), "{report}");
    server.settle().await;
    assert!(dead_letters(&server, "t", "").await.is_empty(), "replayed and applied: no dead letter left");
    let (_, after) = server.get("t", "/api/v1/behaviors/stats").await;
    assert_eq!(
        after["warehouse_events"].as_u64().unwrap(),
        before["warehouse_events"].as_u64().unwrap() + 1,
        "the warehouse has the replayed event: {before} → {after}"
    );
    let (_, stats_after) = server.get("t", "/api/v1/scenarios/s/items/i1/stats").await;
    assert_eq!(stats_before, stats_after, "the hot-score job skipped the replay: it had counted the click");

    let (status, body) = server.post("t", "/api/v1/behaviors/dead_letters/replay", json!({"limit": 0})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_limit")), "{body}");
}

/// Replayed events go back on the bus like new ones, so they are charged to the tenant's event
/// rate: a tenant cannot replay its dead letters past it in a loop.
#[tokio::test]
async fn replayed_events_are_charged_to_the_event_rate() {
    let mut settings = ServerConfig::default();
    let quota = Quota { events_per_second: 2.0, ..Quota::default() };
    settings
        .tenancy
        .tenants
        .insert("t".into(), TenantEntry { name: "t".into(), status: TenantStatus::Active, quota: Some(quota) });
    let server = TestServer::start_with(settings).await;
    setup(&server, "t").await;
    let letters: Vec<DeadLetter> = (0..3)
        .map(|i| {
            let event = raw_event(&server, "t", &format!("u{i}"), "i1", 1.0);
            DeadLetter::new("warehouse_sink", i, event, "a bug since fixed", server.app.now_ms())
        })
        .collect();
    server.app.stores().documents.put_dead_letters(&letters).await.unwrap();
    // The clock does not move: the bucket holds 2 events.
    let (status, body) = server.post("t", "/api/v1/behaviors/dead_letters/replay", json!({"limit": 2})).await;
    assert_eq!((status, body["replayed"].as_u64()), (StatusCode::OK, Some(2)), "{body}");
    let (status, body) = server.post("t", "/api/v1/behaviors/dead_letters/replay", json!({})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{body}");
    assert_eq!(dead_letters(&server, "t", "").await.len(), 1, "the refused replay took nothing off");
}
