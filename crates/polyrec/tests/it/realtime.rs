//! The stream jobs, driven by the test's clock.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{START_MS, TestServer, config, event, production_backends};

async fn setup() -> TestServer {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("hot_items", 1.0, 10)])).await;
    let items: Vec<(String, Value)> = (0..6)
        .map(|i| {
            (format!("i{i}"), json!({"category": if i < 3 { "sport" } else { "music" }, "tags": [format!("t{i}")]}))
        })
        .collect();
    let refs: Vec<(&str, Value)> = items.iter().map(|(id, m)| (id.as_str(), m.clone())).collect();
    server.items("t1", "feed", &refs).await;
    server
}

#[tokio::test]
async fn a_click_shows_in_the_hot_set_as_soon_as_the_job_has_it() {
    let server = setup().await;
    server
        .events(
            "t1",
            vec![
                event("click", "u1", "i4", "feed"),
                event("click", "u2", "i4", "feed"),
                event("click", "u1", "i2", "feed"),
            ],
        )
        .await;
    server.settle().await;
    let (status, hot) = server.get("t1", "/api/v1/scenarios/feed/hot?n=5").await;
    assert_eq!(status, StatusCode::OK);
    let hot_ids: Vec<&str> = hot["items"].as_array().unwrap().iter().map(|i| i["item_id"].as_str().unwrap()).collect();
    assert_eq!(hot_ids, ["i4", "i2"]);
    let (status, stats) = server.get("t1", "/api/v1/scenarios/feed/items/i4/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats, json!({"item_id": "i4", "counts": {"click_count": 2}}));
    let (_, answer) = server.recommend("t1", "u9", json!({"scenario_id": "feed", "count": 2})).await;
    assert_eq!(answer["items"][0]["item_id"], "i4");

    // Impressions are not interest; events older than the window fall out of it.
    let mut old = event("order", "u3", "i0", "feed");
    old["timestamp"] = json!(START_MS - 2 * 3_600_000);
    server.events("t1", vec![event("impression", "u1", "i5", "feed"), old]).await;
    server.settle().await;
    let (_, hot) = server.get("t1", "/api/v1/scenarios/feed/hot").await;
    assert_eq!(hot["items"].as_array().unwrap().len(), 2, "{hot}");
}

#[tokio::test]
async fn profiles_fold_five_minute_windows_of_event_time() {
    let server = setup().await;
    let at = |kind: &str, item: &str, offset_s: i64| {
        let mut e = event(kind, "u1", item, "feed");
        e["timestamp"] = json!(START_MS + offset_s * 1000);
        e["value"] = json!(10.0);
        e
    };
    // START is 10:02:30: the first window is [10:00, 10:05).
    server.events("t1", vec![at("play", "i0", 0), at("like", "i1", 30), at("impression", "i4", 40)]).await;
    server.settle().await;
    let (status, _) = server.get("t1", "/api/v1/scenarios/feed/users/u1/profile").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the window is still open");

    // An event at 10:08 moves the watermark past 10:05: the first window closes.
    server.events("t1", vec![at("play", "i4", 330)]).await;
    server.settle().await;
    let (status, profile) = server.get("t1", "/api/v1/scenarios/feed/users/u1/profile").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["features"]["total_watch_count"], 2);
    assert_eq!(profile["features"]["total_impressions"], 1);
    assert_eq!(profile["features"]["favorite_categories"], json!(["sport"]));
    assert_eq!(profile["features"]["recent_items"], json!(["i1", "i0"]));
    assert_eq!(profile["preferences"]["category_scores"]["sport"], 3.5, "play 1.5 + like 2.0");

    // Quiet for 10 s of the clock: the open window closes without waiting for more events.
    server.clock.advance_ms(11_000);
    let profile = server
        .eventually("t1", "/api/v1/scenarios/feed/users/u1/profile", |_, p| p["features"]["total_watch_count"] == 3)
        .await;
    assert_eq!(profile["features"]["recent_items"], json!(["i4", "i1", "i0"]), "{profile}");
    assert!(profile["preferences"]["category_scores"]["music"].as_f64().unwrap() > 0.0);
}

