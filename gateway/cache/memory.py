"""Tier 1: an in-process LRU of serialized answers, bounded in bytes, with per-entry expiry.

Bounded in bytes rather than entries because answers range from a word to tens of kilobytes: a count bound either
wastes memory or lets a few long answers blow the budget. Values are stored serialized, so their size is exact.
"""

from __future__ import annotations

import time
from collections import OrderedDict

_OVERHEAD = 200  # bytes per entry beyond the value (key string, tuple, dict slot): keeps the bound honest


class ByteLRU:
    def __init__(self, max_bytes: int, clock=time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> bytes | None:
        item = self._entries.get(key)
        if item is None:
            return None
        value, expires_at = item
        if expires_at <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: bytes, ttl_s: float) -> None:
        size = len(value) + len(key) + _OVERHEAD
        if size > self.max_bytes:
            return
        self._drop(key)
        self._entries[key] = (value, self._clock() + ttl_s)
        self.bytes += size
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def remove(self, key: str) -> None:
        self._drop(key)

    def _drop(self, key: str) -> None:
        item = self._entries.pop(key, None)
        if item is not None:
            self.bytes -= len(item[0]) + len(key) + _OVERHEAD
