//! The ranker rows of `polyrec eval` (`lightgbm`, `deepfm`, `wide_deep`): the interactions as a
//! click-through task, each rating an impression whose label is `rating >= --ctr-threshold`,
//! split by time (the newest `--test-fraction` held out, as a ranker meets tomorrow's traffic).
//!
//! The rows are built by the serving feature space ([`FeatureSpace`]) from the items file
//! (category = first genre, tags = genres, `release_year`) and per-user profiles aggregated
//! from the training part only; the rankers are fitted as the training job fits them. Each row
//! reports AUC and log-loss on the held-out part. `--export-split DIR` also writes the encoded
//! rows (`ctr_train.csv`, `ctr_test.csv`, `ctr_meta.json`) so `bench/reference_models.py gbdt`
//! trains Python LightGBM on exactly the same features.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use polyrec_core::scenario::{FeatureSpec, FeatureType, FeaturesConfig};
use polyrec_core::{Item, ItemId, ItemStatus, ScenarioId, UserId, UserProfile};
use polyrec_engine::features::{FeatureSpace, Observation};
use polyrec_models::metrics::{auc, log_loss};
use polyrec_models::rank::CtrData;
use polyrec_models::split::Rating;
use serde_json::{Map, Value, json};

/// The rankers learned from impressions (`polyrec_engine::learned::LEARNED`'s rank stage; the
/// interaction ranker is the `pipeline` row's rank stage instead).
pub fn rankers() -> Vec<&'static str> {
    polyrec_engine::learned::LEARNED.iter().filter(|m| m.as_ranker().is_some()).map(|m| m.name()).collect()
}

pub struct CtrTask<'a> {
    pub ratings: &'a [Rating],
    pub items: Option<&'a Path>,
    pub threshold: f32,
    pub test_fraction: f64,
    /// Per ranker, its hyperparameters (`rank.params.model`).
    pub params: &'a Map<String, Value>,
    pub export: Option<&'a Path>,
}

fn items(path: Option<&Path>, ratings: &[Rating]) -> anyhow::Result<HashMap<String, Item>> {
    let scenario = ScenarioId::parse("eval")?;
    let mut metadata: HashMap<String, Map<String, Value>> = HashMap::new();
    if let Some(path) = path {
        let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
        let headers = reader.headers()?.clone();
        for record in reader.records() {
            let record = record?;
            let mut fields = Map::new();
            let mut id = String::new();
            for (name, value) in headers.iter().zip(record.iter()) {
                match name {
                    "item_id" => id = value.to_owned(),
                    "genres" => {
                        let genres: Vec<&str> = value.split_whitespace().collect();
                        if let Some(first) = genres.first() {
                            fields.insert("category".into(), json!(first));
                        }
                        fields.insert("tags".into(), json!(genres));
                    }
                    "release_year" => {
                        if let Ok(year) = value.parse::<f64>() {
                            fields.insert("release_year".into(), json!(year));
                        }
                    }
                    _ => {}
                }
            }
            metadata.insert(id, fields);
        }
    }
    // An item enters the catalog at its first rating (its age is measured from there).
    let mut first_seen: HashMap<&str, i64> = HashMap::new();
    for r in ratings {
        let first = first_seen.entry(&r.item_id).or_insert(r.timestamp);
        *first = (*first).min(r.timestamp);
    }
    let mut out = HashMap::new();
    for r in ratings {
        if out.contains_key(&r.item_id) {
            continue;
        }
        let item = Item {
            item_id: ItemId::parse(r.item_id.clone())?,
            scenario_id: scenario.clone(),
            metadata: metadata.get(&r.item_id).cloned().unwrap_or_default(),
            embedding: None,
            status: ItemStatus::Active,
            created_ms: first_seen[r.item_id.as_str()] * 1000,
            updated_ms: first_seen[r.item_id.as_str()] * 1000,
            publish_memo: Default::default(),
        };
        out.insert(r.item_id.clone(), item);
    }
    Ok(out)
}

/// Profiles from the training ratings alone, as the profile job would have built them.
fn profiles(train: &[&Rating], items: &HashMap<String, Item>) -> anyhow::Result<HashMap<String, UserProfile>> {
    let scenario = ScenarioId::parse("eval")?;
    let mut out: HashMap<String, UserProfile> = HashMap::new();
    for r in train {
        let profile = match out.get_mut(&r.user_id) {
            Some(profile) => profile,
            None => {
                let profile = UserProfile::empty(UserId::parse(r.user_id.clone())?, scenario.clone());
                out.entry(r.user_id.clone()).or_insert(profile)
            }
        };
        profile.features.total_impressions += 1;
        profile.features.total_watch_count += 1;
        let hour = (r.timestamp.rem_euclid(86_400) / 3_600) as usize;
        profile.features.active_hours[hour] += 1;
        if let Some(item) = items.get(&r.item_id) {
            if let Some(category) = item.category() {
                *profile.preferences.category_scores.entry(category.to_owned()).or_default() += 1.0;
            }
            for tag in item.tags() {
                *profile.preferences.tag_scores.entry(tag.to_owned()).or_default() += 1.0;
            }
        }
    }
    for profile in out.values_mut() {
        let mut categories: Vec<(&String, &f64)> = profile.preferences.category_scores.iter().collect();
        categories.sort_by(|a, b| b.1.total_cmp(a.1).then_with(|| a.0.cmp(b.0)));
        profile.features.favorite_categories = categories.into_iter().take(3).map(|(c, _)| c.clone()).collect();
    }
    Ok(out)
}

