//! Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren & Volinsky
//! 2008), the model of the `implicit` library: for every observed (user, item) with strength
//! r, preference 1 and confidence c = alpha · r; every unobserved pair has preference 0 and
//! confidence 1. Each half-step solves, per user u (then per item),
//!
//! (YᵀY + Yᵀ(Cᵤ − I)Y + λI) xᵤ = YᵀCᵤpᵤ
//!
//! with YᵀY shared by all users. Like `implicit`, the default solver runs a few steps of
//! conjugate gradient warm-started from the previous factors (Takács et al. 2011), which never
//! forms the per-user matrix; `exact` solves it by Cholesky instead.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactError};
use crate::data::{Csr, Interactions, Vocabulary};
use crate::linalg::{axpy, cholesky_factor, cholesky_solve, cholesky_substitute, dot, symv};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlsParams {
    pub factors: usize,
    pub regularization: f32,
    /// Confidence per unit of strength.
    pub alpha: f32,
    pub iterations: usize,
    /// Conjugate-gradient steps per solve; 0 solves exactly by Cholesky.
    pub cg_steps: usize,
    pub seed: u64,
}

impl Default for AlsParams {
    fn default() -> Self {
        Self { factors: 64, regularization: 0.05, alpha: 1.0, iterations: 15, cg_steps: 0, seed: 42 }
    }
}

impl AlsParams {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=512).contains(&self.factors) {
            return Err("factors must be between 1 and 512".into());
        }
        if !(self.regularization.is_finite() && self.regularization >= 0.0) {
            return Err("regularization must be a number ≥ 0".into());
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err("alpha must be a number > 0".into());
        }
        if !(1..=200).contains(&self.iterations) {
            return Err("iterations must be between 1 and 200".into());
        }
        if self.cg_steps > 100 {
            return Err("cg_steps must be at most 100".into());
        }
        Ok(())
    }
}

/// User and item vectors; a user's score for an item is the dot product.
#[derive(Debug, Clone, PartialEq)]
pub struct AlsModel {
    pub params: AlsParams,
    pub users: Vocabulary,
    pub items: Vocabulary,
    /// Row-major, `users × factors`.
    pub user_factors: Vec<f32>,
    /// Row-major, `items × factors`.
    pub item_factors: Vec<f32>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    params: AlsParams,
    users: Vec<String>,
    items: Vec<String>,
}

pub const KIND: &str = "als";

impl AlsModel {
    /// Fits on `data`; `progress` hears the share of iterations done after each one.
    pub fn fit(data: &Interactions, params: AlsParams, progress: &(dyn Fn(f64) + Sync)) -> Self {
        let f = params.factors;
        let mut rng = StdRng::seed_from_u64(params.seed);
        let mut init = |n: usize| (0..n * f).map(|_| rng.random::<f32>() * 0.01).collect::<Vec<f32>>();
        let mut user_factors = init(data.n_users());
        let mut item_factors = init(data.n_items());
        for iteration in 0..params.iterations {
            solve_side(&data.by_user, &item_factors, &mut user_factors, &params);
            solve_side(&data.by_item, &user_factors, &mut item_factors, &params);
            progress((iteration + 1) as f64 / params.iterations as f64);
        }
        Self { params, users: data.users.clone(), items: data.items.clone(), user_factors, item_factors }
    }

    pub fn factors(&self) -> usize {
        self.params.factors
    }

    pub fn user_vector(&self, user: &str) -> Option<&[f32]> {
        let u = self.users.get(user)? as usize;
        Some(&self.user_factors[u * self.factors()..(u + 1) * self.factors()])
    }

    pub fn item_vector(&self, item: &str) -> Option<&[f32]> {
        let i = self.items.get(item)? as usize;
        Some(&self.item_factors[i * self.factors()..(i + 1) * self.factors()])
    }

