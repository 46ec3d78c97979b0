"""What one request asks of a key's limits, and what a store answers: the types both stores share.

A key is named in Redis by the first 16 hex digits of its SHA-256: stable across renames, and a hash of a random
key reveals nothing about it.
"""

from __future__ import annotations

import calendar
import secrets
import time
from dataclasses import dataclass, field

from gateway.config.key_settings import KeyLimits

WINDOW_S = 60               # rate limits are per minute (a fixed window that starts at the first request)
_GRACE_S = 3600             # a budget's counters outlive their period a little, so late settlements still land


@dataclass(frozen=True)
class Ask:
    key_id: str
    limits: KeyLimits
    usd: float                 # the decision's estimate, reserved until the answer is priced
    tokens: int                # estimated prompt + answer tokens, counted now and corrected at settlement
    period_id: str             # which budget period the reservation belongs to
    period_ttl_s: int          # seconds until that period's counters may go (0: never)
    hold_id: str = field(default_factory=lambda: secrets.token_hex(8))   # names the reservation until it is settled


@dataclass(frozen=True)
class Verdict:
    refused: str | None        # None, or what refused: requests | tokens | budget
    requests: int              # requests in the current window (this one included when admitted)
    requests_reset_s: float
    tokens: int
    tokens_reset_s: float
    spent_usd: float
    reserved_usd: float


def make_ask(key_sha256: str, limits: KeyLimits, usd: float, tokens: int, now: float | None = None) -> Ask:
    period_id, ttl = budget_period(limits.budget.period if limits.budget else "total", now)
    return Ask(key_sha256[:16], limits, max(0.0, usd) if limits.budget else 0.0, max(0, tokens), period_id, ttl)


def budget_period(period: str, now: float | None = None) -> tuple[str, int]:
    """The period's id (UTC calendar) and the seconds its counters must live: until its end, plus a grace."""
    now = time.time() if now is None else now
    day = time.gmtime(now)
    if period == "day":
        end = calendar.timegm((day.tm_year, day.tm_mon, day.tm_mday, 0, 0, 0)) + 86400
        return time.strftime("%Y%m%d", day), int(end - now) + _GRACE_S
    if period == "month":
        year, month = (day.tm_year + 1, 1) if day.tm_mon == 12 else (day.tm_year, day.tm_mon + 1)
        end = calendar.timegm((year, month, 1, 0, 0, 0))
        return time.strftime("%Y%m", day), int(end - now) + _GRACE_S
    return "total", 0


def period_reset_s(ask: Ask) -> int | None:
    """Seconds until the budget renews (None for a total budget, which never does)."""
    return max(1, ask.period_ttl_s - _GRACE_S) if ask.period_ttl_s else None
