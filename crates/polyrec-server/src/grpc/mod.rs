//! The gRPC transport of the split deployment (`proto/polyrec.proto`): the six services' servers
//! (each a thin layer over the same `service::*` functions the HTTP routes call), gRPC health
//! checking and server reflection, and ([`client`]) the recommendation service's clients.

pub mod client;
mod observe;
mod server;

use std::sync::Arc;

use polyrec_core::{Code as ApiCode, Error, TenantId};
use tonic::{Code, Status};

use crate::App;
use crate::internal::Access;
use crate::split::Service;

/// The generated code of `proto/polyrec.proto`.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/polyrec.v1.rs"));
}

/// The encoded descriptors of `proto/polyrec.proto`, for server reflection.
const DESCRIPTOR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/polyrec_descriptor.bin"));

/// The metadata key that carries the HTTP API's error code.
pub const CODE_KEY: &str = "x-polyrec-code";

/// The layers of [`server`]: a span and metrics per call ([`observe`]) around load shedding
/// over one concurrency limit for every call.
pub type Protected = tower::layer::util::Stack<
    tower::ServiceBuilder<
        tower::layer::util::Stack<
            tower::limit::GlobalConcurrencyLimitLayer,
            tower::layer::util::Stack<
                tower::load_shed::LoadShedLayer,
                tower::layer::util::Stack<observe::ObserveLayer, tower::layer::util::Identity>,
            >,
        >,
    >,
    tower::layer::util::Identity,
>;

/// The gRPC server of `service` (none for recommendation): its service, the health service
/// (`grpc.health.v1.Health`, SERVING for the empty name and the service's own) and reflection.
pub async fn server(app: Arc<App>, service: Service) -> anyhow::Result<tonic::transport::server::Router<Protected>> {
    use proto::*;
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(DESCRIPTOR)
        .build_v1()
        .map_err(|e| anyhow::anyhow!("gRPC reflection: {e}"))?;
    let handler = server::Handler { app: app.clone(), service };
    // The HTTP server's protections (`[limits]`): a deadline per call, one concurrency limit
    // for every call with load shedding (UNAVAILABLE at once, not a queue).
    let limits = &app.config.limits;
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_requests.max(1)));
    let mut builder = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .timeout(std::time::Duration::from_millis(limits.request_timeout_ms.max(1)))
        .layer(
            tower::ServiceBuilder::new()
                .layer(observe::ObserveLayer)
                .load_shed()
                .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(permits)),
        );
    let mut router = builder.add_service(health).add_service(reflection);
    let name = match service {
        Service::Scenario => {
            router = router.add_service(scenario_service_server::ScenarioServiceServer::new(handler));
            "polyrec.v1.ScenarioService"
        }
        Service::Item => {
            router = router.add_service(item_service_server::ItemServiceServer::new(handler));
            "polyrec.v1.ItemService"
        }
        Service::Behavior => {
            router = router.add_service(behavior_service_server::BehaviorServiceServer::new(handler));
            "polyrec.v1.BehaviorService"
        }
        Service::Feature => {
            router = router.add_service(feature_service_server::FeatureServiceServer::new(handler));
            "polyrec.v1.FeatureService"
        }
        Service::Model => {
            router = router.add_service(model_service_server::ModelServiceServer::new(handler));
            "polyrec.v1.ModelService"
        }
        Service::Analytics => {
            router = router.add_service(analytics_service_server::AnalyticsServiceServer::new(handler));
            "polyrec.v1.AnalyticsService"
        }
        Service::Recommendation => anyhow::bail!("the recommendation service has no gRPC service"),
    };
    reporter.set_service_status(name, tonic_health::ServingStatus::Serving).await;
    reporter.set_service_status("", tonic_health::ServingStatus::Serving).await;
    Ok(router)
}

/// The metadata key of an internal call's credential (`Bearer <service token>`).
pub const AUTHORIZATION_KEY: &str = "authorization";

