"""Reference implementations to check polyrec's models against, on the same data and metrics.

    python bench/reference_models.py recall SPLIT_DIR [--factors 64] [--regularization 0.05]
        [--iterations 15] [--alpha 1.0] [--ease-lambda 500] [--threads 2] [--k 10] [--json]
    python bench/reference_models.py gbdt DATA_DIR [--threads 2] [--json]

Runs in the venv that bench/reference-requirements.txt describes:

    python3 -m venv /var/tmp/polyrec-quality-venv
    /var/tmp/polyrec-quality-venv/bin/pip install --only-binary :all: -r bench/reference-requirements.txt

recall
    Reads SPLIT_DIR/train.csv and SPLIT_DIR/test.csv (header user_id,item_id,rating,timestamp; ids
    are strings). Every train row is a positive (value 1; repeated pairs count once). Fits
      implicit_als  implicit.cpu.als.AlternatingLeastSquares on the binary user x item matrix.
                    Note that implicit 0.7 takes the matrix values as the confidence itself
                    (c_ui = alpha * value for observed pairs, 1 for the rest), not 1 + alpha * value:
                    with a binary matrix and alpha = 1 every pair weighs the same.
                    `--als-confidence one-plus-alpha` passes 1 + alpha instead (and alpha 1 to the
                    model), which is Hu, Koren & Volinsky's c_ui = 1 + alpha * r.
      numpy_ease    EASE (Steck 2019): G = X'X + lambda I, P = G^-1, B = -P / diag(P), diag(B) = 0,
                    scores = X B.
      numpy_dlae    EDLAE (Steck 2020): as EASE with G = X'X + lambda I + p / (1 - p) diagMat(diag(X'X))
                    (--dlae-lambda, --dlae-dropout p).
    and ranks, for every user with at least one test item, the whole catalog (items of train and
    test), the user's train items excluded; metrics at k averaged over those users: precision,
    recall, binary nDCG (IDCG over min(k, |test|) hits), MAP (sum of precision@r at hits over
    min(k, |test|)), and catalog coverage. fit_seconds is wall time of the fit alone.

    The ALS fit runs with BLAS limited to one thread (implicit's own advice: its solver calls BLAS
    from `threads` OpenMP threads already); EASE runs with `threads` BLAS threads.

gbdt
    Reads DATA_DIR/ctr_train.csv and DATA_DIR/ctr_test.csv (header label,<features>; numeric;
    empty = missing) and DATA_DIR/ctr_meta.json {"categorical": [...], "params": {...}}; trains
    lightgbm.train(params + num_threads, Dataset(..., categorical_feature=...),
    num_boost_round=params["num_iterations"]) and reports test AUC (ties get average ranks),
    log loss (probabilities clipped to [1e-15, 1 - 1e-15]) and fit_seconds (lightgbm.train, which
    includes building the Dataset's bins). LightGBM's log goes to stderr.
"""
import argparse
import csv
import json
import math
import os
import sys
import time
import warnings


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    recall = sub.add_parser("recall", help="implicit ALS and numpy EASE, full-ranking top-k metrics")
    recall.add_argument("split_dir")
    recall.add_argument("--factors", type=int, default=64)
    recall.add_argument("--regularization", type=float, default=0.05)
    recall.add_argument("--iterations", type=int, default=15)
    recall.add_argument("--alpha", type=float, default=1.0)
    recall.add_argument(
        "--als-confidence",
        choices=("alpha", "one-plus-alpha"),
        default="alpha",
        help="alpha: pass the binary matrix and alpha to implicit (c = alpha for positives); "
        "one-plus-alpha: pass 1 + alpha as the values and alpha 1 (c = 1 + alpha)",
    )
    recall.add_argument("--ease-lambda", type=float, default=500.0)
    recall.add_argument("--dlae-lambda", type=float, default=100.0)
    recall.add_argument("--dlae-dropout", type=float, default=1.0 / 3.0)
    recall.add_argument("--threads", type=int, default=2)
    recall.add_argument(
        "--tune",
        action="store_true",
        help="also tune implicit ALS, EASE and DLAE: the candidates polyrec searches "
        "(polyrec_models::tune), each fitted on a per-user 80 %% of train and ranked by NDCG@k on "
        "the other 20 %% (numpy seed 4242), the best refitted on train (rows *_tuned)",
    )
    recall.add_argument("--k", type=int, default=10)
    recall.add_argument("--json", action="store_true")

    gbdt = sub.add_parser("gbdt", help="LightGBM (Python package) AUC and log loss")
    gbdt.add_argument("data_dir")
    gbdt.add_argument("--threads", type=int, default=2)
    gbdt.add_argument("--json", action="store_true")

    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.command == "recall" and args.k < 1:
        parser.error("--k must be at least 1")
    return args


