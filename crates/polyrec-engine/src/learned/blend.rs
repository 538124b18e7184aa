//! `blend`: the fitted weights of a scenario's recall channels weighted `"auto"`.
//!
//! The training job fits it after the recall models: the scenario's interactions are split per
//! user ([`polyrec_models::tune::VALIDATION_FRACTION`] held out, seed
//! [`polyrec_models::tune::VALIDATION_SEED`]); every model the config's channels read is fitted
//! again on the rest with the parameters the job chose (neighbours, ALS, EASE, …; the hot set is
//! the rest's popularity), and the config's recall stage runs for each held-out user as a
//! request would — the user's remaining items as history, those items excluded. Each candidate
//! then has each channel's score scaled to [0, 1] per request, exactly what the pipeline merges;
//! the weights of the `"auto"` channels are chosen by coordinate ascent over a grid from 0 to 1
//! to maximise NDCG@10 of the merged order on the held-out items (fixed weights stay as given);
//! unless that beats all-`"auto"`-at-1 by [`MIN_GAIN`], the weights stay at 1.
//! The pipeline then merges with the fitted weights (`explain` shows them).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use polyrec_core::model::ModelKind;
use polyrec_core::{ChannelWeight, Code, Error, ManualClock, Result, ScenarioConfig, ScenarioId, TenantId, UserId};
use polyrec_models::split::{Rating, SplitKind, split};
use polyrec_models::tune::{VALIDATION_FRACTION, VALIDATION_K, VALIDATION_SEED};
use polyrec_storage::{Interaction, IvfIndex, MemoryRealtime, RealtimeStore, VectorCollection, VectorIndex};
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{About, Fitted, LearnedModel, Trained, TrainingData, Tuning, Vectors};
use crate::offline::OfflineUser;
use crate::{Catalog, CfModel, Pipeline, ScenarioModels};

/// The model's name (and where it is in a snapshot).
pub const NAME: &str = "blend";

/// The weights the pipeline gives its `"auto"` channels, by channel name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blend {
    pub weights: BTreeMap<String, f64>,
}

impl Blend {
    pub fn weight(&self, channel: &str) -> Option<f64> {
        self.weights.get(channel).copied()
    }
}

impl Trained for Blend {
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("weights serialize")
    }

    fn install(self: Arc<Self>, name: &'static str, version: &str, models: &mut ScenarioModels, _: Vectors) {
        models.learned.insert(name, self);
        models.versions.insert(name.to_owned(), version.to_owned());
    }
}

pub struct BlendModel {
    about: About,
}

pub const BLEND: BlendModel = BlendModel {
    about: About {
        name: NAME,
        summary: "fitted weights of the recall channels weighted \"auto\"",
        stage: ModelKind::Recall,
    },
};

impl LearnedModel for BlendModel {
    fn about(&self) -> &About {
        &self.about
    }

    fn used_by(&self, config: &ScenarioConfig) -> bool {
        config.recall.strategies.iter().any(|s| s.weight.is_auto())
    }

    fn fits_on_candidates(&self) -> bool {
        true
    }

    fn fit(&self, data: &TrainingData<'_>, progress: &(dyn Fn(f64) + Sync)) -> Result<Fitted> {
        let TrainingData::Blend { rows, config, catalog, params, now_ms } = data else {
            return Err(Error::internal("blend fits on a scenario's interactions and config"));
        };
        fit(rows, config, catalog, params, *now_ms, progress)
    }

    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn Trained>> {
        let blend: Blend =
            serde_json::from_slice(bytes).map_err(|e| Error::internal(format!("artifact of {NAME}: {e}")))?;
        Ok(Arc::new(blend))
    }
}

/// The grid each `"auto"` weight is searched over.
const GRID: [f64; 13] = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
/// The fitted weights replace the equal ones only when they improve the validation NDCG@10 by
/// this much (relative).
const MIN_GAIN: f64 = 0.01;
/// Validation users the blend is fitted on at most (a seeded sample past it).
const MAX_USERS: usize = 5_000;
/// Coordinate-ascent rounds at most (it stops at the first round that changes nothing).
const ROUNDS: usize = 4;

