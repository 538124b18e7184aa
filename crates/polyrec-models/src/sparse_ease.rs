//! Sparse EASE: EASE (Steck 2019) restricted to each item's strongest co-occurrence neighbours,
//! for catalogs the dense n × n inverse cannot hold (100,000 to millions of items).
//!
//! EASE's column j is the ridge regression of item j's column of X on every other item's,
//! Bⱼ = argmin ‖Xⱼ − X b‖² + λ‖b‖² with bⱼ = 0, that is (G₋ⱼ + λI) b = G₋ⱼ,ⱼ with G = XᵀX. Here
//! the regression runs on the `neighbors` items that co-occur most with j (N(j)) only:
//!
//! (G_NN + Λ) b = G_Nj,  Λ = λI + p / (1 − p) · diagMat(diag(G_NN))  (p = `dropout`, EDLAE's
//! emphasis; 0 is EASE),
//!
//! with G_NN counted exactly (a Gram matrix: with λ > 0 the system is positive definite). When
//! every item co-occurs with every other and K ≥ n − 1 it is EASE exactly (tested); otherwise it
//! is EASE's regression restricted to the neighbourhood. One K × K Cholesky solve per item (K = `neighbors`): O(n·K³) time plus the
//! counting, O(n·K) memory, in parallel over items. A user's scores are Σ over the items they
//! took of B's rows, kept sparse.
//!
//! Users with more than `max_user_items` items count only their first ones (by item index) in
//! the co-occurrence counts, so one heavy user cannot cost O(items²).

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactError};
use crate::data::{Interactions, Vocabulary};
use crate::linalg::cholesky_solve;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SparseEaseParams {
    pub lambda: f64,
    /// EDLAE's dropout rate p in [0, 1): 0 is EASE.
    pub dropout: f64,
    /// Co-occurrence neighbours per item (K): memory is about 16 bytes × items × K while fitting.
    pub neighbors: usize,
    /// Items of one user counted in the co-occurrences, at most.
    pub max_user_items: usize,
}

impl Default for SparseEaseParams {
    fn default() -> Self {
        Self { lambda: 500.0, dropout: 0.0, neighbors: 100, max_user_items: 2_000 }
    }
}

impl SparseEaseParams {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.lambda.is_finite() && self.lambda > 0.0) {
            return Err("lambda must be a number > 0".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err("dropout must be at least 0 and below 1".into());
        }
        if !(1..=MAX_NEIGHBORS).contains(&self.neighbors) {
            return Err(format!("neighbors must be between 1 and {MAX_NEIGHBORS}"));
        }
        if !(1..=MAX_USER_ITEMS).contains(&self.max_user_items) {
            return Err(format!("max_user_items must be between 1 and {MAX_USER_ITEMS}"));
        }
        Ok(())
    }
}

/// At most this many neighbours per item: each item's solve is O(K³).
pub const MAX_NEIGHBORS: usize = 400;
/// A user's items counted in the co-occurrences at most: a user costs O(that²).
pub const MAX_USER_ITEMS: usize = 10_000;
/// items × neighbours at most (16 bytes each while fitting: 3.2 GB).
pub const MAX_WEIGHTS: usize = 200_000_000;

