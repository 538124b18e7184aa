//! Training jobs and the model registry: jobs with state and progress, versions with offline
//! metrics, activate and roll back, hot swap under load, tenant isolation, and a restart that
//! leaves no job running.

use std::sync::Arc;
use std::time::Duration;

use polyrec_core::TenantId;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestServer, config, event, ids, split_topology};

async fn catalog(server: &TestServer, tenant: &str, scenario: &str, n: usize) {
    let items: Vec<(String, Value)> = (0..n).map(|i| (format!("i{i}"), json!({"category": "c"}))).collect();
    let refs: Vec<(&str, Value)> = items.iter().map(|(id, m)| (id.as_str(), m.clone())).collect();
    server.items(tenant, scenario, &refs).await;
}

/// Two tastes: users g0-* take i0..i4, users g1-* take i6..i10, each skipping one.
fn two_tastes(scenario: &str) -> Vec<Value> {
    let mut events = Vec::new();
    for g in 0..2 {
        for u in 0..6 {
            for i in 0..5 {
                if i != u % 5 || u == 5 {
                    events.push(event("click", &format!("g{g}-{u}"), &format!("i{}", g * 6 + i), scenario));
                }
            }
        }
    }
    events
}

/// Starts a training job and waits for it to finish; returns the finished record.
async fn train(server: &TestServer, tenant: &str, scenario: &str, body: Value) -> Value {
    let (status, job) = server.post(tenant, &format!("/api/v1/scenarios/{scenario}/jobs/train"), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["state"], "queued", "{job}");
    finished(server, tenant, job["job_id"].as_str().unwrap()).await
}

/// Waits for a job to finish; returns the finished record.
pub(crate) async fn finished(server: &TestServer, tenant: &str, job_id: &str) -> Value {
    let path = format!("/api/v1/jobs/{job_id}");
    let mut last = Value::Null;
    // A job searches each recall model's parameters first: in a debug build, seconds.
    for _ in 0..4_000 {
        let (status, job) = server.get(tenant, &path).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        let progress = job["progress"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&progress), "{job}");
        if job["state"] == "succeeded" || job["state"] == "failed" {
            return job;
        }
        last = job;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the job did not finish: {last}");
}

fn serving<'a>(models: &'a Value, name: &str) -> Vec<&'a str> {
    models["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["model_name"] == name && m["serving"] == true)
        .map(|m| m["model_version"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_training_job_registers_measured_versions_that_activate_and_roll_back() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("vector_search", 0.5, 20), ("ease", 0.5, 20)])).await;
    catalog(&server, "t1", "feed", 12).await;
    server.events("t1", two_tastes("feed")).await;

    let job = train(&server, "t1", "feed", json!({})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["progress"], 1.0, "{job}");
    assert_eq!(job["versions"], json!({"als": "v1", "ease": "v1"}), "{job}");
    assert_eq!(job["data"]["users"], 12, "{job}");

    let (status, models) = server.get("t1", "/api/v1/scenarios/feed/models").await;
    assert_eq!(status, StatusCode::OK, "{models}");
    let records = models["models"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{models}");
    for record in records {
        assert_eq!(record["status"], "active", "{record}");
        assert_eq!(record["model_type"], "recall", "{record}");
        assert_eq!(record["job_id"], job["job_id"], "{record}");
        assert_eq!(record["config"]["events"], 50, "{record}");
        // Held-out interactions of two clean tastes: the right group is found.
        let ndcg = record["metrics"]["ndcg@10"].as_f64().unwrap();
        assert!(ndcg > 0.3, "{record}");
        assert!(record["metrics"]["recall@10"].as_f64().unwrap() > 0.5, "{record}");
    }

    // One more round: v2 serves, v1 stays registered.
    let job = train(&server, "t1", "feed", json!({"models": ["als"]})).await;
    assert_eq!(job["versions"], json!({"als": "v2"}), "{job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=als").await;
    let statuses: Vec<(&str, &str)> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["model_version"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("v2", "active"), ("v1", "inactive")], "{models}");
    assert_eq!(serving(&models, "als"), ["v2"]);

    let (status, rolled) = server.post("t1", "/api/v1/scenarios/feed/models/als/rollback", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert_eq!(rolled["model_version"], "v1", "{rolled}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=als").await;
    assert_eq!(serving(&models, "als"), ["v1"], "{models}");
    // The rolled-back model answers.
    let (_, answer) = server.recommend("t1", "g0-1", json!({"scenario_id": "feed", "count": 1, "explain": true})).await;
    assert_eq!(ids(&answer), ["i1"], "{answer}");
    assert_eq!(answer["degraded_channels"], json!([]), "{answer}");

    // Rolling back again returns to v2 (the one that served before v1 came back).
    let (status, rolled) = server.post("t1", "/api/v1/scenarios/feed/models/als/rollback", json!({})).await;
    assert_eq!((status, rolled["model_version"].as_str()), (StatusCode::OK, Some("v2")), "{rolled}");
    let (status, activated) =
        server.post("t1", "/api/v1/scenarios/feed/models/als/versions/v1/activate", json!({})).await;
    assert_eq!((status, activated["status"].as_str()), (StatusCode::OK, Some("active")), "{activated}");

    // EASE has served one version only: nothing to roll back to.
    let (status, error) = server.post("t1", "/api/v1/scenarios/feed/models/ease/rollback", json!({})).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::CONFLICT, Some("no_previous_version")), "{error}");
    let (status, error) = server.post("t1", "/api/v1/scenarios/feed/models/als/versions/v9/activate", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let (status, error) = server.post("t1", "/api/v1/scenarios/feed/models/bpr/rollback", json!({})).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_model")), "{error}");

    let (status, jobs) = server.get("t1", "/api/v1/scenarios/feed/jobs").await;
    assert_eq!(status, StatusCode::OK, "{jobs}");
    // The two asked for, newest first (the schedule may have queued its own meanwhile).
    let asked: Vec<&Value> = jobs["jobs"].as_array().unwrap().iter().filter(|j| j["trigger"] == "api").collect();
    assert_eq!(asked.len(), 2, "{jobs}");
    assert_eq!(asked[0]["versions"], json!({"als": "v2"}), "newest first: {jobs}");
}

