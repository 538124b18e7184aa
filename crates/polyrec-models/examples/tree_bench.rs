//! The compiled trees against LightGBM's own predict on the same rows: a binary model of 100
//! trees × 31 leaves (the `lightgbm` ranker's defaults) over 12 numeric columns (2 % missing)
//! and 4 categorical ones, scored in batches of the learned pipeline's size (334 candidates),
//! one thread, twice: rows drawn independently, and one request's rows (the user's and the
//! context's columns the same in every row). Prints rows per second of each, their ratios and
//! the largest difference.
//!
//! ```text
//! cargo run --release -p polyrec-models --features lightgbm --example tree_bench -- [--batch 334] [--batches 3000]
//! ```

use std::time::Instant;

use polyrec_models::rank::lightgbm::{GbdtParams, GbdtRanker};
use polyrec_models::rank::{CtrData, Ranker};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn data(rows: usize, seed: u64) -> CtrData {
    let mut rng = StdRng::seed_from_u64(seed);
    let numeric: Vec<String> = (0..12).map(|i| format!("x{i}")).collect();
    let categorical: Vec<String> = (0..4).map(|i| format!("c{i}")).collect();
    let cardinalities = vec![50, 200, 20, 1_000];
    let mut out = CtrData::new(numeric, categorical, cardinalities.clone());
    let effects: Vec<Vec<f32>> =
        cardinalities.iter().map(|&n| (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()).collect();
    for _ in 0..rows {
        let x: Vec<f32> =
            (0..12).map(|_| if rng.random::<f32>() < 0.02 { f32::NAN } else { rng.random_range(-2.0..2.0) }).collect();
        let c: Vec<u32> = cardinalities.iter().map(|&n| rng.random_range(0..n)).collect();
        let signal = x[0].max(0.0) * 1.5 - x[1]
            + x[2] * x[3] * 0.5
            + c.iter().zip(&effects).map(|(&code, e)| e[code as usize]).sum::<f32>();
        let click = signal + rng.random_range(-1.0..1.0) > 0.5;
        out.push_row(&x, &c, Some(f32::from(click))).expect("valid row");
    }
    out
}

#[derive(clap::Parser)]
struct Args {
    /// Rows a batch.
    #[arg(long, default_value_t = 334)]
    batch: usize,
    /// Batches timed.
    #[arg(long, default_value_t = 3_000)]
    batches: usize,
}

fn main() {
    let Args { batch, batches } = clap::Parser::parse();
    let model = GbdtRanker::fit(&data(50_000, 1), &GbdtParams::default()).expect("fits");
    assert!(model.is_compiled());
    let rows = data(batch, 2);
    if let Ok(path) = std::env::var("TREE_BENCH_DUMP") {
        std::fs::write(path, model.model_string()).expect("writable");
    }
    let mut largest = 0f64;
    for (a, b) in model.predict(&rows).iter().zip(model.predict_with_lightgbm(&rows)) {
        largest = largest.max((f64::from(*a) - b).abs());
    }
    let time = |f: &dyn Fn()| {
        f(); // warm
        let started = Instant::now();
        for _ in 0..batches {
            f();
        }
        (batch * batches) as f64 / started.elapsed().as_secs_f64()
    };
    let ours = time(&|| {
        std::hint::black_box(model.predict(&rows));
    });
    // One request's candidates: the columns of the user and the context (here x0–x3, c2, c3)
    // hold one value in every row; the compiled trees decide their splits once per batch.
    let mut request = rows.clone();
    let (n_numeric, n_fields) = (rows.n_numeric(), rows.n_categorical());
    for row in 0..request.n_rows {
        for column in 0..4 {
            request.numeric[row * n_numeric + column] = rows.numeric[column];
        }
        for field in 2..4 {
            request.categorical[row * n_fields + field] = rows.categorical[field];
        }
    }
    for (a, b) in model.predict(&request).iter().zip(model.predict_with_lightgbm(&request)) {
        largest = largest.max((f64::from(*a) - b).abs());
    }
    let ours_request = time(&|| {
        std::hint::black_box(model.predict(&request));
    });
    let theirs_request = time(&|| {
        std::hint::black_box(model.predict_with_lightgbm(&request));
    });
    let theirs = time(&|| {
        std::hint::black_box(model.predict_with_lightgbm(&rows));
    });
    println!(
        "{} trees, batches of {batch} rows, {batches} batches, one thread",
        model.model_string().matches("Tree=").count()
    );
    println!("| predict | rows/s | µs per batch |");
    println!("|---|---|---|");
    println!("| compiled trees (polyrec) | {ours:.0} | {:.1} |", batch as f64 / ours * 1e6);
    println!("| LightGBM LGBM_BoosterPredictForMat | {theirs:.0} | {:.1} |", batch as f64 / theirs * 1e6);
    println!(
        "| compiled trees (polyrec), one request's rows | {ours_request:.0} | {:.1} |",
        batch as f64 / ours_request * 1e6
    );
    println!(
        "| LightGBM LGBM_BoosterPredictForMat, one request's rows | {theirs_request:.0} | {:.1} |",
        batch as f64 / theirs_request * 1e6
    );
    println!(
        "ratio {:.2}× (one request's rows {:.2}×), largest difference {largest:.2e}",
        ours / theirs,
        ours_request / theirs_request
    );
}
