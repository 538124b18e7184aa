//! `mmr`: diversity over item vectors, by maximal marginal relevance (Carbonell & Goldstein
//! 1998). The top `window` candidates are re-ordered greedily: each next position goes to the
//! candidate with the best
//!
//! ```text
//! (1 − weight) · relevance − weight · max cosine similarity to the items already placed
//! ```
//!
//! where relevance is the candidate's score scaled to [0, 1] within the window. Weight 0 keeps
//! the order; weight 1 orders by dissimilarity alone. The window's own scores are then handed out
//! again in the new order, so the rules after this one see the same score scale, and the
//! candidates below the window keep theirs.
//!
//! Vectors (`source`): an item's own `embedding` (sent with the item), or its ALS vector when the
//! scenario serves a trained `vector_search` model; `auto` (the default) takes the embedding
//! where an item has one and the ALS vector otherwise. Two items are compared only when both
//! have a vector of the same source and size; an item without one is similar to nothing.

use polyrec_core::{Result, ScenarioConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Candidate, RequestContext, Rerank};
use crate::registry::{BuildError, parse_params};

/// The most candidates a request re-orders (the greedy walk costs window² similarity updates).
pub const MAX_WINDOW: usize = 500;
/// The most multiply-adds of one request's greedy walk (about window² / 2 × dimensions): it runs
/// on a shared runtime thread, so a tenant's long embeddings shrink its window rather than stall
/// other tenants' requests. 2²⁴ is a few milliseconds; 64-dimensional vectors keep the whole
/// 500-candidate window, 4,096-dimensional ones (the longest an item may carry) 90 candidates.
const MAX_WORK: usize = 1 << 24;

/// The window a request may walk with vectors of `dimensions`.
fn bounded_window(window: usize, dimensions: usize) -> usize {
    let fits = ((2 * MAX_WORK / dimensions.max(1)) as f64).sqrt() as usize;
    window.min(fits.max(2))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Auto,
    Embedding,
    Als,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmrConfig {
    #[serde(default = "default_source")]
    pub source: Source,
    #[serde(default = "default_window")]
    pub window: usize,
}

fn default_source() -> Source {
    Source::Auto
}
fn default_window() -> usize {
    100
}

pub struct Mmr {
    config: MmrConfig,
}

pub fn build(params: &Value, scenario: &ScenarioConfig) -> Result<Box<dyn Rerank>, BuildError> {
    let config: MmrConfig = parse_params(params)?;
    if !(2..=MAX_WINDOW).contains(&config.window) {
        return Err(BuildError::new("params.window", format!("must be 2 to {MAX_WINDOW}")));
    }
    let serves_als = scenario.recall.strategies.iter().any(|s| s.name == crate::learned::als::STRATEGY);
    if config.source == Source::Als && !serves_als {
        return Err(BuildError::new(
            "params.source",
            "`als` compares the ALS vectors a `vector_search` channel trains; add that channel, or use `embedding` or `auto`",
        ));
    }
    Ok(Box::new(Mmr { config }))
}

/// A candidate's vector, unit length, tagged by where it came from.
struct Unit {
    from_embedding: bool,
    vector: Vec<f32>,
}

fn unit(from_embedding: bool, vector: &[f32]) -> Option<Unit> {
    let norm = vector.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    (norm > 0.0 && norm.is_finite())
        .then(|| Unit { from_embedding, vector: vector.iter().map(|x| (f64::from(*x) / norm) as f32).collect() })
}

fn cosine(a: &Option<Unit>, b: &Option<Unit>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) if a.from_embedding == b.from_embedding && a.vector.len() == b.vector.len() => {
            a.vector.iter().zip(&b.vector).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum()
        }
        _ => 0.0,
    }
}

impl Mmr {
    fn vector(&self, ctx: &RequestContext<'_>, candidate: &Candidate) -> Option<Unit> {
        let embedding = || candidate.item.embedding.as_deref().and_then(|v| unit(true, v));
        let als = || {
            let model = ctx.models?.learned::<crate::VectorModel>(crate::learned::als::NAME)?;
            unit(false, model.als.item_vector(candidate.item_id())?)
        };
        match self.config.source {
            Source::Embedding => embedding(),
            Source::Als => als(),
            Source::Auto => embedding().or_else(als),
        }
    }
}

