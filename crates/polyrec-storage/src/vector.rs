//! The vector index (Faiss's and Milvus's role): a trained model's item vectors, searched by
//! inner product. Collections are per tenant, scenario and model version, so two tenants (or two
//! versions of one model) never share one.
//!
//! The embedded backend, [`IvfIndex`], keeps each collection in memory: an exact scan below
//! [`IvfParams::exact_below`] vectors, an inverted file above (IVF-Flat, faiss's
//! `IndexIVFFlat`): k-means (Lloyd, on the L2 distance) splits the vectors into about √n lists,
//! each list's vectors lie contiguously, and a query scans the lists whose centroids have the
//! largest inner product with it, scoring every vector there exactly. Both scans run the
//! inner-product kernel of [`dots`], dispatched at run time to the widest SIMD the CPU has
//! (`pulp`: AVX2 and FMA on x86-64 where present).
//!
//! An HNSW graph (Malkov & Yashunin; `hnsw_rs`, on inner product itself, ip-NSW) was this
//! index until 2026-12: on trained-factor-like data (clustered, norms 0.2–1.5) it found 0.79–0.80
//! of the true top 10 at 1.75× the exact scan's speed, and faiss's own HNSW found no more, where
//! the partitioned scan finds 0.95 at 10× and more (docs/benchmarks.md, `examples/vector_bench.rs`).

use crate::blocking;
use polyrec_core::Code;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::RwLock;
use polyrec_core::math::dot;
use polyrec_core::{Error, Result, ScenarioId, TenantId};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// Where one model's vectors live.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VectorCollection {
    pub tenant: TenantId,
    pub scenario: ScenarioId,
    /// The model and version that made the vectors, e.g. `als-v3`.
    pub model: String,
}

impl VectorCollection {
    pub fn new(tenant: &TenantId, scenario: &ScenarioId, model: impl Into<String>) -> Self {
        Self { tenant: tenant.clone(), scenario: scenario.clone(), model: model.into() }
    }
}

#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// Creates the collection with these vectors (row-major, `ids.len() × dim`), replacing any
    /// collection of that name.
    async fn create(&self, collection: &VectorCollection, dim: usize, ids: &[String], vectors: &[f32]) -> Result<()>;
    /// Adds vectors, replacing those of ids already present.
    async fn upsert(&self, collection: &VectorCollection, ids: &[String], vectors: &[f32]) -> Result<()>;
    async fn remove(&self, collection: &VectorCollection, ids: &[String]) -> Result<()>;
    /// The `k` ids with the largest inner product with `query`, best first, with that product.
    async fn search(&self, collection: &VectorCollection, query: &[f32], k: usize) -> Result<Vec<(String, f32)>>;
    async fn exists(&self, collection: &VectorCollection) -> Result<bool>;
    /// Returns false if there was no such collection.
    async fn drop_collection(&self, collection: &VectorCollection) -> Result<bool>;
    /// Drops every collection of a scenario (the scenario was deleted).
    async fn drop_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<()>;
}

/// The shape every backend checks: `ids.len() × dim` finite floats.
pub(crate) fn check_shape(dim: usize, ids: &[String], vectors: &[f32]) -> Result<()> {
    if dim == 0 || ids.len() * dim != vectors.len() {
        return Err(Error::invalid(
            Code::InvalidVectors,
            format!("{} ids need {} floats of dimension {dim}; got {}", ids.len(), ids.len() * dim, vectors.len()),
        ));
    }
    if vectors.iter().any(|x| !x.is_finite()) {
        return Err(Error::invalid(Code::InvalidVectors, "vectors must be finite numbers"));
    }
    Ok(())
}

/// The HNSW parameters of the Milvus backend's index (`production::milvus`).
#[derive(Debug, Clone, Copy)]
pub struct HnswParams {
    /// Links per node.
    pub max_connections: usize,
    pub ef_construction: usize,
    /// Candidates examined per search, at least `k`.
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self { max_connections: 32, ef_construction: 200, ef_search: 200 }
    }
}