/// Waits until `done`, failing with `what` after a minute (the bound only fails a version
/// where it never comes).
async fn until(what: &str, done: impl Fn() -> bool) {
    let waiting = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), waiting).await.unwrap_or_else(|_| panic!("{what}"));
}

/// Loading a version to serve it (decoding the artifact, indexing its item vectors) is work of
/// the tenant that asked for it: a rollback waits while the tenant's blocking slots are taken,
/// and another tenant's rollback meanwhile does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_loads_on_its_tenants_slots_and_another_tenants_does_not_wait() {
    if split_topology() {
        return; // The model service loads there, not in the app the test holds.
    }
    let server = TestServer::start().await;
    for tenant in ["t1", "t2"] {
        server.scenario(tenant, "feed", config(&[("vector_search", 1.0, 20)])).await;
        catalog(&server, tenant, "feed", 12).await;
        server.events(tenant, two_tastes("feed")).await;
        for _ in 0..2 {
            let job = train(&server, tenant, "feed", json!({"models": ["als"]})).await;
            assert_eq!(job["state"], "succeeded", "{job}");
        }
    }
    // The test takes t1's only slot (`limits.max_blocking_tasks_per_tenant` is 1).
    let (work, t1) = (server.app.tenant_work.clone(), TenantId::parse("t1").unwrap());
    let release = work.slot(&t1, "held by the test").await.unwrap();
    let waits = work.waits();
    let rollback = |tenant: &'static str| {
        let request = server
            .client
            .post(format!("{}/api/v1/scenarios/feed/models/als/rollback", server.url))
            .header("X-Tenant-Id", tenant)
            .json(&json!({}));
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let waiting = tokio::spawn(rollback("t1"));
    until("t1's rollback did not wait for t1's slot", || work.waits() > waits).await;
    let (status, rolled) = tokio::time::timeout(Duration::from_secs(60), rollback("t2"))
        .await
        .expect("t2's rollback waited for t1's slot");
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert!(!waiting.is_finished(), "t1's rollback loaded while its slot was taken");
    drop(release);
    let (status, rolled) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{rolled}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=als").await;
    assert_eq!(serving(&models, "als"), [rolled["model_version"].as_str().unwrap()], "{models}");
}

#[tokio::test]
async fn bad_training_requests_are_refused_with_what_to_fix() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("vector_search", 1.0, 20)])).await;
    let path = "/api/v1/scenarios/feed/jobs/train";
    let (status, error) = server.post("t1", path, json!({"models": ["als", "bpr"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "unknown_model", "{error}");
    assert!(error["message"].as_str().unwrap().contains("models[1]"), "{error}");
    let (status, error) = server.post("t1", path, json!({"models": ["als", "als"]})).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("duplicate_model")));
    let (status, error) = server.post("t1", path, json!({"modles": ["als"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (status, _) = server.post("t1", "/api/v1/scenarios/nope/jobs/train", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.get("t1", "/api/v1/jobs/no-such-job").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // No events yet: the job runs and fails, saying why; nothing is registered.
    let job = train(&server, "t1", "feed", json!({})).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(job["error"].as_str().unwrap().contains("no positive interactions"), "{job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models").await;
    assert_eq!(models["models"], json!([]), "{models}");
}

#[tokio::test]
async fn a_failed_training_leaves_the_serving_version_in_place() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("vector_search", 1.0, 20)])).await;
    catalog(&server, "t1", "feed", 12).await;
    server.events("t1", two_tastes("feed")).await;
    let job = train(&server, "t1", "feed", json!({})).await;
    assert_eq!(job["versions"], json!({"als": "v1"}), "{job}");
    // A model this scenario's events cannot train (no impressions for a ranker yet) fails
    // the job; ALS v1 keeps serving.
    let job = train(&server, "t1", "feed", json!({"models": ["deepfm"]})).await;
    assert_eq!(job["state"], "failed", "{job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models").await;
    assert_eq!(serving(&models, "als"), ["v1"], "{models}");
    let (_, answer) = server.recommend("t1", "g1-2", json!({"scenario_id": "feed", "count": 1})).await;
    assert_eq!(ids(&answer), ["i8"], "{answer}");
}

#[tokio::test]
async fn another_tenant_cannot_see_or_touch_models_and_jobs() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("ease", 1.0, 20)])).await;
    server.scenario("t2", "feed", config(&[("ease", 1.0, 20)])).await;
    catalog(&server, "t1", "feed", 12).await;
    server.events("t1", two_tastes("feed")).await;
    let job = train(&server, "t1", "feed", json!({})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let job_path = format!("/api/v1/jobs/{}", job["job_id"].as_str().unwrap());

    let (status, _) = server.get("t2", &job_path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a job id of another tenant is not found");
    let (_, models) = server.get("t2", "/api/v1/scenarios/feed/models").await;
    assert_eq!(models["models"], json!([]), "{models}");
    let (_, jobs) = server.get("t2", "/api/v1/scenarios/feed/jobs").await;
    assert_eq!(jobs["jobs"], json!([]), "{jobs}");
    let (status, _) = server.post("t2", "/api/v1/scenarios/feed/models/ease/versions/v1/activate", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // t2's own scenario answers without t1's model.
    let (_, answer) = server.recommend("t2", "g0-1", json!({"scenario_id": "feed", "count": 3, "explain": true})).await;
    assert!(answer["items"].as_array().unwrap().iter().all(|i| i["channels"][0]["name"] != "ease"), "{answer}");
}

#[tokio::test]
async fn dlae_trains_registers_and_serves_its_channel() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("dlae", 1.0, 20)])).await;
    catalog(&server, "t1", "feed", 12).await;
    server.events("t1", two_tastes("feed")).await;
    let job = train(&server, "t1", "feed", json!({})).await;
    assert_eq!(job["versions"], json!({"dlae": "v1"}), "{job}");
    let (status, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=dlae").await;
    assert_eq!(status, StatusCode::OK, "{models}");
    let record = &models["models"][0];
    assert_eq!(record["model_type"], "recall", "{record}");
    // Its parameters were chosen on a validation split: the trials are recorded with them.
    let params = &record["config"]["params"];
    let dropout = params["dropout"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&dropout), "{record}");
    let trials = params["tuning"]["trials"].as_array().unwrap();
    assert!(trials.len() > 1, "{record}");
    assert!(
        trials.iter().any(|t| t["params"]["dropout"] == params["dropout"] && t["params"]["lambda"] == params["lambda"]),
        "{record}"
    );
    assert!(record["metrics"]["ndcg@10"].as_f64().unwrap() > 0.3, "{record}");
    // g0-1 took every item of its group but i1: the one the group's taste points to.
    let (status, answer) =
        server.recommend("t1", "g0-1", json!({"scenario_id": "feed", "count": 1, "explain": true})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["items"][0]["item_id"], "i1", "{answer}");
    assert_eq!(answer["items"][0]["channels"][0]["name"], "dlae", "{answer}");
}

