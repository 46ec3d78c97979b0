"""The two places the HTTP layer meets the limits: admitting a chat request, and stamping its response headers.

The x-ratelimit-* headers are added when a response is prepared (aiohttp's on_response_prepare signal), so plain,
cached and streamed answers all carry them without each path setting them.
"""

from __future__ import annotations

from aiohttp import web

from gateway.config.settings import ClientKey
from gateway.decision.engine import Decision
from gateway.limits.service import Admission, LimitService

ADMISSION = "gateway_admission"


async def admit(http_request: web.Request, limits: LimitService, key: ClientKey | None, model: str,
                decision: Decision, cache_hit: bool) -> Admission:
    """A cache hit costs nothing: it counts as a request in the rate window but reserves no money or tokens."""
    choice = decision.choice
    usd, tokens = (0.0, 0) if cache_hit else (choice.cost_usd, choice.prompt_tokens + choice.output_tokens)
    admission = await limits.admit(key, model, usd, tokens)
    http_request[ADMISSION] = admission
    return admission


async def stamp_rate_headers(http_request: web.Request, response: web.StreamResponse) -> None:
    admission = http_request.get(ADMISSION)
    if admission is not None:
        for name, value in admission.headers().items():
            response.headers.setdefault(name, value)
