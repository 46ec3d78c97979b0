"""Tier 2's connection: Redis calls that can never fail or stall a request.

Every call has a deadline (`cache.redis_timeout_ms`); a call that errors or times out returns None and the request
goes on from memory and upstream. After a failure the link stays away for a short, growing pause (no request waits
on a dead server), then tries again; redis-py reconnects on that next call, so recovery needs no one's help.
A connection error is retried once within the deadline: after a Redis restart the pooled connections are stale.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)
T = TypeVar("T")
_FIRST_PAUSE_S = 0.5
_MAX_PAUSE_S = 5.0


class RedisLink:
    def __init__(self, url: str | None, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.client: Any = None
        self.failures = 0          # calls that failed, since start
        self.reconnects = 0        # times the link came back after a failure
        self._pause_s = 0.0
        self._retry_at = 0.0
        self._clock = clock
        self._writes: set[asyncio.Task] = set()
        if url:
            import redis.asyncio as redis

            # Connect and socket timeouts back the per-call deadline, so a hung socket cannot pin a connection.
            self.client = redis.from_url(url, socket_connect_timeout=max(timeout_s, 0.5),
                                         socket_timeout=max(timeout_s * 4, 0.5), health_check_interval=10)

    @property
    def configured(self) -> bool:
        return self.client is not None

    @property
    def state(self) -> str:
        """ok | degraded (recent failure; serving from memory) | not configured."""
        if not self.configured:
            return "not configured"
        return "degraded" if self._pause_s else "ok"

    def available(self) -> bool:
        return self.configured and self._clock() >= self._retry_at

    async def call(self, operation: Callable[[Any], Awaitable[T]], timeout_s: float | None = None,
                   idempotent: bool = True) -> T | None:
        """Run `operation(client)` within the deadline; None when Redis is absent, paused, slow or failing.
        `idempotent=False` for an operation that must not run twice (a budget script): it is never retried."""
        if not self.available():
            return None
        try:
            result = await self._run(operation, timeout_s or self.timeout_s, idempotent)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every Redis or network error means the same here: go on without it
            self._failed(exc)
            return None
        if self._pause_s:
            log.info("Redis is reachable again at %s", _safe(self.url))
            self.reconnects += 1
            self._pause_s = 0.0
        return result

    async def _run(self, operation: Callable[[Any], Awaitable[T]], timeout_s: float, retry: bool) -> T:
        """The operation, tried a second time after a connection error if the deadline allows.

        A pooled connection to a server that was restarted fails at once; redis-py drops it and opens a fresh one on
        the retry, so the restart costs no failed call (and no second "degraded" blip on /readyz). A dead server
        refuses the retry at once too, so a real outage is still seen within the deadline. Timeouts are not retried:
        they have already spent the deadline. Nor is an operation that is not idempotent: a connection that breaks
        after the server ran the command but before its reply came back would run it twice (a budget reserved or
        spent twice).
        """
        deadline = time.monotonic() + timeout_s
        try:
            return await asyncio.wait_for(operation(self.client), timeout_s)
        except RedisConnectionError:
            left = deadline - time.monotonic()
            if left <= 0 or not retry:
                raise
            return await asyncio.wait_for(operation(self.client), left)

    def write_behind(self, operation: Callable[[Any], Awaitable[Any]]) -> None:
        """Run a write in the background: the client never waits on the shared tier (skipped while paused)."""
        if not self.available():
            return
        task = asyncio.ensure_future(self.call(operation))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def drain(self) -> None:
        """Wait for background writes (shutdown, tests)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def ping(self) -> bool:
        """A probe that ignores the pause (readiness checks and the recovery loop use it)."""
        if not self.configured:
            return False
        self._retry_at = 0.0
        return bool(await self.call(lambda client: client.ping(), max(self.timeout_s, 0.5)))

    async def close(self) -> None:
        await self.drain()
        if self.client is not None:
            await self.client.aclose()

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if not self._pause_s:
            log.warning("Redis at %s failed (%s); serving from memory until it is back", _safe(self.url),
                        type(exc).__name__)
        self._pause_s = min(_MAX_PAUSE_S, max(_FIRST_PAUSE_S, self._pause_s * 2))
        self._retry_at = self._clock() + self._pause_s


def _safe(url: str | None) -> str:
    """The URL without its password (a Redis URL may carry one)."""
    if not url or "@" not in url:
        return url or ""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
