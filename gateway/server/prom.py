"""Prometheus text exposition (format 0.0.4), written by hand: a handful of families needs no client library.

A family is rendered whole (HELP, TYPE, then its samples), so a scraper's strict parser never sees a family split
or a sample without its type. Label values are escaped as the format requires.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from gateway.server.timing import Histogram

Labels = Mapping[str, str]
Sample = tuple[Labels, float]


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def sample(name: str, value: float, labels: Labels | None = None) -> str:
    if labels:
        rendered = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
        return f"{name}{{{rendered}}} {float(value):.10g}"
    return f"{name} {float(value):.10g}"


def family(name: str, kind: str, help_text: str, samples: Iterable[Sample] | float) -> list[str]:
    """A counter or gauge family; a bare number is one unlabelled sample."""
    rows = [({}, samples)] if isinstance(samples, (int, float)) else samples
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"] + [sample(name, v, dict(l)) for l, v in rows]


def histograms(name: str, help_text: str, by_label: Iterable[tuple[Labels, Histogram]]) -> list[str]:
    """A histogram family: cumulative `_bucket{le}` series ending in +Inf, then `_sum` and `_count`."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for labels, histogram in by_label:
        counts = histogram.counts or [0] * (len(histogram.bounds) + 1)
        cumulative = 0
        for bound, count in zip(list(histogram.bounds) + [float("inf")], counts):
            cumulative += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            lines.append(sample(f"{name}_bucket", cumulative, {**labels, "le": le}))
        lines += [sample(f"{name}_sum", histogram.total, labels), sample(f"{name}_count", histogram.count, labels)]
    return lines