impl Rerank for Mmr {
    fn rerank(&self, ctx: &RequestContext<'_>, weight: f64, candidates: &mut Vec<Candidate>) {
        let weight = weight.clamp(0.0, 1.0);
        let n = candidates.len().min(self.config.window);
        if weight == 0.0 || n < 3 {
            return;
        }
        // The list arrives sorted best first: the window is its head.
        let mut vectors: Vec<Option<Unit>> = candidates[..n].iter().map(|c| self.vector(ctx, c)).collect();
        let dimensions = vectors.iter().flatten().map(|u| u.vector.len()).max().unwrap_or(0);
        if dimensions == 0 {
            return;
        }
        let n = bounded_window(n, dimensions);
        vectors.truncate(n);
        let scores: Vec<f64> = candidates[..n].iter().map(|c| c.score).collect();
        let (low, high) = scores.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), s| (l.min(*s), h.max(*s)));
        let span = high - low;
        let relevance: Vec<f64> =
            scores.iter().map(|s| if span > 0.0 && span.is_finite() { (s - low) / span } else { 1.0 }).collect();

        // Greedy: the best remaining by the MMR objective, then every remaining candidate's
        // similarity to the placed set updated with the one just placed.
        let mut order = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        let mut nearest = vec![f64::NEG_INFINITY; n];
        for _ in 0..n {
            let objective = |i: usize| {
                let similarity = if nearest[i].is_finite() { nearest[i] } else { 0.0 };
                (1.0 - weight) * relevance[i] - weight * similarity
            };
            // Ties go to the better-ranked candidate (the lower index).
            let next = (0..n)
                .filter(|i| !placed[*i])
                .reduce(|best, i| if objective(i) > objective(best) { i } else { best })
                .expect("a candidate remains");
            placed[next] = true;
            order.push(next);
            for i in (0..n).filter(|i| !placed[*i]) {
                nearest[i] = nearest[i].max(cosine(&vectors[i], &vectors[next]));
            }
        }

        // The window's scores, best first, handed out in the new order; strictly decreasing so
        // the pipeline's sort (score, then id) keeps exactly this order.
        let mut head: Vec<Candidate> = Vec::with_capacity(n);
        let mut window: Vec<Option<Candidate>> = candidates.drain(..n).map(Some).collect();
        let mut previous = f64::INFINITY;
        for (position, &i) in order.iter().enumerate() {
            let mut candidate = window[i].take().expect("each candidate placed once");
            let score = if scores[position] < previous { scores[position] } else { previous.next_down() };
            candidate.score = score;
            previous = score;
            head.push(candidate);
        }
        head.append(candidates);
        *candidates = head;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::catalog::test_support::catalog;
    use crate::recall::test_support::{Fixture, dummy};
    use crate::rerank::test_support::{order, scored};
    use polyrec_core::{Item, ItemId, ItemStatus, ScenarioId};
    use serde_json::json;

    fn with_embedding(id: &str, embedding: Option<Vec<f32>>) -> Arc<Item> {
        Arc::new(Item {
            item_id: ItemId::parse(id).unwrap(),
            scenario_id: ScenarioId::parse("s").unwrap(),
            metadata: serde_json::Map::new(),
            embedding,
            status: ItemStatus::Active,
            created_ms: 0,
            updated_ms: 0,
            publish_memo: Default::default(),
        })
    }

    /// Three near-copies of one item ranked first, then two different items.
    fn fixture() -> Fixture {
        Fixture::new(
            0,
            catalog(vec![
                with_embedding("a1", Some(vec![1.0, 0.0, 0.0])),
                with_embedding("a2", Some(vec![0.99, 0.1, 0.0])),
                with_embedding("a3", Some(vec![0.98, 0.0, 0.1])),
                with_embedding("b", Some(vec![0.0, 1.0, 0.0])),
                with_embedding("c", Some(vec![0.0, 0.0, 1.0])),
                with_embedding("plain", None),
            ]),
        )
    }

    /// A scenario with a `vector_search` channel (whose training gives the ALS vectors).
    fn with_vectors() -> ScenarioConfig {
        serde_json::from_value(json!({
            "recall": {"strategies": [{"name": "vector_search", "weight": 1.0, "limit": 10}]},
            "rank": {"model": "weighted"}
        }))
        .unwrap()
    }

    fn ranked(fx: &Fixture) -> Vec<Candidate> {
        scored(fx, &[("a1", 1.0), ("a2", 0.95), ("a3", 0.9), ("b", 0.6), ("c", 0.5)])
    }

    #[test]
    fn near_copies_make_room_for_different_items_and_the_scores_keep_their_scale() {
        let fx = fixture();
        let rule = build(&json!({}), &dummy()).unwrap();
        let mut list = ranked(&fx);
        rule.rerank(&fx.ctx(), 0.5, &mut list);
        assert_eq!(order(&list), ["a1", "b", "c", "a2", "a3"]);
        let scores: Vec<f64> = list.iter().map(|c| c.score).collect();
        assert_eq!(scores, [1.0, 0.95, 0.9, 0.6, 0.5], "the same scores, handed out in the new order");

        let mut unchanged = ranked(&fx);
        rule.rerank(&fx.ctx(), 0.0, &mut unchanged);
        assert_eq!(order(&unchanged), ["a1", "a2", "a3", "b", "c"]);
        // A light touch: the copies' lead in relevance outweighs their likeness.
        let mut light = ranked(&fx);
        rule.rerank(&fx.ctx(), 0.3, &mut light);
        assert_eq!(order(&light), ["a1", "a2", "a3", "b", "c"]);
    }

    #[test]
    fn only_the_window_moves_and_items_without_vectors_are_like_nothing() {
        let fx = fixture();
        let rule = build(&json!({"window": 3}), &dummy()).unwrap();
        let mut list = ranked(&fx);
        rule.rerank(&fx.ctx(), 1.0, &mut list);
        // Within a1, a2, a3 only: a1 first (ties in dissimilarity go to the better rank), then the
        // copy least like a1.
        assert_eq!(order(&list), ["a1", "a3", "a2", "b", "c"]);

        let rule = build(&json!({}), &dummy()).unwrap();
        let mut list = scored(&fx, &[("a1", 1.0), ("a2", 0.9), ("plain", 0.8)]);
        rule.rerank(&fx.ctx(), 0.5, &mut list);
        assert_eq!(order(&list), ["a1", "plain", "a2"]);

        let mut als_only = ranked(&fx);
        build(&json!({"source": "als"}), &with_vectors()).unwrap().rerank(&fx.ctx(), 0.5, &mut als_only);
        assert_eq!(order(&als_only), ["a1", "a2", "a3", "b", "c"], "no ALS model: nothing to compare");
    }

    #[test]
    fn als_vectors_serve_items_without_embeddings() {
        let mut fx = Fixture::new(0, catalog(["x1", "x2", "y"].iter().map(|id| with_embedding(id, None)).collect()));
        let als = polyrec_models::AlsModel {
            params: polyrec_models::AlsParams { factors: 2, ..Default::default() },
            users: polyrec_models::Vocabulary::from_names(vec![]),
            items: polyrec_models::Vocabulary::from_names(vec!["x1".into(), "x2".into(), "y".into()]),
            user_factors: vec![],
            item_factors: vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0],
        };
        let collection = polyrec_storage::VectorCollection::new(&fx.tenant, &fx.scenario, "als-v1");
        let index: Arc<dyn polyrec_storage::VectorIndex> =
            Arc::new(polyrec_storage::IvfIndex::new(polyrec_storage::IvfParams::default()));
        fx.models
            .learned
            .insert(crate::learned::als::NAME, Arc::new(crate::VectorModel { als: Arc::new(als), index, collection }));
        let mut list = scored(&fx, &[("x1", 1.0), ("x2", 0.9), ("y", 0.7)]);
        build(&json!({}), &dummy()).unwrap().rerank(&fx.ctx(), 0.5, &mut list);
        assert_eq!(order(&list), ["x1", "y", "x2"]);
        let mut list = scored(&fx, &[("x1", 1.0), ("x2", 0.9), ("y", 0.7)]);
        build(&json!({"source": "embedding"}), &dummy()).unwrap().rerank(&fx.ctx(), 0.5, &mut list);
        assert_eq!(order(&list), ["x1", "x2", "y"], "no embeddings: nothing to compare");
    }

    #[test]
    fn long_vectors_shrink_the_window_to_the_work_bound() {
        assert_eq!(bounded_window(500, 64), 500);
        assert_eq!(bounded_window(500, 4_096), 90);
        assert_eq!(bounded_window(100, 4_096), 90);
        assert_eq!(bounded_window(5, 1 << 30), 2, "never below a pair");
        // The bound holds: window² / 2 × dimensions within MAX_WORK for every size an item may send.
        for dimensions in [1, 64, 384, 1_536, 4_096] {
            let n = bounded_window(MAX_WINDOW, dimensions);
            assert!(n * n / 2 * dimensions <= MAX_WORK, "{dimensions}: {n}");
        }
        // Applied: of 100 candidates with 4,096-dimensional copies of one vector, only the top 90
        // can move; the last ten keep their places and scores.
        let items: Vec<Arc<Item>> = (0..100)
            .map(|i| {
                let mut v = vec![0.0f32; 4_096];
                v[0] = 1.0;
                v[1 + (i / 2) % 2] = 0.5; // pairs alternate between two directions
                with_embedding(&format!("i{i:03}"), Some(v))
            })
            .collect();
        let fx = Fixture::new(0, catalog(items));
        let ids: Vec<String> = (0..100).map(|i| format!("i{i:03}")).collect();
        let scores: Vec<(&str, f64)> =
            ids.iter().enumerate().map(|(i, id)| (id.as_str(), 1.0 - i as f64 / 100.0)).collect();
        let mut list = scored(&fx, &scores);
        build(&json!({"window": 500}), &dummy()).unwrap().rerank(&fx.ctx(), 0.9, &mut list);
        let tail: Vec<(&str, f64)> = list[90..].iter().map(|c| (c.item_id(), c.score)).collect();
        assert_eq!(tail, scores[90..]);
        assert_ne!(order(&list)[..90], ids.iter().map(String::as_str).collect::<Vec<_>>()[..90], "the head moved");
    }

    #[test]
    fn params_are_strict() {
        for (params, path) in [
            (json!({"window": 1}), "params.window"),
            (json!({"window": 501}), "params.window"),
            (json!({"source": "clip"}), "params.source"),
            (json!({"lambda": 0.5}), "params.lambda"),
            (json!({"source": "als"}), "params.source"),
        ] {
            let error = build(&params, &dummy()).err().unwrap_or_else(|| panic!("{params} was accepted"));
            assert_eq!(error.sub_path, path, "{params}: {}", error.message);
        }
        assert!(build(&json!({"source": "als", "window": 500}), &with_vectors()).is_ok());
    }
}
