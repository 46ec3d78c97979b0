"""Answering a request from the cache: the cached completion as one body, or replayed as an SSE stream."""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from gateway.accounting.cost import usage_from_openai, Usage
from gateway.accounting.outcome import Outcome, cached_outcome
from gateway.cache.replay import completion_body, stream_events
from gateway.cache.service import CacheHit
from gateway.decision.plan import Plan
from gateway.server.sse import comment_event
from gateway.server.stream_relay import COST_COMMENT, open_client_stream
from gateway.server.validation import ChatRequest


def hit_outcome(plan: Plan, hit: CacheHit) -> Outcome:
    usage = usage_from_openai(hit.answer.usage) or Usage()
    return cached_outcome(plan, Usage(usage.prompt_tokens, usage.completion_tokens, usage.prompt_tokens),
                          hit.kind, hit.answer.model)


def hit_headers(outcome: Outcome, hit: CacheHit) -> dict[str, str]:
    headers = {**outcome.headers(), "x-gateway-cache-tier": hit.tier,
               "x-gateway-cache-age": str(max(0, int(time.time() - hit.answer.stored_at)))}
    if hit.kind == "semantic":
        headers["x-gateway-cache-similarity"] = f"{hit.similarity:.3f}"
    return headers


async def reply_from_cache(http_request: web.Request, request: ChatRequest, outcome: Outcome,
                           hit: CacheHit, headers: dict[str, str]) -> web.StreamResponse:
    if not request.stream:
        return web.Response(body=orjson.dumps(completion_body(hit.answer)), content_type="application/json",
                            headers=headers)
    client = await open_client_stream(http_request, headers)
    events = stream_events(hit.answer, request.include_usage)
    events.insert(-1, comment_event(COST_COMMENT, outcome.summary()))  # just before [DONE], as on a live stream
    try:
        await client.write(b"".join(events))
    except ConnectionError:
        pass
    return client
