//! A/B experiments: validation with JSON paths, one running experiment per scenario, stable
//! assignment, each group served its own config, events stamped with experiment and group, and
//! tenant isolation.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, event, ids};

/// Items i0..i9 in category c0 and j0..j9 in c1; the scenario recalls the latest of c0.
async fn setup() -> TestServer {
    let server = TestServer::start().await;
    let config = json!({
        "recall": {"strategies": [{"name": "latest", "weight": 1.0, "limit": 10, "params": {"category": "c0"}}]},
        "rank": {"model": "weighted"},
    });
    server.scenario("t1", "feed", config).await;
    let items: Vec<(String, Value)> = (0..10)
        .flat_map(|i| [(format!("i{i}"), json!({"category": "c0"})), (format!("j{i}"), json!({"category": "c1"}))])
        .collect();
    let refs: Vec<(&str, Value)> = items.iter().map(|(id, m)| (id.as_str(), m.clone())).collect();
    server.items("t1", "feed", &refs).await;
    server
}

/// Control keeps the config; treatment recalls category c1 instead.
fn body(id: &str, control: f64, treatment: f64) -> Value {
    json!({
        "experiment_id": id,
        "name": "latest of c1 against c0",
        "groups": [
            {"group_id": "control", "traffic_ratio": control, "config": {}},
            {"group_id": "treatment", "traffic_ratio": treatment, "config": {"recall": {"strategies": [
                {"name": "latest", "weight": 1.0, "limit": 10, "params": {"category": "c1"}}]}}},
        ],
    })
}

fn paths(error: &Value) -> Vec<String> {
    error["errors"]
        .as_array()
        .map_or(Vec::new(), |e| e.iter().map(|e| e["path"].as_str().unwrap().to_owned()).collect())
}

#[tokio::test]
async fn bad_experiments_are_refused_with_the_path_of_every_problem() {
    let server = setup().await;
    let path = "/api/v1/scenarios/feed/experiments";
    let mut bad = body("e1", 0.7, 0.6);
    bad["groups"][1]["group_id"] = json!("control");
    bad["groups"][1]["config"] = json!({"recall": {"strategies": [{"name": "magic", "weight": 1.0, "limit": 10}]}});
    bad["start_time"] = json!("2026-02-01T00:00:00Z");
    bad["end_time"] = json!("2026-01-01T00:00:00Z");
    let (status, error) = server.post("t1", path, bad).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_experiment")),
        "{error}"
    );
    assert_eq!(
        paths(&error),
        ["groups[1].group_id", "groups[1].config.recall.strategies[0].name", "groups", "end_time"],
        "{error}"
    );
    for (body, code) in [
        (json!({"experiment_id": "a b", "groups": [{"group_id": "g", "traffic_ratio": 1.0}]}), "invalid_experiment_id"),
        (json!({"experiment_id": "e", "groups": []}), "invalid_groups"),
        (json!({"experiment_id": "e", "groups": [{"group_id": "g", "traffic_ratio": 0.0}]}), "invalid_experiment"),
        (
            json!({"experiment_id": "e", "groups": [{"group_id": "g", "traffic_ratio": 1}], "start_time": "soon"}),
            "invalid_time",
        ),
    ] {
        let (status, error) = server.post("t1", path, body).await;
        assert_eq!((status, error["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{error}");
    }
    let (status, _) = server.post("t1", "/api/v1/scenarios/nope/experiments", body("e1", 0.5, 0.5)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, created) = server.post("t1", path, body("e1", 0.5, 0.4)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "draft");
    assert!((created["holdout_ratio"].as_f64().unwrap() - 0.1).abs() < 1e-9, "{created}");
    let (status, error) = server.post("t1", path, body("e1", 0.5, 0.5)).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::CONFLICT, Some("experiment_exists")));
    // Another tenant sees nothing of it.
    server
        .scenario(
            "t2",
            "feed",
            json!({"recall": {"strategies": [{"name": "latest", "weight": 1.0, "limit": 5}]},
        "rank": {"model": "weighted"}}),
        )
        .await;
    let (status, _) = server.get("t2", "/api/v1/scenarios/feed/experiments/e1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.post("t2", "/api/v1/scenarios/feed/experiments/e1/start", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = server.get("t2", "/api/v1/scenarios/feed/experiments").await;
    assert_eq!(list["experiments"], json!([]));
}

