//! `polyrec import`: bulk loads through the HTTP API (the same checks as every other client),
//! with a progress bar.
//!
//! - items: the file is streamed to `POST /api/v1/scenarios/{id}/items/bulk` as NDJSON (a CSV
//!   file is converted row by row on the way), so a file of any size loads in bounded memory.
//! - events: batches of `--batch` events to `POST /api/v1/behaviors/batch`, `--concurrency` in
//!   flight; rejections are reported with the file's line number.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Subcommand, ValueEnum};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::csv_rows::{csv_event, csv_item, csv_reader, is_blank, record_line, trimmed_headers};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Ndjson,
    Csv,
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Items of one scenario from NDJSON (one item object per line) or CSV (an `item_id`
    /// column; `tags` split on '|'; other columns become metadata).
    Items {
        file: PathBuf,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        scenario: String,
        /// The polyrec server.
        #[arg(long, default_value = "http://127.0.0.1:8000", env = "POLYREC_URL")]
        url: String,
        /// Taken from the file's extension when not given.
        #[arg(long)]
        format: Option<Format>,
    },
    /// Historical behavior events from NDJSON (one event object per line) or CSV (columns
    /// event_type, user_id, item_id, scenario_id, timestamp, request_id, value; others go to
    /// `context`).
    Events {
        file: PathBuf,
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "http://127.0.0.1:8000", env = "POLYREC_URL")]
        url: String,
        #[arg(long)]
        format: Option<Format>,
        /// Events per request (at most the server's max_batch_events).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
}

pub async fn run(command: ImportCommand) -> anyhow::Result<()> {
    match command {
        ImportCommand::Items { file, tenant, scenario, url, format } => {
            let format = format.unwrap_or_else(|| guess_format(&file));
            import_items(&file, &tenant, &scenario, &url, format).await
        }
        ImportCommand::Events { file, tenant, url, format, batch, concurrency } => {
            if !(1..=10_000).contains(&batch) {
                bail!("--batch must be between 1 and 10000");
            }
            let format = format.unwrap_or_else(|| guess_format(&file));
            import_events(&file, &tenant, &url, format, batch, concurrency.max(1)).await
        }
    }
}

fn guess_format(file: &Path) -> Format {
    match file.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("csv") => Format::Csv,
        _ => Format::Ndjson,
    }
}

fn progress(total_bytes: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total_bytes);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{what} [{{elapsed_precise}}] {{wide_bar}} {{bytes}}/{{total_bytes}} ({{bytes_per_sec}}, eta {{eta}}) {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The file's length if its last byte is not a newline (see [`record_line`]).
fn unterminated_len(path: &Path) -> std::io::Result<Option<u64>> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok((last[0] != b'\n').then_some(len))
}

/// Reads `file` on a blocking thread and sends it on as NDJSON chunks; CSV rows are converted,
/// and the CSV header becomes an empty line so the server's line numbers are the file's.
fn ndjson_chunks(
    file: PathBuf,
    format: Format,
    bar: ProgressBar,
) -> tokio::sync::mpsc::Receiver<std::io::Result<Bytes>> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(16);
    std::thread::spawn(move || {
        let send = |chunk: std::io::Result<Bytes>| sender.blocking_send(chunk).is_ok();
        let opened = std::fs::File::open(&file);
        let mut input = match opened {
            Ok(input) => input,
            Err(error) => {
                send(Err(error));
                return;
            }
        };
        match format {
            Format::Ndjson => {
                let mut buffer = vec![0u8; 256 * 1024];
                loop {
                    match input.read(&mut buffer) {
                        Ok(0) => return,
                        Ok(n) => {
                            bar.inc(n as u64);
                            if !send(Ok(Bytes::copy_from_slice(&buffer[..n]))) {
                                return;
                            }
                        }
                        Err(error) => {
                            send(Err(error));
                            return;
                        }
                    }
                }
            }
            Format::Csv => {
                let unterminated = match unterminated_len(&file) {
                    Ok(unterminated) => unterminated,
                    Err(error) => {
                        send(Err(error));
                        return;
                    }
                };
                let mut reader = csv_reader(input);
                let headers = match trimmed_headers(&mut reader) {
                    Ok(headers) => headers,
                    Err(error) => {
                        send(Err(std::io::Error::other(error)));
                        return;
                    }
                };
                // The header is line 1; every record is written on the NDJSON line of the file
                // line it starts on (blank lines fill the gaps of skipped blank lines and
                // multi-line fields), so the server's line numbers are the file's.
                let mut chunk = b"\n".to_vec();
                let mut next_line = 2u64;
                let mut row = csv::StringRecord::new();
                loop {
                    match reader.read_record(&mut row) {
                        Ok(true) if is_blank(&row) => {}
                        Ok(true) => {
                            let line = record_line(&reader, &row, unterminated);
                            while next_line < line {
                                chunk.push(b'\n');
                                next_line += 1;
                            }
                            let item = csv_item(&headers, &row);
                            chunk.extend_from_slice(item.to_string().as_bytes());
                            chunk.push(b'\n');
                            next_line += 1;
                        }
                        Ok(false) => break,
                        Err(error) => {
                            // A broken row becomes a line the server rejects with its number.
                            let line = error.position().map(|p| p.line()).unwrap_or(next_line);
                            while next_line < line {
                                chunk.push(b'\n');
                                next_line += 1;
                            }
                            let text = format!("{{\"unreadable_csv_row\": {:?}}}\n", error.to_string());
                            chunk.extend_from_slice(text.as_bytes());
                            next_line += 1;
                        }
                    }
                    if chunk.len() >= 256 * 1024 {
                        bar.set_position(reader.position().byte());
                        if !send(Ok(Bytes::from(std::mem::take(&mut chunk)))) {
                            return;
                        }
                    }
                }
                bar.set_position(reader.position().byte());
                if !chunk.is_empty() {
                    send(Ok(Bytes::from(chunk)));
                }
            }
        }
    });
    receiver
}

