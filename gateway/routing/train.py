"""Fitting the router: an IRT-like logistic model, trained with numpy alone.

    E[share of the premium's quality model m keeps on prompt x] = sigmoid(ability[m] + offset[set] - D(x))
    D(x) = words(x) . w + [z(x), pairwise products of z(x)] . v + e(x) . u
           z: the standardized text statistics; e: the prompt's unit MiniLM embedding (embedding router only)

One scalar per prompt and one per model keeps the router explainable ("difficulty 0.31; gpt-4o-mini adequacy
0.86 >= 0.80") and lets models seen in different data sets share one scale (Mixtral is in all four). The per-set
offset absorbs how harsh each set's judging protocol is and is used only here. Each (prompt, model) label is one
observation; every set gets a share of the total weight (n_prompts ** set_power), so 6,900 MMLU questions do not
drown 150 Arena prompts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from gateway.routing.data import LabelledSet
from gateway.routing.embedding import embedding_text
from gateway.routing.features import STAT_NAMES, PromptFeatures, extract, stat_vector, word_scale
from gateway.routing.names import canonical_model


# The shipped setting, chosen by 5-fold cross-validation inside the training split (bench/train_router.py --select).
@dataclass(frozen=True)
class TrainConfig:
    l2_words: float = 3e-4
    l2_stats: float = 1e-1
    min_df: int = 3
    max_vocab: int = 30000
    set_power: float = 0.25     # weight of a set ~ n_prompts ** set_power (0: equal sets, 1: equal prompts)
    use_words: bool = True
    use_stats: bool = True
    iterations: int = 1000      # L-BFGS iterations at most (it stops earlier, at convergence)
    binary_labels: bool = False  # learn P(keeps all of the premium's quality) instead of the expected share kept
    set_offsets: bool = True     # a calibration offset per set (judging protocols differ), used only in training
    interactions: bool = True    # pairwise products of the text statistics
    # Sets whose offsets calibrate the shipped abilities: absolute quality (correctness, 1-10 judge scores).
    # AlpacaEval's pairwise preference against GPT-4-Turbo, whose judge favours long answers, is far harsher.
    calibration_sets: tuple[str, ...] = ("mmlu", "gsm8k", "arena")
    # The embedding router: a weight per dimension of the prompt's 384-d unit embedding (what the prompt is about,
    # which the words see only through exact matches). Off for the word router.
    use_embedding: bool = False
    l2_embedding: float = 1e-3


# The embedding router's setting, chosen the same way (bench/train_router.py --router embedding --select).
EMBEDDING_CONFIG = TrainConfig(use_embedding=True, use_words=False, set_power=0.5, l2_embedding=3e-3)
CONFIGS = {"words": TrainConfig(), "embedding": EMBEDDING_CONFIG}


# texts -> (len(texts), dim) unit rows: the prompt embedder (cached vectors in benchmarks, the live model in serving)
Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Design:
    """Features of a list of prompts as a sparse word matrix (CSR) and a dense stats matrix."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    stats: np.ndarray
    embedding: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def word_dot(self, w: np.ndarray) -> np.ndarray:
        products = np.concatenate([w[self.indices] * self.values, [0.0]])
        sums = np.add.reduceat(products, np.minimum(self.indptr[:-1], len(products) - 1))
        return np.where(np.diff(self.indptr) > 0, sums, 0.0)

    def word_grad(self, g: np.ndarray, size: int) -> np.ndarray:
        return np.bincount(self.indices, weights=self.values * np.repeat(g, np.diff(self.indptr)), minlength=size)


def build_vocab(features: list[PromptFeatures], min_df: int, max_vocab: int) -> list[bytes]:
    df = Counter(word for f in features for word in f.words)
    words = [w for w, n in df.items() if n >= min_df]
    words.sort(key=lambda w: (-df[w], w))
    return words[:max_vocab]


def design(features: list[PromptFeatures], vocab: dict[bytes, int]) -> Design:
    indptr, indices, values = [0], [], []
    for f in features:
        hits = sorted(vocab[w] for w in f.words if w in vocab)  # sorted: float sums, hence training, reproducible
        indices.extend(hits)
        values.extend([word_scale(f)] * len(hits))
        indptr.append(len(indices))
    return Design(np.array(indptr), np.array(indices, dtype=np.int64), np.array(values),
                  np.array([f.stats for f in features], dtype=float).reshape(len(features), -1))


# AlpacaEval's FuseChat entries were annotated under another protocol: a 1B model "preferred to GPT-4-Turbo" on 30%
# of prompts, and uncertain preferences on 33-43% of prompts against at most 20% for all other 50+ models.
EXCLUDED_FROM_TRAINING = re.compile(r"^fusechat-")


