"""Fit the semantic-cache verifier on QQP's training split and ship its parameters.

    python bench/train_verifier.py                    # writes gateway/cache/verifier_params.json
    python bench/train_verifier.py --target 0.94      # aim for another out-of-fold precision

Only the 70% training split is read (bench/_qqp.py fixes the 30% held out by a salted hash). The L2 strength,
the cosine threshold and the minimum duplicate probability are chosen on 5-fold out-of-fold predictions inside
the training split: the setting with the most recall whose out-of-fold precision reaches --target. The held-out
rows are never seen here; bench/cache_eval.py reports on them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _qqp import REPO, default_pairs, load_pairs, pair_vectors  # noqa: E402

from gateway.cache.embedder import MODEL_DIR_ENV, EmbedderSettings, load_embedder  # noqa: E402
from gateway.cache.pair_features import FEATURES, RULES, PairFeatures, differences, parse  # noqa: E402
from gateway.cache.verifier import PARAMS_FILE, same_words  # noqa: E402

SHARED_MODEL = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2"
MIN_DF = 5  # Words seen in fewer training questions count as unseen (rare); keeps the shipped table small.
POOL_COSINE = 0.80  # Pairs below this are never accepted by any setting tried, so the model is fit above it.
THRESHOLDS = np.round(np.arange(0.80, 0.951, 0.01), 2)
L2_GRID = (0.1, 1.0, 10.0, 100.0)
FOLDS = 5


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 25) -> np.ndarray:
    """Newton's method (IRLS) with an L2 penalty on every weight but the bias."""
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -40, 40)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w


def best_operating_point(cos: np.ndarray, prob: np.ndarray, passed: np.ndarray, y: np.ndarray, positives: int,
                         target: float) -> dict[str, float]:
    """The (threshold, min_probability) with the most recall at precision >= target, over all candidate pairs."""
    best = {"recall": 0.0, "precision": 0.0, "threshold": 1.0, "min_probability": 1.0}
    for threshold in THRESHOLDS:
        keep = passed & (cos >= threshold)
        order = np.argsort(-prob[keep])
        hits = np.cumsum(y[keep][order])
        precision = hits / np.arange(1, len(hits) + 1)
        ok = np.flatnonzero(precision >= target)
        if len(ok) and hits[ok[-1]] / positives > best["recall"]:
            last = ok[-1]
            best = {"recall": hits[last] / positives, "precision": float(precision[last]),
                    "threshold": float(threshold), "min_probability": float(prob[keep][order][last])}
    return best


def word_rarity(texts: set[str]) -> tuple[dict[str, float], float]:
    """Inverse document frequency of content-word stems over the training questions, and the value for unseen."""
    counts: dict[str, int] = {}
    for text in texts:
        for word in parse(text).content:
            counts[word] = counts.get(word, 0) + 1
    total = len(texts) + 1
    idf = {w: round(math.log(total / (n + 1)), 2) for w, n in sorted(counts.items()) if n >= MIN_DF}
    return idf, round(math.log(total / MIN_DF), 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=Path, default=default_pairs())
    parser.add_argument("--target", type=float, default=0.92, help="out-of-fold precision to reach")
    parser.add_argument("--model-dir", default=os.environ.get(MODEL_DIR_ENV, str(SHARED_MODEL)),
                        help="MiniLM folder (default $GATEWAY_MODEL_DIR, else ../shared/models/all-MiniLM-L6-v2)")
    parser.add_argument("--out", type=Path, default=REPO / "gateway" / "cache" / PARAMS_FILE)
    args = parser.parse_args(argv)

    embedder = load_embedder(EmbedderSettings(kind="local", model_dir=args.model_dir))
    everything = load_pairs(args.pairs)
    va, vb = pair_vectors(everything, args.pairs, None, embedder)
    train = ~everything.held_out
    pairs = everything.subset(train)
    cos = np.einsum("ij,ij->i", va[train], vb[train])
    y_all = pairs.label.astype(float)
    positives = int(y_all.sum())
    pool = np.flatnonzero(cos >= POOL_COSINE)
    started = time.perf_counter()
    idf, unseen = word_rarity(set(pairs.a) | set(pairs.b))
    features = PairFeatures(idf, unseen)
    x = np.array([features.vector(pairs.a[i], pairs.b[i], float(cos[i])) for i in pool])
    rules = list(RULES)
    passed = ~np.array([bool(set(differences(parse(pairs.a[i]), parse(pairs.b[i]))) & set(rules)) for i in pool])
    y = y_all[pool]
    same = np.array([same_words(pairs.a[i], pairs.b[i]) for i in pool])
    print(f"{len(pairs.a)} training pairs, {positives} duplicates; {len(pool)} with cosine >= {POOL_COSINE}; "
          f"{(~passed).sum()} rejected by rules ({y[~passed].mean():.2f} of those are duplicates); "
          f"features in {time.perf_counter() - started:.1f}s")
    folds = np.random.default_rng(7).integers(0, FOLDS, len(pool))
    results = []
    for l2 in L2_GRID:
        oof = np.zeros(len(pool))
        for fold in range(FOLDS):
            w = fit_logistic(x[(folds != fold) & passed], y[(folds != fold) & passed], l2)
            oof[folds == fold] = 1.0 / (1.0 + np.exp(-x[folds == fold] @ w))
        oof[same] = 1.0  # The verifier accepts these without asking the model (verifier.same_words).
        point = best_operating_point(cos[pool], oof, passed, y, positives, args.target)
        results.append((point["recall"], l2, point))
        print(json.dumps({"l2": l2, **{k: round(v, 4) for k, v in point.items()}}))
    _, l2, point = max(results, key=lambda r: r[0])
    w = fit_logistic(x[passed], y[passed], l2)
    params = {"features": list(FEATURES), "weights": [round(float(v), 6) for v in w], "rules": rules,
              "threshold": point["threshold"], "min_probability": round(point["min_probability"], 4),
              "unseen_idf": unseen,
              "training": {"pairs": len(pairs.a), "l2": l2, "target_precision": args.target,
                           "out_of_fold": {k: round(v, 4) for k, v in point.items()}, "embedder": embedder.name,
                           "split": "held out: sha256('qqp-split-2026', a, b) bucket < 30 of 100, never read here"}}
    params["idf"] = idf  # Last, so the readable part of the file comes first.
    args.out.write_text(json.dumps(params, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"chose l2={l2}, threshold={point['threshold']}, min_probability={point['min_probability']:.3f}; "
          f"wrote {args.out}")
    print("weights: " + ", ".join(f"{f} {v:+.2f}" for f, v in zip(FEATURES, w)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
