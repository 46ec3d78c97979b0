"""One measurement: build the workload, run both passes, score, report. Shared by `gateway demo` and bench/cost.py."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

from gateway.config.settings import load_settings
from gateway.costbench.quality import QualityJudge
from gateway.costbench.report import build_report
from gateway.costbench.run import run_passes
from gateway.routing.data import load_set
from gateway.workloads import Workload, build_workload
from gateway.workloads.sources import data_dir


def _judge(workload: Workload, settings) -> QualityJudge | None:
    data = data_dir()
    if data is None or workload.synthetic:
        return None
    sets = {"arena": load_set(data / "replay" / "arena-bench.dev.jsonl", "arena")}
    for path in workload.notes.get("replay_files", []):  # --replay FILE: score with the files' own records
        sets[Path(path).stem] = load_set(path, Path(path).stem)
    return QualityJudge(sets, settings)


def measure(name: str, requests: int, *, seed: int = 0, rate: float = 20.0, config: str | None = None,
            policy: str | None = None, speed: float = 20.0, progress: bool = True,
            workload: Workload | None = None) -> dict[str, Any]:
    """The report for workload `name` (or a prebuilt `workload`) on the gateway with config `config`."""
    started = time.monotonic()
    workload = workload or build_workload(name, requests, seed, rate)
    if policy:
        workload = dataclasses.replace(workload, policy=policy)
    settings = load_settings(config)
    baseline, gateway = asyncio.run(run_passes(
        workload, lambda url: load_settings(config, upstream_override=url), speed=speed, progress=progress))
    report = build_report(workload, baseline, gateway, settings, _judge(workload, settings))
    report["semantic_embedder"] = "local model" if settings.cache.semantic.model_dir else "hashing fallback"
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    return report
