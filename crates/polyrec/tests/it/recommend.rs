use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, config, event, ids};

async fn catalog(server: &TestServer, tenant: &str, scenario: &str, n: usize) {
    let items: Vec<(String, Value)> = (0..n)
        .map(|i| {
            (format!("i{i}"), json!({"category": format!("c{}", i % 3), "publish_time": 1_768_400_000 + i as i64 * 60}))
        })
        .collect();
    let refs: Vec<(&str, Value)> = items.iter().map(|(id, m)| (id.as_str(), m.clone())).collect();
    server.items(tenant, scenario, &refs).await;
}

#[tokio::test]
async fn a_new_user_and_an_empty_scenario_still_get_an_answer() {
    let server = TestServer::start().await;
    server.scenario("t1", "empty", config(&[("item_cf", 1.0, 10)])).await;
    let (status, answer) = server.recommend("t1", "newcomer", json!({"scenario_id": "empty", "count": 5})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["items"], json!([]));

    server.scenario("t1", "feed", config(&[("item_cf", 0.5, 10), ("user_cf", 0.5, 10)])).await;
    catalog(&server, "t1", "feed", 8).await;
    let (status, answer) = server.recommend("t1", "newcomer", json!({"scenario_id": "feed", "count": 5})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&answer).len(), 5, "cold start falls back to the newest items");
    assert_eq!(answer["fallback"], true);
    assert_eq!(ids(&answer)[0], "i7", "newest first");
}

