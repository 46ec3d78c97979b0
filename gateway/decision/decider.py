"""analyze -> policy -> decide, for one request: shared by the chat path, `/v1/gateway/evaluate` and
`gateway policy explain`, so what an operator previews is exactly what traffic gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from gateway.accounting.tokens import Tally, counter_for_model
from gateway.analysis import analyze, count_only
from gateway.analysis.text import content_text
from gateway.analysis.tokens import turn_index
from gateway.config.settings import ModelSpec, Settings
from gateway.decision.engine import Decision, DecisionEngine
from gateway.policy.matcher import RequestFacts, match
from gateway.policy.store import PolicyStore
from gateway.server.validation import ChatRequest


@dataclass(frozen=True)
class Caller:
    """Who is asking and what they told the gateway about the request (headers or `metadata`)."""

    client: str | None = None
    tenant: str | None = None
    agent_role: str | None = None
    task_hint: str | None = None
    policy: str | None = None

    @classmethod
    def from_request(cls, headers: Mapping[str, str], request: ChatRequest, client: str | None = None,
                     tenant: str | None = None) -> "Caller":
        metadata = request.body.get("metadata") or {}
        return cls(client, tenant,
                   headers.get("x-gateway-agent-role") or metadata.get("agent_role"),
                   headers.get("x-gateway-task-type") or metadata.get("task_type"),
                   headers.get("x-gateway-policy"))


def splittable(body: Mapping) -> bool:
    """Whether parts answered separately can be merged into the answer asked for: plain text, one choice."""
    response_format = body.get("response_format")
    return (not body.get("tools") and not body.get("functions") and not body.get("logprobs")
            and (not isinstance(response_format, dict) or response_format.get("type", "text") == "text"))


@dataclass
class Decider:
    settings: Settings
    policies: PolicyStore
    engine: DecisionEngine

    async def prefetch(self, request: ChatRequest, caller: Caller) -> None:
        """Work the decision needs that can run off the event loop: the quality router's prompt embedding (not for
        a passive policy, which never asks the router)."""
        prefetch = getattr(self.engine.router, "prefetch", None)
        turn = turn_index(request.messages)
        if prefetch is not None and turn >= 0 and not self.policies.select(caller.policy).is_passive:
            await prefetch(content_text(request.messages[turn].get("content")))

    def decide(self, request: ChatRequest, requested: ModelSpec, caller: Caller) -> Decision:
        counter = counter_for_model(requested.upstream_model).tally()  # estimates long unseen text: see Tally
        try:
            return self._decide(request, requested, caller, counter)
        finally:
            counter.flush()  # exact counts of what was estimated, off the decision's path

    def _decide(self, request: ChatRequest, requested: ModelSpec, caller: Caller, counter: Tally) -> Decision:
        body = request.body
        policy = self.policies.select(caller.policy)
        analyzer = count_only if policy.is_passive else analyze
        analysis = analyzer(request.messages, body.get("tools"), counter, task_hint=caller.task_hint)
        facts = RequestFacts(
            model=request.model, analysis=analysis, agent_role=caller.agent_role,
            temperature=body.get("temperature"), tools=bool(body.get("tools")), stream=request.stream,
            client=caller.client, tenant=caller.tenant, metadata=body.get("metadata"))
        matched = match(policy, facts)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        return self.engine.decide(analysis, matched, requested, request.messages, counter,
                                  max_tokens=max_tokens, n=request.n, splittable=splittable(body),
                                  tools=body.get("tools"))

    def remember_asked(self, request: ChatRequest, requested: ModelSpec) -> None:
        """In the baseline's world every request went out as asked, so the provider cached its prefix there."""
        cache = self.engine.prompt_cache
        cache.remember(cache.asked, requested, request.messages, request.body.get("tools"), request.body)

    def remember_sent(self, model: ModelSpec, messages: list[dict], request: ChatRequest) -> None:
        """What really went out, so the next decision knows which prefixes the provider holds."""
        cache = self.engine.prompt_cache
        cache.remember(cache.sent, model, messages, request.body.get("tools"), request.body)
