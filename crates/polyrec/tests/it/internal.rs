//! The internal gRPC ports take only authenticated calls (ARCHITECTURE.md, "Internal trust"):
//! every method of the six services, called without a credential (or with a forged one, or one
//! for another service), answers `UNAUTHENTICATED`; called with a service token for another
//! tenant than the one its message names, `PERMISSION_DENIED`; a read-only token (all the
//! recommendation service holds) is `PERMISSION_DENIED` on every method that changes data — and
//! the victim's data is untouched. With the tenant's own token the same calls go through.

use std::collections::HashMap;

use polyrec_server::ServerConfig;
use polyrec_server::grpc::proto;
use polyrec_server::internal::{Access, InternalKey};
use polyrec_server::split::Service;
use serde_json::json;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::support::{INTERNAL_KEY, TestServer};

/// A message with the `authorization` metadata `auth` (none: no credential).
fn with<T>(message: T, auth: &Option<String>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(auth) = auth {
        request.metadata_mut().insert(polyrec_server::grpc::AUTHORIZATION_KEY, auth.parse().unwrap());
    }
    request
}

/// The code a call ended with.
fn code<T>(answer: Result<tonic::Response<T>, Status>) -> Code {
    answer.map_or_else(|status| status.code(), |_| Code::Ok)
}

struct Channels(HashMap<Service, Channel>);

impl Channels {
    fn get(&self, service: Service) -> Channel {
        self.0[&service].clone()
    }
}

