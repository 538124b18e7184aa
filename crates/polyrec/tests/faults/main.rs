//! Faults on the production engines (MongoDB, Redis, Kafka, ClickHouse), with real processes: the
//! built `polyrec` binary as `serve` and `worker`, killed and restarted; servers of the tests' own
//! stopped and started. Each test checks that nothing acknowledged is lost and nothing is counted
//! twice, by querying the stores directly where it can.
//!
//! Needs the servers of `scripts/servers.sh` (`POLYREC_TEST_*` variables); skipped without them
//! unless `POLYREC_REQUIRE_SERVERS` is set.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::*;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Events of a batch: users `u0..u{users}`, items `i0..i9`; every third is an impression, the
/// rest clicks; all at `ts`, so every hot score is exactly (clicks on the item) × click weight.
fn batch(batch: usize, size: usize, ts: i64) -> Vec<Value> {
    (0..size)
        .map(|i| {
            let n = batch * size + i;
            let kind = if n.is_multiple_of(3) { "impression" } else { "click" };
            json!({"event_type": kind, "user_id": format!("u{}", n % 97), "item_id": format!("i{}", n % 10),
                   "scenario_id": "feed", "timestamp": ts})
        })
        .collect()
}

/// What `batch` sends over `batches` batches: (impressions, clicks, clicks per item).
fn expected(batches: usize, size: usize) -> (u64, u64, BTreeMap<String, u64>) {
    let (mut impressions, mut clicks, mut per_item) = (0, 0, BTreeMap::new());
    for n in 0..batches * size {
        if n.is_multiple_of(3) {
            impressions += 1;
        } else {
            clicks += 1;
            *per_item.entry(format!("i{}", n % 10)).or_insert(0) += 1;
        }
    }
    (impressions, clicks, per_item)
}

async fn send(api: &Api, tenant: &str, events: Vec<Value>) -> (u16, Value) {
    api.post(tenant, "/api/v1/behaviors/batch", json!({"events": events})).await
}

/// The partitions a worker's log says it was given for `job`.
fn assigned(log: &Path, job: &str) -> HashSet<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            let fields = &line["fields"];
            fields["job"] == job && fields["message"].as_str().is_some_and(|m| m.starts_with("partition assigned"))
        })
        .filter_map(|line| line["fields"]["partition"].as_str().map(str::to_owned))
        .collect()
}

fn log_mentions(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().matches(needle).count()
}