    /// A vector for a user the model has not seen, from items they touched: the mean of those
    /// items' vectors (None if the model knows none of them).
    pub fn fold_in<'a>(&self, items: impl IntoIterator<Item = &'a str>) -> Option<Vec<f32>> {
        let mut sum = vec![0f32; self.factors()];
        let mut n = 0;
        for item in items {
            if let Some(v) = self.item_vector(item) {
                axpy(1.0, v, &mut sum);
                n += 1;
            }
        }
        (n > 0).then(|| sum.into_iter().map(|x| x / n as f32).collect())
    }

    /// The score of every item (by item index) for a query vector.
    pub fn score_all(&self, query: &[f32]) -> Vec<f32> {
        self.item_factors.chunks_exact(self.factors()).map(|item| dot(item, query)).collect()
    }

    pub fn to_artifact(&self) -> Artifact {
        let header =
            Header { params: self.params, users: self.users.names().to_vec(), items: self.items.names().to_vec() };
        Artifact::new(KIND, header, vec![self.user_factors.clone(), self.item_factors.clone()])
    }

    pub fn from_artifact(artifact: &Artifact) -> Result<Self, ArtifactError> {
        let header: Header = artifact.model(KIND)?;
        let f = header.params.factors;
        let user_factors = artifact.array(0, header.users.len() * f)?.to_vec();
        let item_factors = artifact.array(1, header.items.len() * f)?.to_vec();
        Ok(Self {
            params: header.params,
            users: Vocabulary::from_names(header.users),
            items: Vocabulary::from_names(header.items),
            user_factors,
            item_factors,
        })
    }
}

/// Recomputes every row of `x` given the fixed side `y`; `rows` holds each row's observed
/// (column, strength) pairs.
fn solve_side(rows: &Csr, y: &[f32], x: &mut [f32], params: &AlsParams) {
    let f = params.factors;
    // YᵀY + λI: one vectorised row update per vector, in f32 like `implicit`.
    let mut gram32 = vec![0f32; f * f];
    for v in y.chunks_exact(f) {
        for (a, &va) in v.iter().enumerate() {
            axpy(va, v, &mut gram32[a * f..(a + 1) * f]);
        }
    }
    for a in 0..f {
        gram32[a * f + a] += params.regularization;
    }
    let gram: Vec<f64> = gram32.iter().map(|&g| g as f64).collect();
    if params.cg_steps == 0 && rows.values.iter().all(|&v| params.alpha * v == 1.0) {
        // Every confidence is 1: every row solves (YᵀY + λI) x = Σ yᵢ with the same matrix, so
        // its inverse is formed once and each row costs one matrix–vector product.
        let Some(inverse) = spd_inverse(&gram, f) else { return };
        x.par_chunks_mut(f).enumerate().for_each_init(
            || vec![0f32; f],
            |b, (row, xu)| {
                b.iter_mut().for_each(|v| *v = 0.0);
                for &i in rows.row(row).0 {
                    axpy(1.0, &y[i as usize * f..(i as usize + 1) * f], b);
                }
                symv(&inverse, b, xu);
            },
        );
        return;
    }
    x.par_chunks_mut(f).enumerate().for_each_init(
        || Scratch::new(f),
        |scratch, (row, xu)| {
            let (cols, vals) = rows.row(row);
            if params.cg_steps == 0 {
                solve_exact(&gram, y, cols, vals, params, xu);
            } else {
                solve_cg(&gram32, y, cols, vals, params, xu, scratch);
            }
        },
    );
}

struct Scratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
}

impl Scratch {
    fn new(f: usize) -> Self {
        Self { r: vec![0.0; f], p: vec![0.0; f], ap: vec![0.0; f] }
    }
}

/// `implicit`'s conjugate-gradient update, warm-started at the current `x`.
fn solve_cg(gram: &[f32], y: &[f32], cols: &[u32], vals: &[f32], params: &AlsParams, x: &mut [f32], s: &mut Scratch) {
    let f = params.factors;
    let row = |i: u32| &y[i as usize * f..(i as usize + 1) * f];
    // r = b − A x
    symv(gram, x, &mut s.r);
    s.r.iter_mut().for_each(|v| *v = -*v);
    for (&i, &v) in cols.iter().zip(vals) {
        let confidence = params.alpha * v;
        let yi = row(i);
        axpy(confidence - (confidence - 1.0) * dot(yi, x), yi, &mut s.r);
    }
    s.p.copy_from_slice(&s.r);
    let mut rs_old = dot(&s.r, &s.r);
    if rs_old < 1e-20 {
        return;
    }
    for _ in 0..params.cg_steps {
        symv(gram, &s.p, &mut s.ap);
        for (&i, &v) in cols.iter().zip(vals) {
            let confidence = params.alpha * v;
            let yi = row(i);
            axpy((confidence - 1.0) * dot(yi, &s.p), yi, &mut s.ap);
        }
        let alpha = rs_old / dot(&s.p, &s.ap);
        axpy(alpha, &s.p, x);
        axpy(-alpha, &s.ap, &mut s.r);
        let rs_new = dot(&s.r, &s.r);
        if rs_new < 1e-20 {
            break;
        }
        let beta = rs_new / rs_old;
        for (p, r) in s.p.iter_mut().zip(&s.r) {
            *p = r + beta * *p;
        }
        rs_old = rs_new;
    }
}

