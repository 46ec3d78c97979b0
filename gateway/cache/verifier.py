"""The check after the nearest-neighbour search: is the cached question really the same question?

A cosine threshold alone cannot be both safe and useful: at 0.90 a fifth of MiniLM's QQP matches are look-alikes
("how do I gain weight" / "how do I lose weight"). The verifier runs two transparent stages on a candidate that
passed the threshold. First, hard rules reject any pair whose questions differ in a way that changes the answer
(negation, opposite words, numbers, names, units or currencies, requested format or language, the question word);
each is listed in gateway/cache/pair_features.py and named in the verdict. Second, a logistic model over readable
features (cosine, content-word overlap, how many words each side adds) estimates the chance that the pair is a
duplicate; it was fitted on the training part of QQP by bench/train_verifier.py and ships as verifier_params.json.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from gateway.cache.alignment import AlignmentModel
from gateway.cache.alignment import load_default as alignment_model
from gateway.cache.pair_features import FEATURES, RULES, PairFeatures, differences, parse

PARAMS_FILE = "verifier_params.json"


@dataclass(frozen=True)
class Verdict:
    """Whether to serve the cached answer, and why (shown in logs and the evaluate endpoint)."""

    accepted: bool
    reason: str
    family: str = "accepted"  # a bounded label for metrics: threshold, a rule family, or model


@dataclass(frozen=True)
class PairModel:
    """Logistic regression over FEATURES: p(duplicate) = sigmoid(w . x)."""

    weights: tuple[float, ...]
    min_probability: float
    features: PairFeatures

    def probability(self, query: str, cached: str, similarity: float) -> float:
        z = sum(w * x for w, x in zip(self.weights, self.features.vector(query, cached, similarity)))
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


def same_words(query: str, cached: str) -> bool:
    """The same words in the same order once case, punctuation and contractions are normalised.

    Such a pair is the same question written twice. The model has no word evidence about it; its probability
    only tracks the cosine, and cutting there rejects "What's the best way..." against "What is the best way...".
    """
    return parse(query).words == parse(cached).words


class Verifier:
    """Threshold, then hard rules, then a duplicate-probability model: the alignment model when both questions'
    token states are at hand (the local embedder gives them), else the logistic model over readable features."""

    def __init__(self, threshold: float, model: PairModel | None = None, rules: frozenset[str] | None = None,
                 alignment: AlignmentModel | None = None) -> None:
        self.threshold = threshold
        self.model = model
        self.rules = rules if rules is not None else frozenset(RULES)
        self.alignment = alignment

    @classmethod
    def load_default(cls) -> Verifier:
        """The shipped configuration: the thresholds, rules and models chosen on QQP's training split."""
        text = resources.files("gateway.cache").joinpath(PARAMS_FILE).read_text(encoding="utf-8")
        verifier = cls.from_params(json.loads(text))
        verifier.alignment = alignment_model()
        return verifier

    def search_threshold(self, with_tokens: bool) -> float:
        """The lowest similarity worth verifying: the alignment model reads further down than the logistic one."""
        return self.alignment.min_similarity if with_tokens and self.alignment is not None else self.threshold

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Verifier:
        if list(params["features"]) != list(FEATURES):
            raise ValueError(f"{PARAMS_FILE} was trained on other features; rerun bench/train_verifier.py")
        features = PairFeatures({w: float(v) for w, v in params["idf"].items()}, float(params["unseen_idf"]))
        model = PairModel(tuple(float(w) for w in params["weights"]), float(params["min_probability"]), features)
        return cls(float(params["threshold"]), model, frozenset(params["rules"]))

    def screen(self, query: str, cached: str, similarity: float, with_tokens: bool) -> Verdict | None:
        """The rejections that need only the two questions (threshold, hard rules), or None: the semantic cache asks
        this before it fetches a candidate's answer and token states, so a look-alike costs no Redis round trip."""
        threshold = self.search_threshold(with_tokens)
        if similarity < threshold:
            return Verdict(False, f"similarity {similarity:.3f} below threshold {threshold:.3f}", "threshold")
        found = differences(parse(query), parse(cached))
        for family in RULES:
            if family in found and family in self.rules:
                return Verdict(False, f"{family}: {found[family]}", family)
        return None

    def aligned_probability(self, query: str, cached: str, similarity: float,
                            tokens: tuple[np.ndarray, np.ndarray]) -> float:
        """The alignment model's p(duplicate): the token states, the cosine and the word features it was trained on."""
        return self.alignment.probability(tokens[0], tokens[1], similarity, self.lexical(query, cached))

    def lexical(self, query: str, cached: str) -> list[float]:
        """The word-level features the alignment model was trained with, if any (from the logistic model's IDF)."""
        if not self.alignment.lexical_inputs:
            return []
        if self.model is None:
            raise ValueError("the alignment model reads word features; it needs the logistic model's word rarities")
        return self.model.features.lexical(query, cached)

    def check(self, query: str, cached: str, similarity: float,
              tokens: tuple[np.ndarray, np.ndarray] | None = None) -> Verdict:
        """Accept only when the similarity reaches the threshold and nothing says the questions differ.

        `tokens` are the two questions' per-token states (query's, cached's), for the alignment model."""
        screened = self.screen(query, cached, similarity, tokens is not None)
        if screened is not None:
            return screened
        if same_words(query, cached):
            return Verdict(True, f"similarity {similarity:.3f}, the same words")
        if tokens is not None and self.alignment is not None:
            p = self.aligned_probability(query, cached, similarity, tokens)
            if p < self.alignment.min_probability:
                cut = self.alignment.min_probability
                return Verdict(False, f"alignment: duplicate probability {p:.2f} below {cut:.2f}", "model")
            return Verdict(True, f"similarity {similarity:.3f}, aligned duplicate probability {p:.2f}")
        if self.model is not None:
            p = self.model.probability(query, cached, similarity)
            if p < self.model.min_probability:
                cut = self.model.min_probability
                return Verdict(False, f"model: duplicate probability {p:.2f} below {cut:.2f}", "model")
            return Verdict(True, f"similarity {similarity:.3f}, duplicate probability {p:.2f}")
        return Verdict(True, f"similarity {similarity:.3f}, no differences found")
