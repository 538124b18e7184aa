//! The recommendation service (SPEC §3.2): config → profile → recall channels → merge → rank →
//! rerank → top `count`, with the items the user was shown in the last 24 hours left out.
//!
//! **The result cache** (SPEC §4.2 `recommend:{tenant}:{scenario}:{user}:{hash}`), per scenario
//! with `config.cache` (off by default, `ttl_seconds` 600): the key's hash stands for everything
//! an answer depends on that a request can see at once — the scenario's version and incarnation,
//! the experiment group, the serving model versions (registry versions: not the CF neighbours,
//! which each process rebuilds every round with new events), the profile's last update, the
//! user's recent items and the request context. A click that
//! reaches the user's recent items, a config change, a new model version: each makes a new key,
//! so the next request is computed afresh (the old entry just expires). What a cached answer
//! cannot know is filtered when it is read: it holds more items than asked for (twice `count`,
//! at least 50), and items the user was shown in the last 24 hours, items the request excludes
//! and items no longer active are dropped; with fewer than `count` left it is computed again.
//! `explain` requests and degraded answers (a channel or the realtime store failed) are never
//! cached.

use polyrec_core::Code;
use std::time::Instant;

use polyrec_core::{Error, Result, Scenario, ScenarioId, ScenarioStatus, TenantId, UserId, UserProfile};
use polyrec_engine::pipeline::{ChannelHit, RequestContext, StageScore};
use polyrec_engine::{ChannelReport, ChannelStatus, RecommendInput, ScenarioModels};
use polyrec_storage::Cached;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::App;
use crate::tenancy::Charge;

pub const MAX_COUNT: usize = 500;
pub const DEFAULT_COUNT: usize = 20;
pub const MAX_EXCLUDE: usize = 1_000;
/// How many recent items seed item-based recall.
pub const RECENT_ITEMS: usize = 50;
/// An item shown to a user is not recommended to them again for this long.
pub const EXPOSURE_MS: i64 = polyrec_core::clock::DAY_MS;
/// A cached answer holds at least this many items (and twice `count`), for the reads that
/// filter some out.
pub const MIN_CACHED_ITEMS: usize = 50;