/// The inverse of a symmetric positive-definite row-major `n × n` matrix (from its Cholesky
/// factor, one column of the identity at a time), as f32; None if it is not positive definite.
fn spd_inverse(a: &[f64], n: usize) -> Option<Vec<f32>> {
    let mut factor = a.to_vec();
    if !cholesky_factor(&mut factor, n) {
        return None;
    }
    let mut inverse = vec![0f32; n * n];
    let mut column = vec![0f64; n];
    for j in 0..n {
        column.iter_mut().enumerate().for_each(|(i, v)| *v = (i == j) as u8 as f64);
        cholesky_substitute(&factor, &mut column);
        for (i, v) in column.iter().enumerate() {
            inverse[i * n + j] = *v as f32;
        }
    }
    Some(inverse)
}

/// The exact solve: forms YᵀY + Yᵀ(Cᵤ − I)Y + λI and factors it.
fn solve_exact(gram: &[f64], y: &[f32], cols: &[u32], vals: &[f32], params: &AlsParams, x: &mut [f32]) {
    let f = params.factors;
    let mut a = gram.to_vec();
    let mut b = vec![0f64; f];
    for (&i, &v) in cols.iter().zip(vals) {
        let confidence = (params.alpha * v) as f64;
        let yi = &y[i as usize * f..(i as usize + 1) * f];
        for p in 0..f {
            b[p] += confidence * yi[p] as f64;
            let scaled = (confidence - 1.0) * yi[p] as f64;
            if scaled != 0.0 {
                for q in 0..f {
                    a[p * f + q] += scaled * yi[q] as f64;
                }
            }
        }
    }
    if cholesky_solve(&mut a, &mut b) {
        for (x, b) in x.iter_mut().zip(b) {
            *x = b as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::top_k;
    use crate::testdata::planted;

    fn top(model: &AlsModel, user: &str, k: usize, seen: &[String]) -> Vec<String> {
        let scores = model.score_all(model.user_vector(user).unwrap());
        let skip = |i: u32| seen.iter().any(|s| s == model.items.name(i));
        top_k(&scores, k, skip).into_iter().map(|i| model.items.name(i).to_owned()).collect()
    }

    #[test]
    fn recovers_a_planted_group_structure() {
        // Two groups of users, each taking most of their own group's items.
        let (data, held_out) = planted(40, 30, 2, 7);
        for cg_steps in [0, 3] {
            let params =
                AlsParams { factors: 4, iterations: 15, regularization: 5.0, cg_steps, ..AlsParams::default() };
            let model = AlsModel::fit(&data, params, &|_| {});
            // Each user has 12 unseen items of their own group: the model should rank them
            // above the 30 of the other group.
            let (mut in_group, mut total) = (0, 0);
            for (user, _, seen) in &held_out {
                let group = &user[..3];
                for item in top(&model, user, 10, seen) {
                    in_group += item.starts_with(group) as usize;
                    total += 1;
                }
            }
            assert!(
                in_group * 100 >= total * 95,
                "cg_steps {cg_steps}: {in_group} of {total} recommendations in the user's group"
            );
        }
    }

    #[test]
    fn artifact_round_trip_gives_identical_scores_and_fold_in_works() {
        let (data, _) = planted(10, 10, 2, 3);
        let model = AlsModel::fit(&data, AlsParams { factors: 4, iterations: 3, ..AlsParams::default() }, &|_| {});
        let back = AlsModel::from_artifact(&Artifact::from_bytes(&model.to_artifact().to_bytes()).unwrap()).unwrap();
        assert_eq!(back, model);
        let user = model.users.name(0);
        assert_eq!(back.score_all(back.user_vector(user).unwrap()), model.score_all(model.user_vector(user).unwrap()));
        let folded = model.fold_in(["g0-i0", "g0-i1", "unknown"]).unwrap();
        let expected: Vec<f32> = model
            .item_vector("g0-i0")
            .unwrap()
            .iter()
            .zip(model.item_vector("g0-i1").unwrap())
            .map(|(a, b)| (a + b) / 2.0)
            .collect();
        assert_eq!(folded, expected);
        assert!(model.fold_in(["unknown"]).is_none());
    }

    #[test]
    fn fitting_is_deterministic_for_a_seed() {
        let (data, _) = planted(10, 10, 2, 3);
        let params = AlsParams { factors: 4, iterations: 3, ..AlsParams::default() };
        assert_eq!(AlsModel::fit(&data, params, &|_| {}), AlsModel::fit(&data, params, &|_| {}));
    }
}
