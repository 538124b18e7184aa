//! Recall strategies, one file each. Each returns up to `limit` eligible items with a score on
//! its own scale; the pipeline scales each channel to [0, 1] before weighting.

pub mod content_based;
pub mod ease;
pub mod fallback;
pub mod hot_items;
pub mod hot_news;
pub mod item_cf;
pub mod latest;
pub mod location;
pub mod user_cf;
pub mod vector_search;

use rustc_hash::FxHashMap;

use crate::pipeline::{Hit, RequestContext};

/// The `limit` best-scored items that may be recommended and that the user did not just touch,
/// best first (ties by key). `scores` is keyed by anything cheap to sort (an index); `name` turns a
/// key into an item id. Only the best `limit` + exclusions are sorted, and eligibility is checked
/// on the way down, so a large score map costs a partial sort and about `limit` lookups.
pub(crate) fn top_eligible<'a, K: Copy + Ord>(
    ctx: &RequestContext<'_>,
    scores: FxHashMap<K, f64>,
    limit: usize,
    name: impl Fn(K) -> &'a str,
) -> Vec<Hit> {
    let mut ranked: Vec<(K, f64)> = scores.into_iter().collect();
    let by_score = |a: &(K, f64), b: &(K, f64)| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0));
    // Usually enough to fill `limit` even if every excluded and recent item is among the best;
    // if items that left the catalog crowd the top, the rest is sorted and walked too.
    let keep = (limit + ctx.exclude.len() + ctx.recent_items.len()).min(ranked.len());
    if ranked.len() > keep {
        ranked.select_nth_unstable_by(keep, by_score);
    }
    ranked[..keep].sort_unstable_by(by_score);
    let mut hits = Vec::with_capacity(limit);
    let take = |slice: &[(K, f64)], hits: &mut Vec<Hit>| {
        for &(key, score) in slice {
            if hits.len() >= limit {
                return;
            }
            let id = name(key);
            if !ctx.is_recent(id)
                && let Some(item) = ctx.eligible(id)
            {
                hits.push((item.clone(), score));
            }
        }
    };
    take(&ranked[..keep], &mut hits);
    if hits.len() < limit && ranked.len() > keep {
        ranked[keep..].sort_unstable_by(by_score);
        take(&ranked[keep..], &mut hits);
    }
    hits
}

#[cfg(test)]
pub(crate) mod test_support {
    use rustc_hash::FxHashSet as HashSet;
    use std::sync::Arc;

    use polyrec_core::{ManualClock, ScenarioId, TenantId, UserId, UserProfile};
    use polyrec_storage::MemoryRealtime;
    use serde_json::{Map, Value};

    use crate::pipeline::RequestContext;
    use crate::{Catalog, ScenarioModels};

    /// Owns what a [`RequestContext`] borrows, for strategy tests.
    pub struct Fixture {
        pub tenant: TenantId,
        pub scenario: ScenarioId,
        pub user: UserId,
        pub now_ms: i64,
        pub catalog: Arc<Catalog>,
        pub profile: Option<UserProfile>,
        pub recent: Vec<String>,
        pub recent_set: HashSet<String>,
        pub models: ScenarioModels,
        pub realtime: MemoryRealtime,
        pub context: Map<String, Value>,
        pub exclude: HashSet<String>,
    }

    impl Fixture {
        pub fn new(now_ms: i64, catalog: Arc<Catalog>) -> Self {
            Self {
                tenant: TenantId::parse("t").unwrap(),
                scenario: ScenarioId::parse("s").unwrap(),
                user: UserId::parse("u").unwrap(),
                now_ms,
                catalog,
                profile: None,
                recent: Vec::new(),
                recent_set: HashSet::default(),
                models: ScenarioModels::default(),
                realtime: MemoryRealtime::new(Arc::new(ManualClock::new(now_ms))),
                context: Map::new(),
                exclude: HashSet::default(),
            }
        }

        /// Sets the user's recent items (newest first).
        pub fn set_recent(&mut self, items: &[&str]) {
            self.recent = items.iter().map(|s| s.to_string()).collect();
            self.recent_set = self.recent.iter().cloned().collect();
        }

        pub fn ctx(&self) -> RequestContext<'_> {
            RequestContext {
                tenant: &self.tenant,
                scenario: &self.scenario,
                user: &self.user,
                now_ms: self.now_ms,
                catalog: &self.catalog,
                profile: self.profile.as_ref(),
                recent_items: &self.recent,
                recent_set: &self.recent_set,
                models: Some(&self.models),
                realtime: &self.realtime,
                context: &self.context,
                exclude: &self.exclude,
                ranking: None,
            }
        }
    }

    /// A config to hand to `build` where the strategy ignores it.
    pub fn dummy() -> polyrec_core::ScenarioConfig {
        serde_json::from_value(serde_json::json!({"recall": {"strategies": []}, "rank": {"model": "weighted"}}))
            .unwrap()
    }

    pub fn ids(hits: &[crate::pipeline::Hit]) -> Vec<&str> {
        hits.iter().map(|(item, _)| item.item_id.as_str()).collect()
    }
}
