"""Every response carries `x-request-id`; every failure becomes an OpenAI error object, never a traceback."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from typing import Awaitable, Callable

from aiohttp import web

from gateway.server.errors import APIError, from_http_exception, internal_error
from gateway.server.state import REQUEST_ID, STATE
from gateway.server.timing import start_request

log = logging.getLogger(__name__)

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def request_id_for(request: web.Request) -> str:
    """Keep a well-formed id the client sent (to correlate logs end to end), else make one."""
    given = request.headers.get("x-request-id")
    return given if given and _CLIENT_REQUEST_ID.match(given) else "req_" + secrets.token_hex(12)


@web.middleware
async def openai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request_id_for(request)
    request[REQUEST_ID] = request_id
    timing = start_request(request.app[STATE].telemetry)
    try:
        response = await handler(request)
    except APIError as exc:
        if exc.status >= 500:
            log.warning("request %s: %s (%s)", request_id, exc.message, exc.code)
        response = exc.to_response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = from_http_exception(exc).to_response()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("request %s failed", request_id)
        response = internal_error(request_id).to_response()
    timing.finish(request, response)
    return response


async def stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, streams included: a stream's headers leave from inside the handler, before the middleware
    sees its response, and this signal runs just before any response's headers are sent."""
    request_id = request.get(REQUEST_ID)
    if request_id:
        response.headers["x-request-id"] = request_id
