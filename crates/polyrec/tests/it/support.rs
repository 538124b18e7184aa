//! The test server: the real router and jobs on the embedded stores in a temporary directory,
//! listening on 127.0.0.1:0, with a clock the test moves.
//!
//! With `POLYREC_TEST_BACKENDS=production` every test server runs on the production engines
//! instead (the servers of `scripts/servers.sh`, from `POLYREC_TEST_*_URL`): a MongoDB database,
//! a Redis key prefix, a ClickHouse database and Kafka topic and group names of its own, so tests
//! running at once never share data.
//!
//! With `POLYREC_TEST_TOPOLOGY=split` as well, every test server is the split deployment: the
//! seven services of SPEC §3.1, each its own `App` (its own store connections and caches) on its
//! own loopback ports, the recommendation service reaching the others over gRPC, the stream jobs
//! in a worker, and a gateway in front that routes each path to the service that owns it
//! (`Service::owning`). Only HTTP and gRPC connect them; they share the clock the test moves.

use std::sync::Arc;
use std::time::Duration;

use polyrec_core::ManualClock;
use polyrec_server::{App, ServerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct TestServer {
    pub url: String,
    /// The all-in-one application; split, the worker's (it runs the stream jobs).
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
}

/// A fixed "now" far from any boundary: 2026-01-15T10:02:30Z.
pub const START_MS: i64 = 1_768_471_350_000;

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(ServerConfig::default()).await
    }

    pub async fn start_with(mut config: ServerConfig) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        config.data_dir = dir.path().to_owned();
        let clock = Arc::new(ManualClock::new(START_MS));
        if let Ok(filter) = std::env::var("POLYREC_TEST_LOG") {
            // Logs of the server under test, for debugging a failure: POLYREC_TEST_LOG=info.
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
        if production_backends() {
            production_storage(&mut config.storage);
        }
        let (shutdown, stopped) = tokio::sync::watch::channel(false);
        let stop = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        if split_topology() {
            let (url, app) = start_split(config, clock.clone(), stop).await;
            return TestServer { url, app, clock, client: reqwest::Client::new(), _dir: dir, shutdown: Some(shutdown) };
        }
        let app = polyrec_server::open(config, clock.clone()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(polyrec_server::run(app.clone(), listener, stop()));
        TestServer { url, app, clock, client: reqwest::Client::new(), _dir: dir, shutdown: Some(shutdown) }
    }

    /// Sends a request as `tenant` and returns the status and the JSON body (Null if none).
    pub async fn call(&self, method: Method, tenant: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.url)).header("X-Tenant-Id", tenant);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, tenant: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, tenant, path, None).await
    }

    pub async fn post(&self, tenant: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, tenant, path, Some(body)).await
    }

    /// Creates a scenario with `config`, asserting success.
    pub async fn scenario(&self, tenant: &str, id: &str, config: Value) {
        let (status, body) = self
            .post(tenant, "/api/v1/scenarios", json!({"scenario_id": id, "scenario_type": "vlog", "config": config}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Bulk-imports items (each `(id, metadata)`), asserting every one was taken.
    pub async fn items(&self, tenant: &str, scenario: &str, items: &[(&str, Value)]) {
        let body: String = items
            .iter()
            .map(|(id, metadata)| json!({"item_id": id, "metadata": metadata}).to_string() + "\n")
            .collect();
        let response = self
            .client
            .post(format!("{}/api/v1/scenarios/{scenario}/items/bulk", self.url))
            .header("X-Tenant-Id", tenant)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["rejected"], 0, "{report}");
    }

    /// Sends events (JSON objects) in one batch, asserting all were accepted.
    pub async fn events(&self, tenant: &str, events: Vec<Value>) {
        let n = events.len();
        let (status, report) = self.post(tenant, "/api/v1/behaviors/batch", json!({"events": events})).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["accepted"], n, "{report}");
    }

    /// The server's data directory (the embedded stores' files).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Waits until the stream jobs have processed every event sent so far. The bound is generous:
    /// it returns as soon as they have, and a loaded 2-core CI machine running the split topology
    /// on the real servers once needed more than 20 s.
    pub async fn settle(&self) {
        assert!(self.app.wait_for_jobs(Duration::from_secs(90)).await.unwrap(), "stream jobs did not catch up");
    }

    pub async fn recommend(&self, tenant: &str, user: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/api/v1/recommend", self.url))
            .header("X-Tenant-Id", tenant)
            .header("X-User-Id", user)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
    }
}

/// A config with the given recall strategies (name, weight, limit) and the weighted ranker.
pub fn config(strategies: &[(&str, f64, u64)]) -> Value {
    let strategies: Vec<Value> = strategies
        .iter()
        .map(|(name, weight, limit)| json!({"name": name, "weight": weight, "limit": limit}))
        .collect();
    json!({"recall": {"strategies": strategies}, "rank": {"model": "weighted"}})
}

pub fn event(kind: &str, user: &str, item: &str, scenario: &str) -> Value {
    json!({"event_type": kind, "user_id": user, "item_id": item, "scenario_id": scenario})
}

pub fn ids(answer: &Value) -> Vec<String> {
    answer["items"].as_array().unwrap().iter().map(|i| i["item_id"].as_str().unwrap().to_owned()).collect()
}

