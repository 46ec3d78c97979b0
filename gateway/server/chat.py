"""`POST /v1/chat/completions`: one request's path through the gateway.

ingress (auth, parse, validate) -> analyze, policy, decide (the Decider) -> plan (the body that goes upstream) ->
cache lookup -> execute (upstream call) -> cache store -> account -> respond. The cache is looked up after the
decision because its key is what would go upstream: the model as routed and the context as minimized.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from aiohttp import web

from gateway.accounting.cost import Usage, usage_from_openai, usage_to_openai
from gateway.accounting.outcome import outcome_for
from gateway.accounting.estimate import estimate_usage
from gateway.cache.answer import completion_from_chunks
from gateway.cache.control import CacheControl
from gateway.cache.service import CacheHit
from gateway.cache.ticket import CacheTicket, issue_ticket
from gateway.decision.decider import Caller
from gateway.decision.engine import Decision
from gateway.decision.fallback import fallback_plans
from gateway.decision.plan import Plan, plan_request, requested_model
from gateway.limits.hooks import admit
from gateway.server.cached_reply import hit_headers, hit_outcome, reply_from_cache
from gateway.server.errors import APIError, upstream_error
from gateway.server.ingress import ClientIdentity, authenticate, read_chat_request, upstream_api_key
from gateway.server.split_path import respond_split
from gateway.server.state import STATE, GatewayState
from gateway.server.stream_relay import (StreamResult, estimate_headers, finish_stream, open_client_stream,
                                         relay_stream)
from gateway.server.validation import ChatRequest
from gateway.upstream.retry import CIRCUIT_OPEN, may_fall_back


@dataclass(frozen=True)
class DecidedRequest:
    """A request through ingress and the decision: what the chat path runs and `/v1/gateway/evaluate` shows."""

    client: ClientIdentity
    caller: Caller
    request: ChatRequest
    raw_body: bytes
    decision: Decision


async def decide(http_request: web.Request) -> DecidedRequest:
    state = http_request.app[STATE]
    client = authenticate(http_request, state.keys)
    request, raw_body = await read_chat_request(http_request)
    requested = requested_model(request, state.settings)
    caller = Caller.from_request(http_request.headers, request, client.name, client.tenant)
    return DecidedRequest(client, caller, request, raw_body,
                          await state.decider.decide_async(request, requested, caller))


async def chat_completions(http_request: web.Request) -> web.StreamResponse:
    state = http_request.app[STATE]
    decided = await decide(http_request)
    request, decision = decided.request, decided.decision
    state.decider.remember_asked(request, decision.requested)
    plan = plan_request(request, decided.raw_body, state.settings, decision)
    api_key = upstream_api_key(plan.provider, decided.client)
    ticket = cache_ticket(http_request, state, decided, plan, api_key)
    hit = await state.cache.lookup(ticket)
    admission = await admit(http_request, state.limits, decided.client.key, request.model, decision, hit is not None)
    try:
        return await _answer(http_request, state, decided, plan, api_key, ticket, hit)
    finally:
        await admission.settle()


async def _answer(http_request: web.Request, state: GatewayState, decided: DecidedRequest, plan: Plan,
                  api_key: str | None, ticket: CacheTicket, hit: CacheHit | None) -> web.StreamResponse:
    """From the cache, split onto workers, or upstream (with fallbacks when the model fails for good)."""
    if hit is not None:
        outcome = hit_outcome(plan, hit)
        state.ledger.record(outcome, decided.caller.agent_role)
        return await reply_from_cache(http_request, decided.request, outcome, hit, hit_headers(outcome, hit))
    if plan.decision.choice.kind == "split":
        return await respond_split(http_request, state, decided, ticket)
    try:
        return await _execute(http_request, state, decided, plan, api_key, ticket)
    except APIError as error:
        if not may_fall_back(error):
            raise
        return await _fall_back(http_request, state, decided, plan, error)


async def _execute(http_request: web.Request, state: GatewayState, decided: DecidedRequest, plan: Plan,
                   api_key: str | None, ticket: CacheTicket, breaker: bool = True) -> web.StreamResponse:
    """The upstream call for a plan; `breaker=False` calls even a model whose circuit is open."""
    request = decided.request
    if request.stream:
        return await _stream(http_request, state, request, plan.decision, plan, decided.caller, api_key, ticket,
                             breaker)
    return await _complete(state, request, plan, decided.caller, api_key, ticket, breaker)


async def _fall_back(http_request: web.Request, state: GatewayState, decided: DecidedRequest, failed: Plan,
                     error: APIError) -> web.StreamResponse:
    """The policy's fallbacks, then the model asked for; the first error stands if none of them answers. When
    every way out was refused by an open circuit (no call was even made), the first plan is called anyway: an open
    circuit is a guess about the upstream, a failed call is a fact, and a guess alone must not fail a request."""
    only_circuits = error.code == CIRCUIT_OPEN
    for plan in fallback_plans(decided.request, decided.raw_body, state.settings, failed):
        try:
            api_key = upstream_api_key(plan.provider, decided.client)
        except APIError:
            continue  # a pass-through provider the client brought no key for
        state.ledger.fallbacks += 1
        try:
            return await _execute(http_request, state, decided, plan,
                                  api_key, cache_ticket(http_request, state, decided, plan, api_key))
        except APIError as next_error:
            if not may_fall_back(next_error):
                raise
            only_circuits = only_circuits and next_error.code == CIRCUIT_OPEN
    if only_circuits:
        api_key = upstream_api_key(failed.provider, decided.client)
        return await _execute(http_request, state, decided, failed, api_key,
                              cache_ticket(http_request, state, decided, failed, api_key), breaker=False)
    raise error


def cache_ticket(http_request: web.Request, state: GatewayState, decided: DecidedRequest, plan: Plan,
                 api_key: str | None) -> CacheTicket:
    """A client paying with its own key (pass-through) shares cache entries with no one else."""
    passthrough = api_key if plan.provider.key_passthrough else None
    return issue_ticket(decided.request, plan, CacheControl.from_headers(http_request.headers),
                        state.settings.cache, decided.client.tenant, passthrough, state.cache.semantic is not None)


async def _complete(state: GatewayState, request: ChatRequest, plan: Plan, caller: Caller,
                    api_key: str | None, ticket: CacheTicket, breaker: bool = True) -> web.Response:
    """Non-streamed: the upstream's body is returned byte for byte; only its usage is read, for the cost."""
    body, answer = await state.upstream.fetch(plan.provider, "/chat/completions", plan.upstream_body,
                                              api_key=api_key, model=_breaker_key(plan, breaker),
                                              accept=lambda raw: (raw, _completion(raw, plan)))
    usage = usage_from_openai(answer.get("usage")) or estimate_usage(
        plan.model.upstream_model, plan.messages,
        (choice.get("message") for choice in answer["choices"] or () if isinstance(choice, dict)))
    outcome = outcome_for(plan, usage)
    state.record(outcome, plan, caller, request)
    await state.cache.store(ticket, answer, plan.model.name)
    return web.Response(body=body, content_type="application/json", headers=outcome.headers())


