//! `polyrec gateway`: one HTTP entry point in front of the split deployment. It serves the admin
//! console (the same page the all-in-one server serves at `/`) and forwards every other request
//! to the service that owns its path ([`Service::owning`], from the route table), streaming the
//! body both ways, so the console — and any client that wants one URL — works against the seven
//! services as it does against `polyrec serve`.
//!
//! It is a router, not a second line of defence: authentication, quotas and limits stay in the
//! services, which see the caller's headers unchanged (`Host` and the hop-by-hop headers aside,
//! plus `X-Forwarded-For`). A service that does not answer is the API's `503 unavailable` with
//! `Retry-After`, which clients retry. A production ingress (NGINX, Envoy, a cloud load balancer) can take its
//! place with the route table of deploy/README.md; the console then needs `/` and `/console/*`
//! routed to a gateway or an all-in-one replica.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::{console, ops};
use crate::split::Service;

/// Where the gateway finds each service's HTTP port.
#[derive(Debug, Clone)]
pub struct Upstreams(pub HashMap<Service, String>);

impl Upstreams {
    /// Each service at `http://127.0.0.1:<its SPEC port>` unless `given` names it (a base URL,
    /// e.g. `http://scenario-service:8001`).
    pub fn new(given: impl IntoIterator<Item = (Service, Option<String>)>) -> anyhow::Result<Upstreams> {
        let mut given: HashMap<Service, Option<String>> = given.into_iter().collect();
        let mut upstreams = HashMap::new();
        for service in Service::ALL {
            let url = given
                .remove(&service)
                .flatten()
                .filter(|url| !url.trim().is_empty())
                .unwrap_or_else(|| format!("http://127.0.0.1:{}", service.http_port()));
            let parsed = reqwest::Url::parse(&url)
                .map_err(|e| anyhow::anyhow!("the {} service's URL {url:?}: {e}", service.name()))?;
            // Plain HTTP: the services' ports inside the deployment's network (no TLS client here).
            if parsed.scheme() != "http" || parsed.host().is_none() {
                anyhow::bail!("the {} service's URL {url:?} is not an http:// URL with a host", service.name());
            }
            upstreams.insert(service, url.trim_end_matches('/').to_owned());
        }
        Ok(Upstreams(upstreams))
    }
}

#[derive(Clone)]
struct Gateway {
    upstreams: Arc<Upstreams>,
    client: reqwest::Client,
}

/// The gateway's router: the console, its own `/healthz`, `/readyz` and `/metrics`, and every
/// other path forwarded.
pub fn router(upstreams: Upstreams) -> anyhow::Result<Router> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| anyhow::anyhow!("the gateway's HTTP client: {e}"))?;
    let state = Gateway { upstreams: Arc::new(upstreams), client };
    Ok(Router::new()
        .route("/", get(console::index))
        .route("/console/app.js", get(console::script))
        .route("/console/app.css", get(console::style))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(|| async { ops::exposition() }))
        .fallback(forward)
        .with_state(state))
}

/// Serves [`router`] on `listener` until `shutdown` resolves, on the services' own connection
/// loop ([`crate::http::serve::serve`], with the default `[limits]`): a header-read timeout, and
/// a body a service refused early read out rather than reset.
pub async fn run(
    upstreams: Upstreams,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = router(upstreams)?;
    tracing::info!(address = %listener.local_addr()?, "polyrec gateway listening");
    crate::http::serve::serve(listener, app, &crate::config::LimitsConfig::default(), shutdown).await?;
    Ok(())
}

/// Ready when every service answers its own `/readyz`; the answer names those that do not.
async fn readyz(State(gateway): State<Gateway>) -> Response {
    let checks = Service::ALL.map(|service| {
        let url = format!("{}/readyz", gateway.upstreams.0[&service]);
        let client = gateway.client.clone();
        async move {
            let ready = client
                .get(url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|answer| answer.status().is_success());
            (service, ready)
        }
    });
    let down: Vec<&str> = futures::future::join_all(checks)
        .await
        .into_iter()
        .filter(|(_, ready)| !ready)
        .map(|(service, _)| service.name())
        .collect();
    ops::readiness(&down).into_response()
}

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1), and `Host`.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !hop_by_hop(name) {
            to.append(name.clone(), value.clone());
        }
    }
}

