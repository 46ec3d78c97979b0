"""Cost workloads built at run time from the real data in GATEWAY_DATA_DIR (see bench/workloads/README.md)."""

from __future__ import annotations

from gateway.workloads import mixes, multi_agent, synthetic
from gateway.workloads.model import QualityKey, WorkRequest, Workload
from gateway.workloads.sources import BASELINE_MODEL, data_dir, replay_set

NAMES = ("multi-agent", "long-sessions", "repeats", "multi-part", "arena-single")


def build_workload(name: str, requests: int, seed: int = 0, rate: float = 20.0) -> Workload:
    """About `requests` requests of workload `name`; the synthetic one when there is no data folder."""
    data = data_dir()
    if data is None:
        return synthetic.build(requests, rate)
    if name == "multi-part":
        return mixes.multipart(data, requests, seed, rate)
    arena = replay_set(data, "arena")
    if name == "multi-agent":
        return multi_agent.build(arena, data, max(1, requests // 4), seed, rate)
    builders = {"long-sessions": mixes.long_sessions, "repeats": mixes.repeats, "arena-single": mixes.arena_single}
    if name not in builders:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(NAMES)}")
    return builders[name](arena, data, requests, seed, rate)


__all__ = ["BASELINE_MODEL", "NAMES", "QualityKey", "WorkRequest", "Workload", "build_workload"]
