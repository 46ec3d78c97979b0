"""QQP question pairs for the semantic-cache evaluation: loading, the fixed held-out split, cached embeddings.

The held-out 30% is chosen by a salted hash of the pair text, so it does not depend on file order and the same
rows are held out by the verifier training (never trained or tuned on) and by the report (the only rows shown).
Embedding 113k questions takes minutes on two cores, so vectors are cached under /tmp keyed by the file's hash,
the row limit and the embedder name.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TEST_PERCENT = 30
SPLIT_SEED = "qqp-split-2026"
CACHE_DIR = Path(os.environ.get("GATEWAY_BENCH_CACHE", "/tmp/gateway-bench-cache"))


def default_pairs() -> Path:
    """The dev pairs under $GATEWAY_DATA_DIR, else the shared data folder next to the repository."""
    root = Path(os.environ.get("GATEWAY_DATA_DIR", REPO.parent / "shared" / "data"))
    return root / "qqp" / "pairs.dev.jsonl"


@dataclass
class Pairs:
    """Parallel lists of the two questions and the duplicate label, plus which rows are held out."""

    a: list[str]
    b: list[str]
    label: np.ndarray
    held_out: np.ndarray

    def subset(self, mask: np.ndarray) -> Pairs:
        idx = np.flatnonzero(mask)
        return Pairs([self.a[i] for i in idx], [self.b[i] for i in idx], self.label[idx], self.held_out[idx])


def is_held_out(a: str, b: str) -> bool:
    """True for the fixed 30% that is only ever reported on."""
    digest = hashlib.sha256(f"{SPLIT_SEED}\n{a}\n{b}".encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < TEST_PERCENT


def load_pairs(path: Path, limit: int | None = None) -> Pairs:
    """Read a, b, label lines (the first `limit` of them)."""
    a, b, labels = [], [], []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and len(a) >= limit:
                break
            if line.strip():
                row = json.loads(line)
                a.append(str(row["a"]))
                b.append(str(row["b"]))
                labels.append(int(row["label"]))
    held = np.array([is_held_out(x, y) for x, y in zip(a, b)], dtype=bool)
    return Pairs(a, b, np.array(labels, dtype=np.int8), held)


def unseen_rows(pairs: Pairs, dev: Path) -> np.ndarray | None:
    """Rows no verifier training read: pairs of the dev file's training split (in either order) are left out, every
    other row is kept. For the dev file itself that is its held-out 30%; a file of new pairs is read whole. None when
    the dev file is not there to tell."""
    if not dev.is_file():
        return None
    dev_pairs = load_pairs(dev)
    trained = {pair for x, z, held in zip(dev_pairs.a, dev_pairs.b, dev_pairs.held_out) if not held
               for pair in ((x, z), (z, x))}
    return np.array([(x, z) not in trained for x, z in zip(pairs.a, pairs.b)], dtype=bool)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def pair_vectors(pairs: Pairs, path: Path, limit: int | None, embedder, log=print) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of every a and b, from the /tmp cache when this file, limit and model were embedded before."""
    tag = f"{file_digest(path)}-{limit or 'all'}-{embedder.name.replace('/', '_').replace(':', '_')}"
    cache = CACHE_DIR / f"qqp-{tag}.npy"
    if cache.is_file():
        both = np.load(cache)
        if both.shape[1] == len(pairs.a):
            return both[0], both[1]
    texts = sorted(set(pairs.a) | set(pairs.b))
    log(f"embedding {len(texts)} distinct questions with {embedder.name} (cached afterwards in {cache}) ...")
    started = time.perf_counter()
    vectors = _embed_all(embedder, texts, log)
    log(f"embedded in {time.perf_counter() - started:.0f}s")
    row = {t: i for i, t in enumerate(texts)}
    both = np.stack([vectors[[row[t] for t in pairs.a]], vectors[[row[t] for t in pairs.b]]])
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.save(cache, both)
    return both[0], both[1]


def _embed_all(embedder, texts: list[str], log, batch: int = 64) -> np.ndarray:
    """Batches of similar length (sorted), so padding wastes little compute."""
    import asyncio

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), embedder.dim or 384), dtype=np.float32)
    sync = getattr(embedder, "embed_sync", None)
    for n, start in enumerate(range(0, len(order), batch)):
        idx = order[start:start + batch]
        chunk = [texts[i] for i in idx]
        out[idx] = sync(chunk) if sync else asyncio.run(embedder.embed(chunk))
        if n % 200 == 199:
            log(f"  {start + batch}/{len(texts)}")
    return out


class TokenTable:
    """Every distinct question's quantized token states, concatenated, with row offsets (cached under /tmp)."""

    def __init__(self, texts: list[str], codes: np.ndarray, scales: np.ndarray, offsets: np.ndarray) -> None:
        self.row = {t: i for i, t in enumerate(texts)}
        self.codes, self.scales, self.offsets = codes, scales, offsets

    def values(self, text: str) -> np.ndarray:
        i = self.row[text]
        lo, hi = self.offsets[i], self.offsets[i + 1]
        return self.codes[lo:hi].astype(np.float32) * self.scales[lo:hi, None]

    @classmethod
    def build(cls, texts: list[str], embedder, cache: Path, log=print) -> TokenTable:
        if cache.is_file():
            with np.load(cache) as saved:
                return cls(texts, saved["codes"], saved["scales"], saved["offsets"])
        log(f"running the model over {len(texts)} questions (cached afterwards in {cache}) ...")
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        states: list = [None] * len(texts)
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            for i, found in zip(idx, embedder.run([texts[i] for i in idx])):
                states[i] = found.tokens
        offsets = np.concatenate([[0], np.cumsum([s.codes.shape[0] for s in states])])
        codes = np.concatenate([s.codes for s in states])
        scales = np.concatenate([s.scales for s in states])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, codes=codes, scales=scales, offsets=offsets)
        return cls(texts, codes, scales, offsets)
