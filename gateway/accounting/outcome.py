"""The accounting record of one answered request, and the response headers that report it to the client.

Savings are split by mechanism and add up exactly to baseline minus paid:
- context: the requested model's price of the prompt tokens the minimized context did not send;
- routing: the requested model's price of what was sent, minus the price actually paid on the cheaper model.
The baseline uses the real completion length and cached tokens: we cannot know how long the premium answer would
have been, and pricing it from an estimate would let the gateway flatter itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    saved_by: dict[str, float] = field(default_factory=dict)
    rule: str = ""

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
            "x-gateway-rule": self.rule,
        }

    def summary(self) -> dict[str, object]:
        """The same figures as a JSON-able dict (for the SSE trailer comment and the ledger)."""
        return {"route": self.route, "model": ",".join(self.models), "cache": self.cache, "rule": self.rule,
                "prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens,
                "cached_tokens": self.usage.cached_tokens, "usage_estimated": self.usage.estimated,
                "cost_usd": round(self.cost_usd, 10), "baseline_cost_usd": round(self.baseline_cost_usd, 10),
                "saved_usd": round(self.saved_usd, 10),
                "saved_by": {name: round(value, 10) for name, value in self.saved_by.items()}}


def outcome_for(plan: Plan, usage: Usage, cache: str = "miss") -> Outcome:
    """Price the usage on the model used; the baseline on the model asked for, with the full context."""
    paid = cost_usd(plan.model, usage)
    sent_as_asked = cost_usd(plan.baseline_model, usage)
    full = Usage(usage.prompt_tokens + plan.removed_prompt_tokens, usage.completion_tokens, usage.cached_tokens,
                 usage.estimated)
    baseline = cost_usd(plan.baseline_model, full)
    saved_by = {"routing": sent_as_asked - paid, "context": baseline - sent_as_asked}
    return Outcome(plan.route, (plan.model.name,), cache, usage, paid, baseline,
                   {name: value for name, value in saved_by.items() if value}, plan.decision.match.rule_name)


def cached_outcome(plan: Plan, answer_usage: Usage, kind: str, model: str) -> Outcome:
    """A cache hit costs nothing; the baseline is the request as asked (its full prompt, the cached answer's
    length) on the requested model, and all of it is saved by the cache that answered."""
    baseline = cost_usd(plan.baseline_model, Usage(plan.baseline_prompt_tokens, answer_usage.completion_tokens))
    return Outcome("cache", (model,), kind, answer_usage, 0.0, baseline, {f"{kind}_cache": baseline} if baseline else {},
                   plan.decision.match.rule_name)
