//! Faults on the production engines (MongoDB, Redis, Kafka, ClickHouse), with real processes: the
//! built `polyrec` binary as `serve` and `worker`, killed and restarted; servers of the tests' own
//! stopped and started. Each test checks that nothing acknowledged is lost and nothing is counted
//! twice, by querying the stores directly where it can.
//!
//! Needs the servers of `scripts/servers.sh` (`POLYREC_TEST_*` variables); skipped without them
//! unless `POLYREC_REQUIRE_SERVERS` is set.

mod noisy;
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
    eventually(Duration::from_secs(60), "both workers to hold partitions", || async {
        (!assigned(&log_a, "warehouse_sink").is_empty() && !assigned(&log_b, "warehouse_sink").is_empty()).then_some(())
    })
    .await;
    // Killed while the stream flows: once the first batch of the second half is on the bus, with
    // the rest still to send.
    let first_sent = std::sync::Arc::new(tokio::sync::Notify::new());
    let sender = {
        let api = Api::new(&url);
        let first_sent = first_sent.clone();
        tokio::spawn(async move {
            for b in batches / 2..batches {
                let (status, report) = send(&api, "w", batch(b, size, ts)).await;
                assert_eq!((status, report["accepted"].as_u64()), (200, Some(size as u64)), "{report}");
                first_sent.notify_one();
            }
        })
    };
    first_sent.notified().await;
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
    // Whatever a re-reads after the rebalance (the records past the committed offsets) it
    // inserts before it commits: once the group has committed every partition's end, nothing
    // is left to insert twice, and the counts below are final.
    sink_committed_everything(&storage).await;

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
    // The hot-score job is a consumer group of its own: it may still be behind the metrics job.
    let hot_set = || async {
        let (_, hot) = api.get("w", "/api/v1/scenarios/feed/hot?n=20").await;
        hot["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["item_id"].as_str().unwrap().to_owned(), i["hotness"].as_f64().unwrap()))
            .collect::<HashMap<String, f64>>()
    };
    let hot = eventually(Duration::from_secs(60), "the hot set to hold every click", || async {
        let hot = hot_set().await;
        per_item
            .iter()
            .all(|(item, n)| hot.get(item).is_some_and(|score| (score - *n as f64 * click_weight).abs() < 1e-6))
            .then_some(hot)
    })
    .await;
    assert_eq!(hot.len(), per_item.len(), "{hot:?}");
    for (item, n) in &per_item {
        let score = hot[item];
        assert!((score - *n as f64 * click_weight).abs() < 1e-6, "{item}: hot {score}, sent {n} clicks");
        // `item:stats:{tenant}:{item}` counted every click once.
        let (_, stats) = api.get("w", &format!("/api/v1/scenarios/feed/items/{item}/stats")).await;
        assert_eq!(stats["counts"]["click_count"].as_u64(), Some(*n), "{item}: {stats}");
    }
}

/// Waits until the warehouse sink's group has committed the end of every partition: then
/// nothing is left that a worker could insert (again).
async fn sink_committed_everything(storage: &Storage) {
    let bus = polyrec_storage::production::kafka::KafkaBus::connect(
        polyrec_storage::production::kafka::KafkaSettings::from_url(&storage.bus).unwrap(),
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(90), "the warehouse sink to commit every partition's end", || async {
        use polyrec_storage::StreamLog;
        let ends = StreamLog::end_offsets(&bus).await.ok()?;
        let partitions: Vec<_> = ends.iter().map(|(p, _)| p.clone()).collect();
        let committed = StreamLog::group_offsets(&bus, "warehouse_sink", &partitions).await.ok()?;
        ends.iter().all(|(p, end)| *end == 0 || committed.iter().any(|(q, at)| q == p && at >= end)).then_some(())
    })
    .await;
}

