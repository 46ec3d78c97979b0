"""`gateway demo`: the simulator and the gateway on loopback, a replayed workload, and the cost report.

Needs no key, no network and no Redis. With `GATEWAY_DATA_DIR` pointing at a folder in the layout of the project's
evaluation data, it replays real Arena prompts, and the simulator answers with the models' recorded answers so costs
use real answer lengths; without it, the workload is synthetic and the report says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from gateway.config.settings import load_settings
from gateway.server.app import create_app
from gateway.server.state import STATE
from gateway.sim import SimOptions, build_sim_app

DEMO_MODEL = "gpt-4-1106-preview"
_SYNTHETIC_TOPICS = ("a binary search in Python", "the causes of the French Revolution", "how vaccines train the "
                     "immune system", "a haiku about autumn rain", "the difference between TCP and UDP",
                     "a SQL query for the top 5 customers by revenue", "photosynthesis for a ten-year-old",
                     "the pros and cons of microservices")


@dataclass
class Workload:
    prompts: list[str]
    source: str
    replay_files: list[str] = field(default_factory=list)


def load_workload(limit: int) -> Workload:
    data_dir = os.environ.get("GATEWAY_DATA_DIR")
    arena = Path(data_dir or "", "replay", "arena-bench.dev.jsonl")
    if data_dir and arena.is_file():
        with arena.open(encoding="utf-8") as handle:
            prompts = [json.loads(line)["prompt"] for _, line in zip(range(limit), handle)]
        return Workload(prompts, f"real Arena prompts with recorded answers ({arena})", [str(arena)])
    prompts = [f"Explain {_SYNTHETIC_TOPICS[i % len(_SYNTHETIC_TOPICS)]} (request {i})" for i in range(limit)]
    return Workload(prompts, "synthetic prompts (GATEWAY_DATA_DIR not set): answer quality is not measured")


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/v1"


async def _replay(gateway: str, prompts: list[str], concurrency: int = 8) -> list[dict[str, str]]:
    limit = asyncio.Semaphore(concurrency)

    async def one(session: aiohttp.ClientSession, prompt: str) -> dict[str, str]:
        async with limit, session.post(gateway + "/chat/completions", json={
                "model": DEMO_MODEL, "messages": [{"role": "user", "content": prompt}]}) as response:
            await response.read()
            return {"status": str(response.status), **{k: v for k, v in response.headers.items()
                                                        if k.lower().startswith("x-gateway-")}}

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session, prompt) for prompt in prompts))


async def _run(requests: int) -> dict[str, object]:
    workload = load_workload(requests)
    sim_runner, sim_url = await _serve(build_sim_app(SimOptions(latency=True, speed=20.0,
                                                                replay_paths=workload.replay_files)))
    gateway_app = create_app(load_settings(None, upstream_override=sim_url))
    gateway_runner, gateway_url = await _serve(gateway_app)
    try:
        started = time.monotonic()
        results = await _replay(gateway_url, workload.prompts)
        elapsed = time.monotonic() - started
        snapshot = gateway_app[STATE].ledger.snapshot()
    finally:
        await gateway_runner.cleanup()
        await sim_runner.cleanup()
    ok = sum(result["status"] == "200" for result in results)
    return {"workload": workload.source, "requests": len(results), "succeeded": ok, "seconds": round(elapsed, 2),
            "requested_model": DEMO_MODEL, "policy": "default", "ledger": snapshot}


def run_demo(requests: int, report_path: str) -> int:
    report = asyncio.run(_run(requests))
    total = report["ledger"]["total"]  # type: ignore[index]
    print(f"workload: {report['workload']}")
    print(f"requests: {report['requests']} ({report['succeeded']} succeeded) in {report['seconds']} s")
    print(f"tokens:   {total['prompt_tokens']} prompt + {total['completion_tokens']} completion")
    print(f"cost:     ${total['cost_usd']:.4f} paid, ${total['baseline_cost_usd']:.4f} as asked, "
          f"${total['saved_usd']:.4f} saved")
    share = total["saved_usd"] / total["baseline_cost_usd"] if total["baseline_cost_usd"] else 0.0
    by_mechanism = ", ".join(f"{name} ${amount:.4f}" for name, amount in total["saved_by"].items()) or "none"
    print(f"saved:    {share:.1%} of the cost as asked (by mechanism: {by_mechanism})")
    for model, figures in report["ledger"]["by_model"].items():  # type: ignore[index]
        print(f"  {model:<24} {figures['requests']:>4} requests  ${figures['cost_usd']:.4f}")
    Path(report_path).write_text(json.dumps(report, indent=2))
    print(f"report written to {report_path}")
    return 0 if report["succeeded"] == report["requests"] else 1
