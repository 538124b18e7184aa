//! Offline metrics. Ranking metrics are per user, averaged over users with at least one test
//! item, from a full ranking (the caller scores every item and removes the user's training
//! items — no sampled negatives):
//!
//! - precision@k = hits / k
//! - recall@k = hits / |test items|
//! - NDCG@k (binary relevance) = Σ_hits 1/log2(rank + 1) / Σ_{r ≤ min(k, |test|)} 1/log2(r + 1)
//! - MAP@k = Σ_hits precision@rank / min(k, |test|)
//! - coverage = distinct items recommended to anyone / catalog size
//!
//! For scorers of labelled pairs: AUC (ties count one half) and log-loss.

use rustc_hash::FxHashSet as HashSet;
use serde::Serialize;

#[derive(Debug, Default, Clone)]
pub struct RankingMetrics {
    k: usize,
    users: usize,
    precision: f64,
    recall: f64,
    ndcg: f64,
    map: f64,
    hits_any: usize,
    recommended: HashSet<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RankingSummary {
    pub k: usize,
    pub users: usize,
    pub precision: f64,
    pub recall: f64,
    pub ndcg: f64,
    pub map: f64,
    pub hit_rate: f64,
    pub coverage: f64,
}

impl RankingMetrics {
    pub fn new(k: usize) -> Self {
        Self { k, ..Self::default() }
    }

    /// Adds one user: `recommended` best first (only the first k count), `relevant` the user's
    /// test items (users without any are skipped).
    pub fn add<S: AsRef<str>>(&mut self, recommended: &[S], relevant: &HashSet<String>) {
        if relevant.is_empty() {
            return;
        }
        let k = self.k;
        let mut hits = 0usize;
        let mut dcg = 0.0;
        let mut ap = 0.0;
        for (rank, item) in recommended.iter().take(k).enumerate() {
            let item = item.as_ref();
            self.recommended.insert(item.to_owned());
            if relevant.contains(item) {
                hits += 1;
                dcg += 1.0 / ((rank + 2) as f64).log2();
                ap += hits as f64 / (rank + 1) as f64;
            }
        }
        let ideal = relevant.len().min(k);
        let idcg: f64 = (0..ideal).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
        self.users += 1;
        self.precision += hits as f64 / k as f64;
        self.recall += hits as f64 / relevant.len() as f64;
        self.ndcg += dcg / idcg;
        self.map += ap / ideal as f64;
        self.hits_any += (hits > 0) as usize;
    }

    pub fn summary(&self, catalog_size: usize) -> RankingSummary {
        let n = self.users.max(1) as f64;
        RankingSummary {
            k: self.k,
            users: self.users,
            precision: self.precision / n,
            recall: self.recall / n,
            ndcg: self.ndcg / n,
            map: self.map / n,
            hit_rate: self.hits_any as f64 / n,
            coverage: self.recommended.len() as f64 / catalog_size.max(1) as f64,
        }
    }
}

/// The indices of the `k` highest scores, best first (ties by index), leaving out those `skip`
/// rejects: the full ranking every offline metric starts from.
pub fn top_k(scores: &[f32], k: usize, skip: impl Fn(u32) -> bool) -> Vec<u32> {
    let mut scored: Vec<(u32, f32)> =
        scores.iter().enumerate().map(|(i, &s)| (i as u32, s)).filter(|&(i, _)| !skip(i)).collect();
    let by_score = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if scored.len() > k {
        scored.select_nth_unstable_by(k, by_score);
        scored.truncate(k);
    }
    scored.sort_by(by_score);
    scored.into_iter().map(|(i, _)| i).collect()
}

/// Area under the ROC curve of `scores` against binary `labels`, ties counting one half
/// (the Mann–Whitney statistic). None when one class is absent.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Sum of the positives' (average) ranks.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + end) as f64 / 2.0 + 1.0;
        rank_sum += order[start..=end].iter().filter(|&&i| labels[i]).count() as f64 * average_rank;
        start = end + 1;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// Mean binary cross-entropy of probabilities, clipped to [1e-15, 1 − 1e-15].
pub fn log_loss(probabilities: &[f64], labels: &[bool]) -> f64 {
    let total: f64 = probabilities
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    total / probabilities.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> HashSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ranking_metrics_by_hand() {
        let mut m = RankingMetrics::new(3);
        // Hits at ranks 1 and 3 of 3; 4 relevant items.
        m.add(&["a", "x", "b"], &set(&["a", "b", "c", "d"]));
        let s = m.summary(10);
        assert!((s.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.recall - 0.5).abs() < 1e-12);
        let idcg = 1.0 + 1.0 / 3f64.log2() + 0.5;
        assert!((s.ndcg - (1.0 + 0.5) / idcg).abs() < 1e-12);
        assert!((s.map - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!((s.coverage - 0.3).abs() < 1e-12);
        // A user with no test items does not count; a user with no hits averages in as zeros.
        m.add(&["a"], &set(&[]));
        m.add(&["y", "z", "w"], &set(&["a"]));
        let s = m.summary(10);
        assert_eq!(s.users, 2);
        assert!((s.precision - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.hit_rate - 0.5).abs() < 1e-12);
    }

    #[test]
    fn top_k_is_best_first_ties_by_index_and_skips() {
        let scores = [0.5, 2.0, 0.5, 3.0, 1.0];
        assert_eq!(top_k(&scores, 3, |_| false), [3, 1, 4]);
        assert_eq!(top_k(&scores, 3, |i| i == 3), [1, 4, 0]);
        assert_eq!(top_k(&scores, 10, |i| i < 2), [3, 4, 2]);
    }

    #[test]
    fn auc_counts_ties_as_half() {
        assert_eq!(auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.75));
        assert_eq!(auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(auc(&[1.0, 2.0], &[true, true]), None);
        assert_eq!(auc(&[0.0, 1.0, 2.0], &[false, true, true]), Some(1.0));
    }

    #[test]
    fn log_loss_of_perfect_and_even_guesses() {
        assert!(log_loss(&[1.0, 0.0], &[true, false]) < 1e-12);
        assert!((log_loss(&[0.5, 0.5], &[true, false]) - 2f64.ln()).abs() < 1e-12);
    }
}