/// A second sink worker joins while the first holds a batch it has not inserted yet: the group
/// rebalances under it, the first drops what it held of the partitions it lost (the new owner
/// reads them again from the committed offsets), and every event is in ClickHouse once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sink_worker_joining_mid_batch_inserts_nothing_twice() {
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = storage.config_file(dir.path());
    // The sink holds events for 15 s (or 100,000 of them) before it inserts.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("sink_flush_ms = 200\n", "sink_flush_ms = 15000\nsink_batch_events = 100000\n");
    std::fs::write(&config, text).unwrap();
    let (_serve, url) = serve(&config, &dir.path().join("serve.log"), &["--no-stream-jobs"]).await;
    let api = Api::new(&url);
    api.scenario("j", "feed").await;
    let (log_a, log_b) = (dir.path().join("worker-a.log"), dir.path().join("worker-b.log"));
    let listen_a = format!("127.0.0.1:{}", free_port());
    let _worker_a = polyrec(&["worker", "--listen", &listen_a, "--jobs", "warehouse_sink"], &config, &log_a);
    let a = Api::new(&format!("http://{listen_a}"));
    let (batches, size) = (10, 200);
    let ts = now_ms() - 60_000;
    // The topic exists once the first batch is in; a is given its partitions.
    for b in 0..batches {
        assert_eq!(send(&api, "j", batch(b, size, ts)).await.0, 200);
    }
    eventually(Duration::from_secs(60), "worker a to hold a batch", || async {
        (a.gauge("polyrec_warehouse_sink_held_events").await? > 0.0).then_some(())
    })
    .await;
    assert_eq!(api.warehouse_events("j").await, 0, "a holds the batch, inserted nothing yet");
    let held_by_a = assigned(&log_a, "warehouse_sink");
    let _worker_b = polyrec(&["worker", "--listen", "127.0.0.1:0", "--jobs", "warehouse_sink"], &config, &log_b);
    let sent = (batches * size) as u64;
    eventually(Duration::from_secs(60), "worker b to be given partitions", || async {
        (!assigned(&log_b, "warehouse_sink").is_empty()).then_some(())
    })
    .await;
    let at_rebalance = api.warehouse_events("j").await;
    assert!(at_rebalance < sent, "the rebalance came while a held the batch ({at_rebalance} of {sent} inserted)");
    assert!(log_mentions(&log_a, "partition revoked") > 0, "a lost partitions in the rebalance");
    eventually(Duration::from_secs(90), "the warehouse to hold every event", || async {
        (api.warehouse_events("j").await >= sent).then_some(())
    })
    .await;
    sink_committed_everything(&storage).await;
    // The rebalance moved some of a's partitions to b.
    let held_by_b = assigned(&log_b, "warehouse_sink");
    assert!(held_by_a.intersection(&held_by_b).next().is_some(), "a held {held_by_a:?}; b was given {held_by_b:?}");
    let rows = storage.clickhouse("SELECT count(), uniqExact(event_id) FROM user_behaviors").await;
    assert_eq!(rows.trim(), format!("{sent}\t{sent}"), "ClickHouse rows: every event once");
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
    // The sink tries, and fails, while ClickHouse is down.
    let serve_log = dir.path().join("serve.log");
    eventually(Duration::from_secs(60), "the sink to fail on the stopped warehouse", || async {
        let failed = log_mentions(&serve_log, "failed on a batch") + log_mentions(&serve_log, "idle step failed");
        (failed > 0).then_some(())
    })
    .await;
    let _clickhouse = clickhouse_server(&dir.path().join("clickhouse"), http_port).await;
    eventually(Duration::from_secs(90), "the sink to catch up", || async {
        (api.warehouse_events("c").await >= 3_000).then_some(())
    })
    .await;
    // Nothing left to insert twice: the sink has committed every event it inserted.
    eventually(Duration::from_secs(60), "the sink to have committed everything", || async {
        (api.stream_lag("warehouse_sink").await == Some(0)).then_some(())
    })
    .await;
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

/// The events as one user's (one partition's, so one sink's).
fn one_user(events: Vec<Value>) -> Vec<Value> {
    events
        .into_iter()
        .map(|mut event| {
            event["user_id"] = json!("u0");
            event
        })
        .collect()
}

/// A config file whose warehouse sink holds events for `flush_ms` or until it has `batch` of
/// them, and whose ClickHouse calls give up after `timeout_ms`.
fn sink_config(storage: &Storage, dir: &Path, flush_ms: u64, batch: usize, timeout_ms: u64) -> std::path::PathBuf {
    let mut storage = storage.clone();
    let separator = if storage.warehouse.contains('?') { '&' } else { '?' };
    storage.warehouse = format!("{}{separator}timeout_ms={timeout_ms}", storage.warehouse);
    let config = storage.config_file(dir);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("sink_flush_ms = 200\n", &format!("sink_flush_ms = {flush_ms}\nsink_batch_events = {batch}\n"));
    std::fs::write(&config, text).unwrap();
    config
}

/// An insert that outlives the sink's ClickHouse timeout is still running when the sink gives
/// up on it: the retry must not look the batch up (and insert it again) before the server has
/// finished it. Here every insert is made slow by a column computed on insert that sleeps on each
/// row — the rows show only when the block is written, 2.8 s in; the client gives up after 1 s —
/// and the batch ends up stored once, rollups included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_past_its_timeout_is_waited_for_and_not_inserted_again() {
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Held until all 140 events are in, then one block: 140 × 20 ms inside ClickHouse.
    let config = sink_config(&storage, dir.path(), 5_000, 140, 1_000);
    let (_serve, url) = serve(&config, &dir.path().join("serve.log"), &[]).await;
    let api = Api::new(&url);
    api.scenario("slow", "feed").await;
    storage.clickhouse("ALTER TABLE user_behaviors ADD COLUMN slow UInt8 MATERIALIZED sleepEachRow(0.02)").await;
    // One user: one partition, one sink, one block.
    let (status, report) = send(&api, "slow", one_user(batch(0, 140, now_ms() - 60_000))).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(140)), "{report}");
    eventually(Duration::from_secs(90), "the batch stored and no insert running", || async {
        let stored = storage.clickhouse("SELECT count() FROM user_behaviors WHERE tenant_id = 'slow'").await;
        let running = storage.clickhouse("SELECT count() FROM system.processes WHERE query LIKE 'INSERT%'").await;
        (stored.trim().parse::<u64>().unwrap_or(0) >= 140 && running.trim() == "0").then_some(())
    })
    .await;
    // The sink gave up on the insert (the condition this test is about).
    eventually(Duration::from_secs(10), "the sink's log to show the insert it gave up on", || async {
        let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
        log.lines()
            .any(|line| line.contains("stream job failed on a batch") && line.contains("clickhouse"))
            .then_some(())
    })
    .await;
    let rows =
        storage.clickhouse("SELECT count(), uniqExact(event_id) FROM user_behaviors WHERE tenant_id = 'slow'").await;
    assert_eq!(rows.trim(), "140\t140", "each event once");
    let rolled = storage.clickhouse("SELECT sum(events) FROM metrics_hourly WHERE tenant_id = 'slow'").await;
    assert_eq!(rolled.trim(), "140", "the rollups count each event once");
}

