"""A strict parser for the Prometheus text format (0.0.4), for tests: it refuses what a lenient scraper forgives.

Checked: every sample belongs to a family announced by `# HELP` and `# TYPE` before it; a family is one contiguous
block; names and label names are valid; label values are properly escaped; values are numbers; no series repeats;
counters end in `_total`; histograms have `_bucket` series with `le` ending in +Inf, cumulative counts, and `_sum`
and `_count` matching the +Inf bucket.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
_SAMPLE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)$")
_PAIR = re.compile(rf'({LABEL})="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


@dataclass
class Family:
    name: str
    kind: str = ""
    help: str = ""
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def series(self, suffix: str = "") -> list[tuple[dict[str, str], float]]:
        return [(labels, value) for name, labels, value in self.samples if name == self.name + suffix]


def parse(text: str) -> dict[str, Family]:
    assert text.endswith("\n"), "exposition must end with a newline"
    families: dict[str, Family] = {}
    current: Family | None = None
    seen: set[tuple[str, tuple]] = set()
    for number, line in enumerate(text.splitlines(), 1):
        where = f"line {number}: {line!r}"
        assert line.strip(), f"{where}: blank line"
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            keyword, name, rest = line[2:6], *(line[7:].split(" ", 1) + [""])[:2]
            assert re.fullmatch(NAME, name), f"{where}: bad metric name"
            if current is None or current.name != name:
                assert name not in families, f"{where}: family {name} reopened"
                current = families[name] = Family(name)
            if keyword == "HELP":
                assert rest and not current.help, f"{where}: empty or repeated HELP"
                current.help = rest
            else:
                assert rest in TYPES and not current.kind and not current.samples, f"{where}: bad or late TYPE"
                current.kind = rest
            continue
        assert not line.startswith("#"), f"{where}: stray comment"
        match = _SAMPLE.match(line)
        assert match, f"{where}: not a sample"
        name, raw_labels, raw_value = match.groups()
        assert current is not None and current.kind and current.help, f"{where}: sample before HELP and TYPE"
        suffixes = ("_bucket", "_sum", "_count") if current.kind == "histogram" else ("",)
        assert any(name == current.name + s for s in suffixes), f"{where}: not part of family {current.name}"
        labels = _labels(raw_labels or "", where)
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen, f"{where}: duplicate series"
        seen.add(key)
        value = float(raw_value)  # raises on anything that is not a number (+Inf, NaN are numbers here)
        current.samples.append((name, labels, value))
    for family in families.values():
        _check_family(family)
    return families


def _labels(raw: str, where: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    position = 0
    while position < len(raw):
        match = _PAIR.match(raw, position)
        assert match, f"{where}: bad labels at {raw[position:]!r}"
        assert match.group(1) not in labels, f"{where}: repeated label"
        labels[match.group(1)] = match.group(2)
        position = match.end()
    return labels


def _check_family(family: Family) -> None:
    assert family.kind and family.help, f"{family.name}: missing TYPE or HELP"
    if family.kind == "counter":
        assert family.name.endswith("_total"), f"{family.name}: counters end in _total"
        assert all(v >= 0 for _, _, v in family.samples), f"{family.name}: negative counter"
    if family.kind == "histogram":
        _check_histogram(family)


def _check_histogram(family: Family) -> None:
    groups: dict[tuple, list[tuple[float, float]]] = {}
    for labels, value in family.series("_bucket"):
        assert "le" in labels, f"{family.name}: bucket without le"
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        groups.setdefault(rest, []).append((float(labels["le"]), value))
    sums = {tuple(sorted(l.items())): v for l, v in family.series("_sum")}
    counts = {tuple(sorted(l.items())): v for l, v in family.series("_count")}
    assert set(groups) == set(sums) == set(counts), f"{family.name}: buckets, _sum and _count disagree on series"
    for key, buckets in groups.items():
        bounds = [b for b, _ in buckets]
        assert bounds == sorted(bounds) and math.isinf(bounds[-1]), f"{family.name}{key}: le not ascending to +Inf"
        values = [v for _, v in buckets]
        assert values == sorted(values), f"{family.name}{key}: buckets not cumulative"
        assert values[-1] == counts[key], f"{family.name}{key}: +Inf bucket != _count"
        assert sums[key] >= 0