/// What the result cache keeps of an answer. A hit reads the item ids in place (ids hold no
/// characters JSON escapes; an entry that did would not parse, and be computed again).
#[derive(Debug, Serialize, Deserialize)]
struct CachedAnswer<'a> {
    /// (item, score), best first.
    #[serde(borrow)]
    items: Vec<(&'a str, f64)>,
    /// The pipeline had no more items than these.
    complete: bool,
    fallback: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommendRequest {
    pub scenario_id: String,
    /// 1 to 500, default 20.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 500)]
    pub count: Option<i64>,
    /// Free request context, e.g. {"device_type": "mobile", "location": "paris"}.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
    /// Items never to return in this answer.
    #[serde(default)]
    pub exclude_item_ids: Option<Vec<String>>,
    /// Adds where each item came from and its score after each stage.
    #[serde(default)]
    pub explain: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendedItem {
    pub item_id: String,
    pub score: f64,
    /// With `explain`: the recall channels that found the item, with their scaled scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub channels: Option<Vec<ChannelHit>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank_score: Option<f64>,
    /// With `explain`: the score after recall, rank and each rerank rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub stages: Option<Vec<StageScore>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendResponse {
    pub request_id: String,
    pub scenario_id: String,
    pub user_id: String,
    /// The version of the scenario config that answered.
    pub config_version: u64,
    /// The running experiment the user is assigned in, and their group (absent: none runs, or
    /// the user is in its holdout). Report `request_id` with the events of this answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    pub items: Vec<RecommendedItem>,
    /// True when the cold-start fallback filled the answer.
    pub fallback: bool,
    /// Recall channels that failed or ran out of time; the answer comes from the others.
    #[schema(value_type = Vec<Object>)]
    pub degraded_channels: Vec<ChannelReport>,
    /// With `explain`: every channel's report.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub channels: Option<Vec<ChannelReport>>,
    /// With `explain`: candidates after merge and fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<usize>,
    /// Served from the scenario's result cache (`config.cache`).
    pub cached: bool,
    pub took_ms: f64,
}

/// The result cache's hash of what an answer depends on (see the module's documentation).
/// FxHash: the same in every process of a build, so split services share entries.
fn answer_hash(
    scenario: &Scenario,
    group: Option<&str>,
    models: Option<&ScenarioModels>,
    profile: Option<&UserProfile>,
    recent: &[String],
    context: &Map<String, Value>,
) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = rustc_hash::FxHasher::default();
    (scenario.version, scenario.incarnation, group).hash(&mut hasher);
    // The registry versions only: the CF neighbours are rebuilt by every process each round
    // with new events (not a version), and would both void every answer of an active scenario
    // every 30 s and differ between processes; `ttl_seconds` bounds how old they get.
    if let Some(models) = models {
        models.versions.hash(&mut hasher);
    }
    profile.map(|p| p.updated_ms).hash(&mut hasher);
    recent.hash(&mut hasher);
    serde_json::to_string(context).unwrap_or_default().hash(&mut hasher);
    hasher.finish()
}

pub async fn recommend(
    app: &App,
    tenant: &TenantId,
    user: &UserId,
    request_id: String,
    body: RecommendRequest,
) -> Result<RecommendResponse> {
    answer(app, tenant, user, request_id, body, true).await
}

/// Fills the result cache with the user's answer to a plain request (no context, the default
/// `count`), as a precompute job does: not charged to the tenant's request rate, nor counted as
/// one of its requests. Returns whether an answer was cached already.
pub async fn precompute(app: &App, tenant: &TenantId, user: &UserId, scenario: &ScenarioId) -> Result<bool> {
    let body = RecommendRequest {
        scenario_id: scenario.to_string(),
        count: None,
        context: None,
        exclude_item_ids: None,
        explain: None,
    };
    Ok(answer(app, tenant, user, "precompute".to_owned(), body, false).await?.cached)
}

/// An answer; `asked`: a caller's request (charged to the tenant's rate and counted), not a
/// precompute job's.
async fn answer(
    app: &App,
    tenant: &TenantId,
    user: &UserId,
    request_id: String,
    body: RecommendRequest,
    asked: bool,
) -> Result<RecommendResponse> {
    let started = Instant::now();
    let count = body.count.unwrap_or(DEFAULT_COUNT as i64);
    if !(1..=MAX_COUNT as i64).contains(&count) {
        return Err(Error::invalid(
            Code::InvalidCount,
            format!("count must be between 1 and {MAX_COUNT}, got {count}"),
        ));
    }
    let count = count as usize;
    if asked {
        app.charge(tenant, Charge::Recommend).await?;
    }
    let scenario_id = ScenarioId::parse(body.scenario_id)?;
    let excluded = body.exclude_item_ids.unwrap_or_default();
    if excluded.len() > MAX_EXCLUDE {
        return Err(Error::invalid(
            Code::TooManyExclusions,
            format!("exclude_item_ids holds at most {MAX_EXCLUDE} ids, got {}", excluded.len()),
        ));
    }
    let explain = body.explain.unwrap_or(false);
    let mut context = body.context.unwrap_or_default();
    // Bounded as an event's: it is hashed into the result cache's key and read by the features.
    super::behaviors::check_context(&context)?;

    // The scenario, the profile, the user service's info and the realtime reads at once: with
    // Redis each is a round trip, and they do not depend on each other. The catalog waits for
    // the scenario, so that requests for scenarios that do not exist leave no catalog behind.
    let realtime_started = Instant::now();
    let (compiled, profile, user_info, (recent, exposed)) = tokio::try_join!(
        app.scenario(tenant, &scenario_id),
        app.profiles.get(tenant, user, &scenario_id),
        async { Ok(app.tenancy.user(tenant, user, app.now_ms()).await) },
        async {
            Ok(tokio::join!(
                app.stores.realtime.recent(tenant, user, &scenario_id, RECENT_ITEMS),
                app.stores.realtime.exposed(tenant, user, &scenario_id, app.now_ms() - EXPOSURE_MS),
            ))
        },
    )?;
    if let Some(info) = &user_info {
        crate::tenancy::fill_user_fields(&mut context, info);
    }
    if compiled.scenario.status != ScenarioStatus::Active {
        return Err(Error::Conflict {
            code: Code::ScenarioInactive,
            message: format!("scenario {:?} is inactive; set its status to active to serve it", scenario_id.as_str()),
        });
    }
    let catalog = app.catalogs.get(tenant, &scenario_id).await?;
    let now_ms = app.now_ms();
    let experiment = app.experiments.live(tenant, &compiled).await?;
    let assigned = experiment.as_ref().and_then(|live| {
        let (group, pipeline) = live.assign(tenant, user, now_ms)?;
        Some((live.experiment.experiment_id.clone(), group.to_owned(), pipeline.clone()))
    });
    let pipeline = assigned.as_ref().map_or(&compiled.pipeline, |(_, _, pipeline)| &**pipeline);
    // Without the realtime store the answer still comes, from the document store and the
    // channels that do not need it, marked degraded: no recent clicks, no exposure filter.
    let mut realtime_failure = None;
    let mut or_degrade = |result: Result<Vec<String>>| {
        result.unwrap_or_else(|error| {
            realtime_failure = Some(ChannelReport {
                name: "realtime_store".into(),
                status: ChannelStatus::Failed,
                candidates: 0,
                elapsed_ms: realtime_started.elapsed().as_secs_f64() * 1000.0,
                error: Some(error.to_string()),
                weight: None,
                weight_fitted: None,
            });
            Vec::new()
        })
    };
    let (recent, exposed) = (or_degrade(recent), or_degrade(exposed));
    let recent = merge_recent(recent, profile.as_deref());
    let exclude: FxHashSet<String> = exposed.into_iter().chain(excluded).collect();
    app.follow_models(tenant, &scenario_id).await;
    let models = app.models.current(tenant, &scenario_id);

    // Every answer, cached or computed, is counted and shaped here.
    let respond = |items, fallback, degraded_channels, channels, candidates, cached| {
        if asked {
            metrics::counter!("polyrec_tenant_requests_total", "tenant" => crate::telemetry::tenant_label(tenant), "kind" => "recommend")
                .increment(1);
        }
        RecommendResponse {
            request_id: request_id.clone(),
            scenario_id: scenario_id.to_string(),
            user_id: user.to_string(),
            config_version: compiled.scenario.version,
            experiment_id: assigned.as_ref().map(|(experiment, _, _)| experiment.clone()),
            group_id: assigned.as_ref().map(|(_, group, _)| group.clone()),
            items,
            fallback,
            degraded_channels,
            channels,
            candidates,
            cached,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    };
    let cache = &compiled.scenario.config.cache;
    let cache_key = (cache.enabled && !explain && realtime_failure.is_none()).then(|| {
        let group = assigned.as_ref().map(|(_, group, _)| group.as_str());
        let hash = answer_hash(&compiled.scenario, group, models.as_deref(), profile.as_deref(), &recent, &context);
        Cached::Recommendation(tenant, &scenario_id, user, hash)
    });
    if let Some(key) = cache_key {
        let found = app.stores.realtime.cache_get(key).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "result cache read failed; computing the answer");
            None
        });
        let answer = found.as_deref().and_then(|text| serde_json::from_str::<CachedAnswer>(text).ok());
        let items: Option<Vec<RecommendedItem>> = answer.as_ref().and_then(|answer| {
            let items: Vec<RecommendedItem> = answer
                .items
                .iter()
                .filter(|(item, _)| !exclude.contains(*item) && catalog.active(item).is_some())
                .take(count)
                .map(|(item, score)| RecommendedItem {
                    item_id: (*item).to_owned(),
                    score: *score,
                    channels: None,
                    recall_score: None,
                    rank_score: None,
                    stages: None,
                })
                .collect();
            (items.len() >= count || answer.complete).then_some(items)
        });
        crate::telemetry::cache_lookup("recommend", items.is_some());
        if let Some(items) = items {
            let fallback = answer.is_some_and(|a| a.fallback);
            return Ok(respond(items, fallback, Vec::new(), None, None, true));
        }
    }
    // A cached answer holds more than asked for, for the reads that filter some out.
    let depth = if cache_key.is_some() { (2 * count).clamp(MIN_CACHED_ITEMS, MAX_COUNT) } else { count };
    let recent_set: FxHashSet<String> = recent.iter().cloned().collect();
    prepare_catalog(app, tenant, &catalog, pipeline).await?;
    let ctx = RequestContext {
        tenant,
        scenario: &scenario_id,
        user,
        now_ms,
        catalog: &catalog,
        profile: profile.as_deref(),
        recent_items: &recent,
        recent_set: &recent_set,
        models: models.as_deref(),
        realtime: app.stores.realtime.as_ref(),
        context: &context,
        exclude: &exclude,
        ranking: app.sources.ranking.as_deref(),
    };
    let mut output = pipeline.run(RecommendInput { ctx, count: depth, explain }).await;

    let degraded: Vec<ChannelReport> = realtime_failure
        .into_iter()
        .chain(output.channels.iter().filter(|r| r.status != ChannelStatus::Ok).cloned())
        .collect();
    for report in &degraded {
        metrics::counter!("polyrec_recall_channel_failures_total", "channel" => report.name.clone()).increment(1);
    }
    for report in &output.channels {
        metrics::histogram!("polyrec_recall_channel_duration_seconds", "channel" => report.name.clone())
            .record(report.elapsed_ms / 1000.0);
    }
    metrics::histogram!("polyrec_pipeline_candidates", "stage" => "recall").record(output.n_candidates as f64);
    metrics::histogram!("polyrec_pipeline_candidates", "stage" => "returned").record(output.items.len() as f64);
    if output.fallback_used {
        metrics::counter!("polyrec_recommend_fallback_total").increment(1);
    }
    if let Some(key) = cache_key
        && degraded.is_empty()
    {
        let answer = CachedAnswer {
            items: output.items.iter().map(|c| (c.item_id(), c.score)).collect(),
            complete: output.items.len() < depth,
            fallback: output.fallback_used,
        };
        let text = serde_json::to_string(&answer).map_err(Error::internal)?;
        let ttl_ms = cache.ttl_seconds.saturating_mul(1000) as i64;
        if let Err(error) = app.stores.realtime.cache_put(key, &text, ttl_ms, false).await {
            tracing::warn!(%error, "result cache write failed; the answer is served uncached");
        }
    }
    output.items.truncate(count);
    let items = output
        .items
        .into_iter()
        .map(|c| RecommendedItem {
            item_id: c.item.item_id.to_string(),
            score: c.score,
            channels: explain.then_some(c.channels),
            recall_score: explain.then_some(c.recall_score),
            rank_score: explain.then_some(c.rank_score),
            stages: explain.then_some(c.stages),
        })
        .collect();
    let (channels, candidates) = (explain.then_some(output.channels), explain.then_some(output.n_candidates));
    Ok(respond(items, output.fallback_used, degraded, channels, candidates, false))
}