/// Every method of the six services, for tenant `victim`'s scenario `feed`, with `auth`; the
/// code each answered.
async fn call_every_method(
    channels: &Channels,
    auth_for: impl Fn(Service) -> Option<String>,
) -> Vec<(&'static str, Code)> {
    use proto::*;
    let tenant = || "victim".to_owned();
    let scenario = || ScenarioRef { tenant_id: tenant(), scenario_id: "feed".into() };
    let item = || ItemRef { tenant_id: tenant(), scenario_id: "feed".into(), item_id: "i1".into() };
    let query = || AnalyticsQuery { tenant_id: tenant(), params: HashMap::new() };
    let model = || ModelRef {
        tenant_id: tenant(),
        scenario_id: "feed".into(),
        model_name: "ease".into(),
        model_version: String::new(),
    };
    let event = json!({"event_type": "click", "user_id": "u1", "item_id": "i1", "scenario_id": "feed"}).to_string();
    let mut codes = Vec::new();

    let auth = &auth_for(Service::Scenario);
    let mut scenarios = scenario_service_client::ScenarioServiceClient::new(channels.get(Service::Scenario));
    codes.push(("GetScenario", code(scenarios.get_scenario(with(scenario(), auth)).await)));
    codes.push(("ListScenarios", code(scenarios.list_scenarios(with(TenantRef { tenant_id: tenant() }, auth)).await)));
    let body = json!({"scenario_id": "other", "scenario_type": "vlog", "config": {}}).to_string();
    let create = ScenarioBody { tenant_id: tenant(), scenario_id: String::new(), json: body };
    codes.push(("CreateScenario", code(scenarios.create_scenario(with(create, auth)).await)));
    let body = json!({"scenario_type": "news", "config": {}}).to_string();
    let replace = ScenarioBody { tenant_id: tenant(), scenario_id: "feed".into(), json: body };
    codes.push(("ReplaceScenario", code(scenarios.replace_scenario(with(replace, auth)).await)));
    codes.push(("ListExperiments", code(scenarios.list_experiments(with(scenario(), auth)).await)));

    let auth = &auth_for(Service::Item);
    let mut items = item_service_client::ItemServiceClient::new(channels.get(Service::Item));
    codes.push(("GetItem", code(items.get_item(with(item(), auth)).await)));
    let scan = match items.scan_items(with(scenario(), auth)).await {
        Ok(stream) => {
            let mut stream = stream.into_inner();
            let mut last = Code::Ok;
            while let Some(next) = stream.message().await.transpose() {
                if let Err(status) = next {
                    last = status.code();
                    break;
                }
            }
            last
        }
        Err(status) => status.code(),
    };
    codes.push(("ScanItems", scan));
    let import = vec![ImportItem {
        tenant_id: tenant(),
        scenario_id: "feed".into(),
        json: json!({"item_id": "i9", "metadata": {}}).to_string(),
    }];
    codes.push(("ImportItems", code(items.import_items(with(futures::stream::iter(import), auth)).await)));
    codes.push(("DeleteItem", code(items.delete_item(with(item(), auth)).await)));

    let auth = &auth_for(Service::Behavior);
    let mut behaviors = behavior_service_client::BehaviorServiceClient::new(channels.get(Service::Behavior));
    codes.push(("Track", code(behaviors.track(with(Event { tenant_id: tenant(), json: event.clone() }, auth)).await)));
    let batch = EventBatch { tenant_id: tenant(), events: vec![event.clone()] };
    codes.push(("TrackBatch", code(behaviors.track_batch(with(batch, auth)).await)));
    let stream = futures::stream::iter(vec![Event { tenant_id: tenant(), json: event }]);
    codes.push(("TrackStream", code(behaviors.track_stream(with(stream, auth)).await)));

    let auth = &auth_for(Service::Feature);
    let mut features = feature_service_client::FeatureServiceClient::new(channels.get(Service::Feature));
    let user = UserRef { tenant_id: tenant(), scenario_id: "feed".into(), user_id: "u1".into() };
    codes.push(("GetUserProfile", code(features.get_user_profile(with(user, auth)).await)));

    let auth = &auth_for(Service::Model);
    let mut models = model_service_client::ModelServiceClient::new(channels.get(Service::Model));
    let score = ScoreRequest {
        tenant_id: tenant(),
        scenario_id: "feed".into(),
        user_id: "u1".into(),
        model: "lightgbm".into(),
        pinned_version: String::new(),
        item_ids: vec!["i1".into()],
        context_json: String::new(),
        now_ms: 0,
    };
    codes.push(("Score", code(models.score(with(score, auth)).await)));
    let list = ModelQuery { tenant_id: tenant(), scenario_id: "feed".into(), model_name: String::new() };
    codes.push(("ListModels", code(models.list_models(with(list, auth)).await)));
    let train = TrainRequest {
        tenant_id: tenant(),
        scenario_id: "feed".into(),
        models: vec!["ease".into()],
        trigger: String::new(),
    };
    codes.push(("Train", code(models.train(with(train, auth)).await)));
    codes.push(("GetJob", code(models.get_job(with(JobRef { tenant_id: tenant(), job_id: "j1".into() }, auth)).await)));
    codes.push(("Activate", code(models.activate(with(model(), auth)).await)));
    codes.push(("Rollback", code(models.rollback(with(model(), auth)).await)));

    let auth = &auth_for(Service::Analytics);
    let mut analytics = analytics_service_client::AnalyticsServiceClient::new(channels.get(Service::Analytics));
    codes.push(("Dashboard", code(analytics.dashboard(with(query(), auth)).await)));
    codes.push(("Trends", code(analytics.trends(with(query(), auth)).await)));
    codes.push(("Distributions", code(analytics.distributions(with(query(), auth)).await)));
    codes.push(("TopItems", code(analytics.top_items(with(query(), auth)).await)));
    codes.push(("Funnel", code(analytics.funnel(with(query(), auth)).await)));

    // Then the attack of the issue: the victim's scenario deleted (last, so the calls above saw it).
    let auth = &auth_for(Service::Scenario);
    codes.push(("DeleteScenario", code(scenarios.delete_scenario(with(scenario(), auth)).await)));
    codes
}

