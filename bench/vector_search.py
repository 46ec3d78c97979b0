"""Nearest-neighbour search latency of the semantic cache's vector index at a given size.

    python bench/vector_search.py                       # 1,000,000 random unit vectors, 384-d
    python bench/vector_search.py --entries 100000 --json

Builds gateway.cache.vector_index.VectorIndex (it picks exact flat search or HNSW by size), then times single
queries, one at a time, as the gateway issues them: p50/p99 for the index VectorIndex picked and for exact flat
search on the same vectors in the same run. recall@1 against exact search is reported for two query sets: random
unit vectors (the hardest case: in 384-d random data every point is almost equally far) and near-duplicates of
stored entries (cosine ~0.9 to one of them, the case a cache hit actually is).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gateway.cache.vector_index import VectorIndex  # noqa: E402


def rss_mb() -> float:
    """Current resident memory of this process (Linux), to charge the index with what it holds."""
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def timed_queries(search, queries: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Run each query alone; return the top-1 keys and the per-query milliseconds."""
    top, times = [], []
    for q in queries:
        started = time.perf_counter()
        hits = search(q)
        times.append((time.perf_counter() - started) * 1000)
        top.append(hits)
    return top, np.array(times)


def near_duplicates(base: np.ndarray, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Queries at cosine ~0.9 to a random stored entry, and which entry that is."""
    picks = rng.integers(0, len(base), n)
    noise = unit(rng.standard_normal((n, base.shape[1])))
    return unit(0.9 * base[picks] + np.sqrt(1 - 0.81) * noise), picks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--flat-queries", type=int, default=50, help="single exact queries timed for the ratio")
    parser.add_argument("--vectors", type=Path, help="use real unit vectors from an .npy (any shape ending in dim), "
                        "e.g. the QQP embeddings bench/cache_eval.py caches, instead of random ones")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    if args.vectors:
        loaded = np.load(args.vectors).reshape(-1, args.dim)
        base = unit(np.unique(loaded, axis=0)[:args.entries])
        args.entries = len(base)
    else:
        base = np.empty((args.entries, args.dim), dtype=np.float32)
        for start in range(0, args.entries, 100_000):
            base[start:start + 100_000] = unit(rng.standard_normal((min(100_000, args.entries - start), args.dim)))
    rss_before = rss_mb()
    started = time.perf_counter()
    index = VectorIndex(args.dim)
    index.add(np.arange(args.entries, dtype=np.int64), base)
    build_s = time.perf_counter() - started
    index_mb = rss_mb() - rss_before
    print(f"{args.entries} x {args.dim}: built {index.kind} in {build_s:.1f}s, +{index_mb:.0f} MB resident "
          f"(index, its graph and the stored vectors it rebuilds from)")

    random_q = unit(rng.standard_normal((args.queries, args.dim)))
    near_q, near_truth = near_duplicates(base, rng, args.queries)
    exact = faiss.IndexFlatIP(args.dim)
    exact.add(base)
    faiss.omp_set_num_threads(2)
    _, truth_random = exact.search(random_q, 1)
    faiss.omp_set_num_threads(1)

    index.search(random_q[0])  # Warm-up.
    top_random, times = timed_queries(lambda q: index.search(q, k=1)[0][0], random_q)
    top_near, near_times = timed_queries(lambda q: index.search(q, k=1)[0][0], near_q)
    all_times = np.concatenate([times, near_times])
    _, flat_times = timed_queries(lambda q: exact.search(q[None, :], 1), random_q[:args.flat_queries])
    result = {
        "entries": args.entries, "dim": args.dim, "kind": index.kind, "build_s": round(build_s, 1),
        "index_rss_mb": round(index_mb), "p50_ms": round(float(np.percentile(all_times, 50)), 3),
        "p99_ms": round(float(np.percentile(all_times, 99)), 3),
        "flat_p50_ms": round(float(np.percentile(flat_times, 50)), 3),
        "flat_p99_ms": round(float(np.percentile(flat_times, 99)), 3),
        "recall_at_1_random": float(np.mean(np.array(top_random) == truth_random[:, 0])),
        "recall_at_1_near_duplicate": float(np.mean(np.array(top_near) == near_truth)),
        "queries": 2 * args.queries, "data": str(args.vectors) if args.vectors else "random",
    }
    result["speedup_vs_flat_p50"] = round(result["flat_p50_ms"] / max(result["p50_ms"], 1e-6), 1)
    print(f"{index.kind}: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms over {2 * args.queries} single "
          f"queries; exact flat: p50 {result['flat_p50_ms']} ms, p99 {result['flat_p99_ms']} ms "
          f"({result['speedup_vs_flat_p50']}x); recall@1 vs exact: random {result['recall_at_1_random']:.3f}, "
          f"near-duplicate {result['recall_at_1_near_duplicate']:.3f}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
