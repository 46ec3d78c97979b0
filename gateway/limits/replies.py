"""How limits show to clients: OpenAI's errors (403, 429 with retry-after) and x-ratelimit-* headers."""

from __future__ import annotations

import math

from gateway.limits.ask import Ask, Verdict, period_reset_s
from gateway.server.errors import APIError


def model_not_allowed(model: str) -> APIError:
    return APIError(403, f"Your gateway key may not use the model '{model}'.", param="model",
                    code="model_not_allowed")


def refusal(ask: Ask, verdict: Verdict) -> APIError:
    """The 429 for what refused: a spent budget (no retrying helps until it renews) or a rate window."""
    headers = rate_headers(ask, verdict)
    if verdict.refused == "budget":
        budget = ask.limits.budget
        reset = period_reset_s(ask)
        renews = f"; it renews in {reset} s" if reset else ""
        if reset:
            headers["retry-after"] = str(reset)
        return APIError(429, f"This key's {budget.period} budget of ${budget.usd:g} is spent{renews}.",
                        type="insufficient_quota", code="budget_exceeded",
                        headers={**headers, "x-should-retry": "false"})
    wait = verdict.requests_reset_s if verdict.refused == "requests" else verdict.tokens_reset_s
    limit = (f"{ask.limits.requests_per_minute} requests" if verdict.refused == "requests"
             else f"{ask.limits.tokens_per_minute} tokens")
    return APIError(429, f"Rate limit reached for this key: {limit} per minute. Please try again in "
                    f"{max(1, math.ceil(wait))}s.", type="requests" if verdict.refused == "requests" else "tokens",
                    code="rate_limit_exceeded", headers={**headers, "retry-after": str(max(1, math.ceil(wait)))})


def rate_headers(ask: Ask, verdict: Verdict) -> dict[str, str]:
    """OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens}, for the limits the key has."""
    headers: dict[str, str] = {}
    for kind, limit, used, reset in (("requests", ask.limits.requests_per_minute, verdict.requests,
                                      verdict.requests_reset_s),
                                     ("tokens", ask.limits.tokens_per_minute, verdict.tokens, verdict.tokens_reset_s)):
        if limit:
            headers[f"x-ratelimit-limit-{kind}"] = str(limit)
            headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, limit - used))
            headers[f"x-ratelimit-reset-{kind}"] = _duration(reset)
    return headers


def _duration(seconds: float) -> str:
    """OpenAI's format: 1s, 6m0s, 250ms."""
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    whole = math.ceil(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"
