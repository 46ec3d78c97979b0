"""The fault suite: a steady load through the gateway while the simulator injects one fault mode at a time.

For each fault mode (429, 500, 503, reset, timeout, stream-cut, malformed-chunk) the simulator fails `--rate` of
its calls; the gateway runs a policy that keeps the model as asked with one fallback model, and the caches on.
Half the requests stream. Counted per mode:
- client_visible_failures: a non-streamed request that did not get 200, or a stream that did not end in `[DONE]`;
- silent_cuts: a stream that ended with neither `[DONE]` nor an error event (must be 0: a failure is always said);
- wrongly_cached: afterwards every prompt is asked again without faults: a prompt whose first answer failed must
  not come from the cache, and a cached answer must equal the complete answer the client got the first time;
- retries, fallbacks and breaker openings, from the gateway's own /metrics.

    python bench/faults.py [--requests 200] [--rate 0.1] [--json]

`--redis-outage` runs the other scenario instead: the simulator stays healthy and the suite kills its own
redis-server under a steady load (caches and key limits on Redis) and starts it again (see _redis_outage.py):

    python bench/faults.py --redis-outage [--requests 300] [--rps 20] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fault_checks import ask, failure_counts, metric_sum, wrongly_cached  # noqa: E402
from gateway.config.settings import load_settings  # noqa: E402
from gateway.costbench.run import serve_on_loopback  # noqa: E402
from gateway.server.app import create_app  # noqa: E402
from gateway.sim import SimOptions, build_sim_app  # noqa: E402
from gateway.sim.app import STATE as SIM_STATE  # noqa: E402
from gateway.sim.faults import FaultPicker  # noqa: E402
from gateway.sim.options import FAULT_NAMES  # noqa: E402

POLICY = """name: faults
description: As asked, with one fallback model, caches on.
defaults:
  route: as_requested
  fallbacks: [gpt-4o-mini]
  cache: {exact: true, semantic: false}
  split: {allowed: false}
"""
CONFIG = """providers:
  openai:
    base_url: http://unused
    timeout_s: 1.0
    stream_idle_timeout_s: 1.0
policies:
  paths: [{policy}]
  default: faults
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="per fault mode")
    parser.add_argument("--rate", type=float, default=0.1, help="share of upstream calls that fail")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--redis-outage", action="store_true",
                        help="kill and restart Redis under load instead of injecting upstream faults")
    parser.add_argument("--rps", type=float, default=20.0, help="--redis-outage: requests sent per second")
    parser.add_argument("--json", action="store_true", help="print the totals as one JSON object on the last line")
    return parser.parse_args(argv)


async def load(url: str, count: int, concurrency: int) -> list[dict]:
    limit = asyncio.Semaphore(concurrency)

    async def one(index: int) -> dict:
        async with limit:
            return await ask(client, url, index, stream=index % 2 == 1)

    async with httpx.AsyncClient(timeout=30) as client:
        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def run_mode(mode: str, args: argparse.Namespace, config: Path) -> dict:
    sim_app = build_sim_app(SimOptions(latency=False, fault_rates={mode: args.rate}, seed=7,
                                       timeout_fault_seconds=5.0))
    sim_runner, sim_url = await serve_on_loopback(sim_app)
    settings = load_settings(str(config), upstream_override=sim_url)
    gateway_runner, url = await serve_on_loopback(create_app(settings))
    try:
        first = await load(url, args.requests, args.concurrency)
        sim_app[SIM_STATE].faults = FaultPicker(SimOptions(latency=False))  # the outage ends
        wrong = await wrongly_cached(url, first)
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(url.removesuffix("/v1") + "/metrics")).text
    finally:
        await gateway_runner.cleanup()
        await sim_runner.cleanup()
    return {**failure_counts(first), "wrongly_cached": wrong,
            "retries": metric_sum(metrics, "gateway_upstream_retries_total"),
            "fallbacks": metric_sum(metrics, "gateway_fallbacks_total"),
            "breaker_trips": metric_sum(metrics, "gateway_upstream_circuit_opened_total")}


async def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "faults.yaml"
        policy.write_text(POLICY)
        config = Path(tmp) / "gateway.yaml"
        config.write_text(CONFIG.format(policy=policy))
        return {mode: await run_mode(mode, args, config) for mode in FAULT_NAMES}


def outage_main(args: argparse.Namespace) -> int:
    from _redis_outage import run_outage, table

    row = asyncio.run(run_outage(args.requests, args.rps))
    print("\n".join(table(row)))
    if args.json:
        print(json.dumps(row))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.redis_outage:
        return outage_main(args)
    modes = asyncio.run(run(args))
    columns = ("requests", "client_visible_failures", "non_stream_failures", "silent_cuts", "wrongly_cached",
               "retries", "fallbacks", "breaker_trips")
    print("| fault (at {:.0%} of upstream calls) | ".format(args.rate) + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for mode, row in modes.items():
        print(f"| {mode} | " + " | ".join(str(row[c]) for c in columns) + " |")
    totals = {c: sum(row[c] for row in modes.values()) for c in columns}
    if args.json:
        print(json.dumps({**totals, "by_fault": modes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
