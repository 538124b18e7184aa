//! `polyrec eval`: offline evaluation on a plain interactions file, with the real engine.
//!
//! ```text
//! polyrec eval --interactions FILE [--split random|time] [--test-fraction 0.25] [--seed 42]
//!              [--k 10] [--models LIST] [--items FILE] [--config FILE]... [--json]
//! ```
//!
//! Every interaction counts as a positive. The split is per user at random (`--seed`) or by
//! time (the latest fraction of all interactions). Each model learns from the training part
//! only; then every user with test items is answered by **full ranking**: every catalog item is
//! a candidate except the user's training items (no sampled negatives), top k. Metrics are those
//! of [`polyrec_models::metrics`], plus the intra-list similarity of the answers by the ALS item
//! vectors when ALS is trained (`ils@k`, lower is more diverse).
//!
//! Rows: `als` scores with the ALS vectors directly (exact); every other row is the engine's
//! `Pipeline` — the code path of `POST /recommend` — with one recall strategy (`popularity` is
//! `hot_items` over all-time training popularity, `vector_search` the ALS vectors through the
//! HNSW index), and `pipeline` the blend of [`PIPELINE`]. `--config` adds rows for scenario
//! config files. `fit_seconds` is the training time of what a row uses.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::eval_ctr;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use polyrec_core::{Item, ItemId, ItemStatus, ManualClock, ScenarioConfig, ScenarioId, TenantId, UserId};
use polyrec_engine::cf::CfParams;
use polyrec_engine::learned;
use polyrec_engine::offline::OfflineUser;
use polyrec_engine::{Catalog, CfModel, Pipeline, RecommendInput, ScenarioModels, VectorModel};
use polyrec_models::metrics::{RankingMetrics, RankingSummary, top_k};
use polyrec_models::split::{Rating, SplitKind, parse_interactions, split};
use polyrec_models::{
    AlsModel, AlsParams, EaseModel, EaseParams, Interactions, SparseEaseModel, SparseEaseParams, Vocabulary,
};
use polyrec_storage::{Interaction, IvfIndex, MemoryRealtime, RealtimeStore, VectorCollection, VectorIndex};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;
use serde_json::{Value, json};

/// The default blend of the `pipeline` row: its weights are fitted on a validation split of
/// the training part, as a training job fits a scenario's `"auto"` channels, and so is its rank
/// stage, the interaction ranker (which keeps the recall order unless it does better there).
pub const PIPELINE: &str = r#"{
  "recall": {"strategies": [
    {"name": "ease", "weight": "auto", "limit": 200},
    {"name": "dlae", "weight": "auto", "limit": 200},
    {"name": "vector_search", "weight": "auto", "limit": 200},
    {"name": "item_cf", "weight": "auto", "limit": 200, "params": {"seed_items": 50, "decay": 0.0}}
  ]},
  "rank": {"model": "interaction_ranker"}
}"#;

const ALL_MODELS: &[&str] = &[
    "popularity",
    "item_cf",
    "user_cf",
    "content_based",
    "als",
    "vector_search",
    "ease",
    "dlae",
    "sparse_ease",
    "pipeline",
];

#[derive(Clone, Copy, ValueEnum)]
pub enum SplitArg {
    Random,
    Time,
}

