"""The execution plan for one request: the decision applied to the body that goes upstream.

The body goes upstream byte for byte unless the decision changes it: the model (routed, or an alias resolved to
its upstream name), the messages (a minimized context), or `stream_options` (we ask for the usage chunk to price
streams exactly; the relay removes it again when the client did not ask for it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from gateway.accounting.tokens import counter_for_model
from gateway.analysis.tokens import count_parts, turn_index
from gateway.config.settings import ModelSpec, ProviderSettings, Settings
from gateway.decision.engine import Decision
from gateway.server.errors import APIError
from gateway.server.validation import ChatRequest


@dataclass(frozen=True)
class Plan:
    """What goes upstream for a decision; everything else about the request is read off the decision itself."""

    decision: Decision
    provider: ProviderSettings
    upstream_body: bytes
    strip_usage_chunk: bool
    tools: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def model(self) -> ModelSpec:
        """The model called."""
        return self.decision.choice.model

    @property
    def baseline_model(self) -> ModelSpec:
        """The model asked for: what the request would have cost as asked."""
        return self.decision.requested

    @property
    def route(self) -> str:
        """main | routed (header x-gateway-route)."""
        return "routed" if self.model.name != self.baseline_model.name else "main"

    @property
    def messages(self) -> list[dict]:
        """The messages sent upstream (after any minimizing): what usage estimates count."""
        context = self.decision.choice.context
        return context.messages if context else self.decision.messages

    @property
    def removed_prompt_tokens(self) -> int:
        """Tokens the minimized context did not send (the context saving), exact: the ledger credits them."""
        context = self.decision.choice.context
        if not context:
            return 0
        if not self.decision.analysis.tokens.estimated:
            return context.removed_tokens
        return self.baseline_prompt_tokens - self._exact_prompt(context.messages)

    @cached_property
    def baseline_prompt_tokens(self) -> int:
        """The prompt as asked, exact, for the baseline the ledger compares with. The decision estimated long unseen
        text (see `Tally`); by the time accounting runs, the backfill has usually made this recount a cache hit."""
        tokens = self.decision.analysis.tokens
        return self._exact_prompt(self.decision.messages) if tokens.estimated else tokens.total

    def _exact_prompt(self, messages: list[dict]) -> int:
        counter = counter_for_model(self.baseline_model.upstream_model)
        return count_parts(messages, self.tools, counter, turn_index(messages)).total


def model_not_found(name: str) -> APIError:
    return APIError(404, f"The model `{name}` does not exist or you do not have access to it.", param="model",
                    code="model_not_found")


def requested_model(request: ChatRequest, settings: Settings) -> ModelSpec:
    model = settings.find_model(request.model)
    if model is None or not model.is_chat:
        raise model_not_found(request.model)
    return model


def plan_request(request: ChatRequest, raw_body: bytes, settings: Settings, decision: Decision) -> Plan:
    choice = decision.choice
    model = choice.model
    changes: dict[str, object] = {}
    if model.upstream_model != request.model:
        changes["model"] = model.upstream_model
    if choice.context is not None:
        changes["messages"] = choice.context.messages
    strip_usage = request.stream and not request.include_usage
    if strip_usage:
        changes["stream_options"] = {**(request.body.get("stream_options") or {}), "include_usage": True}
    body = orjson.dumps({**request.body, **changes}) if changes else raw_body
    return Plan(decision, settings.provider_for(model), body, strip_usage, request.body.get("tools"))
