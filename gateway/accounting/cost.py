"""What a request costs, from the token usage the upstream reports and the catalog's prices.

Cached input tokens are billed at the cached-input price, so a prompt that hits the provider's prompt cache is
priced as the provider bills it; the baseline (what the request would have cost as asked) is priced the same way so
that savings are never inflated by comparing a cached answer with an uncached one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.config.settings import ModelSpec

_PER_MILLION = 1_000_000


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_from_openai(usage: Any) -> Usage | None:
    """Read an OpenAI `usage` object; None when absent or malformed (then the caller estimates)."""
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cached = cached if isinstance(cached, int) and 0 <= cached <= prompt else 0
    return Usage(prompt, completion, cached)


def usage_to_openai(usage: Usage) -> dict[str, Any]:
    """The OpenAI `usage` object for usage the gateway assembled itself (a merged or rebuilt answer)."""
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens, "prompt_tokens_details": {"cached_tokens": usage.cached_tokens}}


def cost_usd(model: ModelSpec, usage: Usage) -> float:
    uncached = usage.prompt_tokens - usage.cached_tokens
    return (uncached * model.input_per_million
            + usage.cached_tokens * model.cached_input_per_million
            + usage.completion_tokens * model.output_per_million) / _PER_MILLION


def format_usd(amount: float) -> str:
    """Dollar amounts in headers: fixed-point, enough digits for a single token of the cheapest model."""
    return f"{amount:.10f}".rstrip("0").rstrip(".") if amount else "0"
