//! Hyperparameter search on a validation split: a model's candidate parameter sets are each
//! fitted on part of the training interactions and ranked by NDCG@10 on the rest, in order,
//! until a time budget runs out; the best one wins. The validation users' held-out items come
//! from the training interactions only, never from the part a caller reports its metrics on.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::data::Interactions;
use crate::holdout::Holdout;
use crate::{AlsParams, EaseParams, SparseEaseParams};

/// Per user, this fraction of the training interactions is the validation split…
pub const VALIDATION_FRACTION: f64 = 0.2;
/// …drawn with this seed (another than the reporting holdout's)…
pub const VALIDATION_SEED: u64 = 4_242;
/// …and ranked at this cut-off.
pub const VALIDATION_K: usize = 10;

/// One candidate's fit and score.
#[derive(Debug, Clone, Serialize)]
pub struct Trial<P> {
    pub params: P,
    /// NDCG@10 on the validation split (`None`: the fit failed).
    pub ndcg: Option<f64>,
    pub seconds: f64,
}

/// What a search chose, and every trial it ran.
#[derive(Debug, Clone, Serialize)]
pub struct Search<P> {
    pub chosen: P,
    pub trials: Vec<Trial<P>>,
    /// Candidates left untried when the budget ran out.
    pub skipped: usize,
    pub budget_seconds: f64,
}

/// Fits `candidates` in order on a validation split of `train` and keeps the best by NDCG@10,
/// stopping when `budget` is spent (the first candidate always runs). `score` ranks every item
/// (by `train`'s item index) for a user, `None` when the model has nothing for them.
pub fn search<P: Clone, M, E>(
    train: &Interactions,
    candidates: &[P],
    budget: Duration,
    fit: impl Fn(&Interactions, &P) -> Result<M, E>,
    score: impl Fn(&M, &str) -> Option<Vec<f32>>,
) -> Search<P> {
    assert!(!candidates.is_empty(), "a search needs at least one candidate");
    let started = Instant::now();
    let pairs = (0..train.n_users()).flat_map(|u| {
        let user = train.users.name(u as u32);
        train.by_user.row(u).0.iter().map(move |&i| (user, train.items.name(i)))
    });
    let validation = Holdout::new(pairs, VALIDATION_FRACTION, VALIDATION_SEED);
    let mut trials = Vec::new();
    for candidate in candidates {
        if !trials.is_empty() && started.elapsed() >= budget {
            break;
        }
        let fitting = Instant::now();
        let ndcg = fit(&validation.train, candidate)
            .ok()
            .map(|model| validation.evaluate(VALIDATION_K, |user| score(&model, user)).ndcg);
        trials.push(Trial { params: candidate.clone(), ndcg, seconds: fitting.elapsed().as_secs_f64() });
    }
    let best = trials
        .iter()
        .filter_map(|trial| trial.ndcg.map(|ndcg| (ndcg, trial)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, trial)| trial.params.clone())
        .unwrap_or_else(|| candidates[0].clone());
    Search { chosen: best, skipped: candidates.len() - trials.len(), trials, budget_seconds: budget.as_secs_f64() }
}

/// EASE's candidates: λ over three orders of magnitude, the default first.
pub fn ease_candidates(base: EaseParams) -> Vec<EaseParams> {
    [500.0, 50.0, 100.0, 200.0, 1_000.0, 2_000.0, 5_000.0]
        .into_iter()
        .map(|lambda| EaseParams { lambda, dropout: 0.0, ..base })
        .collect()
}

/// `first`, then each of `grid` that is not already listed.
fn first_then<P: PartialEq>(first: P, grid: impl IntoIterator<Item = P>) -> Vec<P> {
    let mut candidates = vec![first];
    for candidate in grid {
        if !candidates.contains(&candidate) {
            candidates.push(candidate);
        }
    }
    candidates
}

