//! EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): an item × item
//! weight matrix B with a zero diagonal, in closed form,
//!
//! P = (XᵀX + λI)⁻¹,  B = I − P · diag(1 / diag(P))  (so Bᵢⱼ = −Pᵢⱼ / Pⱼⱼ, Bⱼⱼ = 0),
//!
//! and a user's scores are xᵤ B. One dense n × n inverse: fine for catalogs of up to some ten
//! thousand items (`EaseParams::max_items` bounds it), out of reach beyond.
//!
//! With `dropout` p > 0 it is EDLAE (Steck 2020, "Autoencoders that don't overfit towards the
//! identity", the emphasized denoising linear autoencoder with the zero-diagonal constraint): the
//! same closed form with the regularizer of input dropout at rate p,
//!
//! P = (XᵀX + Λ)⁻¹,  Λ = λI + p / (1 − p) · diagMat(diag(XᵀX)),  B = I − P · diag(1 / diag(P)),
//!
//! which penalises an item's weights in proportion to its popularity rather than uniformly.

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactError};
use crate::data::{Interactions, Vocabulary};
use crate::linalg::axpy;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EaseParams {
    pub lambda: f64,
    /// The input-dropout rate p of EDLAE, in [0, 1): 0 is EASE.
    pub dropout: f64,
    /// Refuse larger catalogs (the fit's peak is about 23 bytes × n², measured by
    /// `memory -- ease`: 1.5 GB at 8,000 items, so about 9.4 GB at 20,000).
    pub max_items: usize,
}

impl Default for EaseParams {
    fn default() -> Self {
        Self { lambda: 500.0, dropout: 0.0, max_items: 20_000 }
    }
}