def fail(message):
    sys.exit(f"reference_models: {message}")


def set_thread_env(threads):
    """Must run before numpy (and so any BLAS) is imported."""
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        os.environ[name] = str(threads)


def report_blas():
    import numpy as np
    import threadpoolctl

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        built = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older numpy: no mode="dicts"
        built = "unknown"
    loaded = ", ".join(
        f"{i['internal_api']} {i.get('version')} ({i.get('threading_layer')}, {i['num_threads']} threads, "
        f"{os.path.basename(i['filepath'])})"
        for i in threadpoolctl.threadpool_info()
        if i["user_api"] == "blas"
    )
    print(f"reference_models: numpy {np.__version__}, built with BLAS {built}; loaded: {loaded}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# recall


def read_pairs(path):
    if not os.path.isfile(path):
        fail(f"{path} does not exist")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["user_id", "item_id"]:
            fail(f"{path}: expected a header starting user_id,item_id, got {header}")
        pairs = []
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < 2:
                fail(f"{path}:{lineno}: fewer than two fields")
            pairs.append((row[0], row[1]))
    return pairs


def rank_and_score(score_rows, train, truth, test_users, k, n_items):
    """score_rows(users) -> dense scores (len(users) x n_items). Returns the metrics."""
    import numpy as np

    sums = {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "map": 0.0}
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recommended = np.zeros(n_items, dtype=bool)
    batch = 1024
    for start in range(0, len(test_users), batch):
        users = test_users[start : start + batch]
        scores = np.array(score_rows(users), dtype=np.float64, copy=True)
        seen = train[users]
        rows = np.repeat(np.arange(len(users)), np.diff(seen.indptr))
        scores[rows, seen.indices] = -np.inf
        # Descending score, ties to the lower item index (a stable sort of the negated scores).
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        for row, user in enumerate(users):
            ranked = [i for i in top[row] if scores[row, i] != -np.inf]
            recommended[ranked] = True
            relevant = truth[user]
            hit = np.array([i in relevant for i in ranked], dtype=bool)
            hits = int(hit.sum())
            ideal = min(k, len(relevant))
            sums["precision"] += hits / k
            sums["recall"] += hits / len(relevant)
            sums["ndcg"] += float(discounts[: len(hit)][hit].sum()) / float(discounts[:ideal].sum())
            if hits:
                precision_at = np.cumsum(hit) / np.arange(1, len(hit) + 1)
                sums["map"] += float(precision_at[hit].sum()) / ideal
    n = len(test_users)
    return {
        f"precision@{k}": sums["precision"] / n,
        f"recall@{k}": sums["recall"] / n,
        f"ndcg@{k}": sums["ndcg"] / n,
        f"map@{k}": sums["map"] / n,
        "coverage": float(recommended.sum()) / n_items,
    }


def run_recall(args):
    import numpy as np
    import scipy.sparse as sp
    import threadpoolctl

    report_blas()
    train_pairs = read_pairs(os.path.join(args.split_dir, "train.csv"))
    test_pairs = read_pairs(os.path.join(args.split_dir, "test.csv"))
    if not train_pairs:
        fail("train.csv has no rows")
    users = sorted({u for u, _ in train_pairs} | {u for u, _ in test_pairs})
    items = sorted({i for _, i in train_pairs} | {i for _, i in test_pairs})
    uix = {u: n for n, u in enumerate(users)}
    iix = {i: n for n, i in enumerate(items)}
    rows = np.fromiter((uix[u] for u, _ in train_pairs), dtype=np.int32, count=len(train_pairs))
    cols = np.fromiter((iix[i] for _, i in train_pairs), dtype=np.int32, count=len(train_pairs))
    train = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(items))
    )
    train.sum_duplicates()
    train.data[:] = 1.0  # repeated pairs count once
    truth = {}
    for u, i in test_pairs:
        truth.setdefault(uix[u], set()).add(iix[i])
    test_users = np.array(sorted(truth), dtype=np.int64)
    if len(test_users) == 0:
        fail("test.csv has no rows")
    print(
        f"reference_models: {len(users)} users, {len(items)} items, {train.nnz} train positives, "
        f"{len(test_pairs)} test rows, {len(test_users)} users scored",
        file=sys.stderr,
    )

    results = {}

    # --- implicit ALS (CPU model explicitly; BLAS single-threaded inside, see the module doc)
    from implicit.cpu.als import AlternatingLeastSquares

    if args.als_confidence == "alpha":
        als_matrix, als_alpha = train, args.alpha
    else:
        als_matrix, als_alpha = train.copy(), 1.0
        als_matrix.data[:] = 1.0 + args.alpha
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        model = AlternatingLeastSquares(
            factors=args.factors,
            regularization=args.regularization,
            alpha=als_alpha,
            iterations=args.iterations,
            num_threads=args.threads,
            random_state=42,
            calculate_training_loss=False,
        )
        started = time.perf_counter()
        model.fit(als_matrix, show_progress=False)
        als_seconds = time.perf_counter() - started
    user_factors = np.asarray(model.user_factors, dtype=np.float64)
    item_factors = np.asarray(model.item_factors, dtype=np.float64)
    results["implicit_als"] = rank_and_score(
        lambda us: user_factors[us] @ item_factors.T, train, truth, test_users, args.k, len(items)
    )
    results["implicit_als"]["fit_seconds"] = als_seconds

    # --- EASE and EDLAE in numpy (BLAS with --threads threads, as set in the environment): one
    # closed form, B = -P / diag(P) with a zero diagonal, P = (X'X + diagonal)^-1
    x = train.astype(np.float64)

    def closed_form(name, diagonal):
        started = time.perf_counter()
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += diagonal(np.diag(gram))
        p = np.linalg.inv(gram)
        b = p / (-np.diag(p))
        b[np.diag_indices_from(b)] = 0.0
        seconds = time.perf_counter() - started
        results[name] = rank_and_score(lambda us: x[us] @ b, train, truth, test_users, args.k, len(items))
        results[name]["fit_seconds"] = seconds

    closed_form("numpy_ease", lambda counts: args.ease_lambda)
    emphasis = args.dlae_dropout / (1.0 - args.dlae_dropout)
    closed_form("numpy_dlae", lambda counts: args.dlae_lambda + emphasis * counts)

    if args.tune:
        tune(args, train, truth, test_users, len(items), results)

    if args.json:
        print(json.dumps({"models": results}))
    else:
        k = args.k
        keys = [f"precision@{k}", f"recall@{k}", f"ndcg@{k}", f"map@{k}", "coverage", "fit_seconds"]
        print("| model | " + " | ".join(keys) + " |")
        print("|---" * (len(keys) + 1) + "|")
        for name, metrics in results.items():
            print(f"| {name} | " + " | ".join(f"{metrics[key]:.4f}" for key in keys) + " |")


