"""The HTML cost report: one self-contained file with hand-written inline SVG (no plotting dependency).

Plots: cumulative cost over requests (baseline against the gateway), saving by mechanism, quality kept by agent role.
"""

from __future__ import annotations

import html
from itertools import accumulate
from typing import Any

_W, _H, _PAD = 640, 260, 48


def _polyline(values: list[float], top: float, color: str) -> str:
    n = max(1, len(values) - 1)
    points = " ".join(f"{_PAD + (_W - 2 * _PAD) * i / n:.1f},{_H - _PAD - (_H - 2 * _PAD) * v / top:.1f}"
                      for i, v in enumerate(values))
    return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>'


def cumulative_cost_svg(baseline: list[float], gateway: list[float]) -> str:
    base, via = list(accumulate(baseline)), list(accumulate(gateway))
    top = max([*base, *via, 1e-9])
    return (f'<svg class="plot" id="cumulative-cost" width="{_W}" height="{_H}" xmlns="http://www.w3.org/2000/svg">'
            f'{_axes("requests", f"cumulative cost, USD (max {top:.4f})")}'
            f'{_polyline(base, top, "#c0392b")}{_polyline(via, top, "#2471a3")}'
            f'<text x="{_W - 200}" y="20" fill="#c0392b">baseline (as asked)</text>'
            f'<text x="{_W - 200}" y="38" fill="#2471a3">through the gateway</text></svg>')


def bars_svg(element_id: str, values: dict[str, float | None], unit: str, top: float | None = None) -> str:
    known = {k: v for k, v in values.items() if v is not None}
    top = top or max([*map(abs, known.values()), 1e-9])
    width = (_W - 2 * _PAD) / max(1, len(values))
    bars = []
    for i, (name, value) in enumerate(values.items()):
        x = _PAD + i * width
        height = 0 if value is None else (_H - 2 * _PAD) * max(0.0, value) / top
        label = "n/a" if value is None else f"{value:.1f}{unit}"
        bars.append(f'<rect x="{x + 6:.1f}" y="{_H - _PAD - height:.1f}" width="{width - 12:.1f}" '
                    f'height="{height:.1f}" fill="#2471a3"/><text x="{x + 8:.1f}" y="{_H - _PAD - height - 4:.1f}" '
                    f'font-size="11">{label}</text><text x="{x + 8:.1f}" y="{_H - _PAD + 16}" font-size="11">'
                    f'{html.escape(name)}</text>')
    return (f'<svg class="plot" id="{element_id}" width="{_W}" height="{_H}" xmlns="http://www.w3.org/2000/svg">'
            f'{_axes("", "")}{"".join(bars)}</svg>')


def _axes(x_label: str, y_label: str) -> str:
    return (f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#333"/>'
            f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#333"/>'
            f'<text x="{_W / 2}" y="{_H - 8}" font-size="12">{x_label}</text>'
            f'<text x="4" y="{_PAD - 12}" font-size="12">{y_label}</text>')


def html_report(report: dict[str, Any], text: str) -> str:
    series = report["series"]
    roles = {role: f["quality_kept_pct"] for role, f in report["by_role"].items()}
    title = f"Gateway cost report: {html.escape(report['workload'])}"
    banner = "<p><b>SYNTHETIC workload: quality not measured.</b></p>" if report["synthetic"] else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title}</h1>{banner}<pre>{html.escape(text)}</pre>"
            f"<h2>Cumulative cost over requests</h2>"
            f"{cumulative_cost_svg(series['baseline_cost_usd'], series['cost_usd'])}"
            f"<h2>Saving by mechanism (% of the baseline)</h2>"
            f"{bars_svg('saving-by-mechanism', report['saved_by_mechanism_pct'], '%')}"
            f"<h2>Quality kept by agent role (% of the baseline's judge score)</h2>"
            f"{bars_svg('quality-by-role', roles, '%', top=100.0)}</body></html>")