/// When to partition a collection, and how.
#[derive(Debug, Clone, Copy)]
pub struct IvfParams {
    /// Collections with fewer live vectors are scanned exactly (20,000 by default: 0.2 ms a
    /// query at 64 dimensions, where 16 of √n lists would find 0.97–0.99 of the true top 10).
    pub exact_below: usize,
    /// Lists of a partitioned collection; 0: about √n (16 at least).
    pub lists: usize,
    /// Lists a query scans; 0: [`IvfParams::DEFAULT_PROBE_FRACTION`] of them, at least 16.
    pub probe: usize,
    /// The k-means's sample and starting centroids.
    pub seed: u64,
}

impl IvfParams {
    /// The share of the lists a query scans by default: 1 in 20 (16 of 316 lists at 100,000
    /// vectors: recall@10 0.99 on the benchmark's vectors at 19× the exact scan's speed, where
    /// 8 lists find 0.95 — docs/benchmarks.md). Real factors can be harder; the margin is theirs.
    pub const DEFAULT_PROBE_FRACTION: f64 = 1.0 / 20.0;

    fn lists_for(&self, n: usize) -> usize {
        let lists = if self.lists > 0 { self.lists } else { ((n as f64).sqrt().round() as usize).max(16) };
        lists.clamp(1, n.max(1))
    }

    /// The lists a query scans out of `lists`.
    pub fn probe_or_default(&self, lists: usize) -> usize {
        self.probe_for(lists)
    }

    fn probe_for(&self, lists: usize) -> usize {
        let probe = if self.probe > 0 {
            self.probe
        } else {
            ((lists as f64 * Self::DEFAULT_PROBE_FRACTION).ceil() as usize).max(16)
        };
        probe.clamp(1, lists)
    }
}

impl Default for IvfParams {
    fn default() -> Self {
        Self { exact_below: 20_000, lists: 0, probe: 0, seed: 42 }
    }
}

/// The in-process vector index.
#[derive(Default)]
pub struct IvfIndex {
    params: IvfParams,
    collections: RwLock<HashMap<VectorCollection, Arc<RwLock<Collection>>>>,
}

struct Collection {
    dim: usize,
    /// Slot → id and raw vector; removed slots stay as tombstones until the next rebuild.
    ids: Vec<String>,
    vectors: Vec<f32>,
    slot_of: HashMap<String, usize>,
    removed: HashSet<usize>,
    partitions: Option<Partitions>,
}

/// The inverted file: the lists' centroids and which slots each list holds. At a build the
/// slots are renumbered so each list is one contiguous range; slots added later are listed
/// apart until the next build.
struct Partitions {
    centroids: Vec<f32>,
    /// Per list, its range of slots (`start..end`) at the build.
    ranges: Vec<(usize, usize)>,
    /// Per list, the slots added since the build.
    added: Vec<Vec<usize>>,
    /// Slots at the build, and added since.
    built_with: usize,
    added_count: usize,
    /// Lists a query scans.
    probe: usize,
}

impl IvfIndex {
    pub fn new(params: IvfParams) -> Self {
        Self { params, collections: RwLock::default() }
    }

    fn get(&self, collection: &VectorCollection) -> Result<Arc<RwLock<Collection>>> {
        self.collections.read().get(collection).cloned().ok_or_else(|| {
            Error::not_found(format!(
                "vector collection `{}` of scenario `{}` does not exist",
                collection.model, collection.scenario
            ))
        })
    }

    /// Exact inner-product search, for tests and benchmarks against the partitioned one.
    pub fn search_exact(&self, collection: &VectorCollection, query: &[f32], k: usize) -> Result<Vec<(String, f32)>> {
        let c = self.get(collection)?;
        let c = c.read();
        Ok(c.exact(query, k))
    }