#[tokio::test]
async fn the_answer_has_the_request_id_and_explains_itself() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("latest", 1.0, 10)])).await;
    catalog(&server, "t1", "feed", 6).await;
    let response = server
        .client
        .post(format!("{}/api/v1/recommend", server.url))
        .header("X-Tenant-Id", "t1")
        .header("X-User-Id", "u1")
        .header("X-Request-Id", "req_001")
        .header("Authorization", "Bearer any-token")
        .json(&json!({"scenario_id": "feed", "count": 3, "explain": true, "context": {"device_type": "mobile"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "req_001");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["request_id"], "req_001");
    assert_eq!(answer["config_version"], 1);
    let first = &answer["items"][0];
    assert_eq!(first["channels"][0]["name"], "latest");
    let stages: Vec<&str> = first["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["recall", "rank:weighted"]);
    assert_eq!(answer["channels"][0]["status"], "ok");

    let (_, plain) = server.recommend("t1", "u1", json!({"scenario_id": "feed"})).await;
    assert!(plain["request_id"].as_str().unwrap().starts_with("req_"), "generated when absent");
    assert!(plain["items"][0].get("stages").is_none(), "no explain, no stages");
    assert_eq!(plain["items"].as_array().unwrap().len(), 6, "count defaults to 20, capped by the catalog");
}

#[tokio::test]
async fn bad_recommend_requests() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("latest", 1.0, 10)])).await;
    for (body, status, code) in [
        (json!({"scenario_id": "feed", "count": 0}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_count"),
        (json!({"scenario_id": "feed", "count": 501}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_count"),
        (json!({"scenario_id": "feed", "count": "ten"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (json!({"scenario_id": "feed", "colour": 1}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (json!({"scenario_id": "nowhere"}), StatusCode::NOT_FOUND, "not_found"),
        // The context is bounded as an event's.
        (
            json!({"scenario_id": "feed", "context": {"blob": "x".repeat(9_000)}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_context",
        ),
        (
            json!({"scenario_id": "feed", "context": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_context",
        ),
    ] {
        let (got, answer) = server.recommend("t1", "u1", body.clone()).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{body} -> {answer}");
    }
    let (_, answer) = server.recommend("t1", "u1", json!({"scenario_id": "nowhere"})).await;
    assert_eq!(answer["message"], "scenario \"nowhere\" not found", "the id as the client sent it");
    let response = server
        .client
        .post(format!("{}/api/v1/recommend", server.url))
        .header("X-Tenant-Id", "t1")
        .json(&json!({"scenario_id": "feed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "missing_user_id");
    let response = server
        .client
        .post(format!("{}/api/v1/recommend", server.url))
        .header("X-Tenant-Id", "t1")
        .header("X-User-Id", "u1")
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .json(&json!({"scenario_id": "feed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "invalid_authorization");

    server.call(Method::PATCH, "t1", "/api/v1/scenarios/feed", Some(json!({"status": "inactive"}))).await;
    let (status, answer) = server.recommend("t1", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::CONFLICT, Some("scenario_inactive")));
}

#[tokio::test]
async fn items_shown_in_the_last_day_are_not_shown_again() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("latest", 1.0, 50)])).await;
    catalog(&server, "t1", "feed", 10).await;
    let (_, first) = server.recommend("t1", "u1", json!({"scenario_id": "feed", "count": 3})).await;
    let shown = ids(&first);
    assert_eq!(shown, ["i9", "i8", "i7"]);
    let impressions = shown.iter().map(|item| {
        let mut e = event("impression", "u1", item, "feed");
        e["request_id"] = first["request_id"].clone();
        e
    });
    server.events("t1", impressions.collect()).await;
    server.settle().await;

    let (_, second) =
        server.recommend("t1", "u1", json!({"scenario_id": "feed", "count": 3, "exclude_item_ids": ["i6"]})).await;
    assert_eq!(ids(&second), ["i5", "i4", "i3"], "exposed and excluded items are left out");
    let (_, other_user) = server.recommend("t1", "u2", json!({"scenario_id": "feed", "count": 3})).await;
    assert_eq!(ids(&other_user), ["i9", "i8", "i7"], "exposure is per user");

    server.clock.advance_ms(24 * 3_600_000 + 1);
    let (_, next_day) = server.recommend("t1", "u1", json!({"scenario_id": "feed", "count": 3})).await;
    assert_eq!(ids(&next_day), ["i9", "i8", "i7"], "exposure expires after 24 h");
}

#[tokio::test]
async fn a_config_change_takes_effect_on_the_next_call() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("latest", 1.0, 50)])).await;
    catalog(&server, "t1", "feed", 9).await;
    let (_, before) = server.recommend("t1", "u1", json!({"scenario_id": "feed", "count": 3})).await;
    assert_eq!(
        (before["config_version"].as_u64(), ids(&before)),
        (Some(1), vec!["i8".to_owned(), "i7".into(), "i6".into()])
    );

    let rules = json!({"rerank": {"rules": [{"name": "business_rules", "params": {"rules": [
        {"action": "filter", "field": "category", "value": "c2"},
        {"action": "pin", "field": "category", "op": "eq", "value": "c0", "position": 0}
    ]}}]}});
    let (status, patched) =
        server.call(Method::PATCH, "t1", "/api/v1/scenarios/feed", Some(json!({"config": rules}))).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let (_, after) = server.recommend("t1", "u1", json!({"scenario_id": "feed", "count": 3})).await;
    assert_eq!(after["config_version"], 2);
    let after_ids = ids(&after);
    assert_eq!(after_ids[0], "i6", "the newest c0 item is pinned first: {after_ids:?}");
    assert!(after_ids.iter().all(|id| !["i8", "i5", "i2"].contains(&id.as_str())), "c2 filtered: {after_ids:?}");
}

#[tokio::test]
async fn collaborative_filtering_recommends_what_similar_users_took() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("item_cf", 0.6, 20), ("user_cf", 0.4, 20)])).await;
    catalog(&server, "t1", "feed", 12).await;
    // Users a, b, c take i1 with i2; d takes i1 only.
    let mut events = Vec::new();
    for user in ["a", "b", "c"] {
        events.push(event("click", user, "i1", "feed"));
        events.push(event("like", user, "i2", "feed"));
    }
    events.push(event("click", "x", "i10", "feed"));
    events.push(event("click", "x", "i11", "feed"));
    events.push(event("click", "d", "i1", "feed"));
    server.events("t1", events).await;
    let (status, report) = server.post("t1", "/api/v1/scenarios/feed/jobs/cf", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["users"].as_u64(), report["items"].as_u64()), (Some(5), Some(4)));
    server.settle().await;

    let (_, answer) = server.recommend("t1", "d", json!({"scenario_id": "feed", "count": 1, "explain": true})).await;
    assert_eq!(ids(&answer), ["i2"], "{answer}");
    let channels: Vec<&str> =
        answer["items"][0]["channels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(channels, ["item_cf", "user_cf"]);
}

#[tokio::test]
async fn learned_recall_models_train_on_demand_and_answer_through_their_channels() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("vector_search", 0.5, 20), ("ease", 0.5, 20)])).await;
    catalog(&server, "t1", "feed", 12).await;
    // Two tastes: users g0-* take i0..i4, users g1-* take i6..i10. Each user skips one item of
    // their group, which is what the models should offer them.
    let mut events = Vec::new();
    for g in 0..2 {
        for u in 0..6 {
            for i in 0..5 {
                if i != u % 5 || u == 5 {
                    events.push(event("click", &format!("g{g}-{u}"), &format!("i{}", g * 6 + i), "feed"));
                }
            }
        }
    }
    server.events("t1", events).await;
    let (_, before) = server.recommend("t1", "g0-1", json!({"scenario_id": "feed", "count": 1, "explain": true})).await;
    let untrained: Vec<&str> =
        before["items"][0]["channels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(untrained, ["fallback"], "nothing learned yet: {before}");

    let (status, report) = server.post("t1", "/api/v1/scenarios/feed/jobs/cf", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["models"], json!(["als", "ease"]), "{report}");
    server.settle().await;
    for g in 0..2 {
        let user = format!("g{g}-1");
        let (_, answer) =
            server.recommend("t1", &user, json!({"scenario_id": "feed", "count": 1, "explain": true})).await;
        assert_eq!(
            ids(&answer),
            [format!("i{}", g * 6 + 1)],
            "{user} gets the item of their group they skipped: {answer}"
        );
        let channels: Vec<&str> =
            answer["items"][0]["channels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(channels, ["vector_search", "ease"], "{answer}");
    }
}

#[tokio::test]
async fn trainings_of_one_scenario_that_overlap_both_succeed_and_leave_it_answering() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("vector_search", 1.0, 20)])).await;
    catalog(&server, "t1", "feed", 6).await;
    // a and b take i0–i3, c only i0 and i1: the vectors offer c the other two.
    let mut events: Vec<Value> = ["a", "b"]
        .iter()
        .flat_map(|user| ["i0", "i1", "i2", "i3"].map(|item| event("click", user, item, "feed")))
        .collect();
    events.extend(["i0", "i1"].map(|item| event("click", "c", item, "feed")));
    server.events("t1", events).await;
    // The test clock stands still, so both trainings start in the same millisecond.
    let path = "/api/v1/scenarios/feed/jobs/cf";
    let (first, second) = tokio::join!(server.post("t1", path, json!({})), server.post("t1", path, json!({})));
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    assert_eq!(second.0, StatusCode::OK, "{}", second.1);
    server.settle().await;
    let (status, answer) =
        server.recommend("t1", "c", json!({"scenario_id": "feed", "count": 1, "explain": true})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["degraded_channels"].as_array().is_none_or(|d| d.is_empty()), "{answer}");
    assert_eq!(answer["items"][0]["channels"][0]["name"], "vector_search", "the live collection answers: {answer}");
}

