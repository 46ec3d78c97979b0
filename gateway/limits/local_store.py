"""The per-replica store: the same checks as the Redis scripts, in process memory, for when Redis is unreachable.

Each replica then enforces each key's full limits on its own (N replicas may let through up to N times a limit):
serving every request matters more than exact sharing during an outage, and /readyz reports it.
"""

from __future__ import annotations

import time
from typing import Callable

from gateway.limits.ask import WINDOW_S, Ask, Verdict


class _Window:
    """A fixed window that starts with its first count, like the Redis counter with its expiry."""

    def __init__(self) -> None:
        self.count = 0
        self.ends_at = 0.0

    def current(self, now: float) -> int:
        if now >= self.ends_at:
            self.count, self.ends_at = 0, 0.0
        return self.count

    def add(self, amount: int, now: float) -> None:
        if self.current(now) == 0 and not self.ends_at:
            self.ends_at = now + WINDOW_S
        self.count += amount

    def reset_s(self, now: float) -> float:
        return max(0.0, self.ends_at - now) if self.ends_at else 0.0


class LocalLimitStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._requests: dict[str, _Window] = {}
        self._tokens: dict[str, _Window] = {}
        self._budgets: dict[tuple[str, str], list[float]] = {}    # (key, period) -> [spent, reserved]

    async def admit(self, ask: Ask) -> Verdict:
        now, limits = self._clock(), ask.limits
        requests = self._requests.setdefault(ask.key_id, _Window())
        tokens = self._tokens.setdefault(ask.key_id, _Window())
        spent, reserved = self._budgets.setdefault((ask.key_id, ask.period_id), [0.0, 0.0])
        refused = None
        if limits.requests_per_minute and requests.current(now) + 1 > limits.requests_per_minute:
            refused = "requests"
        elif limits.tokens_per_minute and ask.tokens and tokens.current(now) + ask.tokens > limits.tokens_per_minute:
            refused = "tokens"
        elif limits.budget and ask.usd > 0 and spent + reserved + ask.usd > limits.budget.usd:
            refused = "budget"
        else:
            requests.add(1, now)
            tokens.add(ask.tokens, now) if ask.tokens else None
            self._budgets[(ask.key_id, ask.period_id)][1] += ask.usd
        spent, reserved = self._budgets[(ask.key_id, ask.period_id)]
        return Verdict(refused, requests.current(now), requests.reset_s(now), tokens.current(now),
                       tokens.reset_s(now), spent, reserved)

    async def settle(self, ask: Ask, usd: float, tokens: int) -> bool:
        budget = self._budgets.setdefault((ask.key_id, ask.period_id), [0.0, 0.0])
        budget[0] += usd if ask.limits.budget else 0.0
        budget[1] = max(0.0, budget[1] - ask.usd)
        window = self._tokens.get(ask.key_id)
        if window is not None and window.current(self._clock()):
            window.count = max(0, window.count + tokens - ask.tokens)
        return True