/// A scenario deleted while the warehouse sink holds its events (waiting for a full batch) stays
/// deleted: the held events are checked again at the insert and dropped, not inserted after the
/// delete removed the scenario's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_deleted_while_the_sink_holds_its_events_stays_deleted() {
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A batch is 20 events; nothing is flushed by time within the test.
    let config = sink_config(&storage, dir.path(), 600_000, 20, 30_000);
    let (_serve, url) = serve(&config, &dir.path().join("serve.log"), &[]).await;
    let api = Api::new(&url);
    api.scenario("d", "feed").await;
    api.scenario("d", "other").await;
    let ts = now_ms() - 60_000;
    let (status, report) = send(&api, "d", one_user(batch(0, 10, ts))).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(10)), "{report}");
    eventually(Duration::from_secs(30), "the sink to hold the scenario's 10 events", || async {
        (api.gauge("polyrec_warehouse_sink_held_events").await == Some(10.0)).then_some(())
    })
    .await;
    let (status, _, _) = api.call(reqwest::Method::DELETE, "d", "/api/v1/scenarios/feed", None).await;
    assert_eq!(status, 204);
    // Ten events of another scenario fill the batch: the sink inserts.
    let others: Vec<Value> = one_user(batch(1, 10, ts))
        .into_iter()
        .map(|mut e| {
            e["scenario_id"] = json!("other");
            e
        })
        .collect();
    let (status, report) = send(&api, "d", others).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(10)), "{report}");
    eventually(Duration::from_secs(30), "the other scenario's events in the warehouse", || async {
        let stored = storage
            .clickhouse("SELECT count() FROM user_behaviors WHERE tenant_id = 'd' AND scenario_id = 'other'")
            .await;
        (stored.trim() == "10").then_some(())
    })
    .await;
    let deleted =
        storage.clickhouse("SELECT count() FROM user_behaviors WHERE tenant_id = 'd' AND scenario_id = 'feed'").await;
    assert_eq!(deleted.trim(), "0", "the deleted scenario's held events were not inserted");
    assert_eq!(api.gauge("polyrec_warehouse_sink_held_events").await, Some(0.0));
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
        // The tenant is the first part of the key's hash tag: `{tenant:scenario}`, `{tenant:item}`
        // or `{tenant}`.
        let owners: Vec<&str> = tenants
            .iter()
            .copied()
            .filter(|t| key.contains(&format!("{{{t}:")) || key.contains(&format!("{{{t}}}")))
            .collect();
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
    // Items written through a reach b's catalog at its next check (every second; the wait allows
    // for a loaded machine).
    let ids = |answer: &Value| -> Vec<String> {
        answer["items"].as_array().unwrap().iter().map(|i| i["item_id"].as_str().unwrap().to_owned()).collect()
    };
    let item = json!({"item_id": "i2", "metadata": {"category": "c"}});
    assert_eq!(a.post("p", "/api/v1/scenarios/feed/items", item).await.0, 201);
    let (status, _, _) = a.call(reqwest::Method::DELETE, "p", "/api/v1/scenarios/feed/items/i1", None).await;
    assert_eq!(status, 204);
    eventually(Duration::from_secs(30), "b to see a's item changes", || async {
        let (status, answer) = ask(&b).await;
        (status == 200 && ids(&answer) == ["i2"]).then_some(())
    })
    .await;
    // And a deletion: b no longer serves the scenario.
    let (status, _, _) = a.call(reqwest::Method::DELETE, "p", "/api/v1/scenarios/feed", None).await;
    assert_eq!(status, 204);
    assert_eq!(ask(&b).await.0, 404);
}

