"""Turn texts into unit vectors for the semantic cache, from a local ONNX model, an upstream API or a built-in hash.

The semantic cache compares questions by cosine similarity, so every embedder here returns float32 rows with unit
L2 norm: the vector index can then use inner product and a threshold means the same thing for every kind. The
local MiniLM model is the default because it is free, private and fast enough on a CPU; the hashing embedder
exists so a machine with no model files still starts (weaker, and it says so in describe()); the upstream
embedder is for deployments that already pay for an embeddings endpoint. Nothing here ever downloads a file.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import re
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gateway.cache.token_states import TokenStates

MODEL_DIR_ENV = "GATEWAY_MODEL_DIR"
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained with 256-token inputs (sentence_bert_config.json).
VARIANT_FILES = {"int8": "onnx/model_qint8.onnx", "fp32": "onnx/model.onnx"}


@runtime_checkable
class Embedder(Protocol):
    """What the semantic cache needs from an embedder: a name and size for the index, vectors, and a status line."""

    name: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 (len(texts), dim) with unit-norm rows."""
        ...

    def describe(self) -> dict[str, object]:
        """Say what this is and where it came from, for /readyz."""
        ...


def normalize(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows in float32; an all-zero row stays zero rather than becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class Embedded:
    """One model run's result for a text: the pooled unit vector and the per-token output behind it."""

    vector: np.ndarray
    tokens: TokenStates


class _LruCache:
    """A small map from text hash to its model output: agents resend the same question often, and a run costs ms."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[bytes, Embedded] = OrderedDict()

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()

    def get(self, key: bytes) -> Embedded | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: bytes, embedded: Embedded) -> None:
        if self._size <= 0:
            return
        self._items[key] = embedded
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


class OnnxEmbedder:
    """sentence-transformers all-MiniLM-L6-v2 on onnxruntime: mean-pooled last hidden state, L2-normalised.

    Inference runs on one dedicated worker thread so a 3-10 ms model call never blocks the event loop; calls
    queue there instead of running side by side. One intra-op thread by default: a single question is too small to
    split across cores (2-core machine, fp32: 7.5 ms p50 with one thread, 16.7 ms with two; int8: 3.7 vs 8.5 ms),
    and the other core stays free for the event loop. The single thread also owns the LRU.
    """

    def __init__(self, model_dir: str | os.PathLike[str], variant: str = "auto", threads: int = 1,
                 batch_size: int = 64, cache_size: int = 2048) -> None:
        import onnxruntime as ort  # Imported here so the hashing fallback works without onnxruntime installed.
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir)
        self.variant = pick_variant(self.model_dir, variant)
        self.model_path = self.model_dir / VARIANT_FILES[self.variant]
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # Pad to the longest in the batch, not 128.
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, min(threads, 2))
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1] or 384)
        self.name = f"all-MiniLM-L6-v2:{self.variant}"
        self.batch_size = batch_size
        self._cache = _LruCache(cache_size)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        """Embed on the calling thread (benchmarks use this; the server goes through embed(), never both)."""
        return np.stack([found.vector for found in self.embedded_sync(texts)]) if texts else \
            np.empty((0, self.dim), dtype=np.float32)

    def embedded_sync(self, texts: Sequence[str]) -> list[Embedded]:
        """Vectors and token states, from the LRU where the text was seen, else from batched model runs."""
        out: list[Embedded | None] = [None] * len(texts)
        missing: dict[bytes, list[int]] = {}
        for i, text in enumerate(texts):
            key = self._cache.key(text)
            out[i] = self._cache.get(key)
            if out[i] is None:
                missing.setdefault(key, []).append(i)
        todo = list(missing)
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start:start + self.batch_size]
            for key, found in zip(chunk, self.run([texts[missing[k][0]] for k in chunk])):
                self._cache.put(key, found)
                for i in missing[key]:
                    out[i] = found
        return [found for found in out if found is not None]

    async def embedded(self, text: str) -> Embedded:
        """The text's vector and per-token output (for the semantic cache's verifier) in one hop to the embedder's
        thread: a hop costs a few tenths of a millisecond on a busy loop, and a lookup or a store needs both."""
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(self._executor, self.embedded_sync, [text])
        return found[0]

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed off the event loop, on the embedder's own thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.embed_sync, list(texts))

    def embed_waiting(self, texts: Sequence[str]) -> np.ndarray:
        """Embed on the embedder's own thread and wait for it: for synchronous callers (the quality router inside
        the decision) that share this instance with the semantic cache. The LRU stays on one thread, and the
        cache's later lookup of the same question is an LRU hit instead of a second model run."""
        return self._executor.submit(self.embed_sync, list(texts)).result()

    def run(self, texts: list[str]) -> list[Embedded]:
        """One model call: tokenize, run, mean-pool over real tokens, normalise; keep each text's real tokens."""
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in self._inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = normalize((hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9))
        lengths = mask.sum(axis=1)
        return [Embedded(pooled[i], TokenStates.quantize(hidden[i, :lengths[i]])) for i in range(len(texts))]

    def describe(self) -> dict[str, object]:
        return {"kind": "local", "name": self.name, "dim": self.dim, "variant": self.variant,
                "source": str(self.model_path)}


