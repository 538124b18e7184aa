//! `polyrec eval`: offline evaluation of a scenario config on a public interaction data set, with
//! the real engine — the same `Pipeline`, catalog and collaborative-filtering model the server
//! builds; the hot set is the training data's all-time popularity — and full ranking (every item the user has not interacted with is a candidate).
//!
//! The split is per user and by time: each user's last `--test-ratio` of interactions are held
//! out; everything before is what the engine learns from (the CF model, the hot set, the user's
//! recent items and category interests). Metrics at k: precision, recall, NDCG (binary
//! relevance), hit rate, and catalog coverage.
//!
//! Input is the RecBole atomic format that MovieLens-100K ships in (`scripts/fetch-movielens.sh`
//! fetches it): `.inter` with `user_id`, `item_id`, `timestamp` columns, `.item` with `item_id`
//! and a space-separated `class` (genres).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use polyrec_core::{Item, ItemId, ItemStatus, ManualClock, ScenarioId, TenantId, UserId, UserProfile};
use polyrec_engine::cf::CfParams;
use polyrec_engine::pipeline::RequestContext;
use polyrec_engine::{Catalog, CfModel, Pipeline, RecommendInput};
use polyrec_storage::{Interaction, MemoryRealtime, RealtimeStore};
use rustc_hash::FxHashSet;
use serde_json::{Value, json};

#[derive(Args)]
pub struct EvalArgs {
    /// Interactions (`.inter`, RecBole atomic format).
    #[arg(long)]
    inter: PathBuf,
    /// Items (`.item`, RecBole atomic format) with a `class` column of genres.
    #[arg(long)]
    items: PathBuf,
    /// Scenario files (`{"config": {...}}` or a bare config) to evaluate; each is one row.
    #[arg(long = "config", required = true)]
    configs: Vec<PathBuf>,
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Share of each user's interactions, latest first, held out as the test set.
    #[arg(long, default_value_t = 0.2)]
    test_ratio: f64,
    /// Also write the split as `train.tsv` and `test.tsv` (user, item, timestamp) here, so other
    /// tools can be measured on exactly the same data.
    #[arg(long)]
    export_split: Option<PathBuf>,
}

struct Row {
    user: String,
    item: String,
    timestamp_ms: i64,
}

/// Reads a RecBole atomic file: a header of `name:type` columns, tab-separated rows.
fn read_atomic(path: &Path) -> anyhow::Result<(Vec<String>, Vec<Vec<String>>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .context("empty file")?
        .split('\t')
        .map(|column| column.split(':').next().unwrap_or(column).to_owned())
        .collect();
    let rows = lines.filter(|l| !l.trim().is_empty()).map(|l| l.split('\t').map(str::to_owned).collect()).collect();
    Ok((header, rows))
}

fn column(header: &[String], name: &str, path: &Path) -> anyhow::Result<usize> {
    header.iter().position(|c| c == name).with_context(|| format!("{} has no {name} column", path.display()))
}

struct Metrics {
    precision: f64,
    recall: f64,
    ndcg: f64,
    hit_rate: f64,
    coverage: f64,
    users: usize,
    millis_per_user: f64,
}

