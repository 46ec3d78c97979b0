"""The FAISS index: ordering, removal, and the switch from exact to HNSW search past the size threshold."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.cache.vector_index import VectorIndex


def unit(rows: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_search_returns_best_first_with_cosine_scores():
    vectors = unit(50)
    index = VectorIndex(16)
    index.add(np.arange(50, dtype=np.int64) + 1000, vectors)
    hits = index.search(vectors[7], k=4)
    assert hits[0][0] == 1007 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and len(hits) == 4
    expected = sorted(range(50), key=lambda i: -float(vectors[i] @ vectors[7]))[:4]
    assert [k - 1000 for k, _ in hits] == expected


def test_empty_index_and_readding_a_key_replaces_it():
    index = VectorIndex(16)
    assert index.search(unit(1)[0]) == [] and len(index) == 0
    vectors = unit(3)
    index.add(np.array([1, 2]), vectors[:2])
    index.add(np.array([1]), vectors[2:3])
    assert len(index) == 2
    assert index.search(vectors[2], k=1)[0] == (1, pytest.approx(1.0, abs=1e-5))


def test_flat_removal_drops_the_entry():
    vectors = unit(20)
    index = VectorIndex(16)
    index.add(np.arange(20), vectors)
    index.remove(np.array([5, 999]))
    assert len(index) == 19
    assert 5 not in [k for k, _ in index.search(vectors[5], k=5)]


def test_switches_to_hnsw_past_the_threshold_and_keeps_finding_entries():
    vectors = unit(300, dim=32, seed=1)
    index = VectorIndex(32, hnsw_above=100)
    index.add(np.arange(100), vectors[:100])
    assert index.kind == "flat"
    index.add(np.arange(100, 300), vectors[100:])
    assert index.kind == "hnsw" and len(index) == 300
    found = sum(index.search(vectors[i], k=1)[0][0] == i for i in range(0, 300, 3))
    assert found >= 95  # Of 100 self-queries; HNSW is approximate but not at this size.


def test_hnsw_removal_uses_tombstones_then_rebuilds():
    vectors = unit(300, dim=32, seed=2)
    index = VectorIndex(32, hnsw_above=100)
    index.add(np.arange(300), vectors)
    index.remove(np.array([10, 11]))
    assert index.kind == "hnsw" and len(index) == 298
    assert all(k not in (10, 11) for k, _ in index.search(vectors[10], k=4))
    assert len(index.search(vectors[10], k=4)) == 4
    index.remove(np.arange(12, 80))  # Past a fifth deleted: rebuilt from the stored vectors.
    assert len(index._tombstones) == 0 and len(index) == 230
    assert index.search(vectors[200], k=1)[0][0] == 200
    index.remove(np.arange(80, 250))  # Shrinking under the threshold goes back to exact search.
    assert index.kind == "flat" and index.search(vectors[260], k=1)[0][0] == 260
