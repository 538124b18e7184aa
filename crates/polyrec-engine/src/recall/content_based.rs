//! `content_based`: items whose category and tags match the user's interests. Interests come
//! from the profile's `category_scores` / `tag_scores` (the profile aggregator); a user with no
//! profile yet gets the categories and tags of their recent items instead. Among matching
//! items, newer ones score higher: score = interest × (1 + e^(−age / 7 days)).

use rustc_hash::FxHashMap as HashMap;

use std::sync::Arc;

use async_trait::async_trait;
use polyrec_core::clock::DAY_MS;
use polyrec_core::{Item, Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Hit, Recall, RequestContext};
use crate::registry::{BuildError, parse_params};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentBasedConfig {
    /// How many of the user's top categories and tags to search.
    #[serde(default = "default_top")]
    pub top_interests: usize,
    /// Weight of a tag match relative to a category match.
    #[serde(default = "default_tag_weight")]
    pub tag_weight: f64,
}

fn default_top() -> usize {
    5
}

fn default_tag_weight() -> f64 {
    0.5
}

pub struct ContentBased {
    config: ContentBasedConfig,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    let config: ContentBasedConfig = parse_params(params)?;
    if !(1..=50).contains(&config.top_interests) {
        return Err(BuildError::new("params.top_interests", "must be between 1 and 50"));
    }
    if !(0.0..=10.0).contains(&config.tag_weight) {
        return Err(BuildError::new("params.tag_weight", "must be between 0 and 10"));
    }
    Ok(Box::new(ContentBased { config }))
}

/// The `n` strongest interests, normalised so the strongest is 1.
fn strongest<'a>(scores: impl Iterator<Item = (&'a str, f64)>, n: usize) -> Vec<(&'a str, f64)> {
    let mut scores: Vec<(&str, f64)> = scores.filter(|(_, s)| *s > 0.0).collect();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    scores.truncate(n);
    let max = scores.first().map(|(_, s)| *s).unwrap_or(1.0);
    scores.into_iter().map(|(k, s)| (k, s / max)).collect()
}

#[async_trait]
impl Recall for ContentBased {
    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<Hit>> {
        let (categories, tags) = match ctx.profile {
            Some(profile) if !profile.preferences.category_scores.is_empty() => (
                strongest(
                    profile.preferences.category_scores.iter().map(|(k, s)| (k.as_str(), *s)),
                    self.config.top_interests,
                ),
                strongest(
                    profile.preferences.tag_scores.iter().map(|(k, s)| (k.as_str(), *s)),
                    self.config.top_interests,
                ),
            ),
            _ => {
                let mut categories: HashMap<&str, f64> = HashMap::default();
                let mut tags: HashMap<&str, f64> = HashMap::default();
                for item in ctx.recent_items.iter().filter_map(|id| ctx.catalog.get(id)) {
                    if let Some(category) = item.category() {
                        *categories.entry(category).or_default() += 1.0;
                    }
                    for tag in item.tags() {
                        *tags.entry(tag).or_default() += 1.0;
                    }
                }
                (
                    strongest(categories.into_iter(), self.config.top_interests),
                    strongest(tags.into_iter(), self.config.top_interests),
                )
            }
        };
        // Keyed by the catalog entry's address: the items come from the catalog's indexes.
        // Borrowed entries: an `Arc` is cloned only for the hits returned.
        let mut scores: HashMap<usize, (&Arc<Item>, f64)> = HashMap::default();
        let sources =
            categories.iter().map(|(category, interest)| (ctx.catalog.newest_in_category(category), *interest)).chain(
                tags.iter()
                    .map(|(tag, interest)| (ctx.catalog.newest_with_tag(tag), interest * self.config.tag_weight)),
            );
        for (items, interest) in sources {
            // The newest `limit` items of each interest: enough for the channel's top `limit`.
            for item in items
                .iter()
                .filter(|item| !ctx.exclude.contains(item.item_id.as_str()) && !ctx.is_recent(item.item_id.as_str()))
                .take(limit)
            {
                let age_days = (ctx.now_ms - item.publish_ms()).max(0) as f64 / DAY_MS as f64;
                let hit = scores.entry(Arc::as_ptr(item) as usize).or_insert((item, 0.0));
                hit.1 += interest * (1.0 + (-age_days / 7.0).exp());
            }
        }
        // Catalog indexes hold active items only, and exclusions were skipped above.
        let mut hits: Vec<(&Arc<Item>, f64)> = scores.into_values().collect();
        let by_score = |a: &(&Arc<Item>, f64), b: &(&Arc<Item>, f64)| {
            b.1.total_cmp(&a.1).then_with(|| a.0.item_id.cmp(&b.0.item_id))
        };
        if hits.len() > limit {
            hits.select_nth_unstable_by(limit, by_score);
            hits.truncate(limit);
        }
        hits.sort_unstable_by(by_score);
        Ok(hits.into_iter().map(|(item, score)| (item.clone(), score)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, item};
    use crate::recall::test_support::dummy;
    use crate::recall::test_support::{Fixture, ids};
    use polyrec_core::{ScenarioId, UserId, UserProfile};
    use serde_json::json;

    #[tokio::test]
    async fn follows_profile_interests_then_recent_items() {
        let now = 1_700_000_000_000;
        let mut fx = Fixture::new(
            now,
            catalog(vec![
                item("sport1", now, 1, json!({"category": "sport"})),
                item("sport2", now, 2, json!({"category": "sport", "tags": ["ball"]})),
                item("music1", now, 1, json!({"category": "music", "tags": ["ball"]})),
                item("cook1", now, 1, json!({"category": "cooking"})),
            ]),
        );
        let strategy = build(&json!({}), &dummy()).unwrap();
        assert!(strategy.recall(&fx.ctx(), 10).await.unwrap().is_empty(), "no interests known yet");

        fx.set_recent(&["sport2"]);
        let hits = strategy.recall(&fx.ctx(), 10).await.unwrap();
        assert_eq!(ids(&hits)[0], "sport1", "same category as a recent item: {hits:?}");
        assert!(ids(&hits).contains(&"music1"), "shares a tag");
        assert!(!ids(&hits).contains(&"cook1"));

        let mut profile = UserProfile::empty(UserId::parse("u").unwrap(), ScenarioId::parse("s").unwrap());
        profile.preferences.category_scores.insert("cooking".into(), 5.0);
        fx.profile = Some(profile);
        fx.set_recent(&[]);
        assert_eq!(ids(&strategy.recall(&fx.ctx(), 10).await.unwrap()), ["cook1"]);
    }
}
