//! `polyrec demo`: a demo tenant with the specification's two example scenarios (their heuristic
//! variants, which answer before any training and in every build) and synthetic users whose tastes differ, so the first
//! recommend call already answers from collaborative filtering and the users' profiles.

use anyhow::{Context, bail};
use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const VLOG: &str = include_str!("../../../examples/scenarios/vlog_main_feed.heuristic.json");
const NEWS: &str = include_str!("../../../examples/scenarios/news_main_feed.heuristic.json");

const CATEGORIES: [&str; 8] = ["sports", "music", "cooking", "travel", "tech", "comedy", "news", "gaming"];
const LOCATIONS: [&str; 5] = ["paris", "berlin", "tokyo", "austin", "lagos"];

#[derive(Args)]
pub struct DemoArgs {
    /// The polyrec server.
    #[arg(long, default_value = "http://127.0.0.1:8000", env = "POLYREC_URL")]
    url: String,
    #[arg(long, default_value = "demo")]
    tenant: String,
    #[arg(long, default_value_t = 400)]
    items: usize,
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Events per user and scenario.
    #[arg(long, default_value_t = 40)]
    events_per_user: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

struct Client {
    http: reqwest::Client,
    url: String,
    tenant: String,
}

impl Client {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.url)).header("X-Tenant-Id", &self.tenant);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response =
            request.send().await.with_context(|| format!("cannot reach {} (is `polyrec serve` running?)", self.url))?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let (status, answer) = self.send(method, path, body).await?;
        if !(200..300).contains(&status) {
            bail!("{path} answered {status}: {answer}");
        }
        Ok(answer)
    }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let client = Client {
        http: reqwest::Client::new(),
        url: args.url.trim_end_matches('/').to_owned(),
        tenant: args.tenant.clone(),
    };
    let mut rng = StdRng::seed_from_u64(args.seed);
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;

    for text in [VLOG, NEWS] {
        let scenario: Value = serde_json::from_str(text)?;
        let id = scenario["scenario_id"].as_str().unwrap_or_default().to_owned();
        let (status, answer) = client.send(reqwest::Method::POST, "/api/v1/scenarios", Some(&scenario)).await?;
        match status {
            201 => eprintln!("created scenario {id}"),
            409 => {
                client.ok(reqwest::Method::PUT, &format!("/api/v1/scenarios/{id}"), Some(&scenario)).await?;
                eprintln!("updated scenario {id}");
            }
            _ => bail!("creating {id} answered {status}: {answer}"),
        }
    }

    let mut vlog_items = String::new();
    let mut news_items = String::new();
    for i in 0..args.items {
        let category = CATEGORIES[i % CATEGORIES.len()];
        let age_s = rng.random_range(0..30 * 86_400);
        vlog_items.push_str(
            &json!({
                "item_id": format!("v{i}"),
                "metadata": {
                    "title": format!("{category} video {i}"),
                    "category": category,
                    "tags": [format!("{category}-{}", i % 3), format!("style-{}", i % 5)],
                    "duration": rng.random_range(15..600),
                    "completion_rate": (rng.random_range(10..95) as f64) / 100.0,
                    "publish_time": now_s - age_s,
                }
            })
            .to_string(),
        );
        vlog_items.push('\n');
        news_items.push_str(
            &json!({
                "item_id": format!("n{i}"),
                "metadata": {
                    "title": format!("{category} story {i}"),
                    "category": category,
                    "location": LOCATIONS[i % LOCATIONS.len()],
                    "hot_score": rng.random_range(0..100),
                    "publish_time": now_s - rng.random_range(0..3 * 86_400),
                }
            })
            .to_string(),
        );
        news_items.push('\n');
    }
    for (scenario, body) in [("vlog_main_feed", vlog_items), ("news_main_feed", news_items)] {
        let report = client
            .http
            .post(format!("{}/api/v1/scenarios/{scenario}/items/bulk", client.url))
            .header("X-Tenant-Id", &client.tenant)
            .header("Content-Type", "application/x-ndjson")
            .body(body)
            .send()
            .await?
            .json::<Value>()
            .await?;
        eprintln!(
            "{scenario}: items created {} updated {} rejected {}",
            report["created"], report["updated"], report["rejected"]
        );
    }

    // Each user likes two categories; most of their events are there.
    let mut events = Vec::new();
    for u in 0..args.users {
        let liked = [u % CATEGORIES.len(), (u / CATEGORIES.len() + u + 1) % CATEGORIES.len()];
        for (prefix, scenario, kinds) in
            [("v", "vlog_main_feed", ["play", "like", "share"]), ("n", "news_main_feed", ["click", "read", "share"])]
        {
            for _ in 0..args.events_per_user {
                let category = if rng.random_bool(0.85) {
                    liked[rng.random_range(0..2)]
                } else {
                    rng.random_range(0..CATEGORIES.len())
                };
                let slot = rng.random_range(0..args.items / CATEGORIES.len());
                let item = format!("{prefix}{}", slot * CATEGORIES.len() + category);
                let kind = kinds[if rng.random_bool(0.8) { 0 } else { rng.random_range(1..3) }];
                let value = if kind == "play" { json!(rng.random_range(5..300)) } else { Value::Null };
                let mut event = json!({
                    "event_type": kind,
                    "user_id": format!("user{u}"),
                    "item_id": item,
                    "scenario_id": scenario,
                    "timestamp": now_s - rng.random_range(0..7_200),
                });
                if !value.is_null() {
                    event["value"] = value;
                }
                events.push(event);
            }
        }
    }
    let mut accepted = 0;
    for chunk in events.chunks(5_000) {
        let report =
            client.ok(reqwest::Method::POST, "/api/v1/behaviors/batch", Some(&json!({"events": chunk}))).await?;
        accepted += report["accepted"].as_u64().unwrap_or(0);
    }
    eprintln!("events accepted: {accepted}");
    for scenario in ["vlog_main_feed", "news_main_feed"] {
        let report = client.ok(reqwest::Method::POST, &format!("/api/v1/scenarios/{scenario}/jobs/cf"), None).await?;
        eprintln!("{scenario}: collaborative filtering trained on {} interactions", report["interactions"]);
    }
    println!(
        "Demo ready. Try:\n  curl -s {url}/api/v1/recommend -H 'X-Tenant-Id: {tenant}' -H 'X-User-Id: user1' \\\n    -H 'Content-Type: application/json' -d '{{\"scenario_id\": \"vlog_main_feed\", \"count\": 5, \"explain\": true}}'",
        url = client.url,
        tenant = client.tenant
    );
    Ok(())
}