@dataclass
class Observations:
    """(prompt row, model index, set index, label, weight) for every labelled non-premium pair."""

    rows: np.ndarray
    models: np.ndarray
    sets: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    model_names: list[str]
    set_names: list[str]


def observations(sets: list[LabelledSet], set_power: float,
                 binary: bool = False) -> tuple[list[str], Observations]:
    """All sets' prompts in one list and their labelled pairs; the premium (the reference) is not a pair."""
    prompts: list[str] = []
    names: dict[str, int] = {}
    rows, models, set_index, labels, weights = [], [], [], [], []
    for s, labelled in enumerate(sets):
        y = labelled.kept_share()
        if binary:
            y = np.where(np.isnan(y), np.nan, (y >= 1.0).astype(float))
        others = [j for j, m in enumerate(labelled.models)
                  if m != labelled.premium and not EXCLUDED_FROM_TRAINING.match(canonical_model(m))]
        per_prompt = (~np.isnan(y[:, others])).sum(1)
        share = len(labelled.prompts) ** set_power / max(1, int((per_prompt > 0).sum()))
        for i in range(len(labelled.prompts)):
            for j in others:
                if not np.isnan(y[i, j]):
                    rows.append(len(prompts) + i)
                    models.append(names.setdefault(canonical_model(labelled.models[j]), len(names)))
                    set_index.append(s)
                    labels.append(y[i, j])
                    weights.append(share / per_prompt[i])
        prompts.extend(labelled.prompts)
    w = np.array(weights)
    return prompts, Observations(np.array(rows), np.array(models), np.array(set_index), np.array(labels),
                                 w / w.sum(), list(names), [labelled.name for labelled in sets])


@dataclass
class Fitted:
    vocab: list[bytes]
    word_weights: np.ndarray
    stat_mean: np.ndarray
    stat_std: np.ndarray
    stat_weights: np.ndarray
    abilities: dict[str, float]
    offsets: dict[str, float]
    embedding_weights: np.ndarray | None = None


def fit(sets: list[LabelledSet], config: TrainConfig = TrainConfig(), embed: Embed | None = None) -> Fitted:
    """The optimum for `config`; `embed` (required when config.use_embedding) gives the prompts' vectors."""
    prompts, obs = observations(sets, config.set_power, config.binary_labels)
    features = [extract(p) for p in prompts]
    vocab = build_vocab(features, config.min_df, config.max_vocab) if config.use_words else []
    x = design(features, {w: i for i, w in enumerate(vocab)})
    if config.use_embedding:
        if embed is None:
            raise ValueError("config.use_embedding needs an embedder")
        x.embedding = np.asarray(embed([embedding_text(p) for p in prompts]), dtype=float)
    mean, std = x.stats.mean(0), x.stats.std(0) + 1e-6
    stats = stat_vector(x.stats, mean, std, config.interactions)
    stats = stats if config.use_stats else np.zeros_like(stats)
    w, v, u, a, o = _optimize(x, stats, obs, len(vocab), config)
    return Fitted(vocab, w, mean, std, v, dict(zip(obs.model_names, a.tolist())),
                  dict(zip(obs.set_names, o.tolist())), u if config.use_embedding else None)


def _optimize(x: Design, stats: np.ndarray, obs: Observations, vocab_size: int,
              config: TrainConfig) -> list[np.ndarray]:
    """Weighted cross-entropy with soft labels plus L2, minimized by L-BFGS. The problem is convex, so this finds
    its unique optimum: the result does not depend on a learning rate or on the order of float sums. Abilities and
    set offsets share one gauge; a tiny L2 on both pins it."""
    embedding = x.embedding if x.embedding is not None else np.zeros((x.rows, 0))
    sizes = [vocab_size, stats.shape[1], embedding.shape[1], len(obs.model_names), len(obs.set_names)]
    cuts = np.cumsum(sizes)[:-1]
    l2 = np.concatenate([np.full(sizes[0], config.l2_words), np.full(sizes[1], config.l2_stats),
                         np.full(sizes[2], config.l2_embedding), np.full(sizes[3] + sizes[4], 1e-5)])
    use_offsets = float(config.set_offsets)
    labels = np.clip(obs.labels, 1e-9, 1 - 1e-9)
    floor = float(obs.weights @ -(labels * np.log(labels) + (1 - labels) * np.log(1 - labels)))

    def loss_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, v, u, a, o = np.split(theta, cuts)
        logit = a[obs.models] + use_offsets * o[obs.sets] - (x.word_dot(w) + stats @ v + embedding @ u)[obs.rows]
        loss = float(obs.weights @ (np.logaddexp(0.0, logit) - obs.labels * logit)) - floor
        g_logit = obs.weights * (0.5 * (1.0 + np.tanh(0.5 * logit)) - obs.labels)
        g_difficulty = -np.bincount(obs.rows, weights=g_logit, minlength=x.rows)
        grad = np.concatenate([x.word_grad(g_difficulty, sizes[0]), stats.T @ g_difficulty,
                               embedding.T @ g_difficulty,
                               np.bincount(obs.models, weights=g_logit, minlength=sizes[3]),
                               use_offsets * np.bincount(obs.sets, weights=g_logit, minlength=sizes[4])])
        return loss + 0.5 * float(l2 @ (theta * theta)), grad + l2 * theta

    return np.split(lbfgs(loss_and_grad, np.zeros(sum(sizes)), config.iterations), cuts)


