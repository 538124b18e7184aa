//! Real processes for the fault tests: `polyrec serve` and `polyrec worker` from the built binary,
//! and, for tests that stop a server, a Redis, ClickHouse or Kafka-API broker of the test's own.

#[path = "../../../polyrec-storage/tests/common/servers.rs"]
mod servers;
pub use servers::{server, unique};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn spawn(name: &str, command: &mut Command) -> Proc {
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child, name: name.to_owned() }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.pid().to_string()]).status().unwrap();
        assert!(status.success(), "kill -{signal} {}", self.name);
    }

    /// SIGKILL and wait.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for the exit.
    pub fn stop(mut self) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The storage of one test: its own MongoDB database, Redis key prefix, ClickHouse database and
/// Kafka topic/group prefix on the shared servers (or on servers of its own).
#[derive(Clone)]
pub struct Storage {
    pub documents: String,
    pub realtime: String,
    pub redis_prefix: String,
    pub warehouse: String,
    pub clickhouse_http: String,
    pub clickhouse_db: String,
    pub bus: String,
}

impl Storage {
    /// `None` when the servers are not configured (the test is skipped).
    pub fn shared() -> Option<Storage> {
        let mongo = server("POLYREC_TEST_MONGO_URL")?;
        let redis = server("POLYREC_TEST_REDIS_URL")?;
        let clickhouse = server("POLYREC_TEST_CLICKHOUSE_URL")?;
        let kafka = server("POLYREC_TEST_KAFKA_URL")?;
        let ns = unique("fault");
        let (base, query) = mongo.split_once('?').unwrap_or((&mongo, ""));
        let clickhouse_http = clickhouse.trim_end_matches('/').to_owned();
        Some(Storage {
            documents: format!("{}/{ns}?{query}&connectTimeoutMS=120000", base.trim_end_matches('/')),
            realtime: redis,
            redis_prefix: format!("{ns}:"),
            warehouse: format!("clickhouse://{}/{ns}", clickhouse_http.trim_start_matches("http://")),
            clickhouse_http,
            clickhouse_db: ns.clone(),
            bus: format!("{kafka}?prefix={ns}.&partitions=4&session_timeout_ms=6000&message_timeout_ms=3000"),
        })
    }

    pub fn prefix(&self) -> &str {
        self.redis_prefix.trim_end_matches(':')
    }

    /// A config file for `polyrec serve` / `polyrec worker` on this storage.
    pub fn config_file(&self, dir: &Path) -> PathBuf {
        let path = dir.join("polyrec.toml");
        std::fs::write(
            &path,
            format!(
                "[storage]\ndocuments = {:?}\nrealtime = {:?}\nredis_key_prefix = {:?}\nwarehouse = {:?}\nbus = {:?}\nsink_flush_ms = 200\n",
                self.documents, self.realtime, self.redis_prefix, self.warehouse, self.bus
            ),
        )
        .unwrap();
        path
    }

    /// A query against this test's ClickHouse database, TabSeparated rows.
    pub async fn clickhouse(&self, sql: &str) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/", self.clickhouse_http))
            .query(&[("database", self.clickhouse_db.as_str())])
            .body(sql.to_owned())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{sql}: {}", response.text().await.unwrap());
        response.text().await.unwrap()
    }
}

/// A polyrec process (`serve` or `worker`) with its log in a file.
pub fn polyrec(args: &[&str], config: &Path, log: &Path) -> Proc {
    polyrec_with_env(args, config, log, &[])
}

/// `polyrec gateway` with `args` (no config file: it reads none).
pub fn polyrec_gateway(args: &[&str], log: &Path) -> Proc {
    let log_file = std::fs::File::create(log).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_polyrec"));
    command.args(args).env("RUST_LOG", "info").stdout(log_file.try_clone().unwrap()).stderr(log_file);
    Proc::spawn("polyrec gateway", &mut command)
}

/// [`polyrec`] with extra environment variables.
pub fn polyrec_with_env(args: &[&str], config: &Path, log: &Path, env: &[(&str, &str)]) -> Proc {
    let log_file = std::fs::File::create(log).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_polyrec"));
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .env_remove("POLYREC_DOCUMENTS_URL")
        .env_remove("POLYREC_REALTIME_URL")
        .env_remove("POLYREC_WAREHOUSE_URL")
        .env_remove("POLYREC_BUS_URL")
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file);
    for (key, value) in env {
        command.env(key, value);
    }
    Proc::spawn(&format!("polyrec {}", args[0]), &mut command)
}