/// Two server processes on the shared stores take writes at the same instant that one check
/// allows once: scenario creates against a quota (each counts again after its insert and takes
/// itself back past it), and experiment starts (one that finds another running once its own is
/// written gives way). Within a process the check and the write are one step per tenant; across
/// processes nothing else orders them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_hold_for_writes_at_once_through_two_processes() {
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = storage.config_file(dir.path());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[tenancy.tenants.q]\nquota = { max_scenarios = 3 }\n");
    std::fs::write(&config, text).unwrap();
    let (_a, url_a) = serve(&config, &dir.path().join("a.log"), &["--no-stream-jobs"]).await;
    let (_b, url_b) = serve(&config, &dir.path().join("b.log"), &["--no-stream-jobs"]).await;
    let apis = [Api::new(&url_a), Api::new(&url_b)];
    // Scenario creates, alternating between the processes, all at once.
    let creates = (0..12).map(|n| {
        let body = json!({"scenario_id": format!("s{n}"), "scenario_type": "vlog",
            "config": {"recall": {"strategies": [{"name": "latest", "weight": 1.0, "limit": 10}]}, "rank": {"model": "weighted"}}});
        apis[n % 2].post("q", "/api/v1/scenarios", body)
    });
    let answers = futures::future::join_all(creates).await;
    for (status, answer) in &answers {
        assert!(*status == 201 || answer["code"] == "quota_exceeded", "{status} {answer}");
    }
    let created = answers.iter().filter(|(status, _)| *status == 201).count();
    let (_, list) = apis[0].get("q", "/api/v1/scenarios").await;
    let held = list["scenarios"].as_array().unwrap().len();
    assert!(held <= 3 && held == created, "{created} created, {held} held, quota 3: {list}");
    // Experiment starts, alternating, all at once: at most one runs, and it is the one answered 200.
    apis[0].scenario("x", "feed").await;
    let base = "/api/v1/scenarios/feed/experiments";
    for n in 0..8 {
        let body = json!({"experiment_id": format!("e{n}"),
            "groups": [{"group_id": "a", "traffic_ratio": 0.5}, {"group_id": "b", "traffic_ratio": 0.5}]});
        assert_eq!(apis[0].post("x", base, body).await.0, 201);
    }
    let paths: Vec<String> = (0..8).map(|n| format!("{base}/e{n}/start")).collect();
    let starts = paths.iter().enumerate().map(|(n, path)| apis[n % 2].post("x", path, json!({})));
    let answers = futures::future::join_all(starts).await;
    for (status, answer) in &answers {
        assert!(*status == 200 || answer["code"] == "experiment_already_running", "{status} {answer}");
    }
    let started = answers.iter().filter(|(status, _)| *status == 200).count();
    let (_, list) = apis[1].get("x", base).await;
    let running = list["experiments"].as_array().unwrap().iter().filter(|e| e["status"] == "running").count();
    assert!(running <= 1 && running == started, "{started} started, {running} running: {list}");
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
    eventually(Duration::from_secs(60), "b to serve the version a trained", || async {
        (serving(&b).await.as_deref() == Some(trained.as_str())).then_some(())
    })
    .await;
}

