"""The execution plan for one request: which model and provider, with what body, priced against what baseline.

Today every request goes to the main session as asked; the routing, caching and splitting issues add options here
and pick the cheapest that keeps quality. Keeping the plan a plain value means `policy explain` and
`/v1/gateway/evaluate` can show it without running it.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from gateway.config.settings import ModelSpec, ProviderSettings, Settings
from gateway.server.errors import APIError
from gateway.server.validation import ChatRequest


@dataclass(frozen=True)
class Plan:
    route: str
    model: ModelSpec
    baseline_model: ModelSpec
    provider: ProviderSettings
    upstream_body: bytes
    # We ask the upstream for a usage chunk even when the client did not, to price streams exactly; the relay then
    # drops that chunk so the client sees what it asked for.
    strip_usage_chunk: bool


def model_not_found(name: str) -> APIError:
    return APIError(404, f"The model `{name}` does not exist or you do not have access to it.", param="model",
                    code="model_not_found")


def plan_main_session(request: ChatRequest, raw_body: bytes, settings: Settings) -> Plan:
    """Send the request as asked. The body goes upstream byte for byte unless a field must change."""
    model = settings.find_model(request.model)
    if model is None:
        raise model_not_found(request.model)
    changes: dict[str, object] = {}
    if model.upstream_model != request.model:
        changes["model"] = model.upstream_model
    strip_usage = request.stream and not request.include_usage
    if strip_usage:
        changes["stream_options"] = {**(request.body.get("stream_options") or {}), "include_usage": True}
    body = orjson.dumps({**request.body, **changes}) if changes else raw_body
    return Plan("main", model, model, settings.providers[model.provider], body, strip_usage)
