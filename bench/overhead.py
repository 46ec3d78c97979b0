"""How much the gateway adds on top of calling the upstream directly, measured in one run.

Three targets answer the same requests, served by the same simulator with its latency model off (so only software
overhead is left): `direct` (client -> sim), `passthrough` (client -> bench/passthrough.py -> sim, the least a
Python proxy can cost) and `gateway` (client -> gateway -> sim). Four scenarios: non-streaming and streaming, at
concurrency 1 and 32. Targets are interleaved in rounds, in a rotating order, so that noise from a shared machine
falls on all of them alike; the report is therefore about differences and ratios inside this run: added latency
(p50, p99) over direct, throughput relative to direct, and the proxy's CPU time per request (from /proc) relative
to the pass-through.

    TIKTOKEN_CACHE_DIR=/work/shared/tiktoken-cache python bench/overhead.py [--quick] [--requests N]

Prints a markdown table and writes bench/results/overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import ClientSession

# Run as a script: the helpers are siblings, not a package.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import PayloadFactory, PhaseResult, open_session, run_phase  # noqa: E402
from _report import TARGETS, machine_info, markdown, percentile, scenario_summary, target_stats  # noqa: E402
from _servers import (REPO_ROOT, Server, cpu_seconds, free_port, gateway_server, passthrough_server,  # noqa: E402
                      sim_server)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PROXY_OF = {"direct": None, "passthrough": "passthrough", "gateway": "gateway"}


@dataclass(frozen=True)
class Scenario:
    """One row group of the report: streaming or not, at one concurrency."""

    stream: bool
    concurrency: int

    @property
    def name(self) -> str:
        return f"{'stream' if self.stream else 'non-stream'} c={self.concurrency}"


SCENARIOS = (Scenario(False, 1), Scenario(False, 32), Scenario(True, 1), Scenario(True, 32))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Flags; the defaults finish in about two minutes on a 2-core machine."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="measured requests per scenario and target")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds the requests are split into")
    parser.add_argument("--warmup", type=int, default=300, help="warm-up requests per target and stream mode")
    parser.add_argument("--max-seconds", type=float, default=15.0,
                        help="time cap per scenario and target (the count actually done is reported)")
    parser.add_argument("--max-tokens", type=int, default=128, help="answer size asked of the simulator")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "config.example.yaml")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "overhead.json")
    parser.add_argument("--quick", action="store_true", help="a tiny run that only checks the benchmark works")
    parser.add_argument("--standin", action="store_true",
                        help="run a second pass-through in the gateway's place (to test the benchmark itself)")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="run the gateway under cProfile, writing FILE (its CPU numbers are then inflated)")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds, args.warmup, args.max_seconds = 40, 2, 20, 5.0
    return args


def start_servers(args: argparse.Namespace, stack: ExitStack) -> dict[str, Server]:
    """Sim first (the others need its URL), then the two proxies; each is stopped when `stack` closes."""
    log_dir = RESULTS_DIR / "logs"
    sim = sim_server(free_port())
    servers = {"sim": sim, "passthrough": passthrough_server(free_port(), sim.base_url)}
    if args.standin:
        servers["gateway"] = passthrough_server(free_port(), sim.base_url)
        servers["gateway"].name = "gateway-standin"
    else:
        extra = ["-m", "cProfile", "-o", str(args.profile)] if args.profile else None
        servers["gateway"] = gateway_server(free_port(), sim.base_url, args.config, extra)
    for server in servers.values():
        stack.callback(server.stop)
        server.start(log_dir)
    return servers


def cpu_snapshot(servers: dict[str, Server]) -> dict[str, float]:
    """CPU seconds so far of every server process tree and of this load generator."""
    return {**{name: cpu_seconds(server.pid) for name, server in servers.items()}, "client": time.process_time()}


async def measure(args: argparse.Namespace, servers: dict[str, Server]) -> dict[str, Any]:
    """Warm every target up, then run each scenario as interleaved rounds and pool the rounds per target."""
    urls = {"direct": servers["sim"].base_url, "passthrough": servers["passthrough"].base_url,
            "gateway": servers["gateway"].base_url}
    urls = {target: base + "/chat/completions" for target, base in urls.items()}
    payloads = {stream: PayloadFactory(args.model, args.max_tokens, stream) for stream in (False, True)}
    max_c = max(s.concurrency for s in SCENARIOS)
    sessions = {target: open_session(max_c) for target in TARGETS}
    try:
        for target in TARGETS:  # opens the pools both hops need and lets every server reach its steady state
            for stream in (False, True):
                warm = await run_phase(sessions[target], urls[target], payloads[stream], stream, args.warmup, max_c)
                if warm.errors:
                    raise RuntimeError(f"warm-up of {target} failed: {warm.error_samples}")
        scenarios = {}
        for scenario in SCENARIOS:
            scenarios[scenario.name] = await run_scenario(args, scenario, servers, sessions, urls, payloads)
            print(f"  {scenario.name}: done", file=sys.stderr, flush=True)
        return scenarios
    finally:
        await asyncio.gather(*(session.close() for session in sessions.values()))


async def run_scenario(args: argparse.Namespace, scenario: Scenario, servers: dict[str, Server],
                       sessions: dict[str, ClientSession], urls: dict[str, str],
                       payloads: dict[bool, PayloadFactory]) -> dict[str, Any]:
    """Rounds of every target in rotating order; CPU of all processes is charged to the target being measured."""
    pooled = {target: PhaseResult() for target in TARGETS}
    cpu = {target: dict.fromkeys([*servers, "client"], 0.0) for target in TARGETS}
    per_round = math.ceil(args.requests / args.rounds)
    rounds: list[dict[str, Any]] = []  # kept in the JSON: the spread across rounds shows how noisy the run was
    for round_no in range(args.rounds):
        shift = round_no % len(TARGETS)
        for target in TARGETS[shift:] + TARGETS[:shift]:
            before = cpu_snapshot(servers)
            result = await run_phase(sessions[target], urls[target], payloads[scenario.stream], scenario.stream,
                                     per_round, scenario.concurrency, args.max_seconds / args.rounds)
            after = cpu_snapshot(servers)
            pooled[target].extend(result)
            for name in cpu[target]:
                cpu[target][name] += after[name] - before[name]
            rounds.append(round_record(round_no, target, result, after, before))
    stats = {target: target_stats(pooled[target], cpu[target], PROXY_OF[target]) for target in TARGETS}
    return {"stream": scenario.stream, "concurrency": scenario.concurrency, "targets": stats,
            "summary": scenario_summary(stats), "rounds": rounds}


def round_record(round_no: int, target: str, result: PhaseResult, after: dict[str, float],
                 before: dict[str, float]) -> dict[str, Any]:
    """One target's numbers in one round (CPU here is coarse: /proc counts in 10 ms ticks)."""
    done = len(result.latencies) or math.nan
    proxy = PROXY_OF[target]
    return {"round": round_no, "target": target, "requests": len(result.latencies), "errors": result.errors,
            "p50_ms": percentile(result.latencies, 50) * 1000, "throughput_rps": done / result.wall,
            "proxy_cpu_ms_per_request": (after[proxy] - before[proxy]) * 1000 / done if proxy else None}


