//! The CLI as a user runs it: the real binary against a server on 127.0.0.1.

use std::io::Write;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{TestServer, config};

fn polyrec(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_polyrec")).args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_items_from_ndjson_and_csv_with_line_numbers() {
    let server = TestServer::start().await;
    server.scenario("t1", "shop", config(&[("latest", 1.0, 10)])).await;
    let dir = tempfile::tempdir().unwrap();

    let ndjson = dir.path().join("items.ndjson");
    let mut file = std::fs::File::create(&ndjson).unwrap();
    writeln!(file, r#"{{"item_id": "a", "metadata": {{"category": "x"}}}}"#).unwrap();
    writeln!(file, r#"{{"item_id": "b", "metadata": {{"tags": 5}}}}"#).unwrap();
    writeln!(file, r#"{{"item_id": "c"}}"#).unwrap();
    drop(file);
    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let (path, url) = (ndjson.to_str().unwrap().to_owned(), server.url.clone());
        move || polyrec(&["import", "items", &path, "--tenant", "t1", "--scenario", "shop", "--url", &url])
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), json!({"created": 2, "updated": 0, "rejected": 1}));
    assert!(stderr.contains("line 2:"), "{stderr}");

    let csv = dir.path().join("items.csv");
    // A quoted field over two lines and a blank line: rejections still name the file's line.
    std::fs::write(
        &csv,
        "item_id,category,tags,price,title\nd,2024,red|sale,12.5,\"two\nlines\"\n\n,hats,,3,\na,socks,,007,\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let (path, url) = (csv.to_str().unwrap().to_owned(), server.url.clone());
        move || polyrec(&["import", "items", &path, "--tenant", "t1", "--scenario", "shop", "--url", &url])
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), json!({"created": 1, "updated": 1, "rejected": 1}));
    assert!(stderr.contains("line 5:"), "the file's line of the row without an id: {stderr}");
    let (_, d) = server.get("t1", "/api/v1/scenarios/shop/items/d").await;
    assert_eq!(
        d["metadata"],
        json!({"category": "2024", "tags": ["red", "sale"], "price": 12.5, "title": "two\nlines"}),
        "category stays a string however it looks"
    );
    let (_, a) = server.get("t1", "/api/v1/scenarios/shop/items/a").await;
    assert_eq!(a["metadata"]["price"], "007", "a leading zero is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_events_reports_rejections_by_line() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("hot_items", 1.0, 10)])).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let mut lines: Vec<String> = (0..2500)
        .map(|i| json!({"event_type": "click", "user_id": format!("u{}", i % 7), "item_id": format!("i{}", i % 11), "scenario_id": "feed"}).to_string())
        .collect();
    lines[9] = json!({"event_type": "stare", "user_id": "u", "item_id": "i", "scenario_id": "feed"}).to_string();
    lines[1999] = "{broken".into();
    std::fs::write(&path, lines.join("\n")).unwrap();
    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let (path, url) = (path.to_str().unwrap().to_owned(), server.url.clone());
        move || polyrec(&["import", "events", &path, "--tenant", "t1", "--url", &url, "--batch", "1000"])
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), json!({"accepted": 2498, "rejected": 2}));
    assert!(stderr.contains("line 10:") && stderr.contains("line 2000:"), "{stderr}");
    let (_, stats) = server.get("t1", "/api/v1/behaviors/stats").await;
    assert_eq!(stats["events"], 2498);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_gives_personalised_answers_at_once() {
    let server = TestServer::start().await;
    // The demo stamps its events with the real time.
    server.clock.set_ms(polyrec_core::Clock::now_ms(&polyrec_core::SystemClock));
    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let url = server.url.clone();
        move || polyrec(&["demo", "--url", &url, "--items", "80", "--users", "40", "--events-per-user", "20"])
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    assert!(stdout.contains("curl"), "{stdout}");
    server.settle().await;
    for scenario in ["vlog_main_feed", "news_main_feed"] {
        let (status, answer) =
            server.recommend("demo", "user1", json!({"scenario_id": scenario, "count": 5, "explain": true})).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        assert_eq!(answer["items"].as_array().unwrap().len(), 5, "{answer}");
        assert_eq!(answer["fallback"], false, "{scenario} answers from its channels: {answer}");
        let channels: Vec<&str> =
            answer["channels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert!(channels.contains(&"user_cf"), "{channels:?}");
        let personal = answer["items"].as_array().unwrap().iter().any(|item| {
            item["channels"].as_array().unwrap().iter().any(|c| c["name"] == "user_cf" || c["name"] == "content_based")
        });
        assert!(personal, "{scenario}: some items come from the user's own signals: {answer}");
    }
}