/// The realtime list has the newest clicks; the profile's list survives restarts. Newest first,
/// each item once, at most [`RECENT_ITEMS`].
fn merge_recent(mut recent: Vec<String>, profile: Option<&UserProfile>) -> Vec<String> {
    let Some(profile) = profile else { return recent };
    let room = RECENT_ITEMS.saturating_sub(recent.len());
    if room == 0 {
        return recent;
    }
    let more: Vec<String> = {
        let mut seen: FxHashSet<&str> = recent.iter().map(String::as_str).collect();
        profile.features.recent_items.iter().filter(|item| seen.insert(item.as_str())).take(room).cloned().collect()
    };
    recent.extend(more);
    recent
}

/// Builds, on the blocking pool, the catalog indexes the pipeline reads that the catalog builds
/// on first ask and has not built: a numeric column or a place index of a million items takes a
/// good part of a second, which the request's runtime thread would otherwise spend (and other
/// requests for them would block their threads on). A snapshot after an item write comes with
/// the ones its predecessor had, so this works once per scenario, field and process.
async fn prepare_catalog(
    app: &App,
    tenant: &TenantId,
    catalog: &std::sync::Arc<polyrec_engine::Catalog>,
    pipeline: &polyrec_engine::Pipeline,
) -> Result<()> {
    let missing: Vec<polyrec_engine::CatalogIndex> =
        pipeline.catalog_indexes().iter().filter(|index| !catalog.is_built(index)).cloned().collect();
    if missing.is_empty() {
        return Ok(());
    }
    let catalog = catalog.clone();
    app.tenant_work
        .run(tenant, "building catalog indexes", move || missing.iter().for_each(|index| catalog.build_index(index)))
        .await
}

