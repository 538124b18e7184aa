//! The polyrec binary: parse arguments, set up logging, wire dependencies, run.
//!
//! - `polyrec serve`: every service in one process on embedded storage.
//! - `polyrec import items|events FILE`: bulk loads over the HTTP API, with a progress bar.
//! - `polyrec train --tenant T --scenario S [--model NAME]`: a training job on a server, with a
//!   progress bar.
//! - `polyrec demo`: a demo tenant with two scenarios and synthetic traffic.

mod csv_rows;
mod demo;
mod eval;
mod eval_ctr;
mod import;
mod train;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use polyrec_core::SystemClock;
use polyrec_server::ServerConfig;
use polyrec_server::telemetry::{LogFormat, Telemetry};

/// mimalloc instead of the system allocator: the request path allocates many small, short-lived
/// objects across worker threads, where glibc's malloc measured 10–15% of recommend CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "polyrec", version, about = "Multi-tenant, multi-scenario recommendation engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in one process on embedded storage, or (`--service`) one service of
    /// the split deployment.
    Serve {
        /// Address to listen on [default: 0.0.0.0:8000; with --service, its SPEC port 8001–8007].
        #[arg(long, env = "POLYREC_LISTEN")]
        listen: Option<SocketAddr>,
        /// Directory of the embedded stores [default: ./data].
        #[arg(long, env = "POLYREC_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// A TOML file with server settings (flags override it).
        #[arg(long, env = "POLYREC_CONFIG")]
        config: Option<PathBuf>,
        /// Leave the stream jobs and the job queue (trainings, profile recomputes) to `polyrec
        /// worker` processes (needs a Kafka bus): this process only enqueues jobs.
        #[arg(long)]
        no_stream_jobs: bool,
        /// Run one service of the split deployment: scenario, item, behavior, recommendation,
        /// feature, model or analytics (the stores must be servers; the stream jobs run in
        /// `polyrec worker`).
        #[arg(long, env = "POLYREC_SERVICE")]
        service: Option<String>,
        /// The gRPC listener of a split service [default: 127.0.0.1:its SPEC port 9001–9007; name
        /// the pod's or host's address (0.0.0.0:9001) for the other services to reach it].
        #[arg(long, env = "POLYREC_GRPC_LISTEN")]
        grpc_listen: Option<SocketAddr>,
    },
    /// Run the four stream jobs as Kafka consumer-group members and the job queue (trainings,
    /// scheduled work) (scale out: run more workers).
    Worker {
        /// A TOML file with server settings; its `[storage]` names the engines.
        #[arg(long, env = "POLYREC_CONFIG")]
        config: Option<PathBuf>,
        /// Directory of any embedded store the config leaves in place [default: ./data].
        #[arg(long, env = "POLYREC_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Run only these jobs (comma-separated: warehouse_sink, user_profile_aggregator,
        /// item_hot_score, recommendation_metrics, training — the job queue) [default: all].
        #[arg(long, value_delimiter = ',')]
        jobs: Option<Vec<String>>,
        /// Where `/healthz` and `/metrics` are served [default: 0.0.0.0:8010].
        #[arg(long, env = "POLYREC_WORKER_LISTEN", default_value = "0.0.0.0:8010")]
        listen: std::net::SocketAddr,
    },
    /// One HTTP entry point in front of the split services: the admin console, and every other
    /// request forwarded to the service that owns its path.
    Gateway {
        /// Address to listen on.
        #[arg(long, env = "POLYREC_GATEWAY_LISTEN", default_value = "0.0.0.0:8080")]
        listen: SocketAddr,
        /// The scenario service's HTTP base URL [default: http://127.0.0.1:8001].
        #[arg(long, env = "POLYREC_GATEWAY_SCENARIO_URL")]
        scenario_url: Option<String>,
        /// The item service's HTTP base URL [default: http://127.0.0.1:8002].
        #[arg(long, env = "POLYREC_GATEWAY_ITEM_URL")]
        item_url: Option<String>,
        /// The behavior service's HTTP base URL [default: http://127.0.0.1:8003].
        #[arg(long, env = "POLYREC_GATEWAY_BEHAVIOR_URL")]
        behavior_url: Option<String>,
        /// The recommendation service's HTTP base URL [default: http://127.0.0.1:8004].
        #[arg(long, env = "POLYREC_GATEWAY_RECOMMENDATION_URL")]
        recommendation_url: Option<String>,
        /// The feature service's HTTP base URL [default: http://127.0.0.1:8005].
        #[arg(long, env = "POLYREC_GATEWAY_FEATURE_URL")]
        feature_url: Option<String>,
        /// The model service's HTTP base URL [default: http://127.0.0.1:8006].
        #[arg(long, env = "POLYREC_GATEWAY_MODEL_URL")]
        model_url: Option<String>,
        /// The analytics service's HTTP base URL [default: http://127.0.0.1:8007].
        #[arg(long, env = "POLYREC_GATEWAY_ANALYTICS_URL")]
        analytics_url: Option<String>,
    },
    /// Load items or historical events from a file through the HTTP API.
    Import {
        #[command(subcommand)]
        what: import::ImportCommand,
    },
    /// Train a scenario's models on a running server and follow the job with a progress bar.
    Train(train::TrainArgs),
    /// Create a demo tenant with the vlog and news scenarios and synthetic items and events.
    Demo(demo::DemoArgs),
    /// Evaluate scenario configs offline on an interaction data set (e.g. MovieLens-100K).
    Eval(eval::EvalArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve { listen, data_dir, config, no_stream_jobs, service: Some(service), grpc_listen } => {
            let service = polyrec_server::split::Service::parse(&service)?;
            let _telemetry = server_telemetry(&runtime, &format!("polyrec-{}", service.name()))?;
            let settings = settings(config, data_dir)?;
            if no_stream_jobs {
                tracing::info!("--no-stream-jobs is implied by --service: the stream jobs run in `polyrec worker`");
            }
            runtime.block_on(serve_service(settings, service, listen, grpc_listen))
        }
        Command::Serve { listen, data_dir, config, no_stream_jobs, service: None, grpc_listen } => {
            if grpc_listen.is_some() {
                anyhow::bail!("--grpc-listen is for a split service: add --service NAME");
            }
            let _telemetry = server_telemetry(&runtime, "polyrec")?;
            let mut settings = settings(config, data_dir)?;
            if let Some(listen) = listen {
                settings.listen = listen;
            }
            runtime.block_on(serve(settings, !no_stream_jobs))
        }
        Command::Gateway {
            listen,
            scenario_url,
            item_url,
            behavior_url,
            recommendation_url,
            feature_url,
            model_url,
            analytics_url,
        } => {
            use polyrec_server::split::Service;
            let _telemetry = server_telemetry(&runtime, "polyrec-gateway")?;
            let upstreams = polyrec_server::gateway::Upstreams::new([
                (Service::Scenario, scenario_url),
                (Service::Item, item_url),
                (Service::Behavior, behavior_url),
                (Service::Recommendation, recommendation_url),
                (Service::Feature, feature_url),
                (Service::Model, model_url),
                (Service::Analytics, analytics_url),
            ])?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                polyrec_server::gateway::run(upstreams, listener, shutdown_signal()).await
            })
        }
        Command::Worker { config, data_dir, jobs, listen } => {
            let _telemetry = server_telemetry(&runtime, "polyrec-worker")?;
            let settings = settings(config, data_dir)?;
            if !settings.storage.bus.starts_with("kafka://") {
                anyhow::bail!(
                    "polyrec worker reads a Kafka bus: set storage.bus = \"kafka://host:port\" in --config or \
                     POLYREC_BUS_URL (with the embedded bus, `polyrec serve` runs the stream jobs itself)"
                );
            }
            runtime.block_on(async {
                let app = polyrec_server::open(settings, Arc::new(SystemClock)).await?;
                tracing::info!(bus = %app.config.storage.bus, "polyrec worker running the stream jobs");
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                polyrec_server::work(app, jobs, listener, shutdown_signal()).await
            })
        }
        Command::Import { what } => {
            init_human_logs();
            runtime.block_on(import::run(what))
        }
        Command::Train(args) => {
            init_human_logs();
            runtime.block_on(train::run(args))
        }
        Command::Demo(args) => {
            init_human_logs();
            runtime.block_on(demo::run(args))
        }
        Command::Eval(args) => {
            init_human_logs();
            runtime.block_on(eval::run(args))
        }
    }
}

