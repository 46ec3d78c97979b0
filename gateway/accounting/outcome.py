"""The accounting record of one answered request, and the response headers that report it to the client."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.accounting.cost import Usage, cost_usd, format_usd
from gateway.decision.plan import Plan


@dataclass(frozen=True)
class Outcome:
    route: str
    models: tuple[str, ...]
    cache: str
    usage: Usage
    cost_usd: float
    baseline_cost_usd: float

    @property
    def saved_usd(self) -> float:
        return max(0.0, self.baseline_cost_usd - self.cost_usd)

    def headers(self) -> dict[str, str]:
        return {
            "x-gateway-route": self.route,
            "x-gateway-model": ",".join(self.models),
            "x-gateway-cache": self.cache,
            "x-gateway-cost-usd": format_usd(self.cost_usd),
            "x-gateway-baseline-cost-usd": format_usd(self.baseline_cost_usd),
            "x-gateway-saved-usd": format_usd(self.saved_usd),
        }

    def summary(self) -> dict[str, object]:
        """The same figures as a JSON-able dict (for the SSE trailer comment and the ledger)."""
        return {"route": self.route, "model": ",".join(self.models), "cache": self.cache,
                "prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens,
                "cached_tokens": self.usage.cached_tokens, "usage_estimated": self.usage.estimated,
                "cost_usd": round(self.cost_usd, 10), "baseline_cost_usd": round(self.baseline_cost_usd, 10),
                "saved_usd": round(self.saved_usd, 10)}


def outcome_for(plan: Plan, usage: Usage, cache: str = "miss") -> Outcome:
    """Price the usage on the model used and, as the baseline, on the model the client asked for."""
    return Outcome(plan.route, (plan.model.name,), cache, usage, cost_usd(plan.model, usage),
                   cost_usd(plan.baseline_model, usage))
