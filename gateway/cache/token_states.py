"""A question's per-token embedding-model output, kept small enough to store beside every semantic-cache entry.

The pooled sentence vector finds a candidate; the verifier's alignment model (gateway/cache/alignment.py) then
reads both questions word by word, which needs the model's output for each token. A cached question's tokens are
stored with its entry (memory and Redis) so a hit never runs the embedding model a second time. Stored as int8
with one scale per token: a 16-token question takes 6.2 KB instead of 24.6 KB in float32, and the verifier is
trained on exactly this quantized form, so what it learned is what it sees.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_HEADER = struct.Struct("<HH")  # tokens, dimension


@dataclass(frozen=True)
class TokenStates:
    """int8 values (tokens x dim) and one float32 scale per token; `values()` gives the float32 matrix back."""

    codes: np.ndarray
    scales: np.ndarray

    @classmethod
    def quantize(cls, hidden: np.ndarray) -> TokenStates:
        hidden = np.asarray(hidden, dtype=np.float32)
        scales = np.maximum(np.abs(hidden).max(axis=1), 1e-12) / 127.0
        codes = np.clip(np.rint(hidden / scales[:, None]), -127, 127).astype(np.int8)
        return cls(codes, scales.astype(np.float32))

    def values(self) -> np.ndarray:
        return self.codes.astype(np.float32) * self.scales[:, None]

    def to_bytes(self) -> bytes:
        tokens, dim = self.codes.shape
        return _HEADER.pack(tokens, dim) + self.scales.tobytes() + self.codes.tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> TokenStates | None:
        """None for a blob that is not one (truncated, or written by another version)."""
        if len(blob) < _HEADER.size:
            return None
        tokens, dim = _HEADER.unpack_from(blob)
        if tokens == 0 or len(blob) != _HEADER.size + tokens * 4 + tokens * dim:
            return None
        scales = np.frombuffer(blob, dtype=np.float32, count=tokens, offset=_HEADER.size)
        codes = np.frombuffer(blob, dtype=np.int8, offset=_HEADER.size + tokens * 4).reshape(tokens, dim)
        return cls(codes, scales)
