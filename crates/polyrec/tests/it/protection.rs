//! Server protection (`[limits]`): load shedding at the concurrency limit with `503 overloaded`
//! and `Retry-After`, a header-read timeout for clients that trickle their headers, bulk imports
//! on slots of their own and cut off when they stall, and the NDJSON import reading lines split
//! across any chunks.

use std::time::Duration;

use polyrec_server::ServerConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestServer, config, split_topology};

/// A `POST` to `path` as `tenant` whose body the test feeds: while it is open, the request is
/// running (a JSON route reading its body, or a bulk import) and holds its slot.
fn streaming_post(
    server: &TestServer,
    tenant: &str,
    path: &str,
) -> (tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>, tokio::task::JoinHandle<reqwest::Response>) {
    let (feed, chunks) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(16);
    let body = reqwest::Body::wrap_stream(tokio_stream(chunks));
    let request = server
        .client
        .post(format!("{}{path}", server.url))
        .header("X-Tenant-Id", tenant)
        .header("Content-Type", "application/json")
        .body(body);
    (feed, tokio::spawn(async move { request.send().await.unwrap() }))
}

fn streaming_upload(
    server: &TestServer,
    tenant: &str,
) -> (tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>, tokio::task::JoinHandle<reqwest::Response>) {
    streaming_post(server, tenant, "/api/v1/scenarios/s/items/bulk")
}

fn tokio_stream(
    mut chunks: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| chunks.poll_recv(cx))
}

/// Waits (10 s at most) until `count` says `n`.
async fn until(what: &str, n: usize, count: impl Fn() -> usize) {
    for _ in 0..1_000 {
        if count() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: {} after 10 s, not {n}", count());
}

/// Starts creating item `i1` as `tenant`, and returns once the server is reading its body (its
/// one request in flight), so it holds a slot — the process's and the tenant's — until the rest
/// of the body is sent ([`release`]) or `feed` is dropped.
async fn hold_a_slot(
    server: &TestServer,
    tenant: &str,
) -> (tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>, tokio::task::JoinHandle<reqwest::Response>) {
    let (feed, request) = streaming_post(server, tenant, "/api/v1/scenarios/s/items");
    feed.send(Ok(b"{\"item_id\": \"i1\", ".to_vec())).await.unwrap();
    until("requests in flight", 1, || server.app.requests_in_flight()).await;
    assert!(!request.is_finished(), "the request is still open");
    (feed, request)
}

/// Sends the rest of the body [`hold_a_slot`] started: the item is created and the slot given
/// back.
async fn release(
    feed: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    request: tokio::task::JoinHandle<reqwest::Response>,
) {
    feed.send(Ok(b"\"metadata\": {}}".to_vec())).await.unwrap();
    drop(feed);
    assert_eq!(request.await.unwrap().status(), StatusCode::CREATED);
}

/// Starts a bulk import as `tenant` and returns once the server is running it (`running` bulk
/// imports in all), holding an import slot until `feed` is dropped.
async fn hold_an_import(
    server: &TestServer,
    tenant: &str,
    running: usize,
) -> (tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>, tokio::task::JoinHandle<reqwest::Response>) {
    let (feed, upload) = streaming_upload(server, tenant);
    feed.send(Ok(b"{\"item_id\": \"i1\", \"metadata\": {}}\n".to_vec())).await.unwrap();
    until("imports in flight", running, || server.app.imports_in_flight()).await;
    assert!(!upload.is_finished(), "the upload is still open");
    (feed, upload)
}

#[tokio::test]
async fn past_the_concurrency_limit_requests_are_shed_with_retry_after() {
    if split_topology() {
        return; // The test gateway in front of the services has no such limit of its own.
    }
    let mut settings = ServerConfig::default();
    settings.limits.max_concurrent_requests = 1;
    let server = TestServer::start_with(settings).await;
    server.scenario("a", "s", config(&[("latest", 1.0, 10)])).await;

    // The upload takes the one permit and keeps it while its body is open.
    let (feed, upload) = hold_a_slot(&server, "a").await;
    let response = server
        .client
        .get(format!("{}/api/v1/scenarios/s/items", server.url))
        .header("X-Tenant-Id", "a")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "a request past the limit is shed at once");
    let shed = response;
    assert_eq!(shed.headers().get("retry-after").unwrap(), "1");
    let body: Value = shed.json().await.unwrap();
    assert_eq!(body["code"], "overloaded", "{body}");
    // Probes are outside the limit.
    let health = server.client.get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    release(feed, upload).await;
    let (status, _) = server.get("a", "/api/v1/scenarios/s/items").await;
    assert_eq!(status, StatusCode::OK, "the permit is back once the request ended");
}

