"""Where a request's time goes: the whole handler, the upstream calls inside it, and the gateway's own overhead.

The middleware opens a `RequestTiming` for each request and makes it current (a context variable, which the split
path's worker tasks inherit); every upstream call reports its span into whatever timing is current. Upstream time
is the wall-clock union of the spans (parallel workers overlap), so overhead = total - upstream is never negative
and means what an operator wants: the time the gateway itself added. Keeping this here, fed by one hook in the
middleware and one in the upstream client, leaves the chat and split paths untouched.
"""

from __future__ import annotations

import time
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

REQUEST_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
OVERHEAD_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)
CHAT_ENDPOINT = "/v1/chat/completions"
ROUTES = ("main", "routed", "split", "cache")


@dataclass
class Histogram:
    """Cumulative-on-render histogram: counts per bucket (the last is +Inf), a sum and a count."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)
        self.count += 1
        self.total += value
        position = next((i for i, bound in enumerate(self.bounds) if value <= bound), len(self.bounds))
        self.counts[position] += 1


@dataclass
class Telemetry:
    """Per-replica request counters and latency histograms (label values are bounded by construction)."""

    requests: Counter = field(default_factory=Counter)               # (endpoint, route, status_class) -> n
    upstream_errors: Counter = field(default_factory=Counter)        # (provider, status_class) -> n
    request_seconds: dict[str, Histogram] = field(default_factory=dict)   # route -> total handler time
    overhead_seconds: dict[str, Histogram] = field(default_factory=dict)  # route -> total - upstream
    upstream_seconds: dict[str, Histogram] = field(default_factory=dict)  # provider -> one call's time

    def observe_upstream(self, provider: str, seconds: float) -> None:
        self.upstream_seconds.setdefault(provider, Histogram(REQUEST_BUCKETS_S)).observe(seconds)

    def observe_request(self, endpoint: str, route: str, status: int, total_s: float, upstream_s: float) -> None:
        self.requests[(endpoint, route, f"{status // 100}xx")] += 1
        if endpoint == CHAT_ENDPOINT:
            self.request_seconds.setdefault(route, Histogram(REQUEST_BUCKETS_S)).observe(total_s)
            self.overhead_seconds.setdefault(route, Histogram(OVERHEAD_BUCKETS_S)).observe(
                max(0.0, total_s - upstream_s))


@dataclass
class RequestTiming:
    """One request's clock; upstream spans may overlap, and only their union counts as upstream time."""

    telemetry: Telemetry
    started: float = field(default_factory=time.perf_counter)
    upstream_s: float = 0.0
    _open: int = 0
    _since: float = 0.0

    def span_started(self) -> None:
        if self._open == 0:
            self._since = time.perf_counter()
        self._open += 1

    def span_ended(self) -> None:
        self._open -= 1
        if self._open == 0:
            self.upstream_s += time.perf_counter() - self._since

    def finish(self, request: web.Request, response: web.StreamResponse) -> None:
        """The middleware's hook: record the request once its final status is known."""
        total = time.perf_counter() - self.started
        upstream = self.upstream_s + (time.perf_counter() - self._since if self._open else 0.0)
        self.telemetry.observe_request(endpoint_label(request), route_label(response.headers.get("x-gateway-route")),
                                       response.status, total, upstream)


_CURRENT: ContextVar[RequestTiming | None] = ContextVar("gateway_request_timing", default=None)


def start_request(telemetry: Telemetry) -> RequestTiming:
    """The middleware's hook: a fresh clock, current for the handler and every task it starts."""
    timing = RequestTiming(telemetry)
    _CURRENT.set(timing)
    return timing


class UpstreamSpan:
    """One upstream call, from sending the request until its response is released (body read or stream ended)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.timing = _CURRENT.get()
        self.started = time.perf_counter()
        self.ended = False
        if self.timing is not None:
            self.timing.span_started()

    def end(self) -> None:
        if self.ended:
            return
        self.ended = True
        if self.timing is not None:
            self.timing.span_ended()
            self.timing.telemetry.observe_upstream(self.provider, time.perf_counter() - self.started)


def upstream_failed(provider: str, status: int | None) -> None:
    """Count an upstream failure by provider and HTTP status class (`transport` when no status came back)."""
    timing = _CURRENT.get()
    if timing is not None:
        timing.telemetry.upstream_errors[(provider, f"{status // 100}xx" if status else "transport")] += 1


class TimedResponse(aiohttp.ClientResponse):
    """The upstream session's response class: ends the call's span when the response is released or closed."""

    span: UpstreamSpan | None = None
    first_chunk: bytes = b""      # a stream's first chunk, read to meet the first-byte timeout (the relay sends it)

    def release(self) -> Any:
        if self.span is not None:
            self.span.end()
        return super().release()

    def close(self) -> None:
        if self.span is not None:
            self.span.end()
        super().close()


def endpoint_label(request: web.Request) -> str:
    """The route's path template (never the raw path: unknown paths would make unbounded label values)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def route_label(route: str | None) -> str:
    """`split:N` becomes `split`: the histograms stay small, and the ledger keeps the per-N figures."""
    name = (route or "none").split(":", 1)[0]
    return name if name in ROUTES else "none"