#[tokio::test]
async fn a_scenario_holds_at_most_100_experiments() {
    let server = setup().await;
    let path = "/api/v1/scenarios/feed/experiments";
    for i in 0..100 {
        let (status, created) = server.post("t1", path, body(&format!("e{i}"), 0.5, 0.5)).await;
        assert_eq!(status, StatusCode::CREATED, "experiment {i}: {created}");
    }
    let (status, error) = server.post("t1", path, body("e100", 0.5, 0.5)).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::FORBIDDEN, Some("quota_exceeded")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("100"), "{error}");
    // Another scenario has its own hundred.
    server
        .scenario("t1", "other", json!({"recall": {"strategies": [{"name": "latest", "weight": 1.0, "limit": 5}]}, "rank": {"model": "weighted"}}))
        .await;
    let (status, _) = server.post("t1", "/api/v1/scenarios/other/experiments", body("e100", 0.5, 0.5)).await;
    assert_eq!(status, StatusCode::CREATED);
    // Deleting one makes room.
    let (status, _) = server.call(Method::DELETE, "t1", &format!("{path}/e7"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, created) = server.post("t1", path, body("e100", 0.5, 0.5)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

#[tokio::test]
async fn a_running_experiment_serves_each_group_its_config_and_stamps_its_events() {
    let server = setup().await;
    let base = "/api/v1/scenarios/feed/experiments";
    let (status, created) = server.post("t1", base, body("e1", 0.5, 0.5)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, before) = server.recommend("t1", "u0", json!({"scenario_id": "feed", "count": 3})).await;
    assert!(before.get("experiment_id").is_none(), "a draft assigns nobody: {before}");

    let (status, started) = server.post("t1", &format!("{base}/e1/start"), json!({})).await;
    assert_eq!((status, started["status"].as_str()), (StatusCode::OK, Some("running")), "{started}");
    let (status, error) = server.post("t1", base, body("e2", 0.5, 0.5)).await;
    assert_eq!(status, StatusCode::CREATED, "{error}");
    let (status, error) = server.post("t1", &format!("{base}/e2/start"), json!({})).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::CONFLICT, Some("experiment_already_running")));
    let (status, error) = server
        .call(
            Method::PUT,
            "t1",
            &format!("{base}/e1"),
            Some(json!({"groups": [{"group_id": "a", "traffic_ratio": 1.0}]})),
        )
        .await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::CONFLICT, Some("experiment_running")));

    let mut seen = std::collections::HashMap::new();
    for u in 0..40 {
        let user = format!("u{u}");
        let (status, answer) = server.recommend("t1", &user, json!({"scenario_id": "feed", "count": 3})).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["experiment_id"], "e1", "{answer}");
        let group = answer["group_id"].as_str().unwrap().to_owned();
        let prefix = if group == "treatment" { 'j' } else { 'i' };
        assert!(ids(&answer).iter().all(|id| id.starts_with(prefix)), "{group} is served its config: {answer}");
        let (_, again) = server.recommend("t1", &user, json!({"scenario_id": "feed", "count": 3})).await;
        assert_eq!(again["group_id"], group.as_str(), "{user} stays in their group");
        seen.insert(user, group);
    }
    let treated = seen.values().filter(|g| *g == "treatment").count();
    assert!((8..=32).contains(&treated), "both groups get users: {treated} of 40 treated");

    // Events of assigned users carry the experiment and their group.
    let (treated_user, control_user) = (
        seen.iter().find(|(_, g)| *g == "treatment").unwrap().0.clone(),
        seen.iter().find(|(_, g)| *g == "control").unwrap().0.clone(),
    );
    server
        .events(
            "t1",
            vec![event("click", &treated_user, "j1", "feed"), event("impression", &control_user, "i1", "feed")],
        )
        .await;
    server.settle().await;
    let (_, metrics) = server.get("t1", "/api/v1/scenarios/feed/metrics/realtime").await;
    assert_eq!(metrics["counters"]["exp:e1:treatment:clicks"], 1.0, "{metrics}");
    assert_eq!(metrics["counters"]["exp:e1:control:impressions"], 1.0, "{metrics}");

    // The group is the server's: an event claiming its user is in another group of e1, or in
    // the draft e2, is counted in the group its user is in, or in none.
    let claiming = |user: &str, kind: &str, experiment: &str, group: &str| {
        let mut claimed = event(kind, user, "i1", "feed");
        claimed["context"] = json!({"experiment_id": experiment, "group": group});
        claimed
    };
    server
        .events(
            "t1",
            vec![
                claiming(&control_user, "click", "e1", "treatment"),
                claiming(&control_user, "click", "e2", "treatment"),
                // Not an experiment of the scenario: the tenant's own label, kept.
                claiming(&control_user, "click", "theirs", "b"),
            ],
        )
        .await;
    server.settle().await;
    let (_, metrics) = server.get("t1", "/api/v1/scenarios/feed/metrics/realtime").await;
    let counters = &metrics["counters"];
    assert_eq!(counters["exp:e1:treatment:clicks"], 1.0, "no click claimed into treatment: {metrics}");
    assert_eq!(counters["exp:e1:control:clicks"], 1.0, "the user's own group: {metrics}");
    assert!(counters.get("exp:e2:treatment:clicks").is_none(), "a draft has no groups: {metrics}");
    assert_eq!(counters["exp:theirs:b:clicks"], 1.0, "{metrics}");

    let (status, stopped) = server.post("t1", &format!("{base}/e1/stop"), json!({})).await;
    assert_eq!((status, stopped["status"].as_str()), (StatusCode::OK, Some("stopped")), "{stopped}");
    // A late event of the stopped experiment still gets its user's group, not the one claimed.
    server.events("t1", vec![claiming(&treated_user, "impression", "e1", "control")]).await;
    server.settle().await;
    let (_, metrics) = server.get("t1", "/api/v1/scenarios/feed/metrics/realtime").await;
    assert_eq!(metrics["counters"]["exp:e1:treatment:impressions"], 1.0, "{metrics}");
    assert_eq!(metrics["counters"]["exp:e1:control:impressions"], 1.0, "{metrics}");
    let (_, after) = server.recommend("t1", &treated_user, json!({"scenario_id": "feed", "count": 3})).await;
    assert!(after.get("group_id").is_none(), "stopped: {after}");
    assert!(ids(&after).iter().all(|id| id.starts_with('i')), "the scenario's own config again: {after}");
    let (status, _) = server.call(Method::DELETE, "t1", &format!("{base}/e1"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_experiment_assigns_only_between_its_start_and_end_times() {
    let server = setup().await;
    let base = "/api/v1/scenarios/feed/experiments";
    let now = crate::support::START_MS / 1000;
    let mut timed = body("e1", 1.0, 0.0);
    timed["groups"] = json!([{"group_id": "all", "traffic_ratio": 1.0, "config": {}}]);
    timed["start_time"] = json!(now + 60);
    timed["end_time"] = json!(now + 120);
    let (status, created) = server.post("t1", base, timed).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _) = server.post("t1", &format!("{base}/e1/start"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let group = |answer: &Value| answer.get("group_id").and_then(Value::as_str).map(str::to_owned);
    let (_, early) = server.recommend("t1", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(group(&early), None, "not started yet: {early}");
    server.clock.advance_ms(61_000);
    let (_, during) = server.recommend("t1", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(group(&during).as_deref(), Some("all"), "{during}");
    server.clock.advance_ms(60_000);
    let (_, late) = server.recommend("t1", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(group(&late), None, "ended: {late}");
    // An ended experiment cannot be started again without a later end.
    let (status, _) = server.post("t1", &format!("{base}/e1/stop"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = server.post("t1", &format!("{base}/e1/start"), json!({})).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::CONFLICT, Some("experiment_ended")), "{error}");
}

#[tokio::test]
async fn a_treatment_that_really_is_better_shows_a_significant_lift_and_no_sample_ratio_mismatch() {
    let server = setup().await;
    let base = "/api/v1/scenarios/feed/experiments";
    let (status, _) = server.post("t1", base, body("e1", 0.5, 0.5)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = server.post("t1", &format!("{base}/e1/start"), json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // Simulated users like the c1 items: they click 30 % of what they are shown from c1 and 10 %
    // of c0. Each of 300 users asks once and sees 5 items.
    let mut rng = StdRng::seed_from_u64(42);
    let mut events = Vec::new();
    for u in 0..300 {
        let user = format!("sim{u}");
        let (_, answer) = server.recommend("t1", &user, json!({"scenario_id": "feed", "count": 5})).await;
        for item in ids(&answer) {
            events.push(event("impression", &user, &item, "feed"));
            let p = if item.starts_with('j') { 0.3 } else { 0.1 };
            if rng.random::<f64>() < p {
                events.push(event("click", &user, &item, "feed"));
            }
        }
    }
    for chunk in events.chunks(1_000) {
        server.events("t1", chunk.to_vec()).await;
    }
    server.settle().await;
    let (status, results) = server.get("t1", &format!("{base}/e1/results")).await;
    assert_eq!(status, StatusCode::OK, "{results}");
    assert_eq!(results["control"], "control", "{results}");
    let groups = results["groups"].as_array().unwrap();
    let impressions: u64 = groups.iter().map(|g| g["impressions"].as_u64().unwrap()).sum();
    assert_eq!(impressions, 1_500, "every impression is counted in its group: {results}");
    let users: u64 = groups.iter().map(|g| g["users"].as_u64().unwrap()).sum();
    assert_eq!(users, 300, "{results}");
    let ctr = &results["comparisons"][0]["ctr"];
    assert_eq!(results["comparisons"][0]["group_id"], "treatment");
    assert!(ctr["absolute_lift"].as_f64().unwrap() > 0.1, "{ctr}");
    assert!(ctr["p_value"].as_f64().unwrap() < 0.001 && ctr["significant"] == true, "{ctr}");
    let ci = ctr["absolute_ci"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() > 0.0, "the interval excludes no lift: {ctr}");
    assert_eq!(results["sample_ratio"]["mismatch"], false, "{results}");

    for (query, code) in [
        ("?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "invalid_time_range"),
        ("?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "invalid_time_range"),
        ("?from=yesterday", "invalid_time"),
    ] {
        let (status, error) = server.get("t1", &format!("{base}/e1/results{query}")).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{query}: {error}"
        );
    }
    let (status, _) = server.get("t2", &format!("{base}/e1/results")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's experiment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_experiments_started_at_once_one_runs() {
    let server = setup().await;
    let base = "/api/v1/scenarios/feed/experiments";
    let ids: Vec<String> = (0..8).map(|n| format!("e{n}")).collect();
    for id in &ids {
        let (status, created) = server.post("t1", base, body(id, 0.5, 0.5)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    // Eight starts at once, on four threads: without one step per tenant, several found none
    // running (1 to 3 of 8 started in three runs).
    let paths: Vec<String> = ids.iter().map(|id| format!("{base}/{id}/start")).collect();
    let starts = paths.iter().map(|path| server.post("t1", path, json!({})));
    let answers = futures::future::join_all(starts).await;
    let started = answers.iter().filter(|(status, _)| *status == StatusCode::OK).count();
    for (status, answer) in &answers {
        assert!(*status == StatusCode::OK || answer["code"] == "experiment_already_running", "{status} {answer}");
    }
    let (_, list) = server.get("t1", base).await;
    let running = list["experiments"].as_array().unwrap().iter().filter(|e| e["status"] == "running").count();
    assert_eq!((started, running), (1, 1), "{list}");
}
