//! What every gRPC call records on the server side: a span per call — a child of the caller's
//! trace when the call carries `traceparent` (the recommendation service's clients write it, see
//! `telemetry::inject_into`) — and the metrics `polyrec_grpc_server_requests_total` and
//! `polyrec_grpc_server_request_duration_seconds` per service, method and status code.
//!
//! The status is the answer's `grpc-status` header: tonic sends a handler's error there (a
//! "trailers-only" answer) and a success's in the trailers, so an answer whose head has none is
//! `ok`. A stream that fails after its first message is counted by its head. Calls refused by the
//! load shedder (an `Err` from the inner service) count as `unavailable`.
//!
//! Labels are bounded: the service is one of this server's (the `polyrec.v1` services, health,
//! reflection) or `other`, and the method is `other` for any call answered `unimplemented` — a
//! caller inventing paths adds no series.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::http;
use tracing::Instrument;

/// The tower layer of [`Observe`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ObserveLayer;

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe { inner }
    }
}

/// A span and metrics around every call of the inner gRPC service.
#[derive(Clone, Debug)]
pub struct Observe<S> {
    inner: S,
}

/// The services a polyrec gRPC server can answer (the label of any other is `other`).
const SERVICES: &[&str] = &[
    "polyrec.v1.ScenarioService",
    "polyrec.v1.ItemService",
    "polyrec.v1.BehaviorService",
    "polyrec.v1.FeatureService",
    "polyrec.v1.ModelService",
    "polyrec.v1.AnalyticsService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
];

/// `/package.Service/Method` as (service, method) labels: a known service, else both `other`.
fn names(path: &str) -> (&'static str, String) {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (service, method) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    match SERVICES.iter().find(|known| **known == service) {
        Some(known) if !method.is_empty() && !method.contains('/') => (known, method.to_owned()),
        _ => ("other", "other".to_owned()),
    }
}

/// The status code of an answer's head, as the metric label (`ok`, `notfound`, `unavailable`, …,
/// the lowercase of tonic's `Code`, as the clients' `polyrec_internal_call_duration_seconds`).
fn code_of(headers: &http::HeaderMap) -> String {
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32);
    format!("{code:?}").to_lowercase()
}

impl<S, B, R> tower::Service<http::Request<B>> for Observe<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let (service, mut method) = names(request.uri().path());
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %format!("{service}/{method}"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        crate::telemetry::adopt_parent(&span, request.headers());
        // The clone that was made ready is the one called (tower's rule for cloned services).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let started = Instant::now();
            let answer = inner.call(request).instrument(span.clone()).await;
            let code = match &answer {
                Ok(response) => code_of(response.headers()),
                Err(_) => format!("{:?}", tonic::Code::Unavailable).to_lowercase(),
            };
            span.record("rpc.grpc.status_code", code.as_str());
            if code == "unimplemented" {
                method = "other".to_owned();
            }
            let labels = [("service", service.to_owned()), ("method", method), ("code", code)];
            metrics::counter!("polyrec_grpc_server_requests_total", &labels).increment(1);
            metrics::histogram!("polyrec_grpc_server_request_duration_seconds", &labels)
                .record(started.elapsed().as_secs_f64());
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_this_servers_services_or_other() {
        assert_eq!(names("/polyrec.v1.ModelService/Score"), ("polyrec.v1.ModelService", "Score".to_owned()));
        assert_eq!(names("/grpc.health.v1.Health/Check"), ("grpc.health.v1.Health", "Check".to_owned()));
        for invented in ["/evil.Service/Drop", "/polyrec.v1.ModelService", "/", "", "/polyrec.v1.ModelService/a/b"] {
            assert_eq!(names(invented), ("other", "other".to_owned()), "{invented}");
        }
    }

    #[test]
    fn the_code_is_the_heads_grpc_status_or_ok() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(code_of(&headers), "ok");
        headers.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(code_of(&headers), "notfound");
        headers.insert("grpc-status", "14".parse().unwrap());
        assert_eq!(code_of(&headers), "unavailable");
    }
}
