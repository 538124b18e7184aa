//! Serving HTTP with the server's protections (`[limits]`, `config::LimitsConfig`): the
//! connection loop is hyper-util's, so a header-read timeout can be set (axum's `serve` sets
//! none, and a client that trickles its headers would hold a connection for ever); the request
//! limits are tower's layers (`protect`).

use polyrec_core::Code;
use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::{BoxError, ServiceBuilder, ServiceExt};

use super::error::ErrorBody;
use crate::config::LimitsConfig;

/// Requests in flight per tenant, each tenant's own semaphore (bounded: tenant ids are what
/// callers send; an evicted one starts full, which only admits a little more for a moment).
#[derive(Clone)]
pub struct TenantSlots {
    per_tenant: usize,
    slots: moka::sync::Cache<polyrec_core::TenantId, Arc<tokio::sync::Semaphore>>,
}

impl TenantSlots {
    pub fn new(limits: &LimitsConfig) -> Self {
        let slots = moka::sync::Cache::builder().max_capacity(crate::tenancy::MAX_TENANTS_KEPT as u64).build();
        Self { per_tenant: limits.max_concurrent_requests_per_tenant.max(1), slots }
    }
}

/// One tenant's requests in flight are capped below the process's (`429 too_many_in_flight`,
/// `Retry-After: 1`), so a tenant that holds many slow requests open leaves the others room. A
/// request without a valid `X-Tenant-Id` passes on to be refused by the `Tenant` extractor.
pub async fn tenant_in_flight(
    axum::extract::State(slots): axum::extract::State<TenantSlots>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(tenant) = super::error::tenant_of(request.headers()) else { return next.run(request).await };
    let semaphore = slots.slots.get_with(tenant, || Arc::new(tokio::sync::Semaphore::new(slots.per_tenant)));
    let Ok(_permit) = semaphore.try_acquire_owned() else {
        metrics::counter!("polyrec_http_tenant_limited_total").increment(1);
        let message = format!(
            "this tenant has {} requests in flight, the most one tenant may have; retry when some finish",
            slots.per_tenant
        );
        return retry_soon(Code::TooManyInFlight, message);
    };
    next.run(request).await
}

/// Tower's layers against overload, for a router's routes: a request past the concurrency
/// limit is shed at once (`503 overloaded`, `Retry-After: 1`), one past the timeout is
/// answered `503 timeout` (unless `timeout` is false); within the limit, one tenant's requests
/// are capped by `tenants` ([`tenant_in_flight`]). `permits` and `tenants` are the server's
/// limits: pass the same ones for each router protected.
pub fn protect(
    router: Router<Arc<crate::App>>,
    limits: &LimitsConfig,
    permits: &Arc<tokio::sync::Semaphore>,
    tenants: &TenantSlots,
    timeout: bool,
) -> Router<Arc<crate::App>> {
    let permits = permits.clone();
    let router = router.layer(axum::middleware::from_fn_with_state(tenants.clone(), tenant_in_flight));
    let stack = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .load_shed()
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(permits));
    if timeout {
        router.layer(stack.timeout(Duration::from_millis(limits.request_timeout_ms.max(1))))
    } else {
        router.layer(stack)
    }
}

async fn overloaded(error: BoxError) -> Response {
    let (code, message) = if error.is::<tower::load_shed::error::Overloaded>() {
        metrics::counter!("polyrec_http_shed_total").increment(1);
        (Code::Overloaded, "the server is at its limit of requests in flight; retry".to_owned())
    } else if error.is::<tower::timeout::error::Elapsed>() {
        metrics::counter!("polyrec_http_timeouts_total").increment(1);
        (Code::Timeout, "the request took longer than the server's limit; retry".to_owned())
    } else {
        tracing::error!(%error, "internal error in the protection layers");
        (Code::Internal, "internal error; it has been logged with this request's id".to_owned())
    };
    retry_soon(code, message)
}

/// An error answer whose caller should come back in a second (`Retry-After: 1`).
fn retry_soon(code: Code, message: String) -> Response {
    let body = ErrorBody { code: code.into(), message, errors: None };
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight finish
/// (at most 30 s). Each connection gets `header_read_timeout_ms` to send a request's headers.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &LimitsConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(|request: Request<Incoming>| request.map(Body::new));
        let service = TowerToHyperService::new(service.map_err(|never: Infallible| match never {}));
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open 30 s after shutdown; closing them");
    }
    Ok(())
}
