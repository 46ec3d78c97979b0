"""Per-model speed and answer-length profiles, and the timing of one simulated answer.

Parallel speed-ups, hedging and timeouts in the gateway are only meaningful if a small model really answers sooner
and shorter than a big one, so every model name maps to a profile by what its name says about its size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from .options import SimOptions


@dataclass(frozen=True)
class ModelProfile:
    """Typical behaviour of a class of models: time to first token, decode speed, prefill speed, answer lengths."""

    name: str
    ttft_s: float
    tokens_per_s: float
    prefill_tokens_per_s: float
    min_answer_tokens: int
    max_answer_tokens: int


SMALL = ModelProfile("small", ttft_s=0.20, tokens_per_s=120.0, prefill_tokens_per_s=20000.0,
                     min_answer_tokens=50, max_answer_tokens=320)
MEDIUM = ModelProfile("medium", ttft_s=0.30, tokens_per_s=70.0, prefill_tokens_per_s=12000.0,
                      min_answer_tokens=80, max_answer_tokens=450)
LARGE = ModelProfile("large", ttft_s=0.40, tokens_per_s=40.0, prefill_tokens_per_s=8000.0,
                     min_answer_tokens=120, max_answer_tokens=600)

# Small: names that advertise a cheap tier, GPT-3.5, and single-digit-billion open models ("7b", "8b", "1.5b"; not
# the "8x7b" mixtures, which the negative look-behind on "x" excludes).
_SMALL_RE = re.compile(
    r"mini|nano|small|haiku|instant|flash|lite|tiny|gemma-?2b|phi|"
    r"gpt-?3[.\-_]?5|3\.5(?!-sonnet)|(?<![\dx.])\d(?:\.\d)?b\b"
)
_MEDIUM_RE = re.compile(r"gpt-?4o|gpt-?4\.1|sonnet|turbo|8x7b|mixtral|13b|14b|33b|llama-?3|gemini|command|qwen")

# Models listed by GET /v1/models besides the replayed ones: the usual names a catalog points at.
PROFILE_MODELS: tuple[str, ...] = (
    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4-turbo", "gpt-3.5-turbo",
    "o3-mini", "claude-3-5-sonnet", "claude-3-5-haiku", "claude-3-opus",
    "text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002",
)


@lru_cache(maxsize=1024)
def profile_for_model(model: str) -> ModelProfile:
    name = model.rsplit("/", 1)[-1].lower()
    if _SMALL_RE.search(name):
        return SMALL
    if _MEDIUM_RE.search(name):
        return MEDIUM
    return LARGE


@dataclass(frozen=True)
class Timing:
    """When the first token arrives and how fast the rest follow, for one request (zero everywhere = no latency)."""

    ttft_s: float
    tokens_per_s: float  # 0 means infinitely fast

    def decode_s(self, tokens: int) -> float:
        return tokens / self.tokens_per_s if self.tokens_per_s > 0 else 0.0

    def total_s(self, tokens: int) -> float:
        return self.ttft_s + self.decode_s(tokens)


NO_LATENCY = Timing(0.0, 0.0)


def _override(headers: Mapping[str, str], metadata: Mapping[str, Any], header: str, key: str) -> float | None:
    """A per-request override from a header (direct clients) or from metadata (clients behind the gateway)."""
    raw = headers.get(header)
    if raw is None:
        raw = metadata.get(key)
    if raw is None:
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def timing_for(model: str, options: SimOptions, headers: Mapping[str, str], metadata: Mapping[str, Any],
               uncached_prompt_tokens: int) -> Timing:
    """The timing of one answer: the model profile scaled by `speed`, unless a request overrides it.

    Overrides (`x-sim-ttft-ms` / `x-sim-tps`, or metadata `sim_ttft_ms` / `sim_tps`) apply even with latency off, so a
    test can ask for exactly the delay it needs. Prefill time grows with the prompt tokens not served from cache.
    """
    ttft_ms = _override(headers, metadata, "x-sim-ttft-ms", "sim_ttft_ms")
    tps = _override(headers, metadata, "x-sim-tps", "sim_tps")
    if not options.latency:
        return Timing(ttft_ms / 1000.0 if ttft_ms is not None else 0.0, tps or 0.0)
    profile = profile_for_model(model)
    if ttft_ms is not None:
        ttft = ttft_ms / 1000.0
    else:
        ttft = (profile.ttft_s + uncached_prompt_tokens / profile.prefill_tokens_per_s) / options.speed
    return Timing(ttft, tps if tps is not None else profile.tokens_per_s * options.speed)