def _breaker_key(plan: Plan, breaker: bool) -> str | None:
    """The upstream model whose circuit breaker guards the call (None: call regardless)."""
    return plan.model.upstream_model if breaker else None


def _completion(body: bytes, plan: Plan) -> dict:
    """The upstream's answer as a chat.completion, or a (retryable) error: a garbled body is worth a second call."""
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict) or "choices" not in answer:
        raise upstream_error(502, f"The upstream provider '{plan.provider.name}' sent a malformed answer.",
                             "upstream_malformed_response")
    return answer


async def _stream(http_request: web.Request, state: GatewayState, request: ChatRequest, decision: Decision,
                  plan: Plan, caller: Caller, api_key: str | None, ticket: CacheTicket,
                  breaker: bool = True) -> web.StreamResponse:
    """Streamed: headers go out before the answer exists, so they carry the decision's estimate; the exact figures
    follow in an SSE comment just before `[DONE]` and in the ledger."""
    upstream = await state.upstream.open_stream(plan.provider, "/chat/completions", plan.upstream_body,
                                                api_key=api_key, model=_breaker_key(plan, breaker))
    choice = decision.choice
    estimate = Usage(choice.prompt_tokens, choice.output_tokens, choice.cached_tokens, estimated=True)
    client = await open_client_stream(http_request, estimate_headers(outcome_for(plan, estimate)))
    result = await relay_stream(client, upstream, plan)
    if result.completed:
        outcome = outcome_for(plan, result.usage)
        state.record(outcome, plan, caller, request)
        await finish_stream(client, result, outcome.summary())
        await state.cache.store(ticket, streamed_completion(result), plan.model.name)
    else:
        state.ledger.failed_requests += 1
    return client


def streamed_completion(result: StreamResult) -> dict | None:
    """The answer a completed stream carried, with its usage even when the client's copy had it stripped."""
    completion = completion_from_chunks(result.payloads)
    if completion is not None and "usage" not in completion:
        completion["usage"] = usage_to_openai(result.usage)
    return completion
