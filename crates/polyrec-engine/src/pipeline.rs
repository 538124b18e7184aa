//! A compiled scenario config and the run of one request through it:
//!
//! recall channels (concurrently, each under its deadline) → merge and dedup, each channel's
//! scores scaled to [0, 1] and weighted by the channel weight → cold-start fill when too few →
//! rank → each rerank rule in order → pins → top `count`.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use polyrec_core::{
    ChannelWeight, FieldError, Item, Result, ScenarioConfig, ScenarioId, TenantId, UserId, UserProfile,
};
use polyrec_storage::RealtimeStore;
use serde::Serialize;
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::catalog::CatalogIndex;
use crate::{Catalog, CfModel, ScenarioModels, recall::fallback, registry};

/// Deadline of a recall channel whose config sets none.
pub const DEFAULT_CHANNEL_TIMEOUT_MS: u64 = 100;

/// Everything a strategy may read for one request.
pub struct RequestContext<'a> {
    pub tenant: &'a TenantId,
    pub scenario: &'a ScenarioId,
    pub user: &'a UserId,
    pub now_ms: i64,
    pub catalog: &'a Catalog,
    pub profile: Option<&'a UserProfile>,
    /// The user's most recent positive items, newest first.
    pub recent_items: &'a [String],
    /// The same items as a set, for lookups.
    pub recent_set: &'a HashSet<String>,
    /// The scenario's trained models, if any.
    pub models: Option<&'a ScenarioModels>,
    pub realtime: &'a dyn RealtimeStore,
    /// The request's free `context` object (device, location, ...).
    pub context: &'a Map<String, Value>,
    /// Items never to return: exposed in the last 24 h, or excluded by the caller.
    pub exclude: &'a HashSet<String>,
    /// Online prediction in another process (the model service); `None`: the learned rankers
    /// of `models` score here.
    pub ranking: Option<&'a dyn RankService>,
}

/// Online prediction by the model service: the learned ranker `model` (the `pinned` version, or
/// the one serving there) scores the candidates `items` for the request's user and context.
#[async_trait]
pub trait RankService: Send + Sync {
    /// One score per item, in order; `None` when that ranker version is not loaded there (the
    /// candidates then keep their recall order, as in process).
    async fn score(
        &self,
        ctx: &RequestContext<'_>,
        model: &str,
        pinned: Option<&str>,
        items: &[&str],
    ) -> Result<Option<Vec<f32>>>;
}

impl RequestContext<'_> {
    /// The item, if it may be recommended in this request.
    pub fn eligible(&self, item_id: &str) -> Option<&Arc<Item>> {
        if self.exclude.contains(item_id) {
            return None;
        }
        self.catalog.active(item_id)
    }

    /// The scenario's collaborative-filtering model, once trained.
    pub fn cf(&self) -> Option<&CfModel> {
        self.models?.cf.as_deref()
    }

    /// Whether the user touched the item recently (recall strategies leave those out).
    pub fn is_recent(&self, item_id: &str) -> bool {
        self.recent_set.contains(item_id)
    }

    /// The location of the request: `context.location`, else the profile's, if any.
    pub fn location(&self) -> Option<&str> {
        self.context.get("location").and_then(Value::as_str)
    }
}

/// One recalled item with its channel score (higher is better; any scale).
pub type Hit = (Arc<Item>, f64);

/// A recall strategy: up to `limit` items, best first. Every item it returns must pass
/// [`RequestContext::eligible`] (the merge relies on it and does not look again).
#[async_trait]
pub trait Recall: Send + Sync {
    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<Hit>>;

    /// The catalog indexes built on first ask that this strategy reads.
    fn catalog_indexes(&self) -> Vec<CatalogIndex> {
        Vec::new()
    }
}

