use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, config};

async fn setup() -> TestServer {
    let server = TestServer::start().await;
    server.scenario("t1", "shop", config(&[("latest", 1.0, 50)])).await;
    server
}

#[tokio::test]
async fn item_crud_with_merge_patch() {
    let server = setup().await;
    let (status, created) = server
        .post(
            "t1",
            "/api/v1/scenarios/shop/items",
            json!({"item_id": "i1", "metadata": {"title": "Red shoe", "category": "shoes", "price": 30}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "active");
    let (status, dup) = server.post("t1", "/api/v1/scenarios/shop/items", json!({"item_id": "i1"})).await;
    assert_eq!((status, dup["code"].as_str()), (StatusCode::CONFLICT, Some("item_exists")));

    let (status, patched) = server
        .call(
            Method::PATCH,
            "t1",
            "/api/v1/scenarios/shop/items/i1",
            Some(json!({"metadata": {"price": 25, "title": null}, "status": "inactive"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["metadata"], json!({"category": "shoes", "price": 25}));
    assert_eq!(patched["status"], "inactive");
    assert_eq!(patched["created_at"], created["created_at"]);

    let (status, got) = server.get("t1", "/api/v1/scenarios/shop/items/i1").await;
    assert_eq!((status, &got["metadata"]["price"]), (StatusCode::OK, &json!(25)));
    let (status, _) = server.call(Method::DELETE, "t1", "/api/v1/scenarios/shop/items/i1", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server.get("t1", "/api/v1/scenarios/shop/items/i1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        server.call(Method::PATCH, "t1", "/api/v1/scenarios/shop/items/i1", Some(json!({"status": "active"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_items_are_refused_with_a_reason() {
    let server = setup().await;
    let cases = [
        (json!({"item_id": "i1", "metadata": {"tags": "a,b"}}), "invalid_item"),
        (json!({"item_id": "i1", "metadata": {"category": 7}}), "invalid_item"),
        (json!({"item_id": "i1", "metadata": {"publish_time": "yesterday"}}), "invalid_item"),
        (json!({"item_id": "i/1"}), "invalid_item_id"),
        (json!({"item_id": "i1", "colour": "red"}), "invalid_body"),
        (json!({"item_id": "i1", "embedding": []}), "invalid_item"),
        // Labels that key profile scores are bounded, so a profile stays storable.
        (json!({"item_id": "i1", "metadata": {"category": "c".repeat(257)}}), "invalid_item"),
        (json!({"item_id": "i1", "metadata": {"location": "l".repeat(257)}}), "invalid_item"),
        (json!({"item_id": "i1", "metadata": {"tags": ["ok", "t".repeat(257)]}}), "invalid_item"),
        // MongoDB keeps keys as C strings: a NUL in a label (a profile's key) or in any key.
        (json!({"item_id": "i1", "metadata": {"category": "a\u{0}b"}}), "invalid_item"),
        (json!({"item_id": "i1", "metadata": {"tags": ["ok", "\u{0}"]}}), "invalid_item"),
        (json!({"item_id": "i1", "metadata": {"specs": [{"a\u{0}": 1}]}}), "invalid_item"),
    ];
    for (body, code) in cases {
        let (status, answer) = server.post("t1", "/api/v1/scenarios/shop/items", body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{body} -> {answer}"
        );
    }
    let longest = json!({"item_id": "i1", "metadata": {"category": "c".repeat(256), "tags": ["t".repeat(256)]}});
    let (status, answer) = server.post("t1", "/api/v1/scenarios/shop/items", longest).await;
    assert_eq!(status, StatusCode::CREATED, "256 bytes are allowed: {answer}");
    let (status, answer) = server.post("t1", "/api/v1/scenarios/nope/items", json!({"item_id": "i1"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");

    let response = server
        .client
        .post(format!("{}/api/v1/scenarios/shop/items", server.url))
        .header("X-Tenant-Id", "t1")
        .header("Content-Type", "application/json")
        .body("{\"item_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "malformed_json");

    let huge = format!("{{\"item_id\": \"i1\", \"metadata\": {{\"blob\": \"{}\"}}}}", "x".repeat(17 * 1024 * 1024));
    let response = server
        .client
        .post(format!("{}/api/v1/scenarios/shop/items", server.url))
        .header("X-Tenant-Id", "t1")
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "body_too_large");
}

#[tokio::test]
async fn listing_filters_and_pages() {
    let server = setup().await;
    let items: Vec<(String, Value)> =
        (0..25).map(|i| (format!("i{i:02}"), json!({"category": if i % 5 == 0 { "hats" } else { "shoes" }}))).collect();
    let refs: Vec<(&str, Value)> = items.iter().map(|(id, m)| (id.as_str(), m.clone())).collect();
    server.items("t1", "shop", &refs).await;
    server.call(Method::PATCH, "t1", "/api/v1/scenarios/shop/items/i03", Some(json!({"status": "inactive"}))).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/scenarios/shop/items?limit=10&cursor={c}"),
            None => "/api/v1/scenarios/shop/items?limit=10".to_owned(),
        };
        let (status, page) = server.get("t1", &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|i| i["item_id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ordered, no repeats");

    let (_, hats) = server.get("t1", "/api/v1/scenarios/shop/items?category=hats").await;
    assert_eq!(hats["items"].as_array().unwrap().len(), 5);
    let (_, inactive) = server.get("t1", "/api/v1/scenarios/shop/items?status=inactive").await;
    assert_eq!(inactive["items"].as_array().unwrap().len(), 1);
    let (_, none) = server.get("t1", "/api/v1/scenarios/shop/items?updated_since=2100-01-01T00:00:00Z").await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    for bad in ["limit=0", "limit=5000", "status=gone", "updated_since=tuesday"] {
        let (status, answer) = server.get("t1", &format!("/api/v1/scenarios/shop/items?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {answer}");
    }
    let (status, _) = server.get("t1", "/api/v1/scenarios/shop/items?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bulk_import_reports_line_numbers_and_keeps_the_good_lines() {
    let server = setup().await;
    server.items("t1", "shop", &[("old", json!({"category": "a"}))]).await;
    let body = [
        r#"{"item_id": "a1", "metadata": {"category": "x"}}"#,
        r#"{"item_id": "a2", "metadata": {"tags": "not-a-list"}}"#,
        "",
        r#"this is not json"#,
        r#"{"item_id": "old", "metadata": {"category": "b"}}"#,
        r#"{"item_id": "a3"}"#,
    ]
    .join("\n");
    let response = server
        .client
        .post(format!("{}/api/v1/scenarios/shop/items/bulk", server.url))
        .header("X-Tenant-Id", "t1")
        .body(body)
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(1), Some(2)),
        "{report}"
    );
    let lines: Vec<u64> = report["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 4]);
    assert_eq!(report["errors"][0]["item_id"], "a2");
    assert_eq!(report["errors"][1]["code"], "malformed_json");
    let (_, old) = server.get("t1", "/api/v1/scenarios/shop/items/old").await;
    assert_eq!(old["metadata"]["category"], "b");
}

/// 100,000 items in one request, generated as the body streams: the server never sees the
/// whole body at once, and the answer counts every item. (300 on the production test servers: the
/// MongoDB emulation there, mongoeco, takes time quadratic in a collection's size — inserting 400
/// documents into a collection with a unique index took 3.7 s, 1,000 took 22.8 s.)
#[tokio::test]
async fn bulk_import_streams_a_hundred_thousand_items() {
    let server = setup().await;
    let (n, per_chunk) = if crate::support::production_backends() { (300, 100) } else { (100_000, 1_000) };
    let chunks = futures::stream::iter((0..n / per_chunk).map(move |chunk| {
        let mut text = String::with_capacity(per_chunk * 80);
        for i in chunk * per_chunk..(chunk + 1) * per_chunk {
            text.push_str(&format!(
                "{{\"item_id\":\"i{i}\",\"metadata\":{{\"category\":\"c{}\",\"price\":{i}}}}}\n",
                i % 50
            ));
        }
        Ok::<Bytes, std::io::Error>(Bytes::from(text))
    }));
    let response = server
        .client
        .post(format!("{}/api/v1/scenarios/shop/items/bulk", server.url))
        .header("X-Tenant-Id", "t1")
        .header("Content-Type", "application/x-ndjson")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!((report["created"].as_u64(), report["rejected"].as_u64()), (Some(n as u64), Some(0)), "{report}");
    let (_, last) = server.get("t1", &format!("/api/v1/scenarios/shop/items/i{}", n - 1)).await;
    assert_eq!(last["metadata"]["price"], n - 1);
    let (status, answer) = server.recommend("t1", "u1", json!({"scenario_id": "shop", "count": 10})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["items"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn reserved_ids_and_removing_an_embedding() {
    let server = setup().await;
    let (status, answer) = server.post("t1", "/api/v1/scenarios/shop/items", json!({"item_id": "bulk"})).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_item_id")));
    let (status, _) =
        server.post("t1", "/api/v1/scenarios/shop/items", json!({"item_id": "v", "embedding": [0.5, 1.0]})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, kept) =
        server.call(Method::PATCH, "t1", "/api/v1/scenarios/shop/items/v", Some(json!({"status": "active"}))).await;
    assert_eq!(kept["embedding"], json!([0.5, 1.0]), "left out: unchanged");
    let (_, removed) =
        server.call(Method::PATCH, "t1", "/api/v1/scenarios/shop/items/v", Some(json!({"embedding": null}))).await;
    assert!(removed.get("embedding").is_none(), "null: removed: {removed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn patches_at_once_each_keep_their_field() {
    let server = TestServer::start().await;
    server.scenario("t1", "shop", config(&[("latest", 1.0, 10)])).await;
    server.items("t1", "shop", &[("i1", json!({"category": "c"}))]).await;
    // Sixteen patches at once, each setting a field of its own: each must merge into what the
    // others wrote, not into the same first read.
    let path = "/api/v1/scenarios/shop/items/i1";
    let patches =
        (0..16).map(|n| server.call(Method::PATCH, "t1", path, Some(json!({"metadata": {format!("f{n}"): n}}))));
    for (status, answer) in futures::future::join_all(patches).await {
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (_, item) = server.get("t1", path).await;
    let lost: Vec<usize> = (0..16).filter(|n| item["metadata"][format!("f{n}")] != *n).collect();
    assert!(lost.is_empty(), "fields lost {lost:?}: {item}");
    assert_eq!(item["metadata"]["category"], "c", "{item}");
}
