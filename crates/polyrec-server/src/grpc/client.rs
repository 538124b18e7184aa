//! The recommendation service's gRPC clients of the scenario, item, feature and model services:
//! the same traits as the in-process path ([`crate::sources`]). One lazily connected channel per
//! service, shared by every call (HTTP/2 multiplexes them); each call has a deadline; the calls
//! are reads, so one that got no answer (UNAVAILABLE, DEADLINE_EXCEEDED) is retried with
//! exponential backoff.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use polyrec_core::{Error, Experiment, Item, Result, Scenario, ScenarioId, TenantId, UserId, UserProfile};
use polyrec_engine::pipeline::RequestContext;
use tonic::Status;
use tonic::transport::{Channel, Endpoint};

use super::proto;
use crate::config::ServicesConfig;
use crate::external::{Traced, traced};
use crate::internal::{Access, InternalKey};
use crate::sources::{FeatureSource, ItemSource, ScenarioSource, Sources};
use crate::split::Service;
use crate::tenancy::{Retries, with_retries};

/// The sources of a split recommendation service: every one a gRPC client, each call with a
/// read-only service token for its tenant and the service it calls, signed by `key`.
pub fn sources(config: &ServicesConfig, key: InternalKey) -> anyhow::Result<Sources> {
    let remote = |field: &str, url: &str, service: Service| -> anyhow::Result<Remote> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| anyhow::anyhow!("services.{field} {url:?} is not a URL: {e}"))?
            .connect_timeout(Duration::from_millis(config.timeout_ms.max(1)))
            .timeout(Duration::from_millis(config.timeout_ms.max(1)))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30));
        Ok(Remote {
            channel: endpoint.connect_lazy(),
            key: key.clone(),
            service: service.name(),
            retries: Retries::new(config.timeout_ms, config.retries, config.backoff_ms),
        })
    };
    Ok(Sources {
        scenarios: Arc::new(Scenarios(remote("scenario_url", &config.scenario_url, Service::Scenario)?)),
        items: Arc::new(Items(remote("item_url", &config.item_url, Service::Item)?)),
        features: Arc::new(Features(remote("feature_url", &config.feature_url, Service::Feature)?)),
        ranking: Some(Arc::new(Ranking(remote("model_url", &config.model_url, Service::Model)?))),
    })
}

/// A channel to one service, and how its calls are retried.
#[derive(Clone)]
struct Remote {
    channel: Channel,
    key: InternalKey,
    /// The service called: the audience of its tokens.
    service: &'static str,
    retries: Retries,
}

impl Remote {
    fn traced(&self) -> Traced {
        tonic::service::interceptor::InterceptedService::new(self.channel.clone(), traced as fn(_) -> _)
    }

    /// A call's request for `tenant`: `message` with the service token that admits it (every call
    /// of the recommendation service reads: its tokens grant nothing else).
    fn request<T>(&self, tenant: &TenantId, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let token = format!("Bearer {}", self.key.mint(tenant, self.service, Access::Read));
        match token.parse() {
            Ok(value) => {
                request.metadata_mut().insert(super::AUTHORIZATION_KEY, value);
            }
            // A JWT is base64url and dots: always a valid metadata value.
            Err(error) => tracing::error!(%error, "a service token is not valid gRPC metadata"),
        }
        request
    }

    /// Runs an idempotent call, retrying it while the service gives no answer (the statuses
    /// `grpc::error` reads as unavailable).
    async fn call<T, F, Fut>(&self, service: &'static str, method: &'static str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        with_retries(&self.retries, || {
            let answer = attempt();
            async move {
                let started = Instant::now();
                let answer = answer.await;
                let code = match &answer {
                    Ok(_) => "ok".to_owned(),
                    Err(status) => format!("{:?}", status.code()).to_lowercase(),
                };
                metrics::histogram!("polyrec_internal_call_duration_seconds", "service" => service, "method" => method, "code" => code)
                    .record(started.elapsed().as_secs_f64());
                answer.map(tonic::Response::into_inner).map_err(|status| super::error(service, status))
            }
        })
        .await
    }
}

fn parse<T: serde::de::DeserializeOwned>(service: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::internal(format!("{service} answered an unreadable document: {e}")))
}