/// A ranking model: sets `rank_score` and `score` of every candidate.
#[async_trait]
pub trait Rank: Send + Sync {
    async fn rank(&self, ctx: &RequestContext<'_>, candidates: &mut [Candidate]) -> Result<()>;

    /// The catalog indexes built on first ask that this ranker reads.
    fn catalog_indexes(&self) -> Vec<CatalogIndex> {
        Vec::new()
    }
}

/// A rerank rule: adjusts scores (or removes candidates, or pins them) with its weight.
pub trait Rerank: Send + Sync {
    fn rerank(&self, ctx: &RequestContext<'_>, weight: f64, candidates: &mut Vec<Candidate>);
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelHit {
    pub name: String,
    /// The channel's score for the item, scaled to [0, 1] within the channel.
    pub score: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageScore {
    pub stage: String,
    pub score: f64,
}

#[derive(Debug, Clone)]
pub struct Candidate {
    pub item: Arc<Item>,
    pub channels: Vec<ChannelHit>,
    /// Σ channel weight × scaled channel score.
    pub recall_score: f64,
    pub rank_score: f64,
    pub score: f64,
    /// The score after each stage, for `explain`.
    pub stages: Vec<StageScore>,
    /// A business rule asked for this position in the answer.
    pub pin: Option<usize>,
}

impl Candidate {
    pub fn item_id(&self) -> &str {
        self.item.item_id.as_str()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    Ok,
    Failed,
    Timeout,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelReport {
    pub name: String,
    pub status: ChannelStatus,
    pub candidates: usize,
    pub elapsed_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The weight its scores were merged with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// For a channel weighted `"auto"`: whether `weight` is the trained blend's (`false`: no
    /// blend is trained yet, and it is 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_fitted: Option<bool>,
}

pub struct RecommendInput<'a> {
    pub ctx: RequestContext<'a>,
    pub count: usize,
    pub explain: bool,
}

#[derive(Debug)]
pub struct RecommendOutput {
    pub items: Vec<Candidate>,
    pub channels: Vec<ChannelReport>,
    /// True when the cold-start fill added items.
    pub fallback_used: bool,
    pub n_candidates: usize,
}

struct RecallChannel {
    name: String,
    weight: ChannelWeight,
    limit: usize,
    timeout: Duration,
    strategy: Box<dyn Recall>,
}

struct RerankStep {
    name: String,
    weight: f64,
    rule: Box<dyn Rerank>,
}

/// A scenario config compiled into strategy objects; built once per config version.
pub struct Pipeline {
    recall: Vec<RecallChannel>,
    rank_name: String,
    rank: Box<dyn Rank>,
    rerank: Vec<RerankStep>,
    /// What its strategies read of the catalog that the catalog builds on first ask.
    catalog_indexes: Vec<CatalogIndex>,
}

impl Pipeline {
    /// Builds every strategy of a config; each problem is reported with its JSON path.
    pub fn compile(config: &ScenarioConfig) -> Result<Pipeline, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut recall = Vec::new();
        for (index, spec) in config.recall.strategies.iter().enumerate() {
            let path = format!("config.recall.strategies[{index}]");
            match registry::build_recall(&spec.name, &spec.params, config) {
                Ok(strategy) => recall.push(RecallChannel {
                    name: spec.name.clone(),
                    weight: spec.weight,
                    limit: spec.limit,
                    timeout: Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_CHANNEL_TIMEOUT_MS)),
                    strategy,
                }),
                Err(error) => errors.push(error.at(&path)),
            }
        }
        let rank = match registry::build_rank(&config.rank.model, &config.rank.params, config) {
            Ok(rank) => Some(rank),
            Err(error) => {
                errors.push(error.at("config.rank"));
                None
            }
        };
        let mut rerank = Vec::new();
        for (index, spec) in config.rerank.rules.iter().enumerate() {
            let path = format!("config.rerank.rules[{index}]");
            match registry::build_rerank(&spec.name, &spec.params, config) {
                Ok(rule) => rerank.push(RerankStep { name: spec.name.clone(), weight: spec.weight, rule }),
                Err(error) => errors.push(error.at(&path)),
            }
        }
        match rank {
            Some(rank) if errors.is_empty() => {
                let mut catalog_indexes: Vec<CatalogIndex> = Vec::new();
                for index in
                    recall.iter().flat_map(|channel| channel.strategy.catalog_indexes()).chain(rank.catalog_indexes())
                {
                    if !catalog_indexes.contains(&index) {
                        catalog_indexes.push(index);
                    }
                }
                Ok(Pipeline { recall, rank_name: config.rank.model.clone(), rank, rerank, catalog_indexes })
            }
            _ => Err(errors),
        }
    }

    /// The catalog indexes built on first ask that its strategies read: the server builds the
    /// missing ones on the blocking pool before it runs the pipeline.
    pub fn catalog_indexes(&self) -> &[CatalogIndex] {
        &self.catalog_indexes
    }

    /// The recall stage alone: every channel's candidates merged (each with its channels'
    /// scaled scores), before the fallback, ranking and rerank rules; and the channels' reports.
    pub async fn recall(&self, ctx: &RequestContext<'_>) -> (Vec<Candidate>, Vec<ChannelReport>) {
        // A span per stage and per recall channel: with trace export on, each request's trace
        // shows where its time went.
        let runs = self.recall.iter().map(|channel| {
            let span = tracing::info_span!("recall.channel", channel = %channel.name, limit = channel.limit);
            async move {
                let started = Instant::now();
                let outcome = tokio::time::timeout(channel.timeout, channel.strategy.recall(ctx, channel.limit)).await;
                (channel, outcome, started.elapsed())
            }
            .instrument(span)
        });
        let results = futures::future::join_all(runs).instrument(tracing::info_span!("recall")).await;

        // `"auto"` channels take the weights the scenario's trained blend fitted.
        let blend = ctx.models.and_then(|m| m.learned::<crate::learned::blend::Blend>(crate::learned::blend::NAME));
        // Candidates in first-seen order, found by the address of their catalog entry.
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut position: HashMap<usize, usize> = HashMap::default();
        let mut reports = Vec::with_capacity(results.len());
        for (channel, outcome, elapsed) in results {
            let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
            let hits = match outcome {
                Ok(Ok(hits)) => hits,
                Ok(Err(error)) => {
                    // The request's own bad input (a `location` point off the globe) is the
                    // caller's to fix and is in the answer's report; a failing store is the
                    // operator's.
                    if matches!(error, polyrec_core::Error::InvalidInput { .. }) {
                        tracing::debug!(channel = %channel.name, %error, "recall channel refused the request's input");
                    } else {
                        tracing::warn!(channel = %channel.name, %error, "recall channel failed");
                    }
                    reports.push(report(&channel.name, ChannelStatus::Failed, 0, elapsed_ms, Some(error.to_string())));
                    continue;
                }
                Err(_) => {
                    reports.push(report(&channel.name, ChannelStatus::Timeout, 0, elapsed_ms, None));
                    continue;
                }
            };
            let (weight, fitted) = match channel.weight {
                ChannelWeight::Fixed(weight) => (weight, None),
                ChannelWeight::Auto => match blend.and_then(|b| b.weight(&channel.name)) {
                    Some(weight) => (weight, Some(true)),
                    None => (1.0, Some(false)),
                },
            };
            let max = hits.iter().map(|(_, score)| *score).fold(0.0, f64::max);
            let mut n_candidates = 0;
            for (item, raw) in hits.into_iter().take(channel.limit) {
                debug_assert!(
                    ctx.eligible(item.item_id.as_str()).is_some(),
                    "{} returned an ineligible item",
                    channel.name
                );
                n_candidates += 1;
                let scaled = if max > 0.0 { (raw / max).clamp(0.0, 1.0) } else { 0.0 };
                let index = *position.entry(Arc::as_ptr(&item) as usize).or_insert_with(|| {
                    candidates.push(new_candidate(item));
                    candidates.len() - 1
                });
                let candidate = &mut candidates[index];
                candidate.recall_score += weight * scaled;
                candidate.channels.push(ChannelHit { name: channel.name.clone(), score: scaled });
            }
            let mut ok = report(&channel.name, ChannelStatus::Ok, n_candidates, elapsed_ms, None);
            (ok.weight, ok.weight_fitted) = (Some(weight), fitted);
            reports.push(ok);
        }

        (candidates, reports)
    }

    pub async fn run(&self, input: RecommendInput<'_>) -> RecommendOutput {
        let ctx = &input.ctx;
        let (mut candidates, reports) = self.recall(ctx).await;
        let mut fallback_used = false;
        if candidates.len() < input.count {
            let present: HashSet<String> = candidates.iter().map(|c| c.item_id().to_owned()).collect();
            let fill = fallback::fill(ctx, &present, input.count - candidates.len()).await;
            fallback_used = !fill.is_empty();
            candidates.extend(fill.into_iter().map(|(item, scaled)| {
                let mut candidate = new_candidate(item);
                // Below every real channel's candidates, but in the fallback's own order.
                candidate.recall_score = fallback::WEIGHT * scaled;
                candidate.channels.push(ChannelHit { name: fallback::NAME.into(), score: scaled });
                candidate
            }));
        }
        let n_candidates = candidates.len();

        for candidate in &mut candidates {
            candidate.score = candidate.recall_score;
            if input.explain {
                candidate.stages.push(StageScore { stage: "recall".into(), score: candidate.recall_score });
            }
        }
        let rank_span = tracing::info_span!("rank", model = %self.rank_name, candidates = n_candidates);
        if let Err(error) = self.rank.rank(ctx, &mut candidates).instrument(rank_span).await {
            // A failing model degrades to recall order rather than failing the request.
            tracing::warn!(model = %self.rank_name, %error, "ranking failed; keeping recall scores");
        }
        sort(&mut candidates);
        if input.explain {
            for candidate in &mut candidates {
                candidate.stages.push(StageScore { stage: format!("rank:{}", self.rank_name), score: candidate.score });
            }
        }
        for step in &self.rerank {
            let _span = tracing::info_span!("rerank", rule = %step.name).entered();
            step.rule.rerank(ctx, step.weight, &mut candidates);
            sort(&mut candidates);
            if input.explain {
                for candidate in &mut candidates {
                    candidate
                        .stages
                        .push(StageScore { stage: format!("rerank:{}", step.name), score: candidate.score });
                }
            }
        }
        let items = apply_pins(candidates, input.count);
        RecommendOutput { items, channels: reports, fallback_used, n_candidates }
    }
}

fn new_candidate(item: Arc<Item>) -> Candidate {
    Candidate {
        item,
        channels: Vec::new(),
        recall_score: 0.0,
        rank_score: 0.0,
        score: 0.0,
        stages: Vec::new(),
        pin: None,
    }
}

fn report(
    name: &str,
    status: ChannelStatus,
    candidates: usize,
    elapsed_ms: f64,
    error: Option<String>,
) -> ChannelReport {
    ChannelReport { name: name.to_owned(), status, candidates, elapsed_ms, error, weight: None, weight_fitted: None }
}

/// Best first; ties broken by item id so answers are deterministic.
fn sort(candidates: &mut [Candidate]) {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.item_id().cmp(b.item_id())));
}