fn features() -> FeaturesConfig {
    let spec = |name: &str, feature_type| FeatureSpec { name: name.into(), feature_type, weight: 1.0 };
    FeaturesConfig {
        item_features: vec![spec("release_year", FeatureType::Numeric), spec("tags", FeatureType::MultiCategorical)],
        user_features: vec![
            spec("total_watch_count", FeatureType::Numeric),
            spec("favorite_categories", FeatureType::MultiCategorical),
        ],
    }
}

/// Evaluates each of `models` (ranker names) and returns its JSON row.
pub fn evaluate(task: &CtrTask<'_>, models: &[String]) -> anyhow::Result<Vec<(String, Value)>> {
    let mut ordered: Vec<&Rating> = task.ratings.iter().collect();
    ordered.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.user_id.cmp(&b.user_id)));
    let cut = ordered.len() - (ordered.len() as f64 * task.test_fraction).round() as usize;
    let (train, test) = ordered.split_at(cut);
    anyhow::ensure!(!train.is_empty() && !test.is_empty(), "too few interactions to split by time");
    let items = items(task.items, task.ratings)?;
    let profiles = profiles(train, &items)?;
    let context = Map::new();
    let observe = |r: &&Rating| Observation {
        item: &items[&r.item_id],
        profile: profiles.get(&r.user_id),
        context: &context,
        at_ms: r.timestamp * 1000,
    };
    let mut space = FeatureSpace::new(&features());
    space.fit(train.iter().map(observe));
    let build = |rows: &[&Rating]| -> anyhow::Result<CtrData> {
        let mut data = space.empty_data();
        for r in rows {
            let label = f32::from(u8::from(r.rating >= task.threshold));
            space.push(&mut data, &observe(r), Some(label))?;
        }
        Ok(data)
    };
    let (train_data, test_data) = (build(train)?, build(test)?);
    let labels: Vec<bool> = test_data.labels.iter().map(|l| *l > 0.0).collect();
    if let Some(dir) = task.export {
        export(dir, &train_data, &test_data, task.params.get("lightgbm"))?;
    }
    let mut rows = Vec::new();
    for name in models {
        let params = task.params.get(name.as_str()).cloned().unwrap_or(Value::Null);
        let started = Instant::now();
        let ranker = polyrec_engine::learned::named(name)
            .and_then(|model| model.as_ranker())
            .with_context(|| format!("{name} is not a learned ranker"))?;
        let model = ranker.fit_once(&train_data, &params, &|_| {}).with_context(|| format!("fitting {name}"))?;
        let fit_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let scores: Vec<f64> = model.predict(&test_data).into_iter().map(f64::from).collect();
        let predict_seconds = started.elapsed().as_secs_f64();
        rows.push((
            name.clone(),
            json!({
                "auc": auc(&scores, &labels),
                "log_loss": log_loss(&scores, &labels),
                "fit_seconds": fit_seconds,
                "us_per_row": predict_seconds * 1e6 / scores.len().max(1) as f64,
                "train_rows": train_data.n_rows,
                "test_rows": test_data.n_rows,
                "test_positive_rate": labels.iter().filter(|l| **l).count() as f64 / labels.len().max(1) as f64,
                "features": test_data.numeric_names.len() + test_data.categorical_names.len(),
            }),
        ));
    }
    Ok(rows)
}

/// The encoded rows as CSV (label, numeric columns, categorical codes; NaN as empty) and the
/// LightGBM parameters the Rust fit used, for the Python reference.
fn export(dir: &Path, train: &CtrData, test: &CtrData, lightgbm: Option<&Value>) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, data) in [("ctr_train.csv", train), ("ctr_test.csv", test)] {
        let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join(name))?);
        let header: Vec<String> = std::iter::once("label".to_owned())
            .chain(data.numeric_names.iter().cloned())
            .chain(data.categorical_names.iter().cloned())
            .collect();
        writeln!(out, "{}", header.join(","))?;
        for row in 0..data.n_rows {
            let mut line = format!("{}", data.labels[row]);
            for x in data.numeric_row(row) {
                if x.is_nan() {
                    line.push(',');
                } else {
                    line.push_str(&format!(",{x}"));
                }
            }
            for code in data.categorical_row(row) {
                line.push_str(&format!(",{code}"));
            }
            writeln!(out, "{line}")?;
        }
        out.flush()?;
    }
    let meta = json!({"categorical": train.categorical_names, "params": reference_params(lightgbm)?});
    std::fs::write(dir.join("ctr_meta.json"), serde_json::to_string_pretty(&meta)?)?;
    Ok(())
}

/// The parameters the Rust LightGBM fit passes, by LightGBM's names (threads aside: the
/// reference script sets its own).
#[cfg(feature = "lightgbm")]
fn reference_params(lightgbm: Option<&Value>) -> anyhow::Result<Value> {
    let p: polyrec_models::rank::lightgbm::GbdtParams =
        serde_json::from_value(lightgbm.cloned().unwrap_or_else(|| json!({}))).context("--params lightgbm")?;
    Ok(json!({
        "objective": p.objective,
        "num_iterations": p.num_iterations,
        "learning_rate": p.learning_rate,
        "num_leaves": p.num_leaves,
        "min_data_in_leaf": p.min_data_in_leaf,
        "feature_fraction": p.feature_fraction,
        "bagging_fraction": p.bagging_fraction,
        "bagging_freq": p.bagging_freq,
        "seed": p.seed % i32::MAX as u64,
        "deterministic": true,
        "force_row_wise": true,
        "verbosity": -1,
    }))
}

#[cfg(not(feature = "lightgbm"))]
fn reference_params(_: Option<&Value>) -> anyhow::Result<Value> {
    anyhow::bail!("the LightGBM reference export needs a build with the cargo feature `lightgbm`")
}
