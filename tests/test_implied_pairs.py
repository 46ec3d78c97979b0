"""The verifier's training pairs implied by QQP's labels (bench/_transitive.py): transitive duplicates, and the
non-duplicates a duplicate inherits, never a pair already labelled, and at most `cap` per question."""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from _transitive import implied_pairs  # noqa: E402


def implied(rows: list[tuple[str, str, int]], cap: int = 10) -> set[tuple[frozenset[str], int]]:
    a, b, y = implied_pairs([r[0] for r in rows], [r[1] for r in rows], np.array([r[2] for r in rows], np.int8), cap)
    return {(frozenset(pair), int(label)) for *pair, label in zip(a, b, y)}


def test_duplicates_of_duplicates_are_duplicates_and_inherit_labelled_non_duplicates():
    rows = [("A", "B", 1), ("B", "C", 1), ("C", "D", 0)]
    assert implied(rows) == {(frozenset("AC"), 1), (frozenset("AD"), 0), (frozenset("BD"), 0)}


def test_no_labelled_pair_is_repeated_in_either_order():
    rows = [("A", "B", 1), ("B", "C", 1), ("C", "A", 1), ("D", "E", 0)]
    assert implied(rows) == set()


def test_a_contradicting_label_inside_a_group_implies_no_non_duplicates():
    rows = [("A", "B", 1), ("B", "C", 1), ("A", "C", 0), ("C", "D", 0)]
    found = implied(rows)
    assert (frozenset("AD"), 0) in found and not any(pair == frozenset("AC") for pair, _ in found)


def test_each_question_takes_part_in_at_most_cap_new_pairs_of_each_label():
    chain = [(f"q{i}", f"q{i + 1}", 1) for i in range(30)]  # one group of 31: 435 implied pairs uncapped
    a, b, y = implied_pairs(*zip(*[(x, z) for x, z, _ in chain]), np.ones(30, np.int8), cap=3)
    uses = Counter(a) + Counter(b)
    assert len(y) > 30 and max(uses.values()) <= 3 and y.all()


def test_pairs_a_score_is_reported_on_are_never_implied():
    rows = [("A", "B", 1), ("B", "C", 1), ("C", "D", 0)]
    a, b, y = implied_pairs(*zip(*[(x, z) for x, z, _ in rows]), np.array([1, 1, 0], np.int8), cap=10,
                            exclude=[("C", "A"), ("B", "D")])
    assert {frozenset(pair) for pair in zip(a, b)} == {frozenset("AD")}