pub async fn run(args: EvalArgs) -> anyhow::Result<()> {
    if !(0.0 < args.test_ratio && args.test_ratio < 1.0) {
        bail!("--test-ratio must be between 0 and 1");
    }
    let (header, rows) = read_atomic(&args.inter)?;
    let (user_col, item_col, time_col) = (
        column(&header, "user_id", &args.inter)?,
        column(&header, "item_id", &args.inter)?,
        column(&header, "timestamp", &args.inter)?,
    );
    let mut by_user: HashMap<String, Vec<Row>> = HashMap::new();
    for row in rows {
        let timestamp: f64 = row[time_col].parse().with_context(|| format!("bad timestamp {:?}", row[time_col]))?;
        let entry =
            Row { user: row[user_col].clone(), item: row[item_col].clone(), timestamp_ms: (timestamp * 1000.0) as i64 };
        by_user.entry(entry.user.clone()).or_default().push(entry);
    }
    let (item_header, item_rows) = read_atomic(&args.items)?;
    let (id_col, class_col) =
        (column(&item_header, "item_id", &args.items)?, column(&item_header, "class", &args.items)?);

    // The split: each user's latest interactions are the test set.
    let mut train: Vec<Row> = Vec::new();
    let mut test: HashMap<String, HashSet<String>> = HashMap::new();
    let mut users: Vec<String> = by_user.keys().cloned().collect();
    users.sort();
    for user in &users {
        let mut rows = by_user.remove(user).unwrap_or_default();
        rows.sort_by(|a, b| a.timestamp_ms.cmp(&b.timestamp_ms).then_with(|| a.item.cmp(&b.item)));
        let n_test =
            ((rows.len() as f64 * args.test_ratio).round() as usize).clamp(1, rows.len().saturating_sub(1).max(1));
        if rows.len() < 2 {
            train.extend(rows);
            continue;
        }
        let held_out = rows.split_off(rows.len() - n_test);
        test.insert(user.clone(), held_out.iter().map(|r| r.item.clone()).collect());
        train.extend(rows);
    }
    if let Some(dir) = &args.export_split {
        std::fs::create_dir_all(dir)?;
        let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("train.tsv"))?);
        for r in &train {
            writeln!(out, "{}\t{}\t{}", r.user, r.item, r.timestamp_ms)?;
        }
        let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("test.tsv"))?);
        for user in &users {
            let mut items: Vec<&String> = test.get(user).into_iter().flatten().collect();
            items.sort();
            for item in items {
                writeln!(out, "{user}\t{item}\t0")?;
            }
        }
    }

    // What the server would have learned from the training events.
    let now_ms = train.iter().map(|r| r.timestamp_ms).max().unwrap_or(0) + 1;
    let scenario = ScenarioId::parse("eval")?;
    let genres: HashMap<String, Vec<String>> = item_rows
        .iter()
        .map(|row| {
            (
                row[id_col].clone(),
                row.get(class_col).map(|c| c.split(' ').map(str::to_owned).collect()).unwrap_or_default(),
            )
        })
        .collect();
    let items: Vec<Arc<Item>> = item_rows
        .iter()
        .map(|row| {
            let tags: Vec<String> = genres.get(&row[id_col]).cloned().unwrap_or_default();
            let mut metadata = serde_json::Map::new();
            if let Some(first) = tags.first() {
                metadata.insert("category".into(), json!(first));
            }
            metadata.insert("tags".into(), json!(tags));
            Ok(Arc::new(Item {
                item_id: ItemId::parse(row[id_col].clone())?,
                scenario_id: scenario.clone(),
                metadata,
                embedding: None,
                status: ItemStatus::Active,
                created_ms: 0,
                updated_ms: 0,
                publish_memo: Default::default(),
            }))
        })
        .collect::<anyhow::Result<_>>()?;
    let n_items = items.len();
    let catalog = Catalog::build(items);
    let interactions: Vec<Interaction> = train
        .iter()
        .map(|r| Interaction { user_id: r.user.clone(), item_id: r.item.clone(), weight: 1.0, last_ms: r.timestamp_ms })
        .collect();
    let started = Instant::now();
    let cf = CfModel::train(&interactions, CfParams::default(), now_ms);
    eprintln!(
        "trained collaborative filtering on {} interactions in {:.0} ms",
        interactions.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let tenant = TenantId::parse("eval")?;
    let realtime = MemoryRealtime::new(Arc::new(ManualClock::new(now_ms)));
    let mut popularity: HashMap<&str, f64> = HashMap::new();
    for r in &train {
        *popularity.entry(r.item.as_str()).or_default() += 1.0;
    }
    let hot = popularity.iter().map(|(item, n)| (item.to_string(), *n)).collect();
    realtime.replace_hot_items(&tenant, &scenario, hot, i64::MAX / 4).await?;
    let mut history: HashMap<&str, Vec<&Row>> = HashMap::new();
    for r in &train {
        history.entry(r.user.as_str()).or_default().push(r);
    }

    let mut table = Vec::new();
    for path in &args.configs {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let document: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        let config_value = document.get("config").cloned().unwrap_or(document);
        let config = polyrec_engine::validate_config(&config_value).map_err(|problems| {
            anyhow::anyhow!(
                "{}: {}",
                path.display(),
                problems.errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; ")
            )
        })?;
        let pipeline =
            Pipeline::compile(&config).map_err(|_| anyhow::anyhow!("{} does not compile", path.display()))?;
        let metrics =
            evaluate(&pipeline, &catalog, &cf, &realtime, &tenant, &scenario, &history, &test, args.k, now_ms).await?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("config").to_owned();
        table.push((name, metrics));
    }
    println!(
        "| config | precision@{k} | recall@{k} | NDCG@{k} | hit rate@{k} | coverage | users | ms/user |",
        k = args.k
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, m) in &table {
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {} | {:.3} |",
            m.precision, m.recall, m.ndcg, m.hit_rate, m.coverage, m.users, m.millis_per_user
        );
    }
    eprintln!("{} items in the catalog", n_items);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn evaluate(
    pipeline: &Pipeline,
    catalog: &Catalog,
    cf: &CfModel,
    realtime: &MemoryRealtime,
    tenant: &TenantId,
    scenario: &ScenarioId,
    history: &HashMap<&str, Vec<&Row>>,
    test: &HashMap<String, HashSet<String>>,
    k: usize,
    now_ms: i64,
) -> anyhow::Result<Metrics> {
    let (mut precision, mut recall, mut ndcg, mut hits_any) = (0.0, 0.0, 0.0, 0.0);
    let mut recommended: HashSet<String> = HashSet::new();
    let mut users: Vec<&String> = test.keys().collect();
    users.sort();
    let context = serde_json::Map::new();
    let started = Instant::now();
    for user_id in &users {
        let truth = &test[*user_id];
        let seen = history.get(user_id.as_str()).cloned().unwrap_or_default();
        let mut by_time = seen.clone();
        by_time.sort_by_key(|r| std::cmp::Reverse(r.timestamp_ms));
        let recent: Vec<String> = by_time.iter().take(50).map(|r| r.item.clone()).collect();
        let recent_set: FxHashSet<String> = recent.iter().cloned().collect();
        // Seen items are never recommended again, as exposure dedup does for a live user.
        let exclude: FxHashSet<String> = seen.iter().map(|r| r.item.clone()).collect();
        let user = UserId::parse(user_id.as_str())?;
        let mut profile = UserProfile::empty(user.clone(), scenario.clone());
        for r in &seen {
            if let Some(item) = catalog.get(&r.item) {
                if let Some(category) = item.category() {
                    *profile.preferences.category_scores.entry(category.to_owned()).or_default() += 1.0;
                }
                for tag in item.tags() {
                    *profile.preferences.tag_scores.entry(tag.to_owned()).or_default() += 1.0;
                }
            }
        }
        let ctx = RequestContext {
            tenant,
            scenario,
            user: &user,
            now_ms,
            catalog,
            profile: Some(&profile),
            recent_items: &recent,
            recent_set: &recent_set,
            cf: Some(cf),
            realtime,
            context: &context,
            exclude: &exclude,
        };
        let out = pipeline.run(RecommendInput { ctx, count: k, explain: false }).await;
        let ids: Vec<&str> = out.items.iter().map(|c| c.item_id()).collect();
        let hits = ids.iter().filter(|id| truth.contains(**id)).count();
        precision += hits as f64 / k as f64;
        recall += hits as f64 / truth.len() as f64;
        let dcg: f64 = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| truth.contains(**id))
            .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
            .sum();
        let idcg: f64 = (0..truth.len().min(k)).map(|i| 1.0 / ((i + 2) as f64).log2()).sum();
        ndcg += if idcg > 0.0 { dcg / idcg } else { 0.0 };
        if hits > 0 {
            hits_any += 1.0;
        }
        recommended.extend(ids.iter().map(|s| s.to_string()));
    }
    let n = users.len().max(1) as f64;
    Ok(Metrics {
        precision: precision / n,
        recall: recall / n,
        ndcg: ndcg / n,
        hit_rate: hits_any / n,
        coverage: recommended.len() as f64 / catalog.len().max(1) as f64,
        users: users.len(),
        millis_per_user: started.elapsed().as_secs_f64() * 1000.0 / n,
    })
}
