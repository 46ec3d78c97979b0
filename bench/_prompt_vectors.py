"""Prompt embeddings for training and evaluating the embedding router, cached on disk outside the repository.

Embedding the ~11k dev prompts takes minutes on a shared 2-core box, and training, cross-validation and evaluation
need them again and again, so each vector is kept in a cache folder (default /tmp/gateway-prompt-vectors, never
the repository: the vectors are derived from third-party data) keyed by the prompt's hash and the embedder's name.

    python bench/_prompt_vectors.py        # fill the cache for the four dev sets (sequential, one thread)
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CACHE_DIR = Path(os.environ.get("GATEWAY_VECTOR_CACHE", "/tmp/gateway-prompt-vectors"))


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class VectorStore:
    """One .npz per embedder name: prompt hashes and their float32 vectors, appended as new prompts come."""

    def __init__(self, embedder, cache_dir: Path = CACHE_DIR) -> None:
        self.embedder = embedder
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / f"{embedder.name.replace(':', '-')}.npz"
        self.vectors: dict[bytes, np.ndarray] = {}
        if self.path.is_file():
            data = np.load(self.path)
            self.vectors = dict(zip(map(bytes, data["keys"]), data["vectors"]))

    def get(self, texts: Sequence[str], log=None) -> np.ndarray:
        """Vectors for `texts` (row per text), embedding and saving only the ones not cached yet."""
        keys = [_key(t) for t in texts]
        todo = list({k: t for k, t in zip(keys, texts) if k not in self.vectors}.items())
        todo.sort(key=lambda item: len(item[1]))  # batches of similar length: little padding for the model to run
        for start in range(0, len(todo), 512):
            chunk = todo[start:start + 512]
            for (key, _), vector in zip(chunk, self.embedder.embed_sync([t for _, t in chunk])):
                self.vectors[key] = vector
            self._save()
            if log:
                log(f"embedded {min(start + 512, len(todo))}/{len(todo)}")
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, self.embedder.dim), np.float32)

    def _save(self) -> None:
        keys = np.array(list(self.vectors), dtype="S16")
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=np.stack(list(self.vectors.values())).astype(np.float32))
        tmp.replace(self.path)


def default_store() -> VectorStore:
    """The store for the router's embedder (the project's MiniLM from GATEWAY_MODEL_DIR)."""
    from gateway.routing.embedding import load_prompt_embedder
    embedder = load_prompt_embedder()
    if embedder is None:
        raise SystemExit("GATEWAY_MODEL_DIR is not set or holds no model: the embedding router needs it")
    return VectorStore(embedder)


if __name__ == "__main__":
    from gateway.routing.data import load_dev_sets
    store = default_store()
    for name, labelled in load_dev_sets().items():
        print(name, len(labelled.prompts), flush=True)
        store.get(labelled.prompts, log=lambda line: print(line, flush=True))
    print(f"cached {len(store.vectors)} vectors in {store.path}")
