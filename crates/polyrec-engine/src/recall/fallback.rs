//! The cold-start fallback: when the channels found fewer candidates than asked for (a new
//! user, a new scenario, a strict config), fill from the hot set, then from the newest items.
//! It is not configured by name: it always stands behind the configured channels, so an answer
//! is never empty while the scenario has an eligible item.

use rustc_hash::FxHashSet as HashSet;
use std::sync::Arc;

use polyrec_core::Item;

use crate::pipeline::RequestContext;

pub const NAME: &str = "fallback";
/// The channel weight of fallback candidates: small, so they rank after anything a configured
/// channel found, yet keep the fallback's order among themselves.
pub const WEIGHT: f64 = 0.01;

/// Up to `n` eligible items not in `present`, with a scaled score in (0, 1], best first.
pub async fn fill(ctx: &RequestContext<'_>, present: &HashSet<String>, n: usize) -> Vec<(Arc<Item>, f64)> {
    let mut taken: HashSet<&str> = HashSet::default();
    let mut out: Vec<Arc<Item>> = Vec::with_capacity(n);
    let hot = ctx
        .realtime
        .hot_items(ctx.tenant, ctx.scenario, n * 2 + present.len() + ctx.exclude.len())
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "hot set unavailable for the fallback; using newest items");
            Vec::new()
        });
    let hot_items = hot.iter().filter_map(|(id, _)| ctx.eligible(id));
    let newest = ctx.catalog.newest().iter().filter(|item| !ctx.exclude.contains(item.item_id.as_str()));
    for item in hot_items.chain(newest) {
        if out.len() >= n {
            break;
        }
        let id = item.item_id.as_str();
        if !present.contains(id) && taken.insert(id) {
            out.push(item.clone());
        }
    }
    let len = out.len().max(1) as f64;
    out.into_iter().enumerate().map(|(rank, item)| (item, 1.0 - rank as f64 / len)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, item};
    use crate::recall::test_support::Fixture;
    use polyrec_storage::RealtimeStore;
    use serde_json::json;

    #[tokio::test]
    async fn hot_first_then_newest_without_repeats() {
        let now = 1_700_000_000_000;
        let mut fx = Fixture::new(
            now,
            catalog(vec![item("a", now, 3, json!({})), item("b", now, 2, json!({})), item("c", now, 1, json!({}))]),
        );
        fx.realtime.replace_hot_items(&fx.tenant, &fx.scenario, vec![("a".into(), 1.0)], 60_000).await.unwrap();
        fx.exclude.insert("b".into());
        let present = HashSet::default();
        let filled = fill(&fx.ctx(), &present, 5).await;
        let ids: Vec<&str> = filled.iter().map(|(item, _)| item.item_id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        assert!(filled[0].1 > filled[1].1);
    }
}