#[derive(Args)]
pub struct EvalArgs {
    /// `user_id,item_id,rating,timestamp` (comma or tab separated, header optional).
    #[arg(long)]
    interactions: PathBuf,
    #[arg(long, value_enum, default_value = "random")]
    split: SplitArg,
    /// Share held out: per user (random) or of all interactions, latest first (time).
    #[arg(long, default_value_t = 0.25)]
    test_fraction: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Comma-separated rows to evaluate; default all of popularity, item_cf, user_cf,
    /// content_based (needs --items), als, vector_search, ease, dlae, sparse_ease, pipeline. The rankers
    /// lightgbm, deepfm and wide_deep run only when listed: on the ratings as a click-through
    /// task (label rating >= --ctr-threshold, time split), with AUC and log-loss.
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Item metadata `item_id,title,release_year,genres` (genres space-separated): the items'
    /// tags, and their first genre as category.
    #[arg(long)]
    items: Option<PathBuf>,
    /// Scenario config files (`{"config": {...}}` or a bare config), one row each.
    #[arg(long = "config")]
    configs: Vec<PathBuf>,
    /// Model parameters as JSON (inline or a file): `{"als": {...}, "ease": {...}, "dlae": {...},
    /// "sparse_ease": {...}, "cf": {...}}` (`dlae` takes EASE's `lambda` and a `dropout` rate;
    /// `sparse_ease` `lambda`, `dropout`, `neighbors`, `max_user_items`).
    #[arg(long)]
    params: Option<String>,
    /// How long each model's hyperparameter search may take (as a server's
    /// `limits.tuning_budget_seconds`); 0 fits the defaults of a model `--params` does not give.
    #[arg(long, default_value_t = 120)]
    tuning_budget_seconds: u64,
    /// Training threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Also write the split as `train.csv` and `test.csv` here, so other tools can be measured
    /// on exactly the same data.
    #[arg(long)]
    export_split: Option<PathBuf>,
    /// The ranker rows (lightgbm, deepfm, wide_deep): a rating at least this is a click.
    #[arg(long, default_value_t = 4.0)]
    pub ctr_threshold: f32,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelParams {
    /// ALS, EASE and DLAE take what is given here; a model not given here has its parameters
    /// chosen on a validation split of the training part, as a training job does.
    #[serde(default)]
    als: Option<AlsParams>,
    #[serde(default)]
    ease: Option<EaseParams>,
    #[serde(default)]
    dlae: Option<DlaeParams>,
    #[serde(default)]
    sparse_ease: Option<SparseEaseParams>,
    /// The item_cf and user_cf neighbours' bounds (`CfParams`); when not given, the neighbours
    /// and shrinkage are searched as a training job's `item_cf` does.
    #[serde(default)]
    cf: Option<CfParams>,
    /// The rankers' hyperparameters (`rank.params.model` of a scenario).
    #[serde(default)]
    lightgbm: Option<Value>,
    #[serde(default)]
    deepfm: Option<Value>,
    #[serde(default)]
    wide_deep: Option<Value>,
}

/// `dlae`'s parameters: what is not given is `EaseParams::dlae`'s (not EASE's: a `lambda` alone
/// keeps the dropout).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct DlaeParams {
    lambda: f64,
    dropout: f64,
}

impl Default for DlaeParams {
    fn default() -> Self {
        let params = EaseParams::dlae();
        Self { lambda: params.lambda, dropout: params.dropout }
    }
}

impl From<&DlaeParams> for EaseParams {
    fn from(params: &DlaeParams) -> Self {
        EaseParams { lambda: params.lambda, dropout: params.dropout, ..EaseParams::dlae() }
    }
}

struct Row {
    name: String,
    summary: RankingSummary,
    fit_seconds: f64,
    ms_per_user: f64,
    /// Intra-list similarity at k (see [`Similarity`]); `None` without ALS vectors.
    ils: Option<f64>,
}

/// Intra-list similarity: the mean cosine similarity of the pairs in each top-k list by the ALS
/// item vectors (items without one left out), averaged over the lists with a pair. Lower is more
/// diverse; it is what the `mmr` rerank rule trades relevance for.
#[derive(Default)]
struct Similarity {
    sum: f64,
    lists: usize,
}

impl Similarity {
    fn add(&mut self, als: Option<&AlsModel>, ids: &[&str]) {
        let Some(als) = als else { return };
        let units: Vec<Vec<f64>> = ids
            .iter()
            .filter_map(|id| als.item_vector(id))
            .filter_map(|v| {
                let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                (norm > 0.0).then(|| v.iter().map(|x| f64::from(*x) / norm).collect())
            })
            .collect();
        let mut pairs = 0usize;
        let mut total = 0.0;
        for (i, a) in units.iter().enumerate() {
            for b in &units[i + 1..] {
                total += a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
                pairs += 1;
            }
        }
        if pairs > 0 {
            self.sum += total / pairs as f64;
            self.lists += 1;
        }
    }

    fn mean(&self) -> Option<f64> {
        (self.lists > 0).then(|| self.sum / self.lists as f64)
    }
}

