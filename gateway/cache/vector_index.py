"""Nearest-neighbour search over one namespace's cached question vectors, exact while small, HNSW when large.

Exact inner-product search is both the fastest and the most accurate choice up to some tens of thousands of
entries; past that a single query scans too much memory, so the index rebuilds itself as HNSW (graph search,
sub-millisecond at a million entries). HNSW cannot delete, so removals there become tombstones that searches skip,
and the graph is rebuilt from the stored vectors once tombstones pile up. Vectors must be unit-norm, which makes
inner product equal to cosine similarity. It is used from the event-loop thread only and is not thread-safe.
"""

from __future__ import annotations

import faiss
import numpy as np

HNSW_M = 32  # Graph degree; with efSearch below, p99 well under 5 ms at 1M entries on one core.
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128  # recall@1 0.98+ for near-duplicate queries at 1M entries (bench/vector_search.py).
REBUILD_TOMBSTONE_SHARE = 0.2  # Rebuild HNSW once a fifth of its entries are deleted.
BUILD_THREADS = 2  # Bulk (re)builds are the one place parallel OpenMP pays off.

faiss.omp_set_num_threads(1)  # Single-query searches: OpenMP start-up costs more than it saves.


class VectorIndex:
    """Key -> unit vector store with top-k inner-product search; keys are int64 chosen by the caller."""

    def __init__(self, dim: int, hnsw_above: int = 20_000) -> None:
        self.dim = dim
        self.hnsw_above = hnsw_above
        self._vectors: dict[int, np.ndarray] = {}  # The source of truth the approximate index is rebuilt from.
        self._tombstones: set[int] = set()
        self._index: faiss.Index = self._flat()
        self.kind = "flat"

    def __len__(self) -> int:
        return len(self._vectors)

    def _flat(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _hnsw(self) -> faiss.Index:
        graph = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(graph)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace entries; replacing a key drops its old vector first."""
        keys = np.ascontiguousarray(keys, dtype=np.int64).reshape(-1)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        existing = [int(k) for k in keys if int(k) in self._vectors]
        if existing:
            self.remove(np.array(existing, dtype=np.int64))
        for key, vector in zip(keys.tolist(), vectors):
            self._vectors[key] = vector.copy()
            self._tombstones.discard(key)
        if self.kind == "flat" and len(self._vectors) > self.hnsw_above:
            self._rebuild("hnsw")
        else:
            self._index.add_with_ids(vectors, keys)

    def remove(self, keys: np.ndarray) -> None:
        """Delete entries: at once from the flat index, as tombstones (and a later rebuild) from HNSW."""
        keys = [int(k) for k in np.asarray(keys, dtype=np.int64).reshape(-1) if int(k) in self._vectors]
        for key in keys:
            del self._vectors[key]
        if not keys:
            return
        if self.kind == "flat":
            self._index.remove_ids(np.array(keys, dtype=np.int64))
            return
        self._tombstones.update(keys)
        if len(self._tombstones) > REBUILD_TOMBSTONE_SHARE * max(len(self._vectors), 1):
            self._rebuild("hnsw" if len(self._vectors) > self.hnsw_above else "flat")

    def search(self, vector: np.ndarray, k: int = 4) -> list[tuple[int, float]]:
        """The k nearest live entries as (key, cosine), best first."""
        if not self._vectors:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        fetch = min(k + min(len(self._tombstones), 16), self._index.ntotal)
        while True:  # Widen only when tombstones crowd out live hits, so searches stay one call in practice.
            scores, ids = self._index.search(query, fetch)
            hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0])
                    if i >= 0 and int(i) not in self._tombstones]
            if len(hits) >= k or fetch >= self._index.ntotal:
                return hits[:k]
            fetch = min(fetch * 4, self._index.ntotal)

    def _rebuild(self, kind: str) -> None:
        """Build a fresh index of `kind` from the stored vectors; clears tombstones."""
        self._index = self._hnsw() if kind == "hnsw" else self._flat()
        self.kind = kind
        self._tombstones.clear()
        if self._vectors:
            keys = np.fromiter(self._vectors.keys(), dtype=np.int64, count=len(self._vectors))
            faiss.omp_set_num_threads(BUILD_THREADS)
            try:
                self._index.add_with_ids(np.stack(list(self._vectors.values())), keys)
            finally:
                faiss.omp_set_num_threads(1)
