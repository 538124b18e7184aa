//! User profiles (SPEC §4.1 `user_profiles`), kept by the user profile aggregator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ScenarioId, UserId};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfileFeatures {
    /// Count of positive (non-impression) events.
    pub total_watch_count: u64,
    pub total_impressions: u64,
    /// Sum of `value` over play/view/read/learn events (e.g. watch seconds).
    #[serde(deserialize_with = "null_as_zero")]
    pub total_watch_value: f64,
    /// The top categories by score, best first.
    pub favorite_categories: Vec<String>,
    /// Events per hour of day (UTC), 24 entries.
    pub active_hours: Vec<u64>,
    /// Items interacted with most recently, newest first (capped).
    pub recent_items: Vec<String>,
}

/// A stored sum JSON could not carry — an infinity that a release without the bound on event
/// values summed, which JSON writes as `null` — reads as 0, so the profile stays readable (it
/// answered 500 `corrupt document`) until the next fold rewrites it.
fn null_as_zero<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(0.0))
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfilePreferences {
    /// Interest per category: the sum of event interest weights, decayed over time.
    pub category_scores: BTreeMap<String, f64>,
    /// Interest per tag, like category_scores.
    pub tag_scores: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserProfile {
    #[schema(value_type = String)]
    pub user_id: UserId,
    #[schema(value_type = String)]
    pub scenario_id: ScenarioId,
    pub features: ProfileFeatures,
    pub preferences: ProfilePreferences,
    /// End (event time, epoch ms) of the last aggregation window folded into this profile.
    pub window_end_ms: i64,
    /// Per aggregation window (start, epoch ms): the highest event-bus offset folded in from it.
    /// A replay after a restart skips a window's events at or below its mark, so a fold is
    /// idempotent even when windows close out of offset order. Kept for a day of windows.
    #[serde(default)]
    pub applied_windows: BTreeMap<i64, u64>,
    pub updated_ms: i64,
}

impl UserProfile {
    pub fn empty(user_id: UserId, scenario_id: ScenarioId) -> Self {
        Self {
            user_id,
            scenario_id,
            features: ProfileFeatures { active_hours: vec![0; 24], ..Default::default() },
            preferences: ProfilePreferences::default(),
            window_end_ms: 0,
            applied_windows: BTreeMap::new(),
            updated_ms: 0,
        }
    }

    pub const RECENT_ITEMS_CAP: usize = 100;
    pub const FAVORITE_CATEGORIES: usize = 5;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_whose_sum_overflowed_still_reads() {
        let mut profile = UserProfile::empty(UserId::parse("u1").unwrap(), ScenarioId::parse("s").unwrap());
        profile.features.total_watch_value = f64::INFINITY;
        // What an older release stored: JSON has no infinity, so the sum became `null`.
        let stored = serde_json::to_string(&profile).unwrap();
        assert!(stored.contains("\"total_watch_value\":null"), "{stored}");
        let read: UserProfile = serde_json::from_str(&stored).unwrap();
        assert_eq!(read.features.total_watch_value, 0.0);
        profile.features.total_watch_value = 12.5;
        let read: UserProfile = serde_json::from_str(&serde_json::to_string(&profile).unwrap()).unwrap();
        assert_eq!(read.features.total_watch_value, 12.5);
    }
}