def shared_onnx_embedder(model_dir: str, variant: str = "auto") -> OnnxEmbedder:
    """One OnnxEmbedder per model folder and variant in the process: the semantic cache and the quality router
    embed the same question, so they share the instance (one model in memory, one LRU, one model run). The folder
    and variant are resolved first, so `auto` and the variant it picks name the same instance."""
    folder = Path(model_dir).resolve()
    return _shared_onnx_embedder(str(folder), pick_variant(folder, variant))


@functools.lru_cache(maxsize=4)
def _shared_onnx_embedder(model_dir: str, variant: str) -> OnnxEmbedder:
    return OnnxEmbedder(model_dir, variant)


def pick_variant(model_dir: Path, variant: str) -> str:
    """fp32 by default, measured (docs/semantic_cache.md): on QQP it beats int8 by ~0.01 precision at the same
    recall, on both splits, in the high-precision range the cache runs in. int8 is ~40% faster per text and a
    quarter of the size, so it is the choice for a slow machine, and the fallback when the fp32 file is absent."""
    if variant not in ("auto", "int8", "fp32"):
        raise ValueError(f"embedder variant must be auto, int8 or fp32, not {variant!r}")
    if variant == "auto":
        variant = "fp32" if (model_dir / VARIANT_FILES["fp32"]).is_file() else "int8"
    path = model_dir / VARIANT_FILES[variant]
    if not path.is_file():
        raise ValueError(f"embedding model file not found: {path}")
    return variant


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


class HashingEmbedder:
    """The offline fallback: signed feature hashing of words, word bigrams and character 3-5-grams.

    It needs no files and no extra packages, so the gateway always starts, but it only sees surface overlap:
    it misses synonyms and is fooled by shared words, so the semantic cache should run with a higher threshold
    (or off) when this is what loaded. describe() carries the reason it was chosen.
    """

    def __init__(self, dim: int = 512, reason: str = "chosen in the configuration") -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"
        self.reason = reason

    def _features(self, text: str) -> dict[str, float]:
        words = _WORD.findall(text.lower())
        counts: dict[str, float] = {}
        grams = [f"w:{w}" for w in words] + [f"b:{a} {b}" for a, b in zip(words, words[1:])]
        for word in words:
            padded = f" {word} "
            grams += [f"c:{padded[i:i + n]}" for n in (3, 4, 5) for i in range(len(padded) - n + 1)]
        for gram in grams:
            counts[gram] = counts.get(gram, 0.0) + 1.0
        return counts

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for gram, count in self._features(text).items():
                h = zlib.crc32(gram.encode("utf-8"))
                weight = (1.0 + np.log(count)) * (2.0 if gram[0] != "c" else 1.0)
                out[row, h % self.dim] += weight if (h >> 31) & 1 else -weight
        return normalize(out)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_sync(texts)

    def describe(self) -> dict[str, object]:
        return {"kind": "hashing", "name": self.name, "dim": self.dim, "fallback": True, "reason": self.reason,
                "note": "surface-overlap only; weaker than a sentence model"}