/// `polyrec serve` on a free port; returns it with its base URL once `/readyz` answers.
pub async fn serve(config: &Path, log: &Path, extra: &[&str]) -> (Proc, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", &listen];
    args.extend_from_slice(extra);
    let mut process = polyrec(&args, config, log);
    let url = format!("http://{listen}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if client.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return (process, url);
        }
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!("polyrec serve exited ({status}): {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        assert!(
            Instant::now() < deadline,
            "polyrec serve not ready: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Clone)]
pub struct Api {
    pub url: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(url: &str) -> Api {
        Api { url: url.to_owned(), client: reqwest::Client::new() }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        tenant: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, Option<String>) {
        let mut request = self.client.request(method, format!("{}{path}", self.url)).header("X-Tenant-Id", tenant);
        if let Some(body) = body {
            request = request.json(&body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after =
                    response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let body = response.json().await.unwrap_or(Value::Null);
                (status, body, retry_after)
            }
            Err(error) => panic!("{path}: {error}"),
        }
    }

    /// A POST as `user` of `tenant` (`X-User-Id`).
    pub async fn call_as(&self, tenant: &str, user: &str, path: &str, body: Value) -> (u16, Value) {
        let request = self.client.post(format!("{}{path}", self.url)).header("X-Tenant-Id", tenant);
        let response = request.header("X-User-Id", user).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, tenant: &str, path: &str, body: Value) -> (u16, Value) {
        let (status, body, _) = self.call(reqwest::Method::POST, tenant, path, Some(body)).await;
        (status, body)
    }

    pub async fn get(&self, tenant: &str, path: &str) -> (u16, Value) {
        let (status, body, _) = self.call(reqwest::Method::GET, tenant, path, None).await;
        (status, body)
    }

    /// Creates a scenario with hot-items and latest recall.
    pub async fn scenario(&self, tenant: &str, id: &str) {
        let body = serde_json::json!({"scenario_id": id, "scenario_type": "vlog", "config": {
            "recall": {"strategies": [
                {"name": "hot_items", "weight": 0.6, "limit": 50},
                {"name": "latest", "weight": 0.4, "limit": 50}
            ]},
            "rank": {"model": "weighted"}}});
        let (status, answer) = self.post(tenant, "/api/v1/scenarios", body).await;
        assert_eq!(status, 201, "{answer}");
    }

    pub async fn warehouse_events(&self, tenant: &str) -> u64 {
        self.get(tenant, "/api/v1/behaviors/stats").await.1["warehouse_events"].as_u64().unwrap_or(0)
    }

    /// A gauge of the server's `/metrics` (no labels), `None` before it reports one.
    pub async fn gauge(&self, name: &str) -> Option<f64> {
        let text = self.client.get(format!("{}/metrics", self.url)).send().await.ok()?.text().await.ok()?;
        let prefix = format!("{name} ");
        text.lines().find_map(|line| line.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok())
    }

    /// A stream job's lag behind the bus as the server's `/metrics` reports it (the events it
    /// has not yet applied and committed); `None` before it reports one.
    pub async fn stream_lag(&self, job: &str) -> Option<u64> {
        let text = self.client.get(format!("{}/metrics", self.url)).send().await.ok()?.text().await.ok()?;
        let prefix = format!("polyrec_stream_job_lag_events{{stream_job=\"{job}\"}} ");
        let value = text.lines().find_map(|line| line.strip_prefix(&prefix))?;
        value.trim().parse::<f64>().ok().map(|lag| lag as u64)
    }
}

/// The OTLP collector of the PyPI package `rotel` (`POLYREC_TEST_ROTEL_BIN`, set by
/// `scripts/servers.sh`) on a free port, printing every span it receives to `log`; returns it
/// with its OTLP/gRPC endpoint. `None` without it (a failure under `POLYREC_REQUIRE_SERVERS`).
pub async fn otlp_collector(dir: &Path, log: &Path) -> Option<(Proc, String)> {
    let rotel = match std::env::var("POLYREC_TEST_ROTEL_BIN") {
        Ok(path) if !path.is_empty() => path,
        _ if std::env::var("POLYREC_REQUIRE_SERVERS").is_ok() => {
            panic!("POLYREC_TEST_ROTEL_BIN is not set (scripts/servers.sh sets it)")
        }
        _ => return None,
    };
    let (grpc, http) = (free_port(), free_port());
    let mut command = Command::new(rotel);
    command
        .args(["start", "--exporter", "blackhole", "--debug-log", "traces", "--debug-log-verbosity", "detailed"])
        .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
        .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
        .arg("--pid-file")
        .arg(dir.join("rotel.pid"))
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(dir.join("rotel.err")).unwrap());
    let process = Proc::spawn("rotel", &mut command);
    eventually(Duration::from_secs(30), "the collector listening", || async {
        std::net::TcpStream::connect(("127.0.0.1", grpc)).is_ok().then_some(())
    })
    .await;
    Some((process, format!("http://127.0.0.1:{grpc}")))
}

/// A span as the collector printed it.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintedSpan {
    pub service: String,
    pub trace_id: String,
    pub parent_id: String,
    pub span_id: String,
    pub name: String,
    pub kind: String,
}