/// The config file (or defaults), with the data directory flag and the `POLYREC_*` environment
/// applied.
fn settings(config: Option<PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<ServerConfig> {
    let mut settings = match config {
        Some(path) => ServerConfig::from_file(&path)?,
        None => ServerConfig::default(),
    };
    if let Some(data_dir) = data_dir {
        settings.data_dir = data_dir;
    }
    settings.apply_env();
    Ok(settings)
}

async fn serve(settings: ServerConfig, stream_jobs: bool) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let app = polyrec_server::open(settings, Arc::new(SystemClock)).await?;
    let storage = &app.config.storage;
    let or_embedded = |url: &str| if url.is_empty() { "embedded".to_owned() } else { url.to_owned() };
    tracing::info!(
        listen = %listener.local_addr()?,
        data_dir = %app.config.data_dir.display(),
        documents = %or_embedded(&storage.documents),
        realtime = %or_embedded(&storage.realtime),
        warehouse = %or_embedded(&storage.warehouse),
        bus = %or_embedded(&storage.bus),
        "polyrec serving (docs at /docs, OpenAPI at /openapi.json)"
    );
    if !stream_jobs && polyrec_server::jobs::bus_is_local(&app) {
        anyhow::bail!("--no-stream-jobs needs a Kafka bus: the embedded bus is read by this process's own jobs");
    }
    // An API process (`--no-stream-jobs`) on shared stores only enqueues jobs; workers run them.
    let jobs =
        polyrec_server::jobs::JobSet { stream: stream_jobs, only: None, background: true, training: stream_jobs };
    polyrec_server::run_with(app, listener, jobs, shutdown_signal()).await
}