/// Two workers split the partitions; one is killed with SIGKILL in the middle of the stream, the
/// other takes its partitions over, the killed one comes back: the warehouse rows, the
/// real-time counters and the hot set equal exactly what was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_split_partitions_and_a_killed_worker_loses_and_doubles_nothing() {
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = storage.config_file(dir.path());
    let (_serve, url) = serve(&config, &dir.path().join("serve.log"), &["--no-stream-jobs"]).await;
    let api = Api::new(&url);
    api.scenario("w", "feed").await;
    let (log_a, log_b) = (dir.path().join("worker-a.log"), dir.path().join("worker-b.log"));
    let worker_a = polyrec(&["worker", "--listen", "127.0.0.1:0"], &config, &log_a);
    let _worker_b = polyrec(&["worker", "--listen", "127.0.0.1:0"], &config, &log_b);

    let ts = now_ms() - 60_000;
    let (batches, size) = (40, 250);
    for b in 0..batches / 2 {
        let (status, report) = send(&api, "w", batch(b, size, ts)).await;
        assert_eq!((status, report["accepted"].as_u64()), (200, Some(size as u64)), "{report}");
    }
    // Both workers hold partitions of the tenant's topic (4 partitions, 2 members): each has
    // instances for the partitions it was given.
    eventually(Duration::from_secs(60), "the first half in the warehouse", || async {
        (api.warehouse_events("w").await >= (batches / 2 * size) as u64).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Killed while the stream flows.
    let sender = {
        let api = Api::new(&url);
        tokio::spawn(async move {
            for b in batches / 2..batches {
                let (status, report) = send(&api, "w", batch(b, size, ts)).await;
                assert_eq!((status, report["accepted"].as_u64()), (200, Some(size as u64)), "{report}");
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held_by_a = assigned(&log_a, "warehouse_sink");
    worker_a.kill9();
    sender.await.unwrap();
    let sent = (batches * size) as u64;
    // Worker b takes a's partitions over (after the session timeout) and everything lands.
    eventually(Duration::from_secs(90), "the warehouse to hold every event", || async {
        (api.warehouse_events("w").await >= sent).then_some(())
    })
    .await;
    // The partitions were split, and b took a's over.
    let held_by_b = assigned(&log_b, "warehouse_sink");
    assert!(!held_by_a.is_empty(), "worker a held partitions before it was killed");
    assert!(held_by_a.is_subset(&held_by_b), "b took over a's partitions {held_by_a:?}; b held {held_by_b:?}");
    // a comes back: the group rebalances again, replays from the committed offsets; no change.
    let _worker_a = polyrec(&["worker", "--listen", "127.0.0.1:0"], &config, &log_a);
    eventually(Duration::from_secs(60), "the restarted worker to be given partitions", || async {
        (log_mentions(&log_a, "partition assigned") > 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (impressions, clicks, per_item) = expected(batches, size);
    let rows = storage.clickhouse("SELECT count(), uniqExact(event_id) FROM user_behaviors").await;
    assert_eq!(rows.trim(), format!("{sent}\t{sent}"), "ClickHouse rows: every event once");
    assert_eq!(api.warehouse_events("w").await, sent);
    let counters = eventually(Duration::from_secs(30), "the real-time counters", || async {
        let (_, metrics) = api.get("w", "/api/v1/scenarios/feed/metrics/realtime").await;
        let counters = &metrics["counters"];
        (counters["impressions"].as_f64() == Some(impressions as f64)
            && counters["clicks"].as_f64() == Some(clicks as f64))
        .then(|| counters.clone())
    })
    .await;
    assert_eq!(counters["impressions"].as_f64(), Some(impressions as f64));
    let click_weight = polyrec_core::EventType::Click.interest_weight();
    let (_, hot) = api.get("w", "/api/v1/scenarios/feed/hot?n=20").await;
    let hot: HashMap<String, f64> = hot["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["item_id"].as_str().unwrap().to_owned(), i["hotness"].as_f64().unwrap()))
        .collect();
    assert_eq!(hot.len(), per_item.len(), "{hot:?}");
    for (item, n) in &per_item {
        let score = hot[item];
        assert!((score - *n as f64 * click_weight).abs() < 1e-6, "{item}: hot {score}, sent {n} clicks");
        // `item:stats:{tenant}:{item}` counted every click once.
        let (_, stats) = api.get("w", &format!("/api/v1/scenarios/feed/items/{item}/stats")).await;
        assert_eq!(stats["counts"]["click_count"].as_u64(), Some(*n), "{item}: {stats}");
    }
}

/// ClickHouse goes down during ingestion and comes back: the sink holds its offsets, retries,
/// and catches up; every event is in the warehouse once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_catches_up_after_clickhouse_returns() {
    let Some(mut storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let clickhouse = clickhouse_server(&dir.path().join("clickhouse"), http_port).await;
    storage.clickhouse_http = format!("http://127.0.0.1:{http_port}");
    storage.warehouse = format!("clickhouse://127.0.0.1:{http_port}/{}", storage.clickhouse_db);
    let config = storage.config_file(dir.path());
    let (_serve, url) = serve(&config, &dir.path().join("serve.log"), &[]).await;
    let api = Api::new(&url);
    api.scenario("c", "feed").await;
    let ts = now_ms() - 60_000;
    for b in 0..5 {
        assert_eq!(send(&api, "c", batch(b, 200, ts)).await.0, 200);
    }
    eventually(Duration::from_secs(60), "the first events in the warehouse", || async {
        (api.warehouse_events("c").await == 1_000).then_some(())
    })
    .await;
    clickhouse.stop();
    // Ingestion does not need the warehouse: the bus takes every event.
    for b in 5..15 {
        assert_eq!(send(&api, "c", batch(b, 200, ts)).await.0, 200);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _clickhouse = clickhouse_server(&dir.path().join("clickhouse"), http_port).await;
    eventually(Duration::from_secs(90), "the sink to catch up", || async {
        (api.warehouse_events("c").await >= 3_000).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rows = storage.clickhouse("SELECT count(), uniqExact(event_id) FROM user_behaviors").await;
    assert_eq!(rows.trim(), "3000\t3000", "every event once");
}

/// Redis stops: recommend still answers from the document store and the channels that do not
/// need Redis, marked degraded; when Redis is back, it answers whole again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommend_degrades_without_redis_and_recovers() {
    let Some(mut storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let redis = redis_server(port, dir.path());
    storage.realtime = format!("redis://127.0.0.1:{port}/");
    eventually(Duration::from_secs(10), "redis to listen", || async move {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    })
    .await;
    let config = storage.config_file(dir.path());
    let (_serve, url) = serve(&config, &dir.path().join("serve.log"), &[]).await;
    let api = Api::new(&url);
    api.scenario("r", "feed").await;
    let items: Vec<Value> =
        (0..5).map(|i| json!({"item_id": format!("i{i}"), "metadata": {"category": "c"}})).collect();
    for item in items {
        assert_eq!(api.post("r", "/api/v1/scenarios/feed/items", item).await.0, 201);
    }
    let ask = || async {
        let response = api
            .client
            .post(format!("{}/api/v1/recommend", api.url))
            .header("X-Tenant-Id", "r")
            .header("X-User-Id", "u1")
            .json(&json!({"scenario_id": "feed", "count": 3}))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json::<Value>().await.unwrap())
    };
    let (status, answer) = ask().await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["degraded_channels"], json!([]), "{answer}");

    redis.kill9();
    let (status, answer) = ask().await;
    assert_eq!(status, 200, "recommend answers without Redis: {answer}");
    assert_eq!(answer["items"].as_array().unwrap().len(), 3, "{answer}");
    let degraded: Vec<&str> =
        answer["degraded_channels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(degraded.contains(&"realtime_store") && degraded.contains(&"hot_items"), "{answer}");

    let _redis = redis_server(port, dir.path());
    eventually(Duration::from_secs(30), "recommend to answer whole again", || async {
        let (status, answer) = ask().await;
        (status == 200 && answer["degraded_channels"] == json!([])).then_some(())
    })
    .await;
}

/// The broker stops answering: the behavior endpoint refuses with 503 and Retry-After (never a
/// silent drop); when it answers again, every acknowledged event arrives, once.
///
/// The broker here keeps its log in memory, so "stopped" is SIGSTOP (a broker that does not
/// answer, as in a network partition), not an exit that would lose its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaviors_are_refused_while_the_broker_is_down_and_none_acknowledged_is_lost() {
    let Some(mut storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let broker = kafka_broker(port).await;
    storage.bus = format!(
        "kafka://127.0.0.1:{port}?prefix={}.&partitions=4&session_timeout_ms=6000&message_timeout_ms=2000",
        storage.prefix()
    );
    let config = storage.config_file(dir.path());
    let (_serve, url) = serve(&config, &dir.path().join("serve.log"), &[]).await;
    let api = Api::new(&url);
    api.scenario("k", "feed").await;
    let ts = now_ms() - 60_000;
    let mut acknowledged: HashSet<String> = HashSet::new();
    let mut take = |report: &Value| {
        for id in report["event_ids"].as_array().unwrap() {
            acknowledged.insert(id.as_str().unwrap().to_owned());
        }
    };
    for b in 0..4 {
        let (status, report) = send(&api, "k", batch(b, 100, ts)).await;
        assert_eq!(status, 200, "{report}");
        take(&report);
    }
    broker.signal("STOP");
    let (status, body, retry_after) = api
        .call(reqwest::Method::POST, "k", "/api/v1/behaviors/batch", Some(json!({"events": batch(4, 100, ts)})))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "unavailable", "{body}");
    assert!(retry_after.is_some_and(|s| s.parse::<u32>().is_ok()), "Retry-After is set");
    broker.signal("CONT");
    for b in 5..9 {
        let (status, report) = eventually(Duration::from_secs(30), "the broker to take events again", || async {
            let (status, report) = send(&api, "k", batch(b, 100, ts)).await;
            (status == 200).then_some((status, report))
        })
        .await;
        assert_eq!(status, 200);
        take(&report);
    }
    assert_eq!(acknowledged.len(), 800);
    let stored = eventually(Duration::from_secs(90), "every acknowledged event in the warehouse", || async {
        let ids = storage.clickhouse("SELECT event_id FROM user_behaviors").await;
        let ids: Vec<String> = ids.lines().map(str::to_owned).collect();
        let set: HashSet<&String> = ids.iter().collect();
        acknowledged.iter().all(|id| set.contains(id)).then_some(ids)
    })
    .await;
    let unique: HashSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "no event is stored twice");
    drop(broker);
}

/// Two tenants send at once: their topics, warehouse rows, Redis keys and documents never mix —
/// checked in each store directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_at_once_never_mix_in_any_store() {
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = storage.config_file(dir.path());
    let (_serve, url) = serve(&config, &dir.path().join("serve.log"), &[]).await;
    let api = Api::new(&url);
    let tenants = ["alpha", "beta"];
    for tenant in tenants {
        api.scenario(tenant, "feed").await;
    }
    let ts = now_ms() - 60_000;
    let senders: Vec<_> = tenants
        .into_iter()
        .enumerate()
        .map(|(t, tenant)| {
            let api = Api::new(&url);
            tokio::spawn(async move {
                for b in 0..6 {
                    // Each tenant has its own items and users, named after it.
                    let events: Vec<Value> = (0..100)
                        .map(|i| json!({"event_type": "click", "user_id": format!("{tenant}-u{}", i % 7),
                                        "item_id": format!("{tenant}-i{}", (b + i) % 5 + t), "scenario_id": "feed", "timestamp": ts}))
                        .collect();
                    assert_eq!(send(&api, tenant, events).await.0, 200);
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    for tenant in tenants {
        eventually(Duration::from_secs(90), "the warehouse", || async {
            (api.warehouse_events(tenant).await == 600).then_some(())
        })
        .await;
    }
    // ClickHouse: each tenant's rows hold only its own users and items.
    let rows = storage
        .clickhouse("SELECT tenant_id, count(), countIf(NOT startsWith(user_id, tenant_id) OR NOT startsWith(item_id, tenant_id)) FROM user_behaviors GROUP BY tenant_id ORDER BY tenant_id")
        .await;
    assert_eq!(rows.trim(), "alpha\t600\t0\nbeta\t600\t0");
    // Kafka: one topic per tenant, each holding only its tenant's events.
    let bus = polyrec_storage::production::kafka::KafkaBus::connect(
        polyrec_storage::production::kafka::KafkaSettings::from_url(&storage.bus).unwrap(),
    )
    .await
    .unwrap();
    let mut topics: Vec<String> = bus.behavior_topics().await.unwrap().into_iter().map(|(t, _)| t).collect();
    topics.sort();
    assert_eq!(topics, tenants.map(|t| format!("{}.user-behaviors-{t}", storage.prefix())));
    for (topic, partition, end) in bus.end_offsets().await.unwrap() {
        let tenant = topic.rsplit('-').next().unwrap().to_owned();
        for (_, payload) in bus.read_range(&topic, partition, 0, end).await.unwrap() {
            let event: polyrec_core::Event = serde_json::from_slice(&payload).unwrap();
            assert_eq!(event.tenant_id.as_str(), tenant, "{topic} holds only {tenant}'s events");
        }
    }
    // Redis: every key of the test names exactly one tenant, and its members are that tenant's.
    let redis = redis_keys(&storage).await;
    assert!(!redis.is_empty());
    for (key, members) in &redis {
        let owners: Vec<&str> = tenants.iter().copied().filter(|t| key.contains(&format!(":{t}:"))).collect();
        assert_eq!(owners.len(), 1, "{key} names one tenant");
        let other = tenants.iter().find(|t| **t != owners[0]).unwrap();
        for member in members {
            assert!(!member.contains(other), "{key} holds {member}, which is {other}'s");
        }
    }
    // MongoDB: each tenant's scenario document is its own.
    let documents =
        polyrec_storage::production::mongo::MongoDocuments::connect(&storage.documents, "unused").await.unwrap();
    for tenant in tenants {
        let scenarios = documents.raw("scenarios", mongodb_filter(tenant)).await.unwrap();
        assert_eq!(scenarios.len(), 1, "{tenant}'s scenario");
    }
}

fn mongodb_filter(tenant: &str) -> polyrec_storage::production::mongo::Document {
    let mut filter = polyrec_storage::production::mongo::Document::new();
    filter.insert("tenant_id", tenant);
    filter
}

/// Every key under the test's Redis prefix with the members of sets and hashes (hot sets,
/// recent lists, metrics hashes, exposure sets).
async fn redis_keys(storage: &Storage) -> Vec<(String, Vec<String>)> {
    let client = polyrec_storage::production::redis::client(&storage.realtime).unwrap();
    let mut out = Vec::new();
    for (key, kind) in
        polyrec_storage::production::redis::scan(&client, &format!("{}*", storage.redis_prefix)).await.unwrap()
    {
        let members = polyrec_storage::production::redis::members(&client, &key, &kind).await.unwrap();
        out.push((key, members));
    }
    out
}

/// Two API processes on the same engines: a config change made through one is what the other
/// answers with on its very next recommend call (the shared `scenario:config:…` entry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_is_seen_by_every_server_process_at_once() {
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = storage.config_file(dir.path());
    let (_a, url_a) = serve(&config, &dir.path().join("a.log"), &["--no-stream-jobs"]).await;
    let (_b, url_b) = serve(&config, &dir.path().join("b.log"), &["--no-stream-jobs"]).await;
    let (a, b) = (Api::new(&url_a), Api::new(&url_b));
    a.scenario("p", "feed").await;
    let item = json!({"item_id": "i1", "metadata": {"category": "c"}});
    assert_eq!(a.post("p", "/api/v1/scenarios/feed/items", item).await.0, 201);
    let ask = |api: &Api| {
        let request = api
            .client
            .post(format!("{}/api/v1/recommend", api.url))
            .header("X-Tenant-Id", "p")
            .header("X-User-Id", "u1")
            .json(&json!({"scenario_id": "feed", "count": 1}));
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, answer) = ask(&b).await;
    assert_eq!((status, answer["config_version"].as_u64()), (200, Some(1)), "{answer}");
    for version in 2..=4 {
        let patch = json!({"name": format!("version {version}")});
        let (status, _, _) = a.call(reqwest::Method::PATCH, "p", "/api/v1/scenarios/feed", Some(patch)).await;
        assert_eq!(status, 200);
        let (status, answer) = ask(&b).await;
        assert_eq!((status, answer["config_version"].as_u64()), (200, Some(version)), "b sees a's change: {answer}");
    }
    // Items written through a reach b's catalog within its check interval (a second).
    let ids = |answer: &Value| -> Vec<String> {
        answer["items"].as_array().unwrap().iter().map(|i| i["item_id"].as_str().unwrap().to_owned()).collect()
    };
    let item = json!({"item_id": "i2", "metadata": {"category": "c"}});
    assert_eq!(a.post("p", "/api/v1/scenarios/feed/items", item).await.0, 201);
    let (status, _, _) = a.call(reqwest::Method::DELETE, "p", "/api/v1/scenarios/feed/items/i1", None).await;
    assert_eq!(status, 204);
    eventually(Duration::from_secs(5), "b to see a's item changes", || async {
        let (status, answer) = ask(&b).await;
        (status == 200 && ids(&answer) == ["i2"]).then_some(())
    })
    .await;
    // And a deletion: b no longer serves the scenario.
    let (status, _, _) = a.call(reqwest::Method::DELETE, "p", "/api/v1/scenarios/feed", None).await;
    assert_eq!(status, 204);
    assert_eq!(ask(&b).await.0, 404);
}

/// The stream jobs publish what they compute to the derived topics of SPEC §3.3, for other
/// consumers: profile updates, item hotness, recommendation metrics — each keyed by its tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_publish_to_the_derived_topics() {
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = storage.config_file(dir.path());
    let (_serve, url) = serve(&config, &dir.path().join("serve.log"), &[]).await;
    let api = Api::new(&url);
    api.scenario("d", "feed").await;
    assert_eq!(send(&api, "d", batch(0, 30, now_ms() - 60_000)).await.0, 200);
    let bus = polyrec_storage::production::kafka::KafkaBus::connect(
        polyrec_storage::production::kafka::KafkaSettings::from_url(&storage.bus).unwrap(),
    )
    .await
    .unwrap();
    // Profiles are written when their 5-minute window closes: here, 10 s after the last event.
    for topic in ["user-profile-updates", "item-stats-updates", "recommendation-metrics"] {
        let records = eventually(Duration::from_secs(60), topic, || async {
            let records = bus.read_topic(topic).await.ok()?;
            (!records.is_empty()).then_some(records)
        })
        .await;
        for record in records {
            let value: Value = serde_json::from_slice(&record).unwrap();
            assert_eq!(value["tenant_id"], "d", "{topic}: {value}");
            assert_eq!(value["scenario_id"], "feed", "{topic}: {value}");
        }
    }
}

/// Two server processes on shared stores: a version trained through one serves in the other
/// within a schedule tick (the schedule follows the registry), with the model artifacts on a
/// shared directory.
#[tokio::test]
async fn a_version_trained_through_one_process_serves_in_every_process() {
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = storage.config_file(dir.path());
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[storage]\n",
        &format!("cf_interval_seconds = 1\n\n[storage]\nblobs = \"file://{}\"\n", dir.path().join("models").display()),
    );
    std::fs::write(&config, text).unwrap();
    let data = |name: &str| dir.path().join(name).display().to_string();
    let (a_data, b_data) = (data("a-data"), data("b-data"));
    let (_a, url_a) = serve(&config, &dir.path().join("a.log"), &["--data-dir", &a_data]).await;
    let (_b, url_b) = serve(&config, &dir.path().join("b.log"), &["--no-stream-jobs", "--data-dir", &b_data]).await;
    let (a, b) = (Api::new(&url_a), Api::new(&url_b));
    let scenario = json!({"scenario_id": "feed", "scenario_type": "vlog", "config": {
        "recall": {"strategies": [{"name": "ease", "weight": 1.0, "limit": 10}]}, "rank": {"model": "weighted"}}});
    assert_eq!(a.post("m", "/api/v1/scenarios", scenario).await.0, 201);
    let mut events = Vec::new();
    for user in 0..12 {
        for item in 0..4 {
            let item = (user % 3) * 2 + item % 2 + if item > 1 { 6 } else { 0 };
            events.push(json!({"event_type": "click", "user_id": format!("u{user}"), "item_id": format!("i{item}"),
                               "scenario_id": "feed"}));
        }
    }
    assert_eq!(send(&a, "m", events).await.0, 200);
    let serving = |api: &Api| {
        let api = api.clone();
        async move {
            let (status, models) = api.get("m", "/api/v1/scenarios/feed/models?name=ease").await;
            assert_eq!(status, 200, "{models}");
            models["models"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["serving"] == true)
                .map(|m| m["model_version"].as_str().unwrap().to_owned())
        }
    };
    // The schedules train on the new events (in either process); both end up serving one version.
    eventually(Duration::from_secs(60), "both processes to serve the same ease version", || async {
        let (in_a, in_b) = (serving(&a).await, serving(&b).await);
        (in_a.is_some() && in_a == in_b).then_some(())
    })
    .await;
    // A version trained on demand through a serves in b at its next tick.
    let (status, job) = a.post("m", "/api/v1/scenarios/feed/jobs/train", json!({"models": ["ease"]})).await;
    assert_eq!(status, 202, "{job}");
    let path = format!("/api/v1/jobs/{}", job["job_id"].as_str().unwrap());
    let job = eventually(Duration::from_secs(60), "the training job", || async {
        let (_, job) = a.get("m", &path).await;
        (job["state"] == "succeeded" || job["state"] == "failed").then_some(job)
    })
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let trained = job["versions"]["ease"].as_str().unwrap().to_owned();
    assert_eq!(serving(&a).await.as_deref(), Some(trained.as_str()));
    eventually(Duration::from_secs(15), "b to serve the version a trained", || async {
        (serving(&b).await.as_deref() == Some(trained.as_str())).then_some(())
    })
    .await;
}