#[tokio::test]
async fn one_tenant_holding_its_slots_leaves_the_others_theirs() {
    if split_topology() {
        return; // The test gateway in front of the services has no such limit of its own.
    }
    let mut settings = ServerConfig::default();
    settings.limits.max_concurrent_requests_per_tenant = 1;
    let server = TestServer::start_with(settings).await;
    server.scenario("a", "s", config(&[("latest", 1.0, 10)])).await;
    let (feed, upload) = hold_a_slot(&server, "a").await;

    let response =
        server.client.get(format!("{}/api/v1/scenarios", server.url)).header("X-Tenant-Id", "a").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers().get("retry-after").unwrap(), "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "too_many_in_flight", "{body}");
    let (status, body) = server.get("b", "/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::OK, "another tenant is served meanwhile: {body}");

    release(feed, upload).await;
    let (status, _) = server.get("a", "/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::OK, "a's slot is back once its request ended");
}

/// Bulk imports stream for as long as their bodies last, so they have slots of their own: the
/// uploads one tenant holds open take none of the other requests' (theirs or anyone's), at most
/// `max_concurrent_imports_per_tenant` are one tenant's, and past `max_concurrent_imports` one
/// more is shed.
#[tokio::test]
async fn bulk_imports_held_open_leave_the_other_requests_their_slots() {
    if split_topology() {
        return; // The test gateway in front of the services has no such limit of its own.
    }
    let mut settings = ServerConfig::default();
    settings.limits.max_concurrent_requests = 1;
    settings.limits.max_concurrent_imports = 2;
    settings.limits.max_concurrent_imports_per_tenant = 1;
    let server = TestServer::start_with(settings).await;
    for tenant in ["a", "b", "c"] {
        server.scenario(tenant, "s", config(&[("latest", 1.0, 10)])).await;
    }
    let (feed_a, upload_a) = hold_an_import(&server, "a", 1).await;
    let (status, body) = server.get("a", "/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::OK, "the upload holds no request slot: {body}");
    let (_feed, second) = streaming_upload(&server, "a");
    let second = second.await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS, "a's one import slot is taken");
    assert_eq!(second.json::<Value>().await.unwrap()["code"], "too_many_in_flight");
    let (feed_b, upload_b) = hold_an_import(&server, "b", 2).await;
    let (_feed, third) = streaming_upload(&server, "c");
    let third = third.await.unwrap();
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE, "both import slots are taken");
    assert_eq!(third.json::<Value>().await.unwrap()["code"], "overloaded");

    drop((feed_a, feed_b));
    for upload in [upload_a, upload_b] {
        let report: Value = upload.await.unwrap().json().await.unwrap();
        assert_eq!(report["created"], 1, "{report}");
    }
    until("imports in flight", 0, || server.app.imports_in_flight()).await;
}

/// An upload that stops sending is cut off `request_timeout_ms` after its last piece, with what
/// came before imported, so a stalled client does not hold its import slot for ever.
#[tokio::test]
async fn a_stalled_bulk_import_is_cut_off_with_what_came_before_imported() {
    let mut settings = ServerConfig::default();
    settings.limits.request_timeout_ms = 300;
    let server = TestServer::start_with(settings).await;
    server.scenario("a", "s", config(&[("latest", 1.0, 10)])).await;
    let (feed, upload) = streaming_upload(&server, "a");
    feed.send(Ok(b"{\"item_id\": \"i1\", \"metadata\": {}}\n{\"item_id\": \"i2\"".to_vec())).await.unwrap();
    // Nothing more is sent, and the body stays open: the server answers after 300 ms (10 s is
    // only how long the test waits before it calls the server wrong).
    let answer = tokio::time::timeout(Duration::from_secs(10), upload).await.expect("an answer").unwrap();
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["code"], "body_read_failed", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("sent nothing for 300 ms after line 1"), "{message}");
    let (status, item) = server.get("a", "/api/v1/scenarios/s/items/i1").await;
    assert_eq!(status, StatusCode::OK, "the line before the stall was imported: {item}");
    let (status, _) = server.get("a", "/api/v1/scenarios/s/items/i2").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the unfinished line was not");
    drop(feed);
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_disconnected() {
    if split_topology() {
        return; // The gateway, not a service, would hold this connection.
    }
    let mut settings = ServerConfig::default();
    settings.limits.header_read_timeout_ms = 300;
    let server = TestServer::start_with(settings).await;
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: polyrec\r\n").await.unwrap();
    // The headers never end: the server closes the connection (after 300 ms; 10 s is only how
    // long the test waits before it calls the server wrong).
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await;
    match read {
        Ok(Ok(n)) => {
            let answer = String::from_utf8_lossy(&buffer[..n]);
            assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "closed or 408, got {answer:?}")
        }
        Ok(Err(_)) => {} // reset: closed too
        Err(_) => panic!("the connection was still open 10 s after its headers stalled"),
    }
}

#[tokio::test]
async fn ndjson_lines_split_across_any_chunks_are_read_whole() {
    let server = TestServer::start().await;
    server.scenario("a", "s", config(&[("latest", 1.0, 10)])).await;
    let mut body = String::new();
    for i in 0..50 {
        body.push_str(&json!({"item_id": format!("i{i}"), "metadata": {"title": "x".repeat(i * 37)}}).to_string());
        body.push('\n');
    }
    // A line over the 1 MiB limit in the middle, then more good lines.
    body.push_str(&format!("{{\"item_id\": \"big\", \"metadata\": {{\"title\": \"{}\"}}}}\n", "y".repeat(1_100_000)));
    body.push_str(&json!({"item_id": "after", "metadata": {}}).to_string());
    let (feed, upload) = streaming_upload(&server, "a");
    let bytes = body.into_bytes();
    let mut at = 0;
    let mut size = 1;
    while at < bytes.len() {
        // Chunks of every size from 1 byte up, so every boundary falls somewhere in a line.
        let end = (at + size).min(bytes.len());
        feed.send(Ok(bytes[at..end].to_vec())).await.unwrap();
        at = end;
        size = if size > 70_000 { 1 } else { size * 3 + 1 };
    }
    drop(feed);
    let report: Value = upload.await.unwrap().json().await.unwrap();
    assert_eq!((report["created"].as_u64(), report["rejected"].as_u64()), (Some(51), Some(1)), "{report}");
    assert_eq!(report["errors"][0]["code"], "line_too_long", "{report}");
    assert_eq!(report["errors"][0]["line"], 51, "{report}");
}