    /// [`VectorIndex::search`] scanning `probe` lists instead of the default (benchmarks).
    pub fn search_probing(
        &self,
        collection: &VectorCollection,
        query: &[f32],
        k: usize,
        probe: usize,
    ) -> Result<Vec<(String, f32)>> {
        let c = self.get(collection)?;
        let c = c.read();
        Ok(c.search(query, k, Some(probe)))
    }

    /// Whether the collection is partitioned, and into how many lists.
    pub fn lists(&self, collection: &VectorCollection) -> Result<Option<usize>> {
        let c = self.get(collection)?;
        let c = c.read();
        Ok(c.partitions.as_ref().map(|p| p.ranges.len()))
    }
}

/// Inner products of `query` with each row of `rows` (row-major, `query.len()` wide), appended
/// to `out`; on the widest SIMD the CPU has.
pub fn dots(query: &[f32], rows: &[f32], out: &mut Vec<f32>) {
    struct Dots<'a> {
        query: &'a [f32],
        rows: &'a [f32],
        out: &'a mut Vec<f32>,
    }
    impl pulp::WithSimd for Dots<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, simd: S) {
            let dim = self.query.len();
            if dim == 0 {
                return;
            }
            let (query_head, query_tail) = S::as_simd_f32s(self.query);
            self.out.reserve(self.rows.len() / dim);
            for row in self.rows.chunks_exact(dim) {
                let (head, tail) = S::as_simd_f32s(row);
                // Two accumulators, so consecutive fused multiply-adds do not wait on each other.
                let (mut even, mut odd) = (simd.splat_f32s(0.0), simd.splat_f32s(0.0));
                let mut pairs = head.chunks_exact(2).zip(query_head.chunks_exact(2));
                for (x, q) in &mut pairs {
                    even = simd.mul_add_f32s(x[0], q[0], even);
                    odd = simd.mul_add_f32s(x[1], q[1], odd);
                }
                if head.len() % 2 == 1 {
                    let last = head.len() - 1;
                    even = simd.mul_add_f32s(head[last], query_head[last], even);
                }
                let mut sum = simd.reduce_sum_f32s(simd.add_f32s(even, odd));
                for (x, q) in tail.iter().zip(query_tail) {
                    sum += x * q;
                }
                self.out.push(sum);
            }
        }
    }
    pulp::Arch::new().dispatch(Dots { query, rows, out });
}

/// The `k` best (score, slot) pairs seen, the worst on top.
struct Best {
    k: usize,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<Scored>>,
}

#[derive(PartialEq)]
struct Scored(f32, usize);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    /// By score, then the lower slot first (as the exact scan breaks ties).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

impl Best {
    fn new(k: usize) -> Self {
        Self { k, heap: std::collections::BinaryHeap::with_capacity(k + 1) }
    }

    /// Whether `score` would enter.
    fn wants(&self, score: f32) -> bool {
        self.k > 0 && (self.heap.len() < self.k || self.heap.peek().is_some_and(|worst| score > worst.0.0))
    }

