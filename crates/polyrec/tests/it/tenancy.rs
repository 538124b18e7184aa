//! Who may call and how much: bearer tokens (HS256, RS256; missing, forged, expired, another
//! tenant's), the tenant registry (suspended, unknown), quotas as rate limits, and the external
//! tenant and user services (SPEC §6.2) as real gRPC servers on loopback — answering, down,
//! hanging, slow.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use polyrec_core::{Quota, TenantStatus};
use polyrec_server::ServerConfig;
use polyrec_server::config::{TenantEntry, Unreachable};
use polyrec_server::external::proto;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{START_MS, TestServer, config, event, split_topology};

const SECRET: &str = "a-test-secret-of-enough-length-for-hs256";
const PRIVATE_PEM: &str = include_str!("../fixtures/jwt-rs256-private.pem");
const PUBLIC_PEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt-rs256-public.pem");

/// A server config that checks HS256 tokens signed with [`SECRET`].
fn checking_tokens() -> ServerConfig {
    let mut settings = ServerConfig::default();
    settings.auth.hs256_secret = SECRET.to_owned();
    settings
}

fn token(algorithm: Algorithm, tenant: &str, expires_ms: i64) -> String {
    let claims = json!({"sub": "svc", "tenant_id": tenant, "exp": expires_ms / 1000});
    let key = match algorithm {
        Algorithm::HS256 => EncodingKey::from_secret(SECRET.as_bytes()),
        Algorithm::RS256 => EncodingKey::from_rsa_pem(PRIVATE_PEM.as_bytes()).unwrap(),
        other => panic!("{other:?}"),
    };
    jsonwebtoken::encode(&Header::new(algorithm), &claims, &key).unwrap()
}

/// GET /api/v1/scenarios as `tenant` with this Authorization header (if any).
async fn list_as(
    server: &TestServer,
    tenant: &str,
    authorization: Option<String>,
) -> (StatusCode, Value, Option<String>) {
    let mut request = server.client.get(format!("{}/api/v1/scenarios", server.url)).header("X-Tenant-Id", tenant);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap_or(Value::Null), challenge)
}