/// What the engine learned from the training part, built once and shared by the rows.
struct Trained {
    catalog: Catalog,
    models: ScenarioModels,
    /// All-time training popularity: the hot set of the `popularity` row.
    popularity: Vec<(String, f64)>,
    fit: Fits,
    /// The training part as interactions, and the parameters each learned recall model was
    /// fitted with: what a blend of `"auto"` channels is fitted from.
    rows: Vec<Interaction>,
    params: BTreeMap<String, Value>,
}

/// Training time of each model, in seconds.
#[derive(Default)]
struct Fits {
    popularity: f64,
    cf: f64,
    als: f64,
    /// Loading the ALS item vectors into the index.
    index: f64,
    ease: f64,
    dlae: f64,
    sparse_ease: f64,
}

/// One evaluated user: what a request for them carries, built once for every row.
struct Case<'a> {
    relevant: &'a FxHashSet<String>,
    /// What a request for them carries.
    user: OfflineUser,
}

pub async fn run(args: EvalArgs) -> anyhow::Result<()> {
    if !(0.0 < args.test_fraction && args.test_fraction < 1.0) {
        bail!("--test-fraction must be between 0 and 1 (exclusive), got {}", args.test_fraction);
    }
    if args.k == 0 {
        bail!("--k must be at least 1");
    }
    let wanted: Vec<String> = match &args.models {
        Some(list) => list.iter().map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect(),
        None => ALL_MODELS
            .iter()
            .filter(|m| **m != "content_based" || args.items.is_some())
            .map(|m| m.to_string())
            .collect(),
    };
    for model in &wanted {
        if !ALL_MODELS.contains(&model.as_str()) && !eval_ctr::rankers().contains(&model.as_str()) {
            bail!(
                "unknown model `{model}` in --models; known: {}, and the rankers {}",
                ALL_MODELS.join(", "),
                eval_ctr::rankers().join(", ")
            );
        }
        if model == "content_based" && args.items.is_none() {
            bail!("content_based needs item metadata: pass --items FILE");
        }
    }
    let params: ModelParams = match &args.params {
        None => ModelParams::default(),
        Some(text) => {
            let text = if text.trim_start().starts_with('{') {
                text.clone()
            } else {
                std::fs::read_to_string(text).with_context(|| format!("cannot read --params file {text}"))?
            };
            serde_json::from_str(&text).context("--params")?
        }
    };
    if let Some(als) = &params.als {
        als.validate().map_err(|e| anyhow::anyhow!("--params als: {e}"))?;
    }
    if let Some(threads) = args.threads {
        rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build_global().ok();
    }

    let text = std::fs::read_to_string(&args.interactions)
        .with_context(|| format!("cannot read {}", args.interactions.display()))?;
    let ratings = parse_interactions(&text).with_context(|| args.interactions.display().to_string())?;
    if ratings.is_empty() {
        bail!("{} holds no interactions", args.interactions.display());
    }
    let (rankers, wanted): (Vec<String>, Vec<String>) =
        wanted.into_iter().partition(|m| eval_ctr::rankers().contains(&m.as_str()));
    let mut ranker_params = serde_json::Map::new();
    for (name, value) in [("lightgbm", &params.lightgbm), ("deepfm", &params.deepfm), ("wide_deep", &params.wide_deep)]
    {
        if let Some(value) = value {
            ranker_params.insert(name.to_owned(), value.clone());
        }
    }
    let ranker_rows = if rankers.is_empty() {
        Vec::new()
    } else {
        let task = eval_ctr::CtrTask {
            ratings: &ratings,
            items: args.items.as_deref(),
            threshold: args.ctr_threshold,
            test_fraction: args.test_fraction,
            params: &ranker_params,
            export: args.export_split.as_deref(),
        };
        eval_ctr::evaluate(&task, &rankers)?
    };
    if wanted.is_empty() {
        let models: serde_json::Map<String, Value> = ranker_rows.into_iter().collect();
        println!("{}", serde_json::to_string_pretty(&json!({ "models": models }))?);
        return Ok(());
    }
    let kind = match args.split {
        SplitArg::Random => SplitKind::Random,
        SplitArg::Time => SplitKind::Time,
    };
    let (train, test) = split(&ratings, kind, args.test_fraction, args.seed);
    if let Some(dir) = &args.export_split {
        export(dir, "train.csv", &train)?;
        export(dir, "test.csv", &test)?;
    }
    let mut truth: BTreeMap<&str, FxHashSet<String>> = BTreeMap::new();
    for r in &test {
        truth.entry(&r.user_id).or_default().insert(r.item_id.clone());
    }
    // Each user's training items.
    let mut history: HashMap<&str, Vec<&Rating>> = HashMap::new();
    for r in &train {
        history.entry(&r.user_id).or_default().push(r);
    }
    let metadata = match &args.items {
        Some(path) => read_items(path)?,
        None => HashMap::new(),
    };
    let budget = std::time::Duration::from_secs(args.tuning_budget_seconds);
    let trained = train_all(&ratings, &train, &wanted, &args.configs, &params, budget, &metadata).await?;
    let catalog_size = trained.catalog.len();

    let now_ms = ratings.iter().map(|r| r.timestamp).max().unwrap_or(0) * 1000 + 1;
    let tenant = TenantId::parse("eval")?;
    let scenario = ScenarioId::parse("eval")?;
    let realtime = MemoryRealtime::new(Arc::new(ManualClock::new(now_ms)));
    realtime.replace_hot_items(&tenant, &scenario, trained.popularity.clone(), i64::MAX / 4).await?;
    let mut cases = Vec::with_capacity(truth.len());
    for (user_id, relevant) in &truth {
        let seen = history.remove(user_id).unwrap_or_default();
        cases.push(Case {
            relevant,
            user: OfflineUser::new(UserId::parse(*user_id)?, &scenario, seen, &trained.catalog),
        });
    }
    let env = Env { tenant, scenario, realtime, now_ms, k: args.k, cases };

    let mut rows = Vec::new();
    for name in &wanted {
        let row = match name.as_str() {
            "als" => {
                let vectors =
                    trained.models.learned::<VectorModel>(learned::als::NAME).expect("trained for the als row");
                evaluate_als(&env, &vectors.als, trained.fit.als, catalog_size)
            }
            _ => {
                let (config, fit_seconds) = row_config(name, &trained)?;
                evaluate_pipeline(&env, name, &config, fit_seconds, &trained).await?
            }
        };
        rows.push(row);
    }
    for path in &args.configs {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let document: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        let config = compile(&document.get("config").cloned().unwrap_or(document), &path.display().to_string())?;
        let fit = fit_of(&config, &trained.fit);
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("config").to_owned();
        rows.push(evaluate_pipeline(&env, &name, &config, fit, &trained).await?);
    }

    let k = args.k;
    if args.json {
        let mut models = serde_json::Map::new();
        for row in &rows {
            let s = &row.summary;
            models.insert(
                row.name.clone(),
                json!({
                    format!("precision@{k}"): s.precision,
                    format!("recall@{k}"): s.recall,
                    format!("ndcg@{k}"): s.ndcg,
                    format!("map@{k}"): s.map,
                    "coverage": s.coverage,
                    "fit_seconds": row.fit_seconds,
                    format!("hit_rate@{k}"): s.hit_rate,
                    "users": s.users,
                    "ms_per_user": row.ms_per_user,
                    format!("ils@{k}"): row.ils,
                }),
            );
        }
        models.extend(ranker_rows);
        println!("{}", serde_json::to_string_pretty(&json!({ "models": models }))?);
    } else {
        println!(
            "| model | precision@{k} | recall@{k} | NDCG@{k} | MAP@{k} | hit rate@{k} | coverage | ILS@{k} | fit s | ms/user |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for row in &rows {
            let s = &row.summary;
            println!(
                "| {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {} | {:.3} | {:.3} |",
                row.name,
                s.precision,
                s.recall,
                s.ndcg,
                s.map,
                s.hit_rate,
                s.coverage,
                row.ils.map_or("—".to_owned(), |ils| format!("{ils:.4}")),
                row.fit_seconds,
                row.ms_per_user
            );
        }
        if !ranker_rows.is_empty() {
            println!();
            println!("| ranker (time split, label rating >= {}) | AUC | log loss | fit s |", args.ctr_threshold);
            println!("|---|---|---|---|");
            for (name, row) in &ranker_rows {
                println!(
                    "| {name} | {:.4} | {:.4} | {:.3} |",
                    row["auc"].as_f64().unwrap_or(f64::NAN),
                    row["log_loss"].as_f64().unwrap_or(f64::NAN),
                    row["fit_seconds"].as_f64().unwrap_or(f64::NAN)
                );
            }
        }
        eprintln!(
            "{} interactions ({} train, {} test), {} users evaluated, {} items",
            ratings.len(),
            train.len(),
            test.len(),
            env.cases.len(),
            catalog_size
        );
    }
    Ok(())
}

