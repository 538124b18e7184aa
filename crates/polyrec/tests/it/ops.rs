use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{TestServer, config, split_topology};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = TestServer::start().await;
    for path in ["/healthz", "/readyz"] {
        let response = server.client.get(format!("{}{path}", server.url)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    server.scenario("t1", "feed", config(&[("latest", 1.0, 5)])).await;
    server.recommend("t1", "u1", serde_json::json!({"scenario_id": "feed"})).await;
    let text = server.client.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(r#"polyrec_http_requests_total{route="/api/v1/recommend",method="POST",status="200"}"#),
        "{text}"
    );
    assert!(
        text.contains("polyrec_http_request_duration_seconds_bucket{route=\"/api/v1/recommend\",method=\"POST\",le=")
    );
}

/// `/metrics` names tenants and their numbers; with `auth.metrics_token` set only a scrape with
/// the token reads it, while the probes stay open.
#[tokio::test]
async fn metrics_with_a_token_configured_answer_only_scrapes_with_it() {
    if split_topology() {
        return; // The test gateway's own /metrics answers there (it holds no tenant's numbers).
    }
    let mut settings = polyrec_server::ServerConfig::default();
    settings.auth.metrics_token = "scrape-token-of-the-test".to_owned();
    let server = TestServer::start_with(settings).await;
    let scrape = |authorization: Option<&str>| {
        let mut request = server.client.get(format!("{}/metrics", server.url));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    for refused in [None, Some("Bearer wrong"), Some("Bearer scrape-token-of-the-tes")] {
        let (status, body) = scrape(refused).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused:?}: {body}");
        assert!(body.contains("invalid_token"), "{body}");
    }
    let (status, body) = scrape(Some("scrape-token-of-the-test")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not a bearer token: {body}");
    let (status, body) = scrape(Some("Bearer scrape-token-of-the-test")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("polyrec_"), "{body}");
    for path in ["/healthz", "/readyz"] {
        let response = server.client.get(format!("{}{path}", server.url)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_public_route_and_the_docs_page_is_served() {
    let server = TestServer::start().await;
    let doc: Value =
        server.client.get(format!("{}/openapi.json", server.url)).send().await.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/scenarios", &["post", "get"][..]),
        ("/api/v1/scenarios/{scenario_id}", &["get", "put", "patch", "delete"]),
        ("/api/v1/scenarios/{scenario_id}/items", &["post", "get"]),
        ("/api/v1/scenarios/{scenario_id}/items/{item_id}", &["get", "patch", "delete"]),
        ("/api/v1/scenarios/{scenario_id}/items/bulk", &["post"]),
        ("/api/v1/behaviors", &["post"]),
        ("/api/v1/behaviors/batch", &["post"]),
        ("/api/v1/recommend", &["post"]),
    ] {
        for method in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(*method)).is_some(),
                "{method} {path} missing from /openapi.json"
            );
        }
    }
    let page = server.client.get(format!("{}/docs/", server.url)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "the docs page is the bundled Swagger UI");
    assert!(!html.contains("https://"), "no CDN: the page works offline");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let server = TestServer::start().await;
    let response =
        server.client.get(format!("{}/api/v1/nothing", server.url)).header("X-Tenant-Id", "t1").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "not_found");
    let response = server
        .client
        .delete(format!("{}/api/v1/recommend", server.url))
        .header("X-Tenant-Id", "t1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "method_not_allowed");
}

/// The console shows what tenants and their users sent (item metadata, dead-lettered events):
/// its page, script and style sheet are served under a policy that runs nothing inline and
/// nothing from elsewhere, cannot be framed, and are not sniffed as another type. The page
/// itself holds no inline script or style the policy would refuse (the end-to-end run in
/// Chromium fails on any refusal).
#[tokio::test]
async fn the_console_is_served_under_a_policy_that_runs_nothing_inline() {
    let server = TestServer::start().await;
    for path in ["/", "/console/app.js", "/console/app.css"] {
        let (policy, page) = served_under_policy(&server, path, &["style-src 'self'"]).await;
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
        if path == "/" {
            assert!(page.contains("<title>polyrec console</title>"));
            for tag in page.split("<script").skip(1) {
                assert!(tag.trim_start().starts_with("src="), "an inline script: <script{tag}");
            }
            assert!(!page.contains("style=") && !page.contains("<style"), "an inline style in the page");
        }
    }
}

#[tokio::test]
async fn the_api_docs_are_served_under_a_policy_that_runs_no_script_inline_or_from_elsewhere() {
    let server = TestServer::start().await;
    for path in ["/docs/", "/docs/swagger-initializer.js", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"] {
        let (_, body) = served_under_policy(&server, path, &["connect-src 'self'"]).await;
        if path == "/docs/" {
            for tag in body.split("<script").skip(1) {
                assert!(tag.trim_start().starts_with("src=\"./"), "a script inline or from elsewhere: <script{tag}");
            }
        }
        if path == "/docs/swagger-initializer.js" {
            let badge_off = body.contains(r#""validatorUrl": "none""#);
            assert!(badge_off, "the validator badge loads from another origin: {body}");
        }
    }
}

/// GETs `path`: `200`, no sniffing, no framing, and a `Content-Security-Policy` with no default
/// source, scripts of this origin only, no framing and `directives`. Returns the policy and body.
async fn served_under_policy(server: &TestServer, path: &str, directives: &[&str]) -> (String, String) {
    let response = server.client.get(format!("{}{path}", server.url)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let policy = header("content-security-policy").unwrap_or_else(|| panic!("{path}: no policy"));
    let always = ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"];
    for directive in always.iter().chain(directives) {
        assert!(policy.split(';').any(|d| d.trim() == *directive), "{path}: {directive} missing from {policy}");
    }
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
    assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{path}");
    (policy, response.text().await.unwrap())
}
