//! Operations: liveness, readiness and Prometheus metrics.

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::App;

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder (installed once; every server in the process shares it).
pub fn prometheus() -> &'static PrometheusHandle {
    PROMETHEUS.get_or_init(|| {
        let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        let training = [1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0];
        let candidates = [0.0, 10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0];
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full("polyrec_training_job_duration_seconds".into()), &training)
            .and_then(|builder| builder.set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), &buckets))
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Full("polyrec_pipeline_candidates".into()), &candidates)
            })
            .and_then(|builder| builder.install_recorder())
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "a metrics recorder was installed already; /metrics shows a private one");
                PrometheusBuilder::new().build_recorder().handle()
            })
    })
}

#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "the process is up")))]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, description = "the stores answer"), (status = 503, description = "a store does not answer")))]
pub async fn readyz(State(app): State<Arc<App>>) -> impl IntoResponse {
    readiness(&crate::service::realtime::readiness(&app).await)
}

/// The readiness answer: 200 `ready`, or 503 `not_ready` naming what fails (stores; for the
/// gateway, services).
pub fn readiness<T: serde::Serialize>(failing: &[T]) -> (StatusCode, Json<serde_json::Value>) {
    if failing.is_empty() {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "not_ready", "failing": failing})))
    }
}

#[utoipa::path(get, path = "/metrics", tag = "ops", responses(
    (status = 200, description = "Prometheus text format"),
    (status = 401, body = super::error::ErrorBody,
        description = "`auth.metrics_token` is set and the scrape does not carry it")))]
pub async fn metrics(State(app): State<Arc<App>>, headers: axum::http::HeaderMap) -> axum::response::Response {
    let token = app.config.auth.metrics_token.as_bytes();
    if !token.is_empty() {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
            .unwrap_or_default();
        // Digests compared, not the tokens: `ct_eq` of slices of different lengths returns at
        // once, which told a scraper the token's length by the answer's timing.
        use sha2::Digest;
        let (given, token) = (sha2::Sha256::digest(given), sha2::Sha256::digest(token));
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&given[..], &token[..])) {
            let error = polyrec_core::Error::Unauthorized {
                code: polyrec_core::Code::InvalidToken,
                message: "/metrics needs `Authorization: Bearer <auth.metrics_token>`".to_owned(),
            };
            return super::error::ApiError::from(error).into_response();
        }
    }
    record_gauges(&app).await;
    exposition().into_response()
}

/// This process's metrics in the Prometheus text format.
pub fn exposition() -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render())
}

/// The gauges read at scrape time: each stream job's lag behind the bus.
pub async fn record_gauges(app: &App) {
    match app.stream_lag().await {
        Ok(lags) => {
            for (job, lag) in lags {
                metrics::gauge!("polyrec_stream_job_lag_events", "stream_job" => job).set(lag as f64);
            }
        }
        Err(error) => tracing::debug!(%error, "cannot read the stream jobs' lag"),
    }
}
