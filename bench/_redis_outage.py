"""The fault suite's Redis outage (`bench/faults.py --redis-outage`): Redis killed and started again under load.

The gateway runs with everything that goes through Redis switched on: the exact and the semantic cache on Redis, and
a client key with a budget and rate limits (so every admission is a Lua reservation in Redis). A steady load (half
of it streamed, some prompts asked twice so the caches answer too) runs while the suite kills its own redis-server
(SIGKILL, a crash) a third of the way in and starts a fresh, empty one two thirds of the way in. The shared Redis is
never touched. Measured: failed requests, silent cuts and wrongly cached answers (as in the other modes), how
/readyz saw the key limits (shared in Redis, then per replica, then shared again) and the Redis link's reconnects,
and what the restarted Redis holds afterwards (cache entries and the key's budget: the gateway wrote to it again).
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from pathlib import Path
from typing import Awaitable, Callable

import httpx
import redis

from _fault_checks import ask, failure_counts, metric_sum, wrongly_cached
from _servers import free_port, redis_server
from gateway.config.settings import load_settings
from gateway.costbench.run import serve_on_loopback
from gateway.server.app import create_app
from gateway.sim import SimOptions, build_sim_app

PREFIX = "faults"
POLICY = """name: outage
description: As asked, exact and semantic caches on.
defaults:
  route: as_requested
  cache: {exact: true, semantic: true}
  split: {allowed: false}
"""
CONFIG = """redis_url: {redis_url}
cache: {{redis_prefix: {prefix}}}
auth:
  keys:
    - key: {key}
      name: fault-suite
      budget: {{usd: 1000, period: day}}
      limits: {{requests_per_minute: 1000000, tokens_per_minute: 1000000000}}
policies:
  paths: [{policy}]
  default: outage
"""


def _collapse(states: list[str]) -> list[str]:
    """A timeline of states without repeats: ok, degraded, ok."""
    return [state for index, state in enumerate(states) if index == 0 or states[index - 1] != state]


class ReadyWatch:
    """Polls /readyz while the load runs: the limits' state (ok: shared in Redis, degraded: per replica) over time."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.samples: list[tuple[float, str, str]] = []     # (monotonic time, limits state, redis state)
        self._stop = asyncio.Event()

    async def run(self, interval_s: float = 0.2) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while not self._stop.is_set():
                await self.sample(client)
                try:
                    await asyncio.wait_for(self._stop.wait(), interval_s)
                except asyncio.TimeoutError:
                    pass

    async def sample(self, client: httpx.AsyncClient) -> dict:
        ready = (await client.get(self.base + "/readyz")).json()
        self.samples.append((time.monotonic(), ready["limits"]["state"], ready["redis"]))
        return ready

    def stop(self) -> None:
        self._stop.set()

    def states(self) -> list[str]:
        return _collapse([limits for _, limits, _ in self.samples])

    def back_after_s(self, restarted_at: float) -> float | None:
        """Seconds from Redis's restart until /readyz showed limits shared in Redis again."""
        back = [at for at, limits, _ in self.samples if at >= restarted_at and limits == "ok"]
        return round(back[0] - restarted_at, 2) if back else None


async def steady_load(url: str, key: str, count: int, rps: float,
                      events: dict[int, Callable[[], Awaitable[None]]]) -> list[dict]:
    """`count` requests at a steady `rps` (each in flight on its own), odd ones streamed; `events[i]` runs before
    request i is sent. A quarter of the prompts come round twice, so caches answer during the outage too."""
    distinct = max(1, count * 3 // 4)
    tasks = []
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {key}"},
                                 limits=httpx.Limits(max_connections=200)) as client:
        for index in range(count):
            if index in events:
                await events[index]()
            tasks.append(asyncio.create_task(ask(client, url, index % distinct, stream=index % 2 == 1)))
            await asyncio.sleep(1 / rps)
        return list(await asyncio.gather(*tasks))