/// The spans of rotel's detailed debug log (`ResourceSpans` blocks with their `service.name`,
/// then `Span #n` blocks with `Trace ID`, `Parent ID`, `ID`, `Name` and `Kind` lines).
pub fn printed_spans(log: &str) -> Vec<PrintedSpan> {
    let mut spans = Vec::new();
    let mut service = String::new();
    let mut current: Option<PrintedSpan> = None;
    for line in log.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("-> service.name: Str(").and_then(|v| v.strip_suffix(')')) {
            service = name.to_owned();
        } else if line.starts_with("ResourceSpans #") || line.starts_with("Span #") {
            spans.extend(current.take());
            if line.starts_with("Span #") {
                current = Some(PrintedSpan {
                    service: service.clone(),
                    trace_id: String::new(),
                    parent_id: String::new(),
                    span_id: String::new(),
                    name: String::new(),
                    kind: String::new(),
                });
            }
        } else if let (Some(span), Some((key, value))) = (current.as_mut(), line.split_once(':')) {
            let value = value.trim().to_owned();
            match key.trim() {
                "Trace ID" => span.trace_id = value,
                "Parent ID" => span.parent_id = value,
                "ID" => span.span_id = value,
                "Name" => span.name = value,
                "Kind" => span.kind = value,
                _ => {}
            }
        }
    }
    spans.extend(current);
    spans
}

/// A Redis server of the test's own, on a free port.
pub fn redis_server(port: u16, dir: &Path) -> Proc {
    let mut command = Command::new("redis-server");
    command
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Proc::spawn("redis-server", &mut command)
}

/// A ClickHouse server of the test's own: the shared test server's config with other ports and
/// a data directory under `dir`. Returns it once it answers `/ping`.
pub async fn clickhouse_server(dir: &Path, http_port: u16) -> Proc {
    let template = std::env::var("POLYREC_TEST_CLICKHOUSE_CONFIG").expect("POLYREC_TEST_CLICKHOUSE_CONFIG");
    let text = std::fs::read_to_string(&template).unwrap();
    let shared_dir = Path::new(&template).parent().unwrap().to_str().unwrap().to_owned();
    let own = dir.to_str().unwrap();
    let tcp_port = free_port();
    let text = replace_between(&text, "<http_port>", "</http_port>", &http_port.to_string());
    let text = replace_between(&text, "<tcp_port>", "</tcp_port>", &tcp_port.to_string());
    let text = text.replace(&shared_dir, own);
    for sub in ["data", "tmp", "user_files", "format_schemas", "log"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let config = dir.join("config.xml");
    std::fs::write(&config, text).unwrap();
    let mut command = Command::new("clickhouse-server");
    command.arg(format!("--config-file={}", config.display())).stdout(Stdio::null()).stderr(Stdio::null());
    let process = Proc::spawn("clickhouse-server", &mut command);
    let client = reqwest::Client::new();
    eventually(Duration::from_secs(60), "clickhouse to answer /ping", || {
        let client = client.clone();
        async move {
            client
                .get(format!("http://127.0.0.1:{http_port}/ping"))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        }
    })
    .await;
    process
}

/// `text` with what lies between the first `open` and the next `close` replaced by `value`.
fn replace_between(text: &str, open: &str, close: &str, value: &str) -> String {
    let start = text.find(open).unwrap() + open.len();
    let end = start + text[start..].find(close).unwrap();
    format!("{}{value}{}", &text[..start], &text[end..])
}

/// A Kafka-API broker (tansu, memory storage) of the test's own.
pub async fn kafka_broker(port: u16) -> Proc {
    let tansu = std::env::var("POLYREC_TEST_TANSU_BIN").expect("POLYREC_TEST_TANSU_BIN");
    let listener = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(tansu);
    command
        .args(["broker", "--listener-url", &listener, "--advertised-listener-url", &listener])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let process = Proc::spawn("tansu", &mut command);
    eventually(Duration::from_secs(30), "the broker to listen", || async move {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    })
    .await;
    process
}
