"""Simulated provider-side prompt caching, shaped like OpenAI's.

OpenAI caches prompt prefixes of at least 1024 tokens in 128-token steps and reports the reused part as
`prompt_tokens_details.cached_tokens` (billed at a discount). The gateway's context minimizer and its cost model
must see that effect, so the simulator remembers hashes of token prefixes at those boundaries, per model, in
bounded memory.
"""

from __future__ import annotations

import array
import hashlib
from typing import Any, Callable, Sequence

import orjson

from .tokenizer import LRU, SimTokenizer

MIN_CACHED_TOKENS = 1024
CACHE_STEP_TOKENS = 128


def prompt_text(messages: Sequence[dict[str, Any]], tools: Any) -> str:
    """A linear rendering of what the model reads, in order: tool definitions first, then every message."""
    parts: list[str] = []
    if tools:
        parts.append(orjson.dumps(tools).decode())
    for message in messages:
        content = message.get("content")
        if not isinstance(content, str):
            content = orjson.dumps(content).decode() if content is not None else ""
        parts.append(f"<|{message.get('role', '')}|>{content}")
        if message.get("tool_calls"):
            parts.append(orjson.dumps(message["tool_calls"]).decode())
    return "\n".join(parts)


def _pack(ids: Sequence[Any]) -> bytes:
    if ids and isinstance(ids[0], int):
        return array.array("I", ids).tobytes()
    return "\x00".join(str(unit) for unit in ids).encode()


class PromptCache:
    """Remembers which prompt prefixes each model has seen; answers how many leading tokens were cached."""

    def __init__(self, max_entries: int = 100_000, max_prompts: int = 512) -> None:
        self._seen = LRU(max_entries)  # prefix hash -> True
        self._boundaries = LRU(max_prompts)  # prompt digest -> [(boundary, prefix hash)]

    def _prefix_hashes(self, model: str, text: Callable[[], str], digest: bytes, tokenizer: SimTokenizer) -> list[tuple[int, bytes]]:
        key = (model, digest)
        cached = self._boundaries.get(key)
        if cached is not None:
            return cached
        ids = tokenizer.encode(text())
        hasher = hashlib.blake2b(model.encode(), digest_size=16)
        out: list[tuple[int, bytes]] = []
        start = 0
        for boundary in range(MIN_CACHED_TOKENS, len(ids) + 1, CACHE_STEP_TOKENS):
            hasher.update(_pack(ids[start:boundary]))
            out.append((boundary, hasher.copy().digest()))
            start = boundary
        self._boundaries.put(key, out)
        return out

    def lookup_and_store(self, model: str, text: Callable[[], str], digest: bytes, prompt_tokens: int,
                         tokenizer: SimTokenizer) -> int:
        """Cached tokens for this prompt (0 below 1024 tokens or on first sight); then remember its prefixes.

        `text` renders the prompt (see prompt_text) and is only called for long prompts not tokenized before."""
        if prompt_tokens < MIN_CACHED_TOKENS:
            return 0
        hits = 0
        for boundary, prefix_hash in self._prefix_hashes(model, text, digest, tokenizer):
            if prefix_hash in self._seen:
                hits = boundary
            self._seen.put(prefix_hash, True)
        ceiling = MIN_CACHED_TOKENS + (prompt_tokens - MIN_CACHED_TOKENS) // CACHE_STEP_TOKENS * CACHE_STEP_TOKENS
        return min(hits, ceiling)