def tune(args, train, truth, test_users, n_items, results):
    """The tuned rows: polyrec's candidate lists, searched on a validation split of train."""
    import numpy as np
    import scipy.sparse as sp
    import threadpoolctl
    from implicit.cpu.als import AlternatingLeastSquares

    # Per user, 20 % of the training items (at least one kept for training) are the validation set.
    rng = np.random.RandomState(4242)
    fit_rows, val_truth = [], {}
    for u in range(train.shape[0]):
        row = train.indices[train.indptr[u] : train.indptr[u + 1]]
        if len(row) == 0:
            continue
        order = rng.permutation(len(row))
        n_val = min(int(round(0.2 * len(row))), len(row) - 1)
        for n, j in enumerate(order):
            if n < n_val:
                val_truth.setdefault(u, set()).add(int(row[j]))
            else:
                fit_rows.append((u, int(row[j])))
    r = np.array([u for u, _ in fit_rows], dtype=np.int32)
    c = np.array([i for _, i in fit_rows], dtype=np.int32)
    fit = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=train.shape)
    val_users = np.array(sorted(val_truth), dtype=np.int64)
    ndcg = f"ndcg@{args.k}"

    def als(matrix, factors, regularization, alpha):
        with threadpoolctl.threadpool_limits(1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=factors, regularization=regularization, alpha=alpha, iterations=15,
                num_threads=args.threads, random_state=42, calculate_training_loss=False,
            )
            model.fit(matrix, show_progress=False)
        uf = np.asarray(model.user_factors, dtype=np.float64)
        vf = np.asarray(model.item_factors, dtype=np.float64)
        return lambda us: uf[us] @ vf.T

    def closed(matrix, lam, dropout):
        x = matrix.astype(np.float64)
        gram = (x.T @ x).toarray()
        emphasis = dropout / (1.0 - dropout)
        gram[np.diag_indices_from(gram)] += lam + emphasis * np.diag(gram)
        p = np.linalg.inv(gram)
        b = p / (-np.diag(p))
        b[np.diag_indices_from(b)] = 0.0
        return lambda us: x[us] @ b

    def search(name, candidates, make):
        started = time.perf_counter()
        trials = []
        for params in candidates:
            score = make(fit, *params)
            trials.append((rank_and_score(score, fit, val_truth, val_users, args.k, n_items)[ndcg], params))
        best = max(trials, key=lambda t: t[0])[1]
        row = rank_and_score(make(train, *best), train, truth, test_users, args.k, n_items)
        row["fit_seconds"] = time.perf_counter() - started
        row["chosen"] = list(best)
        row["trials"] = len(trials)
        results[name] = row
        print(f"reference_models: {name} chose {best} of {len(trials)}", file=sys.stderr)

    # polyrec_models::tune's lists, the defaults first.
    als_candidates = [(64, 0.05, 1.0)] + [
        (f, r, a) for f in (32, 64, 128) for r in (0.05, 1.0, 10.0) for a in (1.0, 5.0, 20.0)
        if (f, r, a) != (64, 0.05, 1.0)
    ]
    search("implicit_als_tuned", als_candidates, als)
    ease_candidates = [(lam, 0.0) for lam in (500.0, 50.0, 100.0, 200.0, 1000.0, 2000.0, 5000.0)]
    search("numpy_ease_tuned", ease_candidates, closed)
    dlae_candidates = [(100.0, 1.0 / 3.0)] + [
        (lam, p) for p in (0.1, 0.25, 1.0 / 3.0, 0.5) for lam in (10.0, 50.0, 100.0, 250.0, 500.0)
        if (lam, p) != (100.0, 1.0 / 3.0)
    ]
    search("numpy_dlae_tuned", dlae_candidates, closed)


