"""The load generator: N chat completions at concurrency C against one target, timed per request.

It runs in the benchmark process on asyncio (uvloop when present) with one keep-alive aiohttp session per target,
so connection setup is paid once in the warm-up and never inside a measured phase. Every request carries a
unique number in its prompt: real traffic rarely repeats word for word, and an identical prompt would let a
caching gateway answer without calling upstream at all, which would measure the cache instead of the overhead.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import count

import orjson
from aiohttp import ClientError, ClientSession, ClientTimeout, DummyCookieJar, TCPConnector

_SYSTEM_PROMPT = (
    "You are a careful senior software engineer who reviews code for a payments company. Answer precisely, "
    "cite the line you are talking about, prefer small concrete fixes over rewrites, and say so when you are "
    "not sure. Keep answers short unless asked for detail."
)
_USER_PROMPT = (
    "Request {n}. Our checkout service retries failed card authorizations up to three times with exponential "
    "backoff starting at 200 ms. Last week a partner outage made every authorization time out after 30 seconds, "
    "the retries piled up, and the worker pool was exhausted for forty minutes, so even requests that did not "
    "need the partner were stuck in the queue. We are considering a circuit breaker per partner, a shorter "
    "timeout, and a separate bulkhead pool for each partner. Which of these would have helped most in that "
    "incident, what thresholds would you start with, and what should we measure to know the breaker is tuned "
    "well? Please also point out any risk of double charging a customer if a timed-out authorization actually "
    "succeeded on the partner side, and how idempotency keys interact with the retry policy."
)
_DONE = b"data: [DONE]"


@dataclass
class PhaseResult:
    """What one measured phase saw: per-request timings in seconds, wall time, failures, gateway headers."""

    latencies: list[float] = field(default_factory=list)
    first_bytes: list[float] = field(default_factory=list)
    body_bytes: list[int] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    wall: float = 0.0
    routes: Counter[str] = field(default_factory=Counter)

    def extend(self, other: PhaseResult) -> None:
        """Pool another round of the same target and scenario into this one."""
        self.latencies += other.latencies
        self.first_bytes += other.first_bytes
        self.body_bytes += other.body_bytes
        self.errors += other.errors
        self.error_samples = (self.error_samples + other.error_samples)[:5]
        self.wall += other.wall
        self.routes.update(other.routes)


# One sequence for every factory: a streamed and a non-streamed request must never share a number, or the gateway's
# exact cache (which ignores `stream`) would answer one with the other and the benchmark would time a cache hit.
_REQUEST_NUMBERS = count()


class PayloadFactory:
    """Request bodies of identical size and shape, differing only in a counter (see the module docstring)."""

    def __init__(self, model: str, max_tokens: int, stream: bool) -> None:
        body = {"model": model, "max_tokens": max_tokens, "stream": stream, "messages": [
            {"role": "system", "content": _SYSTEM_PROMPT},
            {"role": "user", "content": _USER_PROMPT.format(n="\x00")}]}
        self._head, self._tail = orjson.dumps(body).split(b"\\u0000")
        self._counter = _REQUEST_NUMBERS

    def next(self) -> bytes:
        """The next body; the counter is zero-padded so every body has the same length."""
        return b"%s%09d%s" % (self._head, next(self._counter), self._tail)


def open_session(concurrency: int) -> ClientSession:
    """A keep-alive session sized so the pool never queues requests (an SDK client would do the same)."""
    connector = TCPConnector(limit=max(concurrency, 1), limit_per_host=0, ttl_dns_cache=None)
    return ClientSession(connector=connector, cookie_jar=DummyCookieJar(), timeout=ClientTimeout(total=120),
                         headers={"Authorization": "Bearer bench", "Content-Type": "application/json"})


async def _one(session: ClientSession, url: str, body: bytes, stream: bool, out: PhaseResult) -> None:
    """One request; latency ends at the full body (non-stream) or at `data: [DONE]` (stream)."""
    start = time.perf_counter()
    async with session.post(url, data=body) as response:
        route = response.headers.get("x-gateway-route"), response.headers.get("x-gateway-cache")
        if stream:
            first, done, size, tail = None, None, 0, b""
            async for chunk in response.content.iter_any():
                now = time.perf_counter()
                first = first if first is not None else now
                size += len(chunk)
                if done is None and _DONE in tail[-16:] + chunk:
                    done = now
                tail = chunk
            end = done if done is not None else time.perf_counter()
        else:
            payload = await response.read()
            end = time.perf_counter()
            first, done, size = end, end, len(payload)
    if response.status != 200 or done is None:
        out.errors += 1
        if len(out.error_samples) < 5:
            out.error_samples.append(f"HTTP {response.status}, stream end seen: {done is not None}")
        return
    out.latencies.append(end - start)
    out.first_bytes.append(first - start)
    out.body_bytes.append(size)
    if route != (None, None):
        out.routes[f"{route[0]}/{route[1]}"] += 1


async def run_phase(session: ClientSession, url: str, payloads: PayloadFactory, stream: bool,
                    requests: int, concurrency: int, max_seconds: float | None = None) -> PhaseResult:
    """`requests` completions from `concurrency` closed-loop workers; stops early once `max_seconds` have gone."""
    out = PhaseResult()
    issued = count()
    start = time.perf_counter()
    deadline = start + max_seconds if max_seconds else float("inf")

    async def worker() -> None:
        while next(issued) < requests and time.perf_counter() < deadline:
            try:
                await _one(session, url, payloads.next(), stream, out)
            except (ClientError, OSError, asyncio.TimeoutError) as exc:  # count it, keep the phase going
                out.errors += 1
                if len(out.error_samples) < 5:
                    out.error_samples.append(repr(exc))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    out.wall = time.perf_counter() - start
    return out