fn export(dir: &std::path::Path, name: &str, rows: &[Rating]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join(name))?);
    writeln!(out, "user_id,item_id,rating,timestamp")?;
    for r in rows {
        writeln!(out, "{},{},{},{}", r.user_id, r.item_id, r.rating, r.timestamp)?;
    }
    out.flush()?;
    Ok(())
}

/// `item_id,title,release_year,genres` → genres by item.
fn read_items(path: &std::path::Path) -> anyhow::Result<HashMap<String, Vec<String>>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).with_context(|| format!("{} has no `{name}` column", path.display()))
    };
    let (id, genres) = (column("item_id")?, column("genres")?);
    let mut out = HashMap::new();
    for record in reader.records() {
        let record = record?;
        let tags = record.get(genres).unwrap_or("").split_whitespace().map(str::to_owned).collect();
        out.insert(record.get(id).unwrap_or("").to_owned(), tags);
    }
    Ok(out)
}

fn compile(config: &Value, what: &str) -> anyhow::Result<ScenarioConfig> {
    polyrec_engine::validate_config(config).map_err(|problems| {
        anyhow::anyhow!(
            "{what}: {}",
            problems.errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; ")
        )
    })
}

/// The single-strategy config of a row, and its training time.
fn row_config(name: &str, trained: &Trained) -> anyhow::Result<(ScenarioConfig, f64)> {
    let config = match name {
        "pipeline" => serde_json::from_str(PIPELINE)?,
        _ => {
            let strategy = match name {
                "popularity" => json!({"name": "hot_items", "weight": 1.0, "limit": 500}),
                "item_cf" => {
                    json!({"name": "item_cf", "weight": 1.0, "limit": 500, "params": {"seed_items": 50, "decay": 0.0}})
                }
                other => json!({"name": other, "weight": 1.0, "limit": 500}),
            };
            json!({"recall": {"strategies": [strategy]}, "rank": {"model": "weighted", "params": {"recall_weight": 1.0}}})
        }
    };
    let config = compile(&config, name)?;
    let fit = fit_of(&config, &trained.fit);
    Ok((config, fit))
}

