//! The transports over [`polyrec_service`]: the public REST API, the gRPC services and clients
//! of the split deployment, and telemetry.
//!
//! - [`http`]: the public REST API (axum), OpenAPI + docs page, health and metrics.
//! - [`split`]: `polyrec serve --service NAME`, one service of SPEC §3.1 per process; [`grpc`]:
//!   its gRPC servers (`proto/polyrec.proto`, health, reflection) and the recommendation
//!   service's clients, which implement [`sources`]' traits as the in-process path does.
//! - [`gateway`]: `polyrec gateway`, the console and one entry point in front of the split
//!   services (each request forwarded to the service owning its path).
//! - [`external`]: the gRPC clients of the tenant and user services of SPEC §6.2.
//! - [`telemetry`]: logs and OTLP traces, `traceparent` across hops.
//!
//! The services themselves ([`app`], [`service`], [`jobs`], [`tenancy`], …) are
//! `polyrec-service`'s, re-exported here under their old paths.
//!
//! **Architecture invariant:** only [`http`] knows HTTP and only [`grpc`] (and [`external`])
//! gRPC; a handler reads no store (the stores are private to `polyrec-service`) and holds no
//! rule: it decodes, calls one service function, encodes. **API boundary:** the routes, bodies
//! and error codes of [`http`] are the public contract (`/openapi.json`).

pub mod external;
pub mod gateway;
pub mod grpc;
pub mod http;
pub mod split;
pub mod telemetry;

pub use polyrec_service::{App, ServerConfig, StorageConfig};
pub use polyrec_service::{app, config, internal, jobs, service, sources, tenancy};

use std::sync::Arc;

use polyrec_core::clock::SharedClock;

/// Opens the all-in-one application: the stores `config.storage` names (embedded under
/// `config.data_dir` by default, the production engines where a URL is given), the tenant and
/// user services when configured.
pub async fn open(config: ServerConfig, clock: SharedClock) -> anyhow::Result<Arc<App>> {
    open_as(config, clock, None).await
}

/// Opens the application of one service of the split deployment (`None`: all-in-one). The
/// recommendation service reads scenarios, items, features and ranker scores through the gRPC
/// clients of `config.services`; every other process reads its own stores.
pub async fn open_as(
    config: ServerConfig,
    clock: SharedClock,
    service: Option<split::Service>,
) -> anyhow::Result<Arc<App>> {
    let (tenants, users) = external::sources(&config.tenancy)?;
    if let Some(service) = service
        && config.services.internal_key.is_empty()
    {
        anyhow::bail!(
            "the {} service needs services.internal_key (or POLYREC_INTERNAL_KEY): the split services \
             authenticate their internal calls with it; make one with `openssl rand -hex 32` and give \
             every service the same",
            service.name()
        );
    }
    let sources = match service {
        Some(split::Service::Recommendation) => {
            let key = internal::InternalKey::new(&config.services.internal_key, &config.auth.hs256_secret)?;
            Some(grpc::client::sources(&config.services, key)?)
        }
        _ => None,
    };
    let app = App::open(config, clock, polyrec_service::Remote { tenants, users, sources }).await?;
    if !app.tenancy.verifies_tokens() {
        // The default, for a machine of one's own; said once at start, so an operator who
        // exposes the port this way has been told.
        tracing::warn!(
            "authentication is off (neither auth.hs256_secret nor auth.rs256_public_key_file is set): any \
             caller may act as any tenant by naming it in X-Tenant-Id; set a key before this port is reachable \
             by others"
        );
    }
    Ok(app)
}

/// Starts every job and serves HTTP on `listener` until `shutdown` resolves.
pub async fn run(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with(app, listener, jobs::JobSet::ALL, shutdown).await
}

/// Starts the chosen jobs and serves HTTP on `listener` until `shutdown` resolves.
pub async fn run_with(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    set: jobs::JobSet,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let jobs = jobs::start_jobs(app.clone(), set).await?;
    let router = http::router(app.clone());
    http::serve::serve(listener, router, &app.config.limits, shutdown).await?;
    jobs.stop().await;
    Ok(())
}

/// Runs the stream jobs only (`polyrec worker`) until `shutdown` resolves: the four jobs of SPEC
/// §3.4 as Kafka consumer-group members. More workers split the partitions between them.
/// `only` limits it to some of the jobs (by name; all when `None`). `listener` serves `/healthz`
/// and `/metrics`.
pub async fn work(
    app: Arc<App>,
    only: Option<Vec<String>>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let jobs = jobs::start_workers(app.clone(), only).await?;
    // `/healthz` and `/metrics` for probes and Prometheus, until the shutdown signal.
    axum::serve(listener, http::ops_router(app)).with_graceful_shutdown(shutdown).await?;
    jobs.stop().await;
    Ok(())
}