#[tokio::test]
async fn every_grpc_method_needs_a_service_token_for_its_tenant() {
    let mut config = ServerConfig::default();
    config.services.internal_key = INTERNAL_KEY.to_owned();
    let server = TestServer::start_with(config).await;
    server.scenario("victim", "feed", crate::support::config(&[("latest", 1.0, 10)])).await;
    server.items("victim", "feed", &[("i1", json!({"category": "a"}))]).await;

    // The six services' gRPC servers over the test server's application.
    let mut channels = HashMap::new();
    for service in Service::ALL.into_iter().filter(|s| s.grpc_port().is_some()) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = polyrec_server::grpc::server(server.app.clone(), service).await.unwrap();
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(router.serve_with_incoming(incoming));
        channels.insert(service, Channel::from_shared(format!("http://{address}")).unwrap().connect_lazy());
    }
    assert_eq!(channels.len(), 6);
    let channels = Channels(channels);
    let key = InternalKey::new(INTERNAL_KEY, "").unwrap();

    let token = |tenant_id: &str, service: Service, access: Access| {
        Some(format!("Bearer {}", key.mint(&tenant(tenant_id), service.name(), access)))
    };
    let anonymous = call_every_method(&channels, |_| None).await;
    assert_eq!(anonymous.len(), 25, "every method of the six services");
    for (method, code) in &anonymous {
        assert_eq!(*code, Code::Unauthenticated, "{method} without a credential");
    }
    let garbage = call_every_method(&channels, |_| Some("Bearer not-a-token".into())).await;
    for (method, code) in &garbage {
        assert_eq!(*code, Code::Unauthenticated, "{method} with a token that is not one");
    }
    let forged_key = InternalKey::new("a-key-the-deployment-does-not-hold!", "").unwrap();
    let forged = call_every_method(&channels, |service| {
        Some(format!("Bearer {}", forged_key.mint(&tenant("victim"), service.name(), Access::Write)))
    })
    .await;
    for (method, code) in &forged {
        assert_eq!(*code, Code::Unauthenticated, "{method} with a token signed by another key");
    }
    // A token for one service opens no other (the item service's token on every service but item).
    let elsewhere = call_every_method(&channels, |service| {
        let other = if service == Service::Item { Service::Scenario } else { Service::Item };
        token("victim", other, Access::Write)
    })
    .await;
    for (method, code) in &elsewhere {
        assert_eq!(*code, Code::Unauthenticated, "{method} with another service's token");
    }
    let intruder = call_every_method(&channels, |service| token("intruder", service, Access::Write)).await;
    for (method, code) in &intruder {
        assert_eq!(*code, Code::PermissionDenied, "{method} with another tenant's token");
    }
    // What the recommendation service holds: read tokens. Every method that changes data refuses them.
    let reading = call_every_method(&channels, |service| token("victim", service, Access::Read)).await;
    let writes = [
        "CreateScenario",
        "ReplaceScenario",
        "ImportItems",
        "DeleteItem",
        "Track",
        "TrackBatch",
        "TrackStream",
        "Train",
        "Activate",
        "Rollback",
        "DeleteScenario",
    ];
    for (method, code) in &reading {
        if writes.contains(method) {
            assert_eq!(*code, Code::PermissionDenied, "{method} with a read-only token");
        } else {
            assert!(!matches!(code, Code::Unauthenticated | Code::PermissionDenied), "{method} reads: {code:?}");
        }
    }
    // Nothing of the victim's changed: the scenario, its item, no event.
    let (status, scenario) = server.get("victim", "/api/v1/scenarios/feed").await;
    assert_eq!((status.as_u16(), scenario["scenario_type"].as_str()), (200, Some("vlog")), "{scenario}");
    assert_eq!(server.get("victim", "/api/v1/scenarios/feed/items/i1").await.0, 200);
    assert_eq!(server.get("victim", "/api/v1/scenarios/feed/items/i9").await.0, 404);

    // The victim's own token goes through every check (what each call then answers is its own).
    let own = call_every_method(&channels, |service| token("victim", service, Access::Write)).await;
    for (method, code) in &own {
        assert!(
            !matches!(code, Code::Unauthenticated | Code::PermissionDenied),
            "{method} with its own token: {code:?}"
        );
    }
    let own: HashMap<_, _> = own.into_iter().collect();
    assert_eq!(own["GetScenario"], Code::Ok);
    assert_eq!(own["DeleteScenario"], Code::Ok);
    assert_eq!(server.get("victim", "/api/v1/scenarios/feed").await.0, 404);
}

fn tenant(id: &str) -> polyrec_core::TenantId {
    polyrec_core::TenantId::parse(id).unwrap()
}
