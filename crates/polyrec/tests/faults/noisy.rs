//! A noisy neighbour, with a real `polyrec serve` process: while tenant B ingests and asks for
//! recommendations, tenant A sends ten times its event quota, bodies at and over the size limit,
//! long analytics queries, and poison events straight onto the bus (as an older release or
//! another producer would have left them). B loses nothing — its warehouse count reaches its
//! acknowledged count — and none of B's answers fail; A's poison is in A's dead letters. On the
//! embedded stores and on MongoDB + Redis + Kafka + ClickHouse.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use polyrec_core::{Event, EventType, ItemId, ScenarioId, TenantId, UserId};
use polyrec_storage::EventBus;
use serde_json::{Value, json};

use crate::support::*;

const LIMITS: &str = "max_body_bytes = 1048576\n\n\
    [limits]\nmax_concurrent_requests = 256\n\n\
    [tenancy.tenants.abuser]\nquota = { events_per_second = 200 }\n";

fn poison(tenant: &str, n: usize) -> Vec<Event> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    (0..n)
        .map(|i| Event {
            event_id: uuid::Uuid::now_v7().to_string(),
            tenant_id: TenantId::parse(tenant).unwrap(),
            scenario_id: ScenarioId::parse("feed").unwrap(),
            user_id: UserId::parse("a-u1").unwrap(),
            item_id: ItemId::parse("a-i1").unwrap(),
            event_type: EventType::Play,
            timestamp_ms: now,
            received_ms: now,
            scenario_incarnation: 0,
            request_id: None,
            value: Some(if i % 2 == 0 { 1.7e308 } else { -1.7e308 }),
            context: None,
            replay_for: None,
        })
        .collect()
}