def run_async(coro: Any) -> Any:
    """asyncio.run on uvloop when it is installed: the load generator must not be the slowest part."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def warn_cache_hits(scenarios: dict[str, Any]) -> None:
    """A cached answer never reaches the simulator, so it would flatter the gateway: say so loudly."""
    for name, scenario in scenarios.items():
        routes = scenario["targets"]["gateway"]["gateway_routes"]
        hits = sum(n for route, n in routes.items() if not route.endswith(("/miss", "/None")))
        if hits:
            print(f"WARNING: {name}: {hits} gateway answers were not cache misses ({routes}); "
                  "those requests did not go upstream", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Start the servers, measure, always stop the servers, then print the table and write the JSON."""
    args = parse_args(argv)
    info = machine_info()
    with ExitStack() as stack:
        servers = start_servers(args, stack)
        print(f"measuring {len(SCENARIOS)} scenarios x {len(TARGETS)} targets, {args.requests} requests each "
              f"in {args.rounds} rounds (gateway: {servers['gateway'].name})", file=sys.stderr, flush=True)
        started = time.monotonic()
        scenarios = run_async(measure(args, servers))
        elapsed = time.monotonic() - started
    info["loadavg_end"] = os.getloadavg()
    results = {"machine": info, "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
               "gateway_is_standin": args.standin, "profiled": args.profile is not None,
               "measure_seconds": elapsed, "scenarios": scenarios}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(markdown(results))
    warn_cache_hits(scenarios)
    print(f"\n{info['nproc']} cores, Python {info['python']}, load {info['loadavg_start'][0]:.2f} -> "
          f"{info['loadavg_end'][0]:.2f}, {elapsed:.0f}s; JSON: {args.out}", file=sys.stderr)
    errors = sum(t["errors"] for s in scenarios.values() for t in s["targets"].values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
