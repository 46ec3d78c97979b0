"""Replay a workload against loopback servers: the baseline pass and the gateway pass.

The baseline is measured, not estimated: every request goes straight to a simulator on the premium model with the
full context and no cache, so its cost uses the premium's own recorded answer lengths. The gateway pass gets a fresh
simulator (the provider-side prompt cache must not carry over from the baseline) and the gateway on embedded
defaults. Requests are sent open-loop at the workload's arrival times, as real clients would send them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import aiohttp
from aiohttp import web

from gateway.config.settings import Settings
from gateway.server.app import create_app
from gateway.server.state import STATE
from gateway.sim import SimOptions, build_sim_app
from gateway.workloads import BASELINE_MODEL, Workload


@dataclass
class Served:
    """What one request got back."""

    status: int
    seconds: float
    headers: dict[str, str]
    text: str
    usage: dict[str, Any]


@dataclass
class PassResult:
    served: list[Served]
    seconds: float
    ledger: dict[str, Any] = field(default_factory=dict)


async def serve_on_loopback(app: web.Application) -> tuple[web.AppRunner, str]:
    """Run an app on a free loopback port; returns its runner (to clean up) and its /v1 base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/v1"


class Progress:
    """A carriage-return bar on stderr (silent when `enabled` is False)."""

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self.label, self.total, self.done, self.enabled = label, total, 0, enabled

    def step(self) -> None:
        self.done += 1
        if self.enabled and (self.done == self.total or self.done % max(1, self.total // 50) == 0):
            filled = int(30 * self.done / max(1, self.total))
            sys.stderr.write(f"\r{self.label:<9} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}")
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


async def _send_all(url: str, workload: Workload, headers_for: Callable[[int], dict[str, str]],
                    progress: Progress, concurrency: int) -> PassResult:
    limit = asyncio.Semaphore(concurrency)
    start = time.monotonic()

    async def one(session: aiohttp.ClientSession, index: int) -> Served:
        request = workload.requests[index]
        await asyncio.sleep(max(0.0, start + request.at - time.monotonic()))
        async with limit:
            began = time.monotonic()
            async with session.post(url + "/chat/completions", json=request.body(BASELINE_MODEL),
                                    headers=headers_for(index)) as response:
                body = await response.read()
            served = _served(response.status, time.monotonic() - began, dict(response.headers), body)
        progress.step()
        return served

    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        served = await asyncio.gather(*(one(session, i) for i in range(len(workload.requests))))
    return PassResult(list(served), time.monotonic() - start)


def _served(status: int, seconds: float, headers: dict[str, str], body: bytes) -> Served:
    try:
        data = json.loads(body)
        text = data["choices"][0]["message"].get("content") or ""
        usage = data.get("usage") or {}
    except (ValueError, KeyError, IndexError, TypeError):
        text, usage = "", {}
    lowered = {k.lower(): v for k, v in headers.items() if k.lower().startswith("x-gateway-")}
    return Served(status, seconds, lowered, text, usage)


def _sim_app(workload: Workload, extra_file: str | None, speed: float) -> web.Application:
    paths = [*workload.replay_files, *([extra_file] if extra_file else [])]
    return build_sim_app(SimOptions(latency=True, speed=speed, replay_paths=paths))


async def run_passes(workload: Workload, settings_for: Callable[[str], Settings], *, speed: float = 20.0,
                     concurrency: int = 16, progress: bool = True) -> tuple[PassResult, PassResult]:
    """(baseline pass, gateway pass). `settings_for(sim_url)` gives the gateway's settings for that upstream."""
    with tempfile.TemporaryDirectory(prefix="gateway-cost-") as tmp:
        extra_file = None
        if workload.extra_replay:
            extra_file = str(Path(tmp) / "composed-prompts.jsonl")
            Path(extra_file).write_text("\n".join(json.dumps(row) for row in workload.extra_replay))
        baseline = await _baseline_pass(workload, extra_file, speed, concurrency, progress)
        gateway = await _gateway_pass(workload, extra_file, settings_for, speed, concurrency, progress)
    return baseline, gateway


async def _baseline_pass(workload: Workload, extra_file: str | None, speed: float, concurrency: int,
                         progress: bool) -> PassResult:
    runner, url = await serve_on_loopback(_sim_app(workload, extra_file, speed))
    try:
        return await _send_all(url, workload, lambda i: {}, Progress("baseline", len(workload.requests), progress),
                               concurrency)
    finally:
        await runner.cleanup()


async def _gateway_pass(workload: Workload, extra_file: str | None, settings_for: Callable[[str], Settings],
                        speed: float, concurrency: int, progress: bool) -> PassResult:
    sim_runner, sim_url = await serve_on_loopback(_sim_app(workload, extra_file, speed))
    app = create_app(settings_for(sim_url))
    gateway_runner, url = await serve_on_loopback(app)

    def headers(index: int) -> dict[str, str]:
        return {"x-gateway-policy": workload.policy, **workload.requests[index].headers}

    try:
        result = await _send_all(url, workload, headers, Progress("gateway", len(workload.requests), progress),
                                 concurrency)
        result.ledger = app[STATE].ledger.snapshot()
        return result
    finally:
        await gateway_runner.cleanup()
        await sim_runner.cleanup()