/// One service of the split deployment on its ports.
async fn serve_service(
    settings: ServerConfig,
    service: polyrec_server::split::Service,
    listen: Option<SocketAddr>,
    grpc_listen: Option<SocketAddr>,
) -> anyhow::Result<()> {
    polyrec_server::split::check_shared_stores(&settings)?;
    let (default_http, default_grpc) = polyrec_server::split::default_addresses(service);
    let http_address = listen.unwrap_or(default_http);
    let http = tokio::net::TcpListener::bind(http_address)
        .await
        .with_context(|| format!("cannot listen on {http_address}"))?;
    let grpc = match grpc_listen.or(settings.services.grpc_listen).or(default_grpc) {
        Some(address) if service.grpc_port().is_some() => {
            Some(tokio::net::TcpListener::bind(address).await.with_context(|| format!("cannot listen on {address}"))?)
        }
        _ => None,
    };
    let app = polyrec_server::open_as(settings, Arc::new(SystemClock), Some(service)).await?;
    tracing::info!(
        service = service.name(),
        http = %http.local_addr()?,
        grpc = %grpc.as_ref().and_then(|g| g.local_addr().ok()).map(|a| a.to_string()).unwrap_or_else(|| "none".into()),
        "polyrec service running"
    );
    polyrec_server::split::run(app, service, http, grpc, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

/// Servers log JSON lines, one per event, with the request span's tenant, scenario and request
/// id on each; with an OTLP endpoint in the environment they export traces too. The exporter is
/// made inside the runtime; the returned value flushes it when dropped.
fn server_telemetry(runtime: &tokio::runtime::Runtime, service: &str) -> anyhow::Result<Telemetry> {
    let _inside = runtime.enter();
    polyrec_server::telemetry::init(service, LogFormat::Json, "info")
}

fn init_human_logs() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
}