#[tokio::test]
async fn tokens_are_verified_when_a_key_is_configured() {
    let mut settings = checking_tokens();
    settings.auth.rs256_public_key_file = PUBLIC_PEM.to_owned();
    let server = TestServer::start_with(settings).await;
    // Real wall-clock expiry: jsonwebtoken checks `exp` against the system clock.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let hour = 3_600_000;

    for algorithm in [Algorithm::HS256, Algorithm::RS256] {
        let (status, body, _) =
            list_as(&server, "t1", Some(format!("Bearer {}", token(algorithm, "t1", now + hour)))).await;
        assert_eq!(status, StatusCode::OK, "{algorithm:?}: {body}");
    }
    let forged = {
        let real = token(Algorithm::HS256, "t1", now + hour);
        let (head, rest) = real.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        // Claims for another tenant under t1's signature.
        let claims = base64_url(&json!({"tenant_id": "t1", "exp": now / 1000 + 7200, "admin": true}).to_string());
        format!("{head}.{claims}.{signature}")
    };
    let other_secret = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"tenant_id": "t1", "exp": now / 1000 + 3600}),
        &EncodingKey::from_secret(b"somebody-elses-secret-somebody-elses"),
    )
    .unwrap();
    for (authorization, status, code) in [
        (None, StatusCode::UNAUTHORIZED, "missing_token"),
        (Some(format!("Bearer {forged}")), StatusCode::UNAUTHORIZED, "invalid_token"),
        (Some(format!("Bearer {other_secret}")), StatusCode::UNAUTHORIZED, "invalid_token"),
        (Some("Bearer not.a.jwt".to_owned()), StatusCode::UNAUTHORIZED, "invalid_token"),
        (
            Some(format!("Bearer {}", token(Algorithm::HS256, "t1", now - hour))),
            StatusCode::UNAUTHORIZED,
            "token_expired",
        ),
        (
            Some(format!("Bearer {}", token(Algorithm::RS256, "t2", now + hour))),
            StatusCode::FORBIDDEN,
            "tenant_mismatch",
        ),
    ] {
        let (got, body, challenge) = list_as(&server, "t1", authorization.clone()).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{authorization:?}: {body}");
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(challenge.as_deref(), Some("Bearer"));
        }
    }
    // A token without the tenant claim.
    let anonymous = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "x", "exp": now / 1000 + 3600}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let (status, body, _) = list_as(&server, "t1", Some(format!("Bearer {anonymous}"))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{body}");
    // Health and metrics stay open to probes and scrapers.
    let health = server.client.get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// An HS256 token for tenant t1, valid for an hour, with `extra` claims, as an Authorization
/// header.
fn signed(extra: Value) -> String {
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3_600;
    let mut claims = json!({"tenant_id": "t1", "exp": exp});
    claims.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    format!("Bearer {}", jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap())
}

/// A request as tenant t1 and `user` with this Authorization header: the status, the
/// `WWW-Authenticate` challenge if any, and the JSON body (Null if none).
async fn call_as(
    server: &TestServer,
    method: Method,
    path: &str,
    user: &str,
    authorization: &str,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = server
        .client
        .request(method, format!("{}{path}", server.url))
        .header("X-Tenant-Id", "t1")
        .header("X-User-Id", user)
        .header("Authorization", authorization);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    (response.status(), challenge, response.json::<Value>().await.unwrap_or(Value::Null))
}

/// A token's `scope` claim limits it to what it grants: a token handed to a browser or an app
/// (`recommend events`) cannot read the catalog, change a scenario or delete it; a read-only one
/// cannot write, recommend or send events; one without the claim grants everything.
#[tokio::test]
async fn a_tokens_scope_limits_it_to_what_it_grants() {
    let server = TestServer::start_with(checking_tokens()).await;
    let sign = |scope: Option<Value>| signed(scope.map_or(json!({}), |scope| json!({"scope": scope})));
    let scenario = json!({"scenario_id": "s", "scenario_type": "vlog", "config": config(&[("latest", 1.0, 10)])});
    let everything = sign(None);
    let (status, _, body) =
        call_as(&server, Method::POST, "/api/v1/scenarios", "u1", &everything, Some(scenario.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "a token without a scope grants everything: {body}");
    let recommend = json!({"scenario_id": "s"});
    let click = event("click", "u1", "i1", "s");
    let (app, read, admin) =
        (sign(Some(json!("recommend events"))), sign(Some(json!("read"))), sign(Some(json!("read write"))));

    let granted = [
        (&app, Method::POST, "/api/v1/recommend", Some(recommend.clone())),
        (&app, Method::POST, "/api/v1/behaviors", Some(click.clone())),
        (&app, Method::POST, "/api/v1/behaviors/batch", Some(json!({"events": [click.clone()]}))),
        (&read, Method::GET, "/api/v1/scenarios/s", None),
        (&read, Method::GET, "/api/v1/analytics/dashboard", None),
        (&admin, Method::PATCH, "/api/v1/scenarios/s", Some(json!({"name": "changed"}))),
    ];
    for (token, method, path, body) in granted {
        let (status, _, answer) = call_as(&server, method.clone(), path, "u1", token, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
    }
    let refused = [
        (&app, Method::GET, "/api/v1/scenarios", None, "read"),
        (&app, Method::GET, "/api/v1/scenarios/s/items", None, "read"),
        (&app, Method::POST, "/api/v1/scenarios", Some(scenario.clone()), "write"),
        (&app, Method::DELETE, "/api/v1/scenarios/s", None, "write"),
        (&app, Method::POST, "/api/v1/behaviors/dead_letters/replay", Some(json!({})), "write"),
        (&read, Method::POST, "/api/v1/recommend", Some(recommend.clone()), "recommend"),
        (&read, Method::POST, "/api/v1/behaviors", Some(click.clone()), "events"),
        (&read, Method::DELETE, "/api/v1/scenarios/s", None, "write"),
        (&admin, Method::POST, "/api/v1/recommend", Some(recommend.clone()), "recommend"),
    ];
    for (token, method, path, body, needed) in refused {
        let (status, challenge, answer) = call_as(&server, method.clone(), path, "u1", token, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("insufficient_scope")),
            "{method} {path}: {answer}"
        );
        assert!(answer["message"].as_str().unwrap().contains(&format!("`{needed}`")), "{method} {path}: {answer}");
        assert_eq!(challenge.as_deref(), Some("Bearer error=\"insufficient_scope\""), "{method} {path}");
    }
    // Nothing a refused request asked for happened.
    let (status, _, found) = call_as(&server, Method::GET, "/api/v1/scenarios/s", "u1", &read, None).await;
    assert_eq!((status, found["name"].as_str()), (StatusCode::OK, Some("changed")), "{found}");
    // `scp`, as some identity providers write scopes: a string or a list.
    let listed = signed(json!({"scp": ["read"]}));
    let (status, _, answer) = call_as(&server, Method::GET, "/api/v1/scenarios/s", "u1", &listed, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _, answer) =
        call_as(&server, Method::POST, "/api/v1/recommend", "u1", &listed, Some(recommend.clone())).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("insufficient_scope")), "{answer}");
    // With no `auth.user_claim` (the default), a `user_id` claim binds nothing.
    let unbound = signed(json!({"user_id": "u1"}));
    let (status, _, answer) =
        call_as(&server, Method::POST, "/api/v1/recommend", "u2", &unbound, Some(recommend)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // A scope that is not a string of names is a malformed token.
    let (status, _, answer) =
        call_as(&server, Method::GET, "/api/v1/scenarios", "u1", &sign(Some(json!(["read"]))), None).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{answer}");
}

/// A token bound to a user (its `user_id` claim), as one handed to that user's browser is, acts
/// for that user only: another user's recommendations, events or profile are refused, and a
/// batch takes only the bound user's events.
#[tokio::test]
async fn a_token_bound_to_a_user_acts_for_that_user_only() {
    let mut settings = checking_tokens();
    settings.auth.user_claim = "user_id".to_owned();
    let server = TestServer::start_with(settings).await;
    let admin = signed(json!({}));
    let scenario = json!({"scenario_id": "s", "scenario_type": "vlog", "config": config(&[("latest", 1.0, 10)])});
    let (status, _, body) = call_as(&server, Method::POST, "/api/v1/scenarios", "u1", &admin, Some(scenario)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let u1 = signed(json!({"user_id": "u1", "scope": "recommend events read"}));
    let mismatch = |(status, _, body): (StatusCode, Option<String>, Value), what: &str| {
        assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("user_mismatch")), "{what}: {body}");
    };

    let (status, _, body) =
        call_as(&server, Method::POST, "/api/v1/recommend", "u1", &u1, Some(json!({"scenario_id": "s"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    mismatch(
        call_as(&server, Method::POST, "/api/v1/recommend", "u2", &u1, Some(json!({"scenario_id": "s"}))).await,
        "recommend",
    );
    let (status, _, body) =
        call_as(&server, Method::POST, "/api/v1/behaviors", "u1", &u1, Some(event("click", "u1", "i1", "s"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    mismatch(
        call_as(&server, Method::POST, "/api/v1/behaviors", "u1", &u1, Some(event("click", "u2", "i1", "s"))).await,
        "event",
    );
    let batch = json!({"events": [event("click", "u1", "i2", "s"), event("click", "u2", "i2", "s")]});
    let (status, _, report) = call_as(&server, Method::POST, "/api/v1/behaviors/batch", "u1", &u1, Some(batch)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["accepted"], 1, "{report}");
    assert_eq!(report["errors"][0]["index"], 1, "{report}");
    assert_eq!(report["errors"][0]["code"], "user_mismatch", "{report}");
    // Another user's profile, also spelled with percent-escapes.
    for path in ["/api/v1/scenarios/s/users/u2/profile", "/api/v1/scenarios/s/users/u%32/profile"] {
        mismatch(call_as(&server, Method::GET, path, "u1", &u1, None).await, path);
    }
    let (status, _, body) =
        call_as(&server, Method::GET, "/api/v1/scenarios/s/users/u1/profile", "u1", &u1, None).await;
    assert_ne!(status, StatusCode::FORBIDDEN, "its own profile: {body}");
    // Only u1's two events were taken.
    server.settle().await;
    let (_, _, stats) = call_as(&server, Method::GET, "/api/v1/behaviors/stats", "u1", &admin, None).await;
    assert_eq!(stats["events"], 2, "{stats}");
    // Without a scope a bound token may recommend and send events only.
    let bare = signed(json!({"user_id": "u1"}));
    let (status, _, body) =
        call_as(&server, Method::POST, "/api/v1/recommend", "u1", &bare, Some(json!({"scenario_id": "s"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (method, path) in [(Method::GET, "/api/v1/scenarios"), (Method::DELETE, "/api/v1/scenarios/s")] {
        let (status, _, body) = call_as(&server, method.clone(), path, "u1", &bare, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("insufficient_scope")),
            "{method} {path}: {body}"
        );
    }
    // A user claim that is not a user id is a malformed token.
    for bad in [json!({"user_id": 7}), json!({"user_id": "a:b"})] {
        let token = signed(bad.clone());
        let (status, _, body) = call_as(&server, Method::GET, "/api/v1/scenarios", "u1", &token, None).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{bad}: {body}");
    }
}

#[tokio::test]
async fn an_rs256_only_server_refuses_hs256_tokens_signed_with_its_public_key() {
    let mut settings = ServerConfig::default();
    settings.auth.rs256_public_key_file = PUBLIC_PEM.to_owned();
    let server = TestServer::start_with(settings).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    // The classic algorithm confusion: HMAC keyed with the (public) RSA key.
    let public = std::fs::read(PUBLIC_PEM).unwrap();
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"tenant_id": "t1", "exp": now / 1000 + 3600}),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    let (status, body, _) = list_as(&server, "t1", Some(format!("Bearer {confused}"))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{body}");
    let (status, _, _) =
        list_as(&server, "t1", Some(format!("Bearer {}", token(Algorithm::RS256, "t1", now + 3_600_000)))).await;
    assert_eq!(status, StatusCode::OK);
}

fn base64_url(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn registry(entries: &[(&str, TenantStatus, Option<Quota>)]) -> ServerConfig {
    let mut settings = ServerConfig::default();
    for (id, status, quota) in entries {
        settings
            .tenancy
            .tenants
            .insert((*id).to_owned(), TenantEntry { name: format!("{id} inc"), status: *status, quota: *quota });
    }
    settings
}

#[tokio::test]
async fn the_registry_suspends_tenants_and_can_refuse_unknown_ones() {
    let mut settings = registry(&[("good", TenantStatus::Active, None), ("bad", TenantStatus::Suspended, None)]);
    settings.tenancy.allow_unknown_tenants = false;
    let server = TestServer::start_with(settings).await;
    let (status, _) = server.get("good", "/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server.get("bad", "/api/v1/scenarios").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("tenant_suspended")), "{body}");
    let (status, body) = server.get("stranger", "/api/v1/scenarios").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("unknown_tenant")), "{body}");
}

#[tokio::test]
async fn unknown_statuses_and_dot_ids_are_refused() {
    // A status the registry file names that polyrec does not know parses as unknown.
    let mut settings = registry(&[("gone", TenantStatus::parse("deleted"), None)]);
    settings.tenancy.allow_unknown_tenants = true;
    let server = TestServer::start_with(settings).await;
    let (status, body) = server.get("gone", "/api/v1/scenarios").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("tenant_status_unknown")), "{body}");
    for dots in [".", ".."] {
        let (status, body) = server.get(dots, "/api/v1/scenarios").await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_tenant_id")), "{body}");
    }
}

#[tokio::test]
async fn tokens_not_yet_valid_or_for_another_issuer_or_audience_are_refused() {
    let mut settings = checking_tokens();
    settings.auth.issuer = "https://auth.example".to_owned();
    settings.auth.audience = "polyrec".to_owned();
    settings.auth.leeway_seconds = 0;
    let server = TestServer::start_with(settings).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let sign = |claims: Value| {
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        format!("Bearer {}", jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap())
    };
    let good = json!({"tenant_id": "t1", "exp": now + 3600, "iss": "https://auth.example", "aud": "polyrec"});
    let (status, body, _) = list_as(&server, "t1", Some(sign(good.clone()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut cases = Vec::new();
    let mut early = good.clone();
    early["nbf"] = json!(now + 600);
    cases.push((early, "not valid yet"));
    let mut issuer = good.clone();
    issuer["iss"] = json!("https://evil.example");
    cases.push((issuer, "`iss`"));
    let mut audience = good.clone();
    audience["aud"] = json!("another-service");
    cases.push((audience, "`aud`"));
    let mut no_issuer = good.clone();
    no_issuer.as_object_mut().unwrap().remove("iss");
    cases.push((no_issuer, "iss"));
    for (claims, says) in cases {
        let (status, body, _) = list_as(&server, "t1", Some(sign(claims.clone()))).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token")),
            "{claims}: {body}"
        );
        assert!(body["message"].as_str().unwrap().contains(says), "{claims}: {body}");
    }
}

#[tokio::test]
async fn refusals_are_held_back_outside_the_request_slots() {
    if split_topology() {
        return; // The slots are the recommendation service's, behind the test gateway.
    }
    let tight = Quota { recommend_per_second: 1.0, events_per_second: 10.0, ..Quota::default() };
    let mut settings = registry(&[("small", TenantStatus::Active, Some(tight))]);
    settings.limits.max_concurrent_requests = 2;
    settings.limits.refusal_delay_ms = 60_000;
    let server = Arc::new(TestServer::start_with(settings).await);
    for tenant in ["small", "other"] {
        server.scenario(tenant, "feed", config(&[("latest", 1.0, 10)])).await;
    }
    let (status, _) = server.recommend("small", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::OK, "the first recommend of the second");
    // More refusals than the server has request slots, each held back for a minute.
    let held: Vec<_> = (0..4)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move { server.recommend("small", "u1", json!({"scenario_id": "feed"})).await.0 })
        })
        .collect();
    for _ in 0..500 {
        if server.app.refusals_held() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.app.refusals_held(), 4, "the four refusals are held back");
    // A batch larger than the tokens left passes the early check and is refused by the
    // handler: held back all the same, once its slot is given back.
    let events: Vec<Value> = (0..5).map(|_| event("click", "u1", "i1", "feed")).collect();
    let (status, _) = server.post("small", "/api/v1/behaviors/batch", json!({"events": events})).await;
    assert_eq!(status, StatusCode::OK, "5 of the 10 tokens");
    let events: Vec<Value> = (0..8).map(|_| event("click", "u1", "i1", "feed")).collect();
    let batch = {
        let server = server.clone();
        tokio::spawn(async move { server.post("small", "/api/v1/behaviors/batch", json!({"events": events})).await.0 })
    };
    for _ in 0..500 {
        if server.app.refusals_held() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.app.refusals_held(), 5, "the batch's refusal is held back too");
    assert_eq!(server.app.requests_in_flight(), 0, "and none takes a request slot");
    // So another tenant is served at once, not shed.
    let (status, body) = server.recommend("other", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(held.iter().all(|h| !h.is_finished()), "the refusals are still held back");
    assert!(!batch.is_finished());
    batch.abort();
    for h in held {
        h.abort();
    }
}

#[tokio::test]
async fn a_tenant_past_its_quota_is_refused_before_its_body_is_read_and_analytics_have_a_rate() {
    let tight =
        Quota { events_per_second: 10.0, recommend_per_second: 1.0, analytics_per_second: 1.0, ..Quota::default() };
    let server = TestServer::start_with(registry(&[("small", TenantStatus::Active, Some(tight))])).await;
    server.scenario("small", "feed", config(&[("latest", 1.0, 10)])).await;
    let events: Vec<Value> = (0..10).map(|_| event("click", "u1", "i1", "feed")).collect();
    let (status, body) = server.post("small", "/api/v1/behaviors/batch", json!({"events": events})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The bucket is empty (the clock does not move): a body that is not even JSON is refused for
    // the quota — it was never read — where a tenant with room gets the parse error.
    for (tenant, expected) in [("small", StatusCode::TOO_MANY_REQUESTS), ("roomy", StatusCode::BAD_REQUEST)] {
        let response = server
            .client
            .post(format!("{}/api/v1/behaviors/batch", server.url))
            .header("X-Tenant-Id", tenant)
            .header("Content-Type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{tenant}");
        if expected == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "rate_limited", "{body}");
        }
    }
    let (status, _) = server.recommend("small", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::OK, "the first recommend of the second");
    let (status, _) = server.recommend("small", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Analytics queries have a rate of their own.
    let (status, body) = server.get("small", "/api/v1/analytics/dashboard").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server.get("small", "/api/v1/analytics/funnel?scenario_id=feed").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("analytics queries"), "{body}");
    // An experiment's results are a warehouse query too, on the same rate (refused before the
    // experiment is looked up: this one does not exist). Buckets are per process: in the split
    // deployment the scenario service answers results, and its first query spends its bucket.
    let path = "/api/v1/scenarios/feed/experiments/nope/results";
    if split_topology() {
        let (status, body) = server.get("small", path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let (status, body) = server.get("small", path).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{body}");
    let (status, body) = server.get("roomy", path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

/// The quota check that runs before a body is read admits the tenant first, token and all: a
/// caller without the tenant's token gets its own `401`/`403`, never the tenant's `429` (which
/// would tell it the tenant's quota and how busy it is right now).
#[tokio::test]
async fn only_the_tenants_own_callers_see_its_quota_refusals() {
    let tight = Quota { recommend_per_second: 1.0, events_per_second: 1.0, ..Quota::default() };
    let mut settings = registry(&[("small", TenantStatus::Active, Some(tight))]);
    settings.auth.hs256_secret = SECRET.to_owned();
    let server = TestServer::start_with(settings).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let own = format!("Bearer {}", token(Algorithm::HS256, "small", now + 3_600_000));
    let send = |path: &str, body: Value, authorization: Option<&str>| {
        let mut request = server
            .client
            .post(format!("{}{path}", server.url))
            .header("X-Tenant-Id", "small")
            .header("X-User-Id", "u1")
            .json(&body);
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let scenario = json!({"scenario_id": "feed", "scenario_type": "vlog", "config": config(&[("latest", 1.0, 10)])});
    let (status, body) = send("/api/v1/scenarios", scenario, Some(&own)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let recommend = json!({"scenario_id": "feed"});
    let click = event("click", "u1", "i1", "feed");
    for (path, body) in [("/api/v1/recommend", &recommend), ("/api/v1/behaviors", &click)] {
        let (status, answer) = send(path, body.clone(), Some(&own)).await;
        assert!(status.is_success(), "{path}: {answer}");
        let (status, answer) = send(path, body.clone(), Some(&own)).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{path}");
        let stranger = format!("Bearer {}", token(Algorithm::HS256, "other", now + 3_600_000));
        for (authorization, expected, code) in [
            (None, StatusCode::UNAUTHORIZED, "missing_token"),
            (Some("Bearer not.a.jwt"), StatusCode::UNAUTHORIZED, "invalid_token"),
            (Some(stranger.as_str()), StatusCode::FORBIDDEN, "tenant_mismatch"),
        ] {
            let (status, answer) = send(path, body.clone(), authorization).await;
            assert_eq!((status, answer["code"].as_str()), (expected, Some(code)), "{path} {authorization:?}: {answer}");
        }
    }
}

#[tokio::test]
async fn quotas_are_rate_limits_with_retry_after_and_counts() {
    let tight = Quota {
        recommend_per_second: 2.0,
        events_per_second: 10.0,
        max_scenarios: 1,
        max_items: 2,
        ..Quota::default()
    };
    let mut settings = registry(&[("small", TenantStatus::Active, Some(tight))]);
    settings.tenancy.default_quota = Quota { recommend_per_second: 1000.0, ..Quota::default() };
    let server = TestServer::start_with(settings).await;
    for tenant in ["small", "big"] {
        server.scenario(tenant, "feed", config(&[("latest", 1.0, 10)])).await;
    }
    // Scenarios and items: counts.
    let (status, body) = server
        .post(
            "small",
            "/api/v1/scenarios",
            json!({"scenario_id": "more", "scenario_type": "vlog", "config": config(&[("latest", 1.0, 10)])}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("quota_exceeded")), "{body}");
    for (i, expected) in [StatusCode::CREATED, StatusCode::CREATED, StatusCode::FORBIDDEN].into_iter().enumerate() {
        let (status, body) = server
            .post("small", "/api/v1/scenarios/feed/items", json!({"item_id": format!("i{i}"), "metadata": {}}))
            .await;
        assert_eq!(status, expected, "item {i}: {body}");
    }

    let upload =
        "{\"item_id\": \"i0\", \"metadata\": {\"title\": \"again\"}}\n{\"item_id\": \"i9\", \"metadata\": {}}\n";
    let response = server
        .client
        .post(format!("{}/api/v1/scenarios/feed/items/bulk", server.url))
        .header("X-Tenant-Id", "small")
        .body(upload)
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    assert_eq!((report["updated"].as_u64(), report["rejected"].as_u64()), (Some(1), Some(1)), "{report}");
    assert_eq!(report["errors"][0]["code"], "quota_exceeded", "an update passes, a new item does not: {report}");

    // Recommend: a second's worth (2) at once, then 429 with Retry-After until the clock moves.
    for _ in 0..2 {
        let (status, body) = server.recommend("small", "u1", json!({"scenario_id": "feed"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let response = server
        .client
        .post(format!("{}/api/v1/recommend", server.url))
        .header("X-Tenant-Id", "small")
        .header("X-User-Id", "u1")
        .json(&json!({"scenario_id": "feed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited", "{body}");
    let (status, _) = server.recommend("big", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::OK, "another tenant's quota is its own");
    server.clock.advance_ms(500);
    let (status, _) = server.recommend("small", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::OK, "half a second refills one request");

    // Events: counted one by one, batches included.
    let batch: Vec<Value> = (0..10).map(|_| event("click", "u1", "i0", "feed")).collect();
    server.events("small", batch.clone()).await;
    let (status, body) = server.post("small", "/api/v1/behaviors", event("click", "u1", "i0", "feed")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{body}");
    let (status, body) = server.post("small", "/api/v1/behaviors/batch", json!({"events": batch})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    server.clock.advance_ms(1_000);
    let (status, body) = server.post("small", "/api/v1/behaviors/batch", json!({"events": batch})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let _ = START_MS;
}

/// How the fake services behave.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Answer,
    /// Never answers.
    Hang,
    /// Answers after this long.
    Slow(Duration),
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    /// The user service's own mode, when it differs from the tenant service's.
    user_mode: Arc<Mutex<Option<Mode>>>,
    /// A tenant the user service fails for (UNAVAILABLE at once), the others answered.
    failing_tenant: Arc<Mutex<Option<&'static str>>>,
    /// The user service's calls by tenant.
    user_calls_by_tenant: Arc<Mutex<HashMap<String, usize>>>,
    tenant_calls: Arc<AtomicUsize>,
    user_calls: Arc<AtomicUsize>,
    tenants: Arc<HashMap<&'static str, proto::GetTenantConfigResponse>>,
    users: Arc<HashMap<&'static str, HashMap<String, String>>>,
}

impl Fake {
    async fn behave(&self) {
        let mode = *self.mode.lock();
        Self::act(mode).await
    }

    async fn behave_as_user_service(&self) {
        let mode = self.user_mode.lock().unwrap_or(*self.mode.lock());
        Self::act(mode).await
    }

    async fn act(mode: Mode) {
        match mode {
            Mode::Answer => {}
            Mode::Hang => std::future::pending::<()>().await,
            Mode::Slow(delay) => tokio::time::sleep(delay).await,
        }
    }
}

#[tonic::async_trait]
impl proto::tenant_service_server::TenantService for Fake {
    async fn get_tenant_config(
        &self,
        request: tonic::Request<proto::GetTenantConfigRequest>,
    ) -> Result<tonic::Response<proto::GetTenantConfigResponse>, tonic::Status> {
        self.tenant_calls.fetch_add(1, Ordering::SeqCst);
        self.behave().await;
        let id = request.into_inner().tenant_id;
        match self.tenants.get(id.as_str()) {
            Some(answer) => Ok(tonic::Response::new(answer.clone())),
            None => Err(tonic::Status::not_found(format!("no tenant {id}"))),
        }
    }
}

#[tonic::async_trait]
impl proto::user_service_server::UserService for Fake {
    async fn get_user_info(
        &self,
        request: tonic::Request<proto::GetUserInfoRequest>,
    ) -> Result<tonic::Response<proto::GetUserInfoResponse>, tonic::Status> {
        self.user_calls.fetch_add(1, Ordering::SeqCst);
        let request = request.into_inner();
        *self.user_calls_by_tenant.lock().entry(request.tenant_id.clone()).or_default() += 1;
        if *self.failing_tenant.lock() == Some(request.tenant_id.as_str()) {
            return Err(tonic::Status::unavailable("this tenant's user directory is down"));
        }
        self.behave_as_user_service().await;
        match self.users.get(request.user_id.as_str()) {
            Some(profile) => Ok(tonic::Response::new(proto::GetUserInfoResponse {
                user_id: request.user_id,
                profile: profile.clone(),
                status: "active".into(),
            })),
            None => Err(tonic::Status::not_found("no such user")),
        }
    }
}

/// The fake tenant and user services on a loopback port, until the returned sender fires.
/// Stops the fake tenant and user services: [`Stop::now`] returns once their listener is closed.
struct Stop {
    signal: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Stop {
    async fn now(self) {
        let _ = self.signal.send(());
        self.server.await.unwrap().unwrap();
    }
}

async fn start_fake() -> (Fake, String, Stop) {
    let tenant = |name: &str, status: &str, recommend_per_second: f64| proto::GetTenantConfigResponse {
        tenant_id: name.into(),
        tenant_name: format!("{name} inc"),
        quota: Some(proto::TenantQuota { recommend_per_second, ..Default::default() }),
        status: status.into(),
    };
    let fake = Fake {
        mode: Arc::new(Mutex::new(Mode::Answer)),
        user_mode: Arc::default(),
        failing_tenant: Arc::default(),
        user_calls_by_tenant: Arc::default(),
        tenant_calls: Arc::default(),
        user_calls: Arc::default(),
        tenants: Arc::new(HashMap::from([
            ("acme", tenant("acme", "active", 1.0)),
            ("shady", tenant("shady", "suspended", 0.0)),
        ])),
        users: Arc::new(HashMap::from([("u1", HashMap::from([("location".to_owned(), "lyon".to_owned())]))])),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = tonic::transport::Server::builder()
        .add_service(proto::tenant_service_server::TenantServiceServer::new(fake.clone()))
        .add_service(proto::user_service_server::UserServiceServer::new(fake.clone()));
    let server = tokio::spawn(router.serve_with_incoming_shutdown(
        tonic::transport::server::TcpIncoming::from(listener),
        async {
            let _ = stopped.await;
        },
    ));
    (fake, url, Stop { signal: stop, server })
}

fn with_services(url: &str) -> ServerConfig {
    let mut settings = ServerConfig::default();
    settings.tenancy.tenant_service = url.to_owned();
    settings.tenancy.user_service = url.to_owned();
    settings.tenancy.timeout_ms = 300;
    settings.tenancy.retries = 1;
    settings.tenancy.backoff_ms = 10;
    settings
}

#[tokio::test]
async fn the_tenant_service_decides_status_and_quota_and_is_asked_once_an_hour() {
    let (fake, url, _stop) = start_fake().await;
    let server = TestServer::start_with(with_services(&url)).await;
    server.scenario("acme", "feed", config(&[("latest", 1.0, 10)])).await;
    let (status, body) = server.get("shady", "/api/v1/scenarios").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("tenant_suspended")), "{body}");
    let (status, _) = server.get("newcomer", "/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::OK, "unknown to the service: the default quota");
    // acme's quota from the service: one recommend a second.
    let (status, _) = server.recommend("acme", "u9", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server.recommend("acme", "u9", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let calls = fake.tenant_calls.load(Ordering::SeqCst);
    if split_topology() {
        // Each process caches on its own: scenario service 3, and acme once more in each of the
        // recommendation, item and feature services a recommend reaches.
        assert_eq!(calls, 6, "one call per tenant and process, then the cache");
    } else {
        assert_eq!(calls, 3, "one call per tenant, then the cache");
    }
    server.clock.advance_ms(1_001);
    let (status, _) = server.get("shady", "/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server.recommend("acme", "u9", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fake.tenant_calls.load(Ordering::SeqCst), calls, "answered from the cache");
    server.clock.advance_ms(3_601_000);
    let (status, _) = server.recommend("acme", "u9", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::OK);
    let asked = fake.tenant_calls.load(Ordering::SeqCst) - calls;
    // All-in-one, the one process asks. Split, the recommendation service and the scenario
    // service it asks for the scenario's experiments; the catalog and the profile are cached, so
    // the item and feature services are not reached again.
    assert_eq!(asked, if split_topology() { 2 } else { 1 }, "asked again after an hour");
}

#[tokio::test]
async fn a_tenant_service_that_goes_down_is_served_from_the_cache() {
    let (_fake, url, stop) = start_fake().await;
    let server = TestServer::start_with(with_services(&url)).await;
    let (status, _) = server.get("acme", "/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server.get("shady", "/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Down, not slow: the fake's listener is closed before the cache expires.
    stop.now().await;
    server.clock.advance_ms(7_200_000);
    let (status, _) = server.get("acme", "/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::OK, "stale but served");
    let (status, body) = server.get("shady", "/api/v1/scenarios").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("tenant_suspended")), "still suspended");
    let (status, _) = server.get("newcomer", "/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::OK, "nothing cached: served with the default quota (when_unreachable = serve)");

    let mut refusing = with_services(&url);
    refusing.tenancy.when_unreachable = Unreachable::Refuse;
    let strict = TestServer::start_with(refusing).await;
    let (status, body) = strict.get("acme", "/api/v1/scenarios").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")), "{body}");
}

#[tokio::test]
async fn a_hanging_tenant_service_costs_deadlines_and_a_retry_then_the_request_goes_on() {
    let (fake, url, _stop) = start_fake().await;
    *fake.mode.lock() = Mode::Hang;
    let server = TestServer::start_with(with_services(&url)).await;
    let (status, _) = server.get("acme", "/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::OK, "served with the default quota");
    assert_eq!(fake.tenant_calls.load(Ordering::SeqCst), 2, "the call and one retry, each cut at its deadline");
}

#[tokio::test]
async fn a_slow_tenant_service_within_the_deadline_is_waited_for() {
    let (fake, url, _stop) = start_fake().await;
    *fake.mode.lock() = Mode::Slow(Duration::from_millis(100));
    let server = TestServer::start_with(with_services(&url)).await;
    let (status, body) = server.get("shady", "/api/v1/scenarios").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("tenant_suspended")), "{body}");
    assert_eq!(fake.tenant_calls.load(Ordering::SeqCst), 1, "no retry");
}

#[tokio::test]
async fn the_user_services_location_feeds_location_match_and_the_events() {
    let (fake, url, _stop) = start_fake().await;
    let server = TestServer::start_with(with_services(&url)).await;
    let mut rules = config(&[("latest", 1.0, 10)]);
    rules["rerank"] = json!({"rules": [{"name": "location_match", "weight": 1.0}]});
    server.scenario("acme", "feed", rules).await;
    server
        .items(
            "acme",
            "feed",
            &[
                ("paris", json!({"location": "paris", "publish_time": START_MS - 1_000})),
                ("lyon", json!({"location": "lyon", "publish_time": START_MS - 2_000})),
            ],
        )
        .await;
    let first = |answer: &Value| answer["items"][0]["item_id"].as_str().unwrap().to_owned();
    // u2 is unknown to the user service: the newest item leads.
    server.clock.advance_ms(1_000);
    let (status, answer) = server.recommend("acme", "u2", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(first(&answer), "paris");
    // u1 lives in Lyon, says the user service.
    server.clock.advance_ms(1_000);
    let (_, answer) = server.recommend("acme", "u1", json!({"scenario_id": "feed"})).await;
    assert_eq!(first(&answer), "lyon", "{answer}");
    // The request's own location wins over the service's.
    server.clock.advance_ms(1_000);
    let (_, answer) =
        server.recommend("acme", "u1", json!({"scenario_id": "feed", "context": {"location": "paris"}})).await;
    assert_eq!(first(&answer), "paris", "{answer}");
    assert_eq!(fake.user_calls.load(Ordering::SeqCst), 2, "u1 and u2 once each, then the cache");
    // Events carry the user's fields for the rankers' training.
    server.clock.advance_ms(1_000);
    server.events("acme", vec![event("click", "u1", "lyon", "feed")]).await;
    server.settle().await;
    let scenario = polyrec_core::ScenarioId::parse("feed").unwrap();
    let tenant = polyrec_core::TenantId::parse("acme").unwrap();
    let rows = server
        .app
        .stores()
        .warehouse
        .behaviors(&tenant, &scenario, 0, &[polyrec_core::EventType::Click], 10)
        .await
        .unwrap();
    assert_eq!(rows[0].context["location"], "lyon");

    // The user service down: nothing is lost but the fields.
    *fake.mode.lock() = Mode::Hang;
    server.clock.advance_ms(1_000);
    let (status, answer) = server.recommend("acme", "u3", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// With the user service hanging, a 1,000-event batch of 1,000 users costs one deadline, not one
/// per user: the lookups run at once, the breaker opens after a few failures, and the rest go
/// without information. Recommend then makes no call until the breaker's window has passed, and
/// one (the probe) when it has.
/// The user service failing for one tenant's users opens that tenant's breaker alone: the other
/// tenants' lookups go on.
#[tokio::test]
async fn a_user_service_failing_for_one_tenant_opens_that_tenants_breaker_alone() {
    let (fake, url, _stop) = start_fake().await;
    *fake.failing_tenant.lock() = Some("beta");
    let mut settings = with_services(&url);
    settings.tenancy.user_breaker_open_seconds = 600;
    settings.tenancy.retries = 0;
    let failures = settings.tenancy.user_breaker_failures as usize;
    let server = TestServer::start_with(settings).await;
    // Both unknown to the tenant service: the default quota, no rate limit in the way.
    for tenant in ["beta", "gamma"] {
        server.scenario(tenant, "feed", config(&[("latest", 1.0, 10)])).await;
        server.items(tenant, "feed", &[("i1", json!({"category": "a"}))]).await;
    }
    let calls = |tenant: &str| fake.user_calls_by_tenant.lock().get(tenant).copied().unwrap_or(0);
    for u in 0..failures + 10 {
        let (status, _) = server.recommend("beta", &format!("b{u}"), json!({"scenario_id": "feed"})).await;
        assert_eq!(status, StatusCode::OK, "recommend answers without the user's information");
    }
    // beta's breaker opened after its failures (split: the recommendation service's own breaker
    // and the others' — each at most that many).
    let beta = calls("beta");
    assert!((failures..failures + 10).contains(&beta), "{beta} lookups for beta: its breaker opened");
    // gamma's lookups are not refused by beta's open breaker.
    for u in 0..10 {
        let (status, _) = server.recommend("gamma", &format!("g{u}"), json!({"scenario_id": "feed"})).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(calls("gamma"), 10, "every new gamma user looked up");
    assert_eq!(calls("beta"), beta, "beta's breaker is still open");
}

#[tokio::test]
async fn a_hanging_user_service_costs_a_batch_one_deadline_then_its_breaker_opens() {
    let (fake, url, _stop) = start_fake().await;
    *fake.user_mode.lock() = Some(Mode::Hang);
    let mut settings = with_services(&url);
    settings.tenancy.user_breaker_open_seconds = 5;
    let failures = settings.tenancy.user_breaker_failures as usize;
    let deadline = Duration::from_millis(settings.tenancy.timeout_ms);
    let server = TestServer::start_with(settings).await;
    // "beta" is unknown to the tenant service: the default quota, no rate limit in the way.
    server.scenario("beta", "feed", config(&[("latest", 1.0, 10)])).await;
    server.items("beta", "feed", &[("i1", json!({"category": "a"}))]).await;

    let batch: Vec<Value> = (0..1_000).map(|u| event("click", &format!("u{u}"), "i1", "feed")).collect();
    let started = std::time::Instant::now();
    let (status, report) = server.post("beta", "/api/v1/behaviors/batch", json!({"events": batch})).await;
    let took = started.elapsed();
    assert_eq!((status, report["accepted"].as_u64()), (StatusCode::OK, Some(1_000)), "{report}");
    let calls = fake.user_calls.load(Ordering::SeqCst);
    // One wave of concurrent lookups (each maybe retried once), then the breaker refused the rest.
    assert!(calls <= 2 * 32, "{calls} lookups for one batch");
    // Looked up one after another, the batch would take 1,000 deadlines (and their retries).
    assert!(took < deadline * 20, "the batch took {took:?} with a {deadline:?} deadline");

    // Recommend: each request costs at most one deadline until the breaker is open (split, the
    // recommendation service has a breaker of its own), then nothing.
    for u in 0..failures {
        let (status, _) = server.recommend("beta", &format!("r{u}"), json!({"scenario_id": "feed"})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let before = fake.user_calls.load(Ordering::SeqCst);
    for u in 0..20 {
        let (status, _) = server.recommend("beta", &format!("open{u}"), json!({"scenario_id": "feed"})).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(fake.user_calls.load(Ordering::SeqCst), before, "no lookup while the breaker is open");

    // Once its window has passed, one request probes the service; the probe fails, it opens again.
    let mut u = 0;
    let probes = loop {
        u += 1;
        let (status, _) = server.recommend("beta", &format!("probe{u}"), json!({"scenario_id": "feed"})).await;
        assert_eq!(status, StatusCode::OK);
        let calls = fake.user_calls.load(Ordering::SeqCst) - before;
        if calls > 0 {
            break calls;
        }
        assert!(u < 600, "the breaker never let a probe through");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(probes <= 2, "one probe (and its retry): {probes}");
    let after = fake.user_calls.load(Ordering::SeqCst);
    let (status, _) = server.recommend("beta", "after-probe", json!({"scenario_id": "feed"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fake.user_calls.load(Ordering::SeqCst), after, "open again after the failed probe");
}

#[tokio::test]
async fn scenarios_created_at_once_stop_at_the_quota() {
    let quota = Quota { max_scenarios: 3, ..Quota::default() };
    let server = TestServer::start_with(registry(&[("small", TenantStatus::Active, Some(quota))])).await;
    // Twenty creates at once: without a lock, each counted before any had inserted (all twenty
    // were created).
    let creates = (0..20).map(|n| {
        let body =
            json!({"scenario_id": format!("s{n}"), "scenario_type": "vlog", "config": config(&[("latest", 1.0, 10)])});
        server.post("small", "/api/v1/scenarios", body)
    });
    let answers = futures::future::join_all(creates).await;
    let created = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    for (status, body) in &answers {
        assert!(*status == StatusCode::CREATED || body["code"] == "quota_exceeded", "{status} {body}");
    }
    let (_, list) = server.get("small", "/api/v1/scenarios").await;
    let held = list["scenarios"].as_array().unwrap().len();
    assert!(held <= 3, "{held} scenarios past a quota of 3");
    assert_eq!(held, created, "every 201 is a scenario held, every other was taken back");
    // In one process the count and the insert are one step per tenant: exactly the quota.
    assert_eq!(created, 3, "creates at once refused while the quota had room");
}

#[tokio::test]
async fn items_created_at_once_stop_at_the_quota() {
    let quota = Quota { max_items: 3, ..Quota::default() };
    let server = TestServer::start_with(registry(&[("small", TenantStatus::Active, Some(quota))])).await;
    server.scenario("small", "feed", config(&[("latest", 1.0, 10)])).await;
    let creates = (0..12).map(|n| {
        server.post("small", "/api/v1/scenarios/feed/items", json!({"item_id": format!("i{n}"), "metadata": {}}))
    });
    let answers = futures::future::join_all(creates).await;
    for (status, body) in &answers {
        assert!(*status == StatusCode::CREATED || body["code"] == "quota_exceeded", "{status} {body}");
    }
    let created = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    assert_eq!(created, 3, "creates at once each passed the count before any had written");
    let (_, page) = server.get("small", "/api/v1/scenarios/feed/items").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3, "{page}");
}
