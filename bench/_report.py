"""Turns raw phase results into the numbers the README quotes: added latency, throughput and CPU per request.

Everything is a comparison inside one run (gateway vs direct, gateway CPU vs pass-through CPU), because on a
shared, noisy machine absolute numbers from different runs are not comparable, while ratios measured side by side
under the same noise are.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from _load import PhaseResult

TARGETS = ("direct", "passthrough", "gateway")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation), so p99 is a latency some request really had."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def target_stats(result: PhaseResult, cpu: dict[str, float], proxy: str | None) -> dict[str, Any]:
    """Per-target numbers in milliseconds; CPU is split by process so the proxy's share stands on its own."""
    done = len(result.latencies)
    per_req = {name: (seconds * 1000 / done if done else math.nan) for name, seconds in cpu.items()}
    return {
        "requests": done, "errors": result.errors, "error_samples": result.error_samples,
        "p50_ms": percentile(result.latencies, 50) * 1000, "p99_ms": percentile(result.latencies, 99) * 1000,
        "mean_ms": sum(result.latencies) / done * 1000 if done else math.nan,
        "ttfb_p50_ms": percentile(result.first_bytes, 50) * 1000,
        "ttfb_p99_ms": percentile(result.first_bytes, 99) * 1000,
        "throughput_rps": done / result.wall if result.wall else math.nan,
        "wall_s": result.wall, "mean_body_bytes": sum(result.body_bytes) / done if done else math.nan,
        "cpu_ms_per_request": per_req, "proxy_cpu_ms_per_request": per_req.get(proxy, math.nan) if proxy else None,
        "gateway_routes": dict(result.routes),
    }


def scenario_summary(stats: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """The ratios and differences that make the claim: what each proxy adds on top of calling the sim directly."""
    direct, passthrough, gateway = (stats[t] for t in TARGETS)
    out: dict[str, float | None] = {}
    for name, proxy in (("gateway", gateway), ("passthrough", passthrough)):
        out[f"{name}_added_p50_ms"] = proxy["p50_ms"] - direct["p50_ms"]
        out[f"{name}_added_p99_ms"] = proxy["p99_ms"] - direct["p99_ms"]
        out[f"{name}_throughput_vs_direct"] = proxy["throughput_rps"] / direct["throughput_rps"]
    # A very short run can read 0 s of pass-through CPU (clock ticks are 10 ms): then the ratio is unknown, not a crash.
    reference_cpu = passthrough["proxy_cpu_ms_per_request"]
    out["gateway_cpu_vs_passthrough"] = gateway["proxy_cpu_ms_per_request"] / reference_cpu if reference_cpu else None
    out["gateway_extra_cpu_ms_per_request"] = (gateway["proxy_cpu_ms_per_request"]
                                               - passthrough["proxy_cpu_ms_per_request"])
    return out


def machine_info() -> dict[str, Any]:
    """Enough context to judge a result: cores actually usable, load, interpreter and library versions."""
    import aiohttp
    try:
        import uvloop
        uvloop_version: str | None = uvloop.__version__
    except ImportError:
        uvloop_version = None
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(), "cpu_model": cpu_model,
            "loadavg_start": os.getloadavg(), "python": sys.version.split()[0], "platform": platform.platform(),
            "aiohttp": aiohttp.__version__, "uvloop": uvloop_version,
            "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    """One row per scenario and target, then one summary row per scenario (the README's numbers)."""
    lines = ["| scenario | target | n | p50 ms | p99 ms | +p50 ms | +p99 ms | TTFB p50 ms | req/s | "
             "proxy CPU ms/req | sim CPU ms/req | errors |", "|" + "---|" * 12]
    for name, scenario in results["scenarios"].items():
        direct = scenario["targets"]["direct"]
        for target in TARGETS:
            s = scenario["targets"][target]
            added = (None, None) if target == "direct" else (s["p50_ms"] - direct["p50_ms"],
                                                             s["p99_ms"] - direct["p99_ms"])
            ttfb = s["ttfb_p50_ms"] if scenario["stream"] else None
            lines.append(f"| {name} | {target} | {s['requests']} | {_fmt(s['p50_ms'])} | {_fmt(s['p99_ms'])} | "
                         f"{_fmt(added[0])} | {_fmt(added[1])} | {_fmt(ttfb)} | {_fmt(s['throughput_rps'], 0)} | "
                         f"{_fmt(s['proxy_cpu_ms_per_request'], 3)} | {_fmt(s['cpu_ms_per_request']['sim'], 3)} | "
                         f"{s['errors']} |")
    lines += ["", "| scenario | gateway +p50 ms | gateway +p99 ms | passthrough +p50 ms | passthrough +p99 ms | "
              "gateway req/s vs direct | passthrough req/s vs direct | gateway CPU / passthrough CPU | "
              "gateway extra CPU ms/req |", "|" + "---|" * 9]
    for name, scenario in results["scenarios"].items():
        s = scenario["summary"]
        lines.append(f"| {name} | {_fmt(s['gateway_added_p50_ms'])} | {_fmt(s['gateway_added_p99_ms'])} | "
                     f"{_fmt(s['passthrough_added_p50_ms'])} | {_fmt(s['passthrough_added_p99_ms'])} | "
                     f"{_fmt(s['gateway_throughput_vs_direct'])} | {_fmt(s['passthrough_throughput_vs_direct'])} | "
                     f"{_fmt(s['gateway_cpu_vs_passthrough'])}x | {_fmt(s['gateway_extra_cpu_ms_per_request'], 3)} |")
    return "\n".join(lines)
