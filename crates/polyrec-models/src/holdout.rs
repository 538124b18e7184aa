//! Offline metrics of a recall model at training time: the interactions are split per user
//! (a random fraction held out), a model is fitted on the rest, and every held-out user is
//! ranked against the whole catalog with their training items excluded (full ranking, no
//! sampled negatives), as `polyrec eval` does.

use rustc_hash::FxHashSet as HashSet;

use crate::data::{Interactions, Vocabulary};
use crate::metrics::{RankingMetrics, RankingSummary, top_k};
use crate::split::{Rating, SplitKind, split};

pub struct Holdout {
    /// What the evaluated model is fitted on.
    pub train: Interactions,
    /// Per test user: their held-out items.
    test: Vec<(String, HashSet<String>)>,
}

impl Holdout {
    /// Holds out `fraction` of each user's (user, item) pairs, chosen with `seed`; users with a
    /// single pair keep it for training.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, fraction: f64, seed: u64) -> Self {
        let ratings: Vec<Rating> = pairs
            .into_iter()
            .map(|(user, item)| Rating {
                user_id: user.to_owned(),
                item_id: item.to_owned(),
                rating: 1.0,
                timestamp: 0,
            })
            .collect();
        let (train_rows, test_rows) = split(&ratings, SplitKind::Random, fraction, seed);
        let train = Interactions::build(
            train_rows.iter().map(|r| (r.user_id.as_str(), r.item_id.as_str(), 1.0)),
            Vocabulary::default(),
        );
        let mut test: Vec<(String, HashSet<String>)> = Vec::new();
        for row in test_rows {
            match test.last_mut() {
                Some((user, items)) if *user == row.user_id => {
                    items.insert(row.item_id);
                }
                _ => test.push((row.user_id, [row.item_id].into_iter().collect())),
            }
        }
        Self { train, test }
    }

    /// Users with held-out items.
    pub fn test_users(&self) -> usize {
        self.test.len()
    }

    /// Ranks every test user's items by `score` (one score per item of `self.train.items`, or
    /// `None` when the model has nothing for the user, which counts as an empty list).
    pub fn evaluate(&self, k: usize, score: impl Fn(&str) -> Option<Vec<f32>>) -> RankingSummary {
        let mut metrics = RankingMetrics::new(k);
        for (user, relevant) in &self.test {
            let recommended: Vec<&str> = match (score(user), self.train.users.get(user)) {
                (Some(scores), Some(row)) => {
                    let seen: HashSet<u32> = self.train.by_user.row(row as usize).0.iter().copied().collect();
                    top_k(&scores, k, |i| seen.contains(&i)).into_iter().map(|i| self.train.items.name(i)).collect()
                }
                (Some(scores), None) => {
                    top_k(&scores, k, |_| false).into_iter().map(|i| self.train.items.name(i)).collect()
                }
                (None, _) => Vec::new(),
            };
            metrics.add(&recommended, relevant);
        }
        metrics.summary(self.train.n_items())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oracle_scores_better_than_a_constant_and_the_split_is_per_user() {
        // Two groups of users, each taking items of their own group.
        let mut pairs = Vec::new();
        for u in 0..40 {
            for i in 0..10 {
                let group = u % 2;
                pairs.push((format!("u{u}"), format!("g{group}-i{i}")));
            }
        }
        let holdout = Holdout::new(pairs.iter().map(|(u, i)| (u.as_str(), i.as_str())), 0.2, 7);
        assert_eq!(holdout.test_users(), 40);
        assert_eq!(holdout.train.by_user.nnz(), 40 * 8, "two of ten held out per user");
        let items = &holdout.train.items;
        let oracle = holdout.evaluate(5, |user| {
            let group = user[1..].parse::<usize>().unwrap() % 2;
            Some(items.names().iter().map(|name| f32::from(name.starts_with(&format!("g{group}")))).collect())
        });
        let flat = holdout.evaluate(5, |_| Some(vec![0.0; items.len()]));
        assert!(oracle.recall > 0.99, "{oracle:?}");
        assert!(flat.recall < 0.6, "{flat:?}");
        assert_eq!(holdout.evaluate(5, |_| None).users, 40, "a user the model lacks still counts");
    }
}
