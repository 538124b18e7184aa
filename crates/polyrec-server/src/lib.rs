//! The polyrec services and their HTTP transport.
//!
//! - [`app`]: the [`App`] — storage trait objects, caches and job handles, wired once.
//! - [`service`]: the scenario, item, behavior and recommendation services, transport-free:
//!   the HTTP routes and the gRPC services call the same functions.
//! - [`split`]: `polyrec serve --service NAME`, one service of SPEC §3.1 per process; [`grpc`]:
//!   its gRPC servers (`proto/polyrec.proto`, health, reflection) and the recommendation
//!   service's clients, which implement [`sources`]' traits as the in-process path does.
//! - [`jobs`]: the four stream jobs of SPEC §3.4 on the event bus, and the collaborative-
//!   filtering trainer.
//! - [`http`]: the public REST API (axum), OpenAPI + docs page, health and metrics.
//! - [`tenancy`]: bearer tokens, tenant and user information (from [`external`]'s gRPC clients
//!   of the tenant and user services, or the config's registry), quotas as rate limits.
//!
//! **Architecture invariant:** only [`http`] knows HTTP and only [`grpc`] (and [`external`]) gRPC; services take a [`TenantId`] first and
//! never read outside it. **API boundary:** the routes, bodies and error codes of [`http`] are the
//! public contract (`/openapi.json`).
//!
//! [`TenantId`]: polyrec_core::TenantId

pub mod app;
pub mod backends;
pub mod config;
pub mod external;
pub mod grpc;
pub mod http;
pub mod jobs;
pub mod service;
pub mod sources;
pub mod split;
pub mod telemetry;
pub mod tenancy;

pub use app::App;
pub use config::{ServerConfig, StorageConfig};

/// Starts every job and serves HTTP on `listener` until `shutdown` resolves.
pub async fn run(
    app: std::sync::Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with(app, listener, jobs::JobSet::ALL, shutdown).await
}

/// Starts the chosen jobs and serves HTTP on `listener` until `shutdown` resolves.
pub async fn run_with(
    app: std::sync::Arc<App>,
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
    app: std::sync::Arc<App>,
    only: Option<Vec<String>>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if app.log.is_some() {
        anyhow::bail!(
            "polyrec worker reads a Kafka bus (storage.bus = \"kafka://host:port\" or POLYREC_BUS_URL); \
             with the embedded bus, `polyrec serve` runs the stream jobs itself"
        );
    }
    if let Some(unknown) = only.iter().flatten().find(|name| !jobs::STREAM_JOBS.contains(&name.as_str())) {
        anyhow::bail!("--jobs: unknown job {unknown:?}; the stream jobs are {}", jobs::STREAM_JOBS.join(", "));
    }
    let jobs = jobs::start_jobs(app.clone(), jobs::JobSet { stream: true, only, background: false }).await?;
    // `/healthz` and `/metrics` for probes and Prometheus, until the shutdown signal.
    axum::serve(listener, http::ops_router(app)).with_graceful_shutdown(shutdown).await?;
    jobs.stop().await;
    Ok(())
}
