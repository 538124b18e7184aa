//! `polyrec train`: starts a training job on a polyrec server and follows it with a progress
//! bar until it finishes, then prints the versions it registered with their offline metrics as
//! one JSON object. Exits non-zero when the server refuses the job or the job fails.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value, json};

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    scenario: String,
    /// A model to train: als, ease, lightgbm, deepfm, wide_deep (repeat for several)
    /// [default: every model the scenario's config uses].
    #[arg(long = "model")]
    models: Vec<String>,
    /// The polyrec server.
    #[arg(long, default_value = "http://127.0.0.1:8000", env = "POLYREC_URL")]
    url: String,
    /// Print the job's id and return without waiting for it.
    #[arg(long)]
    detach: bool,
}

async fn call(request: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
    let response = request.send().await.context("cannot reach the server")?;
    let status = response.status().as_u16();
    let body = response.json().await.context("the server's answer is not JSON")?;
    Ok((status, body))
}

fn refusal(status: u16, body: &Value) -> anyhow::Error {
    anyhow::anyhow!(
        "the server refused ({status} {}): {}",
        body["code"].as_str().unwrap_or("error"),
        body["message"].as_str().unwrap_or_default()
    )
}

pub async fn run(args: TrainArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_owned();
    let client = reqwest::Client::new();
    let get = |path: String| client.get(format!("{base}{path}")).header("X-Tenant-Id", &args.tenant);
    let start = client
        .post(format!("{base}/api/v1/scenarios/{}/jobs/train", args.scenario))
        .header("X-Tenant-Id", &args.tenant)
        .json(&json!({"models": args.models, "trigger": "cli"}));
    let (status, job) = call(start).await.with_context(|| format!("starting a training job at {base}"))?;
    if status != 202 {
        return Err(refusal(status, &job));
    }
    let job_id = job["job_id"].as_str().context("the server's job has no job_id")?.to_owned();
    if args.detach {
        println!("{}", json!({"job_id": job_id, "state": job["state"]}));
        return Ok(());
    }

    let bar = ProgressBar::new(1_000);
    bar.set_style(
        ProgressStyle::with_template("training [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let job = loop {
        let (status, job) = call(get(format!("/api/v1/jobs/{job_id}"))).await?;
        if status != 200 {
            bar.abandon();
            return Err(refusal(status, &job));
        }
        bar.set_position((job["progress"].as_f64().unwrap_or(0.0) * 1_000.0) as u64);
        bar.set_message(job["stage"].as_str().unwrap_or_default().to_owned());
        if job["state"] == "succeeded" || job["state"] == "failed" {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    bar.finish_and_clear();
    if job["state"] == "failed" {
        bail!("training job {job_id} failed: {}", job["error"].as_str().unwrap_or("no reason given"));
    }

    // The versions it registered, with their offline metrics.
    let (status, models) = call(get(format!("/api/v1/scenarios/{}/models", args.scenario))).await?;
    if status != 200 {
        return Err(refusal(status, &models));
    }
    let mut trained = Map::new();
    for model in models["models"].as_array().into_iter().flatten().filter(|m| m["job_id"] == job_id.as_str()) {
        let name = model["model_name"].as_str().unwrap_or_default().to_owned();
        trained.insert(
            name,
            json!({"version": model["model_version"], "status": model["status"], "metrics": model["metrics"]}),
        );
    }
    println!("{}", json!({"job_id": job_id, "state": job["state"], "data": job["data"], "models": trained}));
    Ok(())
}
