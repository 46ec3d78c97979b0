"""What the request handlers share: settings, policies, the decision engine, the upstream pool and the ledger."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from aiohttp import web

from gateway.accounting.ledger import Ledger
from gateway.accounting.outcome import Outcome
from gateway.cache.service import CacheService
from gateway.config.settings import Settings
from gateway.decision.decider import Caller, Decider
from gateway.decision.engine import DecisionEngine, Router
from gateway.decision.plan import Plan
from gateway.limits.key_store import KeyStore
from gateway.limits.service import LimitService, charge
from gateway.policy.loader import Catalog
from gateway.policy.store import PolicyStore
from gateway.server.timing import Telemetry
from gateway.server.validation import ChatRequest
from gateway.upstream.client import UpstreamClient

log = logging.getLogger(__name__)


@dataclass
class GatewayState:
    settings: Settings
    decider: Decider
    cache: CacheService
    upstream: UpstreamClient = field(default_factory=UpstreamClient)
    ledger: Ledger = field(default_factory=Ledger)
    telemetry: Telemetry = field(default_factory=Telemetry)
    limits: LimitService | None = None
    keys: KeyStore | None = None

    def __post_init__(self) -> None:
        if self.keys is None:
            self.keys = KeyStore(self.settings)
        if self.limits is None:  # shares the cache's Redis link: one connection pool, one view of Redis's health
            self.limits = LimitService(self.cache.redis, self.settings.cache.redis_prefix,
                                       self.settings.auth.reservation_timeout_s)

    @classmethod
    def create(cls, settings: Settings) -> "GatewayState":
        """Loads the policies (a broken file stops start-up with every mistake listed) and the router."""
        return cls(settings, Decider(settings, load_policies(settings), DecisionEngine(settings, load_router())),
                   CacheService.from_settings(settings))

    def record(self, outcome: Outcome, plan: Plan, caller: Caller, request: ChatRequest) -> None:
        """Account for an answered request, and teach the answer-length model what it really produced and the
        prompt-cache model what the provider now holds (a split's workers sent other prompts than the plan's)."""
        self.ledger.record(outcome, caller.agent_role)
        charge(outcome)
        analysis = plan.decision.analysis
        self.decider.engine.lengths.observe(analysis.task_type, analysis.tokens.last_user,
                                            outcome.usage.completion_tokens // max(1, request.n))
        if not outcome.route.startswith("split"):
            self.decider.remember_sent(plan.model, plan.messages, request)


ROUTER_ENV = "GATEWAY_ROUTER"  # auto (embedding when the local model loads) | words | embedding


def load_router() -> Router | None:
    """The quality router shipped in the package; without it, auto-routing takes a cheaper model only where a
    policy accepts any quality risk (quality_risk 1). `GATEWAY_ROUTER=words` trades the embedding router's better
    picks for its cost: one model run per request (~3 ms CPU for a short prompt, up to ~50 ms for a long one)."""
    try:
        from gateway.routing.quality import QualityRouter

        return QualityRouter.load_default(os.environ.get(ROUTER_ENV, "auto"))
    except (ImportError, FileNotFoundError, KeyError, ValueError) as exc:
        log.warning("quality router unavailable (%s); auto-routing stays with the requested model", exc)
        return None


def load_policies(settings: Settings) -> PolicyStore:
    store = PolicyStore(settings.policies.paths, settings.policies.default, settings.policies.client_selectable,
                        Catalog.from_settings(settings))
    store.load()
    return store


STATE = web.AppKey("gateway_state", GatewayState)
REQUEST_ID = "gateway_request_id"
