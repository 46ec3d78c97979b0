"""Arrival times and repeat rates measured on the real traces in `<data>/traces`.

Arrivals keep the Azure conversation trace's inter-arrival gaps (its bursts and lulls) and only compress time, so a
replay keeps the trace's shape at a rate the simulator on a laptop can serve. The repeat rate is what the Mooncake
conversation trace shows: the share of requests whose whole prompt (every shared-prefix block, `hash_ids`) was
already sent before.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path


def arrival_gaps(data: Path, limit: int = 5000) -> list[float]:
    """Seconds between consecutive requests of the Azure conversation trace (its first `limit` rows)."""
    path = data / "traces" / "azure_conv.csv"
    stamps: list[float] = []
    with path.open(encoding="utf-8") as handle:
        for row, _ in zip(csv.DictReader(handle), range(limit)):
            stamps.append(datetime.fromisoformat(row["TIMESTAMP"][:26]).timestamp())
    return [max(0.0, b - a) for a, b in zip(stamps, stamps[1:])]


def arrivals(gaps: list[float], count: int, rate: float) -> list[float]:
    """`count` arrival times with the trace's gap shape, time scaled so the mean rate is `rate` per second."""
    if not gaps:
        return [i / rate for i in range(count)]
    mean = sum(gaps) / len(gaps) or 1.0
    scale = 1.0 / (rate * mean)
    times, now = [], 0.0
    for i in range(count):
        times.append(now)
        now += gaps[i % len(gaps)] * scale
    return times


def mooncake_repeat_rate(data: Path) -> float:
    """Share of Mooncake requests whose full block sequence repeats an earlier request (about 1%)."""
    seen: set[tuple[int, ...]] = set()
    repeats = total = 0
    with (data / "traces" / "mooncake_conversation.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            blocks = tuple(json.loads(line)["hash_ids"])
            repeats += blocks in seen
            total += 1
            seen.add(blocks)
    return repeats / total if total else 0.0