fn cached_config(ttl_seconds: u64) -> Value {
    let mut config = config(&[("latest", 1.0, 50)]);
    config["cache"] = json!({"enabled": true, "ttl_seconds": ttl_seconds});
    config
}

#[tokio::test]
async fn the_result_cache_serves_repeats_and_never_what_changed_since() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", cached_config(600)).await;
    let (_, scenario) = server.get("t1", "/api/v1/scenarios/feed").await;
    assert_eq!(scenario["config"]["cache"], json!({"enabled": true, "ttl_seconds": 600}), "{scenario}");
    catalog(&server, "t1", "feed", 12).await;
    server.settle().await;
    let ask = |count: u64| json!({"scenario_id": "feed", "count": count});
    let (_, first) = server.recommend("t1", "u1", ask(3)).await;
    assert_eq!((first["cached"].as_bool(), ids(&first)), (Some(false), vec!["i11".into(), "i10".into(), "i9".into()]));
    let (_, again) = server.recommend("t1", "u1", ask(3)).await;
    assert_eq!((again["cached"].as_bool(), ids(&again)), (Some(true), ids(&first)), "{again}");
    // More than was asked first is in the entry; exclusions are filtered from it.
    let (_, more) =
        server.recommend("t1", "u1", json!({"scenario_id": "feed", "count": 5, "exclude_item_ids": ["i10"]})).await;
    assert_eq!(more["cached"], true, "{more}");
    assert_eq!(ids(&more), ["i11", "i9", "i8", "i7", "i6"]);
    // Explain is always computed.
    let (_, explained) =
        server.recommend("t1", "u1", json!({"scenario_id": "feed", "count": 3, "explain": true})).await;
    assert_eq!(explained["cached"], false, "{explained}");

    // A deactivated item never comes from the cache.
    let (status, _) =
        server.call(Method::PATCH, "t1", "/api/v1/scenarios/feed/items/i11", Some(json!({"status": "inactive"}))).await;
    assert_eq!(status, StatusCode::OK);
    server.settle().await;
    let (_, after) = server.recommend("t1", "u1", ask(3)).await;
    assert_eq!((after["cached"].as_bool(), ids(&after)), (Some(true), vec!["i10".into(), "i9".into(), "i8".into()]));

    // An item shown to the user is filtered out of the cached answer.
    let mut shown = event("impression", "u1", "i10", "feed");
    shown["request_id"] = after["request_id"].clone();
    server.events("t1", vec![shown]).await;
    server.settle().await;
    let (_, filtered) = server.recommend("t1", "u1", ask(3)).await;
    assert_eq!(ids(&filtered), ["i9", "i8", "i7"], "{filtered}");

    // The user's click reaches their recent items: the next answer is computed afresh.
    server.events("t1", vec![event("click", "u1", "i9", "feed")]).await;
    server.settle().await;
    let (_, clicked) = server.recommend("t1", "u1", ask(3)).await;
    assert_eq!(clicked["cached"], false, "{clicked}");
    let (_, repeat) = server.recommend("t1", "u1", ask(3)).await;
    assert_eq!(repeat["cached"], true, "{repeat}");

    // Another tenant's user of the same id and scenario gets nothing of it.
    server.scenario("t2", "feed", cached_config(600)).await;
    catalog(&server, "t2", "feed", 2).await;
    server.settle().await;
    let (_, other) = server.recommend("t2", "u1", ask(3)).await;
    assert_eq!((other["cached"].as_bool(), ids(&other)), (Some(false), vec!["i1".into(), "i0".into()]), "{other}");

    // A config change is a new answer; so is the entry's end of life.
    let (status, _) = server
        .call(
            Method::PUT,
            "t1",
            "/api/v1/scenarios/feed",
            Some(json!({"scenario_type": "vlog", "config": cached_config(60)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, changed) = server.recommend("t1", "u1", ask(3)).await;
    assert_eq!(changed["cached"], false, "{changed}");
    assert_eq!(server.recommend("t1", "u1", ask(3)).await.1["cached"], true);
    // (Redis keeps its own time: the test clock moves the embedded store's only.)
    if !crate::support::production_backends() {
        server.clock.advance_ms(61_000);
        assert_eq!(server.recommend("t1", "u1", ask(3)).await.1["cached"], false, "the TTL ran out");
    }
}

#[tokio::test]
async fn without_the_cache_every_answer_is_computed_and_bad_cache_settings_are_refused() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("latest", 1.0, 50)])).await;
    catalog(&server, "t1", "feed", 4).await;
    for _ in 0..2 {
        let (_, answer) = server.recommend("t1", "u1", json!({"scenario_id": "feed", "count": 2})).await;
        assert_eq!(answer["cached"], false, "{answer}");
    }
    let (_, scenario) = server.get("t1", "/api/v1/scenarios/feed").await;
    assert!(scenario["config"].get("cache").is_none(), "the default is not written out: {scenario}");
    for (cache, path) in [
        (json!({"enabled": true, "ttl_seconds": 0}), "config.cache.ttl_seconds"),
        (json!({"enabled": true, "ttl_seconds": 86400}), "config.cache.ttl_seconds"),
        (json!({"enabled": "yes"}), "config.cache.enabled"),
        (json!({"enabled": true, "size": 3}), "config.cache"),
    ] {
        let mut bad = config(&[("latest", 1.0, 50)]);
        bad["cache"] = cache.clone();
        let (status, body) = server
            .post("t1", "/api/v1/scenarios", json!({"scenario_id": "bad", "scenario_type": "vlog", "config": bad}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{cache}: {body}");
        assert!(body.to_string().contains(path), "{cache}: {body}");
    }
}

#[tokio::test]
async fn a_precompute_job_fills_the_cache_for_the_users_active_lately() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", cached_config(600)).await;
    catalog(&server, "t1", "feed", 12).await;
    server.events("t1", vec![event("click", "u1", "i1", "feed"), event("click", "u2", "i2", "feed")]).await;
    server.settle().await;
    let (status, job) = server.post("t1", "/api/v1/scenarios/feed/jobs/precompute", json!({"active_days": 3})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!((job["kind"].as_str(), job["data"]["active_days"].as_u64()), (Some("precompute"), Some(3)), "{job}");
    let done = crate::models::finished(&server, "t1", job["job_id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!((done["data"]["users"].as_u64(), done["data"]["computed"].as_u64()), (Some(2), Some(2)), "{done}");
    // Their first request is a hit; a user with no interaction is computed.
    for user in ["u1", "u2"] {
        let (_, answer) = server.recommend("t1", user, json!({"scenario_id": "feed", "count": 5})).await;
        assert_eq!(answer["cached"], true, "{user}: {answer}");
    }
    let (_, stranger) = server.recommend("t1", "u3", json!({"scenario_id": "feed", "count": 5})).await;
    assert_eq!(stranger["cached"], false, "{stranger}");

    // Without the cache there is nothing to fill; bad input says what to fix.
    server.scenario("t1", "plain", config(&[("latest", 1.0, 50)])).await;
    let (status, body) = server.post("t1", "/api/v1/scenarios/plain/jobs/precompute", json!({})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("cache_disabled")), "{body}");
    let (status, body) = server.post("t1", "/api/v1/scenarios/feed/jobs/precompute", json!({"active_days": 0})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["message"].as_str().unwrap().contains("active_days"), "{body}");
    let (status, _) = server.post("t2", "/api/v1/scenarios/feed/jobs/precompute", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's scenario");
}

/// `location` over HTTP: the request's region and its coordinates each pick the items near it; a
/// point off the globe fails that channel with the reason in the answer's channel report, and
/// the other channels still answer.
#[tokio::test]
async fn location_recall_finds_items_by_region_and_by_distance() {
    let server = TestServer::start().await;
    let mut near = config(&[("location", 1.0, 10), ("latest", 0.5, 10)]);
    near["recall"]["strategies"][0]["params"] = json!({"radius_km": 100});
    server.scenario("t1", "near", near).await;
    server
        .items(
            "t1",
            "near",
            &[
                ("lyon_shop", json!({"location": "lyon"})),
                ("villeurbanne", json!({"lat": 45.7667, "lon": 4.8803})),
                ("grenoble", json!({"lat": 45.1885, "lon": 5.7245})),
                ("paris", json!({"location": "paris", "lat": 48.8566, "lon": 2.3522})),
            ],
        )
        .await;
    let located = |answer: &Value| -> Vec<String> {
        let mut found: Vec<String> = answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["channels"].as_array().unwrap().iter().any(|c| c["name"] == "location"))
            .map(|item| item["item_id"].as_str().unwrap().to_owned())
            .collect();
        found.sort();
        found
    };
    let ask = |context: Value| {
        let server = &server;
        async move {
            let body = json!({"scenario_id": "near", "count": 10, "explain": true, "context": context});
            let (status, answer) = server.recommend("t1", "u1", body).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            answer
        }
    };

    assert_eq!(located(&ask(json!({"location": "lyon"})).await), ["lyon_shop"]);
    let by_point = ask(json!({"lat": 45.764, "lon": 4.8357})).await;
    assert_eq!(located(&by_point), ["grenoble", "villeurbanne"], "Paris is 390 km away: {by_point}");
    assert_eq!(located(&ask(json!({"location": "paris", "lat": 45.764, "lon": 4.8357})).await).len(), 3);
    assert!(located(&ask(json!({"device_type": "mobile"})).await).is_empty(), "no place, nothing located");

    let off_globe = ask(json!({"lat": 123.0, "lon": 4.8})).await;
    let report = off_globe["channels"].as_array().unwrap().iter().find(|c| c["name"] == "location").unwrap();
    assert_eq!(report["status"], "failed", "{off_globe}");
    assert!(report["error"].as_str().unwrap().contains("within ±90"), "{report}");
    assert_eq!(ids(&off_globe).len(), 4, "latest answers alone: {off_globe}");

    // Strict params, like every strategy's.
    let mut bad = config(&[("location", 1.0, 10)]);
    bad["recall"]["strategies"][0]["params"] = json!({"radius_km": -5, "colour": 1});
    let (status, body) = server
        .post("t1", "/api/v1/scenarios", json!({"scenario_id": "bad", "scenario_type": "news", "config": bad}))
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_config")), "{body}");
    assert_eq!(body["errors"][0]["path"], "config.recall.strategies[0].params.colour", "{body}");
}

/// `mmr` over HTTP, on the embeddings items are sent with: three near-copies lead by recency, and
/// the rule lets the different item into a two-item answer; off (weight 0), the copies fill it.
#[tokio::test]
async fn mmr_makes_room_for_items_unlike_the_ones_above() {
    let server = TestServer::start().await;
    let body: String = [
        ("copy1", [1.0, 0.0], 4),
        ("copy2", [0.99, 0.05], 3),
        ("copy3", [0.98, 0.1], 2),
        ("other", [0.0, 1.0], 1),
    ]
    .iter()
    .map(|(id, embedding, minute)| {
        json!({"item_id": id, "embedding": embedding, "metadata": {"publish_time": 1_768_400_000 + minute * 60}})
            .to_string()
            + "\n"
    })
    .collect();
    for (scenario, weight) in [("diverse", 0.5), ("plain", 0.0)] {
        let mut config = config(&[("latest", 1.0, 10)]);
        config["rerank"] = json!({"rules": [{"name": "mmr", "weight": weight, "params": {"source": "embedding"}}]});
        server.scenario("t1", scenario, config).await;
        let response = server
            .client
            .post(format!("{}/api/v1/scenarios/{scenario}/items/bulk", server.url))
            .header("X-Tenant-Id", "t1")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (status, diverse) = server.recommend("t1", "u1", json!({"scenario_id": "diverse", "count": 2})).await;
    assert_eq!(status, StatusCode::OK, "{diverse}");
    assert_eq!(ids(&diverse), ["copy1", "other"]);
    let (_, plain) = server.recommend("t1", "u1", json!({"scenario_id": "plain", "count": 2})).await;
    assert_eq!(ids(&plain), ["copy1", "copy2"]);
}
