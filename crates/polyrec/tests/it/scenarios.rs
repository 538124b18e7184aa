use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, config};

const VLOG: &str = include_str!("../../../../examples/scenarios/vlog_main_feed.heuristic.json");
const NEWS: &str = include_str!("../../../../examples/scenarios/news_main_feed.heuristic.json");

#[tokio::test]
async fn crud_round_trip_with_versions() {
    let server = TestServer::start().await;
    let (status, created) = server
        .post("t1", "/api/v1/scenarios", json!({"scenario_id": "feed", "scenario_type": "news", "name": "Feed", "config": config(&[("latest", 1.0, 50)])}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["version"], 1);
    assert_eq!(created["status"], "active");

    let (status, again) = server
        .post(
            "t1",
            "/api/v1/scenarios",
            json!({"scenario_id": "feed", "scenario_type": "news", "config": config(&[("latest", 1.0, 50)])}),
        )
        .await;
    assert_eq!((status, again["code"].as_str()), (StatusCode::CONFLICT, Some("scenario_exists")));

    let (status, got) = server.get("t1", "/api/v1/scenarios/feed").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["config"]["recall"]["strategies"][0]["name"], "latest");

    let (status, replaced) = server
        .call(
            Method::PUT,
            "t1",
            "/api/v1/scenarios/feed",
            Some(json!({"scenario_type": "news", "config": config(&[("hot_items", 0.5, 20)])})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!((replaced["version"].as_u64(), replaced["name"].as_str()), (Some(2), Some("Feed")));

    let (status, patched) = server
        .call(
            Method::PATCH,
            "t1",
            "/api/v1/scenarios/feed",
            Some(json!({"name": "Renamed", "config": {"rerank": {"rules": [{"name": "diversity", "weight": 0.4}]}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["version"], 3);
    assert_eq!(patched["name"], "Renamed");
    assert_eq!(
        patched["config"]["recall"]["strategies"][0]["name"], "hot_items",
        "a patch keeps what it does not name"
    );
    assert_eq!(patched["config"]["rerank"]["rules"][0]["name"], "diversity");

    let (status, deactivated) =
        server.call(Method::PATCH, "t1", "/api/v1/scenarios/feed", Some(json!({"status": "inactive"}))).await;
    assert_eq!((status, deactivated["status"].as_str()), (StatusCode::OK, Some("inactive")));

    let (_, list) = server.get("t1", "/api/v1/scenarios").await;
    assert_eq!(list["scenarios"].as_array().unwrap().len(), 1);

    let (status, _) = server.call(Method::DELETE, "t1", "/api/v1/scenarios/feed", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, missing) = server.get("t1", "/api/v1/scenarios/feed").await;
    assert_eq!((status, missing["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, _) = server.call(Method::DELETE, "t1", "/api/v1/scenarios/feed", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn paths(body: &Value) -> Vec<String> {
    body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn an_invalid_config_is_rejected_whole_with_every_path_and_nothing_is_saved() {
    let server = TestServer::start().await;
    let bad = json!({
        "features": {"item_features": [{"name": "duration", "type": "number", "weight": 1.0}]},
        "recall": {"strategies": [
            {"name": "hot_items", "weight": 0.5, "limit": 50},
            {"name": "item_cf", "weight": 2.0, "limit": 0},
            {"name": "telepathy", "weight": 0.1, "limit": 10},
            {"name": "latest", "weight": 0.1, "limit": 10, "params": {"max_age_days": "soon"}}
        ]},
        "rerank": {"rules": [{"name": "freshness", "weight": 0.2, "params": {"decay_days": 7, "decay_hours": 3}}]}
    });
    let (status, body) = server
        .post("t1", "/api/v1/scenarios", json!({"scenario_id": "bad", "scenario_type": "vlog", "config": bad}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "invalid_config");
    let paths = paths(&body);
    for expected in [
        "config.features.item_features[0].type",
        "config.recall.strategies[1].weight",
        "config.recall.strategies[1].limit",
        "config.rank",
    ] {
        assert!(paths.contains(&expected.to_owned()), "{expected} not in {paths:?}");
    }
    let (status, _) = server.get("t1", "/api/v1/scenarios/bad").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing saved");

    // With the shape right, strategy names and params are checked by building them.
    let (status, body) = server
        .post(
            "t1",
            "/api/v1/scenarios",
            json!({"scenario_id": "bad", "scenario_type": "vlog", "config": {
                "recall": {"strategies": [
                    {"name": "telepathy", "weight": 0.1, "limit": 10},
                    {"name": "latest", "weight": 0.1, "limit": 10, "params": {"max_age_days": "soon"}}
                ]},
                "rank": {"model": "weighted"},
                "rerank": {"rules": [{"name": "freshness", "weight": 0.2, "params": {"decay_days": 7, "decay_hours": 3}}]}
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = body["errors"].as_array().unwrap();
    let message_at = |path: &str| {
        errors.iter().find(|e| e["path"] == path).map(|e| e["message"].as_str().unwrap().to_owned()).unwrap_or_default()
    };
    assert!(
        message_at("config.recall.strategies[0].name")
            .contains("known: hot_items, hot_news, latest, location, item_cf, user_cf, content_based")
    );
    assert!(message_at("config.recall.strategies[1].params.max_age_days").contains("expected f64"));
    assert!(message_at("config.rerank.rules[0].params").contains("not both"));
}

#[tokio::test]
async fn the_heuristic_examples_save_and_so_does_location_with_a_learned_ranker() {
    let server = TestServer::start().await;
    let mut vlog: Value = serde_json::from_str(VLOG).unwrap();
    vlog["scenario_id"] = json!("vlog_local");
    vlog["config"]["recall"]["strategies"][1]["name"] = json!("location");
    vlog["config"]["rank"]["model"] = json!("deepfm");
    let (status, body) = server.post("t1", "/api/v1/scenarios", vlog).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for text in [VLOG, NEWS] {
        let (status, body) = server.post("t1", "/api/v1/scenarios", serde_json::from_str(text).unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

#[tokio::test]
async fn bad_scenario_bodies_get_clear_errors() {
    let server = TestServer::start().await;
    let cases = [
        (
            json!({"scenario_id": "a b", "scenario_type": "vlog", "config": config(&[("latest", 1.0, 5)])}),
            "invalid_scenario_id",
        ),
        (
            json!({"scenario_id": "a", "scenario_type": "Video Feed", "config": config(&[("latest", 1.0, 5)])}),
            "invalid_scenario_type",
        ),
        (
            json!({"scenario_id": "a", "scenario_type": "vlog", "config": config(&[("latest", 1.0, 5)]), "colour": 1}),
            "invalid_body",
        ),
        (json!({"scenario_id": "a", "scenario_type": "vlog"}), "invalid_body"),
    ];
    for (body, code) in cases {
        let (status, answer) = server.post("t1", "/api/v1/scenarios", body).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{answer}");
    }
    server.scenario("t1", "a", config(&[("latest", 1.0, 5)])).await;
    let (status, answer) = server
        .call(
            Method::PUT,
            "t1",
            "/api/v1/scenarios/a",
            Some(json!({"scenario_id": "b", "scenario_type": "vlog", "config": config(&[("latest", 1.0, 5)])})),
        )
        .await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("scenario_id_mismatch")));
    let (status, answer) = server
        .call(Method::PATCH, "t1", "/api/v1/scenarios/a", Some(json!({"config": {"recall": {"strategies": []}}})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (_, still) = server.get("t1", "/api/v1/scenarios/a").await;
    assert_eq!(still["version"], 1, "a rejected patch changes nothing");
    // Every version is kept, so what one holds is bounded: a name, and the config as JSON.
    let (status, answer) =
        server.call(Method::PATCH, "t1", "/api/v1/scenarios/a", Some(json!({"name": "n".repeat(257)}))).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")), "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("at most 256"), "{answer}");
    let blocklist: Vec<String> = (0..1_000).map(|i| format!("{i:0>300}")).collect();
    let rule = json!({"action": "filter", "field": "item", "op": "in", "value": blocklist});
    let mut big = config(&[("latest", 1.0, 5)]);
    big["rerank"] = json!({"rules": [{"name": "business_rules", "params": {"rules": [rule]}}]});
    let (status, answer) = server.call(Method::PATCH, "t1", "/api/v1/scenarios/a", Some(json!({"config": big}))).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_config")),
        "{answer}"
    );
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("at most 262144"), "{answer}");
    let (_, still) = server.get("t1", "/api/v1/scenarios/a").await;
    assert_eq!(still["version"], 1);
}

#[tokio::test]
async fn a_scenario_created_again_after_a_delete_starts_clean() {
    let server = TestServer::start().await;
    for tenant in ["t1", "t2"] {
        server.scenario(tenant, "feed", config(&[("hot_items", 1.0, 10)])).await;
        server.items(tenant, "feed", &[("a", json!({})), ("b", json!({}))]).await;
        server
            .events(
                tenant,
                vec![
                    crate::support::event("click", "u1", "a", "feed"),
                    crate::support::event("impression", "u1", "b", "feed"),
                ],
            )
            .await;
    }
    server.settle().await;
    let (status, _) = server.call(Method::DELETE, "t1", "/api/v1/scenarios/feed", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    server.scenario("t1", "feed", config(&[("hot_items", 1.0, 10)])).await;
    let (_, hot) = server.get("t1", "/api/v1/scenarios/feed/hot").await;
    assert_eq!(hot["items"], json!([]), "no hot set from before");
    let (_, metrics) = server.get("t1", "/api/v1/scenarios/feed/metrics/realtime").await;
    assert_eq!(metrics["counters"], json!({}));
    let (_, stats) = server.get("t1", "/api/v1/behaviors/stats").await;
    assert_eq!(stats["warehouse_events"], 0, "{stats}");
    let (_, items) = server.get("t1", "/api/v1/scenarios/feed/items").await;
    assert_eq!(items["items"], json!([]));

    // The jobs' in-memory windows do not carry the old scenario's events into the new one.
    server.items("t1", "feed", &[("c", json!({}))]).await;
    server.events("t1", vec![crate::support::event("click", "u2", "c", "feed")]).await;
    server.settle().await;
    let (_, hot) = server.get("t1", "/api/v1/scenarios/feed/hot").await;
    let hot_ids: Vec<&str> = hot["items"].as_array().unwrap().iter().map(|i| i["item_id"].as_str().unwrap()).collect();
    assert_eq!(hot_ids, ["c"], "the old incarnation's click on a is gone");
    server.clock.advance_ms(11_000);
    server.eventually("t1", "/api/v1/scenarios/feed/users/u2/profile", |status, _| status == StatusCode::OK).await;
    let (status, _) = server.get("t1", "/api/v1/scenarios/feed/users/u1/profile").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "u1's old-incarnation window folded nowhere");

    // The other tenant's scenario of the same id keeps everything.
    let (_, hot) = server.get("t2", "/api/v1/scenarios/feed/hot").await;
    assert_eq!(hot["items"][0]["item_id"], "a");
    let (_, answer) = server.recommend("t2", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(crate::support::ids(&answer), ["a"], "t2's u1 still has b exposed");
}

#[tokio::test]
async fn the_newest_versions_are_kept_and_an_old_one_can_be_put_back() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("latest", 1.0, 10)])).await;
    let body = json!({"scenario_type": "vlog", "config": config(&[("latest", 1.0, 20)])});
    let (status, changed) = server.call(Method::PUT, "t1", "/api/v1/scenarios/feed", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (status, history) = server.get("t1", "/api/v1/scenarios/feed/versions").await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let versions: Vec<(u64, u64)> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_u64().unwrap(), v["config"]["recall"]["strategies"][0]["limit"].as_u64().unwrap()))
        .collect();
    assert_eq!(versions, [(2, 20), (1, 10)], "newest first, each with its config");
    // A revert is the old config sent again: it becomes version 3.
    let old = history["versions"][1]["config"].clone();
    let (status, reverted) = server
        .call(Method::PUT, "t1", "/api/v1/scenarios/feed", Some(json!({"scenario_type": "vlog", "config": old})))
        .await;
    assert_eq!(status, StatusCode::OK, "{reverted}");
    assert_eq!(
        (reverted["version"].as_u64(), &reverted["config"]["recall"]["strategies"][0]["limit"]),
        (Some(3), &json!(10))
    );
    let (status, _) = server.get("t2", "/api/v1/scenarios/feed/versions").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's history is not found");
    // The newest 100 versions are kept and answered.
    for limit in 4..=105 {
        let patch = json!({"config": {"recall": {"strategies": [{"name": "latest", "weight": 1.0, "limit": limit}]}}});
        let (status, answer) = server.call(Method::PATCH, "t1", "/api/v1/scenarios/feed", Some(patch)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (_, history) = server.get("t1", "/api/v1/scenarios/feed/versions").await;
    let versions: Vec<u64> =
        history["versions"].as_array().unwrap().iter().map(|v| v["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, (6..=105).rev().collect::<Vec<u64>>());
}