#[cfg(test)]
mod tests {
    use polyrec_core::{ScenarioId, UserId, UserProfile};

    use super::*;

    fn strings(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn recent_items_are_the_realtime_list_then_the_profiles_new_ones_up_to_the_cap() {
        let mut profile = UserProfile::empty(UserId::parse("u").unwrap(), ScenarioId::parse("s").unwrap());
        profile.features.recent_items = strings(&["b", "c", "a", "d"]);
        assert_eq!(merge_recent(strings(&["a", "b"]), Some(&profile)), strings(&["a", "b", "c", "d"]));
        assert_eq!(merge_recent(strings(&["a"]), None), strings(&["a"]));
        let full: Vec<String> = (0..RECENT_ITEMS - 1).map(|i| format!("r{i}")).collect();
        let merged = merge_recent(full.clone(), Some(&profile));
        assert_eq!((merged.len(), merged.last().map(String::as_str)), (RECENT_ITEMS, Some("b")));
    }

    #[test]
    fn a_cached_answer_round_trips_reading_its_ids_in_place() {
        let answer = CachedAnswer { items: vec![("i1", 0.5), ("i-2.x@y", 0.25)], complete: true, fallback: false };
        let text = serde_json::to_string(&answer).unwrap();
        let read: CachedAnswer = serde_json::from_str(&text).unwrap();
        assert_eq!((read.items, read.complete, read.fallback), (answer.items, true, false));
    }
}
