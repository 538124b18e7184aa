"""Upper bounds on the quality split: EASE, EDLAE and a tuned implicit ALS on the training part,
and blends of their per-user z-normalised scores with the weight chosen on the *test* part
itself — what no blend fitted without the test can beat; and EDLAE with its dropout and λ chosen
on the test part itself (dropout 0 is EASE) — what no search on a validation split can beat.
Same metric as reference_models.py (NDCG@10, full ranking, training items excluded).

    python bench/blend_bound.py OUT/split     # the split polyrec eval --export-split wrote
"""

import sys

import numpy as np
import scipy.sparse as sp
import threadpoolctl

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import reference_models as rm  # noqa: E402


def main(split_dir):
    train_pairs = rm.read_pairs(f"{split_dir}/train.csv")
    test_pairs = rm.read_pairs(f"{split_dir}/test.csv")
    users = sorted({u for u, _ in train_pairs} | {u for u, _ in test_pairs})
    items = sorted({i for _, i in train_pairs} | {i for _, i in test_pairs})
    uix = {u: n for n, u in enumerate(users)}
    iix = {i: n for n, i in enumerate(items)}
    rows = np.array([uix[u] for u, _ in train_pairs])
    cols = np.array([iix[i] for _, i in train_pairs])
    train = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(items)))
    train.sum_duplicates()
    train.data[:] = 1.0
    truth = {}
    for u, i in test_pairs:
        truth.setdefault(uix[u], set()).add(iix[i])
    test_users = np.array(sorted(truth))
    x = train.astype(np.float64).toarray()

    def closed(lam, dropout=0.0):
        gram = x.T @ x
        gram[np.diag_indices_from(gram)] += lam + dropout / (1 - dropout) * np.diag(gram)
        p = np.linalg.inv(gram)
        b = p / (-np.diag(p))
        np.fill_diagonal(b, 0.0)
        return x @ b

    def ndcg(scores):
        return rm.rank_and_score(lambda us: scores[us], train, truth, test_users, 10, len(items))["ndcg@10"]

    def z(scores):
        scores = scores.copy()
        scores[x > 0] = np.nan
        scores = (scores - np.nanmean(scores, 1, keepdims=True)) / np.nanstd(scores, 1, keepdims=True)
        scores[np.isnan(scores)] = -1e9
        return scores

    from implicit.cpu.als import AlternatingLeastSquares

    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        als = AlternatingLeastSquares(factors=32, regularization=10.0, alpha=1.0, iterations=15,
                                      random_state=42, calculate_training_loss=False)
        als.fit(train, show_progress=False)
    models = {
        "ease (λ 500)": closed(500.0),
        "edlae (λ 500, dropout 0.5)": closed(500.0, 0.5),
        "implicit ALS (32 f, λ 10, α 1)": np.asarray(als.user_factors) @ np.asarray(als.item_factors).T,
    }
    for name, scores in models.items():
        print(f"{name}: {ndcg(scores):.4f}")
    ease, edlae, als_scores = (z(s) for s in models.values())
    grid = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0]
    for name, other in [("implicit ALS", als_scores), ("edlae", edlae)]:
        best = max((ndcg(ease + w * other), w) for w in grid)
        print(f"best blend on the test itself, ease + w × {name} (z-scores, w in {grid}): {best[0]:.4f} at w = {best[1]}")
    best = max((ndcg(ease + w * als_scores + v * edlae), w, v) for w in grid for v in grid)
    print(f"best three-way blend on the test itself: {best[0]:.4f} at w_als = {best[1]}, w_edlae = {best[2]}")
    dropouts = [0.0, 0.05, 0.1, 0.2, 0.25, 1 / 3, 0.4, 0.5, 0.6, 2 / 3, 0.75]
    lambdas = [10.0, 50.0, 100.0, 200.0, 300.0, 500.0, 750.0, 1000.0, 1500.0]
    best = max((ndcg(closed(lam, p)), lam, p) for p in dropouts for lam in lambdas)
    print(
        f"best EDLAE on the test itself ({len(dropouts)} dropouts 0–0.75 × {len(lambdas)} λ 10–1,500; "
        f"dropout 0 is EASE): {best[0]:.4f} at λ {best[1]:g}, dropout {best[2]:.3g}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