/// Takes the top `count`, then moves pinned candidates (from anywhere in the list) to their
/// positions, in the order of their pins.
fn apply_pins(candidates: Vec<Candidate>, count: usize) -> Vec<Candidate> {
    let (mut pinned, rest): (Vec<Candidate>, Vec<Candidate>) = candidates.into_iter().partition(|c| c.pin.is_some());
    pinned.sort_by_key(|c| c.pin);
    let mut out: Vec<Candidate> = rest.into_iter().take(count).collect();
    // Several items pinned to one position keep their score order, one after the other.
    let mut placed_at: HashMap<usize, usize> = HashMap::default();
    for candidate in pinned {
        let pin = candidate.pin.unwrap_or(0);
        let already = placed_at.entry(pin).or_default();
        out.insert((pin + *already).min(out.len()), candidate);
        *already += 1;
    }
    out.truncate(count);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, item};
    use serde_json::json;

    fn config(value: Value) -> ScenarioConfig {
        serde_json::from_value(value).unwrap()
    }

    /// The server builds these on the blocking pool before a request runs the pipeline: one
    /// missing here is built by the request, on its runtime thread.
    #[test]
    fn a_pipeline_lists_the_catalog_indexes_its_strategies_read() {
        let pipeline = Pipeline::compile(&config(json!({
            "recall": {"strategies": [
                {"name": "location", "weight": 0.5, "limit": 10, "params": {"field": "city", "lat_field": "y", "lon_field": "x"}},
                {"name": "latest", "weight": 0.5, "limit": 10}
            ]},
            "rank": {"model": "weighted"},
            "features": {"item_features": [
                {"name": "duration", "type": "numeric", "weight": 1.0},
                {"name": "category", "type": "categorical", "weight": 1.0}
            ]}
        })))
        .unwrap();
        assert_eq!(
            pipeline.catalog_indexes(),
            [
                CatalogIndex::Field("city".into()),
                CatalogIndex::Places("y".into(), "x".into()),
                CatalogIndex::Numeric("duration".into())
            ]
        );
        let now = 1_700_000_000_000;
        let catalog = catalog(vec![item("a", now, 1, json!({"city": "lyon", "y": 45.7, "x": 4.8, "duration": 30}))]);
        assert!(pipeline.catalog_indexes().iter().all(|index| !catalog.is_built(index)));
        pipeline.catalog_indexes().iter().for_each(|index| catalog.build_index(index));
        assert!(pipeline.catalog_indexes().iter().all(|index| catalog.is_built(index)));
    }

    #[tokio::test]
    async fn merges_channels_and_falls_back_for_new_users() {
        let now = 1_700_000_000_000;
        let mut fx = crate::recall::test_support::Fixture::new(
            now,
            catalog(vec![
                item("a", now, 5, json!({})),
                item("b", now, 1, json!({})),
                item("c", now, 0, json!({})),
                item("d", now, 50, json!({})),
            ]),
        );
        let hot = vec![("a".into(), 10.0), ("b".into(), 5.0)];
        fx.realtime.replace_hot_items(&fx.tenant, &fx.scenario, hot, 1_000_000).await.unwrap();
        fx.exclude.insert("b".into());
        let pipeline = Pipeline::compile(&config(json!({
            "recall": {"strategies": [
                {"name": "hot_items", "weight": 0.5, "limit": 10},
                {"name": "latest", "weight": 0.5, "limit": 2}
            ]},
            "rank": {"model": "weighted"}
        })))
        .unwrap();
        let ctx = fx.ctx();
        let out = pipeline.run(RecommendInput { ctx, count: 4, explain: true }).await;
        let ids: Vec<&str> = out.items.iter().map(Candidate::item_id).collect();
        assert!(!ids.contains(&"b"), "excluded items never come back: {ids:?}");
        assert_eq!(ids.len(), 3, "a, c from channels and d from the fallback: {ids:?}");
        assert!(out.fallback_used);
        let a = out.items.iter().find(|c| c.item_id() == "a").unwrap();
        assert_eq!(a.channels[0].name, "hot_items");
        assert!(out.channels.iter().all(|r| r.status == ChannelStatus::Ok));
        assert_eq!(a.stages.first().unwrap().stage, "recall");
    }

    struct Failing;

    #[async_trait]
    impl Recall for Failing {
        async fn recall(&self, _: &RequestContext<'_>, _: usize) -> Result<Vec<Hit>> {
            Err(polyrec_core::Error::unavailable("the vector index is down"))
        }
    }

    struct Slow;

    #[async_trait]
    impl Recall for Slow {
        async fn recall(&self, _: &RequestContext<'_>, _: usize) -> Result<Vec<Hit>> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(Vec::new())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_or_slow_channel_is_reported_and_the_others_answer() {
        let now = 1_700_000_000_000;
        let fx = crate::recall::test_support::Fixture::new(now, catalog(vec![item("a", now, 1, json!({}))]));
        let channel = |name: &str, timeout_ms: u64, strategy: Box<dyn Recall>| RecallChannel {
            name: name.into(),
            weight: ChannelWeight::Fixed(1.0),
            limit: 10,
            timeout: Duration::from_millis(timeout_ms),
            strategy,
        };
        let scenario = config(json!({"recall": {"strategies": [{"name": "latest", "weight": 1.0, "limit": 10}]},
            "rank": {"model": "weighted"}}));
        let template = Pipeline::compile(&scenario).unwrap();
        let latest = template.recall.into_iter().next().unwrap();
        let pipeline = Pipeline {
            recall: vec![channel("broken", 50, Box::new(Failing)), channel("slow", 50, Box::new(Slow)), latest],
            rank_name: "weighted".into(),
            rank: template.rank,
            rerank: Vec::new(),
            catalog_indexes: Vec::new(),
        };
        let out = pipeline.run(RecommendInput { ctx: fx.ctx(), count: 5, explain: false }).await;
        let statuses: Vec<(&str, ChannelStatus)> = out.channels.iter().map(|r| (r.name.as_str(), r.status)).collect();
        assert_eq!(
            statuses,
            [("broken", ChannelStatus::Failed), ("slow", ChannelStatus::Timeout), ("latest", ChannelStatus::Ok)]
        );
        assert!(out.channels[0].error.as_deref().unwrap().contains("vector index is down"));
        assert_eq!(out.items.iter().map(Candidate::item_id).collect::<Vec<_>>(), ["a"]);
        assert!(!out.fallback_used, "the working channel found the only item");
    }

    #[test]
    fn pins_move_to_their_position() {
        let now = 0;
        let mut candidates: Vec<Candidate> =
            ["a", "b", "c"].iter().map(|id| new_candidate(item(id, now, 0, json!({})))).collect();
        candidates[2].pin = Some(0);
        let out = apply_pins(candidates.clone(), 2);
        let ids: Vec<&str> = out.iter().map(Candidate::item_id).collect();
        assert_eq!(ids, ["c", "a"]);
        candidates[1].pin = Some(0);
        let out = apply_pins(candidates, 3);
        let ids: Vec<&str> = out.iter().map(Candidate::item_id).collect();
        assert_eq!(ids, ["b", "c", "a"], "two pins at one place keep their order");
    }
}
