"""Circuit breakers, one per upstream model: stop sending traffic to a model that keeps failing, probe it now and
then, and let the fallbacks answer meanwhile.

Without one, every request to a dead upstream pays the full retry schedule (and the upstream, if it is merely
overloaded, gets more load exactly when it needs less). A breaker opens after `failures_to_open` consecutive
failures (5xx, resets, timeouts; a 429 or a client error says the upstream is alive and counts as neither), fails
calls fast while open, and after `cooldown_s` lets one probe through (half-open): success closes it, failure opens
it again for twice as long, up to `max_cooldown_s`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class CircuitBreaker:
    failures_to_open: int = 5
    cooldown_s: float = 5.0
    max_cooldown_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    state: str = CLOSED
    failures: int = 0
    opened: int = 0                  # times it opened (for /metrics)
    _open_until: float = 0.0
    _current_cooldown_s: float = field(default=0.0, repr=False)

    def allow(self) -> bool:
        """May a call go out now? While half-open, only the one probe may."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN and self.clock() >= self._open_until:
            self.state = HALF_OPEN
            return True
        return False

    def record(self, success: bool) -> None:
        if success:
            self.state, self.failures, self._current_cooldown_s = CLOSED, 0, 0.0
            return
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.failures_to_open:
            self._open()

    def _open(self) -> None:
        self._current_cooldown_s = min(self.max_cooldown_s, self._current_cooldown_s * 2 or self.cooldown_s)
        self._open_until = self.clock() + self._current_cooldown_s
        self.state = OPEN
        self.opened += 1


@dataclass
class Breakers:
    """The breakers of one gateway process, by upstream (provider/model)."""

    make: Callable[[], CircuitBreaker] = CircuitBreaker
    by_upstream: dict[str, CircuitBreaker] = field(default_factory=dict)

    def get(self, upstream: str) -> CircuitBreaker:
        breaker = self.by_upstream.get(upstream)
        if breaker is None:
            breaker = self.by_upstream[upstream] = self.make()
        return breaker

    def not_closed(self) -> dict[str, str]:
        return {name: b.state for name, b in sorted(self.by_upstream.items()) if b.state != CLOSED}
