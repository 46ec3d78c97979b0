"""Fault injection: the failures a real provider produces, on demand or at a rate.

The gateway's retries, fallbacks, timeouts and stream handling can only be tested against failures that look
exactly like the real ones: OpenAI error bodies with the right status and headers, a connection reset with no
response at all, a request that never answers, a stream that stops without `[DONE]`, and a garbled chunk.
A fault is chosen by the `x-sim-fault` header, by `metadata.sim_fault` in the body (the gateway forwards the body
but not client headers), or at random by `SimOptions.fault_rates`.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from dataclasses import dataclass
from typing import Any, Mapping

from aiohttp import web

from .errors import error_response
from .options import FAULT_NAMES, SimOptions

STATUS_FAULTS = ("429", "500", "503")
DEFAULT_FAULT_AFTER = 3  # chunks sent before a stream-cut / malformed chunk, unless metadata says otherwise


@dataclass(frozen=True)
class Fault:
    name: str
    after: int = DEFAULT_FAULT_AFTER


class UnknownFault(ValueError):
    """A request named a fault the simulator does not know (reported as a 400 so typos are noticed)."""


class FaultPicker:
    """Decides the fault for each request; the random draws come from one seeded generator (reproducible runs)."""

    def __init__(self, options: SimOptions) -> None:
        self._rates = [(name, rate) for name, rate in options.fault_rates.items() if rate > 0]
        self._rng = random.Random(options.seed)
        self._spent: dict[str, int] = {}

    def _narrowed_applies(self, metadata: Mapping[str, Any], model: Any) -> bool:
        only = metadata.get("sim_fault_model")
        if only is not None and only != model:
            return False
        first = metadata.get("sim_fault_first")  # metadata values are strings (the API's rule)
        if first is not None and str(first).isdigit():
            first = int(first)
            key = f"{metadata.get('sim_fault')}:{only}"
            self._spent[key] = self._spent.get(key, 0) + 1
            return self._spent[key] <= first
        return True

    def pick(self, headers: Mapping[str, str], metadata: Mapping[str, Any], model: Any = None) -> Fault | None:
        """The fault for this request, if any; raises UnknownFault for a name not in FAULT_NAMES.

        A named fault can be narrowed: `sim_fault_model` (only calls to that model fail, as when one provider is
        down) and `sim_fault_first: K` (only the first K such calls fail, an outage that ends)."""
        name = headers.get("x-sim-fault") or metadata.get("sim_fault")
        if name and not self._narrowed_applies(metadata, model):
            name = None
        if name is None and self._rates:
            draw = self._rng.random()
            for candidate, rate in self._rates:
                if draw < rate:
                    name = candidate
                    break
                draw -= rate
        if not name:
            return None
        name = str(name).strip().lower()
        if name not in FAULT_NAMES:
            raise UnknownFault(f"unknown sim fault {name!r}; known faults: {', '.join(FAULT_NAMES)}")
        after = metadata.get("sim_fault_after", headers.get("x-sim-fault-after"))
        try:
            after_n = max(0, int(after)) if after is not None else DEFAULT_FAULT_AFTER
        except (TypeError, ValueError):
            after_n = DEFAULT_FAULT_AFTER
        return Fault(name, after_n)


def status_fault_response(name: str) -> web.Response:
    """The OpenAI error a provider sends for 429 / 500 / 503."""
    if name == "429":
        return error_response(
            429, "Rate limit reached for requests (simulated). Please try again in 1s.", "requests", None,
            "rate_limit_exceeded",
            headers={"retry-after": "1", "retry-after-ms": "1000", "x-ratelimit-remaining-requests": "0",
                     "x-ratelimit-reset-requests": "1s"})
    if name == "503":
        return error_response(503, "The engine is currently overloaded, please try again later. (simulated)",
                              "server_error", None, "service_unavailable")
    return error_response(500, "The server had an error while processing your request. Sorry about that! "
                          "(simulated)", "server_error", None, None)


def abort_connection(request: web.Request, reset: bool) -> web.Response:
    """Drop the TCP connection. `reset=True` sends an RST (SO_LINGER 0) so the client sees a connection reset;
    otherwise a plain close, which lets already-sent bytes reach the client first (a cut stream)."""
    transport = request.transport
    if transport is not None:
        if reset:
            sock = transport.get_extra_info("socket")
            try:
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        transport.abort()
    # aiohttp needs a return value; nothing reaches the client since the transport is gone.
    return web.Response(status=499)


async def hang(request: web.Request, seconds: float, shutdown: asyncio.Event) -> web.Response:
    """Accept the request and never answer: until the client gives up, the server stops, or `seconds` pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline and not shutdown.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        try:
            await asyncio.wait_for(shutdown.wait(), timeout=min(0.5, max(0.0, deadline - loop.time())))
        except asyncio.TimeoutError:
            pass
    return abort_connection(request, reset=False)