impl EaseParams {
    /// The `dlae` model's defaults: EDLAE with Steck's (2020) dropout rate of a third and a
    /// smaller uniform λ, the dropout term taking over most of the regularization. Chosen from
    /// the paper, not tuned on any evaluation split.
    pub fn dlae() -> Self {
        Self { lambda: 100.0, dropout: 1.0 / 3.0, max_items: 20_000 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EaseModel {
    pub params: EaseParams,
    pub items: Vocabulary,
    /// Row-major n × n: row i holds item i's contribution to every item's score.
    pub weights: Vec<f32>,
    /// The training users and the items each took, so a request can score a user's whole
    /// history and not only the few recent items it carries.
    pub users: Vocabulary,
    pub history: Vec<Vec<u32>>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    params: EaseParams,
    items: Vec<String>,
    users: Vec<String>,
    history: Vec<Vec<u32>>,
}

pub const KIND: &str = "ease";

#[derive(Debug, thiserror::Error)]
pub enum EaseError {
    #[error(
        "EASE needs a dense {n} × {n} matrix; this catalog has more than max_items = {max} items: use the sparse_ease recall strategy (EASE over each item's strongest co-occurrence neighbours), which fits catalogs of millions"
    )]
    TooManyItems { n: usize, max: usize },
    #[error("XᵀX + λI is not positive definite (lambda must be > 0)")]
    NotPositiveDefinite,
    #[error("dropout must be in [0, 1), not {0}")]
    BadDropout(f64),
}

impl EaseModel {
    pub fn fit(data: &Interactions, params: EaseParams) -> Result<Self, EaseError> {
        let n = data.n_items();
        if n > params.max_items {
            return Err(EaseError::TooManyItems { n, max: params.max_items });
        }
        if !(0.0..1.0).contains(&params.dropout) {
            return Err(EaseError::BadDropout(params.dropout));
        }
        let emphasis = params.dropout / (1.0 - params.dropout);
        // XᵀX, binary as in the paper (an interaction counts 1 whatever its strength): the upper
        // triangle, column by column so the inner loop walks contiguous memory, then mirrored.
        // Each n × n matrix is dropped as soon as the next is built, so at most two are held at
        // once (8 bytes × n² each; `memory -- ease` measures the fit's peak).
        let mut upper = vec![0f64; n * n];
        for u in 0..data.n_users() {
            let (items, _) = data.by_user.row(u);
            for (a, &j) in items.iter().enumerate() {
                let column = &mut upper[j as usize * n..(j as usize + 1) * n];
                for &i in &items[..=a] {
                    column[i as usize] += 1.0;
                }
            }
        }
        let gram = Mat::from_fn(n, n, |i, j| {
            let value = if i <= j { upper[j * n + i] } else { upper[i * n + j] };
            value + if i == j { params.lambda + emphasis * value } else { 0.0 }
        });
        drop(upper);
        let factor = gram.llt(Side::Lower).map_err(|_| EaseError::NotPositiveDefinite)?;
        drop(gram);
        let inverse = factor.inverse();
        drop(factor);
        // Bᵢⱼ = −Pᵢⱼ / Pⱼⱼ = −Pⱼᵢ / Pⱼⱼ (P is symmetric): row i of B reads column i of P.
        let diagonal: Vec<f64> = (0..n).map(|j| inverse[(j, j)]).collect();
        let mut weights = vec![0f32; n * n];
        weights.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
            let column = inverse.col_as_slice(i);
            for (j, w) in row.iter_mut().enumerate() {
                if i != j {
                    *w = (-column[j] / diagonal[j]) as f32;
                }
            }
        });
        let history = (0..data.n_users()).map(|u| data.by_user.row(u).0.to_vec()).collect();
        Ok(Self { params, items: data.items.clone(), weights, users: data.users.clone(), history })
    }

    /// The items a training user took, as item indices (empty for users the model has not seen).
    pub fn history(&self, user: &str) -> &[u32] {
        self.users.get(user).map(|u| self.history[u as usize].as_slice()).unwrap_or_default()
    }

    /// Every item's score (by item index) for a user who took `items` (item indices).
    pub fn score(&self, items: impl IntoIterator<Item = u32>) -> Vec<f32> {
        let n = self.items.len();
        let mut scores = vec![0f32; n];
        for i in items {
            axpy(1.0, &self.weights[i as usize * n..(i as usize + 1) * n], &mut scores);
        }
        scores
    }

    pub fn to_artifact(&self) -> Artifact {
        let header = Header {
            params: self.params,
            items: self.items.names().to_vec(),
            users: self.users.names().to_vec(),
            history: self.history.clone(),
        };
        Artifact::new(KIND, header, vec![self.weights.clone()])
    }

    pub fn from_artifact(artifact: &Artifact) -> Result<Self, ArtifactError> {
        let header: Header = artifact.model(KIND)?;
        let n = header.items.len();
        let weights = artifact.array(0, n * n)?.to_vec();
        if header.history.len() != header.users.len() || header.history.iter().flatten().any(|&i| i as usize >= n) {
            return Err(ArtifactError::Invalid("EASE user history does not match its vocabularies".into()));
        }
        Ok(Self {
            params: header.params,
            items: Vocabulary::from_names(header.items),
            weights,
            users: Vocabulary::from_names(header.users),
            history: header.history,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::top_k;
    use crate::testdata::planted;

    #[test]
    fn recovers_a_planted_group_structure() {
        let (data, held_out) = planted(40, 30, 2, 7);
        let model = EaseModel::fit(&data, EaseParams { lambda: 10.0, ..EaseParams::default() }).unwrap();
        // Each user has 12 unseen items of their own group: they should outrank the other group.
        let (mut in_group, mut total) = (0, 0);
        for (user, _, seen) in &held_out {
            let scores = model.score(seen.iter().map(|s| model.items.get(s).unwrap()));
            let skip = |i: u32| seen.iter().any(|s| s == model.items.name(i));
            for item in top_k(&scores, 10, skip).into_iter().map(|i| model.items.name(i)) {
                in_group += item.starts_with(&user[..3]) as usize;
                total += 1;
            }
        }
        assert!(in_group * 100 >= total * 95, "{in_group} of {total} recommendations in the user's group");
    }

    /// XᵀX of binary interactions, row-major.
    fn gram(data: &Interactions) -> Vec<f64> {
        let n = data.n_items();
        let mut gram = vec![0f64; n * n];
        for u in 0..data.n_users() {
            let (items, _) = data.by_user.row(u);
            for &i in items {
                for &j in items {
                    gram[i as usize * n + j as usize] += 1.0;
                }
            }
        }
        gram
    }

    /// The optimality condition of the zero-diagonal closed form: (XᵀX + Λ) B = XᵀX − diag(μ) for
    /// some μ, i.e. every off-diagonal entry of (XᵀX + Λ)B − XᵀX vanishes, where Λ is diagonal with
    /// `regularizer(XᵀXᵢᵢ)`; and B's diagonal is zero.
    fn assert_optimal(model: &EaseModel, gram: &[f64], regularizer: impl Fn(f64) -> f64) {
        let n = model.items.len();
        for i in 0..n {
            assert_eq!(model.weights[i * n + i], 0.0);
            for j in (0..n).filter(|&j| j != i) {
                let mut lhs = 0.0;
                for k in 0..n {
                    let diagonal = if i == k { regularizer(gram[i * n + i]) } else { 0.0 };
                    lhs += (gram[i * n + k] + diagonal) * model.weights[k * n + j] as f64;
                }
                assert!((lhs - gram[i * n + j]).abs() < 1e-3, "({i}, {j}): {lhs} vs {}", gram[i * n + j]);
            }
        }
    }

    #[test]
    fn diagonal_is_zero_and_the_closed_form_holds() {
        let (data, _) = planted(5, 6, 2, 1);
        let model = EaseModel::fit(&data, EaseParams { lambda: 2.0, ..EaseParams::default() }).unwrap();
        assert_optimal(&model, &gram(&data), |_| 2.0);
    }

    /// EDLAE: Λ = λI + p/(1−p)·diag(XᵀX), heavier on popular items.
    #[test]
    fn dropout_regularizes_in_proportion_to_popularity() {
        let (data, _) = planted(5, 6, 2, 1);
        let params = EaseParams { lambda: 2.0, dropout: 0.25, ..EaseParams::default() };
        let model = EaseModel::fit(&data, params).unwrap();
        assert_optimal(&model, &gram(&data), |count| 2.0 + count / 3.0);
        // It differs from EASE with the same λ.
        let ease = EaseModel::fit(&data, EaseParams { lambda: 2.0, ..EaseParams::default() }).unwrap();
        assert_ne!(ease.weights, model.weights);
        let bad = EaseParams { dropout: 1.0, ..EaseParams::default() };
        assert!(matches!(EaseModel::fit(&data, bad), Err(EaseError::BadDropout(_))));
    }

    #[test]
    fn round_trip_and_size_limit() {
        let (data, _) = planted(5, 6, 2, 1);
        let model = EaseModel::fit(&data, EaseParams::default()).unwrap();
        let back = EaseModel::from_artifact(&Artifact::from_bytes(&model.to_artifact().to_bytes()).unwrap()).unwrap();
        assert_eq!(back, model);
        let small = EaseParams { max_items: 3, ..EaseParams::default() };
        assert!(matches!(EaseModel::fit(&data, small), Err(EaseError::TooManyItems { n: 12, max: 3 })));
    }
}
