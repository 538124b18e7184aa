//! kill -9 during ingestion loses no acknowledged event: the real binary, a real process kill,
//! and a restart on the same data directory.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

struct Process {
    child: Child,
    url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn spawn(data_dir: &std::path::Path) -> Process {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_polyrec"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // From here the child is owned by a Process, whose drop kills and waits for it.
    let mut process = Process { child, url: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{}/readyz", process.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            return process;
        }
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!("polyrec exited before it was ready: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("polyrec did not become ready on {}", process.url);
}

async fn stats(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(format!("{url}/api/v1/behaviors/stats"))
        .header("X-Tenant-Id", "crash")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_during_ingestion_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let mut server = spawn(dir.path()).await;
    let created = client
        .post(format!("{}/api/v1/scenarios", server.url))
        .header("X-Tenant-Id", "crash")
        .json(&json!({"scenario_id": "feed", "scenario_type": "vlog", "config": {
            "recall": {"strategies": [{"name": "hot_items", "weight": 1.0, "limit": 10}]}, "rank": {"model": "weighted"}}}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());

    // Four writers send batches and count what was acknowledged, until the process dies.
    let acknowledged = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (client, url, acknowledged, sent) =
            (client.clone(), server.url.clone(), acknowledged.clone(), sent.clone());
        writers.push(tokio::spawn(async move {
            for batch in 0.. {
                let events: Vec<Value> = (0..200)
                    .map(|i| json!({"event_type": "click", "user_id": format!("u{writer}"), "item_id": format!("i{batch}-{i}"), "scenario_id": "feed"}))
                    .collect();
                sent.fetch_add(200, Ordering::SeqCst);
                let response = client
                    .post(format!("{url}/api/v1/behaviors/batch"))
                    .header("X-Tenant-Id", "crash")
                    .json(&json!({"events": events}))
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status().is_success() => {
                        let report: Value = response.json().await.unwrap();
                        acknowledged.fetch_add(report["accepted"].as_u64().unwrap(), Ordering::SeqCst);
                    }
                    _ => break,
                }
            }
        }));
    }
    while acknowledged.load(Ordering::SeqCst) < 20_000 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.load(Ordering::SeqCst);
    let sent = sent.load(Ordering::SeqCst);

    let server = spawn(dir.path()).await;
    let after = stats(&client, &server.url).await;
    let stored = after["events"].as_u64().unwrap();
    assert!(stored >= acknowledged, "acknowledged {acknowledged}, stored only {stored}");
    assert!(stored <= sent, "stored {stored} but only {sent} were sent");
    assert_eq!(stored % 200, 0, "a batch is stored whole or not at all");

    // The warehouse sink resumes from its committed offset and catches up with the bus.
    let mut warehouse = 0;
    for _ in 0..400 {
        warehouse = stats(&client, &server.url).await["warehouse_events"].as_u64().unwrap();
        if warehouse == stored {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(warehouse, stored, "every stored event reaches the warehouse exactly once");
}

async fn call(client: &reqwest::Client, method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = client.request(method, url).header("X-Tenant-Id", "crash").header("X-User-Id", "g0-1");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// Polls `GET path` until `done` holds (120 s at most: it returns as soon as it holds, and a
/// training job's parameter search on a loaded 2-core CI machine once took more than 20 s).
async fn until(client: &reqwest::Client, url: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..2_400 {
        let (_, body) = call(client, reqwest::Method::GET, url, None).await;
        if done(&body) {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("GET {url} never satisfied the condition; last answer: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_kill_no_job_is_left_running_and_the_registry_serves_without_retraining() {
    use polyrec_core::TenantId;
    use polyrec_storage::JobStore;
    use reqwest::Method;

    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let mut server = spawn(dir.path()).await;
    let config = json!({"recall": {"strategies": [{"name": "vector_search", "weight": 1.0, "limit": 10}]},
        "rank": {"model": "weighted"}});
    let (status, body) = call(
        &client,
        Method::POST,
        &format!("{}/api/v1/scenarios", server.url),
        Some(json!({"scenario_id": "feed", "scenario_type": "vlog", "config": config})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let items: String = (0..12)
        .map(|i| json!({"item_id": format!("i{i}"), "metadata": {"category": "c"}}).to_string() + "\n")
        .collect();
    let response = client
        .post(format!("{}/api/v1/scenarios/feed/items/bulk", server.url))
        .header("X-Tenant-Id", "crash")
        .body(items)
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["rejected"], 0, "{report}");
    let mut events = Vec::new();
    for g in 0..2 {
        for u in 0..6 {
            for i in 0..5 {
                if i != u % 5 || u == 5 {
                    events.push(json!({"event_type": "click", "user_id": format!("g{g}-{u}"),
                        "item_id": format!("i{}", g * 6 + i), "scenario_id": "feed"}));
                }
            }
        }
    }
    let (status, body) =
        call(&client, Method::POST, &format!("{}/api/v1/behaviors/batch", server.url), Some(json!({"events": events})))
            .await;
    assert_eq!(status, 200, "{body}");
    let (status, job) =
        call(&client, Method::POST, &format!("{}/api/v1/scenarios/feed/jobs/train", server.url), Some(json!({}))).await;
    assert_eq!(status, 202, "{job}");
    let job_url = format!("{}/api/v1/jobs/{}", server.url, job["job_id"].as_str().unwrap());
    let job = until(&client, &job_url, |job| job["state"] == "succeeded" || job["state"] == "failed").await;
    assert_eq!(job["versions"], json!({"als": "v1"}), "{job}");

    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    // What a kill in the middle of a training's last attempt leaves behind: a job recorded as
    // running.
    {
        let documents = polyrec_storage::SqliteDocuments::open(&dir.path().join("documents.db")).unwrap();
        let now = 4_000_000_000_000; // its heartbeat is in the future: only the restart can tell
        // Its last attempt: not retried again.
        let attempts = polyrec_server::jobs::training::MAX_ATTEMPTS;
        let orphan = crate::support::running_job("orphan", "feed", now, attempts);
        documents.put_job(&TenantId::parse("crash").unwrap(), &orphan).await.unwrap();
    }

    let server = spawn(dir.path()).await;
    let orphan_url = format!("{}/api/v1/jobs/orphan", server.url);
    let orphan = until(&client, &orphan_url, |job| job["state"] != "running").await;
    assert_eq!(orphan["state"], "failed", "{orphan}");
    // The registry's serving version is loaded at start-up; the schedule does not retrain a
    // model whose events have not changed.
    let models_url = format!("{}/api/v1/scenarios/feed/models", server.url);
    let models = until(&client, &models_url, |m| m["models"][0]["serving"] == true).await;
    assert_eq!(models["models"].as_array().unwrap().len(), 1, "{models}");
    let (status, answer) = call(
        &client,
        Method::POST,
        &format!("{}/api/v1/recommend", server.url),
        Some(json!({"scenario_id": "feed", "count": 1, "explain": true})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["items"][0]["item_id"], "i1", "{answer}");
    assert_eq!(answer["items"][0]["channels"][0]["name"], "vector_search", "{answer}");
}