def lbfgs(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray, iterations: int,
          memory: int = 20, tolerance: float = 1e-9) -> np.ndarray:
    """Limited-memory BFGS with a backtracking (Armijo) line search; `fun` returns (value, gradient)."""
    value, grad = fun(theta)
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    for _ in range(iterations):
        direction = -grad
        alphas = []
        for s_k, y_k in reversed(list(zip(s_hist, y_hist))):
            alpha = (s_k @ direction) / (y_k @ s_k)
            direction = direction - alpha * y_k
            alphas.append(alpha)
        if s_hist:
            direction *= (s_hist[-1] @ y_hist[-1]) / (y_hist[-1] @ y_hist[-1])
        for (s_k, y_k), alpha in zip(zip(s_hist, y_hist), reversed(alphas)):
            direction = direction + s_k * (alpha - (y_k @ direction) / (y_k @ s_k))
        slope = float(grad @ direction)
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_hist.clear(), y_hist.clear()
            direction, slope = -grad, -float(grad @ grad)
        step = 1.0
        while True:
            candidate = theta + step * direction
            new_value, new_grad = fun(candidate)
            if new_value <= value + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s_k, y_k = candidate - theta, new_grad - grad
        if s_k @ y_k > 1e-12:
            s_hist.append(s_k)
            y_hist.append(y_k)
            if len(s_hist) > memory:
                s_hist.pop(0), y_hist.pop(0)
        improvement = value - new_value
        theta, value, grad = candidate, new_value, new_grad
        if improvement < tolerance * max(1.0, abs(value)) or float(np.abs(grad).max()) < 1e-8:
            break
    return theta


# A model the router has no data on takes its catalog tier's ability: the median ability of the built-in catalog's
# models of that tier that the training data covers (premium: a premium-priced GPT-4, the reference excepted).
# Today's economy models (GPT-4o-mini, GPT-4.1-nano) beat Mixtral on public benchmarks: a cautious stand-in.
TIER_ANCHORS = {
    "economy": ("mixtral-8x7b-instruct",),
    "standard": ("gpt-3.5-turbo-1106", "gpt-3.5-turbo"),
    "premium": ("gpt-4-0314",),
}


def to_params(fitted: Fitted, config: TrainConfig, reference: str, meta: dict, embedder: str | None = None) -> dict:
    """The shipped parameter file: abilities calibrated to the absolute-quality sets, near-zero words dropped;
    the embedding router's file also holds one weight per embedding dimension and the embedder they belong to."""
    calibration = [fitted.offsets[s] for s in config.calibration_sets if s in fitted.offsets]
    offset = float(np.mean(calibration)) if calibration else 0.0
    abilities = {m: round(a + offset, 4) for m, a in sorted(fitted.abilities.items())}
    tiers = {}
    for tier, anchors in TIER_ANCHORS.items():
        known = [abilities[m] for m in anchors if m in abilities]
        tiers[tier] = round(float(np.median(known)), 4) if known else None
    fallback = float(np.median(list(abilities.values()))) if abilities else 0.0
    tiers = {t: (a if a is not None else fallback) for t, a in tiers.items()}
    words = {w.decode(): round(float(v), 4) for w, v in zip(fitted.vocab, fitted.word_weights) if abs(v) >= 5e-4}
    params = {
        "format": 1,
        "reference": reference,
        "words": words,
        "stats": {"names": list(STAT_NAMES), "mean": fitted.stat_mean.round(6).tolist(),
                  "std": fitted.stat_std.round(6).tolist(), "interactions": config.interactions,
                  "weights": fitted.stat_weights.round(5).tolist()},
        "abilities": abilities,
        "tiers": tiers,
        "training": {**meta, "config": {k: v for k, v in config.__dict__.items()},
                     "set_offsets": {s: round(o, 4) for s, o in fitted.offsets.items()},
                     "calibration_offset": round(offset, 4),
                     "tier_anchors": {t: list(a) for t, a in TIER_ANCHORS.items()}},
    }
    if fitted.embedding_weights is not None:
        params["embedding"] = {"embedder": embedder, "weights": fitted.embedding_weights.round(5).tolist()}
    return params