/// The training time of the models a config's strategies read.
fn fit_of(config: &ScenarioConfig, fit: &Fits) -> f64 {
    let uses = |names: &[&str]| config.recall.strategies.iter().any(|s| names.contains(&s.name.as_str()));
    let mut seconds = 0.0;
    if uses(&["item_cf", "user_cf"]) {
        seconds += fit.cf; // one model serves both
    }
    if uses(&["vector_search"]) {
        seconds += fit.als + fit.index;
    }
    if uses(&["ease"]) {
        seconds += fit.ease;
    }
    if uses(&["dlae"]) {
        seconds += fit.dlae;
    }
    if uses(&["sparse_ease"]) {
        seconds += fit.sparse_ease;
    }
    if uses(&["hot_items", "hot_news"]) {
        seconds += fit.popularity;
    }
    seconds
}

async fn train_all(
    all: &[Rating],
    train: &[Rating],
    wanted: &[String],
    configs: &[PathBuf],
    params: &ModelParams,
    budget: std::time::Duration,
    metadata: &HashMap<String, Vec<String>>,
) -> anyhow::Result<Trained> {
    let needs = |names: &[&str]| !configs.is_empty() || wanted.iter().any(|w| names.contains(&w.as_str()));
    let scenario = ScenarioId::parse("eval")?;
    let mut item_ids: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for r in all {
        if seen.insert(&r.item_id) {
            item_ids.push(&r.item_id);
        }
    }
    let items: Vec<Arc<Item>> = item_ids
        .iter()
        .map(|id| {
            let tags = metadata.get(*id).cloned().unwrap_or_default();
            let mut meta = serde_json::Map::new();
            if let Some(first) = tags.first() {
                meta.insert("category".into(), json!(first));
            }
            meta.insert("tags".into(), json!(tags));
            Ok(Arc::new(Item {
                item_id: ItemId::parse(id.to_string())?,
                scenario_id: scenario.clone(),
                metadata: meta,
                embedding: None,
                status: ItemStatus::Active,
                created_ms: 0,
                updated_ms: 0,
                publish_memo: Default::default(),
            }))
        })
        .collect::<anyhow::Result<_>>()?;
    let catalog = Catalog::build(items);
    let mut fit = Fits::default();
    let mut models = ScenarioModels::default();

    let started = Instant::now();
    let mut counts: FxHashMap<&str, f64> = FxHashMap::default();
    for r in train {
        *counts.entry(&r.item_id).or_default() += 1.0;
    }
    let popularity = counts.into_iter().map(|(item, n)| (item.to_owned(), n)).collect();
    fit.popularity = started.elapsed().as_secs_f64();

    let rows: Vec<Interaction> = train
        .iter()
        .map(|r| Interaction {
            user_id: r.user_id.clone(),
            item_id: r.item_id.clone(),
            weight: 1.0,
            last_ms: r.timestamp * 1000,
        })
        .collect();
    let mut chosen_params = BTreeMap::new();
    let catalog_vocabulary = Vocabulary::from_names(item_ids.iter().map(|s| s.to_string()).collect());
    let matrix =
        Interactions::build(train.iter().map(|r| (r.user_id.as_str(), r.item_id.as_str(), 1.0)), catalog_vocabulary);
    if needs(&["item_cf", "user_cf", "pipeline"]) {
        let started = Instant::now();
        let cf_params = tuned(
            "item_cf",
            params.cf,
            CfParams::default().candidates(),
            budget,
            &matrix,
            |m, p| Ok::<_, std::convert::Infallible>((CfModel::train_matrix(m, *p), m.items.clone())),
            |(model, items): &(CfModel, Vocabulary), user| model.history_scores(items, user),
        );
        chosen_params.insert(learned::item_cf::NAME.to_owned(), serde_json::to_value(cf_params)?);
        let interactions = rows.clone();
        let model = tokio::task::spawn_blocking(move || CfModel::train(&interactions, cf_params, 0)).await?;
        fit.cf = started.elapsed().as_secs_f64();
        models.cf = Some(Arc::new(model));
    }
    if needs(&["als", "vector_search", "pipeline"]) {
        let started = Instant::now();
        let chosen = tuned(
            "als",
            params.als,
            polyrec_models::tune::als_candidates(AlsParams::default()),
            budget,
            &matrix,
            |m, p| Ok::<_, std::convert::Infallible>(AlsModel::fit(m, *p, &|_| {})),
            |model: &AlsModel, user| model.user_vector(user).map(|vector| model.score_all(vector)),
        );
        chosen_params.insert(learned::als::NAME.to_owned(), serde_json::to_value(chosen)?);
        let als = Arc::new(AlsModel::fit(&matrix, chosen, &|_| {}));
        fit.als = started.elapsed().as_secs_f64();
        let index: Arc<dyn VectorIndex> = Arc::new(IvfIndex::default());
        let collection = VectorCollection::new(&TenantId::parse("eval")?, &scenario, "als");
        let started = Instant::now();
        index.create(&collection, als.factors(), als.items.names(), &als.item_factors).await?;
        fit.index = started.elapsed().as_secs_f64();
        models.learned.insert(learned::als::NAME, Arc::new(VectorModel { als, index, collection }));
    }
    if needs(&["ease", "pipeline"]) {
        let started = Instant::now();
        let candidates = polyrec_models::tune::ease_candidates(EaseParams::default());
        let chosen = tuned("ease", params.ease, candidates, budget, &matrix, |m, p| EaseModel::fit(m, *p), ease_score);
        chosen_params.insert(learned::ease::NAME.to_owned(), serde_json::to_value(chosen)?);
        models.learned.insert(learned::ease::NAME, Arc::new(EaseModel::fit(&matrix, chosen)?));
        fit.ease = started.elapsed().as_secs_f64();
    }
    if needs(&["dlae", "pipeline"]) {
        let started = Instant::now();
        let candidates = polyrec_models::tune::dlae_candidates(EaseParams::dlae());
        let given = params.dlae.as_ref().map(EaseParams::from);
        let chosen = tuned("dlae", given, candidates, budget, &matrix, |m, p| EaseModel::fit(m, *p), ease_score);
        chosen_params.insert(learned::dlae::NAME.to_owned(), serde_json::to_value(chosen)?);
        models.learned.insert(learned::dlae::NAME, Arc::new(EaseModel::fit(&matrix, chosen)?));
        fit.dlae = started.elapsed().as_secs_f64();
    }
    if needs(&["sparse_ease"]) {
        let started = Instant::now();
        let candidates = polyrec_models::tune::sparse_ease_candidates(SparseEaseParams::default());
        let score = |model: &SparseEaseModel, user: &str| {
            let history = model.history(user);
            (!history.is_empty()).then(|| model.score(history.iter().copied()))
        };
        let chosen = tuned(
            "sparse_ease",
            params.sparse_ease,
            candidates,
            budget,
            &matrix,
            |m, p| SparseEaseModel::fit(m, *p),
            score,
        );
        chosen_params.insert(learned::sparse_ease::NAME.to_owned(), serde_json::to_value(chosen)?);
        let model = SparseEaseModel::fit(&matrix, chosen).map_err(|e| anyhow::anyhow!("sparse_ease: {e}"))?;
        models.learned.insert(learned::sparse_ease::NAME, Arc::new(model));
        fit.sparse_ease = started.elapsed().as_secs_f64();
    }
    Ok(Trained { catalog, models, popularity, fit, rows, params: chosen_params })
}