impl TestServer {
    /// Polls `GET path` as `tenant` until `done` holds for the answer (20 s at most: the suite
    /// runs a hundred tests at once on two cores against the production engines, and a stream
    /// job's idle step there reads and writes MongoDB and Kafka).
    pub async fn eventually(&self, tenant: &str, path: &str, done: impl Fn(StatusCode, &Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (status, body) = self.get(tenant, path).await;
            if done(status, &body) {
                return body;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("GET {path} never satisfied the condition in 20 s; last answer: {body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The internal key of the split test deployments.
pub const INTERNAL_KEY: &str = "test-internal-key-0123456789abcdef";

/// Whether every test server is the split deployment (`POLYREC_TEST_TOPOLOGY=split`, which
/// needs the production engines).
pub fn split_topology() -> bool {
    std::env::var("POLYREC_TEST_TOPOLOGY").as_deref() == Ok("split")
}

/// Starts the seven services, a worker and a gateway; returns the gateway's URL and the worker.
async fn start_split<F, Fut>(mut config: ServerConfig, clock: Arc<ManualClock>, stop: F) -> (String, Arc<App>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use polyrec_server::split::Service;
    assert!(production_backends(), "POLYREC_TEST_TOPOLOGY=split needs POLYREC_TEST_BACKENDS=production");
    let mut http = Vec::new();
    let mut grpc = std::collections::HashMap::new();
    for service in Service::ALL {
        http.push((service, tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()));
        if service.grpc_port().is_some() {
            grpc.insert(service, tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
    }
    let grpc_url = |service| format!("http://{}", grpc[&service].local_addr().unwrap());
    config.services.scenario_url = grpc_url(Service::Scenario);
    config.services.item_url = grpc_url(Service::Item);
    config.services.feature_url = grpc_url(Service::Feature);
    config.services.model_url = grpc_url(Service::Model);
    // A change made through one service shows in the others at the next request.
    config.services.follow_ms = 0;
    // The internal calls are authenticated, as in every split deployment.
    config.services.internal_key = INTERNAL_KEY.to_owned();
    let mut routes = Vec::new();
    for (service, listener) in http {
        routes.push((service, Some(format!("http://{}", listener.local_addr().unwrap()))));
        let app = polyrec_server::open_as(config.clone(), clock.clone(), Some(service)).await.unwrap();
        tokio::spawn(polyrec_server::split::run(app, service, listener, grpc.remove(&service), stop()));
    }
    let worker = polyrec_server::open(config, clock).await.unwrap();
    let jobs = polyrec_server::jobs::JobSet { stream: true, only: None, background: false, training: true };
    let jobs = polyrec_server::jobs::start_jobs(worker.clone(), jobs).await.unwrap();
    let stopped = stop();
    tokio::spawn(async move {
        stopped.await;
        jobs.stop().await;
    });
    let gateway = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", gateway.local_addr().unwrap());
    // The deployment's own gateway (`polyrec gateway`): each request to the service owning its path.
    let upstreams = polyrec_server::gateway::Upstreams::new(routes).unwrap();
    tokio::spawn(polyrec_server::gateway::run(upstreams, gateway, stop()));
    (url, worker)
}

/// Whether the tests run on the production engines (`POLYREC_TEST_BACKENDS=production`).
pub fn production_backends() -> bool {
    std::env::var("POLYREC_TEST_BACKENDS").as_deref() == Ok("production")
}

/// Points the storage at the production test servers, in namespaces of this test's own.
fn production_storage(storage: &mut polyrec_server::StorageConfig) {
    let var =
        |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set with POLYREC_TEST_BACKENDS"));
    let namespace = format!("it_{}", uuid::Uuid::new_v4().simple());
    let mongo = var("POLYREC_TEST_MONGO_URL");
    let (base, query) = mongo.split_once('?').unwrap_or((&mongo, ""));
    // The mongoeco test server is an in-memory Python emulation: a large bulk write keeps it busy
    // for many seconds, so the driver's monitor must wait longer than it would for MongoDB.
    storage.documents = format!(
        "{}/{namespace}?{query}&connectTimeoutMS=120000&serverSelectionTimeoutMS=120000",
        base.trim_end_matches('/')
    );
    storage.realtime = var("POLYREC_TEST_REDIS_URL");
    storage.redis_key_prefix = format!("{namespace}:");
    let clickhouse = var("POLYREC_TEST_CLICKHOUSE_URL");
    let authority = clickhouse.trim_start_matches("http://").trim_end_matches('/');
    storage.warehouse = format!("clickhouse://{authority}/{namespace}");
    // The SPEC batch (1,000 events or 5 s) would make every test wait 5 s for the warehouse.
    storage.sink_flush_ms = Some(100);
    storage.vectors = var("POLYREC_TEST_MILVUS_URL");
    let kafka = var("POLYREC_TEST_KAFKA_URL");
    // The test broker is a Python stand-in sharing two cores with seven services and the tests:
    // it has stalled past the 5 s default (a 503 MessageTimedOut on a batch in the split pass).
    // What a timeout does is the fault suite's subject (tests/faults), with its own setting.
    storage.bus = format!("{kafka}?prefix={namespace}.&partitions=4&session_timeout_ms=6000&message_timeout_ms=20000");
}

/// A training job recorded as running its `attempts`-th attempt, as a process that dies
/// mid-training leaves it.
pub fn running_job(job_id: &str, scenario: &str, at_ms: i64, attempts: u32) -> polyrec_core::JobRecord {
    polyrec_core::JobRecord {
        job_id: job_id.into(),
        scenario_id: polyrec_core::ScenarioId::parse(scenario).unwrap(),
        kind: "train".into(),
        models: vec!["als".into()],
        trigger: "api".into(),
        tune: false,
        state: polyrec_core::JobState::Running,
        progress: 0.5,
        stage: "training als".into(),
        error: None,
        error_code: None,
        versions: Default::default(),
        data: Default::default(),
        created_ms: at_ms,
        started_ms: Some(at_ms),
        finished_ms: None,
        heartbeat_ms: at_ms,
        attempts,
        worker: Some("a process that died".into()),
        revision: 3,
    }
}