/// The job queue on the document store: an API process only enqueues; two `polyrec worker
/// --jobs training` processes claim the jobs; one is killed while it trains. Its job is claimed
/// again by the other once its lease runs out, and every job finishes once, with one registered
/// version each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_leaves_every_job_finished_once() {
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = storage.config_file(dir.path());
    // A short lease, one training at a time per worker (and no cap per tenant: both workers run
    // the one tenant's jobs), no scheduled work besides.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[storage]\n",
        &format!(
            "job_lease_seconds = 3\ncf_interval_seconds = 3600\nprofile_recompute_hours = 0\n\n[limits]\n\
             max_concurrent_trainings = 1\nmax_unfinished_jobs_per_tenant = 10\nmax_running_jobs_per_tenant = 0\n\n[storage]\nblobs = \"file://{}\"\n",
            dir.path().join("models").display()
        ),
    );
    std::fs::write(&config, text).unwrap();
    let (_serve, url) = serve(&config, &dir.path().join("serve.log"), &["--no-stream-jobs"]).await;
    let api = Api::new(&url);
    let scenario = json!({"scenario_id": "feed", "scenario_type": "vlog", "config": {
        "recall": {"strategies": [{"name": "ease", "weight": 1.0, "limit": 10}]}, "rank": {"model": "weighted"}}});
    assert_eq!(api.post("q", "/api/v1/scenarios", scenario).await.0, 201);
    let _sink = polyrec(
        &["worker", "--listen", "127.0.0.1:0", "--jobs", "warehouse_sink"],
        &config,
        &dir.path().join("sink.log"),
    );
    // Enough items that each EASE fit takes a while (its cost grows with the cube of the items).
    let (users, items) = (300, 500);
    let events: Vec<Value> = (0..users * 6)
        .map(|n| {
            json!({"event_type": "click", "user_id": format!("u{}", n % users), "scenario_id": "feed",
                   "item_id": format!("i{}", (n * 7 + n / users) % items)})
        })
        .collect();
    for chunk in events.chunks(1_000) {
        assert_eq!(send(&api, "q", chunk.to_vec()).await.0, 200);
    }
    eventually(Duration::from_secs(60), "the events in the warehouse", || async {
        (api.warehouse_events("q").await >= events.len() as u64).then_some(())
    })
    .await;
    // Ten jobs queued through the API process, which runs none of them.
    let mut jobs = Vec::new();
    for _ in 0..10 {
        let (status, job) = api.post("q", "/api/v1/scenarios/feed/jobs/train", json!({"models": ["ease"]})).await;
        assert_eq!(status, 202, "{job}");
        jobs.push(job["job_id"].as_str().unwrap().to_owned());
    }
    let job = |id: String| {
        let api = api.clone();
        async move { api.get("q", &format!("/api/v1/jobs/{id}")).await.1 }
    };
    assert_eq!(job(jobs[0].clone()).await["state"], "queued", "no worker yet: nothing runs them");
    let (log_a, log_b) = (dir.path().join("worker-a.log"), dir.path().join("worker-b.log"));
    let worker_a = polyrec(&["worker", "--listen", "127.0.0.1:0", "--jobs", "training"], &config, &log_a);
    let _worker_b = polyrec(&["worker", "--listen", "127.0.0.1:0", "--jobs", "training"], &config, &log_b);
    // A job worker a is running: its instance id is in a's log.
    let (victim, a_instance) = eventually(Duration::from_secs(60), "worker a to run a job", || async {
        let log = std::fs::read_to_string(&log_a).unwrap_or_default();
        for id in &jobs {
            let record = job(id.clone()).await;
            if let Some(worker) = record["worker"].as_str()
                && record["state"] == "running"
                && log.contains(worker)
            {
                return Some((id.clone(), worker.to_owned()));
            }
        }
        None
    })
    .await;
    worker_a.kill9();
    // Every job finishes, the killed one on its second attempt, by worker b.
    let finished = eventually(Duration::from_secs(300), "every job to finish", || async {
        let mut records = Vec::new();
        for id in &jobs {
            let record = job(id.clone()).await;
            if record["state"] != "succeeded" && record["state"] != "failed" {
                return None;
            }
            records.push(record);
        }
        Some(records)
    })
    .await;
    for record in &finished {
        assert_eq!(record["state"], "succeeded", "{record}");
    }
    let victim = finished.iter().find(|r| r["job_id"] == victim.as_str()).unwrap();
    assert_eq!(victim["attempts"], 2, "{victim}");
    assert_ne!(victim["worker"], a_instance.as_str(), "{victim}");
    // One version per job: ten, each registered by one job, each job's own.
    let (status, models) = api.get("q", "/api/v1/scenarios/feed/models?name=ease").await;
    assert_eq!(status, 200, "{models}");
    let versions = models["models"].as_array().unwrap();
    let by_job: Vec<&str> = versions.iter().map(|m| m["job_id"].as_str().unwrap()).collect();
    let mut distinct = by_job.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!((by_job.len(), distinct.len()), (10, 10), "{models}");
    for record in &finished {
        let version = record["versions"]["ease"].as_str().unwrap();
        let registered = versions.iter().find(|m| m["model_version"] == version).unwrap();
        assert_eq!(registered["job_id"], record["job_id"], "{record}");
    }
}

/// The internal key of the split deployments the tests start.
const INTERNAL_KEY: &str = "faults-internal-key-0123456789abcdef";

/// `message` with a service token for `tenant` that reads and writes on `service` (what a
/// gateway speaking gRPC would send).
fn as_tenant<T>(service: polyrec_server::split::Service, tenant: &str, message: T) -> tonic::Request<T> {
    use polyrec_server::internal::{Access, InternalKey};
    let key = InternalKey::new(INTERNAL_KEY, "").unwrap();
    let tenant = polyrec_core::TenantId::parse(tenant).unwrap();
    let mut request = tonic::Request::new(message);
    let token = format!("Bearer {}", key.mint(&tenant, service.name(), Access::Write)).parse().unwrap();
    request.metadata_mut().insert(polyrec_server::grpc::AUTHORIZATION_KEY, token);
    request
}

