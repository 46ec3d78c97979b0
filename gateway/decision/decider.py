"""analyze -> policy -> decide, for one request: shared by the chat path, `/v1/gateway/evaluate` and
`gateway policy explain`, so what an operator previews is exactly what traffic gets."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping

from gateway.accounting.tokens import Tally, counter_for_model
from gateway.analysis import analyze, count_only
from gateway.analysis.types import Analysis
from gateway.analysis.text import content_text
from gateway.analysis.tokens import turn_index
from gateway.config.settings import ModelSpec, Settings
from gateway.decision.engine import Decision, DecisionEngine
from gateway.policy.matcher import RequestFacts, match
from gateway.policy.schema import Match
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
        """Work the decision may need that can run off the event loop: the quality router's prompt embedding (not
        for a passive policy, which never asks the router). For callers that decide with `decide` afterwards."""
        if not self.policies.select(caller.policy).is_passive:
            await self._embed_turn(request)

    async def decide_async(self, request: ChatRequest, requested: ModelSpec, caller: Caller) -> Decision:
        """The chat path's decision: the analysis and the matching rule first, then the router's prompt embedding
        off the event loop, only when the rule will ask the router. A request its rule runs as asked or on a named
        model (tool-calling agents under the shipped policies) never pays for the model run."""
        with _tally(requested) as counter:
            analysis, matched = self._analyzed(request, caller, counter)
            if _consults_router(analysis, matched):
                await self._embed_turn(request)
            return self._priced(request, requested, analysis, matched, counter)

    def decide(self, request: ChatRequest, requested: ModelSpec, caller: Caller) -> Decision:
        """The decision in one synchronous call (the CLI, benchmarks): a router that needs an embedding not yet
        made embeds on the spot."""
        with _tally(requested) as counter:
            analysis, matched = self._analyzed(request, caller, counter)
            return self._priced(request, requested, analysis, matched, counter)

    async def _embed_turn(self, request: ChatRequest) -> None:
        prefetch = getattr(self.engine.router, "prefetch", None)
        turn = turn_index(request.messages)
        if prefetch is not None and turn >= 0:
            await prefetch(content_text(request.messages[turn].get("content")))

    def _analyzed(self, request: ChatRequest, caller: Caller, counter: Tally) -> tuple[Analysis, Match]:
        """analyze -> policy: what the request is, and the rule that applies to it."""
        body = request.body
        policy = self.policies.select(caller.policy)
        analyzer = count_only if policy.is_passive else analyze
        analysis = analyzer(request.messages, body.get("tools"), counter, task_hint=caller.task_hint)
        facts = RequestFacts(
            model=request.model, analysis=analysis, agent_role=caller.agent_role,
            temperature=body.get("temperature"), tools=bool(body.get("tools")), stream=request.stream,
            client=caller.client, tenant=caller.tenant, metadata=body.get("metadata"))
        return analysis, match(policy, facts)

    def _priced(self, request: ChatRequest, requested: ModelSpec, analysis: Analysis, matched: Match,
                counter: Tally) -> Decision:
        body = request.body
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


@contextmanager
def _tally(requested: ModelSpec) -> Iterator[Tally]:
    """One decision's token counter (it estimates long unseen text: see Tally); the exact counts of what it
    estimated are handed to the backfill thread once the decision is made, off the decision's path."""
    counter = counter_for_model(requested.upstream_model).tally()
    try:
        yield counter
    finally:
        counter.flush()


def _consults_router(analysis: Analysis, matched: Match) -> bool:
    """Whether the engine will ask the quality router (see DecisionEngine.decide): a route it may judge, and an
    analysis sure enough that the request is not simply run as asked."""
    actions = matched.actions
    return actions.route.mode in ("auto", "tier", "candidates") and analysis.confidence >= actions.min_confidence