    fn push(&mut self, score: f32, slot: usize) {
        self.heap.push(std::cmp::Reverse(Scored(score, slot)));
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    /// Best first.
    fn into_sorted(self) -> Vec<(usize, f32)> {
        self.heap.into_sorted_vec().into_iter().map(|std::cmp::Reverse(Scored(score, slot))| (slot, score)).collect()
    }
}

/// Lloyd's k-means on the L2 distance over at most 256 vectors per list (faiss's sample rule),
/// from `lists` distinct sampled vectors; an emptied list restarts at a sampled vector. Returns
/// the centroids, row-major.
fn kmeans(vectors: &[f32], dim: usize, lists: usize, seed: u64) -> Vec<f32> {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    const ITERATIONS: usize = 12;
    let n = vectors.len() / dim;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order.truncate((lists * 256).min(n));
    let sample: Vec<f32> = order.iter().flat_map(|&i| vectors[i * dim..(i + 1) * dim].iter().copied()).collect();
    let m = order.len();
    let mut centroids: Vec<f32> = sample[..lists * dim].to_vec();
    let mut assigned = vec![0usize; m];
    for _ in 0..ITERATIONS {
        nearest(&sample, &centroids, dim, &mut assigned);
        let mut sums = vec![0f64; lists * dim];
        let mut counts = vec![0usize; lists];
        for (row, &list) in sample.chunks_exact(dim).zip(&assigned) {
            counts[list] += 1;
            for (sum, x) in sums[list * dim..(list + 1) * dim].iter_mut().zip(row) {
                *sum += *x as f64;
            }
        }
        for list in 0..lists {
            let centroid = &mut centroids[list * dim..(list + 1) * dim];
            if counts[list] == 0 {
                let at = rng.random_range(0..m);
                centroid.copy_from_slice(&sample[at * dim..(at + 1) * dim]);
            } else {
                for (c, sum) in centroid.iter_mut().zip(&sums[list * dim..(list + 1) * dim]) {
                    *c = (*sum / counts[list] as f64) as f32;
                }
            }
        }
    }
    centroids
}

/// Each row's nearest centroid by L2 (the largest x·c − |c|²/2), on every core.
fn nearest(rows: &[f32], centroids: &[f32], dim: usize, out: &mut [usize]) {
    let half_norms: Vec<f32> = centroids.chunks_exact(dim).map(|c| dot(c, c) / 2.0).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(out.len().max(1));
    let per = out.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for (part, assigned) in out.chunks_mut(per.max(1)).enumerate() {
            let rows = &rows[part * per * dim..];
            let half_norms = &half_norms;
            scope.spawn(move || {
                let mut scores = Vec::with_capacity(half_norms.len());
                for (row, slot) in rows.chunks_exact(dim).zip(assigned.iter_mut()) {
                    scores.clear();
                    dots(row, centroids, &mut scores);
                    let mut best = (f32::NEG_INFINITY, 0);
                    for (list, (score, half)) in scores.iter().zip(half_norms).enumerate() {
                        if score - half > best.0 {
                            best = (score - half, list);
                        }
                    }
                    *slot = best.1;
                }
            });
        }
    });
}

impl Collection {
    fn new(dim: usize) -> Self {
        Self {
            dim,
            ids: Vec::new(),
            vectors: Vec::new(),
            slot_of: HashMap::default(),
            removed: HashSet::default(),
            partitions: None,
        }
    }

    fn live(&self) -> usize {
        self.ids.len() - self.removed.len()
    }

    fn vector(&self, slot: usize) -> &[f32] {
        &self.vectors[slot * self.dim..(slot + 1) * self.dim]
    }

    fn add(&mut self, ids: &[String], vectors: &[f32]) {
        for (id, v) in ids.iter().zip(vectors.chunks_exact(self.dim)) {
            if let Some(old) = self.slot_of.remove(id) {
                self.removed.insert(old);
            }
            let slot = self.ids.len();
            self.ids.push(id.clone());
            self.vectors.extend_from_slice(v);
            self.slot_of.insert(id.clone(), slot);
        }
    }

    /// Brings the partitions up to date: none below `exact_below` live vectors; a full build
    /// when they are missing, when a quarter more slots were added since the last one, or when
    /// tombstones pass a quarter of the slots; otherwise the new slots join their nearest list.
    fn refresh(&mut self, params: IvfParams, first_new: usize) {
        if self.live() < params.exact_below.max(1) {
            self.partitions = None;
            return;
        }
        let rebuild = match &self.partitions {
            None => true,
            Some(p) => {
                (p.added_count + self.ids.len() - first_new) * 4 > p.built_with
                    || self.removed.len() * 4 > self.ids.len()
            }
        };
        if rebuild {
            self.build(params);
        } else if let Some(mut partitions) = self.partitions.take() {
            let new = &self.vectors[first_new * self.dim..];
            let mut assigned = vec![0; self.ids.len() - first_new];
            nearest(new, &partitions.centroids, self.dim, &mut assigned);
            for (offset, list) in assigned.into_iter().enumerate() {
                partitions.added[list].push(first_new + offset);
            }
            partitions.added_count += self.ids.len() - first_new;
            self.partitions = Some(partitions);
        }
    }

