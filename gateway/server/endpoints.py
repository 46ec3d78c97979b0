"""The endpoints around chat completions: model list, embeddings pass-through, health, readiness and stats."""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway.accounting.cost import Usage, cost_usd, format_usd
from gateway.accounting.tokens import counter_for_encoding
from gateway.cache.redis_link import RedisLink
from gateway.decision.plan import model_not_found
from gateway.decision.report import decision_report
from gateway.server.errors import invalid
from gateway.decision.plan import plan_request
from gateway.server.chat import cache_ticket, decide
from gateway.server.ingress import authenticate, read_json_body, upstream_api_key
from gateway.server.state import STATE

_CATALOG_CREATED = 1700000000  # the catalog has no creation dates; a fixed value keeps the list stable


async def list_models(request: web.Request) -> web.Response:
    state = request.app[STATE]
    authenticate(request, state.keys)
    data = [{"id": spec.name, "object": "model", "created": _CATALOG_CREATED, "owned_by": spec.provider}
            for spec in state.settings.catalog()]
    return web.json_response({"object": "list", "data": data})


async def embeddings(request: web.Request) -> web.Response:
    """Pass-through to the model's provider, priced from the reported usage."""
    state = request.app[STATE]
    client = authenticate(request, state.keys)
    body, raw = await read_json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise invalid("You must provide a model parameter.", "model", "missing_required_parameter")
    if not isinstance(body.get("input"), (str, list)) or not body["input"]:
        raise invalid("'input' must be a non-empty string or array.", "input", "missing_required_parameter")
    spec = state.settings.find_model(body["model"])
    if spec is None:
        raise model_not_found(body["model"])
    provider = state.settings.provider_for(spec)
    if spec.upstream_model != body["model"]:
        raw = orjson.dumps({**body, "model": spec.upstream_model})
    payload = await state.upstream.fetch(provider, "/embeddings", raw, api_key=upstream_api_key(provider, client))
    cost = format_usd(cost_usd(spec, Usage(prompt_tokens=_embedding_tokens(payload))))
    return web.Response(body=payload, content_type="application/json", headers={
        "x-gateway-route": "main", "x-gateway-model": spec.name, "x-gateway-cache": "miss",
        "x-gateway-cost-usd": cost, "x-gateway-baseline-cost-usd": cost, "x-gateway-saved-usd": "0"})


def _embedding_tokens(payload: bytes) -> int:
    try:
        usage = orjson.loads(payload).get("usage") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return 0
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return tokens if isinstance(tokens, int) else 0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when config is loaded; reports (never the secrets) which keys, tokenizer and Redis are in use."""
    state = request.app[STATE]
    settings = state.settings
    providers = {name: {"base_url": p.base_url, "key": "passthrough" if p.key_passthrough else
                        ("configured" if p.api_key else "missing")} for name, p in settings.providers.items()}
    tokenizers = {name: {"source": c.source, "approximate": c.approximate}
                  for name, c in ((n, counter_for_encoding(n)) for n in ("o200k_base", "cl100k_base"))}
    redis_state = await _redis_state(state.cache.redis)
    status = "ok" if redis_state in ("ok", "not configured") else "degraded"
    policies = state.decider.policies.status()
    if policies["errors"] or state.keys.error:
        status = "degraded"
    return web.json_response({"status": status, "config": settings.source_file, "models": len(settings.catalog()),
                              "providers": providers, "tokenizers": tokenizers, "redis": redis_state,
                              "cache": state.cache.status(), "limits": state.limits.status(),
                              "open_circuits": state.upstream.breakers.not_closed(),
                              "policies": policies, "router": "loaded" if state.decider.engine.router else "none",
                              "client_auth": "keys" if state.keys.required else "open",
                              "client_keys": state.keys.status()})


async def _redis_state(link: RedisLink) -> str:
    """ok, not configured, or unreachable (the gateway then serves from memory and upstream)."""
    if not link.configured:
        return "not configured"
    return "ok" if await link.ping() else "unreachable"


async def evaluate(request: web.Request) -> web.Response:
    """The decision for a chat request without running it: the chat path's own ingress and decision."""
    decided = await decide(request)
    report = decision_report(decided.decision)
    state = request.app[STATE]
    plan = plan_request(decided.request, decided.raw_body, state.settings, decided.decision)
    ticket = cache_ticket(request, state, decided, plan, upstream_api_key(plan.provider, decided.client))
    hit = await state.cache.lookup(ticket, count=False)
    report["cache"] = ({"hit": hit.kind, "tier": hit.tier, "similarity": round(hit.similarity, 4),
                        "model": hit.answer.model} if hit else {"hit": None, "exact": ticket.key is not None,
                                                               "semantic": ticket.namespace is not None,
                                                               "why_not": ticket.why_not})
    if hit is not None:
        report.update(decision="cache", model=hit.answer.model, estimated_cost_usd=0.0)
        report["reasons"].append(f"answered from the {hit.kind} cache ({hit.tier})")
    return web.json_response(report, dumps=_dumps)


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    authenticate(request, state.keys)
    return web.json_response(state.ledger.snapshot())