async fn noisy_neighbour(config: &Path, dir: &Path, bus: Arc<dyn EventBus>) {
    let (_serve, url) = serve(config, &dir.join("serve.log"), &[]).await;
    let api = Api::new(&url);
    for tenant in ["abuser", "bystander"] {
        api.scenario(tenant, "feed").await;
        let (status, body) =
            api.post(tenant, "/api/v1/scenarios/feed/items", json!({"item_id": "i1", "metadata": {}})).await;
        assert_eq!(status, 201, "{body}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU64::new(0));
    // What each side has got through so far: the abuse runs until every kind of it has happened
    // several times beside B's traffic, not for a fixed time.
    let (recommended, refused, bodies_sent, analysed) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );

    // B: batches of events and recommendations, none of which may fail.
    let bystander_ingest = {
        let (api, stop, acknowledged) = (api.clone(), stop.clone(), acknowledged.clone());
        tokio::spawn(async move {
            let mut batch = 0;
            while !stop.load(Ordering::SeqCst) {
                let events: Vec<Value> = (0..50)
                    .map(|i| {
                        json!({"event_type": "click", "user_id": format!("b-u{}", i % 13),
                                    "item_id": "i1", "scenario_id": "feed"})
                    })
                    .collect();
                let (status, report) =
                    api.post("bystander", "/api/v1/behaviors/batch", json!({"events": events})).await;
                assert_eq!(status, 200, "B's batch {batch} failed: {report}");
                acknowledged.fetch_add(report["accepted"].as_u64().unwrap(), Ordering::SeqCst);
                batch += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            batch
        })
    };
    let bystander_recommend = {
        let (api, stop, recommended) = (api.clone(), stop.clone(), recommended.clone());
        tokio::spawn(async move {
            let mut answers = 0;
            while !stop.load(Ordering::SeqCst) {
                let (status, body) = api
                    .call_as("bystander", "b-u1", "/api/v1/recommend", json!({"scenario_id": "feed", "count": 5}))
                    .await;
                assert_eq!(status, 200, "B's recommend failed: {body}");
                answers += 1;
                recommended.fetch_add(1, Ordering::SeqCst);
            }
            answers
        })
    };

    // A: ten times its quota (200 events/s) from eight senders.
    let mut abuse = Vec::new();
    for sender in 0..8 {
        let (api, stop, refused) = (api.clone(), stop.clone(), refused.clone());
        abuse.push(tokio::spawn(async move {
            let mut statuses = std::collections::BTreeMap::new();
            while !stop.load(Ordering::SeqCst) {
                let events: Vec<Value> = (0..250)
                    .map(|i| {
                        json!({"event_type": "click", "user_id": format!("a-u{sender}-{i}"),
                                    "item_id": "i1", "scenario_id": "feed"})
                    })
                    .collect();
                let (status, _) = api.post("abuser", "/api/v1/behaviors/batch", json!({"events": events})).await;
                *statuses.entry(status).or_insert(0u64) += 1;
                if status == 429 {
                    refused.fetch_add(1, Ordering::SeqCst);
                }
            }
            statuses
        }));
    }
    // A: bodies at and over the 1 MiB limit.
    let bodies = {
        let (api, stop, bodies_sent) = (api.clone(), stop.clone(), bodies_sent.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                for size in [1_048_576usize, 1_048_576 + 1, 4 * 1_048_576] {
                    let padding = "x".repeat(size - 25); // the body is exactly `size` bytes
                    let response = api
                        .client
                        .post(format!("{}/api/v1/behaviors/batch", api.url))
                        .header("X-Tenant-Id", "abuser")
                        .header("Content-Type", "application/json")
                        // Each on its own connection: the server closes one whose body it
                        // refused unread, and a pooled connection could be reused as it closes.
                        .header("Connection", "close")
                        .body(format!("{{\"events\": [], \"pad\": \"{padding}\"}}"))
                        .send()
                        .await;
                    statuses.push((size, response.map(|r| r.status().as_u16()).unwrap_or(0)));
                    bodies_sent.fetch_add(1, Ordering::SeqCst);
                }
            }
            statuses
        })
    };
    // A: long analytics queries.
    let analytics = {
        let (api, stop, analysed) = (api.clone(), stop.clone(), analysed.clone());
        tokio::spawn(async move {
            // The longest window the analytics take: 366 days, hour by hour.
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
            let from = now - 365 * 86_400_000;
            let mut answered = 0;
            while !stop.load(Ordering::SeqCst) {
                for path in [
                    format!(
                        "/api/v1/analytics/funnel?scenario_id=feed&steps=impression,click,add_cart,order&window_hours=720&from={from}"
                    ),
                    format!("/api/v1/analytics/trends?metric=events&interval=hour&from={from}"),
                    format!("/api/v1/analytics/distributions?by=hour_of_day&from={from}"),
                ] {
                    let (status, body) = api.get("abuser", &path).await;
                    assert_eq!(status, 200, "{path}: {body}");
                    answered += 1;
                    analysed.fetch_add(1, Ordering::SeqCst);
                }
            }
            answered
        })
    };
    // A: poison straight onto the bus.
    bus.append(poison("abuser", 40)).await.unwrap();

    eventually(Duration::from_secs(120), "every kind of abuse beside B's traffic, several times", || async {
        let at_least = |counter: &AtomicU64, n| counter.load(Ordering::SeqCst) >= n;
        (at_least(&acknowledged, 1_000)
            && at_least(&recommended, 50)
            && at_least(&refused, 20)
            && at_least(&bodies_sent, 9)
            && at_least(&analysed, 6))
        .then_some(())
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    let batches = bystander_ingest.await.unwrap();
    let answers = bystander_recommend.await.unwrap();
    let mut abuse_statuses = std::collections::BTreeMap::new();
    for sender in abuse {
        for (status, n) in sender.await.unwrap() {
            *abuse_statuses.entry(status).or_insert(0) += n;
        }
    }
    let body_statuses = bodies.await.unwrap();
    assert!(analytics.await.unwrap() > 0, "A's analytics queries ran");
    assert!(batches > 0 && answers > 0, "B was served: {batches} batches, {answers} recommendations");
    assert!(abuse_statuses.get(&429).copied().unwrap_or(0) > 0, "A was rate-limited: {abuse_statuses:?}");
    assert!(body_statuses.iter().any(|(_, s)| *s == 413), "A's bodies over the limit were refused: {body_statuses:?}");
    // The server answers 413 as soon as a body passes the limit and closes the connection, so a
    // client still sending the rest of a 4 MiB body may see the reset instead of the answer.
    assert!(
        body_statuses.iter().all(|(size, s)| *s < 500 && (*s != 0 || *size > 1_048_576)),
        "no 5xx, and no connection dropped for a body within the limit: {body_statuses:?}"
    );

    // B loses nothing: everything acknowledged reaches the warehouse.
    let expected = acknowledged.load(Ordering::SeqCst);
    eventually(Duration::from_secs(90), "B's events in the warehouse", || async {
        (api.warehouse_events("bystander").await == expected).then_some(())
    })
    .await;
    // A's poison is in A's dead letters (each job's), and none is in B's.
    let letters = eventually(Duration::from_secs(60), "A's dead letters", || async {
        let (status, body) = api.get("abuser", "/api/v1/behaviors/dead_letters?job=warehouse_sink&limit=1000").await;
        assert_eq!(status, 200, "{body}");
        let letters = body["dead_letters"].as_array().unwrap().clone();
        (letters.len() == 40).then_some(letters)
    })
    .await;
    assert!(letters.iter().all(|l| l["tenant_id"] == "abuser"));
    let (_, b_letters) = api.get("bystander", "/api/v1/behaviors/dead_letters").await;
    assert!(b_letters["dead_letters"].as_array().unwrap().is_empty(), "{b_letters}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_neighbour_on_the_embedded_stores_costs_the_other_tenant_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let config = dir.path().join("polyrec.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n{LIMITS}", data)).unwrap();
    // The test writes the poison into the server's own event log file (SQLite: a second writer
    // waits for the lock), as another producer would.
    let bus: Arc<dyn EventBus> = Arc::new(polyrec_storage::SqliteEventBus::open(&data.join("events.db")).unwrap());
    noisy_neighbour(&config, dir.path(), bus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_neighbour_on_the_production_engines_costs_the_other_tenant_nothing() {
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = storage.config_file(dir.path());
    let stored = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{LIMITS}\n{stored}")).unwrap();
    let bus: Arc<dyn EventBus> = Arc::new(
        polyrec_storage::production::kafka::KafkaBus::connect(
            polyrec_storage::production::kafka::KafkaSettings::from_url(&storage.bus).unwrap(),
        )
        .await
        .unwrap(),
    );
    noisy_neighbour(&config, dir.path(), bus).await;
}
