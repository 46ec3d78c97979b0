"""Retries of failed upstream calls: only what failed before the client saw anything, only what may succeed again.

Retried: rate limits (429, honouring `retry-after` when it is short), upstream server errors, resets, unreachable
upstreams and timeouts, for a non-streamed call until its whole answer is read, and for a stream until its first
byte (after that, the relay ends the stream with an error event: a retry would repeat text the client already has).
Never retried: a 4xx that will fail again the same way. Delays grow exponentially with full jitter, so a fleet of
gateways does not retry in lockstep. When the gateway's retries are spent it tells the SDK not to add its own
(`x-should-retry: false`), except after a rate limit whose `retry-after` was too long to wait here.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

from gateway.server.errors import APIError

T = TypeVar("T")
CIRCUIT_OPEN = "upstream_circuit_open"  # failed fast by a breaker: no use retrying here, but a fallback may answer
_RETRYABLE_CODES = frozenset({"upstream_timeout", "upstream_unreachable", "upstream_connection_reset",
                              "upstream_incomplete", "upstream_server_error", "upstream_unavailable",
                              "upstream_error", "upstream_malformed_response"})


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 2               # attempts after the first
    base_delay_s: float = 0.1
    max_delay_s: float = 2.0
    max_retry_after_s: float = 5.0  # a longer retry-after is the client's to wait, not a request held here


def retryable(error: APIError) -> bool:
    return error.status == 429 or error.code in _RETRYABLE_CODES


def may_fall_back(error: APIError) -> bool:
    """Another model may answer: the failure was the upstream's (retries spent, or its circuit is open)."""
    return retryable(error) or error.code == CIRCUIT_OPEN


def retry_after_s(error: APIError) -> float | None:
    """The upstream's own retry hint, in seconds (retry-after-ms first: it is the more precise)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = error.headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def backoff_s(attempt: int, error: APIError, policy: RetryPolicy, rng: random.Random) -> float | None:
    """How long to wait before retry `attempt` (1-based); None when the hint is too long to wait for here."""
    hint = retry_after_s(error)
    if hint is not None:
        return hint if hint <= policy.max_retry_after_s else None
    return rng.uniform(0, min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1)))


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy, *,
                       on_retry: Callable[[APIError], None] | None = None,
                       rng: random.Random | None = None) -> T:
    """`call()` until it succeeds, fails for good, or the retries are spent; the last error carries
    `x-should-retry` for the client's SDK."""
    rng = rng or random.Random()
    attempt = 0
    while True:
        try:
            return await call()
        except APIError as error:
            attempt += 1
            wait = backoff_s(attempt, error, policy, rng) if retryable(error) else None
            if wait is None or attempt > policy.retries:
                error.headers["x-should-retry"] = "true" if error.status == 429 and wait is None else "false"
                raise
            if on_retry is not None:
                on_retry(error)
            await asyncio.sleep(wait)
