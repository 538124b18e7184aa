//! A user as an offline evaluation asks for them — `polyrec eval` and the blend's validation
//! split: their training items, newest first, as the request's recent items (the 50 a live
//! request carries) and exclusions, and a profile of those items' categories and tags.

use polyrec_core::{ScenarioId, TenantId, UserId, UserProfile};
use polyrec_models::split::Rating;
use polyrec_storage::RealtimeStore;
use rustc_hash::FxHashSet;
use serde_json::{Map, Value};

use crate::pipeline::RequestContext;
use crate::{Catalog, ScenarioModels};

/// How many of a user's items a request carries as recent.
const RECENT: usize = 50;

pub struct OfflineUser {
    pub user: UserId,
    /// Training items, newest first (the 50 a live request would carry).
    pub recent: Vec<String>,
    pub recent_set: FxHashSet<String>,
    /// Every training item: never recommended again, as exposure dedup does for a live user.
    pub exclude: FxHashSet<String>,
    pub profile: UserProfile,
}

impl OfflineUser {
    /// `seen`: the user's training rows, in any order.
    pub fn new(user: UserId, scenario: &ScenarioId, mut seen: Vec<&Rating>, catalog: &Catalog) -> Self {
        seen.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then_with(|| a.item_id.cmp(&b.item_id)));
        let recent: Vec<String> = seen.iter().take(RECENT).map(|r| r.item_id.clone()).collect();
        let mut profile = UserProfile::empty(user.clone(), scenario.clone());
        for item in seen.iter().filter_map(|r| catalog.get(&r.item_id)) {
            if let Some(category) = item.category() {
                *profile.preferences.category_scores.entry(category.to_owned()).or_default() += 1.0;
            }
            for tag in item.tags() {
                *profile.preferences.tag_scores.entry(tag.to_owned()).or_default() += 1.0;
            }
        }
        Self {
            recent_set: recent.iter().cloned().collect(),
            recent,
            exclude: seen.iter().map(|r| r.item_id.clone()).collect(),
            profile,
            user,
        }
    }

    /// The request context a pipeline answers this user in.
    #[allow(clippy::too_many_arguments)]
    pub fn context<'a>(
        &'a self,
        tenant: &'a TenantId,
        scenario: &'a ScenarioId,
        now_ms: i64,
        catalog: &'a Catalog,
        models: &'a ScenarioModels,
        realtime: &'a dyn RealtimeStore,
        context: &'a Map<String, Value>,
    ) -> RequestContext<'a> {
        RequestContext {
            tenant,
            scenario,
            user: &self.user,
            now_ms,
            catalog,
            profile: Some(&self.profile),
            recent_items: &self.recent,
            recent_set: &self.recent_set,
            models: Some(models),
            realtime,
            context,
            exclude: &self.exclude,
            ranking: None,
        }
    }
}
