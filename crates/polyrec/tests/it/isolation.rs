//! Tenant isolation as a tested property: tenant B can neither read, list, change nor be
//! recommended tenant A's scenarios, items, events or profiles — even under the same ids.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestServer, config, event, ids};

#[tokio::test]
async fn one_tenant_cannot_reach_another_tenants_data() {
    let server = TestServer::start().await;
    server.scenario("alpha", "feed", config(&[("hot_items", 0.5, 10), ("latest", 0.5, 10)])).await;
    server
        .items("alpha", "feed", &[("secret1", json!({"category": "a"})), ("secret2", json!({"category": "a"}))])
        .await;
    server
        .events("alpha", vec![event("click", "u1", "secret1", "feed"), event("impression", "u1", "secret2", "feed")])
        .await;
    server.settle().await;
    server.clock.advance_ms(11_000);
    server.eventually("alpha", "/api/v1/scenarios/feed/users/u1/profile", |status, _| status == StatusCode::OK).await;

    // Reading.
    for path in [
        "/api/v1/scenarios/feed",
        "/api/v1/scenarios/feed/items",
        "/api/v1/scenarios/feed/items/secret1",
        "/api/v1/scenarios/feed/hot",
        "/api/v1/scenarios/feed/metrics/realtime",
        "/api/v1/scenarios/feed/users/u1/profile",
    ] {
        let (status, body) = server.get("beta", path).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{path}: {body}");
        assert_eq!(body.as_object().unwrap().len(), 2, "{path}: only code and message, no data: {body}");
    }
    let (_, list) = server.get("beta", "/api/v1/scenarios").await;
    assert_eq!(list["scenarios"], json!([]));
    let (_, stats) = server.get("beta", "/api/v1/behaviors/stats").await;
    assert_eq!(stats, json!({"events": 0, "warehouse_events": 0, "dead_letters": 0}));
    let (status, _) = server.recommend("beta", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.post("beta", "/api/v1/behaviors", event("click", "u1", "secret1", "feed")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no events into another tenant's scenario");
    let (status, _) = server.post("beta", "/api/v1/scenarios/feed/jobs/cf", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Changing.
    let (status, _) = server
        .call(
            Method::PUT,
            "beta",
            "/api/v1/scenarios/feed",
            Some(json!({"scenario_type": "vlog", "config": config(&[("latest", 1.0, 1)])})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        server.call(Method::PATCH, "beta", "/api/v1/scenarios/feed", Some(json!({"status": "inactive"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .call(Method::PATCH, "beta", "/api/v1/scenarios/feed/items/secret1", Some(json!({"status": "inactive"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.call(Method::DELETE, "beta", "/api/v1/scenarios/feed/items/secret1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.call(Method::DELETE, "beta", "/api/v1/scenarios/feed", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The same ids in tenant beta are beta's own, and answers never mix.
    server.scenario("beta", "feed", config(&[("hot_items", 0.5, 10), ("latest", 0.5, 10)])).await;
    server.items("beta", "feed", &[("mine", json!({"category": "b"}))]).await;
    let (_, answer) = server.recommend("beta", "u1", json!({"scenario_id": "feed", "count": 10})).await;
    assert_eq!(ids(&answer), ["mine"]);
    let (_, hot) = server.get("beta", "/api/v1/scenarios/feed/hot").await;
    assert_eq!(hot["items"], json!([]));
    let (status, _) = server.get("beta", "/api/v1/scenarios/feed/users/u1/profile").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "alpha's u1 is not beta's u1");
    server.call(Method::DELETE, "beta", "/api/v1/scenarios/feed", None).await;

    // Alpha's data is untouched by all of it.
    let (status, scenario) = server.get("alpha", "/api/v1/scenarios/feed").await;
    assert_eq!(
        (status, scenario["version"].as_u64(), scenario["status"].as_str()),
        (StatusCode::OK, Some(1), Some("active"))
    );
    let (_, items) = server.get("alpha", "/api/v1/scenarios/feed/items").await;
    assert_eq!(items["items"].as_array().unwrap().len(), 2);
    let (_, stats) = server.get("alpha", "/api/v1/behaviors/stats").await;
    assert_eq!(stats["events"], 2);
    server.eventually("alpha", "/api/v1/scenarios/feed/users/u1/profile", |status, _| status == StatusCode::OK).await;
    let (_, answer) = server.recommend("alpha", "u1", json!({"scenario_id": "feed", "count": 10})).await;
    assert_eq!(ids(&answer), ["secret1"], "secret2 was shown to u1 already");
}

#[tokio::test]
async fn a_tenant_at_its_job_cap_is_refused_and_another_tenant_is_not() {
    let mut settings = polyrec_server::ServerConfig::default();
    settings.limits.max_unfinished_jobs_per_tenant = 2;
    let server = TestServer::start_with(settings).await;
    for tenant in ["greedy", "other"] {
        server.scenario(tenant, "feed", config(&[("ease", 1.0, 10)])).await;
    }
    // Two jobs of `greedy` running (their worker beating: nobody else claims them).
    let greedy = polyrec_core::TenantId::parse("greedy").unwrap();
    for id in ["first", "second"] {
        let job = crate::support::running_job(id, "feed", server.app.now_ms(), 1);
        server.app.stores().documents.put_job(&greedy, &job).await.unwrap();
    }
    let url = format!("{}/api/v1/scenarios/feed/jobs/train", server.url);
    let refused =
        reqwest::Client::new().post(&url).header("X-Tenant-Id", "greedy").json(&json!({})).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers().get("retry-after").unwrap(), "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "too_many_jobs", "{body}");
    assert!(body["message"].as_str().unwrap().contains("at most 2"), "{body}");
    // The queue stays open to everyone else.
    let (status, job) = server.post("other", "/api/v1/scenarios/feed/jobs/train", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
}

#[tokio::test]
async fn a_tenants_queue_of_jobs_takes_one_training_slot_and_another_tenants_job_runs_at_once() {
    let server = TestServer::start().await;
    for tenant in ["greedy", "other"] {
        server.scenario(tenant, "feed", config(&[("ease", 1.0, 10)])).await;
    }
    let greedy = polyrec_core::TenantId::parse("greedy").unwrap();
    let documents = &server.app.stores().documents;
    let now = server.app.now_ms();
    // `greedy` has a job running in another process (its worker beating) and three queued, all
    // older than `other`'s: oldest first, the queue would run greedy's three before it.
    let mut running = crate::support::running_job("running", "feed", now - 10, 1);
    documents.put_job(&greedy, &running).await.unwrap();
    let queued: Vec<String> = (0..3).map(|n| format!("queued{n}")).collect();
    for (n, id) in queued.iter().enumerate() {
        let mut job = crate::support::running_job(id, "feed", now - 5 + n as i64, 0);
        (job.state, job.started_ms, job.worker, job.revision, job.stage) =
            (polyrec_core::JobState::Queued, None, None, 0, "queued".into());
        documents.put_job(&greedy, &job).await.unwrap();
    }
    let (status, job) = server.post("other", "/api/v1/scenarios/feed/jobs/train", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    crate::models::finished(&server, "other", job["job_id"].as_str().unwrap()).await;
    for id in &queued {
        let (_, job) = server.get("greedy", &format!("/api/v1/jobs/{id}")).await;
        assert_eq!(job["state"], "queued", "greedy's second job ran while its first did: {job}");
    }
    // Once its running job ends, greedy's queue moves on.
    (running.state, running.finished_ms) = (polyrec_core::JobState::Succeeded, Some(now));
    documents.put_job(&greedy, &running).await.unwrap();
    for id in &queued {
        crate::models::finished(&server, "greedy", id).await;
    }
}

#[tokio::test]
async fn job_requests_at_once_stop_at_the_tenants_cap() {
    let mut settings = polyrec_server::ServerConfig::default();
    settings.limits.max_unfinished_jobs_per_tenant = 3;
    let server = TestServer::start_with(settings).await;
    server.scenario("greedy", "feed", config(&[("ease", 1.0, 10)])).await;
    // One job running in another process (beating): with one running job per tenant, the
    // tenant's queued jobs stay queued, unfinished, while the requests race.
    let greedy = polyrec_core::TenantId::parse("greedy").unwrap();
    let running = crate::support::running_job("running", "feed", server.app.now_ms(), 1);
    server.app.stores().documents.put_job(&greedy, &running).await.unwrap();
    let requests = (0..10).map(|_| server.post("greedy", "/api/v1/scenarios/feed/jobs/train", json!({})));
    let answers = futures::future::join_all(requests).await;
    let accepted = answers.iter().filter(|(status, _)| *status == StatusCode::ACCEPTED).count();
    for (status, body) in &answers {
        assert!(*status == StatusCode::ACCEPTED || body["code"] == "too_many_jobs", "{status} {body}");
    }
    assert_eq!(accepted, 2, "the running job and two more make the cap of 3");
    let (_, jobs) = server.get("greedy", "/api/v1/scenarios/feed/jobs").await;
    let unfinished =
        jobs["jobs"].as_array().unwrap().iter().filter(|j| j["state"] == "queued" || j["state"] == "running");
    assert_eq!(unfinished.count(), 3, "{jobs}");
}