    /// Clusters the live vectors and renumbers the slots list by list.
    fn build(&mut self, params: IvfParams) {
        self.compact();
        let (n, dim) = (self.ids.len(), self.dim);
        let lists = params.lists_for(n);
        let centroids = kmeans(&self.vectors, dim, lists, params.seed);
        let mut assigned = vec![0; n];
        nearest(&self.vectors, &centroids, dim, &mut assigned);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&slot| assigned[slot]);
        let mut ranges = vec![(0, 0); lists];
        for (at, &slot) in order.iter().enumerate() {
            let list = assigned[slot];
            if ranges[list].1 == 0 {
                ranges[list].0 = at;
            }
            ranges[list].1 = at + 1;
        }
        let mut ids = Vec::with_capacity(n);
        let mut vectors = Vec::with_capacity(n * dim);
        for &slot in &order {
            ids.push(std::mem::take(&mut self.ids[slot]));
            vectors.extend_from_slice(self.vector(slot));
        }
        self.slot_of = ids.iter().enumerate().map(|(s, id)| (id.clone(), s)).collect();
        self.ids = ids;
        self.vectors = vectors;
        self.partitions = Some(Partitions {
            centroids,
            ranges,
            added: vec![Vec::new(); lists],
            built_with: n,
            added_count: 0,
            probe: params.probe_for(lists),
        });
    }

    /// Drops tombstones (slots are renumbered; only done before a build).
    fn compact(&mut self) {
        if self.removed.is_empty() {
            return;
        }
        let mut ids = Vec::with_capacity(self.live());
        let mut vectors = Vec::with_capacity(self.live() * self.dim);
        for slot in 0..self.ids.len() {
            if !self.removed.contains(&slot) {
                ids.push(std::mem::take(&mut self.ids[slot]));
                vectors.extend_from_slice(self.vector(slot));
            }
        }
        self.slot_of = ids.iter().enumerate().map(|(s, id)| (id.clone(), s)).collect();
        self.ids = ids;
        self.vectors = vectors;
        self.removed.clear();
    }

    /// Scores the slots `start..end` (contiguous) into `best`.
    fn scan(&self, query: &[f32], start: usize, end: usize, scores: &mut Vec<f32>, best: &mut Best) {
        scores.clear();
        dots(query, &self.vectors[start * self.dim..end * self.dim], scores);
        for (offset, &score) in scores.iter().enumerate() {
            if best.wants(score) && !self.removed.contains(&(start + offset)) {
                best.push(score, start + offset);
            }
        }
    }

    fn named(&self, best: Best) -> Vec<(String, f32)> {
        best.into_sorted().into_iter().map(|(slot, score)| (self.ids[slot].clone(), score)).collect()
    }

    fn exact(&self, query: &[f32], k: usize) -> Vec<(String, f32)> {
        let mut best = Best::new(k);
        self.scan(query, 0, self.ids.len(), &mut Vec::new(), &mut best);
        self.named(best)
    }

    fn search(&self, query: &[f32], k: usize, probe: Option<usize>) -> Vec<(String, f32)> {
        let Some(partitions) = &self.partitions else { return self.exact(query, k) };
        let lists = partitions.ranges.len();
        let probe = probe.unwrap_or(partitions.probe).clamp(1, lists);
        let mut scores = Vec::with_capacity(lists);
        dots(query, &partitions.centroids, &mut scores);
        let mut order: Vec<usize> = (0..lists).collect();
        if probe < lists {
            order.select_nth_unstable_by(probe - 1, |&a, &b| scores[b].total_cmp(&scores[a]));
            order.truncate(probe);
        }
        let mut best = Best::new(k);
        let mut row = Vec::with_capacity(1);
        for list in order {
            let (start, end) = partitions.ranges[list];
            self.scan(query, start, end, &mut scores, &mut best);
            for &slot in &partitions.added[list] {
                row.clear();
                dots(query, self.vector(slot), &mut row);
                if best.wants(row[0]) && !self.removed.contains(&slot) {
                    best.push(row[0], slot);
                }
            }
        }
        self.named(best)
    }
}

