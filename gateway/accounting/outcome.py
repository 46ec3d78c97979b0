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
    """Price the usage on the model used; the baseline on the model asked for, with the full context. The
    baseline's cached tokens are the provider's own count when the request went out as asked, else what the
    provider would have cached had every request gone out as asked (see decision/prompt_cache.py): trimming a
    history the provider had cached saves the cached price of it, not the full one."""
    paid = cost_usd(plan.model, usage)
    removed = plan.removed_prompt_tokens
    prompt = usage.prompt_tokens + removed
    cached = usage.cached_tokens if plan.route == "main" and not removed else plan.decision.baseline_cached_tokens
    baseline = cost_usd(plan.baseline_model, Usage(prompt, usage.completion_tokens, min(cached, prompt)))
    # What was sent, on the model asked for: the routing share is the rest (all of it when nothing was trimmed).
    sent_as_asked = cost_usd(plan.baseline_model, usage) if removed else baseline
    saved_by = {"routing": sent_as_asked - paid, "context": baseline - sent_as_asked}
    return Outcome(plan.route, (plan.model.name,), cache, usage, paid, baseline,
                   {name: value for name, value in saved_by.items() if value}, plan.decision.match.rule_name)


def cached_outcome(plan: Plan, answer_usage: Usage, kind: str, model: str) -> Outcome:
    """A cache hit costs nothing; the baseline is the request as asked (its full prompt, the cached answer's
    length) on the requested model, and all of it is saved by the cache that answered."""
    prompt = plan.baseline_prompt_tokens
    baseline = cost_usd(plan.baseline_model, Usage(prompt, answer_usage.completion_tokens,
                                                    min(plan.decision.baseline_cached_tokens, prompt)))
    return Outcome("cache", (model,), kind, answer_usage, 0.0, baseline, {f"{kind}_cache": baseline} if baseline else {},
                   plan.decision.match.rule_name)