async fn forward(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let service = Service::owning(parts.uri.path());
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path_and_query}", gateway.upstreams.0[&service]);
    let mut headers = HeaderMap::new();
    copy_headers(&parts.headers, &mut headers);
    let forwarded = match parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(value) = forwarded.parse() {
        headers.insert("x-forwarded-for", value);
    }
    let started = Instant::now();
    let sent = gateway
        .client
        .request(parts.method, url)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send()
        .await;
    let status = match &sent {
        Ok(answer) => answer.status().as_u16().to_string(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.as_u16().to_string(),
    };
    metrics::histogram!("polyrec_gateway_request_duration_seconds", "service" => service.name(), "status" => status)
        .record(started.elapsed().as_secs_f64());
    match sent {
        Ok(answer) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = answer.status();
            copy_headers(answer.headers(), response.headers_mut());
            *response.body_mut() = Body::from_stream(answer.bytes_stream());
            response
        }
        Err(error) => {
            tracing::warn!(service = service.name(), %error, "the gateway could not reach a service");
            // The API's own `unavailable` answer (503, Retry-After), which clients retry.
            let message = format!("the {} service did not answer; try again shortly", service.name());
            crate::http::error::ApiError::from(polyrec_core::Error::unavailable(message)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_default_to_the_spec_ports_on_loopback_and_refuse_bad_urls() {
        let upstreams = Upstreams::new([(Service::Item, Some("http://item-service:8002/".to_owned()))]).unwrap();
        assert_eq!(upstreams.0[&Service::Item], "http://item-service:8002");
        assert_eq!(upstreams.0[&Service::Scenario], "http://127.0.0.1:8001");
        assert_eq!(upstreams.0[&Service::Analytics], "http://127.0.0.1:8007");
        for bad in ["item-service:8002", "ftp://x:1", "https://x:1", "not a url"] {
            let error = Upstreams::new([(Service::Item, Some(bad.to_owned()))]).unwrap_err().to_string();
            assert!(error.contains("item service"), "{bad}: {error}");
        }
    }

    #[tokio::test]
    async fn it_serves_the_console_and_a_service_that_does_not_answer_is_503_unavailable() {
        // A port nothing listens on: bound, then closed.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let upstreams =
            Upstreams::new(Service::ALL.map(|service| (service, Some(format!("http://{closed}"))))).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(run(upstreams, listener, async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        let page = client.get(format!("{url}/")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("polyrec console"));
        let answer = client.get(format!("{url}/api/v1/scenarios")).header("X-Tenant-Id", "t").send().await.unwrap();
        assert_eq!(answer.status(), 503);
        assert_eq!(answer.headers()["retry-after"], "1");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["code"], polyrec_core::Code::Unavailable.to_string(), "{body}");
        assert!(body["message"].as_str().unwrap().contains("scenario service"), "{body}");
        let ready = client.get(format!("{url}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["failing"].as_array().unwrap().len(), 7, "{body}");
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    /// A body over a service's limit is that service's `413 body_too_large` through the gateway
    /// as it is straight from the service. (The service refuses it before reading it all; had it
    /// closed the connection on the unread rest, the gateway could see the reset instead of the
    /// answer — a race CI's loaded machine lost once, which the service's connection loop now
    /// avoids: `http::serve`'s test shows that deterministically.)
    #[tokio::test]
    async fn a_body_over_the_services_limit_is_its_413_through_the_gateway() {
        use crate::http::error::ApiJson;
        use axum::extract::DefaultBodyLimit;
        const LIMIT: usize = 16 * 1024 * 1024;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let service = Router::new()
            .route("/api/v1/scenarios/s/items", axum::routing::post(|ApiJson(_): ApiJson<serde_json::Value>| async {}))
            .layer(DefaultBodyLimit::max(LIMIT));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let service_url = format!("http://{}", listener.local_addr().unwrap());
        let limits = crate::config::LimitsConfig::default();
        let upstream = tokio::spawn({
            let stopped = until(stopped.clone());
            async move { crate::http::serve::serve(listener, service, &limits, stopped).await }
        });
        let upstreams = Upstreams::new(Service::ALL.map(|service| (service, Some(service_url.clone())))).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let gateway = tokio::spawn(run(upstreams, listener, until(stopped.clone())));
        let client = reqwest::Client::new();
        let huge = format!("{{\"blob\": \"{}\"}}", "x".repeat(LIMIT + LIMIT / 16));
        let mut statuses = Vec::new();
        for base in [&service_url, &url] {
            for _ in 0..5 {
                let answer = client
                    .post(format!("{base}/api/v1/scenarios/s/items"))
                    .header("Content-Type", "application/json")
                    .body(huge.clone())
                    .send()
                    .await
                    .unwrap();
                let status = answer.status().as_u16();
                let body: serde_json::Value = answer.json().await.unwrap();
                statuses.push((status, body["code"].as_str().unwrap_or_default().to_owned()));
            }
        }
        let wrong: Vec<_> =
            statuses.iter().filter(|(status, code)| (*status, code.as_str()) != (413, "body_too_large")).collect();
        assert!(
            wrong.is_empty(),
            "{} of {} answers were not 413 body_too_large: {wrong:?}",
            wrong.len(),
            statuses.len()
        );
        stop.send(true).unwrap();
        upstream.await.unwrap().unwrap();
        gateway.await.unwrap().unwrap();
    }

    #[test]
    fn hop_by_hop_headers_are_not_forwarded() {
        let mut from = HeaderMap::new();
        for (name, value) in [("connection", "close"), ("host", "a"), ("x-tenant-id", "t"), ("authorization", "b")] {
            from.insert(HeaderName::from_static(name), value.parse().unwrap());
        }
        let mut to = HeaderMap::new();
        copy_headers(&from, &mut to);
        let names: Vec<&str> = to.keys().map(|n| n.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"x-tenant-id") && names.contains(&"authorization"));
    }
}