/// EASE's (and EDLAE's) ranking of every item for a training user.
fn ease_score(model: &EaseModel, user: &str) -> Option<Vec<f32>> {
    let history = model.history(user);
    (!history.is_empty()).then(|| model.score(history.iter().copied()))
}

/// A model's parameters: those `--params` gives, or the best of `candidates` on a validation
/// split of the training part (`polyrec_models::tune`, as a training job chooses them), said on
/// stderr with the search's trials.
fn tuned<P: Clone + serde::Serialize, M, E>(
    name: &str,
    given: Option<P>,
    candidates: Vec<P>,
    budget: std::time::Duration,
    matrix: &Interactions,
    fit: impl Fn(&Interactions, &P) -> Result<M, E>,
    score: impl Fn(&M, &str) -> Option<Vec<f32>>,
) -> P {
    if let Some(given) = given {
        return given;
    }
    if budget.is_zero() {
        return candidates[0].clone();
    }
    let search = polyrec_models::tune::search(matrix, &candidates, budget, fit, score);
    eprintln!(
        "{name}: chose {} of {} trials on the validation split ({} skipped): {}",
        serde_json::to_string(&search.chosen).unwrap_or_default(),
        search.trials.len(),
        search.skipped,
        search
            .trials
            .iter()
            .map(|t| format!(
                "{}→{}",
                serde_json::to_string(&t.params).unwrap_or_default(),
                t.ndcg.map_or("failed".to_owned(), |n| format!("{n:.4}"))
            ))
            .collect::<Vec<_>>()
            .join(" ")
    );
    search.chosen
}