/// `NotFound` from the service: the thing does not exist (an answer, not a failure).
fn or_none<T>(answer: Result<T>) -> Result<Option<T>> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

struct Scenarios(Remote);

#[async_trait]
impl ScenarioSource for Scenarios {
    async fn scenario(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Option<Scenario>> {
        let request = proto::ScenarioRef { tenant_id: tenant.to_string(), scenario_id: id.to_string() };
        let answer = self
            .0
            .call("scenario", "GetScenario", || {
                let mut client = proto::scenario_service_client::ScenarioServiceClient::new(self.0.traced());
                let request = self.0.request(tenant, request.clone());
                async move { client.get_scenario(request).await }
            })
            .await;
        or_none(answer)?.map(|scenario| parse("scenario-service", &scenario.json)).transpose()
    }

    async fn experiments(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Vec<Experiment>> {
        let request = proto::ScenarioRef { tenant_id: tenant.to_string(), scenario_id: id.to_string() };
        let list = self
            .0
            .call("scenario", "ListExperiments", || {
                let mut client = proto::scenario_service_client::ScenarioServiceClient::new(self.0.traced());
                let request = self.0.request(tenant, request.clone());
                async move { client.list_experiments(request).await }
            })
            .await?;
        list.experiments.iter().map(|e| parse("scenario-service", &e.json)).collect()
    }
}

struct Items(Remote);

#[async_trait]
impl ItemSource for Items {
    async fn scan_items(&self, tenant: &TenantId, id: &ScenarioId) -> Result<Vec<Item>> {
        let request = proto::ScenarioRef { tenant_id: tenant.to_string(), scenario_id: id.to_string() };
        // The whole scan is retried: a stream that broke off leaves nothing half loaded.
        let items = self
            .0
            .call("item", "ScanItems", || {
                let mut client = proto::item_service_client::ItemServiceClient::new(self.0.traced());
                let request = self.0.request(tenant, request.clone());
                async move {
                    let mut stream = client.scan_items(request).await?.into_inner();
                    let mut items = Vec::new();
                    while let Some(item) = stream.message().await? {
                        items.push(item);
                    }
                    Ok(tonic::Response::new(items))
                }
            })
            .await?;
        // A whole catalog (a second or more at a million items): parsed off the runtime threads.
        polyrec_service::blocking::blocking("parsing items", move || {
            items.iter().map(|item| parse("item-service", &item.json)).collect()
        })
        .await?
    }
}

struct Features(Remote);

#[async_trait]
impl FeatureSource for Features {
    async fn profile(&self, tenant: &TenantId, user: &UserId, id: &ScenarioId) -> Result<Option<UserProfile>> {
        let request =
            proto::UserRef { tenant_id: tenant.to_string(), scenario_id: id.to_string(), user_id: user.to_string() };
        let answer = self
            .0
            .call("feature", "GetUserProfile", || {
                let mut client = proto::feature_service_client::FeatureServiceClient::new(self.0.traced());
                let request = self.0.request(tenant, request.clone());
                async move { client.get_user_profile(request).await }
            })
            .await?;
        answer.found.then(|| parse("feature-service", &answer.json)).transpose()
    }
}

struct Ranking(Remote);

#[async_trait]
impl polyrec_engine::RankService for Ranking {
    async fn score(
        &self,
        ctx: &RequestContext<'_>,
        model: &str,
        pinned: Option<&str>,
        items: &[&str],
    ) -> Result<Option<Vec<f32>>> {
        let request = proto::ScoreRequest {
            tenant_id: ctx.tenant.to_string(),
            scenario_id: ctx.scenario.to_string(),
            user_id: ctx.user.to_string(),
            model: model.to_owned(),
            pinned_version: pinned.unwrap_or_default().to_owned(),
            item_ids: items.iter().map(|s| (*s).to_owned()).collect(),
            context_json: serde_json::to_string(ctx.context).map_err(Error::internal)?,
            now_ms: ctx.now_ms,
        };
        let reply = self
            .0
            .call("model", "Score", || {
                let mut client = proto::model_service_client::ModelServiceClient::new(self.0.traced());
                let request = self.0.request(ctx.tenant, request.clone());
                async move { client.score(request).await }
            })
            .await?;
        Ok(reply.scored.then_some(reply.scores))
    }
}
