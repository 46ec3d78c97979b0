"""The prompt embedding the embedding router reads: the project's MiniLM embedder (gateway/cache/embedder.py).

The router reuses the semantic cache's embedder, the very instance when both point at the same folder: the same
files, the same tokenizer (the first 256 WordPiece tokens), the same mean-pooled unit vector, and one LRU, so the
question the router embedded is a cache hit when the semantic cache looks it up. When the model folder is absent
the router falls back to its word features, so nothing here raises for a missing model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from gateway.cache.embedder import MODEL_DIR_ENV, OnnxEmbedder, shared_onnx_embedder

log = logging.getLogger(__name__)

# The model reads 256 WordPiece tokens, about 1,300 characters of English; the cut bounds the tokenizer's work on a
# 100k-character prompt while leaving a wide margin, and it keeps short questions whole, so the text the router
# embeds is exactly the semantic cache's question (whose limit is 192 tokens) and the embedder's LRU serves both.
EMBED_CHARS = 3000


def embedding_text(prompt: str) -> str:
    """The part of a prompt the router embeds (training and serving both go through here)."""
    return prompt[:EMBED_CHARS]


def load_prompt_embedder(model_dir: str | None = None,
                         environ: Mapping[str, str] = os.environ) -> OnnxEmbedder | None:
    """The shared local MiniLM embedder from `model_dir` (default $GATEWAY_MODEL_DIR); None when it cannot load."""
    folder = model_dir or environ.get(MODEL_DIR_ENV)
    if not folder or not (Path(folder) / "tokenizer.json").is_file():
        return None
    try:
        return shared_onnx_embedder(str(folder))
    except (ImportError, ValueError, OSError, RuntimeError) as error:
        log.warning("embedding model at %s did not load (%s); the router uses its word features", folder, error)
        return None


def prompt_embed(model_dir: str | None = None, environ: Mapping[str, str] = os.environ):
    """The embedding router's `embed` function (runs on the embedder's thread), or None without a model."""
    embedder = load_prompt_embedder(model_dir, environ)
    return None if embedder is None else embedder.embed_waiting