class UpstreamEmbedder:
    """An OpenAI-compatible POST {base_url}/embeddings, for deployments that already pay for one."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 2.0,
                 dim: int | None = None, client: Any = None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.name = model
        self.dim = dim or 0  # Learned from the first answer when not configured.
        self._api_key = api_key
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._timeout = timeout_s

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        headers = {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        response = await self._client.post(f"{self.base_url}/embeddings", headers=headers, timeout=self._timeout,
                                           json={"model": self.name, "input": list(texts)})
        response.raise_for_status()
        rows = sorted(response.json()["data"], key=lambda item: item.get("index", 0))
        vectors = normalize(np.array([row["embedding"] for row in rows], dtype=np.float32))
        if vectors.shape[0] != len(texts):
            raise ValueError(f"embeddings endpoint returned {vectors.shape[0]} vectors for {len(texts)} texts")
        self.dim = self.dim or vectors.shape[1]
        return vectors

    async def aclose(self) -> None:
        await self._client.aclose()

    def describe(self) -> dict[str, object]:
        return {"kind": "upstream", "name": self.name, "dim": self.dim, "source": f"{self.base_url}/embeddings"}


@dataclass(frozen=True)
class EmbedderSettings:
    """Which embedder to load; `auto` means the local model when its files are there, else the hashing fallback."""

    kind: str = "auto"  # auto | local | upstream | hashing
    model_dir: str | None = None
    variant: str = "auto"  # auto | int8 | fp32
    upstream_model: str | None = None
    upstream_base_url: str | None = None
    upstream_api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 2.0


def load_embedder(settings: EmbedderSettings, environ: Mapping[str, str] = os.environ) -> Embedder:
    """Build the configured embedder without downloading anything; `auto` degrades to hashing with the reason."""
    if settings.kind == "hashing":
        return HashingEmbedder()
    if settings.kind == "upstream":
        if not settings.upstream_base_url or not settings.upstream_model:
            raise ValueError("upstream embedder needs upstream_base_url and upstream_model")
        return UpstreamEmbedder(settings.upstream_base_url, settings.upstream_model, settings.upstream_api_key,
                                settings.timeout_s)
    if settings.kind not in ("auto", "local"):
        raise ValueError(f"embedder kind must be auto, local, upstream or hashing, not {settings.kind!r}")
    model_dir = settings.model_dir or environ.get(MODEL_DIR_ENV)
    if settings.kind == "local":
        if not model_dir or not (Path(model_dir) / "tokenizer.json").is_file():
            where = model_dir or f"(no model_dir and no ${MODEL_DIR_ENV})"
            raise ValueError(f"local embedding model not found at {where}: expected tokenizer.json and onnx/model*.onnx")
        return shared_onnx_embedder(str(model_dir), settings.variant)
    return _auto(model_dir, settings.variant)


def _auto(model_dir: str | None, variant: str) -> Embedder:
    """The local model when it loads, otherwise the hashing embedder carrying why."""
    if not model_dir:
        return HashingEmbedder(reason=f"no model_dir configured and ${MODEL_DIR_ENV} is not set")
    if not (Path(model_dir) / "tokenizer.json").is_file():
        return HashingEmbedder(reason=f"no embedding model at {model_dir} (tokenizer.json missing)")
    try:
        return shared_onnx_embedder(str(model_dir), variant)
    except (ImportError, ValueError, OSError, RuntimeError) as error:
        return HashingEmbedder(reason=f"local model at {model_dir} did not load: {type(error).__name__}: {error}")
