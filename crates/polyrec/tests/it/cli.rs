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

#[test]
fn eval_scores_configs_on_a_held_out_split() {
    let dir = tempfile::tempdir().unwrap();
    // Two taste groups: users 1–6 watch items a1–a5, users 7–12 items b1–b5, each user in a
    // rotated order, so each user's last item is one the others of the group watched earlier.
    let mut inter = String::from("user_id,item_id,rating,timestamp\n");
    for user in 1..=12i64 {
        let group = if user <= 6 { "a" } else { "b" };
        for n in 0..5i64 {
            let item = (user + n) % 5 + 1;
            inter.push_str(&format!("{user},{group}{item},5,{}\n", 1000 + user * 10 + n));
        }
    }
    std::fs::write(dir.path().join("x.csv"), inter).unwrap();
    let split = dir.path().join("split");
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (ok, stdout, stderr) = polyrec(&[
        "eval",
        "--interactions",
        &path("x.csv"),
        "--split",
        "random",
        "--test-fraction",
        "0.2",
        "--seed",
        "7",
        "--k",
        "1",
        "--models",
        "item_cf,ease,popularity",
        "--export-split",
        split.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    // One of each user's five items is held out, and the others of the group took it: the
    // item-based models find it first for every user.
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for model in ["item_cf", "ease"] {
        let row = &report["models"][model];
        assert_eq!(row["precision@1"], 1.0, "{model}: {row}");
        assert_eq!(row["ndcg@1"], 1.0, "{model}: {row}");
        assert_eq!(row["users"], 12, "{model}: {row}");
        for key in ["recall@1", "map@1", "coverage", "fit_seconds"] {
            assert!(row[key].is_number(), "{model} lacks {key}: {row}");
        }
    }
    let test = std::fs::read_to_string(split.join("test.csv")).unwrap();
    assert_eq!(test.lines().count(), 1 + 12, "a header and one held-out item per user");
    let (ok, _, stderr) = polyrec(&["eval", "--interactions", &path("x.csv"), "--models", "nope"]);
    assert!(!ok && stderr.contains("unknown model `nope`"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_follows_the_job_and_prints_the_versions_with_their_metrics() {
    let server = TestServer::start().await;
    server.scenario("t1", "feed", config(&[("ease", 1.0, 10)])).await;
    let items: Vec<(String, Value)> = (0..8).map(|i| (format!("i{i}"), json!({"category": "c"}))).collect();
    let refs: Vec<(&str, Value)> = items.iter().map(|(id, m)| (id.as_str(), m.clone())).collect();
    server.items("t1", "feed", &refs).await;
    let events: Vec<Value> = (0..6)
        .flat_map(|u| {
            (0..4).map(move |i| {
                crate::support::event("click", &format!("u{u}"), &format!("i{}", (u % 2) * 4 + i), "feed")
            })
        })
        .collect();
    server.events("t1", events).await;
    let url = server.url.clone();
    let run = move |args: Vec<String>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
            all.extend(["--url", &url]);
            polyrec(&all)
        })
    };
    let args = |extra: &[&str]| {
        let mut args: Vec<String> = ["train", "--tenant", "t1", "--scenario", "feed"].map(String::from).to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };

    let (ok, stdout, stderr) = run(args(&[])).await.unwrap();
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["state"], "succeeded", "{report}");
    assert_eq!(report["models"]["ease"]["version"], "v1", "{report}");
    assert_eq!(report["models"]["ease"]["status"], "active", "{report}");
    assert!(report["models"]["ease"]["metrics"]["ndcg@10"].as_f64().is_some(), "{report}");
    let (_, jobs) = server.get("t1", "/api/v1/scenarios/feed/jobs").await;
    assert_eq!(jobs["jobs"][0]["trigger"], "cli", "{jobs}");

    let (ok, _, stderr) = run(args(&["--model", "bpr"])).await.unwrap();
    assert!(!ok);
    assert!(stderr.contains("unknown_model") && stderr.contains("bpr"), "{stderr}");
    let (ok, _, stderr) =
        run(vec!["train".into(), "--tenant".into(), "t1".into(), "--scenario".into(), "nope".into()]).await.unwrap();
    assert!(!ok);
    assert!(stderr.contains("404"), "{stderr}");
}
