"""Do two questions ask the same thing? Read them token by token, aligned, not as two averaged vectors.

A pooled sentence vector blurs the one word that changes the answer ("gain" / "lose", "in Java" / "in Python"):
that is why cosine alone stops at precision ~0.8 on QQP. This model aligns each token of one question with the
tokens of the other (soft attention, as in ESIM), compares each token with what it aligned to, pools those
comparisons and scores the pair, beside the cosine and the logistic verifier's word-level features (the rare word
only one side has is what token states blur most). It reads the embedding model's own per-token output
(gateway/cache/token_states.py), so it costs no second model run: a few small matrix products per network, one to
two milliseconds per candidate.

It is an average of small networks trained by bench/train_alignment.py on QQP's training split only (the
averaging steadies the ranking at the top, where a cache operates); the parameters ship as alignment_params.npz,
with the probability cut and the cosine floor chosen on out-of-fold scores (averaged like the shipped model's)
within that split.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Sequence

import numpy as np

PARAMS_FILE = "alignment_params.npz"
LAYERS = ("proj_w", "proj_b", "cmp_w", "cmp_b", "hid_w", "hid_b", "out_w", "out_b")


@dataclass(frozen=True)
class Member:
    """One trained network: weights as (inputs x outputs) float32 matrices."""

    proj_w: np.ndarray
    proj_b: np.ndarray
    cmp_w: np.ndarray
    cmp_b: np.ndarray
    hid_w: np.ndarray
    hid_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray


def _softmax(scores: np.ndarray, axis: int) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


@dataclass(frozen=True)
class AlignmentModel:
    """p(duplicate) as the mean of the members' sigmoids; accept at `min_probability`, search from `min_similarity`.

    The members run together: their weights are stacked on a leading axis, so a check is a handful of batched
    matrix products (numpy's per-call overhead, paid once, not once per member)."""

    members: tuple[Member, ...]
    min_probability: float
    min_similarity: float
    _stacked: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        stacked = {name: np.stack([getattr(m, name) for m in self.members]).astype(np.float32) for name in LAYERS}
        # [x, aligned, x - aligned, x * aligned] @ cmp_w, without building the concatenation: its four row blocks
        # folded into three products, x @ (W1 + W3) + aligned @ (W2 - W3) + (x * aligned) @ W4 (the same function).
        w1, w2, w3, w4 = np.split(stacked["cmp_w"], 4, axis=1)
        stacked.update(cmp_x=w1 + w3, cmp_aligned=w2 - w3, cmp_product=w4)
        object.__setattr__(self, "_stacked", stacked)

    @property
    def lexical_inputs(self) -> int:
        """How many word-level pair features (PairFeatures.lexical) the networks read beside the cosine."""
        member = self.members[0]
        return member.hid_w.shape[0] - 4 * member.proj_w.shape[1] - 1

    def probability(self, a_tokens: np.ndarray, b_tokens: np.ndarray, similarity: float,
                    lexical: Sequence[float] = ()) -> float:
        """Symmetric by construction: the pooled comparisons enter as a sum and an absolute difference, and the
        word-level features are symmetric themselves. `lexical` must hold `lexical_inputs` values."""
        w = self._stacked
        a = a_tokens @ w["proj_w"] + w["proj_b"][:, None, :]          # members x tokens x dim
        b = b_tokens @ w["proj_w"] + w["proj_b"][:, None, :]
        scores = a @ b.transpose(0, 2, 1) / np.sqrt(a.shape[2])
        a_aligned = _softmax(scores, axis=2) @ b
        b_aligned = _softmax(scores, axis=1).transpose(0, 2, 1) @ a
        va, vb = self._compare(a, a_aligned), self._compare(b, b_aligned)
        scalars = np.broadcast_to(np.array([similarity, *lexical], np.float32), (len(self.members), 1 + len(lexical)))
        pair = np.concatenate([va + vb, np.abs(va - vb), scalars], axis=1)
        hidden = np.maximum(np.einsum("mi,mij->mj", pair, w["hid_w"]) + w["hid_b"], 0.0)
        logits = np.einsum("mj,mj->m", hidden, w["out_w"]) + w["out_b"]
        return float(np.mean(1.0 / (1.0 + np.exp(-np.clip(logits, -40.0, 40.0)))))

    def _compare(self, x: np.ndarray, aligned: np.ndarray) -> np.ndarray:
        w = self._stacked
        compared = np.maximum(x @ w["cmp_x"] + aligned @ w["cmp_aligned"] + (x * aligned) @ w["cmp_product"]
                              + w["cmp_b"][:, None, :], 0.0)
        return np.concatenate([compared.mean(axis=1), compared.max(axis=1)], axis=1)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> AlignmentModel:
        count = int(arrays["members"])
        members = tuple(Member(*(arrays[f"m{i}.{name}"].astype(np.float32) for name in LAYERS)) for i in range(count))
        return cls(members, float(arrays["min_probability"]), float(arrays["min_similarity"]))

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {"members": np.array(len(self.members)),
                                         "min_probability": np.array(self.min_probability),
                                         "min_similarity": np.array(self.min_similarity)}
        for i, member in enumerate(self.members):
            for name in LAYERS:
                arrays[f"m{i}.{name}"] = getattr(member, name).astype(np.float16)
        return arrays


@functools.cache
def load_default() -> AlignmentModel | None:
    """The shipped model, or None when this install has no parameters file (the logistic verifier then decides)."""
    source = resources.files("gateway.cache").joinpath(PARAMS_FILE)
    if not source.is_file():
        return None
    with source.open("rb") as handle, np.load(handle) as arrays:
        return AlignmentModel.from_arrays(dict(arrays))