#[async_trait]
impl VectorIndex for IvfIndex {
    async fn create(&self, collection: &VectorCollection, dim: usize, ids: &[String], vectors: &[f32]) -> Result<()> {
        if dim == 0 || ids.len() * dim != vectors.len() {
            return check_shape(dim, ids, vectors);
        }
        // Checking every float and hashing every id is proportional to the catalog: with the
        // clustering, off the async workers. Only the input's copy stays here.
        let (ids, vectors, params) = (ids.to_vec(), vectors.to_vec(), self.params);
        let c = blocking(move || {
            check_shape(dim, &ids, &vectors)?;
            let mut c = Collection::new(dim);
            c.add(&ids, &vectors);
            c.refresh(params, 0);
            Ok::<_, Error>(c)
        })
        .await??;
        self.collections.write().insert(collection.clone(), Arc::new(RwLock::new(c)));
        Ok(())
    }

    async fn upsert(&self, collection: &VectorCollection, ids: &[String], vectors: &[f32]) -> Result<()> {
        let c = self.get(collection)?;
        check_shape(c.read().dim, ids, vectors)?;
        let (ids, vectors, params) = (ids.to_vec(), vectors.to_vec(), self.params);
        // Assigning to lists (or clustering again) is CPU work: off the async workers.
        blocking(move || {
            let mut c = c.write();
            let first_new = c.ids.len();
            c.add(&ids, &vectors);
            c.refresh(params, first_new);
        })
        .await
    }

    async fn remove(&self, collection: &VectorCollection, ids: &[String]) -> Result<()> {
        let c = self.get(collection)?;
        let (ids, params) = (ids.to_vec(), self.params);
        blocking(move || {
            let mut c = c.write();
            for id in &ids {
                if let Some(slot) = c.slot_of.remove(id) {
                    c.removed.insert(slot);
                }
            }
            let end = c.ids.len();
            c.refresh(params, end);
        })
        .await
    }

    async fn search(&self, collection: &VectorCollection, query: &[f32], k: usize) -> Result<Vec<(String, f32)>> {
        let c = self.get(collection)?;
        let c = c.read();
        if query.len() != c.dim {
            return Err(Error::invalid(
                Code::InvalidVectors,
                format!("query has dimension {}, the collection {}", query.len(), c.dim),
            ));
        }
        Ok(c.search(query, k, None))
    }

    async fn exists(&self, collection: &VectorCollection) -> Result<bool> {
        Ok(self.collections.read().contains_key(collection))
    }

    async fn drop_collection(&self, collection: &VectorCollection) -> Result<bool> {
        Ok(self.collections.write().remove(collection).is_some())
    }

