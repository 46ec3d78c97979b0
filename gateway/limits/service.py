"""Admission and settlement of one request against its key's limits.

`admit` checks the model, then reserves the request's estimated cost and counts it in the rate windows (in Redis;
in this replica's memory while Redis is unreachable). `charge` adds each priced answer to the request's admission
(GatewayState.record calls it, so every answering path is covered), and `settle` turns the reservation into spend
at the actual cost, or releases it when nothing was answered. Spend is the gateway's actual cost, so what the
cache, routing and splitting save also stretches a key's budget.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token
from fnmatch import fnmatchcase
from typing import Any

from gateway.accounting.outcome import Outcome
from gateway.cache.redis_link import RedisLink
from gateway.config.settings import ClientKey
from gateway.limits.ask import Ask, Verdict, make_ask
from gateway.limits.local_store import LocalLimitStore
from gateway.limits.redis_store import RedisLimitStore
from gateway.limits.replies import model_not_allowed, rate_headers, refusal

log = logging.getLogger(__name__)
_CURRENT: ContextVar["Admission | None"] = ContextVar("gateway_admission", default=None)


class Admission:
    """One admitted request: its reservation, what it has cost so far, and its rate-limit headers."""

    def __init__(self, service: "LimitService | None" = None, ask: Ask | None = None, verdict: Verdict | None = None,
                 shared: bool = True) -> None:
        self.service, self.ask, self.verdict, self.shared = service, ask, verdict, shared
        self.cost_usd = 0.0
        self.tokens = 0
        self._token: Token | None = _CURRENT.set(self) if ask is not None else None

    def headers(self) -> dict[str, str]:
        return rate_headers(self.ask, self.verdict) if self.ask and self.verdict else {}

    async def settle(self) -> None:
        """Always called once (finally): spend the actual cost, release the rest of the reservation."""
        if self._token is not None:
            _CURRENT.reset(self._token)
            self._token = None
            await self.service.settle(self)


UNLIMITED = Admission()


def charge(outcome: Outcome) -> None:
    """Count an answer's actual cost and tokens against the current request's admission (if its key has limits)."""
    admission = _CURRENT.get()
    if admission is not None:
        admission.cost_usd += outcome.cost_usd
        admission.tokens += outcome.usage.total_tokens if outcome.cache == "miss" else 0


class LimitService:
    def __init__(self, link: RedisLink, prefix: str, reservation_timeout_s: float = 900.0) -> None:
        self.link = link
        self.shared = RedisLimitStore(link, prefix, reservation_timeout_s)
        self.local = LocalLimitStore()
        self.refused: dict[str, int] = {}
        self.local_admissions = 0           # admissions decided by this replica alone (Redis unreachable)
        self.lost_settlements = 0           # reservations Redis could not settle (released at their deadline)
        self._fell_back = False

    async def admit(self, key: ClientKey | None, model: str, usd: float, tokens: int) -> Admission:
        """Raises the client's 403/429; returns the admission to settle when the request is over."""
        if key is None:
            return UNLIMITED
        limits = key.limits
        if limits.models and not any(fnmatchcase(model, pattern) for pattern in limits.models):
            self._count("model")
            raise model_not_allowed(model)
        if not limits.limited:
            return UNLIMITED
        ask = make_ask(key.key_sha256, limits, usd, tokens)
        verdict = await self.shared.admit(ask)
        shared = verdict is not None
        self._fell_back = self.link.configured and not shared
        if not shared:
            self.local_admissions += self.link.configured
            verdict = await self.local.admit(ask)
        if verdict.refused:
            self._count(verdict.refused)
            raise refusal(ask, verdict)
        return Admission(self, ask, verdict, shared)

    async def settle(self, admission: Admission) -> None:
        ask = admission.ask
        if admission.shared:
            if await self.shared.settle(ask, admission.cost_usd, admission.tokens):
                return
            self.lost_settlements += 1
            log.warning("could not settle a reservation of $%.6f in Redis; it is released at its deadline", ask.usd)
        await self.local.settle(ask, admission.cost_usd, admission.tokens)

    def status(self) -> dict[str, Any]:
        """For /readyz and /metrics: where limits are enforced right now."""
        if not self.link.configured:
            state = "local"             # no Redis configured: per-replica limits by design
        else:
            state = "degraded" if self._fell_back or self.link.state != "ok" else "ok"
        return {"state": state, "store": "local" if state != "ok" else "redis",
                "local_admissions": self.local_admissions, "lost_settlements": self.lost_settlements,
                "expired_reservations": self.shared.expired_holds,
                "refused": dict(self.refused)}

    def _count(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1
