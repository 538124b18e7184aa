"""ALS from the `implicit` package on exactly the split `polyrec eval --export-split` wrote,
scored with the same metrics (full ranking, seen items filtered, binary relevance).

    python bench/quality_implicit.py SPLIT_DIR [--k 10]
"""
import argparse
import math
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="Method expects CSR input")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from implicit.als import AlternatingLeastSquares  # noqa: E402
from implicit.nearest_neighbours import CosineRecommender  # noqa: E402


def read(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t")[:2] for line in f if line.strip()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("split")
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    train = read(os.path.join(args.split, "train.tsv"))
    test = read(os.path.join(args.split, "test.tsv"))
    users = sorted({u for u, _ in train} | {u for u, _ in test})
    items = sorted({i for _, i in train} | {i for _, i in test})
    uix = {u: n for n, u in enumerate(users)}
    iix = {i: n for n, i in enumerate(items)}
    rows = [uix[u] for u, _ in train]
    cols = [iix[i] for _, i in train]
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(items)))
    matrix.data[:] = 1.0  # repeated pairs count once
    truth = {}
    for u, i in test:
        truth.setdefault(uix[u], set()).add(iix[i])
    test_users = np.array(sorted(truth))

    models = {
        "implicit ALS (64 factors, 15 iterations)": AlternatingLeastSquares(
            factors=64, regularization=0.05, iterations=15, random_state=42
        ),
        "implicit item-item cosine (k=50)": CosineRecommender(K=50),
    }
    print(f"| model | precision@{args.k} | recall@{args.k} | NDCG@{args.k} | hit rate@{args.k} | coverage | users | fit s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, model in models.items():
        started = time.perf_counter()
        model.fit(matrix, show_progress=False)
        fit_s = time.perf_counter() - started
        ids, _ = model.recommend(test_users, matrix[test_users], N=args.k, filter_already_liked_items=True)
        p = r = ndcg = hit = 0.0
        seen = set()
        for user, recs in zip(test_users, ids):
            rel = truth[user]
            recs = [int(x) for x in recs if x >= 0]
            seen.update(recs)
            hits = [n for n, item in enumerate(recs) if item in rel]
            p += len(hits) / args.k
            r += len(hits) / len(rel)
            dcg = sum(1 / math.log2(n + 2) for n in hits)
            idcg = sum(1 / math.log2(n + 2) for n in range(min(len(rel), args.k)))
            ndcg += dcg / idcg
            hit += 1 if hits else 0
        n = len(test_users)
        print(f"| {name} | {p / n:.4f} | {r / n:.4f} | {ndcg / n:.4f} | {hit / n:.4f} | {len(seen) / len(items):.4f} | {n} | {fit_s:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
