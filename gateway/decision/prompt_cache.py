"""What the provider's prompt cache holds: the cached share of a prompt, predicted before it is sent.

OpenAI-style providers bill a repeated prompt prefix of at least 1,024 tokens, in 128-token steps, at the
cached-input price (a half to a tenth of the input price) for a few minutes after it was last sent. A chat or an
agent that resends its history every turn therefore pays mostly cached prices. A cost model that ignores this
overprices the main session: it overstates what minimizing the context saves, in the decision and in the ledger,
and cannot see that a trimmed context (whose prefix changes every turn) throws the cache away.

The gateway cannot see the provider's cache, so it remembers what went out: per model, a hash chain over each
prompt's tools and messages (the key of message i covers everything up to it) with the time it expires. A prompt's
cached tokens are the tokens up to its longest remembered message prefix, rounded down to the provider's step: at
message granularity this never claims more than the provider caches. Two memories are kept: `sent`, what was
really sent (to price the options), and `asked`, every request as the client asked it (the baseline's world, where
nothing was trimmed or rerouted). Models whose cached-input price is their input price have nothing to predict.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable, Sequence

import orjson

from gateway.accounting.tokens import TOKENS_PER_MESSAGE, PromptCounter
from gateway.analysis.tokens import tools_tokens
from gateway.config.settings import ModelSpec

MIN_CACHED_TOKENS = 1024
CACHE_STEP_TOKENS = 128
DEFAULT_TTL_S = 300.0          # "5 to 10 minutes of inactivity" (OpenAI): the short end, so claims stay modest
EXTENDED_TTL_S = 24 * 3600.0   # a request with `prompt_cache_retention: "24h"`
MAX_ENTRIES = 100_000          # message-prefix keys remembered per memory (~22 MB at most: ~220 bytes each)


def prefix_keys(messages: Sequence[dict[str, Any]], tools: Any) -> list[int]:
    """One key per message: a hash of the tools and every message up to and including it (in-process only)."""
    chain = KeyChain(messages, tools)
    chain.extend_to(len(messages))
    return chain.computed


class KeyChain(Sequence[int]):
    """A prompt's `prefix_keys`, hashed only as far as someone looks: the memory's search reads a conversation the
    provider never saw from its first key, one that shares only its system prompt from its first two."""

    def __init__(self, messages: Sequence[dict[str, Any]], tools: Any) -> None:
        self._messages = messages
        self.computed: list[int] = []
        self._last = hash(_frozen(tools)) if tools else 0

    def __len__(self) -> int:
        return len(self._messages)

    def __getitem__(self, index: int) -> int:  # type: ignore[override]  # no slices needed
        if index >= len(self.computed):
            self.extend_to(index + 1)
        return self.computed[index]

    def extend_to(self, count: int) -> None:
        """Hash the keys of the first `count` messages (IndexError past the end)."""
        keys, key, messages = self.computed, self._last, self._messages
        for position in range(len(keys), count):
            message = messages[position]
            key = hash((key, message.get("role"), _frozen(message.get("content")), message.get("name"),
                        _frozen(message.get("tool_calls"))))
            keys.append(key)
        self._last = key


def _frozen(value: Any) -> Any:
    """A hashable stand-in: strings as they are (their hash is cached), anything else as canonical JSON."""
    if value is None or isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return repr(value)


def billable_cached(tokens: int) -> int:
    """The part of a remembered prefix the provider bills as cached: nothing under 1,024, then 128-token steps."""
    if tokens < MIN_CACHED_TOKENS:
        return 0
    return MIN_CACHED_TOKENS + (tokens - MIN_CACHED_TOKENS) // CACHE_STEP_TOKENS * CACHE_STEP_TOKENS


def caches_prompts(model: ModelSpec) -> bool:
    """Only a model priced with a cached-input discount has a cache worth predicting."""
    return model.cached_input_per_million < model.input_per_million


class PrefixMemory:
    """Message-prefix keys per model with their expiry, bounded: the least recently sent are forgotten first."""

    def __init__(self, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self._expiry: OrderedDict[tuple[str, int], float] = OrderedDict()
        self._per_model: dict[str, int] = {}  # entries per model: a model never sent to costs no hashing at all
        self._max_entries = max_entries
        self._clock = clock

    def knows(self, model: str) -> bool:
        return model in self._per_model

    def longest(self, model: str, keys: Sequence[int]) -> int:
        """How many leading messages of the prompt the model was sent within their time to live (0: none).

        A prompt's prefixes are remembered, and refreshed, together, so the live ones are always a leading run of
        the keys (at the size bound an early key may be evicted first: then this claims less, never more). So the
        search gallops from the start, then bisects: a new conversation reads one or two keys, a resent one
        about 2 log n."""
        now, expiry = self._clock(), self._expiry

        def alive(index: int) -> bool:
            expires = expiry.get((model, keys[index]))
            return expires is not None and expires > now

        if not keys or not alive(0):
            return 0
        low, step = 0, 1  # alive(low); the first dead index is above it
        while low + step < len(keys) and alive(low + step):
            low, step = low + step, step * 2
        high = min(low + step, len(keys))  # dead, or past the end
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if alive(middle) else (low, middle)
        return low + 1

    def remember(self, model: str, keys: Sequence[int], ttl_s: float) -> None:
        expires = self._clock() + ttl_s
        for key in keys:
            if (model, key) not in self._expiry:
                self._per_model[model] = self._per_model.get(model, 0) + 1
            self._expiry[(model, key)] = expires
            self._expiry.move_to_end((model, key))
        while len(self._expiry) > self._max_entries:
            (evicted, _), _ = self._expiry.popitem(last=False)
            self._per_model[evicted] -= 1
            if not self._per_model[evicted]:
                del self._per_model[evicted]


class PromptCacheModel:
    """The provider caches as the gateway predicts them: `sent` for pricing options, `asked` for the baseline."""

    def __init__(self, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self.sent = PrefixMemory(max_entries, clock)
        self.asked = PrefixMemory(max_entries, clock)

    def remember(self, memory: PrefixMemory, model: ModelSpec, messages: Sequence[dict[str, Any]], tools: Any,
                 body: dict[str, Any]) -> None:
        """Note a prompt as sent to `model` (into `memory`), for as long as the provider keeps it."""
        if caches_prompts(model):
            memory.remember(model.name, prefix_keys(messages, tools), ttl_for(body))


class PromptPrefixes:
    """One prompt's message-prefix keys, computed at most once however many models and memories ask about it."""

    def __init__(self, messages: Sequence[dict[str, Any]], tools: Any, counter: PromptCounter) -> None:
        self.messages, self.tools, self.counter = messages, tools, counter
        self.keys = KeyChain(messages, tools)
        self._ends: list[int] | None = None  # prompt tokens up to the end of each message

    def cached_tokens(self, memory: PrefixMemory, model: ModelSpec) -> int:
        """Predicted cached prompt tokens on `model` (0 for a model without a cached price)."""
        if not caches_prompts(model) or not memory.knows(model.name):
            return 0
        matched = memory.longest(model.name, self.keys)
        return billable_cached(self._token_ends()[matched - 1]) if matched else 0

    def _token_ends(self) -> list[int]:
        if self._ends is None:
            total, counter = tools_tokens(self.tools, self.counter), self.counter
            self._ends = [total := total + TOKENS_PER_MESSAGE + counter.count_message_body(message)
                          for message in self.messages]
        return self._ends


def ttl_for(body: dict[str, Any]) -> float:
    """How long the provider keeps the prefix: OpenAI's extended retention when the request asks for it."""
    return EXTENDED_TTL_S if body.get("prompt_cache_retention") == "24h" else DEFAULT_TTL_S
