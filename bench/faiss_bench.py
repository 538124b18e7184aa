"""faiss on the vectors `examples/vector_bench.rs` wrote (the reference rows of its table).

    python bench/faiss_bench.py DIR DIM K

DIR holds base.f32, queries.f32 (little-endian float32, row-major) and truth.f32 (the exact top K
of each query as float32 row numbers, from polyrec's exact scan). Every index runs on one thread
(omp_set_num_threads(1)) and answers the queries one at a time, as the Rust side does; recall@K
is against the same truth. Prints Markdown table rows.
"""

import sys
import time

import faiss
import numpy as np


def main():
    directory, dim, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    base = np.fromfile(f"{directory}/base.f32", dtype="<f4").reshape(-1, dim)
    queries = np.fromfile(f"{directory}/queries.f32", dtype="<f4").reshape(-1, dim)
    truth = np.fromfile(f"{directory}/truth.f32", dtype="<f4").reshape(len(queries), k).astype(np.int64)
    faiss.omp_set_num_threads(1)

    def measure(name, index, build):
        started = time.perf_counter()
        found = 0
        for q, t in zip(queries, truth):
            _, ids = index.search(q.reshape(1, -1), k)
            found += len(set(ids[0].tolist()) & set(t.tolist()))
        qps = len(queries) / (time.perf_counter() - started)
        print(f"| faiss {name} | {build:.1f} | {found / (len(queries) * k):.3f} | {qps:.0f} |", flush=True)

    flat = faiss.IndexFlatIP(dim)
    flat.add(base)
    measure("exact (IndexFlatIP)", flat, 0.0)

    started = time.perf_counter()
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, 256, faiss.METRIC_INNER_PRODUCT)
    ivf.train(base)
    ivf.add(base)
    build = time.perf_counter() - started
    for nprobe in (8, 16, 32):
        ivf.nprobe = nprobe
        measure(f"IVF-Flat (nlist 256, nprobe {nprobe})", ivf, build)

    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 200
    hnsw.add(base)
    build = time.perf_counter() - started
    for ef in (256, 512):
        hnsw.hnsw.efSearch = ef
        measure(f"HNSW (M 32, ef {ef})", hnsw, build)


if __name__ == "__main__":
    main()
