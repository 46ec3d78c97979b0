"""Training pairs implied by labelled ones, for the semantic-cache verifier's training (bench/train_alignment.py).

QQP's duplicate labels describe groups of questions that ask the same thing: when A~B and B~C are labelled
duplicates, A~C is one too, and when A~B is a duplicate and A/D is labelled not, B/D is not either. The labelled
pairs name only a third of the duplicate pairs their own groups imply, so the implied ones give the verifier more
ways of asking one question to learn from. Only the labels of the pairs a network trains on are read, and no pair a
score is reported on (the held-out rows, an out-of-fold fold) is ever among the implied ones: the first version let
them in, and its out-of-fold figures measured what had been implied, not what had been learnt. A few popular
questions form groups of dozens (88 at most in the dev training split), whose implied pairs grow with the square of
the size: each question takes part in at most `cap` new pairs of each label, so those groups do not crowd out the
rest. Measured, it does not help (docs/semantic_cache.md), so bench/train_alignment.py leaves it off by default.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

import numpy as np


class _Groups:
    """Union-find over question texts joined by duplicate labels."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, text: str) -> str:
        parent = self.parent
        parent.setdefault(text, text)
        while parent[text] != text:
            parent[text] = parent[parent[text]]
            text = parent[text]
        return text

    def join(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def implied_pairs(a: list[str], b: list[str], label: np.ndarray, cap: int, seed: int = 0,
                  exclude: Iterable[tuple[str, str]] = ()) -> tuple[list[str], list[str], np.ndarray]:
    """New (a, b, label) pairs the labelled ones imply, at most `cap` of each label per question, none labelled
    already and none in `exclude` (the pairs a score is reported on), in either order. A labelled negative inside
    one group (label noise) implies no negatives."""
    groups = _Groups()
    for x, z, duplicate in zip(a, b, label):
        if duplicate:
            groups.join(x, z)
    members: dict[str, list[str]] = defaultdict(list)
    for text in sorted(set(a) | set(b)):
        members[groups.find(text)].append(text)
    known = {pair for x, z in [*zip(a, b), *exclude] for pair in ((x, z), (z, x))}
    rng = np.random.default_rng(seed)
    used: dict[tuple[str, int], int] = defaultdict(int)
    out_a: list[str] = []
    out_b: list[str] = []
    out_y: list[int] = []

    def add(x: str, z: str, duplicate: int) -> None:
        if (x, z) in known or used[x, duplicate] >= cap or used[z, duplicate] >= cap:
            return
        known.update(((x, z), (z, x)))
        used[x, duplicate] += 1
        used[z, duplicate] += 1
        out_a.append(x)
        out_b.append(z)
        out_y.append(duplicate)

    for group in members.values():
        if len(group) < 3:
            continue
        for i, j in _sampled_pairs(len(group), rng):
            add(group[i], group[j], 1)
    for x, z, duplicate in zip(a, b, label):
        if duplicate or groups.find(x) == groups.find(z):
            continue
        for near, far in ((x, z), (z, x)):
            others = [t for t in members[groups.find(near)] if t != near]
            for k in rng.permutation(len(others))[:cap]:
                add(others[k], far, 0)
    return out_a, out_b, np.array(out_y, dtype=label.dtype)


def _sampled_pairs(size: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Every pair of a group's members, in random order (the cap then keeps a fair sample of a large group)."""
    pairs = [(i, j) for i in range(size) for j in range(i + 1, size)]
    return [pairs[k] for k in rng.permutation(len(pairs))]