/// Refuses a fit of `items` × `neighbors` past [`MAX_WEIGHTS`].
pub fn within_memory(items: usize, neighbors: usize) -> Result<(), String> {
    if items.saturating_mul(neighbors) > MAX_WEIGHTS {
        return Err(format!(
            "{items} items × {neighbors} neighbors is past the fit's memory bound of {MAX_WEIGHTS} weights \
             (16 bytes each); lower neighbors to at most {}",
            (MAX_WEIGHTS / items.max(1)).max(1)
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub struct SparseEaseModel {
    pub params: SparseEaseParams,
    pub items: Vocabulary,
    /// B by source item: row i (`offsets[i]..offsets[i + 1]`) lists the items i's presence in
    /// a history adds to, with the weight it adds.
    pub offsets: Vec<u32>,
    pub targets: Vec<u32>,
    pub weights: Vec<f32>,
    /// The training users and the items each took (scored whole at a request).
    pub users: Vocabulary,
    pub history: Vec<Vec<u32>>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    params: SparseEaseParams,
    items: Vec<String>,
    users: Vec<String>,
    history: Vec<Vec<u32>>,
}

pub const KIND: &str = "sparse_ease";

impl SparseEaseModel {
    pub fn fit(data: &Interactions, params: SparseEaseParams) -> Result<Self, String> {
        params.validate()?;
        let n = data.n_items();
        let k = params.neighbors;
        within_memory(n, k)?;
        let cap = params.max_user_items;
        // Each item's K strongest co-occurrences, as (item, count) sorted by item.
        let neighbours: Vec<Vec<(u32, f32)>> = (0..n)
            .into_par_iter()
            .map_init(
                || (vec![0u32; n], Vec::<u32>::new()),
                |(counts, touched), i| {
                    for &u in data.by_item.row(i).0 {
                        let items = data.by_user.row(u as usize).0;
                        for &j in &items[..items.len().min(cap)] {
                            if counts[j as usize] == 0 {
                                touched.push(j);
                            }
                            counts[j as usize] += 1;
                        }
                    }
                    let mut list: Vec<(u32, u32)> = Vec::with_capacity(touched.len());
                    for j in touched.drain(..) {
                        if j as usize != i {
                            list.push((j, counts[j as usize]));
                        }
                        counts[j as usize] = 0;
                    }
                    let strongest = |a: &(u32, u32), b: &(u32, u32)| b.1.cmp(&a.1).then(a.0.cmp(&b.0));
                    if list.len() > k {
                        list.select_nth_unstable_by(k - 1, strongest);
                        list.truncate(k);
                    }
                    list.sort_unstable_by_key(|&(j, _)| j);
                    list.into_iter().map(|(j, c)| (j, c as f32)).collect()
                },
            )
            .collect();
        let emphasis = params.dropout / (1.0 - params.dropout);
        // Each target item's column of B over its neighbours: G_NN counted exactly (a Gram
        // matrix, so G_NN + λI is positive definite), through the neighbours' users.
        let columns: Vec<Vec<(u32, f32)>> = (0..n)
            .into_par_iter()
            .map_init(
                || (Vec::<f64>::new(), Vec::<f64>::new(), vec![u32::MAX; n]),
                |(gram, rhs, position), j| {
                    let near = &neighbours[j];
                    let m = near.len();
                    if m == 0 {
                        return Vec::new();
                    }
                    gram.clear();
                    gram.resize(m * m, 0.0);
                    rhs.clear();
                    rhs.extend(near.iter().map(|&(_, cooc)| cooc as f64));
                    for (a, &(i, _)) in near.iter().enumerate() {
                        position[i as usize] = a as u32;
                    }
                    for (a, &(i, _)) in near.iter().enumerate() {
                        let row = &mut gram[a * m..(a + 1) * m];
                        for &u in data.by_item.row(i as usize).0 {
                            let items = data.by_user.row(u as usize).0;
                            for &other in &items[..items.len().min(cap)] {
                                let b = position[other as usize];
                                if b != u32::MAX {
                                    row[b as usize] += 1.0;
                                }
                            }
                        }
                    }
                    for &(i, _) in near {
                        position[i as usize] = u32::MAX;
                    }
                    for a in 0..m {
                        gram[a * m + a] = gram[a * m + a] * (1.0 + emphasis) + params.lambda;
                    }
                    // λ > 0 makes it positive definite; a failure (NaN) leaves the column empty.
                    if !cholesky_solve(gram, rhs) {
                        return Vec::new();
                    }
                    near.iter().zip(rhs.iter()).map(|(&(i, _), &w)| (i, w as f32)).collect()
                },
            )
            .collect();
        drop(neighbours);
        // By source: row i holds (j, Bᵢⱼ) for every target j that has i as a neighbour.
        let mut offsets = vec![0u32; n + 1];
        for column in &columns {
            for &(i, _) in column {
                offsets[i as usize + 1] += 1;
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let total = offsets[n] as usize;
        let (mut targets, mut weights) = (vec![0u32; total], vec![0f32; total]);
        let mut next: Vec<u32> = offsets[..n].to_vec();
        for (j, column) in columns.iter().enumerate() {
            for &(i, w) in column {
                let at = next[i as usize] as usize;
                targets[at] = j as u32;
                weights[at] = w;
                next[i as usize] += 1;
            }
        }
        let history = (0..data.n_users()).map(|u| data.by_user.row(u).0.to_vec()).collect();
        Ok(Self { params, items: data.items.clone(), offsets, targets, weights, users: data.users.clone(), history })
    }

    /// The items a training user took, as item indices (empty for users the model has not seen).
    pub fn history(&self, user: &str) -> &[u32] {
        self.users.get(user).map(|u| self.history[u as usize].as_slice()).unwrap_or_default()
    }

    /// The scores of the items a user who took `items` gets from them (items no row reaches
    /// are absent: their score is 0).
    pub fn score_sparse(&self, items: impl IntoIterator<Item = u32>) -> FxHashMap<u32, f32> {
        let mut scores = FxHashMap::default();
        for i in items {
            let (from, to) = (self.offsets[i as usize] as usize, self.offsets[i as usize + 1] as usize);
            for (&j, &w) in self.targets[from..to].iter().zip(&self.weights[from..to]) {
                *scores.entry(j).or_default() += w;
            }
        }
        scores
    }

    /// Every item's score (by item index), for offline full ranking.
    pub fn score(&self, items: impl IntoIterator<Item = u32>) -> Vec<f32> {
        let mut scores = vec![0f32; self.items.len()];
        for (j, s) in self.score_sparse(items) {
            scores[j as usize] = s;
        }
        scores
    }

    /// Stored weights (B's non-zeros).
    pub fn nnz(&self) -> usize {
        self.weights.len()
    }

    pub fn to_artifact(&self) -> Artifact {
        let header = Header {
            params: self.params,
            items: self.items.names().to_vec(),
            users: self.users.names().to_vec(),
            history: self.history.clone(),
        };
        // Indices travel as the bit patterns of f32s: the artifact's arrays are f32.
        let bits = |v: &[u32]| v.iter().map(|&x| f32::from_bits(x)).collect();
        Artifact::new(KIND, header, vec![bits(&self.offsets), bits(&self.targets), self.weights.clone()])
    }

    pub fn from_artifact(artifact: &Artifact) -> Result<Self, ArtifactError> {
        let header: Header = artifact.model(KIND)?;
        let n = header.items.len();
        let invalid = |what: &str| ArtifactError::Invalid(format!("sparse EASE {what}"));
        let offsets: Vec<u32> = artifact.array(0, n + 1)?.iter().map(|x| x.to_bits()).collect();
        let total = offsets[n] as usize;
        if offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(invalid("offsets are not increasing"));
        }
        let targets: Vec<u32> = artifact.array(1, total)?.iter().map(|x| x.to_bits()).collect();
        let weights = artifact.array(2, total)?.to_vec();
        if targets.iter().any(|&j| j as usize >= n) {
            return Err(invalid("targets are outside the catalog"));
        }
        if header.history.len() != header.users.len() || header.history.iter().flatten().any(|&i| i as usize >= n) {
            return Err(invalid("user history does not match its vocabularies"));
        }
        Ok(Self {
            params: header.params,
            items: Vocabulary::from_names(header.items),
            offsets,
            targets,
            weights,
            users: Vocabulary::from_names(header.users),
            history: header.history,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EaseModel, EaseParams};

    /// 40 users, 8 items, 70 % of the cells: every pair co-occurs.
    fn dense() -> Interactions {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut rows = Vec::new();
        for u in 0..40u32 {
            for i in 0..8u32 {
                if rng.random_bool(0.7) {
                    rows.push((format!("u{u}"), format!("i{i}")));
                }
            }
        }
        Interactions::build(rows.iter().map(|(u, i)| (u.as_str(), i.as_str(), 1.0)), Vocabulary::default())
    }

    #[test]
    fn with_every_neighbour_it_is_ease_and_with_fewer_it_keeps_k_per_item() {
        let data = dense();
        for dropout in [0.0, 0.25] {
            let exact = EaseModel::fit(&data, EaseParams { lambda: 10.0, dropout, ..EaseParams::default() }).unwrap();
            let params = SparseEaseParams { lambda: 10.0, dropout, neighbors: 7, ..SparseEaseParams::default() };
            let sparse = SparseEaseModel::fit(&data, params).unwrap();
            assert_eq!(sparse.nnz(), 8 * 7, "every off-diagonal weight");
            let n = 8;
            for i in 0..n as u32 {
                let dense_scores = exact.score([i]);
                let sparse_scores = sparse.score([i]);
                for j in 0..n {
                    assert!((dense_scores[j] - sparse_scores[j]).abs() < 1e-4, "B[{i}][{j}] with p {dropout}");
                }
            }
        }
        let pruned =
            SparseEaseModel::fit(&data, SparseEaseParams { neighbors: 3, ..SparseEaseParams::default() }).unwrap();
        assert_eq!(pruned.nnz(), 8 * 3);
    }

    #[test]
    fn it_recovers_a_planted_group_structure_and_round_trips() {
        let (data, held_out) = crate::testdata::planted(40, 30, 2, 7);
        let model = SparseEaseModel::fit(&data, SparseEaseParams { lambda: 10.0, neighbors: 20, ..Default::default() })
            .unwrap();
        // As EASE's own test: each user's top 10 is of their own group, with 20 neighbours of 59.
        let (mut in_group, mut total) = (0, 0);
        for (user, _, seen) in &held_out {
            let scores = model.score(seen.iter().map(|s| model.items.get(s).unwrap()));
            let skip = |i: u32| seen.iter().any(|s| s == model.items.name(i));
            for item in crate::metrics::top_k(&scores, 10, skip).into_iter().map(|i| model.items.name(i)) {
                in_group += item.starts_with(&user[..3]) as usize;
                total += 1;
            }
        }
        assert!(in_group * 100 >= total * 95, "{in_group} of {total} recommendations in the user's group");
        let back =
            SparseEaseModel::from_artifact(&Artifact::from_bytes(&model.to_artifact().to_bytes()).unwrap()).unwrap();
        assert_eq!(back, model);
    }

    #[test]
    fn bad_parameters_are_refused() {
        for params in [
            SparseEaseParams { lambda: 0.0, ..Default::default() },
            SparseEaseParams { dropout: 1.0, ..Default::default() },
            SparseEaseParams { neighbors: 0, ..Default::default() },
            SparseEaseParams { neighbors: MAX_NEIGHBORS + 1, ..Default::default() },
            SparseEaseParams { max_user_items: MAX_USER_ITEMS + 1, ..Default::default() },
        ] {
            assert!(SparseEaseModel::fit(&dense(), params).is_err(), "{params:?}");
        }
        // The memory bound: a million items take the default 100 neighbours, not 400.
        assert!(within_memory(1_000_000, 100).is_ok());
        let error = within_memory(1_000_000, 400).unwrap_err();
        assert!(error.contains("at most 200"), "{error}");
    }
}
