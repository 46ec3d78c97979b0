"""Deterministic embeddings: a unit vector per input, derived from a hash of the model and the input.

Identical inputs always get identical vectors (so exact-duplicate logic works) and different inputs get unrelated,
nearly orthogonal ones. `dimensions` shortens the full vector and renormalizes it, as OpenAI's text-embedding-3
models do, so a shortened vector stays consistent with the full one.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import numpy as np

from .completions import RequestError
from .tokenizer import LRU, tokenizer_for_model

_vectors = LRU(2048)


def default_dimensions(model: str) -> int:
    name = model.rsplit("/", 1)[-1].lower()
    return 3072 if "large" in name else 1536


def parse_inputs(value: Any) -> list[str | list[int]]:
    """The inputs of an embeddings request: a string, a list of strings, a token array or a list of token arrays."""
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        items = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise RequestError("Missing required parameter: 'input'." if value is None else
                           "Invalid 'input': expected a string or an array.", "input",
                           "missing_required_parameter" if value is None else "invalid_type")
    if not items:
        raise RequestError("Invalid 'input': the array must not be empty.", "input", "invalid_value")
    for item in items:
        valid_tokens = isinstance(item, list) and item and all(isinstance(t, int) for t in item)
        if not (isinstance(item, str) and item) and not valid_tokens:
            raise RequestError("Invalid 'input': every item must be a non-empty string or token array.", "input",
                               "invalid_value")
    return items


def unit_vector(model: str, item: str | list[int], dimensions: int) -> np.ndarray:
    raw = item.encode() if isinstance(item, str) else np.asarray(item, dtype=np.int64).tobytes()
    full = default_dimensions(model)
    key = hashlib.blake2b(model.encode() + b"\x00" + raw, digest_size=16).digest()
    vector = _vectors.get((key, dimensions))
    if vector is None:
        rng = np.random.default_rng(int.from_bytes(key[:8], "big"))
        vector = rng.standard_normal(max(full, dimensions)).astype(np.float32)[:dimensions]
        vector /= np.linalg.norm(vector)
        _vectors.put((key, dimensions), vector)
    return vector


def embed(body: dict[str, Any]) -> tuple[str, list[Any], int]:
    """(model, vectors as float lists or base64 strings, prompt tokens) for an embeddings request body."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    items = parse_inputs(body.get("input"))
    dimensions = body.get("dimensions")
    if dimensions is None:
        dimensions = default_dimensions(model)
    elif isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 1 <= dimensions <= 3072:
        raise RequestError("Invalid 'dimensions': must be an integer between 1 and 3072.", "dimensions",
                           "invalid_value")
    encoding_format = body.get("encoding_format") or "float"
    if encoding_format not in ("float", "base64"):
        raise RequestError("Invalid 'encoding_format': must be 'float' or 'base64'.", "encoding_format",
                           "invalid_value")
    tokenizer = tokenizer_for_model(model)
    tokens = sum(tokenizer.count(i) if isinstance(i, str) else len(i) for i in items)
    vectors: list[Any] = []
    for item in items:
        vector = unit_vector(model, item, dimensions)
        if encoding_format == "base64":
            vectors.append(base64.b64encode(vector.astype("<f4").tobytes()).decode())
        else:
            vectors.append(vector)  # serialized by orjson (OPT_SERIALIZE_NUMPY) in float32 precision
    return model, vectors, tokens
