//! gRPC clients of the external tenant and user services (SPEC §6.2, `proto/external.proto`).
//! They answer one call each; the deadline, retries and caching around them are
//! [`crate::tenancy`]'s.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use polyrec_core::{Error, Quota, Result, TenantId, TenantInfo, TenantStatus, UserId, UserInfo};
use tonic::transport::{Channel, Endpoint};

use crate::config::TenancyConfig;
use crate::tenancy::{TenantSource, UserSource};

/// The generated code of `proto/external.proto` (clients and servers; the servers are what a
/// test fake or a stand-in implements).
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/_.rs"));
}

use proto::tenant_service_client::TenantServiceClient;
use proto::user_service_client::UserServiceClient;
use tonic::service::interceptor::InterceptedService;
use tracing::Instrument;

/// Every call carries the caller's trace context (`traceparent`).
pub(crate) type Traced =
    InterceptedService<Channel, fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>>;

pub(crate) fn traced(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    crate::telemetry::inject_into(request.metadata_mut());
    Ok(request)
}

/// The configured sources: the tenant and user services' clients, each `None` when its URL is
/// empty.
#[allow(clippy::type_complexity)]
pub fn sources(config: &TenancyConfig) -> anyhow::Result<(Option<Arc<dyn TenantSource>>, Option<Arc<dyn UserSource>>)> {
    let tenants: Option<Arc<dyn TenantSource>> = match config.tenant_service.as_str() {
        "" => None,
        url => {
            let channel = channel(url, config, "tenant_service")?;
            Some(Arc::new(GrpcTenants { client: TenantServiceClient::with_interceptor(channel, traced as fn(_) -> _) }))
        }
    };
    let users: Option<Arc<dyn UserSource>> = match config.user_service.as_str() {
        "" => None,
        url => {
            let channel = channel(url, config, "user_service")?;
            Some(Arc::new(GrpcUsers { client: UserServiceClient::with_interceptor(channel, traced as fn(_) -> _) }))
        }
    };
    Ok((tenants, users))
}

/// A lazily connected channel (the service may start after polyrec), reused by every call.
fn channel(url: &str, config: &TenancyConfig, field: &str) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| anyhow::anyhow!("tenancy.{field} {url:?} is not a URL: {e}"))?
        .connect_timeout(Duration::from_millis(config.timeout_ms.max(1)))
        .timeout(Duration::from_millis(config.timeout_ms.max(1)))
        .tcp_nodelay(true);
    Ok(endpoint.connect_lazy())
}

/// `NotFound` is an answer (the service does not know it); every other failure means the
/// service did not answer, and cached data may stand in.
fn failed(service: &str, status: tonic::Status) -> Error {
    Error::unavailable(format!("{service}: {} {}", status.code(), status.message()))
}

/// `polyrec_external_call_duration_seconds{service, code}`: each call to an external service.
fn record_call<T>(service: &'static str, answer: &Result<T, tonic::Status>, started: std::time::Instant) {
    let code = match answer {
        Ok(_) => "ok".to_owned(),
        Err(status) => format!("{:?}", status.code()).to_lowercase(),
    };
    metrics::histogram!("polyrec_external_call_duration_seconds", "service" => service, "code" => code)
        .record(started.elapsed().as_secs_f64());
}

struct GrpcTenants {
    client: TenantServiceClient<Traced>,
}

#[async_trait]
impl TenantSource for GrpcTenants {
    async fn tenant(&self, tenant: &TenantId) -> Result<Option<TenantInfo>> {
        let request = proto::GetTenantConfigRequest { tenant_id: tenant.to_string() };
        let span = tracing::info_span!("TenantService/GetTenantConfig", otel.kind = "client");
        let started = std::time::Instant::now();
        let answer = self.client.clone().get_tenant_config(request).instrument(span).await;
        record_call("tenant", &answer, started);
        match answer {
            Ok(response) => {
                let answer = response.into_inner();
                let quota = answer.quota.unwrap_or_default();
                Ok(Some(TenantInfo {
                    name: answer.tenant_name,
                    status: TenantStatus::parse(&answer.status),
                    quota: Quota {
                        recommend_per_second: quota.recommend_per_second.max(0.0),
                        events_per_second: quota.events_per_second.max(0.0),
                        max_scenarios: quota.max_scenarios.max(0) as u64,
                        max_items: quota.max_items.max(0) as u64,
                        // SPEC §6.2's TenantQuota has no such field: unlimited from the service.
                        analytics_per_second: 0.0,
                    },
                }))
            }
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(failed("tenant service", status)),
        }
    }
}

struct GrpcUsers {
    client: UserServiceClient<Traced>,
}

#[async_trait]
impl UserSource for GrpcUsers {
    async fn user(&self, tenant: &TenantId, user: &UserId) -> Result<Option<UserInfo>> {
        let request = proto::GetUserInfoRequest { tenant_id: tenant.to_string(), user_id: user.to_string() };
        let span = tracing::info_span!("UserService/GetUserInfo", otel.kind = "client");
        let started = std::time::Instant::now();
        let answer = self.client.clone().get_user_info(request).instrument(span).await;
        record_call("user", &answer, started);
        match answer {
            Ok(response) => {
                let answer = response.into_inner();
                Ok(Some(UserInfo { profile: answer.profile.into_iter().collect(), status: answer.status }))
            }
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(failed("user service", status)),
        }
    }
}