/// `item_cf`'s neighbours (how many each item keeps, the shrinkage) are searched by the job and
/// recorded as a registry version; the neighbours that serve are built with the choice.
#[tokio::test]
async fn item_cf_neighbours_are_searched_recorded_and_built_with_the_choice() {
    let server = TestServer::start().await;
    let channel = json!({"name": "item_cf", "weight": 1.0, "limit": 20, "params": {"model": {"user_recs": 40}}});
    let config = json!({"recall": {"strategies": [channel]}, "rank": {"model": "weighted"}});
    server.scenario("t1", "feed", config).await;
    // A bad bound is refused with its path, before anything trains.
    let bad = json!({"recall": {"strategies": [{"name": "item_cf", "weight": 1.0, "limit": 20,
                      "params": {"model": {"neighbors": 0}}}]}, "rank": {"model": "weighted"}});
    let (status, body) = server
        .post("t1", "/api/v1/scenarios", json!({"scenario_id": "bad", "scenario_type": "vlog", "config": bad}))
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_config")), "{body}");
    assert!(body.to_string().contains("params.model"), "{body}");
    catalog(&server, "t1", "feed", 12).await;
    server.events("t1", two_tastes("feed")).await;
    let job = train(&server, "t1", "feed", json!({})).await;
    assert_eq!(job["versions"], json!({"item_cf": "v1"}), "{job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=item_cf").await;
    let record = &models["models"][0];
    assert_eq!(record["model_type"], "recall", "{record}");
    let params = &record["config"]["params"];
    assert_eq!(params["user_recs"], 40, "the config's field is kept: {record}");
    let trials = params["tuning"]["trials"].as_array().unwrap();
    assert!(trials.len() > 1, "{record}");
    assert!(trials.iter().all(|t| t["params"]["user_recs"] == 40), "{record}");
    let tried: std::collections::BTreeSet<String> =
        trials.iter().map(|t| format!("{}/{}", t["params"]["neighbors"], t["params"]["shrink"])).collect();
    assert_eq!(tried.len(), trials.len(), "each trial a different setting: {record}");
    assert!(record["metrics"]["ndcg@10"].as_f64().is_some(), "{record}");
    // The neighbours serving now were built with what the search chose.
    let tenant = polyrec_core::TenantId::parse("t1").unwrap();
    let scenario = polyrec_core::ScenarioId::parse("feed").unwrap();
    let serving = server.app.models.current(&tenant, &scenario).unwrap();
    let built = serde_json::to_value(serving.cf.as_ref().unwrap().params).unwrap();
    for field in ["neighbors", "shrink", "user_recs"] {
        assert_eq!(built[field], params[field], "{field}: {built} vs {params}");
    }
    // And they answer: g0-1 took every item of its group but i1. (The synchronous round makes
    // the process that answers build its own neighbours now, with the serving version's
    // parameters; a split deployment's recommendation service would otherwise wait for its
    // schedule.)
    let (status, report) = server.post("t1", "/api/v1/scenarios/feed/jobs/cf", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=item_cf").await;
    let reused = models["models"].as_array().unwrap().iter().find(|m| m["model_version"] == "v2").unwrap().clone();
    assert_eq!(reused["config"]["params"]["neighbors"], params["neighbors"], "{reused}");
    assert_eq!(reused["config"]["params"]["shrink"], params["shrink"], "{reused}");
    let (_, answer) = server.recommend("t1", "g0-1", json!({"scenario_id": "feed", "count": 1})).await;
    assert_eq!(answer["items"][0]["item_id"], "i1", "{answer}");
}

/// The schedule rebuilds `item_cf`'s neighbours as events arrive but queues no training for a
/// scenario whose only learned model is `item_cf` (its version, the neighbours' parameters,
/// changes by a search alone); a scenario with `ease` gets its round's job.
#[tokio::test]
async fn the_schedule_rebuilds_neighbours_without_a_training_job_for_item_cf_alone() {
    let settings = polyrec_server::ServerConfig { cf_interval_seconds: 1, ..Default::default() };
    let server = TestServer::start_with(settings).await;
    server.scenario("t1", "cf", config(&[("item_cf", 1.0, 20)])).await;
    server.scenario("t1", "learned", config(&[("ease", 1.0, 20)])).await;
    for scenario in ["cf", "learned"] {
        catalog(&server, "t1", scenario, 12).await;
        server.events("t1", two_tastes(scenario)).await;
    }
    server.settle().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let (_, jobs) = server.get("t1", "/api/v1/scenarios/learned/jobs").await;
        let scheduled = jobs["jobs"].as_array().unwrap().iter().any(|j| j["trigger"] == "schedule");
        let (_, answer) =
            server.recommend("t1", "g0-1", json!({"scenario_id": "cf", "count": 1, "explain": true})).await;
        let from_neighbours = answer["items"][0]["channels"][0]["name"] == "item_cf";
        if scheduled && from_neighbours {
            assert_eq!(answer["items"][0]["item_id"], "i1", "{answer}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "schedule: {jobs}; recommend: {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // (The schedule's profile recompute is another kind of job.)
    let (_, jobs) = server.get("t1", "/api/v1/scenarios/cf/jobs").await;
    assert!(jobs["jobs"].as_array().unwrap().iter().all(|j| j["kind"] != "train"), "{jobs}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/cf/models").await;
    assert_eq!(models["models"], json!([]), "{models}");
}

#[tokio::test]
async fn configured_parameters_are_kept_and_the_synchronous_round_reuses_the_search() {
    let server = TestServer::start().await;
    let als = json!({"name": "vector_search", "weight": 1.0, "limit": 20,
                     "params": {"model": {"factors": 8, "iterations": 5}}});
    let ease = json!({"name": "ease", "weight": 1.0, "limit": 20});
    let config = json!({"recall": {"strategies": [als, ease]}, "rank": {"model": "weighted"}});
    server.scenario("t1", "feed", config).await;
    catalog(&server, "t1", "feed", 12).await;
    server.events("t1", two_tastes("feed")).await;
    let job = train(&server, "t1", "feed", json!({})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=als").await;
    let searched = models["models"][0]["config"]["params"].clone();
    // The config's fields are every trial's; the search chose the others.
    assert_eq!((searched["factors"].as_u64(), searched["iterations"].as_u64()), (Some(8), Some(5)), "{searched}");
    assert_eq!(searched["tuning"]["fixed"], json!(["factors", "iterations"]), "{searched}");
    let trials = searched["tuning"]["trials"].as_array().unwrap();
    assert!(trials.len() > 1, "{searched}");
    assert!(trials.iter().all(|t| t["params"]["factors"] == 8 && t["params"]["iterations"] == 5), "{searched}");
    let regularizations: std::collections::BTreeSet<String> =
        trials.iter().map(|t| t["params"]["regularization"].to_string()).collect();
    assert!(regularizations.len() > 1, "{searched}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=ease").await;
    assert!(models["models"][0]["config"]["params"]["tuning"]["trials"].as_array().unwrap().len() > 1, "{models}");

    // The synchronous round answers within the request deadline: no search, the serving
    // version's choice fitted again.
    let (status, report) = server.post("t1", "/api/v1/scenarios/feed/jobs/cf", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=als").await;
    let versions = models["models"].as_array().unwrap();
    let refit = versions.iter().find(|m| m["model_version"] == "v2").expect("a second version").clone();
    let refit = &refit["config"]["params"];
    assert_eq!(refit["tuning"], json!({"reused": true, "fixed": ["factors", "iterations"]}), "{refit}");
    for field in ["factors", "regularization", "alpha", "iterations"] {
        assert_eq!(refit[field], searched[field], "{field}: {refit} vs {searched}");
    }
}

#[tokio::test]
async fn auto_channel_weights_are_fitted_by_the_job_and_shown_by_explain() {
    let server = TestServer::start().await;
    // `ease` finds each user's group; `latest` is the same items for everyone.
    let config = json!({"recall": {"strategies": [
        {"name": "ease", "weight": "auto", "limit": 20},
        {"name": "latest", "weight": "auto", "limit": 20},
        {"name": "hot_items", "weight": 0.5, "limit": 20}
    ]}, "rank": {"model": "weighted"}});
    server.scenario("t1", "feed", config).await;
    let (_, scenario) = server.get("t1", "/api/v1/scenarios/feed").await;
    assert_eq!(scenario["config"]["recall"]["strategies"][0]["weight"], "auto", "{scenario}");
    catalog(&server, "t1", "feed", 12).await;
    server.events("t1", two_tastes("feed")).await;
    // Before any training, "auto" is 1, and says it is not fitted.
    let (_, answer) = server.recommend("t1", "g0-1", json!({"scenario_id": "feed", "count": 3, "explain": true})).await;
    let channels = answer["channels"].as_array().unwrap_or_else(|| panic!("{answer}"));
    let latest = channels.iter().find(|c| c["name"] == "latest").unwrap();
    assert_eq!((latest["weight"].as_f64(), latest["weight_fitted"].as_bool()), (Some(1.0), Some(false)), "{answer}");

    let job = train(&server, "t1", "feed", json!({})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert!(job["versions"]["blend"].is_string(), "{job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=blend").await;
    let record = &models["models"][0];
    let weights = &record["config"]["params"]["weights"];
    // Only the "auto" channels are fitted (which way is the unit tests' to check: here every
    // item is as new as the others, so `latest` adds the same to each).
    assert_eq!(weights.as_object().unwrap().len(), 2, "{record}");
    assert!(weights.as_object().unwrap().values().all(|w| (0.0..=1.0).contains(&w.as_f64().unwrap())), "{record}");
    assert_eq!(record["config"]["params"]["validation"]["users"], 12, "{record}");
    let fitted = record["metrics"]["ndcg@10"].as_f64().unwrap();
    assert!(fitted >= record["metrics"]["ndcg@10_equal_weights"].as_f64().unwrap(), "{record}");

    let (_, answer) = server.recommend("t1", "g0-1", json!({"scenario_id": "feed", "count": 3, "explain": true})).await;
    let channels = answer["channels"].as_array().unwrap();
    for channel in channels {
        match channel["name"].as_str().unwrap() {
            "hot_items" => assert_eq!((channel["weight"].as_f64(), channel.get("weight_fitted")), (Some(0.5), None)),
            name => {
                assert_eq!(channel["weight"], weights[name], "{answer}");
                assert_eq!(channel["weight_fitted"], true, "{answer}");
            }
        }
    }
    assert_eq!(answer["items"][0]["item_id"], "i1", "{answer}");

    // Another tenant's scenario of the same name knows nothing of it.
    server.scenario("t2", "feed", crate::support::config(&[("latest", 1.0, 5)])).await;
    let (status, other) = server.get("t2", "/api/v1/scenarios/feed/models?name=blend").await;
    assert_eq!(status, StatusCode::OK, "{other}");
    assert_eq!(other["models"], json!([]), "{other}");
}

#[tokio::test]
async fn the_interaction_ranker_is_trained_on_recall_candidates_and_serves_only_if_it_helps() {
    let server = TestServer::start().await;
    let config = json!({"recall": {"strategies": [
        {"name": "ease", "weight": 1.0, "limit": 20},
        {"name": "hot_items", "weight": 0.5, "limit": 20}
    ]}, "rank": {"model": "interaction_ranker"}});
    server.scenario("t1", "feed", config).await;
    catalog(&server, "t1", "feed", 12).await;
    server.events("t1", two_tastes("feed")).await;
    // Before training: the recall order.
    let (status, before) =
        server.recommend("t1", "g0-1", json!({"scenario_id": "feed", "count": 3, "explain": true})).await;
    assert_eq!(status, StatusCode::OK, "{before}");

    let job = train(&server, "t1", "feed", json!({})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert!(job["versions"]["ease"].is_string() && job["versions"]["interaction_ranker"].is_string(), "{job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=interaction_ranker").await;
    let record = &models["models"][0];
    assert_eq!(record["model_type"], "rank", "{record}");
    let params = &record["config"]["params"];
    assert_eq!(params["depth"], 100, "{record}");
    assert_eq!(params["validation"]["users"], 12, "{record}");
    assert!(params["features"].as_array().unwrap().iter().any(|f| f == "ease.score"), "{record}");
    let (learned, recall) =
        (record["metrics"]["ndcg@10"].as_f64().unwrap(), record["metrics"]["ndcg@10_recall_order"].as_f64().unwrap());
    // Twelve users are too few to learn from (LightGBM needs 200 rows a leaf here): it learns
    // nothing better, and says it keeps the recall order.
    assert!(learned < recall * 1.01, "{record}");
    assert_eq!(params["validation"]["kept_recall_order"], true, "{record}");

    let (status, answer) =
        server.recommend("t1", "g0-1", json!({"scenario_id": "feed", "count": 3, "explain": true})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["items"][0]["item_id"], "i1", "{answer}");
    let stages = answer["items"][0]["stages"].as_array().unwrap_or_else(|| panic!("{answer}"));
    assert!(stages.iter().any(|s| s["stage"] == "rank:interaction_ranker"), "{answer}");

    // Its parameters are checked like any rank model's; another tenant sees none of it.
    let bad = json!({"recall": {"strategies": [{"name": "ease", "weight": 1.0, "limit": 5}]},
                     "rank": {"model": "interaction_ranker", "params": {"depth": 5}}});
    let (status, body) = server
        .post("t1", "/api/v1/scenarios", json!({"scenario_id": "bad", "scenario_type": "vlog", "config": bad}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("config.rank.params"), "{body}");
    server.scenario("t2", "feed", crate::support::config(&[("latest", 1.0, 5)])).await;
    let (_, other) = server.get("t2", "/api/v1/scenarios/feed/models?name=interaction_ranker").await;
    assert_eq!(other["models"], json!([]), "{other}");
}

#[tokio::test]
async fn bad_model_parameters_in_a_config_are_refused_where_they_are() {
    let server = TestServer::start().await;
    for (channel, path) in [
        (
            json!({"name": "vector_search", "weight": 1.0, "limit": 5, "params": {"model": {"factors": 0}}}),
            "config.recall.strategies[0].params.model",
        ),
        (
            json!({"name": "vector_search", "weight": 1.0, "limit": 5, "params": {"model": {"factor": 8}}}),
            "config.recall.strategies[0].params.model",
        ),
        (
            json!({"name": "ease", "weight": 1.0, "limit": 5, "params": {"model": {"lambda": -1.0}}}),
            "config.recall.strategies[0].params.model.lambda",
        ),
        (
            json!({"name": "dlae", "weight": 1.0, "limit": 5, "params": {"model": {"dropout": 1.0}}}),
            "config.recall.strategies[0].params.model.dropout",
        ),
        (
            json!({"name": "ease", "weight": 1.0, "limit": 5, "params": {"model": {"max_items": 1000000}}}),
            "config.recall.strategies[0].params.model.max_items",
        ),
    ] {
        let config = json!({"recall": {"strategies": [channel]}, "rank": {"model": "weighted"}});
        let (status, body) = server
            .post("t1", "/api/v1/scenarios", json!({"scenario_id": "feed", "scenario_type": "vlog", "config": config}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{channel}: {body}");
        assert_eq!(body["code"], "invalid_config", "{body}");
        assert!(body.to_string().contains(path), "{path}: {body}");
    }
}

#[tokio::test]
async fn sparse_ease_trains_registers_and_serves_its_channel() {
    let server = TestServer::start().await;
    let channel = json!({"name": "sparse_ease", "weight": 1.0, "limit": 20, "params": {"model": {"neighbors": 4}}});
    server.scenario("t1", "feed", json!({"recall": {"strategies": [channel]}, "rank": {"model": "weighted"}})).await;
    catalog(&server, "t1", "feed", 12).await;
    server.events("t1", two_tastes("feed")).await;
    let job = train(&server, "t1", "feed", json!({})).await;
    assert_eq!(job["versions"], json!({"sparse_ease": "v1"}), "{job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/feed/models?name=sparse_ease").await;
    let record = &models["models"][0];
    // The configured neighbours are every trial's; λ and the dropout were searched.
    assert_eq!(record["config"]["params"]["neighbors"], 4, "{record}");
    let trials = record["config"]["params"]["tuning"]["trials"].as_array().unwrap();
    assert!(trials.len() > 1 && trials.iter().all(|t| t["params"]["neighbors"] == 4), "{record}");
    assert!(record["metrics"]["ndcg@10"].as_f64().unwrap() > 0.3, "{record}");
    let (status, answer) =
        server.recommend("t1", "g0-1", json!({"scenario_id": "feed", "count": 1, "explain": true})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["items"][0]["item_id"], "i1", "{answer}");
    assert_eq!(answer["items"][0]["channels"][0]["name"], "sparse_ease", "{answer}");
}

#[tokio::test]
async fn hot_swaps_under_concurrent_recommend_calls_drop_nothing() {
    let server = Arc::new(TestServer::start().await);
    server.scenario("t1", "feed", config(&[("vector_search", 0.5, 20), ("ease", 0.5, 20)])).await;
    catalog(&server, "t1", "feed", 12).await;
    server.events("t1", two_tastes("feed")).await;
    for _ in 0..2 {
        assert_eq!(train(&server, "t1", "feed", json!({})).await["state"], "succeeded");
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut callers = Vec::new();
    for c in 0..4 {
        let (server, stop) = (server.clone(), stop.clone());
        callers.push(tokio::spawn(async move {
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let user = format!("g{}-{}", c % 2, 1 + c / 2);
                let (status, answer) =
                    server.recommend("t1", &user, json!({"scenario_id": "feed", "count": 1, "explain": true})).await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                assert_eq!(answer["degraded_channels"], json!([]), "no channel fails during a swap: {answer}");
                let channels: Vec<&str> = answer["items"][0]["channels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["name"].as_str().unwrap())
                    .collect();
                assert_eq!(channels, ["vector_search", "ease"], "{answer}");
                answered += 1;
            }
            answered
        }));
    }
    for round in 0..20 {
        let path = match round % 3 {
            0 => "/api/v1/scenarios/feed/models/als/rollback".to_owned(),
            1 => "/api/v1/scenarios/feed/models/ease/rollback".to_owned(),
            _ => format!("/api/v1/scenarios/feed/models/als/versions/v{}/activate", 1 + round % 2),
        };
        let (status, answer) = server.post("t1", &path, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for caller in callers {
        total += caller.await.unwrap();
    }
    assert!(total >= 20, "the callers ran during the swaps ({total} answers)");
}

#[tokio::test]
async fn a_job_whose_process_died_on_its_last_attempt_is_failed_not_left_running() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("ease", 1.0, 20)])).await;
    let tenant = TenantId::parse("t1").unwrap();
    let now = server.app.now_ms();
    let attempts = polyrec_server::jobs::training::MAX_ATTEMPTS;
    let orphan = crate::support::running_job("orphan", "feed", now, attempts);
    server.app.stores().documents.put_job(&tenant, &orphan).await.unwrap();
    let lease = polyrec_server::jobs::training::lease_ms(&server.app);
    let reaped = |before| polyrec_server::jobs::training::reap(&server.app, before);
    assert_eq!(reaped(now - lease).await.unwrap(), 0, "still beating");
    server.clock.advance_ms(lease + 1_000);
    // The schedule's own round may have failed it first.
    reaped(server.app.now_ms() - lease).await.unwrap();
    let (_, job) = server.get("t1", "/api/v1/jobs/orphan").await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["attempts"], attempts, "{job}");
    assert!(job["error"].as_str().unwrap().contains("stopped"), "{job}");
}

#[tokio::test]
async fn a_job_whose_process_died_is_claimed_again_once_its_lease_runs_out() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("ease", 1.0, 20)])).await;
    let events: Vec<Value> = (0..40)
        .map(|i| json!({"scenario_id": "feed", "user_id": format!("u{}", i % 8), "item_id": format!("i{}", i % 5), "event_type": "click"}))
        .collect();
    let (status, body) = server.post("t1", "/api/v1/behaviors/batch", json!({"events": events})).await;
    assert!(status.is_success() && body["accepted"] == 40, "{status} {body}");
    let tenant = TenantId::parse("t1").unwrap();
    let now = server.app.now_ms();
    let mut orphan = crate::support::running_job("orphan", "feed", now, 1);
    orphan.models = vec!["ease".into()];
    server.app.stores().documents.put_job(&tenant, &orphan).await.unwrap();
    // Beating: no worker takes it.
    let claimed = polyrec_server::jobs::queue::claim(&server.app).await.unwrap();
    assert!(claimed.is_none_or(|(_, job)| job.job_id != "orphan"), "a job whose lease holds is not claimed");
    server.clock.advance_ms(polyrec_server::jobs::training::lease_ms(&server.app) + 1_000);
    let job = finished(&server, "t1", "orphan").await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(job["worker"], server.app.instance.as_str(), "{job}");
    assert_eq!(job["versions"], json!({"ease": "v1"}), "{job}");
}

/// A catalog where odd items are good (quality 1) but even items are newer, and traffic where
/// users click the good ones when shown them: recall by recency puts the even items first, a
/// ranker learned from the impressions must put the odd ones first.
async fn quality_scenario(server: &TestServer, rank: Value) {
    let config = json!({
        "features": {"item_features": [{"name": "quality", "type": "numeric"}]},
        "recall": {"strategies": [{"name": "latest", "weight": 1.0, "limit": 20}]},
        "rank": rank,
    });
    server.scenario("t1", "shop", config).await;
    let items: Vec<(String, Value)> = (0..20)
        .map(|i| {
            let publish = 1_768_400_000 + if i % 2 == 0 { 10_000 } else { 0 } + i as i64;
            (format!("i{i}"), json!({"category": "c", "quality": i % 2, "publish_time": publish}))
        })
        .collect();
    let refs: Vec<(&str, Value)> = items.iter().map(|(id, m)| (id.as_str(), m.clone())).collect();
    server.items("t1", "shop", &refs).await;
    let ids: Vec<String> = (0..20).map(|i| format!("i{i}")).collect();
    server.events("t1", odd_items_taken("shop", "click", None, 40, &ids)).await;
}

/// Impressions of every item for `users` users, who act (`action`, with `value` seconds when
/// given) on the odd items when shown them, and seldom on the even ones.
fn odd_items_taken(scenario: &str, action: &str, value: Option<f64>, users: usize, items: &[String]) -> Vec<Value> {
    let mut events = Vec::new();
    for u in 0..users {
        let user = format!("u{u}");
        for (i, item) in items.iter().enumerate() {
            events.push(event("impression", &user, item, scenario));
            let acted = if i % 2 == 1 { (u + i) % 5 != 0 } else { (u + i) % 10 == 0 };
            if acted {
                let mut act = event(action, &user, item, scenario);
                if let Some(value) = value {
                    act["value"] = json!(value);
                }
                events.push(act);
            }
        }
    }
    events
}

async fn good_items_first(server: &TestServer, user: &str) -> Value {
    let (status, answer) =
        server.recommend("t1", user, json!({"scenario_id": "shop", "count": 10, "explain": true})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn odd(answer: &Value) -> bool {
    ids(answer).iter().all(|id| id[1..].parse::<u32>().unwrap() % 2 == 1)
}

async fn serving_now(server: &TestServer) -> Vec<String> {
    let (_, models) = server.get("t1", "/api/v1/scenarios/shop/models?name=deepfm").await;
    serving(&models, "deepfm").into_iter().map(str::to_owned).collect()
}

async fn a_learned_ranker_puts_what_users_click_first(model: &str) {
    let server = TestServer::start().await;
    quality_scenario(&server, json!({"model": model, "objective": "click_rate"})).await;
    let before = good_items_first(&server, "new-user").await;
    assert!(!odd(&before), "untrained, the recall order (newest, even) stands: {before}");

    let job = train(&server, "t1", "shop", json!({})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["versions"], json!({model: "v1"}), "{job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/shop/models").await;
    let record = &models["models"][0];
    assert_eq!(record["model_type"], "rank", "{record}");
    let auc = record["metrics"]["auc"].as_f64().unwrap();
    assert!(auc > 0.8, "held-out AUC {auc}: {record}");
    assert!(record["metrics"]["log_loss"].as_f64().unwrap() < 0.6, "{record}");
    assert_eq!(record["config"]["impressions"], 800, "{record}");

    let after = good_items_first(&server, "new-user").await;
    assert!(odd(&after), "the learned ranker puts the good items first: {after}");
    let scores: Vec<f64> =
        after["items"].as_array().unwrap().iter().map(|i| i["rank_score"].as_f64().unwrap()).collect();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "click probabilities: {scores:?}");
}

#[tokio::test]
async fn deepfm_learns_from_impressions_and_ranks_with_it() {
    a_learned_ranker_puts_what_users_click_first("deepfm").await;
}

#[tokio::test]
async fn wide_deep_learns_from_impressions_and_ranks_with_it() {
    a_learned_ranker_puts_what_users_click_first("wide_deep").await;
}

#[cfg(feature = "lightgbm")]
#[tokio::test]
async fn lightgbm_learns_from_impressions_and_ranks_with_it() {
    a_learned_ranker_puts_what_users_click_first("lightgbm").await;
}

#[tokio::test]
async fn rank_version_pins_a_version_and_unpinning_serves_the_active_one() {
    let server = TestServer::start().await;
    quality_scenario(&server, json!({"model": "deepfm", "params": {"model": {"epochs": 3}}})).await;
    for _ in 0..2 {
        assert_eq!(train(&server, "t1", "shop", json!({})).await["state"], "succeeded");
    }
    assert_eq!(serving_now(&server).await, ["v2"]);
    // Pinned as the specification writes versions.
    let patch = json!({"config": {"rank": {"model": "deepfm", "version": "v1.0", "params": {"model": {"epochs": 3}}}}});
    let (status, body) = server.call(reqwest::Method::PATCH, "t1", "/api/v1/scenarios/shop", Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(serving_now(&server).await, ["v1"]);
    let (_, models) = server.get("t1", "/api/v1/scenarios/shop/models?name=deepfm").await;
    assert_eq!(models["models"][0]["status"], "active", "v2 is still the active version: {models}");
    // A merge patch: null removes the pin.
    let patch = json!({"config": {"rank": {"version": null}}});
    let (status, body) = server.call(reqwest::Method::PATCH, "t1", "/api/v1/scenarios/shop", Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(serving_now(&server).await, ["v2"]);

    let (status, error) = server
        .call(
            reqwest::Method::PATCH,
            "t1",
            "/api/v1/scenarios/shop",
            Some(json!({"config": {"rank": {"model": "deepfm", "objective": "likes", "params": {"model": {"epochz": 3}}}}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let paths: Vec<&str> = error["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"config.rank.objective"), "{error}");
}

const SPEC_VLOG: &str = include_str!("../../../../examples/scenarios/vlog_main_feed.json");
const SPEC_NEWS: &str = include_str!("../../../../examples/scenarios/news_main_feed.json");

/// A catalog of 40 items and traffic of 20 users who act on the odd items when shown them: the
/// play (`value` seconds watched) or click that each learned ranker's objective counts. `reader`
/// acts on three odd items without impressions, so most of the catalog is still new to them.
async fn spec_traffic(server: &TestServer, scenario: &str, action: &str, metadata: impl Fn(usize) -> Value) {
    let items: Vec<(String, Value)> = (0..40).map(|i| (format!("{scenario}-{i}"), metadata(i))).collect();
    let refs: Vec<(&str, Value)> = items.iter().map(|(id, m)| (id.as_str(), m.clone())).collect();
    server.items("t1", scenario, &refs).await;
    let ids: Vec<String> = items.iter().map(|(id, _)| id.clone()).collect();
    let mut events = odd_items_taken(scenario, action, Some(45.0), 20, &ids);
    for (item, _) in items.iter().skip(1).step_by(2).take(3) {
        let mut act = event(action, "reader", item, scenario);
        act["value"] = json!(45.0);
        events.push(act);
    }
    server.events("t1", events).await;
}

/// Asks for `scenario` as `reader` and checks the learned ranker scored the answer: every item's rank
/// score is the ranker's probability, not its recall score carried through (what an unloaded
/// ranker leaves).
async fn ranked_by(server: &TestServer, scenario: &str, model: &str, context: Value) -> Value {
    let body = json!({"scenario_id": scenario, "count": 10, "explain": true, "context": context});
    let (status, answer) = server.recommend("t1", "reader", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let items = answer["items"].as_array().unwrap();
    assert_eq!(items.len(), 10, "{answer}");
    let stage = format!("rank:{model}");
    let mut rescored = 0;
    for item in items {
        let stages = item["stages"].as_array().unwrap();
        let score_at = |name: &str| stages.iter().find(|s| s["stage"] == name).and_then(|s| s["score"].as_f64());
        let (recall, rank) = (score_at("recall").unwrap(), score_at(&stage).expect("a rank stage"));
        assert!((0.0..=1.0).contains(&rank), "a probability: {item}");
        rescored += usize::from(rank != recall);
    }
    assert!(rescored > 0, "the {model} ranker scored the candidates: {answer}");
    answer
}

/// SPEC §5's two example scenarios, posted exactly as `examples/scenarios/` holds them (the
/// specification's text: `vector_search` and `deepfm` v1.0; `lightgbm` v2.0), pass validation,
/// train and answer from their models. `news_main_feed` needs the LightGBM build; without it, the
/// refusal says how to get one.
#[tokio::test]
async fn the_specifications_scenarios_as_written_train_and_answer() {
    let server = TestServer::start().await;
    let (status, body) = server.post("t1", "/api/v1/scenarios", serde_json::from_str(SPEC_VLOG).unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server.post("t1", "/api/v1/scenarios", serde_json::from_str(SPEC_NEWS).unwrap()).await;
    if cfg!(feature = "lightgbm") {
        assert_eq!(status, StatusCode::CREATED, "{body}");
    } else {
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_config")));
        assert!(body["message"].as_str().unwrap().contains("--features lightgbm"), "says how to get it: {body}");
    }

    let categories = ["sports", "music", "cooking", "travel"];
    spec_traffic(&server, "vlog_main_feed", "play", |i| {
        let completion = if i % 2 == 1 { 0.8 } else { 0.3 };
        json!({"category": categories[i % 4], "duration": 30 + i, "completion_rate": completion})
    })
    .await;
    let job = train(&server, "t1", "vlog_main_feed", json!({})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["versions"]["deepfm"], "v1", "{job}");
    assert_eq!(job["versions"]["als"], "v1", "vector_search's model: {job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/vlog_main_feed/models?name=deepfm").await;
    assert_eq!(serving(&models, "deepfm"), ["v1"], "v1.0 is the first version: {models}");
    let answer =
        ranked_by(&server, "vlog_main_feed", "deepfm", json!({"age": "25-34", "favorite_categories": ["music"]})).await;
    let report = answer["channels"].as_array().unwrap().iter().find(|c| c["name"] == "vector_search").unwrap();
    assert_eq!(report["status"], "ok", "{answer}");
    assert!(
        answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| { item["channels"].as_array().unwrap().iter().any(|c| c["name"] == "vector_search") }),
        "vector_search found items of the answer: {answer}"
    );

    if !cfg!(feature = "lightgbm") {
        return;
    }
    let now_s = server.app.now_ms() / 1000;
    let places = ["paris", "tokyo"];
    spec_traffic(
        &server,
        "news_main_feed",
        "click",
        |i| json!({"publish_time": now_s - 600 * i as i64, "hot_score": (i % 5) as f64, "location": places[i % 2]}),
    )
    .await;
    // `version: "v2.0"` pins the second version: the first training leaves it unserved.
    let job = train(&server, "t1", "news_main_feed", json!({})).await;
    assert_eq!((job["state"].as_str(), &job["versions"]["lightgbm"]), (Some("succeeded"), &json!("v1")), "{job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/news_main_feed/models?name=lightgbm").await;
    assert!(serving(&models, "lightgbm").is_empty(), "{models}");
    let job = train(&server, "t1", "news_main_feed", json!({"models": ["lightgbm"]})).await;
    assert_eq!((job["state"].as_str(), &job["versions"]["lightgbm"]), (Some("succeeded"), &json!("v2")), "{job}");
    let (_, models) = server.get("t1", "/api/v1/scenarios/news_main_feed/models?name=lightgbm").await;
    assert_eq!(serving(&models, "lightgbm"), ["v2"], "{models}");
    ranked_by(&server, "news_main_feed", "lightgbm", json!({"location": "paris"})).await;
}
