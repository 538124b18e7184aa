//! The vector index: collections per tenant, scenario and model; inner-product search; upserts
//! and removals; and an approximate index that still finds ≥ 95 % of the exact top 10.

use std::sync::Arc;

use polyrec_storage::{IvfIndex, IvfParams, VectorCollection, VectorIndex};

use crate::support::*;

#[path = "../common/vectors.rs"]
mod vectors;
use vectors::clustered;

/// Partitioned from 1,000 vectors on, so `approximate_search_finds_the_exact_top_ten` tests the
/// inverted file and the small collections the exact path.
fn embedded() -> Option<Arc<dyn VectorIndex>> {
    Some(Arc::new(IvfIndex::new(IvfParams { exact_below: 1_000, ..IvfParams::default() })))
}

#[cfg(feature = "milvus")]
async fn milvus() -> Option<Arc<dyn VectorIndex>> {
    let url = server("POLYREC_TEST_MILVUS_URL")?;
    Some(Arc::new(polyrec_storage::production::milvus::MilvusIndex::connect(&url).await.unwrap()))
}

macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod embedded_vector {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(index) = super::embedded() {
                        super::$test(index.as_ref()).await;
                    }
                }
            )*
        }
        #[cfg(feature = "milvus")]
        mod milvus_vector {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(index) = super::milvus().await {
                        super::$test(index.as_ref()).await;
                    }
                }
            )*
        }
    };
}

suite!(
    search_orders_by_inner_product,
    upsert_replaces_and_remove_hides,
    collections_are_isolated_by_tenant_scenario_and_model,
    bad_shapes_are_rejected,
    approximate_search_finds_the_exact_top_ten,
);

fn collection(tenant_name: &str, model: &str) -> VectorCollection {
    VectorCollection::new(&tenant(tenant_name), &scenario_id("s"), model)
}

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn names(hits: &[(String, f32)]) -> Vec<&str> {
    hits.iter().map(|(id, _)| id.as_str()).collect()
}

async fn search_orders_by_inner_product(index: &dyn VectorIndex) {
    let c = collection(&unique("t"), "als-v1");
    // Inner product, not cosine: "long" points the same way as "unit" but is longer.
    let vectors = [1.0, 0.0, 3.0, 0.0, 0.0, 1.0, -1.0, 0.0];
    index.create(&c, 2, &ids(&["unit", "long", "up", "back"]), &vectors).await.unwrap();
    assert!(index.exists(&c).await.unwrap());
    let hits = index.search(&c, &[1.0, 0.1], 3).await.unwrap();
    assert_eq!(names(&hits), ["long", "unit", "up"]);
    assert!((hits[0].1 - 3.0).abs() < 1e-4, "the score is the inner product: {hits:?}");
    assert_eq!(index.search(&c, &[1.0, 0.0], 10).await.unwrap().len(), 4);
}

async fn upsert_replaces_and_remove_hides(index: &dyn VectorIndex) {
    let c = collection(&unique("t"), "als-v1");
    index.create(&c, 2, &ids(&["a", "b"]), &[1.0, 0.0, 0.0, 1.0]).await.unwrap();
    index.upsert(&c, &ids(&["a", "c"]), &[0.0, 2.0, 0.5, 0.5]).await.unwrap();
    let hits = index.search(&c, &[0.0, 1.0], 3).await.unwrap();
    assert_eq!(names(&hits), ["a", "b", "c"], "a now points up and is longest");
    index.remove(&c, &ids(&["a"])).await.unwrap();
    assert_eq!(names(&index.search(&c, &[0.0, 1.0], 3).await.unwrap()), ["b", "c"]);
    // Creating again replaces the whole collection.
    index.create(&c, 2, &ids(&["z"]), &[1.0, 1.0]).await.unwrap();
    assert_eq!(names(&index.search(&c, &[0.0, 1.0], 3).await.unwrap()), ["z"]);
}

async fn collections_are_isolated_by_tenant_scenario_and_model(index: &dyn VectorIndex) {
    let (t1, t2) = (unique("t"), unique("t"));
    let a = collection(&t1, "als-v1");
    let other_tenant = collection(&t2, "als-v1");
    let other_model = collection(&t1, "als-v2");
    let other_scenario = VectorCollection::new(&tenant(&t1), &scenario_id("s2"), "als-v1");
    index.create(&a, 2, &ids(&["mine"]), &[1.0, 0.0]).await.unwrap();
    index.create(&other_tenant, 2, &ids(&["theirs"]), &[1.0, 0.0]).await.unwrap();
    assert_eq!(names(&index.search(&a, &[1.0, 0.0], 5).await.unwrap()), ["mine"]);
    assert_eq!(names(&index.search(&other_tenant, &[1.0, 0.0], 5).await.unwrap()), ["theirs"]);
    assert!(!index.exists(&other_model).await.unwrap());
    assert!(!index.exists(&other_scenario).await.unwrap());
    let missing = index.search(&other_model, &[1.0, 0.0], 5).await.unwrap_err();
    assert!(matches!(missing, polyrec_core::Error::NotFound { .. }), "{missing:?}");
    index.drop_scenario(&tenant(&t1), &scenario_id("s")).await.unwrap();
    assert!(!index.exists(&a).await.unwrap());
    assert!(index.exists(&other_tenant).await.unwrap(), "dropping one tenant's scenario leaves the other's");
    assert!(index.drop_collection(&other_tenant).await.unwrap());
    assert!(!index.drop_collection(&other_tenant).await.unwrap());
}

async fn bad_shapes_are_rejected(index: &dyn VectorIndex) {
    let c = collection(&unique("t"), "als-v1");
    let short = index.create(&c, 3, &ids(&["a", "b"]), &[1.0; 5]).await.unwrap_err();
    assert!(matches!(short, polyrec_core::Error::InvalidInput { .. }), "{short:?}");
    index.create(&c, 2, &ids(&["a"]), &[1.0, 0.0]).await.unwrap();
    assert!(index.search(&c, &[1.0, 0.0, 0.0], 1).await.is_err(), "wrong query dimension");
    assert!(index.upsert(&c, &ids(&["b"]), &[f32::NAN, 0.0]).await.is_err());
}

async fn approximate_search_finds_the_exact_top_ten(index: &dyn VectorIndex) {
    let (n, dim) = (5_000, 32);
    let c = collection(&unique("t"), "als-v1");
    let vectors = clustered(n, dim, 20, 1);
    let names: Vec<String> = (0..n).map(|i| format!("i{i}")).collect();
    index.create(&c, dim, &names, &vectors).await.unwrap();
    let queries = clustered(100, dim, 20, 2);
    let (mut found, mut wanted) = (0, 0);
    for query in queries.chunks_exact(dim) {
        let mut exact: Vec<(usize, f32)> = vectors
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, v)| (i, v.iter().zip(query).map(|(a, b)| a * b).sum()))
            .collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        let truth: Vec<String> = exact[..10].iter().map(|(i, _)| format!("i{i}")).collect();
        let hits = index.search(&c, query, 10).await.unwrap();
        assert_eq!(hits.len(), 10);
        found += hits.iter().filter(|(id, _)| truth.contains(id)).count();
        wanted += 10;
    }
    let recall = found as f64 / wanted as f64;
    assert!(recall >= 0.95, "recall@10 against exact search is {recall:.3}");
}
