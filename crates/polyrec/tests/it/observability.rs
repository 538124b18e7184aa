//! Observability with the real tools: the real binary's `/metrics` scraped by a Prometheus server
//! (Debian's), and its traces received over OTLP by a collector (the PyPI package `rotel`), one
//! trace continuing the caller's `traceparent` with a span per pipeline stage.
//!
//! `scripts/servers.sh` installs both and names them in `POLYREC_TEST_PROMETHEUS_BIN` and
//! `POLYREC_TEST_ROTEL_BIN`; without them these tests are skipped (failed under
//! `POLYREC_REQUIRE_SERVERS`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// SIGTERM, then wait for a clean exit (the server flushes its spans on the way out).
    fn terminate(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn tool(var: &str) -> Option<PathBuf> {
    match std::env::var(var) {
        Ok(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ if std::env::var("POLYREC_REQUIRE_SERVERS").is_ok() => {
            panic!("{var} is not set (scripts/servers.sh sets it)")
        }
        _ => None,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_for(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 30 s");
}

/// `polyrec serve` on a fresh data directory, with extra environment.
async fn polyrec(dir: &Path, env: &[(&str, String)]) -> (Process, String) {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_polyrec"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.join("data"))
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(dir.join("polyrec.log")).unwrap())
        .stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let process = Process(command.spawn().unwrap());
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_for("polyrec ready", async || {
        client.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status().is_success())
    })
    .await;
    (process, url)
}

/// A scenario with two items and one recommend request carrying `traceparent`.
async fn traffic(url: &str, traceparent: Option<&str>) {
    let client = reqwest::Client::new();
    let post =
        |path: &str, body: Value| client.post(format!("{url}{path}")).header("X-Tenant-Id", "obs").json(&body).send();
    let config = json!({"recall": {"strategies": [{"name": "latest", "weight": 1.0, "limit": 10}]},
                        "rank": {"model": "weighted"}, "rerank": {"rules": [{"name": "freshness", "weight": 0.2}]}});
    let created =
        post("/api/v1/scenarios", json!({"scenario_id": "feed", "scenario_type": "vlog", "config": config})).await;
    assert_eq!(created.unwrap().status(), 201);
    for id in ["a", "b"] {
        let answer = post("/api/v1/scenarios/feed/items", json!({"item_id": id, "metadata": {"category": "x"}})).await;
        assert_eq!(answer.unwrap().status(), 201);
    }
    let mut request = client
        .post(format!("{url}/api/v1/recommend"))
        .header("X-Tenant-Id", "obs")
        .header("X-User-Id", "u1")
        .json(&json!({"scenario_id": "feed", "count": 2}));
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let events: Vec<Value> = [("impression", "a"), ("impression", "b"), ("click", "a"), ("order", "a")]
        .iter()
        .map(|(kind, item)| json!({"event_type": kind, "user_id": "u1", "item_id": item, "scenario_id": "feed"}))
        .collect();
    let sent = post("/api/v1/behaviors/batch", json!({"events": events})).await.unwrap();
    assert_eq!(sent.status(), 200);
}

/// The series an instant query returns (none while Prometheus is not up yet).
async fn prometheus_query(client: &reqwest::Client, port: u16, query: &str) -> Vec<Value> {
    let url = format!("http://127.0.0.1:{port}/api/v1/query");
    let Ok(response) = client.get(url).query(&[("query", query)]).send().await else { return Vec::new() };
    let Ok(answer) = response.json::<Value>().await else { return Vec::new() };
    answer["data"]["result"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_prometheus_server_scrapes_the_metrics() {
    let Some(prometheus) = tool("POLYREC_TEST_PROMETHEUS_BIN") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = polyrec(dir.path(), &[]).await;
    traffic(&url, None).await;
    let port = free_port();
    let target = url.trim_start_matches("http://");
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: polyrec\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let _prometheus = Process(
        Command::new(prometheus)
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let query = async |q: &str| prometheus_query(&client, port, q).await;
    wait_for("a scrape of polyrec", async || {
        !query("polyrec_http_requests_total{route=\"/api/v1/recommend\",status=\"200\"}").await.is_empty()
    })
    .await;
    let up = query("up{job=\"polyrec\"}").await;
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    for series in [
        "polyrec_http_request_duration_seconds_bucket{route=\"/api/v1/recommend\"}",
        "polyrec_recall_channel_duration_seconds_bucket{channel=\"latest\"}",
        "polyrec_pipeline_candidates_bucket{stage=\"recall\"}",
        "polyrec_cache_lookups_total{cache=\"scenario\"}",
        "polyrec_tenant_requests_total{tenant=\"obs\",kind=\"recommend\"}",
        "polyrec_stream_job_lag_events{stream_job=\"warehouse_sink\"}",
    ] {
        assert!(!query(series).await.is_empty(), "Prometheus has no {series}");
    }
    // The recommendation-quality series, per tenant and scenario, and the CTR the dashboard and
    // the recording rule compute from them (1 click / 2 impressions).
    wait_for("the recommendation events in Prometheus", async || {
        let counted = query("polyrec_recommendation_events_total{tenant=\"obs\",scenario=\"feed\"}").await;
        counted.len() == 3
    })
    .await;
    for (kind, count) in [("impressions", "2"), ("clicks", "1"), ("conversions", "1")] {
        let series = format!("polyrec_recommendation_events_total{{tenant=\"obs\",scenario=\"feed\",kind=\"{kind}\"}}");
        let found = query(&series).await;
        assert_eq!(found[0]["value"][1], count, "{series}: {found:?}");
    }
    let ctr = "sum by (tenant, scenario) (polyrec_recommendation_events_total{kind=\"clicks\"}) \
               / sum by (tenant, scenario) (polyrec_recommendation_events_total{kind=\"impressions\"})";
    let ctr = query(ctr).await;
    assert_eq!(ctr[0]["value"][1], "0.5", "{ctr:?}");
    server.terminate();
}

#[tokio::test]
async fn traces_reach_an_otlp_collector_with_a_span_per_stage_under_the_callers_trace() {
    let Some(rotel) = tool("POLYREC_TEST_ROTEL_BIN") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http) = (free_port(), free_port());
    let log = dir.path().join("rotel.log");
    let _collector = Process(
        Command::new(rotel)
            .args(["start", "--exporter", "blackhole", "--debug-log", "traces", "--debug-log-verbosity", "detailed"])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
            .arg("--pid-file")
            .arg(dir.path().join("rotel.pid"))
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("rotel.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for("the collector listening", async || std::net::TcpStream::connect(("127.0.0.1", grpc)).is_ok()).await;
    let (server, url) =
        polyrec(dir.path(), &[("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{grpc}"))]).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    traffic(&url, Some(&format!("00-{trace_id}-00f067aa0ba902b7-01"))).await;
    server.terminate();
    let received = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("spans at the collector", async || {
        let text = received();
        ["recall.channel", "rank", "rerank"].iter().all(|name| text.contains(name)) && text.contains(trace_id)
    })
    .await;
    let text = received();
    assert!(text.contains("polyrec"), "the service name: {text}");
}