/// The offline recompute rebuilds a quiet user's profile from the warehouse (here, one a bad
/// write had corrupted), and leaves an active user's to the stream job.
#[tokio::test]
async fn the_offline_recompute_rebuilds_quiet_users_profiles_from_the_warehouse() {
    let server = setup().await;
    let at = |user: &str, item: &str, offset_s: i64| {
        let mut e = event("play", user, item, "feed");
        e["timestamp"] = json!(START_MS + offset_s * 1000);
        e["value"] = json!(10.0);
        e
    };
    server.events("t1", vec![at("u1", "i0", 0), at("u1", "i1", 30), at("u1", "i4", 400)]).await;
    server.settle().await;
    server.clock.advance_ms(11_000);
    let folded = server
        .eventually("t1", "/api/v1/scenarios/feed/users/u1/profile", |_, p| p["features"]["total_watch_count"] == 3)
        .await;
    let tenant = polyrec_core::TenantId::parse("t1").unwrap();
    let (scenario, user) =
        (polyrec_core::ScenarioId::parse("feed").unwrap(), polyrec_core::UserId::parse("u1").unwrap());
    // Two hours later u1 is quiet (and a bad write corrupts its profile); u2 has just been active.
    server.clock.advance_ms(2 * 3_600_000);
    let mut corrupt: polyrec_core::UserProfile = serde_json::from_value(folded.clone()).unwrap();
    corrupt.features.total_watch_count = 999;
    corrupt.preferences.category_scores.clear();
    corrupt.updated_ms = server.app.now_ms();
    server.app.profiles.put(&tenant, vec![corrupt]).await.unwrap();
    let mut recent = at("u2", "i1", 0);
    recent["timestamp"] = json!(server.app.now_ms());
    server.events("t1", vec![recent]).await;
    server.settle().await;
    let job = polyrec_server::jobs::training::submit_profile_recompute(&server.app, &tenant, &scenario).await.unwrap();
    let job =
        polyrec_server::jobs::training::wait(&server.app, &tenant, &job.job_id, std::time::Duration::from_secs(60))
            .await
            .unwrap();
    assert_eq!(job.state, polyrec_core::JobState::Succeeded, "{job:?}");
    assert_eq!((job.data["users"], job.data["events"], job.data["skipped_active_users"]), (1, 3, 1), "{job:?}");
    let rebuilt = server.app.profiles.get(&tenant, &user, &scenario).await.unwrap().unwrap();
    assert_eq!(rebuilt.features.total_watch_count, 3);
    assert_eq!(
        rebuilt.features.recent_items,
        folded["features"]["recent_items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    );
    let sport = folded["preferences"]["category_scores"]["sport"].as_f64().unwrap();
    assert!((rebuilt.preferences.category_scores["sport"] - sport).abs() < 1e-9, "{rebuilt:?}");
}

#[tokio::test]
async fn realtime_metrics_count_impressions_clicks_and_groups() {
    let server = setup().await;
    let mut grouped = event("click", "u1", "i1", "feed");
    grouped["context"] = json!({"experiment_id": "e1", "group": "b"});
    server
        .events(
            "t1",
            vec![
                event("impression", "u1", "i1", "feed"),
                event("impression", "u1", "i2", "feed"),
                event("impression", "u2", "i1", "feed"),
                event("impression", "u2", "i3", "feed"),
                grouped,
            ],
        )
        .await;
    server.settle().await;
    let (_, metrics) = server.get("t1", "/api/v1/scenarios/feed/metrics/realtime").await;
    assert_eq!(metrics["counters"]["impressions"], 4.0);
    assert_eq!(metrics["counters"]["clicks"], 1.0);
    assert_eq!(metrics["counters"]["exp:e1:b:clicks"], 1.0);
    assert_eq!(metrics["ctr"], 0.25);
    server.clock.advance_ms(3_600_001);
    let (_, expired) = server.get("t1", "/api/v1/scenarios/feed/metrics/realtime").await;
    assert_eq!(expired["counters"], json!({}), "the hash lives an hour");
}

#[tokio::test]
async fn experiment_groups_named_by_events_cannot_grow_the_counters_without_bound() {
    let server = setup().await;
    let cap = polyrec_server::jobs::MAX_BUCKET_FIELDS;
    let named = |experiment: String, group: &str| {
        let mut event = event("impression", "u1", "i1", "feed");
        event["context"] = json!({"experiment_id": experiment, "group": group});
        event
    };
    // One real group first, then a flood of experiments no one created, then the real one again.
    let mut events = vec![named("e1".into(), "a")];
    events.extend((0..cap + 100).map(|i| named(format!("made_up_{i}"), "x")));
    events.push(named("bad:id".into(), "x"));
    events.push(named("e".repeat(4_000), "x"));
    events.push(named("e1".into(), "a"));
    server.events("t1", events).await;
    server.settle().await;
    let (_, metrics) = server.get("t1", "/api/v1/scenarios/feed/metrics/realtime").await;
    let counters = metrics["counters"].as_object().unwrap();
    assert!(counters.len() <= cap, "{} counters", counters.len());
    assert_eq!(counters["impressions"], (cap + 104) as f64, "every event counts in the totals");
    assert_eq!(counters["exp:e1:a:impressions"], 2.0, "a group counted before the flood goes on counting");
    assert!(!counters.keys().any(|k| k.contains("bad") || k.len() > 300), "only ids are counted apart");
}

#[tokio::test]
async fn a_click_changes_the_next_item_based_answer() {
    let server = setup().await;
    server
        .call(
            reqwest::Method::PATCH,
            "t1",
            "/api/v1/scenarios/feed",
            Some(json!({"config": {"recall": {"strategies": [
                {"name": "content_based", "weight": 1.0, "limit": 10}
            ]}}})),
        )
        .await;
    server.events("t1", vec![event("click", "u1", "i4", "feed")]).await;
    server.settle().await;
    let (_, answer) = server.recommend("t1", "u1", json!({"scenario_id": "feed", "count": 2, "explain": true})).await;
    let first = &answer["items"][0];
    assert!(["i3", "i5"].contains(&first["item_id"].as_str().unwrap()), "music like the click: {answer}");
    assert_eq!(first["channels"][0]["name"], "content_based");
}

/// Regression: a stored profile that did not read (a corrupt document) failed the whole close,
/// so no tenant's windows were stored, and the next batch's poison isolation dead-lettered every
/// tenant's events for it. Now that user's profile starts anew and the others fold as ever.
/// (Embedded stores: the test writes the corrupt document into SQLite itself.)
#[tokio::test]
async fn one_corrupt_profile_neither_stalls_nor_dead_letters_the_others() {
    if production_backends() {
        return;
    }
    let server = setup().await;
    server.scenario("t2", "feed", config(&[("hot_items", 1.0, 10)])).await;
    let documents = rusqlite::Connection::open(server.data_dir().join("documents.db")).unwrap();
    documents
        .execute(
            "INSERT INTO user_profiles (tenant_id, user_id, scenario_id, doc) VALUES ('t1', 'broken', 'feed', '{\"not\": 1}')",
            [],
        )
        .unwrap();
    let (status, _) = server.get("t1", "/api/v1/scenarios/feed/users/broken/profile").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "the document is corrupt");
    server.events("t1", vec![event("click", "broken", "i1", "feed")]).await;
    server.events("t2", vec![event("click", "fine", "x", "feed")]).await;
    server.settle().await;
    server.clock.advance_ms(11_000);
    server.eventually("t2", "/api/v1/scenarios/feed/users/fine/profile", |status, _| status == StatusCode::OK).await;
    let rebuilt = server
        .eventually("t1", "/api/v1/scenarios/feed/users/broken/profile", |status, _| status == StatusCode::OK)
        .await;
    assert_eq!(rebuilt["features"]["total_watch_count"], 1, "{rebuilt}");
    // Events after it go through as ever, and nobody's are dead-lettered.
    server.events("t2", vec![event("click", "fine", "x", "feed")]).await;
    server.settle().await;
    for tenant in ["t1", "t2"] {
        let (_, stats) = server.get(tenant, "/api/v1/behaviors/stats").await;
        assert_eq!(stats["dead_letters"], 0, "{tenant}: {stats}");
    }
}

/// An item stored before the edge refused labels with a NUL: its category and tags would key
/// the profile's scores, which MongoDB cannot store (its keys are C strings), and the driver
/// reports that as the server's failure, so the profile job retried for ever and no tenant's
/// profile was written again. Its labels are left out now; the other tenant's profiles fold.
#[tokio::test]
async fn an_item_with_labels_no_store_can_key_stalls_no_profile() {
    let server = setup().await;
    server.scenario("t2", "feed", config(&[("hot_items", 1.0, 10)])).await;
    let (tenant, scenario) =
        (polyrec_core::TenantId::parse("t1").unwrap(), polyrec_core::ScenarioId::parse("feed").unwrap());
    let input: polyrec_core::item::ItemInput = serde_json::from_value(json!({"item_id": "nul"})).unwrap();
    let mut item = input.into_item(&scenario, START_MS).unwrap();
    item.metadata.insert("category".into(), json!("a\u{0}b"));
    item.metadata.insert("tags".into(), json!(["fine", "t\u{0}"]));
    server.app.stores().documents.upsert_items(&tenant, vec![item]).await.unwrap();
    // An item written through the API makes every process load the catalog again.
    server.items("t1", "feed", &[("later", json!({}))]).await;
    server.events("t1", vec![event("click", "u1", "nul", "feed")]).await;
    server.events("t2", vec![event("click", "fine", "x", "feed")]).await;
    server.settle().await;
    server.clock.advance_ms(11_000);
    server.eventually("t2", "/api/v1/scenarios/feed/users/fine/profile", |status, _| status == StatusCode::OK).await;
    let profile =
        server.eventually("t1", "/api/v1/scenarios/feed/users/u1/profile", |status, _| status == StatusCode::OK).await;
    let tags: Vec<&String> = profile["preferences"]["tag_scores"].as_object().unwrap().keys().collect();
    assert_eq!(tags, ["fine"], "{profile}");
    assert_eq!(profile["preferences"]["category_scores"], json!({}), "{profile}");
}

/// Regression: the idle close was global, so one tenant's steady traffic kept another tenant's
/// last window open for good (and with it the job's committed offset).
#[tokio::test]
async fn a_busy_tenant_does_not_keep_a_quiet_tenants_window_open() {
    let server = setup().await;
    server.scenario("t2", "feed", config(&[("hot_items", 1.0, 10)])).await;
    server.events("t1", vec![event("click", "quiet_user", "i1", "feed")]).await;
    server.settle().await;
    server.clock.advance_ms(11_000);
    // t2 keeps sending, with timestamps that do not move t1's watermark.
    for _ in 0..3 {
        server.events("t2", vec![event("click", "busy_user", "x", "feed")]).await;
        server.settle().await;
    }
    server
        .eventually("t1", "/api/v1/scenarios/feed/users/quiet_user/profile", |status, _| status == StatusCode::OK)
        .await;
}
