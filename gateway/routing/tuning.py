"""Choosing the router's settings without touching the held-out split, and the cross-dataset check.

`cross_validate` fits on four fifths of the training split (folds by prompt hash) and scores the fifth, so every
training prompt is scored by a model that never saw it. The score of a setting is its mean gain over random routing
(saving at 90, 92.5, 95 and 97.5% of premium quality, router minus best random mix), averaged over the sets: one
number that rewards beating the baseline everywhere rather than excelling on the largest set.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np

from gateway.routing.data import REFERENCE_PREMIUM, LabelledSet, hash_bucket, is_test
from gateway.routing.evaluation import Problem, prepare, random_curve, router_curve, saving_at, summarize
from gateway.routing.prices import load_prices
from gateway.routing.quality import QualityRouter
from gateway.routing.train import Embed, TrainConfig, fit, to_params

GAIN_TARGETS = (0.90, 0.925, 0.95, 0.975)
# The settings each router variant chooses among. The embedding router keeps the word router's word and text-statistic
# penalties and chooses whether the words still help next to the embedding, the sets' weighting and the embedding's
# penalty.
GRIDS = {"words": {"set_power": (0.5, 0.25), "l2_words": (1e-4, 3e-4, 1e-3), "l2_stats": (1e-2, 1e-1)},
         "embedding": {"use_words": (False, True), "set_power": (0.25, 0.5), "l2_embedding": (3e-4, 1e-3, 3e-3)}}
DEFAULT_ANSWER_TOKENS = {"mmlu": 8}  # a letter and a few tokens of framing; other sets record their answers


def split(sets: dict[str, LabelledSet], test: bool) -> dict[str, LabelledSet]:
    return {name: s.subset(is_test(s.prompts) == test) for name, s in sets.items()}


def train_router(sets: dict[str, LabelledSet], config: TrainConfig, meta: dict | None = None,
                 embed: Embed | None = None) -> QualityRouter:
    params = to_params(fit(list(sets.values()), config, embed), config, REFERENCE_PREMIUM, meta or {})
    return QualityRouter(params, embed if config.use_embedding else None)


def problem_for(labelled: LabelledSet, data_root: Path, answer_tokens: int | None = None) -> Problem:
    """The set priced from the data folder; answers it does not record count `answer_tokens` (default per set)."""
    prices = load_prices(labelled.models, data_root)
    return prepare(labelled, prices, answer_tokens or DEFAULT_ANSWER_TOKENS.get(labelled.name, 256))


def router_adequacy(router: QualityRouter, problem: Problem, rows: np.ndarray | None = None) -> np.ndarray:
    prompts = problem.labelled.prompts if rows is None else [problem.labelled.prompts[i] for i in rows]
    premium = problem.models[problem.premium]
    return router.adequacy_matrix(prompts, list(zip(problem.models, problem.tiers)), premium)


def gain_over_random(problem: Problem, adequacy: np.ndarray) -> float:
    router, random = router_curve(problem, adequacy), random_curve(problem)
    gains = [(saving_at(router, problem, f) or 0.0) - (saving_at(random, problem, f) or 0.0) for f in GAIN_TARGETS]
    return float(np.mean(gains))


def cross_validate(train_sets: dict[str, LabelledSet], config: TrainConfig, data_root: Path,
                   folds: int = 5, embed: Embed | None = None) -> dict[str, float]:
    """Out-of-fold gain over random per set, inside the training split only."""
    problems = {name: problem_for(s, data_root) for name, s in train_sets.items()}
    fold_of = {name: np.array([hash_bucket(p) % folds for p in s.prompts]) for name, s in train_sets.items()}
    adequacy = {name: np.zeros(p.quality.shape) for name, p in problems.items()}
    for k in range(folds):
        router = train_router({n: s.subset(fold_of[n] != k) for n, s in train_sets.items()}, config, embed=embed)
        for name, problem in problems.items():
            rows = np.flatnonzero(np.array([hash_bucket(p) % folds == k for p in problem.labelled.prompts]))
            adequacy[name][rows] = router_adequacy(router, problem, rows)
    return {name: gain_over_random(problem, adequacy[name]) for name, problem in problems.items()}


def select(train_sets: dict[str, LabelledSet], data_root: Path, base: TrainConfig = TrainConfig(),
           log=print, grid: dict[str, tuple] = GRIDS["words"],
           embed: Embed | None = None) -> tuple[TrainConfig, list[dict]]:
    """The grid setting with the best mean out-of-fold gain over random."""
    results = []
    for values in itertools.product(*grid.values()):
        config = replace(base, **dict(zip(grid, values)))
        gains = cross_validate(train_sets, config, data_root, embed=embed)
        row = {**dict(zip(grid, values)), **{f"gain_{n}": round(g, 2) for n, g in gains.items()},
               "mean_gain": round(float(np.mean(list(gains.values()))), 2)}
        results.append(row)
        log(row)
    best = max(results, key=lambda r: r["mean_gain"])
    return replace(base, **{k: best[k] for k in grid}), results


def cross_dataset(sets: dict[str, LabelledSet], config: TrainConfig, data_root: Path,
                  embed: Embed | None = None) -> dict[str, dict]:
    """Leave one set out: train on the others' training split, report on the left-out set's held-out split."""
    train_sets, test_sets = split(sets, test=False), split(sets, test=True)
    report = {}
    for name in sets:
        router = train_router({n: s for n, s in train_sets.items() if n != name}, config, embed=embed)
        problem = problem_for(test_sets[name], data_root)
        report[name] = summarize(problem, router_curve(problem, router_adequacy(router, problem)))
    return report