async fn import_items(file: &Path, tenant: &str, scenario: &str, url: &str, format: Format) -> anyhow::Result<()> {
    let size = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?.len();
    let bar = progress(size, "items");
    let receiver = ndjson_chunks(file.to_owned(), format, bar.clone());
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let endpoint = format!("{}/api/v1/scenarios/{scenario}/items/bulk", url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&endpoint)
        .header("X-Tenant-Id", tenant)
        .header("Content-Type", "application/x-ndjson")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .with_context(|| format!("cannot reach {endpoint}"))?;
    bar.finish_and_clear();
    let status = response.status();
    let report: Value = response.json().await.context("the server's answer is not JSON")?;
    if !status.is_success() {
        bail!("the server refused the import ({status}): {}", report["message"].as_str().unwrap_or_default());
    }
    for error in report["errors"].as_array().into_iter().flatten() {
        eprintln!(
            "line {}: {} ({})",
            error["line"],
            error["message"].as_str().unwrap_or_default(),
            error["code"].as_str().unwrap_or_default()
        );
    }
    println!("{}", json!({"created": report["created"], "updated": report["updated"], "rejected": report["rejected"]}));
    Ok(())
}

/// A batch of events on its way, with the file line of each.
struct Batch {
    events: Vec<Value>,
    lines: Vec<u64>,
}

#[derive(Default)]
struct Totals {
    accepted: AtomicU64,
    rejected: AtomicU64,
}

