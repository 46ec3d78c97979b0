"""How often would the semantic cache serve a wrong answer? Precision and recall on QQP question pairs.

    python bench/cache_eval.py                         # held-out 30% of the dev pairs, default embedder + verifier
    python bench/cache_eval.py --limit 300 --json      # smoke run; the last line is one JSON object
    python bench/cache_eval.py --variant fp32          # the fp32 model instead of int8
    python bench/cache_eval.py --pairs FILE            # any file of {"a", "b", "label"} lines: every row the
                                                       # verifier was not trained on (--split all: every row)

A pair counts as accepted when the cosine of its embeddings reaches the threshold and the verifier accepts it:
recall is the share of all duplicate pairs accepted, precision the share of accepted pairs that are duplicates.
Beside the default configuration it prints both curves over thresholds (cosine alone and cosine + verifier) and
draws them to docs/cache_curve.png; the embed latency is per single text through the async API, as the gateway
calls it. Vectors are cached under /tmp (see bench/_qqp.py), so a rerun takes seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _qqp import (CACHE_DIR, REPO, Pairs, TokenTable, default_pairs, file_digest, load_pairs,  # noqa: E402
                  pair_vectors, unseen_rows)

from gateway.cache.embedder import MODEL_DIR_ENV, EmbedderSettings, load_embedder  # noqa: E402
from gateway.cache.verifier import Verifier  # noqa: E402

CURVE = np.round(np.arange(0.70, 0.991, 0.01), 2)
PROBABILITIES = np.round(np.arange(0.05, 0.991, 0.01), 2)
POOL = 0.80  # The verifier's curve sweeps its probability cut over pairs above this cosine (its training range).
SHARED_MODEL = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2"


def precision_recall(accepted: np.ndarray, label: np.ndarray) -> tuple[float, float]:
    hits = int((accepted & (label == 1)).sum())
    return (hits / accepted.sum() if accepted.sum() else 1.0), hits / max(int((label == 1).sum()), 1)


def cosine_at_recall(cos: np.ndarray, label: np.ndarray, recall: float) -> tuple[float, float]:
    """Cosine-only precision at the highest threshold whose recall still reaches `recall`."""
    order = np.argsort(-cos)
    hits = np.cumsum(label[order] == 1)
    need = int(np.ceil(recall * (label == 1).sum()))
    last = int(np.searchsorted(hits, max(need, 1)))
    last = min(last, len(order) - 1)
    return float(hits[last] / (last + 1)), float(cos[order][last])


async def embed_latency(embedder, texts: list[str]) -> tuple[float, float]:
    """p50 and p99 milliseconds of one-text embed() calls, as the gateway makes them."""
    await embedder.embed(["warm up the session"])
    times = []
    for text in texts:
        started = time.perf_counter()
        await embedder.embed([text])
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def plot(path: Path, cos_curve: list[tuple], ver_curve: list[tuple], point: tuple, name: str, floor: float) -> str:
    """Draw both precision/recall curves; a missing matplotlib skips the plot, not the run."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no plot (pip install matplotlib)"
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot([r for _, _, r in cos_curve], [p for _, p, _ in cos_curve], "o-", ms=3, label="cosine only")
    ax.plot([r for _, _, r in ver_curve], [p for _, p, _ in ver_curve], "o-", ms=3,
            label=f"verifier (rules + model), probability cut swept, cosine >= {floor}")
    ax.plot([point[1]], [point[0]], "k*", ms=12, label=f"default (threshold {point[2]:.2f})")
    ax.axhline(0.92, color="grey", lw=0.7, ls="--")
    ax.set_xlabel("recall (share of duplicate pairs served from cache)")
    ax.set_ylabel("precision (share of cache hits that are duplicates)")
    ax.set_title(f"Semantic cache on QQP held-out pairs ({name})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return f"wrote {path}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=Path, default=default_pairs())
    parser.add_argument("--limit", type=int, help="only the first N lines of the file")
    parser.add_argument("--split", choices=("unseen", "test", "train", "all"), default="unseen",
                        help="rows the verifier was not trained on (default: the dev file's held-out 30%%, all of "
                             "a new file), the held-out 30%% by hash, the 70%% by hash, or every row")
    parser.add_argument("--embedder", default="auto", help="auto | local | hashing | upstream")
    parser.add_argument("--model-dir", default=os.environ.get(MODEL_DIR_ENV) or (
        str(SHARED_MODEL) if SHARED_MODEL.is_dir() else None),
        help="MiniLM folder (default $GATEWAY_MODEL_DIR, else ../shared/models/all-MiniLM-L6-v2 when present)")
    parser.add_argument("--variant", default="auto", help="auto | int8 | fp32")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "cache_curve.png")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--latency-texts", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = parser.parse_args(argv)

    embedder = load_embedder(EmbedderSettings(kind=args.embedder, model_dir=args.model_dir, variant=args.variant))
    pairs = load_pairs(args.pairs, args.limit)
    rows, split = evaluated_rows(pairs, args.split)
    sample = [t for t in dict.fromkeys(pairs.a[i] for i in np.flatnonzero(rows))][:args.latency_texts]
    p50, p99 = asyncio.run(embed_latency(embedder, sample))
    va, vb = pair_vectors(pairs, args.pairs, args.limit, embedder)
    pairs, va, vb = pairs.subset(rows), va[rows], vb[rows]
    cos = np.einsum("ij,ij->i", va, vb)
    label = pairs.label

    verifier = Verifier.load_default()
    tokens = pair_tokens(pairs, args.pairs, split, embedder) if verifier.alignment is not None else None
    verdicts = [verifier.check(a, b, float(c), tokens(a, b) if tokens else None)
                for a, b, c in zip(pairs.a, pairs.b, cos)]
    accepted = np.array([v.accepted for v in verdicts])
    precision, recall = precision_recall(accepted, label)
    base_precision, base_threshold = cosine_at_recall(cos, label, recall)
    cos_curve = [(t, *precision_recall(cos >= t, label)) for t in CURVE]
    ver_curve = verifier_curve(verifier, pairs, cos, tokens)
    threshold = verifier.search_threshold(tokens is not None)

    print(f"{args.pairs.name}: {len(label)} pairs ({split} split), {int(label.sum())} duplicates; "
          f"embedder {embedder.name}")
    print("| cosine threshold | precision | recall | | verifier min. probability | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for (t, cp, cr), (q, vp, vr) in zip(cos_curve[::2], [r for r in ver_curve if r[0] >= 0.55][::3]):
        print(f"| {t:.2f} | {cp:.3f} | {cr:.3f} | | {q:.2f} | {vp:.3f} | {vr:.3f} |")
    rejected = _rejections(verdicts)
    print(f"\ndefault: threshold {threshold:.2f} -> precision {precision:.3f}, recall {recall:.3f}; "
          f"cosine alone at the same recall: precision {base_precision:.3f} (threshold {base_threshold:.3f})")
    print(f"rejected above the threshold by: {rejected}")
    print(f"embed latency per text: p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(sample)} single-text calls)")
    if not args.no_plot:
        print(plot(args.plot, cos_curve, ver_curve, (precision, recall, threshold), embedder.name,
                   threshold if tokens else POOL))  # the floor verifier_curve sweeps over
    if args.json:
        print(json.dumps({"precision": round(precision, 4), "recall": round(recall, 4),
                          "threshold": threshold, "verifier": "alignment" if tokens else "logistic",
                          "cosine_only_precision_at_same_recall": round(base_precision, 4),
                          "cosine_only_threshold_at_same_recall": round(base_threshold, 4),
                          "embedder": embedder.name, "pairs": len(label), "duplicates": int(label.sum()),
                          "split": split, "embed_ms_p50": round(p50, 3), "embed_ms_p99": round(p99, 3),
                          "rejected_by": rejected}))
    return 0


def evaluated_rows(pairs: Pairs, split: str) -> tuple[np.ndarray, str]:
    """The rows to report on and the split's name. `unseen` is `test` on the dev file itself (the name says so, so
    figures compare across runs); on another file it leaves out only the dev training split's pairs; without the dev
    file to tell, it falls back to the held-out hash."""
    if split == "unseen":
        unseen = unseen_rows(pairs, default_pairs())
        if unseen is None:
            print(f"{default_pairs()} not found: reporting on the held-out 30% by hash")
            return pairs.held_out, "test"
        return unseen, "test" if np.array_equal(unseen, pairs.held_out) else "unseen"
    return {"test": pairs.held_out, "train": ~pairs.held_out, "all": np.ones(len(pairs.a), bool)}[split], split


def pair_tokens(pairs, path: Path, split: str, embedder):
    """A lookup (a, b) -> both questions' token states, for the alignment model; None without a local model."""
    if not hasattr(embedder, "run"):
        return None
    texts = sorted(set(pairs.a) | set(pairs.b))
    cache = CACHE_DIR / f"qqp-tokens-{file_digest(path)}-{split}-{len(texts)}-{embedder.name.replace(':', '_')}.npz"
    table = TokenTable.build(texts, embedder, cache)
    return lambda a, b: (table.values(a), table.values(b))


def verifier_curve(verifier: Verifier, pairs, cos: np.ndarray, tokens) -> list[tuple[float, float, float]]:
    """Precision and recall as the model's probability cut sweeps, rules on, over pairs the search would verify."""
    label, probability = pairs.label, np.zeros(len(cos))
    floor = verifier.search_threshold(True) if tokens else POOL
    loose = Verifier(floor, None, verifier.rules)
    for i in np.flatnonzero(cos >= floor):
        if not loose.check(pairs.a[i], pairs.b[i], float(cos[i])).accepted:
            continue
        if tokens:
            probability[i] = verifier.aligned_probability(pairs.a[i], pairs.b[i], float(cos[i]),
                                                          tokens(pairs.a[i], pairs.b[i]))
        elif verifier.model is not None:
            probability[i] = verifier.model.probability(pairs.a[i], pairs.b[i], float(cos[i]))
    return [(q, *precision_recall(probability >= q, label)) for q in PROBABILITIES]


def _rejections(verdicts: list) -> dict[str, int]:
    """How many above-threshold pairs each rule family (or the model) turned away."""
    counts: dict[str, int] = {}
    for verdict in verdicts:
        if not verdict.accepted and "below threshold" not in verdict.reason:
            family = verdict.reason.split(":")[0].split(" ")[0]
            counts[family] = counts.get(family, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    sys.exit(main())