async def wait_for_semantic(base: str, timeout_s: float = 60.0) -> str:
    """The semantic cache loads its model off the event loop after start: wait for it (or its reason to be off)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            semantic = (await client.get(base + "/readyz")).json()["cache"]["semantic"]
            if "entries" in semantic:
                return semantic["embedder"].get("kind", "on") if isinstance(semantic["embedder"], dict) else "on"
            if semantic.get("state") != "loading":
                return str(semantic.get("state"))
            await asyncio.sleep(0.2)
    return "loading"


def restarted_redis_holds(url: str) -> dict[str, float]:
    """What the fresh Redis holds after the run: only what the gateway wrote to it after the restart."""
    client = redis.Redis.from_url(url)
    budgets = list(client.scan_iter(f"{PREFIX}:limits:*:budget:*"))
    spent = sum(float(client.hget(name, "spent") or 0) for name in budgets)
    return {"exact_entries": sum(1 for _ in client.scan_iter(f"{PREFIX}:exact:*")), "budget_spent_usd": spent}


async def run_outage(requests: int, rps: float) -> dict:
    """The whole outage run; returns the row the suite prints (and its JSON totals)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = redis_server(free_port())
        await asyncio.to_thread(server.start, Path(tmp))
        try:
            return await _with_redis(server, Path(tmp), requests, rps)
        finally:
            server.kill()


async def _with_redis(server, tmp: Path, requests: int, rps: float) -> dict:
    key = "gk-faults-" + secrets.token_urlsafe(16)      # lives only in this process and its temporary config
    (tmp / "outage.yaml").write_text(POLICY)
    redis_url = f"redis://127.0.0.1:{server.port}/0"
    (tmp / "gateway.yaml").write_text(CONFIG.format(redis_url=redis_url, prefix=PREFIX, key=key,
                                                    policy=tmp / "outage.yaml"))
    sim_runner, sim_url = await serve_on_loopback(build_sim_app(SimOptions(latency=False, seed=7)))
    gateway_runner, url = await serve_on_loopback(create_app(load_settings(str(tmp / "gateway.yaml"),
                                                                           upstream_override=sim_url)))
    base = url.removesuffix("/v1")
    try:
        semantic = await wait_for_semantic(base)
        return {**await _measure(server, tmp, url, key, requests, rps), "semantic_cache": semantic,
                **restarted_redis_holds(redis_url)}
    finally:
        await gateway_runner.cleanup()
        await sim_runner.cleanup()


async def _measure(server, tmp: Path, url: str, key: str, requests: int, rps: float) -> dict:
    watch = ReadyWatch(url.removesuffix("/v1"))
    marks: dict[str, float] = {}

    async def kill() -> None:
        server.kill()
        marks["killed"] = time.monotonic()

    async def restart() -> None:
        await asyncio.to_thread(server.start, tmp)
        marks["restarted"] = time.monotonic()

    watcher = asyncio.create_task(watch.run())
    first = await steady_load(url, key, requests, rps, {requests // 3: kill, 2 * requests // 3: restart})
    async with httpx.AsyncClient(timeout=5) as client:
        metrics = (await client.get(url.removesuffix("/v1") + "/metrics")).text     # the load's, not the re-ask's
    wrong = await wrongly_cached(url, first, {"Authorization": f"Bearer {key}"})
    watch.stop()
    await watcher
    async with httpx.AsyncClient(timeout=5) as client:
        ready = await watch.sample(client)
    states = watch.states()
    return {**failure_counts(first), "wrongly_cached": wrong,
            "requests_while_down": 2 * requests // 3 - requests // 3,
            "redis_down_s": round(marks["restarted"] - marks["killed"], 2),
            "limits_states": states, "limits_fell_back": "degraded" in states,
            "limits_came_back": "degraded" in states and states[-1] == "ok",
            "limits_back_after_s": watch.back_after_s(marks["restarted"]),
            "local_admissions": ready["limits"]["local_admissions"],
            "lost_settlements": ready["limits"]["lost_settlements"],
            "redis_failures": metric_sum(metrics, "gateway_redis_failures_total"),
            "redis_reconnects": metric_sum(metrics, "gateway_redis_reconnects_total"),
            "cache_hits": metric_sum(metrics, "gateway_cache_hits_total")}


COLUMNS = ("requests", "client_visible_failures", "silent_cuts", "wrongly_cached", "redis_down_s",
           "requests_while_down", "local_admissions", "limits_states", "limits_back_after_s", "redis_reconnects",
           "cache_hits", "exact_entries", "budget_spent_usd")


def table(row: dict) -> list[str]:
    """The outage run as a Markdown table (one row)."""
    cells = [" -> ".join(row[c]) if isinstance(row[c], list) else str(row[c]) for c in COLUMNS]
    return ["| " + " | ".join(COLUMNS) + " |", "|---" * len(COLUMNS) + "|", "| " + " | ".join(cells) + " |"]