async fn send_batch(
    client: &reqwest::Client,
    endpoint: &str,
    tenant: &str,
    batch: Batch,
    totals: &Totals,
) -> anyhow::Result<()> {
    let body = json!({"events": batch.events});
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=5 {
        let sent = client.post(endpoint).header("X-Tenant-Id", tenant).json(&body).send().await;
        match sent {
            Ok(response) if response.status().is_success() => {
                let report: Value = response.json().await?;
                totals.accepted.fetch_add(report["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
                totals.rejected.fetch_add(report["rejected"].as_u64().unwrap_or(0), Ordering::Relaxed);
                for error in report["errors"].as_array().into_iter().flatten() {
                    let line = error["index"].as_u64().and_then(|i| batch.lines.get(i as usize)).copied().unwrap_or(0);
                    eprintln!(
                        "line {line}: {} ({})",
                        error["message"].as_str().unwrap_or_default(),
                        error["code"].as_str().unwrap_or_default()
                    );
                }
                return Ok(());
            }
            Ok(response) if response.status().is_client_error() => {
                let status = response.status();
                let report: Value = response.json().await.unwrap_or_default();
                bail!("the server refused a batch ({status}): {}", report["message"].as_str().unwrap_or_default());
            }
            Ok(response) => eprintln!("attempt {attempt}: server answered {}; retrying", response.status()),
            Err(error) => eprintln!("attempt {attempt}: {error}; retrying"),
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    bail!("a batch (lines {}..) failed 5 times; the events before it were stored", batch.lines.first().unwrap_or(&0))
}

async fn import_events(
    file: &Path,
    tenant: &str,
    url: &str,
    format: Format,
    batch_size: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let size = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?.len();
    let bar = progress(size, "events");
    let endpoint = format!("{}/api/v1/behaviors/batch", url.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let totals = Arc::new(Totals::default());

    // Lines are read on a blocking thread and handed over in batches.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<anyhow::Result<Batch>>(concurrency * 2);
    let path = file.to_owned();
    let reader_bar = bar.clone();
    let reader_totals = totals.clone();
    std::thread::spawn(move || {
        let result = read_event_batches(&path, format, batch_size, &reader_bar, &reader_totals, &sender);
        if let Err(error) = result {
            let _ = sender.blocking_send(Err(error));
        }
    });

    let mut in_flight = FuturesUnordered::new();
    while let Some(batch) = receiver.recv().await {
        let batch = batch?;
        let (client, endpoint, tenant, batch_totals) =
            (client.clone(), endpoint.clone(), tenant.to_owned(), totals.clone());
        in_flight.push(async move { send_batch(&client, &endpoint, &tenant, batch, &batch_totals).await });
        if in_flight.len() >= concurrency
            && let Some(result) = in_flight.next().await
        {
            result?;
        }
        bar.set_message(format!("{} accepted", totals.accepted.load(Ordering::Relaxed)));
    }
    while let Some(result) = in_flight.next().await {
        result?;
    }
    bar.finish_and_clear();
    println!(
        "{}",
        json!({
            "accepted": totals.accepted.load(Ordering::Relaxed),
            "rejected": totals.rejected.load(Ordering::Relaxed),
        })
    );
    Ok(())
}

fn read_event_batches(
    path: &Path,
    format: Format,
    batch_size: usize,
    bar: &ProgressBar,
    totals: &Totals,
    sender: &tokio::sync::mpsc::Sender<anyhow::Result<Batch>>,
) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut batch = Batch { events: Vec::with_capacity(batch_size), lines: Vec::with_capacity(batch_size) };
    let push = |event: Value, line: u64, batch: &mut Batch| -> bool {
        batch.events.push(event);
        batch.lines.push(line);
        if batch.events.len() >= batch_size {
            let full = std::mem::replace(
                batch,
                Batch { events: Vec::with_capacity(batch_size), lines: Vec::with_capacity(batch_size) },
            );
            return sender.blocking_send(Ok(full)).is_ok();
        }
        true
    };
    match format {
        Format::Ndjson => {
            let reader = BufReader::with_capacity(256 * 1024, file);
            for (index, line) in reader.lines().enumerate() {
                let line = line?;
                bar.inc(line.len() as u64 + 1);
                if line.trim().is_empty() {
                    continue;
                }
                let number = index as u64 + 1;
                match serde_json::from_str::<Value>(&line) {
                    Ok(event) if event.is_object() => {
                        if !push(event, number, &mut batch) {
                            return Ok(());
                        }
                    }
                    _ => {
                        eprintln!("line {number}: not a JSON object (malformed_json)");
                        totals.rejected.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        Format::Csv => {
            let unterminated = unterminated_len(path)?;
            let mut reader = csv_reader(file);
            let headers = trimmed_headers(&mut reader)?;
            let mut row = csv::StringRecord::new();
            while reader.read_record(&mut row)? {
                if is_blank(&row) {
                    continue;
                }
                let number = record_line(&reader, &row, unterminated);
                bar.set_position(reader.position().byte());
                if !push(csv_event(&headers, &row), number, &mut batch) {
                    return Ok(());
                }
            }
        }
    }
    if !batch.events.is_empty() {
        let _ = sender.blocking_send(Ok(batch));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_record_lines_are_the_files() {
        for data in [
            "h1,h2\nd,\"two\nlines\"\n\n,x\na,y\n",
            "h1,h2\nd,\"two\nlines\"\n\n,x\na,y",
            "h1,h2\r\nd,\"two\r\nlines\"\r\n\r\n,x\r\na,y\r\n",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("data.csv");
            std::fs::write(&path, data).unwrap();
            let unterminated = unterminated_len(&path).unwrap();
            let mut reader = csv_reader(data.as_bytes());
            let mut row = csv::StringRecord::new();
            let mut lines = Vec::new();
            while reader.read_record(&mut row).unwrap() {
                if !is_blank(&row) {
                    lines.push(record_line(&reader, &row, unterminated));
                }
            }
            assert_eq!(lines, [2, 5, 6], "{data:?}");
        }
    }

    #[test]
    fn csv_rows_become_items_and_events() {
        let headers = csv::StringRecord::from(vec!["item_id", "category", "tags", "duration", "title"]);
        let row = csv::StringRecord::from(vec!["i1", "sport", "a|b", "12.5", "Hello"]);
        assert_eq!(
            csv_item(&headers, &row),
            json!({"item_id": "i1", "metadata": {"category": "sport", "tags": ["a", "b"], "duration": 12.5, "title": "Hello"}})
        );
        let headers =
            csv::StringRecord::from(vec!["event_type", "user_id", "item_id", "scenario_id", "value", "device"]);
        let row = csv::StringRecord::from(vec!["play", "u1", "i1", "s", "30", "mobile"]);
        assert_eq!(
            csv_event(&headers, &row),
            json!({"event_type": "play", "user_id": "u1", "item_id": "i1", "scenario_id": "s", "value": 30, "context": {"device": "mobile"}})
        );
    }
}
