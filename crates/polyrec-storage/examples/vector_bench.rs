//! Vector-index benchmark: recall@k of the index against exact inner-product search, and
//! queries per second of both, on clustered random vectors of varying norms (the shape trained
//! item factors have).
//!
//! ```text
//! cargo run --release -p polyrec-storage --features milvus --example vector_bench -- \
//!     [--n 100000] [--dim 64] [--queries 1000] [--k 10] [--ef 200] [--m 32]
//!     [--milvus http://127.0.0.1:19530]
//! ```

use std::sync::Arc;
use std::time::Instant;

use polyrec_core::math::dot;
use polyrec_core::{ScenarioId, TenantId};
use polyrec_storage::{HnswIndex, HnswParams, VectorCollection, VectorIndex};

#[path = "../tests/common/vectors.rs"]
mod vectors;
use vectors::clustered;

fn exact(vectors: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<usize> {
    let mut scored: Vec<(usize, f32)> =
        vectors.chunks_exact(dim).enumerate().map(|(i, v)| (i, dot(v, query))).collect();
    scored.select_nth_unstable_by(k, |a, b| b.1.total_cmp(&a.1));
    scored.truncate(k);
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.into_iter().map(|(i, _)| i).collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let number = |name: &str, default: usize| arg(name).map_or(Ok(default), |v| v.parse()).map_err(anyhow::Error::from);
    let (n, dim, queries, k) =
        (number("--n", 100_000)?, number("--dim", 64)?, number("--queries", 1_000)?, number("--k", 10)?);
    let vectors = clustered(n, dim, 50, 1);
    let query_vectors = clustered(queries, dim, 50, 2);
    let ids: Vec<String> = (0..n).map(|i| format!("i{i}")).collect();

    let truth: Vec<Vec<usize>> = query_vectors.chunks_exact(dim).map(|q| exact(&vectors, dim, q, k)).collect();
    println!("{n} vectors of dimension {dim}, {queries} queries one at a time, k = {k}");
    println!("| index | build s | recall@{k} | queries/s |");
    println!("|---|---|---|---|");

    let defaults = HnswParams::default();
    let params = HnswParams {
        // Always the graph here, whatever the size: the exact path is measured on its own row.
        exact_below: 0,
        ef_search: number("--ef", defaults.ef_search)?,
        max_connections: number("--m", defaults.max_connections)?,
        ..defaults
    };
    let hnsw = format!("HNSW (in-process, M {}, ef {})", params.max_connections, params.ef_search);
    let hnsw_index = Arc::new(HnswIndex::new(params));
    let mut indexes: Vec<(&str, Arc<dyn VectorIndex>)> = vec![(&hnsw, hnsw_index.clone())];
    #[cfg(feature = "milvus")]
    if let Some(url) = arg("--milvus") {
        indexes.push(("Milvus", Arc::new(polyrec_storage::production::milvus::MilvusIndex::connect(&url).await?)));
    }
    let collection = VectorCollection::new(&TenantId::parse("bench")?, &ScenarioId::parse("bench")?, "vectors");
    for (name, index) in indexes {
        let started = Instant::now();
        index.create(&collection, dim, &ids, &vectors).await?;
        let build = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut found = 0;
        for (query, truth) in query_vectors.chunks_exact(dim).zip(&truth) {
            let hits = index.search(&collection, query, k).await?;
            found += hits.iter().filter(|(id, _)| truth.iter().any(|&t| ids[t] == *id)).count();
        }
        let qps = queries as f64 / started.elapsed().as_secs_f64();
        let recall = found as f64 / (queries * k) as f64;
        println!("| {name} | {build:.1} | {recall:.3} | {qps:.0} |");
        if name == hnsw {
            // The same collection's exact path (what the index uses below `exact_below`).
            let started = Instant::now();
            let mut found = 0;
            for (query, truth) in query_vectors.chunks_exact(dim).zip(&truth) {
                let hits = hnsw_index.search_exact(&collection, query, k)?;
                found += hits.iter().filter(|(id, _)| truth.iter().any(|&t| ids[t] == *id)).count();
            }
            let qps = queries as f64 / started.elapsed().as_secs_f64();
            let recall = found as f64 / (queries * k) as f64;
            println!("| exact scan (one thread) | — | {recall:.3} | {qps:.0} |");
        }
        index.drop_collection(&collection).await?;
    }
    Ok(())
}
