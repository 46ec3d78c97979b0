"""Token ids and counts for the simulator, from the same tokenizer the gateway's accounting uses.

Usage must be the true count (the gateway's cost numbers are checked against it), so counts always come from
`gateway.accounting.tokens`. Prefix caching and `max_tokens` truncation also need token ids; we take them from the
very encoding that counter uses (tiktoken from its cache, else bpe-openai) and fall back to 4-character pieces when
only the heuristic counter is available.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Any, Callable, Hashable, Sequence

from ..accounting.tokens import TokenCounter, counter_for_model


class LRU:
    """A small bounded mapping; the simulator caches answers and counts per prompt so repeats cost almost no CPU."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)


class SimTokenizer:
    """Counts, encodes and truncates text for one encoding."""

    def __init__(self, counter: TokenCounter) -> None:
        self.counter = counter
        self._encode, self._decode = _codec(counter)

    def count(self, text: str) -> int:
        return self.counter.count(text)

    def count_messages(self, messages: Sequence[dict[str, Any]]) -> int:
        return self.counter.count_messages(messages)

    def encode(self, text: str) -> Sequence[Hashable]:
        """Token ids (or stand-ins for them) whose prefixes are stable when text is appended."""
        return self._encode(text)

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` that counts at most `max_tokens` tokens (usually exactly that many)."""
        if self.count(text) <= max_tokens:
            return text
        if self._decode is not None:
            ids = self._encode(text)
            keep = max_tokens
            while keep > 0:
                prefix = self._decode(ids[:keep])
                if self.count(prefix) <= max_tokens:
                    return prefix
                keep -= 1
            return ""
        # No decoder: binary search over character prefixes, using the counter itself as the judge.
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.count(text[:mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo]


def _codec(counter: TokenCounter) -> tuple[Callable[[str], Sequence[Hashable]], Callable[[Sequence[Any]], str] | None]:
    if counter.source == "tiktoken":
        try:
            import tiktoken

            enc = tiktoken.get_encoding(counter.encoding)  # cached locally: the counter already loaded it
            return enc.encode_ordinary, lambda ids: enc.decode_bytes(ids).decode("utf-8", errors="ignore")
        except Exception:
            pass
    if counter.source in ("tiktoken", "bpe-openai"):
        try:
            import bpe_openai

            bpe = bpe_openai.get_encoding(counter.encoding)
            return bpe.encode, lambda ids: bpe.decode(list(ids)) or ""
        except Exception:
            pass
    return (lambda text: [text[i:i + 4] for i in range(0, len(text), 4)]), None


@lru_cache(maxsize=None)
def _tokenizer_for_encoding(encoding: str, model_hint: str) -> SimTokenizer:
    return SimTokenizer(counter_for_model(model_hint))


@lru_cache(maxsize=1024)
def tokenizer_for_model(model: str) -> SimTokenizer:
    counter = counter_for_model(model)
    return _tokenizer_for_encoding(counter.encoding, model)
