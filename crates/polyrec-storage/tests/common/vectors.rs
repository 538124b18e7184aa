//! Clustered random vectors of varying norms, as trained item factors look: `clusters` random
//! centres in [−1, 1]^dim, each vector a centre plus uniform noise of ±0.5 per coordinate,
//! scaled by a uniform factor in [0.2, 1.5]. Shared by the vector-index conformance suite and
//! `examples/vector_bench.rs`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centers: Vec<Vec<f32>> =
        (0..clusters).map(|_| (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect()).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let center = &centers[rng.random_range(0..centers.len())];
        let scale = rng.random_range(0.2..1.5);
        out.extend(center.iter().map(|c| scale * (c + rng.random_range(-0.5..0.5))));
    }
    out
}
