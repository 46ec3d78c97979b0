"""Running totals of what the gateway paid, what requests would have cost as asked, and what was saved.

In-process and lock-free (one event loop); `/v1/gateway/stats` reads it. Persistent ledgers and per-role breakdowns
come with the accounting work; this keeps the totals every later mechanism reports into.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator

from gateway.accounting.history import History
from gateway.accounting.outcome import Outcome


@dataclass
class Totals:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    baseline_cost_usd: float = 0.0
    saved_by: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, outcome: Outcome) -> None:
        self.requests += 1
        self.prompt_tokens += outcome.usage.prompt_tokens
        self.completion_tokens += outcome.usage.completion_tokens
        self.cost_usd += outcome.cost_usd
        self.baseline_cost_usd += outcome.baseline_cost_usd
        for mechanism, amount in outcome.saved_by.items():
            self.saved_by[mechanism] += amount

    def as_dict(self) -> dict[str, float | int]:
        return {"requests": self.requests, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cost_usd": round(self.cost_usd, 8),
                "baseline_cost_usd": round(self.baseline_cost_usd, 8),
                "saved_usd": round(max(0.0, self.baseline_cost_usd - self.cost_usd), 8),
                "saved_by": {name: round(amount, 8) for name, amount in self.saved_by.items()}}


@dataclass
class SplitCounters:
    """How splitting fares: requests split, workers run, failures and what recovered them, integration checks
    (every subtask answered, in order, no duplicates), and workers cancelled because the client left."""

    requests: int = 0
    workers: int = 0
    worker_failures: int = 0
    retries: int = 0
    main_model_fallbacks: int = 0
    main_session_fallbacks: int = 0
    integration_success: int = 0
    integration_failure: int = 0
    workers_cancelled: int = 0
    workers_in_flight: int = 0  # a gauge, not a count: workers calling upstream right now

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Count a worker as in flight while it runs (the dashboard's and /metrics' gauge)."""
        self.workers_in_flight += 1
        try:
            yield
        finally:
            self.workers_in_flight -= 1


@dataclass
class Ledger:
    total: Totals = field(default_factory=Totals)
    by_model: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    by_route: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    by_role: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    failed_requests: int = 0
    fallbacks: int = 0              # requests answered (or tried) on a fallback model after their model failed
    split: SplitCounters = field(default_factory=SplitCounters)
    history: History = field(default_factory=History)

    def record(self, outcome: Outcome, agent_role: str | None = None) -> None:
        self.total.add(outcome)
        self.by_model[",".join(outcome.models)].add(outcome)
        self.by_route[outcome.route].add(outcome)
        self.by_role[agent_role or "none"].add(outcome)
        self.history.add(outcome)

    def snapshot(self) -> dict[str, object]:
        return {"total": self.total.as_dict(), "failed_requests": self.failed_requests, "fallbacks": self.fallbacks, "split": self.split.as_dict(),
                "by_model": {name: totals.as_dict() for name, totals in self.by_model.items()},
                "by_route": {name: totals.as_dict() for name, totals in self.by_route.items()},
                "by_agent_role": {name: totals.as_dict() for name, totals in self.by_role.items()}}
