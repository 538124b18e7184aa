//! Recall strategies, one file each. Each returns up to `limit` eligible items with a score on
//! its own scale; the pipeline scales each channel to [0, 1] before weighting.

pub mod content_based;
pub mod fallback;
pub mod hot_items;
pub mod hot_news;
pub mod item_cf;
pub mod latest;
pub mod user_cf;

#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::HashSet;
    use std::sync::Arc;

    use polyrec_core::{ManualClock, ScenarioId, TenantId, UserId, UserProfile};
    use polyrec_storage::MemoryRealtime;
    use serde_json::{Map, Value};

    use crate::pipeline::RequestContext;
    use crate::{Catalog, CfModel};

    /// Owns what a [`RequestContext`] borrows, for strategy tests.
    pub struct Fixture {
        pub tenant: TenantId,
        pub scenario: ScenarioId,
        pub user: UserId,
        pub now_ms: i64,
        pub catalog: Arc<Catalog>,
        pub profile: Option<UserProfile>,
        pub recent: Vec<String>,
        pub cf: Option<CfModel>,
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
                cf: None,
                realtime: MemoryRealtime::new(Arc::new(ManualClock::new(now_ms))),
                context: Map::new(),
                exclude: HashSet::new(),
            }
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
                cf: self.cf.as_ref(),
                realtime: &self.realtime,
                context: &self.context,
                exclude: &self.exclude,
            }
        }
    }

    /// A config to hand to `build` where the strategy ignores it.
    pub fn dummy() -> polyrec_core::ScenarioConfig {
        serde_json::from_value(serde_json::json!({"recall": {"strategies": []}, "rank": {"model": "weighted"}}))
            .unwrap()
    }

    pub fn ids(hits: &[(String, f64)]) -> Vec<&str> {
        hits.iter().map(|(id, _)| id.as_str()).collect()
    }
}