/// The split deployment as SPEC §3.1 draws it: the seven services and a worker, eight `polyrec`
/// processes on loopback sharing the production stores. Events go in over the behavior
/// service's streaming gRPC ingest; the recommendation service answers from the scenario, item,
/// feature and model services over gRPC; each gRPC port answers health checks and reflection.
#[tokio::test]
async fn the_seven_services_run_as_separate_processes() {
    use polyrec_server::grpc::proto;
    use polyrec_server::split::Service;
    let Some(storage) = Storage::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spans_log = dir.path().join("rotel.log");
    let Some((_collector, otlp)) = otlp_collector(dir.path(), &spans_log).await else { return };
    let config = storage.config_file(dir.path());
    let mut ports = std::collections::HashMap::new();
    for service in Service::ALL {
        ports.insert(service, (free_port(), service.grpc_port().map(|_| free_port())));
    }
    let grpc = |service: Service| format!("http://127.0.0.1:{}", ports[&service].1.unwrap());
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[storage]\n",
        &format!(
            "cf_interval_seconds = 1\n\n[services]\nscenario_url = {:?}\nitem_url = {:?}\nfeature_url = {:?}\n\
             model_url = {:?}\ninternal_key = {INTERNAL_KEY:?}\n\n[storage]\nblobs = \"file://{}\"\n",
            grpc(Service::Scenario),
            grpc(Service::Item),
            grpc(Service::Feature),
            grpc(Service::Model),
            dir.path().join("models").display()
        ),
    );
    std::fs::write(&config, text).unwrap();
    let mut processes = Vec::new();
    for service in Service::ALL {
        let (http, grpc) = ports[&service];
        let listen = format!("127.0.0.1:{http}");
        let data = dir.path().join(service.name()).display().to_string();
        let mut args = vec!["serve".to_owned(), "--service".into(), service.name().into(), "--listen".into(), listen];
        args.extend(["--data-dir".to_owned(), data]);
        if let Some(grpc) = grpc {
            args.extend(["--grpc-listen".to_owned(), format!("127.0.0.1:{grpc}")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let log = dir.path().join(format!("{}.log", service.name()));
        processes.push(polyrec_with_env(&args, &config, &log, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp)]));
    }
    let worker_listen = format!("127.0.0.1:{}", free_port());
    let worker_data = dir.path().join("worker").display().to_string();
    processes.push(polyrec(
        &["worker", "--listen", &worker_listen, "--data-dir", &worker_data],
        &config,
        &dir.path().join("worker.log"),
    ));
    // The gateway in front: the console, and each path forwarded to the service owning it.
    let gateway_url = format!("http://127.0.0.1:{}", free_port());
    let mut gateway_args =
        vec!["gateway".to_owned(), "--listen".into(), gateway_url.trim_start_matches("http://").into()];
    for service in Service::ALL {
        gateway_args.push(format!("--{}-url", service.name()));
        gateway_args.push(format!("http://127.0.0.1:{}", ports[&service].0));
    }
    let gateway_args: Vec<&str> = gateway_args.iter().map(String::as_str).collect();
    processes.push(polyrec_gateway(&gateway_args, &dir.path().join("gateway.log")));
    let api = |service: Service| Api::new(&format!("http://127.0.0.1:{}", ports[&service].0));
    for service in Service::ALL {
        let api = api(service);
        eventually(Duration::from_secs(60), &format!("{} service ready", service.name()), || async {
            let ready = api.client.get(format!("{}/readyz", api.url)).send().await;
            ready.is_ok_and(|r| r.status().is_success()).then_some(())
        })
        .await;
    }

    // Every gRPC port: health SERVING, for the service's own name too, and reflection lists it.
    for service in Service::ALL.into_iter().filter(|s| s.grpc_port().is_some()) {
        let channel = tonic::transport::Endpoint::from_shared(grpc(service)).unwrap().connect().await.unwrap();
        let name = format!("polyrec.v1.{}{}Service", service.name()[..1].to_uppercase(), &service.name()[1..]);
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        for asked in ["", name.as_str()] {
            let answer = health
                .check(tonic_health::pb::HealthCheckRequest { service: asked.to_owned() })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(answer.status(), tonic_health::pb::health_check_response::ServingStatus::Serving, "{name}");
        }
        use tonic_reflection::pb::v1::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut reflection = ServerReflectionClient::new(channel);
        let mut answers =
            reflection.server_reflection_info(futures::stream::iter([request])).await.unwrap().into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            answers.message().await.unwrap().unwrap().message_response
        else {
            panic!("reflection did not list the services")
        };
        let listed: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        assert!(listed.contains(&name), "{name} not in {listed:?}");
    }

    // A scenario through the scenario service, items through the item service.
    let scenario = json!({"scenario_id": "feed", "scenario_type": "vlog", "config": {
        "recall": {"strategies": [{"name": "ease", "weight": 1.0, "limit": 10}]}, "rank": {"model": "weighted"}}});
    assert_eq!(api(Service::Scenario).post("m", "/api/v1/scenarios", scenario).await.0, 201);
    for item in 0..12 {
        let body = json!({"item_id": format!("i{item}"), "metadata": {"category": format!("c{}", item % 3)}});
        assert_eq!(api(Service::Item).post("m", "/api/v1/scenarios/feed/items", body).await.0, 201);
    }
    // Events over the behavior service's streaming ingest: two groups of users with two tastes,
    // i0–i3 and i6–i9; each user took three of the four of their taste.
    let mut events = Vec::new();
    for user in 0..12 {
        for item in (0..4).filter(|item| *item != (user / 2) % 4) {
            let item = (user % 2) * 6 + item;
            let event = json!({"event_type": "click", "user_id": format!("u{user}"), "item_id": format!("i{item}"),
                               "scenario_id": "feed"});
            events.push(proto::Event { tenant_id: "m".into(), json: event.to_string() });
        }
    }
    let mut behaviors =
        proto::behavior_service_client::BehaviorServiceClient::connect(grpc(Service::Behavior)).await.unwrap();
    // The internal ports take no call without a service token.
    let refused = behaviors.track_stream(futures::stream::iter(events.clone())).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    let report = behaviors
        .track_stream(as_tenant(Service::Behavior, "m", futures::stream::iter(events)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((report.accepted, report.rejected, report.event_ids.len()), (36, 0, 36), "{report:?}");
    // A bad event in a stream is reported at its index; the others are taken.
    let bad = vec![
        proto::Event { tenant_id: "m".into(), json: json!({"event_type": "click", "user_id": "u0"}).to_string() },
        proto::Event {
            tenant_id: "m".into(),
            json: json!({"event_type": "impression", "user_id": "u0", "item_id": "i0", "scenario_id": "feed"})
                .to_string(),
        },
    ];
    let report = behaviors
        .track_stream(as_tenant(Service::Behavior, "m", futures::stream::iter(bad)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((report.accepted, report.rejected), (1, 1), "{report:?}");
    assert_eq!(report.errors[0].index, 0, "{report:?}");

    // The worker's jobs: the warehouse (read by the analytics service) and the profiles (served
    // by the feature service).
    eventually(Duration::from_secs(60), "the warehouse to hold the events", || async {
        (api(Service::Behavior).warehouse_events("m").await == 37).then_some(())
    })
    .await;
    let mut analytics =
        proto::analytics_service_client::AnalyticsServiceClient::connect(grpc(Service::Analytics)).await.unwrap();
    let to = (now_ms() + 3_600_000).to_string();
    let query = proto::AnalyticsQuery { tenant_id: "m".into(), params: [("to".to_owned(), to)].into_iter().collect() };
    let dashboard: Value = serde_json::from_str(
        &analytics.dashboard(as_tenant(Service::Analytics, "m", query)).await.unwrap().into_inner().json,
    )
    .unwrap();
    assert_eq!((dashboard["clicks"].as_u64(), dashboard["impressions"].as_u64()), (Some(36), Some(1)), "{dashboard}");
    eventually(Duration::from_secs(30), "u0's profile in the feature service", || async {
        let (status, _) = api(Service::Feature).get("m", "/api/v1/scenarios/feed/users/u0/profile").await;
        (status == 200).then_some(())
    })
    .await;

    // Trained through the model service; served by the recommendation service, which reads the
    // scenario, catalog and profile over gRPC.
    let (status, job) =
        api(Service::Model).post("m", "/api/v1/scenarios/feed/jobs/train", json!({"models": ["ease"]})).await;
    assert_eq!(status, 202, "{job}");
    let path = format!("/api/v1/jobs/{}", job["job_id"].as_str().unwrap());
    let job = eventually(Duration::from_secs(60), "the training job", || async {
        let (_, job) = api(Service::Model).get("m", &path).await;
        (job["state"] == "succeeded" || job["state"] == "failed").then_some(job)
    })
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let recommender = api(Service::Recommendation);
    let mut answer = Value::Null;
    for _ in 0..150 {
        let status;
        (status, answer) = recommender
            .call_as("m", "u1", "/api/v1/recommend", json!({"scenario_id": "feed", "count": 1, "explain": true}))
            .await;
        assert_eq!(status, 200, "{answer}");
        if answer["items"][0]["channels"][0]["name"] == "ease" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(dir.path().join("recommendation.log")).unwrap_or_default();
    assert_eq!(answer["items"][0]["channels"][0]["name"], "ease", "never through ease: {answer}\n{log}");
    // u1 took i7, i8 and i9: the one of their taste they have not taken comes first.
    assert_eq!(answer["items"][0]["item_id"], "i6", "{answer}");
    // Another tenant sees none of it, over HTTP and over gRPC.
    let (status, _) = api(Service::Recommendation)
        .call_as("intruder", "u0", "/api/v1/recommend", json!({"scenario_id": "feed"}))
        .await;
    assert_eq!(status, 404);
    let mut scenarios =
        proto::scenario_service_client::ScenarioServiceClient::connect(grpc(Service::Scenario)).await.unwrap();
    let refused = scenarios
        .get_scenario(as_tenant(
            Service::Scenario,
            "intruder",
            proto::ScenarioRef { tenant_id: "intruder".into(), scenario_id: "feed".into() },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::NotFound);
    let mut items = proto::item_service_client::ItemServiceClient::connect(grpc(Service::Item)).await.unwrap();
    // As over HTTP: another tenant's scenario does not exist for it.
    let scan = proto::ScenarioRef { tenant_id: "intruder".into(), scenario_id: "feed".into() };
    let scan = items.scan_items(as_tenant(Service::Item, "intruder", scan)).await;
    assert_eq!(scan.unwrap_err().code(), tonic::Code::NotFound, "another tenant's scan is not found");
    // The intruder's token does not open "m".
    let scan = proto::ScenarioRef { tenant_id: "m".into(), scenario_id: "feed".into() };
    let scan = items.scan_items(as_tenant(Service::Item, "intruder", scan)).await;
    assert_eq!(scan.unwrap_err().code(), tonic::Code::PermissionDenied, "another tenant's token");
    let invalid = proto::ScenarioRef { tenant_id: String::new(), scenario_id: "feed".into() };
    let invalid = items.scan_items(as_tenant(Service::Item, "intruder", invalid)).await;
    assert_eq!(invalid.unwrap_err().code(), tonic::Code::InvalidArgument);

    // Through the gateway: the console's page, readiness of all seven, and requests of four
    // services — an NDJSON upload streamed to the item service among them.
    let gateway = Api::new(&gateway_url);
    eventually(Duration::from_secs(30), "the gateway ready (every service ready behind it)", || async {
        let ready = gateway.client.get(format!("{gateway_url}/readyz")).send().await;
        ready.is_ok_and(|r| r.status() == 200).then_some(())
    })
    .await;
    let page = gateway.client.get(format!("{gateway_url}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<title>"), "the console's page");
    let script = gateway.client.get(format!("{gateway_url}/console/app.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    let (status, list) = gateway.get("m", "/api/v1/scenarios").await;
    assert_eq!((status, list["scenarios"][0]["scenario_id"].as_str()), (200, Some("feed")), "{list}");
    let upload = gateway
        .client
        .post(format!("{gateway_url}/api/v1/scenarios/feed/items/bulk"))
        .header("X-Tenant-Id", "m")
        .header("Content-Type", "application/x-ndjson")
        .body("{\"item_id\": \"g1\", \"metadata\": {}}\n{\"item_id\": \"g2\", \"metadata\": {}}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 200);
    let report: Value = upload.json().await.unwrap();
    assert_eq!(report["rejected"], 0, "{report}");
    let (status, item) = gateway.get("m", "/api/v1/scenarios/feed/items/g2").await;
    assert_eq!((status, item["item_id"].as_str()), (200, Some("g2")), "{item}");
    let (status, answer) = gateway.call_as("m", "u1", "/api/v1/recommend", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, 200, "{answer}");
    let (status, stats) = gateway.get("m", "/api/v1/behaviors/stats").await;
    assert_eq!(status, 200, "{stats}");
    let (status, missing) = gateway.get("m", "/api/v1/scenarios/nope").await;
    assert_eq!((status, missing["code"].as_str()), (404, Some("not_found")), "errors pass through: {missing}");

    // One trace across the hops: a learned ranker makes the recommendation service call the model
    // service's Score; the caller's traceparent goes in over HTTP and on over gRPC, and the model
    // service's span of the call is a child of a recommendation-service span of the same trace.
    let patch = json!({"config": {"rank": {"model": "deepfm"}}});
    let (status, patched, _) =
        api(Service::Scenario).call(reqwest::Method::PATCH, "m", "/api/v1/scenarios/feed", Some(patch)).await;
    assert_eq!(status, 200, "{patched}");
    let trace_id = "5cf92f3577b34da6a3ce929d0e0e4737";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    eventually(Duration::from_secs(60), "the recommendation service on config version 2", || async {
        let answer = recommender
            .client
            .post(format!("{}/api/v1/recommend", recommender.url))
            .header("X-Tenant-Id", "m")
            .header("X-User-Id", "u1")
            .header("traceparent", &traceparent)
            .json(&json!({"scenario_id": "feed", "count": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let answer: Value = answer.json().await.unwrap();
        (answer["config_version"] == 2).then_some(())
    })
    .await;
    let (model_span, caller) = eventually(Duration::from_secs(60), "the model service's span at the collector", || {
        let spans = printed_spans(&std::fs::read_to_string(&spans_log).unwrap_or_default());
        async move {
            let traced: Vec<&PrintedSpan> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
            let score = traced.iter().find(|s| {
                s.service == "polyrec-model"
                    && s.name == "polyrec.v1.ModelService/Score"
                    && s.kind == "SPAN_KIND_SERVER"
            })?;
            let caller = traced.iter().find(|s| s.span_id == score.parent_id)?;
            Some(((*score).clone(), (*caller).clone()))
        }
    })
    .await;
    assert_eq!(caller.service, "polyrec-recommendation", "{model_span:?} under {caller:?}");
    // The gRPC servers' metrics: the model service counted the Score calls it answered.
    let metrics = api(Service::Model).client.get(format!("{}/metrics", api(Service::Model).url)).send().await;
    let metrics = metrics.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|line| line.starts_with("polyrec_grpc_server_requests_total{")
            && line.contains("service=\"polyrec.v1.ModelService\"")
            && line.contains("method=\"Score\"")
            && line.contains("code=\"ok\"")),
        "{metrics}"
    );
    assert!(metrics.contains("polyrec_grpc_server_request_duration_seconds_bucket{"), "{metrics}");
    drop(processes);
}