    async fn drop_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<()> {
        self.collections.write().retain(|c, _| !(&c.tenant == tenant && &c.scenario == scenario));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n * dim).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    #[test]
    fn the_simd_kernel_equals_the_plain_dot_product_at_every_width() {
        for dim in [1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 64, 65, 100] {
            let rows = random(5, dim, dim as u64);
            let query = random(1, dim, 99);
            let mut out = vec![7.0];
            dots(&query, &rows, &mut out);
            assert_eq!(out.len(), 6, "appended after what was there");
            for (row, got) in rows.chunks_exact(dim).zip(&out[1..]) {
                let want: f32 = row.iter().zip(&query).map(|(a, b)| a * b).sum();
                assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "dim {dim}: {got} vs {want}");
            }
        }
    }

    fn collection(n: usize, dim: usize, params: IvfParams) -> Collection {
        let mut c = Collection::new(dim);
        let ids: Vec<String> = (0..n).map(|i| format!("i{i}")).collect();
        c.add(&ids, &random(n, dim, 1));
        c.refresh(params, 0);
        c
    }

    #[test]
    fn probing_every_list_is_the_exact_search_and_fewer_lists_stay_close() {
        let params = IvfParams { exact_below: 0, lists: 20, ..IvfParams::default() };
        let c = collection(2_000, 16, params);
        let partitions = c.partitions.as_ref().expect("partitioned");
        assert_eq!(partitions.ranges.len(), 20);
        // The lists cover every slot once, in order.
        let mut covered: Vec<(usize, usize)> = partitions.ranges.iter().copied().filter(|r| r.1 > r.0).collect();
        covered.sort();
        assert_eq!(covered.first().unwrap().0, 0);
        assert_eq!(covered.last().unwrap().1, 2_000);
        assert!(covered.windows(2).all(|w| w[0].1 == w[1].0), "{covered:?}");
        let mut found = 0;
        for query in random(50, 16, 7).chunks_exact(16) {
            let exact = c.exact(query, 10);
            assert_eq!(c.search(query, 10, Some(20)), exact);
            let approximate = c.search(query, 10, Some(5));
            found += approximate.iter().filter(|hit| exact.iter().any(|e| e.0 == hit.0)).count();
        }
        // Uniform random vectors are the hard case for a partition: 5 of 20 lists still find most.
        assert!(found > 250, "{found} of 500");
    }

    #[test]
    fn added_vectors_join_their_list_removed_ones_vanish_and_many_changes_rebuild() {
        let params = IvfParams { exact_below: 100, lists: 8, probe: 8, ..IvfParams::default() };
        let mut c = collection(1_000, 8, params);
        let built = c.partitions.as_ref().unwrap().built_with;
        // A vector far along one axis is the best answer to a query along it.
        let mut far = vec![0f32; 8];
        far[0] = 100.0;
        let first_new = c.ids.len();
        c.add(&["far".to_owned()], &far);
        c.refresh(params, first_new);
        assert_eq!(c.partitions.as_ref().unwrap().added_count, 1, "joined a list, no rebuild");
        let mut query = vec![0f32; 8];
        query[0] = 1.0;
        assert_eq!(c.search(&query, 1, None)[0].0, "far");
        // Replacing it tombstones the old slot: one answer for the id, the new vector's score.
        let first_new = c.ids.len();
        c.add(&["far".to_owned()], &[0.5f32; 8]);
        c.refresh(params, first_new);
        let hits = c.search(&query, 1_100, None);
        assert_eq!(hits.iter().filter(|h| h.0 == "far").count(), 1);
        assert_eq!(hits.iter().find(|h| h.0 == "far").unwrap().1, 0.5);
        // A quarter more vectors than at the build: clustered again, tombstones dropped.
        let ids: Vec<String> = (0..built / 4).map(|i| format!("new{i}")).collect();
        let first_new = c.ids.len();
        c.add(&ids, &random(ids.len(), 8, 5));
        c.refresh(params, first_new);
        let partitions = c.partitions.as_ref().unwrap();
        assert_eq!((partitions.added_count, partitions.built_with), (0, c.ids.len()));
        assert!(c.removed.is_empty());
        assert_eq!(c.search(&query, 1_300, None).len(), c.ids.len());
        // Below `exact_below` live vectors again: no partitions.
        for slot in 0..c.ids.len() - 50 {
            c.removed.insert(slot);
        }
        c.refresh(params, c.ids.len());
        assert!(c.partitions.is_none());
    }

    #[test]
    fn ties_keep_the_lower_slot_first() {
        let mut best = Best::new(2);
        for slot in [3, 1, 2] {
            best.push(1.0, slot);
        }
        assert_eq!(best.into_sorted(), [(1, 1.0), (2, 1.0)]);
    }
}