# ---------------------------------------------------------------------------------------------
# gbdt


def read_numeric_csv(path):
    import numpy as np

    if not os.path.isfile(path):
        fail(f"{path} does not exist")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[0].strip() != "label":
            fail(f"{path}: expected a header starting with label, got {header}")
        header = [h.strip() for h in header]
        nan = float("nan")
        values = []
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                fail(f"{path}:{lineno}: {len(row)} fields, the header has {len(header)}")
            try:
                values.append([float(v) if v.strip() else nan for v in row])
            except ValueError as error:
                fail(f"{path}:{lineno}: {error}")
    data = np.array(values, dtype=np.float64).reshape(len(values), len(header))
    labels = data[:, 0]
    if np.isnan(labels).any() or not np.isin(labels, (0.0, 1.0)).all():
        fail(f"{path}: every label must be 0 or 1")
    return header[1:], data[:, 1:], labels


def auc_score(labels, scores):
    """Mann-Whitney AUC; tied scores share their average rank (so a tie counts one half)."""
    import numpy as np

    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    # start of each run of equal scores, and its length
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    lengths = np.diff(np.append(starts, len(ordered)))
    average = starts + (lengths + 1) / 2.0  # 1-based average rank of each run
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.repeat(average, lengths)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def log_loss(labels, probabilities):
    import numpy as np

    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-15, 1 - 1e-15)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def run_gbdt(args):
    import lightgbm

    report_blas()
    # LightGBM logs through Python's print by default: send it to stderr so stdout stays JSON.
    class StderrLogger:
        def info(self, message):
            print(message, file=sys.stderr)

        def warning(self, message):
            print(message, file=sys.stderr)

    lightgbm.register_logger(StderrLogger())

    meta_path = os.path.join(args.data_dir, "ctr_meta.json")
    if not os.path.isfile(meta_path):
        fail(f"{meta_path} does not exist")
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    if not isinstance(meta.get("params"), dict):
        fail(f'{meta_path}: no "params" object')
    categorical = list(meta.get("categorical", []))
    params = dict(meta["params"])
    if "num_iterations" not in params:
        fail(f'{meta_path}: params has no "num_iterations"')
    params["num_threads"] = args.threads

    names, train_x, train_y = read_numeric_csv(os.path.join(args.data_dir, "ctr_train.csv"))
    test_names, test_x, test_y = read_numeric_csv(os.path.join(args.data_dir, "ctr_test.csv"))
    if test_names != names:
        fail("ctr_train.csv and ctr_test.csv have different headers")
    unknown = [c for c in categorical if c not in names]
    if unknown:
        fail(f"categorical feature(s) not in the header: {', '.join(unknown)}")

    dataset = lightgbm.Dataset(
        train_x, label=train_y, feature_name=names, categorical_feature=categorical, free_raw_data=False
    )
    started = time.perf_counter()  # Dataset is lazy: train() builds the bins, so they are timed
    booster = lightgbm.train(params, dataset, num_boost_round=int(params["num_iterations"]))
    fit_seconds = time.perf_counter() - started
    predictions = booster.predict(test_x, num_threads=args.threads)

    result = {
        "lightgbm_python": {
            "auc": auc_score(test_y, predictions),
            "logloss": log_loss(test_y, predictions),
            "fit_seconds": fit_seconds,
        }
    }
    if args.json:
        print(json.dumps(result))
    else:
        r = result["lightgbm_python"]
        print(f"lightgbm {lightgbm.__version__}: {len(train_y)} train rows, {len(test_y)} test rows, "
              f"{len(names)} features ({len(categorical)} categorical)")
        print(f"  AUC {r['auc']:.6f}  log loss {r['logloss']:.6f}  fit {r['fit_seconds']:.3f} s")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    set_thread_env(args.threads)
    warnings.filterwarnings("ignore", message="Method expects CSR input")
    if args.command == "recall":
        run_recall(args)
    else:
        run_gbdt(args)


if __name__ == "__main__":
    main()