/// One held-out user's candidates: each channel's scaled score per candidate (row-major,
/// `channels` per candidate), whether each is a held-out item, and the ideal DCG.
struct Case {
    scores: Vec<f32>,
    relevant: Vec<bool>,
    ideal: f64,
}

/// Fits the blend of `config`'s channels on a validation split of `rows`; `params` holds the
/// registry `config.params` each learned recall model was fitted with (refitted as they are).
/// Blocking: run it off the async threads (it drives the recall stage with the current Tokio
/// runtime's handle).
pub fn fit(
    rows: &[Interaction],
    config: &ScenarioConfig,
    catalog: &Catalog,
    params: &BTreeMap<String, Value>,
    now_ms: i64,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<Fitted> {
    let channel_names: Vec<&str> = config.recall.strategies.iter().map(|s| s.name.as_str()).collect();
    let mut cases = Vec::new();
    validation_candidates(rows, config, catalog, params, now_ms, &|f| progress(f * 0.9), |user| {
        let mut scores = vec![0.0f32; user.candidates.len() * channel_names.len()];
        for (c, candidate) in user.candidates.iter().enumerate() {
            for hit in &candidate.channels {
                if let Some(k) = channel_names.iter().position(|name| *name == hit.name) {
                    scores[c * channel_names.len() + k] = hit.score as f32;
                }
            }
        }
        let relevant = user.candidates.iter().map(|c| user.relevant.contains(c.item_id())).collect();
        cases.push(Case { scores, relevant, ideal: user.ideal() });
    })?;

    let start: Vec<f64> = config.recall.strategies.iter().map(|s| s.weight.fixed().unwrap_or(1.0)).collect();
    let auto: Vec<usize> = (0..start.len()).filter(|&k| config.recall.strategies[k].weight.is_auto()).collect();
    let equal = ndcg(&cases, &start);
    let (mut weights, mut best, evaluated) = ascend(&cases, start.clone(), &auto);
    // A gain below the noise floor is not worth trusting: on MovieLens-100K gains under 1 % on
    // validation moved the test NDCG by ±0.002, either way (docs/quality.md). Below it the
    // starting weights stay.
    let kept = best < equal * (1.0 + MIN_GAIN);
    if kept {
        (weights, best) = (start, equal);
    }
    progress(1.0);
    let fitted: BTreeMap<String, f64> = auto.iter().map(|&k| (channel_names[k].to_owned(), weights[k])).collect();
    let metric = format!("ndcg@{VALIDATION_K}");
    let recorded = json!({
        "weights": fitted,
        "validation": {"fraction": VALIDATION_FRACTION, "seed": VALIDATION_SEED, "metric": metric,
                       "users": cases.len(), "weight_sets_tried": evaluated,
                       "min_gain": MIN_GAIN, "kept_equal_weights": kept},
    });
    let metrics = BTreeMap::from([(metric.clone(), best), (format!("{metric}_equal_weights"), equal)]);
    Ok(Fitted { model: Arc::new(Blend { weights: fitted }), metrics, params: recorded })
}

/// One held-out user of the validation split, as the recall stage answered them.
pub(crate) struct ValidationUser<'a> {
    /// The merged candidates, in the recall stage's first-seen order, every channel at weight 1.
    pub candidates: &'a [crate::pipeline::Candidate],
    /// The user's held-out items.
    pub relevant: &'a FxHashSet<&'a str>,
    /// How many recent items the request carries (at most the 50 a live request does).
    pub history: usize,
    /// Interactions per item in the training part…
    pub popularity: &'a HashMap<String, f64>,
    /// …and the most of any item (at least 1).
    pub most_popular: f64,
}

impl ValidationUser<'_> {
    /// The DCG of a perfect top [`VALIDATION_K`].
    pub fn ideal(&self) -> f64 {
        (0..self.relevant.len().min(VALIDATION_K)).map(|i| 1.0 / (i as f64 + 2.0).log2()).sum()
    }
}

