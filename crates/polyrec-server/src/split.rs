//! The split deployment (SPEC §3.1): `polyrec serve --service NAME` runs one of the seven
//! services, each with the HTTP routes it owns and (all but recommendation) its gRPC service
//! with health checking and reflection. The processes share the production stores; the
//! recommendation service reads scenarios, items, features and ranker scores from the others
//! over gRPC ([`crate::grpc::client`]).

use std::net::SocketAddr;
use std::sync::Arc;

use crate::{App, jobs};

/// One service of SPEC §3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Scenario,
    Item,
    Behavior,
    Recommendation,
    Feature,
    Model,
    Analytics,
}

impl Service {
    pub const ALL: [Service; 7] = [
        Service::Scenario,
        Service::Item,
        Service::Behavior,
        Service::Recommendation,
        Service::Feature,
        Service::Model,
        Service::Analytics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Scenario => "scenario",
            Service::Item => "item",
            Service::Behavior => "behavior",
            Service::Recommendation => "recommendation",
            Service::Feature => "feature",
            Service::Model => "model",
            Service::Analytics => "analytics",
        }
    }

    /// `scenario`, `item`, …, also with the `-service` suffix of SPEC §3.1.
    pub fn parse(name: &str) -> anyhow::Result<Service> {
        let bare = name.strip_suffix("-service").unwrap_or(name);
        Service::ALL.into_iter().find(|s| s.name() == bare).ok_or_else(|| {
            let names: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
            anyhow::anyhow!("unknown service {name:?}; the services are {}", names.join(", "))
        })
    }

    /// The HTTP port: SPEC §3.1's for scenario, item, behavior and recommendation (8001–8004);
    /// feature, model and analytics are gRPC services in the SPEC, and serve their REST routes,
    /// `/healthz` and `/metrics` on 8005–8007.
    pub fn http_port(self) -> u16 {
        8001 + Service::ALL.iter().position(|s| *s == self).unwrap_or(0) as u16
    }

    /// The gRPC port of SPEC §3.1 (9001–9007); the recommendation service has none.
    pub fn grpc_port(self) -> Option<u16> {
        (self != Service::Recommendation).then(|| self.http_port() + 1000)
    }

    /// The service that owns an HTTP path: what a gateway in front of a split deployment routes
    /// by (`http::owner`, from the route table); the scenario service answers the rest (404).
    pub fn owning(path: &str) -> Service {
        crate::http::owner(path).unwrap_or(Service::Scenario)
    }

    /// Whether the process runs the scheduled training and the registry following: the model
    /// service (it trains) and the recommendation service (it serves the recall models and
    /// trains its own collaborative-filtering neighbours).
    fn runs_background(self) -> bool {
        matches!(self, Service::Recommendation | Service::Model)
    }
}

/// Checks that the config lets processes share their data: every store a server engine.
pub fn check_shared_stores(config: &crate::ServerConfig) -> anyhow::Result<()> {
    let storage = &config.storage;
    for (name, url) in [
        ("documents", &storage.documents),
        ("realtime", &storage.realtime),
        ("warehouse", &storage.warehouse),
        ("bus", &storage.bus),
    ] {
        if url.is_empty() {
            anyhow::bail!(
                "the split services share their stores: set storage.{name} (or POLYREC_{}_URL) to a server \
                 (MongoDB, Redis, ClickHouse, Kafka); the embedded stores belong to one process",
                name.to_uppercase()
            );
        }
    }
    Ok(())
}

/// Runs `service` until `shutdown` resolves: its HTTP routes on `http`, its gRPC service on
/// `grpc` (none for recommendation), and its background jobs.
pub async fn run(
    app: Arc<App>,
    service: Service,
    http: tokio::net::TcpListener,
    grpc: Option<tokio::net::TcpListener>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // The services only enqueue jobs: `polyrec worker` runs them.
    let set = jobs::JobSet { stream: false, only: None, background: service.runs_background(), training: false };
    let jobs = jobs::start_jobs(app.clone(), set).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let grpc_task = match grpc {
        Some(listener) => {
            let mut stopped = stopped.clone();
            let server = crate::grpc::server(app.clone(), service).await?;
            let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            Some(tokio::spawn(async move {
                server
                    .serve_with_incoming_shutdown(incoming, async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await
            }))
        }
        None => None,
    };
    let router = crate::http::router_for(app.clone(), Some(service));
    let served = crate::http::serve::serve(http, router, &app.config.limits, shutdown).await;
    let _ = stop.send(true);
    if let Some(task) = grpc_task {
        task.await??;
    }
    jobs.stop().await;
    Ok(served?)
}

/// The default listen addresses of a service, on its SPEC ports: HTTP on every interface (the
/// gateway's upstream), gRPC on loopback only — the internal ports are opened to the network
/// by naming an address (`--grpc-listen`, `services.grpc_listen`), behind NetworkPolicies in
/// Kubernetes (deploy/k8s/network-policies.yaml).
pub fn default_addresses(service: Service) -> (SocketAddr, Option<SocketAddr>) {
    let any = SocketAddr::from(([0, 0, 0, 0], service.http_port()));
    (any, service.grpc_port().map(|port| SocketAddr::from(([127, 0, 0, 1], port))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_the_specifications() {
        let ports: Vec<(u16, Option<u16>)> = Service::ALL.iter().map(|s| (s.http_port(), s.grpc_port())).collect();
        assert_eq!(
            ports,
            [
                (8001, Some(9001)),
                (8002, Some(9002)),
                (8003, Some(9003)),
                (8004, None),
                (8005, Some(9005)),
                (8006, Some(9006)),
                (8007, Some(9007))
            ]
        );
        assert_eq!(Service::parse("recommendation-service").unwrap(), Service::Recommendation);
        assert!(Service::parse("gateway").unwrap_err().to_string().contains("scenario, item"));
    }

    #[test]
    fn paths_route_to_their_owner() {
        for (path, owner) in [
            ("/api/v1/recommend", Service::Recommendation),
            ("/api/v1/scenarios", Service::Scenario),
            ("/api/v1/scenarios/s1", Service::Scenario),
            ("/api/v1/scenarios/s1/experiments/e1/results", Service::Scenario),
            ("/api/v1/scenarios/s1/items/bulk", Service::Item),
            ("/api/v1/scenarios/s1/items/i1", Service::Item),
            ("/api/v1/scenarios/s1/items/i1/stats", Service::Recommendation),
            ("/api/v1/scenarios/s1/hot", Service::Recommendation),
            ("/api/v1/scenarios/s1/metrics/realtime", Service::Recommendation),
            ("/api/v1/scenarios/s1/jobs/cf", Service::Recommendation),
            ("/api/v1/scenarios/s1/jobs/train", Service::Model),
            ("/api/v1/scenarios/s1/models/als/rollback", Service::Model),
            ("/api/v1/jobs/j1", Service::Model),
            ("/api/v1/scenarios/s1/users/u1/profile", Service::Feature),
            ("/api/v1/behaviors/batch", Service::Behavior),
            ("/api/v1/analytics/funnel", Service::Analytics),
        ] {
            assert_eq!(Service::owning(path), owner, "{path}");
        }
    }
}