struct Env<'a> {
    tenant: TenantId,
    scenario: ScenarioId,
    realtime: MemoryRealtime,
    now_ms: i64,
    k: usize,
    cases: Vec<Case<'a>>,
}

fn evaluate_als(env: &Env<'_>, model: &AlsModel, fit_seconds: f64, catalog_size: usize) -> Row {
    let mut metrics = RankingMetrics::new(env.k);
    let mut similarity = Similarity::default();
    let started = Instant::now();
    for case in &env.cases {
        let recommended: Vec<&str> = match model.user_vector(case.user.user.as_str()) {
            Some(vector) => {
                let seen: FxHashSet<u32> = case.user.exclude.iter().filter_map(|item| model.items.get(item)).collect();
                let best = top_k(&model.score_all(vector), env.k, |i| seen.contains(&i));
                best.into_iter().map(|i| model.items.name(i)).collect()
            }
            None => Vec::new(),
        };
        metrics.add(&recommended, case.relevant);
        similarity.add(Some(model), &recommended);
    }
    Row {
        name: "als".into(),
        summary: metrics.summary(catalog_size),
        fit_seconds,
        ms_per_user: started.elapsed().as_secs_f64() * 1000.0 / env.cases.len().max(1) as f64,
        ils: similarity.mean(),
    }
}

