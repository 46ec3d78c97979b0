"""Relays an upstream SSE stream to the client event by event, reading the usage on the way.

Events are forwarded as soon as they are complete (one write per network read, never the whole stream buffered).
Only events that can carry the usage or an error are fully parsed; every other event gets a structural check (a
JSON object, whole), which catches the usual corruption, a chunk cut short, at a fraction of the CPU, because this
loop runs once per token. A stream that fails after it started (cut, malformed, idle timeout) ends with a
`data: {"error": ...}` event and no `[DONE]`, so clients can tell an incomplete answer from a complete one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterator

import aiohttp
import orjson
from aiohttp import web

from gateway.accounting.cost import Usage, usage_from_openai
from gateway.accounting.estimate import estimate_usage
from gateway.accounting.outcome import Outcome
from gateway.decision.plan import Plan
from gateway.server.errors import APIError, upstream_error
from gateway.server.sse import DONE, EventSplitter, comment_event, error_event, event_data
from gateway.upstream.client import stream_chunks, stream_timeout, transport_error

log = logging.getLogger(__name__)

_USAGE_NULLS = (b',"usage":null', b', "usage": null')
COST_COMMENT = "x-gateway-cost"


@dataclass
class StreamResult:
    """What the relay learned: the usage (reported or estimated), whether the stream completed, and the last
    events, held back so that they leave in one write with the cost comment and `[DONE]`."""

    usage: Usage
    completed: bool
    error: APIError | None = None
    tail: bytes = b""
    payloads: list[bytes] = field(default_factory=list)  # the chunks forwarded (the cache rebuilds the answer)


@dataclass
class _RelayState:
    usage: Usage | None = None
    done: bool = False
    tail: bytes = b""
    # The forwarded payloads, kept (not copied) in case the upstream never reports usage and we must count it.
    payloads: list[bytes] = field(default_factory=list)


class _StreamFailure(Exception):
    def __init__(self, error: APIError):
        self.error = error


def estimate_headers(estimate: Outcome) -> dict[str, str]:
    """A stream's headers leave before the answer exists, so they report an estimate and say so (the exact figures
    follow in the cost comment)."""
    return {**estimate.headers(), "x-gateway-cost-basis": "estimate"}


async def open_client_stream(http_request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={
        **headers, "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no"})
    await response.prepare(http_request)
    return response


async def relay_stream(client: web.StreamResponse, upstream: aiohttp.ClientResponse, plan: Plan) -> StreamResult:
    """Forward until `[DONE]`; returns before writing `[DONE]` so the caller can append the cost comment."""
    state = _RelayState()
    error: APIError | None = None
    try:
        await _pump(client, upstream, plan, state)
        if not state.done:
            error = upstream_error(502, f"The upstream provider '{plan.provider.name}' ended the stream before it "
                                   "was complete.", "upstream_incomplete")
    except _StreamFailure as failure:
        error = failure.error
    except TimeoutError as exc:             # aiohttp's idle (sock_read) and total timeouts both are TimeoutErrors
        error = stream_timeout(plan.provider, exc)
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        error = transport_error(plan.provider, exc)
    finally:
        upstream.release()
    if error is not None:
        await _write_quietly(client, state.tail + error_event(error.body()))
    usage = state.usage or estimate_usage(plan.model.upstream_model, plan.messages, _deltas(state.payloads))
    return StreamResult(usage, error is None, error, state.tail, state.payloads)


async def finish_stream(client: web.StreamResponse, result: StreamResult, summary: dict[str, Any]) -> None:
    await _write_quietly(client, result.tail + comment_event(COST_COMMENT, summary) + DONE)


async def _pump(client: web.StreamResponse, upstream: aiohttp.ClientResponse, plan: Plan,
                state: _RelayState) -> None:
    splitter = EventSplitter()
    async for data in stream_chunks(upstream):
        chunk = b"".join([_relay_event(event, plan, state) for event in splitter.feed(data)])
        if state.done:
            state.tail = chunk
            return
        if chunk:
            try:
                await client.write(chunk)
            except ConnectionError:
                log.info("client went away mid-stream; closing the upstream stream")
                raise _StreamFailure(APIError(499, "client closed the connection", code="client_closed"))


def _relay_event(event: bytes, plan: Plan, state: _RelayState) -> bytes:
    """The bytes to forward for one upstream event (possibly none)."""
    if state.done:
        return b""
    payload = event_data(event)
    if payload is None:
        return event + b"\n\n"
    if payload == b"[DONE]":
        state.done = True
        return b""
    if b'"usage":{' in payload or b'"usage": {' in payload or b'"error"' in payload:
        chunk = _parse_chunk(payload, plan)
        if chunk.get("error"):
            raise _StreamFailure(_upstream_stream_error(chunk["error"], plan))
        if chunk.get("usage"):
            state.usage = usage_from_openai(chunk["usage"])
            if plan.strip_usage_chunk and not chunk.get("choices"):
                return b""
    elif not (payload.startswith(b"{") and payload.endswith(b"}")):
        raise _StreamFailure(_malformed(plan))
    if plan.strip_usage_chunk:
        for pattern in _USAGE_NULLS:
            payload = payload.replace(pattern, b"")
    state.payloads.append(payload)
    return b"data: " + payload + b"\n\n"


def _parse_chunk(payload: bytes, plan: Plan) -> dict[str, Any]:
    try:
        chunk = orjson.loads(payload)
    except orjson.JSONDecodeError:
        chunk = None
    if not isinstance(chunk, dict):
        raise _StreamFailure(_malformed(plan))
    return chunk


def _malformed(plan: Plan) -> APIError:
    return upstream_error(502, f"The upstream provider '{plan.provider.name}' sent a malformed stream chunk.",
                          "upstream_malformed_chunk")


def _upstream_stream_error(error: Any, plan: Plan) -> APIError:
    message = error.get("message") if isinstance(error, dict) else str(error)
    return upstream_error(502, f"The upstream provider '{plan.provider.name}' failed mid-stream: {message}",
                          "upstream_stream_error")


def _deltas(payloads: list[bytes]) -> Iterator[Any]:
    """The deltas of the forwarded chunks, parsed only when the upstream never reported usage."""
    for payload in payloads:
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        for choice in (chunk.get("choices") or ()) if isinstance(chunk, dict) else ():
            if isinstance(choice, dict):
                yield choice.get("delta")


async def _write_quietly(client: web.StreamResponse, data: bytes) -> None:
    try:
        await client.write(data)
    except ConnectionError:
        pass
