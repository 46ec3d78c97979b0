"""The verifier's data in bench/: the pairs QQP's labels imply (bench/_transitive.py: transitive duplicates and the
non-duplicates a duplicate inherits, never a pair already labelled, at most `cap` per question), and which rows of a
file of pairs the evaluation may report on (bench/_qqp.py: none the verifier trained on)."""

from __future__ import annotations

import json
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


def test_a_new_file_of_pairs_is_read_whole_minus_the_pairs_the_verifier_trained_on(tmp_path):
    from _qqp import is_held_out, load_pairs, unseen_rows

    dev_rows = [(f"how do I learn topic {i}?", f"what is the best way to learn topic {i}?", i % 2) for i in range(40)]
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps({"a": a, "b": b, "label": y}) + "\n" for a, b, y in dev_rows))
    trained = [(a, b) for a, b, _ in dev_rows if not is_held_out(a, b)]
    assert 0 < len(trained) < len(dev_rows)
    new = tmp_path / "new.jsonl"
    new_rows = [("is tea healthy?", "is green tea good for you?", 1), (trained[0][1], trained[0][0], 1),
                ("what is 15% of 200?", "what is 15% of 300?", 0)]
    new.write_text("".join(json.dumps({"a": a, "b": b, "label": y}) + "\n" for a, b, y in new_rows))
    assert unseen_rows(load_pairs(new), dev).tolist() == [True, False, True]  # a trained pair, either order, is out
    dev_pairs = load_pairs(dev)
    assert unseen_rows(dev_pairs, dev).tolist() == dev_pairs.held_out.tolist()
    assert unseen_rows(dev_pairs, tmp_path / "absent.jsonl") is None