/// The `authorization` metadata of a call, if any.
fn authorization<T>(request: &tonic::Request<T>) -> Option<String> {
    request.metadata().get(AUTHORIZATION_KEY).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A request message that names the tenant it acts for.
trait Tenanted {
    fn tenant_id(&self) -> &str;
}

macro_rules! tenanted {
    ($($message:ty),* $(,)?) => {
        $(impl Tenanted for $message {
            fn tenant_id(&self) -> &str {
                &self.tenant_id
            }
        })*
    };
}

tenanted!(
    proto::ScenarioRef,
    proto::TenantRef,
    proto::ScenarioBody,
    proto::ItemRef,
    proto::Event,
    proto::EventBatch,
    proto::UserRef,
    proto::ScoreRequest,
    proto::ModelQuery,
    proto::TrainRequest,
    proto::JobRef,
    proto::ModelRef,
    proto::AnalyticsQuery,
);

/// A call's tenant, admitted as the HTTP edge admits one (`Tenancy::admit`) but with the
/// internal credential: the call's service token must be for this service, for the tenant its
/// message names, and grant what the method does (`access`).
async fn admit<T: Tenanted>(
    app: &App,
    service: Service,
    access: Access,
    request: tonic::Request<T>,
) -> Result<(TenantId, T), Status> {
    let authorization = authorization(&request);
    let message = request.into_inner();
    let tenant = admit_as(app, service, access, authorization.as_deref(), message.tenant_id()).await?;
    Ok((tenant, message))
}

/// [`admit`] for a streamed call: its metadata's credential, the tenant of its first message.
/// A call without a credential learns nothing else, not even whether its tenant id is valid.
async fn admit_as(
    app: &App,
    service: Service,
    access: Access,
    authorization: Option<&str>,
    raw: &str,
) -> Result<TenantId, Status> {
    use crate::tenancy::Credential;
    if authorization.is_none() {
        return Err(status(crate::internal::missing()));
    }
    let tenant = TenantId::parse(raw).map_err(status)?;
    let credential = Credential::Internal { authorization, service: service.name(), access };
    app.tenancy.admit(&tenant, credential, app.now_ms()).await.map_err(status)?;
    Ok(tenant)
}

/// An error as a gRPC status: its [`ApiCode`]'s gRPC code, the message (an internal error's
/// detail is logged, not sent), and the API's code in the `x-polyrec-code` metadata.
pub fn status(error: Error) -> Status {
    let api_code = error.code();
    let code = Code::from(api_code.grpc() as i32);
    let message = match &error {
        Error::Validation { errors, .. } => {
            let details: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect();
            format!("{error}: {}", details.join("; "))
        }
        Error::NotFound { what } => what.clone(),
        // As over HTTP: the detail is the operators', logged here, never sent to the caller.
        Error::Internal(detail) => {
            tracing::error!(error = %detail, "internal error");
            "internal error; it has been logged".to_owned()
        }
        _ => error.to_string(),
    };
    let mut status = Status::new(code, message);
    status.metadata_mut().insert(CODE_KEY, tonic::metadata::MetadataValue::from_static(api_code.as_str()));
    status
}

/// A status a client received, as the error the request path answers with. A polyrec service's
/// answer keeps its code (`x-polyrec-code`): a remote `invalid_limit` is an `invalid_limit`
/// here. Without one (the call failed on the way): `NotFound` stays itself, a service that did
/// not answer is `Unavailable` (503), anything else `Internal`. (A function, not `From<Status>`:
/// both types are other crates'.)
pub fn error(service: &str, status: Status) -> Error {
    let remote = status.metadata().get(CODE_KEY).and_then(|v| v.to_str().ok()).and_then(ApiCode::parse);
    match (remote, status.code()) {
        (Some(ApiCode::Internal), _) => Error::internal(format!("{service}: {}", status.message())),
        (Some(code), _) => Error::from_code(code, status.message()),
        (None, Code::NotFound) => Error::not_found(status.message().to_owned()),
        (
            None,
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::ResourceExhausted | Code::Unknown,
        ) => Error::unavailable(format!("{service}: {} {}", status.code(), status.message())),
        (None, _) => Error::internal(format!("{service}: {} {}", status.code(), status.message())),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Status> {
    serde_json::to_string(value).map_err(|e| status(Error::internal(e)))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T, Status> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| status(Error::invalid(ApiCode::InvalidJson, format!("{what} is not JSON: {e}"))))?;
    crate::service::parse_body(value).map_err(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_keeps_its_detail_from_the_caller() {
        let internal = status(Error::internal("password=hunter2 at /srv/db"));
        assert_eq!(internal.code(), Code::Internal);
        assert!(!internal.message().contains("hunter2"), "{}", internal.message());
        assert_eq!(internal.metadata().get(CODE_KEY).unwrap(), "internal");
        // What the caller can act on is still sent.
        let missing = status(Error::not_found("scenario \"feed\""));
        assert_eq!((missing.code(), missing.message()), (Code::NotFound, "scenario \"feed\""));
    }

    #[test]
    fn every_code_crosses_a_grpc_hop_and_comes_back_the_same() {
        for &code in ApiCode::ALL {
            let sent = Error::from_code(code, "why");
            let received = error("scenario", status(sent));
            assert_eq!(received.code(), code, "{code} came back as {}", received.code());
        }
        // A call that failed on the way (no polyrec code) is the service being unavailable.
        let dropped = error("scenario", Status::unavailable("connection refused"));
        assert_eq!(dropped.code(), ApiCode::Unavailable);
    }
}
