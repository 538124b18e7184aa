//! Vector-index benchmark: recall@k of the in-process index against exact inner-product search,
//! and queries per second, on clustered random vectors of varying norms (the shape trained item
//! factors have); with `--faiss PYTHON`, faiss (faiss-cpu from PyPI, in that interpreter's
//! environment) on the same vectors in the same run (`bench/faiss_bench.py`), its rows in the
//! same table. One thread each, queries one at a time.
//!
//! ```text
//! cargo run --release -p polyrec-storage --features milvus --example vector_bench -- \
//!     [--n 100000] [--dim 64] [--queries 1000] [--k 10] [--lists 0] [--probes 8,16,27,32]
//!     [--faiss /path/to/python] [--milvus http://127.0.0.1:19530]
//! ```

use std::time::Instant;

use polyrec_core::{ScenarioId, TenantId};
use polyrec_storage::{IvfIndex, IvfParams, VectorCollection, VectorIndex};

#[path = "../tests/common/vectors.rs"]
mod vectors;
use vectors::clustered;

fn write_f32(path: &std::path::Path, values: &[f32]) -> std::io::Result<()> {
    std::fs::write(path, values.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let number = |name: &str, default: usize| arg(name).map_or(Ok(default), |v| v.parse()).map_err(anyhow::Error::from);
    let (n, dim, queries, k) =
        (number("--n", 100_000)?, number("--dim", 64)?, number("--queries", 1_000)?, number("--k", 10)?);
    let probes: Vec<usize> = arg("--probes")
        .unwrap_or_else(|| "0,8,16,32".to_owned())
        .split(',')
        .map(|p| p.trim().parse())
        .collect::<Result<_, _>>()?;
    let vectors = clustered(n, dim, 50, 1);
    let query_vectors = clustered(queries, dim, 50, 2);
    let ids: Vec<String> = (0..n).map(|i| format!("i{i}")).collect();
    let slot: std::collections::HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let collection = VectorCollection::new(&TenantId::parse("bench")?, &ScenarioId::parse("bench")?, "vectors");

    // The exact scan (the index below `exact_below`) gives the truth.
    let exact = IvfIndex::new(IvfParams { exact_below: usize::MAX, ..IvfParams::default() });
    exact.create(&collection, dim, &ids, &vectors).await?;
    let started = Instant::now();
    let mut truth: Vec<Vec<usize>> = Vec::with_capacity(queries);
    for query in query_vectors.chunks_exact(dim) {
        truth.push(exact.search(&collection, query, k).await?.iter().map(|(id, _)| slot[id.as_str()]).collect());
    }
    let exact_qps = queries as f64 / started.elapsed().as_secs_f64();
    exact.drop_collection(&collection).await?;

    println!("{n} vectors of dimension {dim}, {queries} queries one at a time on one thread, k = {k}");
    println!("| index | build s | recall@{k} | queries/s |");
    println!("|---|---|---|---|");
    println!("| polyrec exact scan | — | 1.000 | {exact_qps:.0} |");
    let recall_of = |hits: &[(String, f32)], truth: &[usize]| {
        hits.iter().filter(|(id, _)| truth.contains(&slot[id.as_str()])).count()
    };

    let params = IvfParams { exact_below: 0, lists: number("--lists", 0)?, ..IvfParams::default() };
    let index = IvfIndex::new(params);
    let started = Instant::now();
    index.create(&collection, dim, &ids, &vectors).await?;
    let build = started.elapsed().as_secs_f64();
    let lists = index.lists(&collection)?.unwrap_or(0);
    // One query over every list first: the build's freshly written pages are touched once, so
    // the first timed row does not pay for their faults.
    index.search_probing(&collection, &query_vectors[..dim], k, lists.max(1))?;
    for &probe in &probes {
        let started = Instant::now();
        let mut found = 0;
        for (query, truth) in query_vectors.chunks_exact(dim).zip(&truth) {
            let hits = if probe == 0 {
                index.search(&collection, query, k).await?
            } else {
                index.search_probing(&collection, query, k, probe)?
            };
            found += recall_of(&hits, truth);
        }
        let qps = queries as f64 / started.elapsed().as_secs_f64();
        let recall = found as f64 / (queries * k) as f64;
        let probed = if probe == 0 { format!("default {}", params.probe_or_default(lists)) } else { probe.to_string() };
        println!("| polyrec IVF (lists {lists}, probe {probed}) | {build:.1} | {recall:.3} | {qps:.0} |");
    }
    index.drop_collection(&collection).await?;

    if let Some(python) = arg("--faiss") {
        let dir = tempfile::tempdir()?;
        write_f32(&dir.path().join("base.f32"), &vectors)?;
        write_f32(&dir.path().join("queries.f32"), &query_vectors)?;
        let flat: Vec<f32> = truth.iter().flatten().map(|&i| i as f32).collect();
        write_f32(&dir.path().join("truth.f32"), &flat)?;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/faiss_bench.py");
        let output = std::process::Command::new(&python)
            .args([script, &dir.path().display().to_string(), &dim.to_string(), &k.to_string()])
            .output()?;
        anyhow::ensure!(output.status.success(), "faiss_bench.py failed: {}", String::from_utf8_lossy(&output.stderr));
        print!("{}", String::from_utf8_lossy(&output.stdout));
    }

    #[cfg(feature = "milvus")]
    if let Some(url) = arg("--milvus") {
        let milvus = polyrec_storage::production::milvus::MilvusIndex::connect(&url).await?;
        let started = Instant::now();
        milvus.create(&collection, dim, &ids, &vectors).await?;
        let build = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut found = 0;
        for (query, truth) in query_vectors.chunks_exact(dim).zip(&truth) {
            found += recall_of(&milvus.search(&collection, query, k).await?, truth);
        }
        let qps = queries as f64 / started.elapsed().as_secs_f64();
        let recall = found as f64 / (queries * k) as f64;
        println!("| Milvus (milvus-lite: faiss HNSW, M 32, ef 200, over gRPC) | {build:.1} | {recall:.3} | {qps:.0} |");
        milvus.drop_collection(&collection).await?;
    }
    Ok(())
}
