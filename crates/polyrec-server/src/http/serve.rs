//! Serving HTTP with the server's protections (`[limits]`, `config::LimitsConfig`): the
//! connection loop is hyper-util's, so a header-read timeout can be set (axum's `serve` sets
//! none, and a client that trickles its headers would hold a connection for ever); the request
//! limits are tower's layers (`protect`).

use polyrec_core::Code;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::error_handling::HandleErrorLayer;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, Incoming, SizeHint};
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
    /// `per_tenant` slots for each tenant.
    pub fn new(per_tenant: usize) -> Self {
        let slots = moka::sync::Cache::builder().max_capacity(crate::tenancy::MAX_TENANTS_KEPT as u64).build();
        Self { per_tenant: per_tenant.max(1), slots }
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

/// The most of a request body left unread by its handler that is read (and thrown away) after
/// the answer, and for how long; see [`Lingering`].
const LINGER_BYTES: u64 = 64 * 1024 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(5);

/// A request body that, dropped before its end — its handler answered without reading it all: a
/// `413` past `max_body_bytes`, a `401`, a `404` — is read to its end in the background (at most
/// [`LINGER_BYTES`] more, for at most [`LINGER_TIME`]) and thrown away, as NGINX's lingering close
/// does. Closing the connection on the unread rest instead makes the kernel reset it, and a client
/// still sending — the gateway of the split deployment forwarding a body, for one — often sees
/// the reset and not the answer (the gateway turned a service's `413` into a `503` that way).
/// Read to its end, the connection stays open for the client's next request.
struct Lingering(Option<Incoming>);

impl axum::body::HttpBody for Lingering {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut().0.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(axum::body::HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.0.as_ref().map_or_else(|| SizeHint::with_exact(0), axum::body::HttpBody::size_hint)
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(mut body) = self.0.take() else { return };
        let left = axum::body::HttpBody::size_hint(&body).upper();
        // A body declared far past what is worth reading is cut off, reset and all.
        if axum::body::HttpBody::is_end_stream(&body) || left.is_some_and(|left| left > LINGER_BYTES) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            let mut read = 0u64;
            let drain = std::future::poll_fn(|cx| {
                loop {
                    match std::task::ready!(axum::body::HttpBody::poll_frame(Pin::new(&mut body), cx)) {
                        Some(Ok(frame)) => {
                            read += frame.data_ref().map_or(0, |data| data.len() as u64);
                            if read > LINGER_BYTES {
                                return Poll::Ready(());
                            }
                        }
                        Some(Err(_)) | None => return Poll::Ready(()),
                    }
                }
            });
            let _ = tokio::time::timeout(LINGER_TIME, drain).await;
        });
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight finish
/// (at most 30 s). Each connection gets `header_read_timeout_ms` to send a request's headers; a
/// request body its handler leaves unread is read to its end after the answer ([`Lingering`]);
/// each request carries its peer's address as [`ConnectInfo`].
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
        let (stream, peer) = tokio::select! {
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
        let service = router.clone().map_request(move |request: Request<Incoming>| {
            let mut request = request.map(|body| Body::new(Lingering(Some(body))));
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            request
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One HTTP/1.1 answer read off `reader`: its status and its body.
    async fn answer(reader: &mut (impl AsyncReadExt + Unpin)) -> (u16, String) {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let byte = reader.read_u8().await.expect("the connection is open for the answer");
            head.push(byte);
        }
        let head = String::from_utf8(head).unwrap();
        let status = head[9..12].parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length: ").map(|n| n.parse().unwrap()))
            .unwrap();
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await.unwrap();
        (status, String::from_utf8(body).unwrap())
    }

    /// A handler that refuses a body before reading it all leaves the connection usable: the rest
    /// of the body is taken (no reset while the client still sends) and the next request on the
    /// same connection is answered.
    #[tokio::test]
    async fn a_body_refused_before_its_end_is_read_out_and_the_connection_serves_on() {
        const LIMIT: usize = 1024 * 1024;
        let router = Router::new()
            .route(
                "/echo",
                axum::routing::post(
                    |super::super::error::ApiJson(_): super::super::error::ApiJson<serde_json::Value>| async {},
                ),
            )
            .route("/ping", axum::routing::get(|| async { "pong" }))
            .layer(axum::extract::DefaultBodyLimit::max(LIMIT));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            serve(listener, router, &LimitsConfig::default(), async {
                let _ = stopped.await;
            })
            .await
        });

        let (mut reader, mut writer) = tokio::net::TcpStream::connect(address).await.unwrap().into_split();
        let body = format!("{{\"blob\": \"{}\"}}", "x".repeat(3 * LIMIT));
        let sending = tokio::spawn(async move {
            let head = format!(
                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            writer.write_all(head.as_bytes()).await?;
            writer.write_all(body.as_bytes()).await?;
            Ok::<_, std::io::Error>(writer)
        });
        let (status, refusal) = answer(&mut reader).await;
        assert_eq!(status, 413, "{refusal}");
        assert!(refusal.contains("body_too_large"), "{refusal}");
        let mut writer = sending.await.unwrap().expect("the server takes the whole body");
        writer.write_all(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
        assert_eq!(answer(&mut reader).await, (200, "pong".to_owned()));

        stop.send(()).unwrap();
        drop((reader, writer));
        server.await.unwrap().unwrap();
    }
}
