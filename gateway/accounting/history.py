"""The recent past, for the dashboard: per-10-second totals for the last hour, and the last 50 outcomes.

Both are bounded rings, so memory stays flat however long the replica runs. The outcomes keep what explains a
decision (route, model, policy rule, cache kind, costs) and nothing a client wrote: no prompt, no request id.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from gateway.accounting.outcome import Outcome

BUCKET_S = 10
BUCKETS = 360  # one hour
RECENT = 50


@dataclass
class Bucket:
    start: int
    requests: int = 0
    cost_usd: float = 0.0
    baseline_cost_usd: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"t": self.start, "requests": self.requests, "cost_usd": round(self.cost_usd, 10),
                "baseline_cost_usd": round(self.baseline_cost_usd, 10)}


class History:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.buckets: deque[Bucket] = deque(maxlen=BUCKETS)
        self.recent: deque[dict[str, object]] = deque(maxlen=RECENT)

    def add(self, outcome: Outcome) -> None:
        now = self.clock()
        bucket = self._bucket(int(now // BUCKET_S * BUCKET_S))
        bucket.requests += 1
        bucket.cost_usd += outcome.cost_usd
        bucket.baseline_cost_usd += outcome.baseline_cost_usd
        self.recent.append({"time": round(now, 3), "route": outcome.route, "model": ",".join(outcome.models),
                            "cache": outcome.cache, "rule": outcome.rule, "cost_usd": round(outcome.cost_usd, 10),
                            "baseline_cost_usd": round(outcome.baseline_cost_usd, 10),
                            "saved_usd": round(outcome.saved_usd, 10)})

    def _bucket(self, start: int) -> Bucket:
        if not self.buckets or self.buckets[-1].start != start:
            self.buckets.append(Bucket(start))
        return self.buckets[-1]

    def snapshot(self) -> dict[str, object]:
        """Buckets oldest first (quiet intervals are absent, not zero: the chart spaces points by time);
        outcomes newest first."""
        return {"bucket_seconds": BUCKET_S, "series": [bucket.as_dict() for bucket in self.buckets],
                "recent": list(reversed(self.recent))}