/// The validation split's side of the recall stage, shared by the blend and the interaction
/// ranker: `rows` split per user ([`VALIDATION_FRACTION`] held out, seed [`VALIDATION_SEED`]);
/// every model `config`'s channels read fitted again on the rest with `params` (the
/// parameters the job chose); then the recall stage, every channel at weight 1, run for each
/// held-out user (at most [`MAX_USERS`], a seeded sample) as a request would, each answer
/// handed to `each`.
/// Blocking: it drives the recall stage with the current Tokio runtime's handle.
pub(crate) fn validation_candidates(
    rows: &[Interaction],
    config: &ScenarioConfig,
    catalog: &Catalog,
    params: &BTreeMap<String, Value>,
    now_ms: i64,
    progress: &(dyn Fn(f64) + Sync),
    mut each: impl FnMut(ValidationUser<'_>),
) -> Result<()> {
    let runtime = tokio::runtime::Handle::try_current().map_err(Error::internal)?;
    let ratings: Vec<Rating> = rows
        .iter()
        .map(|i| Rating {
            user_id: i.user_id.clone(),
            item_id: i.item_id.clone(),
            rating: i.weight as f32,
            timestamp: i.last_ms,
        })
        .collect();
    let (train, held) = split(&ratings, SplitKind::Random, VALIDATION_FRACTION, VALIDATION_SEED);
    let train_rows: Vec<Interaction> = train
        .iter()
        .map(|r| Interaction {
            user_id: r.user_id.clone(),
            item_id: r.item_id.clone(),
            weight: r.rating as f64,
            last_ms: r.timestamp,
        })
        .collect();

    // Every model the channels read, fitted on the training part as the job fitted it.
    let mut models = ScenarioModels::default();
    let uses = |name: &str| config.recall.strategies.iter().any(|s| s.name == name);
    if uses("item_cf") || uses("user_cf") {
        // With the neighbours' parameters the job chose (`item_cf`'s search), else the defaults.
        let cf_params = match params.get(super::item_cf::NAME) {
            Some(recorded) => super::item_cf::recorded(Some(recorded)),
            None => super::item_cf::params_for(None, Some(config)),
        };
        models.cf = Some(Arc::new(CfModel::train(&train_rows, cf_params, now_ms)));
    }
    let tenant = TenantId::parse("validation")?;
    let scenario = ScenarioId::parse("validation")?;
    let recall_models: Vec<_> = super::LEARNED
        .iter()
        // The neighbours are built above; `item_cf`'s own fit holds only their parameters.
        .filter(|m| {
            m.stage() == ModelKind::Recall && ![NAME, super::item_cf::NAME].contains(&m.name()) && m.used_by(config)
        })
        .collect();
    for (i, model) in recall_models.iter().enumerate() {
        // One fit on the training part: no search, no holdout metrics.
        let tuning =
            Tuning { fixed: model.configured(config), reuse: params.get(model.name()), budget: None, unmeasured: true };
        let share = 0.6 / recall_models.len() as f64;
        let fitted = model
            .fit(&TrainingData::Interactions { rows: &train_rows, tuning }, &|f| progress(share * (i as f64 + f)))?;
        let vectors = match fitted.model.item_vectors() {
            Some((dimensions, items, factors)) => {
                // The fit's own in-memory index, not one of the deployment's stores (the engine
                // writes to none of those).
                let scratch_index: Arc<dyn VectorIndex> = Arc::new(IvfIndex::default());
                let collection = VectorCollection::new(&tenant, &scenario, model.name());
                runtime.block_on(scratch_index.create(&collection, dimensions, items, factors))?;
                Some((scratch_index, collection))
            }
            None => None,
        };
        fitted.model.install(model.name(), "validation", &mut models, vectors);
    }
    progress(0.6);

    // The hot set: the training part's popularity, in the fit's own in-memory store.
    let scratch_realtime = MemoryRealtime::new(Arc::new(ManualClock::new(now_ms)));
    let mut popularity: HashMap<String, f64> = HashMap::new();
    for r in &train {
        *popularity.entry(r.item_id.clone()).or_default() += 1.0;
    }
    let most_popular = popularity.values().copied().fold(1.0, f64::max);
    let hot = popularity.iter().map(|(item, n)| (item.clone(), *n)).collect();
    runtime.block_on(scratch_realtime.replace_hot_items(&tenant, &scenario, hot, i64::MAX / 4))?;

    // The recall stage with every channel at weight 1: the merge is redone per weights.
    let mut flat = config.clone();
    for channel in &mut flat.recall.strategies {
        channel.weight = ChannelWeight::Fixed(1.0);
    }
    let pipeline = Pipeline::compile(&flat).map_err(|errors| {
        Error::invalid(Code::InvalidConfig, format!("the config does not compile: {:?}", errors.first()))
    })?;
    let mut history: HashMap<&str, Vec<&Rating>> = HashMap::new();
    for r in &train {
        history.entry(&r.user_id).or_default().push(r);
    }
    let mut truth: BTreeMap<&str, FxHashSet<&str>> = BTreeMap::new();
    for r in &held {
        if history.contains_key(r.user_id.as_str()) {
            truth.entry(&r.user_id).or_default().insert(&r.item_id);
        }
    }
    // The recall stage runs once per validation user: at most MAX_USERS of them, however many
    // users the tenant has.
    let truth = sample_users(truth, MAX_USERS);
    let context = serde_json::Map::new();
    for (n, (user_id, relevant)) in truth.iter().enumerate() {
        let seen = history.remove(user_id).unwrap_or_default();
        let offline = OfflineUser::new(UserId::parse(*user_id)?, &scenario, seen, catalog);
        let ctx = offline.context(&tenant, &scenario, now_ms, catalog, &models, &scratch_realtime, &context);
        let (candidates, _) = runtime.block_on(pipeline.recall(&ctx));
        each(ValidationUser {
            candidates: &candidates,
            relevant,
            history: offline.recent.len(),
            popularity: &popularity,
            most_popular,
        });
        progress(0.6 + 0.4 * (n + 1) as f64 / truth.len() as f64);
    }
    Ok(())
}

/// At most `most` of the users, the same ones for the same users (by a seeded hash of the id).
fn sample_users<V>(users: BTreeMap<&str, V>, most: usize) -> BTreeMap<&str, V> {
    if users.len() <= most {
        return users;
    }
    let key = |user: &str| {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = rustc_hash::FxBuildHasher.build_hasher();
        hasher.write_u64(VALIDATION_SEED);
        hasher.write(user.as_bytes());
        hasher.finish()
    };
    let mut keyed: Vec<(u64, &str, V)> = users.into_iter().map(|(user, v)| (key(user), user, v)).collect();
    keyed.select_nth_unstable_by_key(most - 1, |(k, user, _)| (*k, *user));
    keyed.truncate(most);
    keyed.into_iter().map(|(_, user, v)| (user, v)).collect()
}

/// Coordinate ascent on the weights at `auto` from `weights`: each in turn set to the grid value
/// that merges best, round after round until one changes nothing. Returns the weights, their
/// NDCG@10 and how many weight sets were tried.
fn ascend(cases: &[Case], mut weights: Vec<f64>, auto: &[usize]) -> (Vec<f64>, f64, usize) {
    let mut best = ndcg(cases, &weights);
    let mut evaluated = 1;
    for _ in 0..ROUNDS {
        let mut changed = false;
        for &k in auto {
            for &candidate in &GRID {
                if candidate == weights[k] {
                    continue;
                }
                let mut trial = weights.clone();
                trial[k] = candidate;
                let score = ndcg(cases, &trial);
                evaluated += 1;
                if score > best + 1e-9 {
                    (best, weights, changed) = (score, trial, true);
                }
            }
        }
        if !changed {
            break;
        }
    }
    (weights, best, evaluated)
}

/// Mean NDCG@10 of the candidates merged with `weights` (ties keep the recall order).
fn ndcg(cases: &[Case], weights: &[f64]) -> f64 {
    if cases.is_empty() {
        return 0.0;
    }
    let channels = weights.len();
    let mut total = 0.0;
    let mut merged: Vec<(f64, usize)> = Vec::new();
    for case in cases {
        merged.clear();
        merged.extend(
            case.scores
                .chunks_exact(channels)
                .enumerate()
                .map(|(i, row)| (row.iter().zip(weights).map(|(s, w)| *s as f64 * w).sum::<f64>(), i)),
        );
        let k = VALIDATION_K.min(merged.len());
        if k == 0 {
            continue;
        }
        let order = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if merged.len() > k {
            merged.select_nth_unstable_by(k - 1, order);
            merged.truncate(k);
        }
        merged.sort_unstable_by(order);
        let dcg: f64 = merged
            .iter()
            .enumerate()
            .filter(|(_, (_, i))| case.relevant[*i])
            .map(|(rank, _)| 1.0 / (rank as f64 + 2.0).log2())
            .sum();
        total += dcg / case.ideal;
    }
    total / cases.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(scores: &[[f32; 2]], relevant: &[bool]) -> Case {
        let ideal =
            (0..relevant.iter().filter(|r| **r).count().min(VALIDATION_K)).map(|i| 1.0 / (i as f64 + 2.0).log2()).sum();
        Case { scores: scores.iter().flatten().copied().collect(), relevant: relevant.to_vec(), ideal }
    }

    #[test]
    fn ndcg_merges_with_the_weights_and_ranks_by_the_sum() {
        // Channel 0 puts the relevant item last, channel 1 first.
        let cases = [case(&[[1.0, 0.0], [0.75, 0.25], [0.0, 1.0]], &[false, false, true])];
        assert!((ndcg(&cases, &[0.0, 1.0]) - 1.0).abs() < 1e-12);
        // Weight on channel 0 only: the relevant item is third: 1 / log2(4).
        assert!((ndcg(&cases, &[1.0, 0.0]) - 0.5).abs() < 1e-12);
        // Equal weights: scores 1.0, 1.0, 1.0 — ties keep the recall order.
        assert!((ndcg(&cases, &[1.0, 1.0]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn ascent_turns_down_the_channel_that_misleads_and_leaves_fixed_weights_alone() {
        // Channel 0 ranks the relevant item second, channel 1 pushes a wrong one above it;
        // channel 2 (fixed at 0.3) is noise.
        let scores = [1.0, 1.0, 0.0, 0.8, 0.0, 1.0, 0.0, 0.9, 0.5];
        let cases: Vec<Case> =
            (0..5).map(|_| Case { scores: scores.to_vec(), relevant: vec![false, true, false], ideal: 1.0 }).collect();
        let (weights, best, tried) = ascend(&cases, vec![1.0, 1.0, 0.3], &[0, 1]);
        assert!((best - 1.0).abs() < 1e-12, "{weights:?} {best}");
        assert_eq!(weights[2], 0.3);
        assert!(weights[1] < weights[0], "{weights:?}");
        assert!(tried > GRID.len(), "{tried}");
        // Nothing to fit: the start stands.
        let (same, _, tried) = ascend(&cases, vec![1.0, 1.0, 0.3], &[]);
        assert_eq!((same, tried), (vec![1.0, 1.0, 0.3], 1));
    }

    #[test]
    fn past_the_cap_a_stable_sample_of_users_is_kept() {
        let names: Vec<String> = (0..100).map(|u| format!("u{u}")).collect();
        let users: BTreeMap<&str, usize> = names.iter().map(|u| (u.as_str(), u.len())).collect();
        assert_eq!(sample_users(users.clone(), 100).len(), 100);
        let sample = sample_users(users.clone(), 30);
        assert_eq!(sample.len(), 30);
        assert_eq!(sample, sample_users(users, 30), "the same users every time");
        assert!(sample.iter().all(|(user, len)| user.len() == *len));
    }
}