/// The pairs of a grid over two lists.
fn pairs<A: Copy, B: Copy>(a: &[A], b: &[B]) -> impl Iterator<Item = (A, B)> {
    a.iter().flat_map(move |&x| b.iter().map(move |&y| (x, y)))
}

/// EDLAE's candidates: dropout rates from a tenth to a half with λ over two orders of magnitude,
/// the default first.
pub fn dlae_candidates(base: EaseParams) -> Vec<EaseParams> {
    let grid = pairs(&[0.1, 0.25, 1.0 / 3.0, 0.5], &[10.0, 50.0, 100.0, 250.0, 500.0]);
    first_then(EaseParams::dlae(), grid.map(|(dropout, lambda)| EaseParams { lambda, dropout, ..base }))
}

/// Sparse EASE's candidates: λ and the dropout emphasis, the neighbours as given (they set the
/// memory), the default first.
pub fn sparse_ease_candidates(base: SparseEaseParams) -> Vec<SparseEaseParams> {
    let grid = pairs(&[0.0, 0.25, 0.5], &[100.0, 250.0, 500.0, 1_000.0]);
    first_then(base, grid.map(|(dropout, lambda)| SparseEaseParams { lambda, dropout, ..base }))
}

/// ALS's candidates: factors, regularization and confidence, 15 iterations, the default first.
pub fn als_candidates(base: AlsParams) -> Vec<AlsParams> {
    let grid = pairs(&[32, 64, 128], &[0.05, 1.0, 10.0])
        .flat_map(|(factors, regularization)| [1.0, 5.0, 20.0].map(|alpha| (factors, regularization, alpha)));
    first_then(base, grid.map(|(factors, regularization, alpha)| AlsParams { factors, regularization, alpha, ..base }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EaseModel;
    use crate::testdata::planted;

    #[test]
    fn the_search_keeps_the_best_candidate_and_stops_at_its_budget() {
        let (data, _) = planted(40, 30, 2, 7);
        // (λ, whether the model's scores are turned upside down): the upside-down one ranks the
        // user's own group last.
        let candidates = [(10.0, true), (10.0, false)];
        let fit = |m: &Interactions, p: &(f64, bool)| {
            EaseModel::fit(m, EaseParams { lambda: p.0, ..EaseParams::default() }).map(|model| (model, p.1))
        };
        let score = |(model, inverted): &(EaseModel, bool), user: &str| {
            let history = model.history(user);
            let scores = model.score(history.iter().copied());
            (!history.is_empty()).then(|| scores.into_iter().map(|s| if *inverted { -s } else { s }).collect())
        };
        let found = search(&data, &candidates, Duration::from_secs(60), fit, score);
        assert_eq!(found.trials.len(), 2);
        assert_eq!(found.chosen, (10.0, false), "{:?}", found.trials);
        assert!(found.trials[1].ndcg > found.trials[0].ndcg, "{:?}", found.trials);
        // No budget: the first candidate only.
        let found = search(&data, &candidates, Duration::ZERO, fit, score);
        assert_eq!((found.trials.len(), found.skipped), (1, 1));
        assert_eq!(found.chosen, (10.0, true));
    }

    #[test]
    fn candidates_start_with_the_defaults_and_are_distinct() {
        assert_eq!(ease_candidates(EaseParams::default())[0], EaseParams::default());
        assert_eq!(dlae_candidates(EaseParams::dlae())[0], EaseParams::dlae());
        assert_eq!(als_candidates(AlsParams::default())[0], AlsParams::default());
        // The defaults are on each grid, so listed once: 27, 20 and 12 sets.
        assert_eq!(als_candidates(AlsParams::default()).len(), 27);
        assert_eq!(dlae_candidates(EaseParams::dlae()).len(), 20);
        assert_eq!(sparse_ease_candidates(SparseEaseParams::default()).len(), 12);
        for list in [ease_candidates(EaseParams::default()), dlae_candidates(EaseParams::dlae())] {
            for (i, a) in list.iter().enumerate() {
                assert!(!list[..i].contains(a), "{a:?} twice");
            }
        }
    }
}