async fn evaluate_pipeline(
    env: &Env<'_>,
    name: &str,
    config: &ScenarioConfig,
    fit_seconds: f64,
    trained: &Trained,
) -> anyhow::Result<Row> {
    let pipeline = Pipeline::compile(config).map_err(|_| anyhow::anyhow!("{name} does not compile"))?;
    // "auto" weights: the blend fitted on a validation split of the training part.
    let mut models = trained.models.clone();
    let mut params = trained.params.clone();
    let mut fit_seconds = fit_seconds;
    if config.recall.strategies.iter().any(|s| s.weight.is_auto()) {
        let started = Instant::now();
        let fitted = tokio::task::block_in_place(|| {
            learned::blend::fit(&trained.rows, config, &trained.catalog, &trained.params, env.now_ms, &|_| {})
        })?;
        fit_seconds += started.elapsed().as_secs_f64();
        eprintln!(
            "{name}: blend weights {} (validation {}: {:.4}, equal weights {:.4})",
            fitted.params["weights"],
            fitted.params["validation"]["metric"],
            fitted.metrics.values().next().copied().unwrap_or(f64::NAN),
            fitted.metrics.values().nth(1).copied().unwrap_or(f64::NAN)
        );
        params.insert(learned::blend::NAME.to_owned(), fitted.params.clone());
        fitted.model.install(learned::blend::NAME, "eval", &mut models, None);
    }
    // The interaction ranker: learned on the same validation split's recall candidates, merged
    // with the blend's weights (as a training job fits it after the blend).
    if config.rank.model == learned::interaction_ranker::NAME {
        let started = Instant::now();
        let fitted = tokio::task::block_in_place(|| {
            learned::interaction_ranker::fit(&trained.rows, config, &trained.catalog, &params, env.now_ms, &|_| {})
        })?;
        fit_seconds += started.elapsed().as_secs_f64();
        eprintln!(
            "{name}: interaction ranker ({}) validation {}, recall order {}, kept recall order: {}",
            fitted.params["learner"],
            fitted.metrics.values().next().copied().unwrap_or(f64::NAN),
            fitted.metrics.values().nth(1).copied().unwrap_or(f64::NAN),
            fitted.params["validation"]["kept_recall_order"]
        );
        fitted.model.install(learned::interaction_ranker::NAME, "eval", &mut models, None);
    }
    let mut metrics = RankingMetrics::new(env.k);
    let mut similarity = Similarity::default();
    let als = trained.models.learned::<VectorModel>(learned::als::NAME).map(|m| m.als.as_ref());
    let context = serde_json::Map::new();
    let started = Instant::now();
    for case in &env.cases {
        let ctx = case.user.context(
            &env.tenant,
            &env.scenario,
            env.now_ms,
            &trained.catalog,
            &models,
            &env.realtime,
            &context,
        );
        let out = pipeline.run(RecommendInput { ctx, count: env.k, explain: false }).await;
        let ids: Vec<&str> = out.items.iter().map(|c| c.item_id()).collect();
        metrics.add(&ids, case.relevant);
        similarity.add(als, &ids);
    }
    Ok(Row {
        name: name.to_owned(),
        summary: metrics.summary(trained.catalog.len()),
        fit_seconds,
        ms_per_user: started.elapsed().as_secs_f64() * 1000.0 / env.cases.len().max(1) as f64,
        ils: similarity.mean(),
    })
}
