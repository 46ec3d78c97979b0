"""Where a request goes when its model fails for good (after the upstream client's retries): the policy's
`fallbacks` in order, then the model asked for, when the decision had chosen another. Each is a whole plan, so the
answer is priced on the model that actually gave it and the headers name it."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterator

from gateway.config.settings import Settings
from gateway.decision.engine import Decision
from gateway.decision.plan import Plan, plan_request
from gateway.server.validation import ChatRequest


def fallback_plans(request: ChatRequest, raw_body: bytes, settings: Settings, first: Plan) -> Iterator[Plan]:
    """The plans after `first`, each on a chat model not tried yet."""
    decision = first.decision
    tried = {first.model.name}
    for name in (*decision.match.actions.fallbacks, decision.requested.name):
        model = settings.find_model(name)
        if model is None or not model.is_chat or model.name in tried:
            continue
        tried.add(model.name)
        yield plan_request(request, raw_body, settings, _on(decision, model.name, settings))


def _on(decision: Decision, name: str, settings: Settings) -> Decision:
    model = settings.find_model(name)
    choice = replace(decision.choice, model=model, note=f"fallback to {name}: {decision.choice.model.name} failed")
    return replace(decision, choice=choice)
