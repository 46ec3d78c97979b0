"""`gateway demo`: the simulator (replay mode) and the gateway on loopback, a real multi-agent workload, the report.

Needs no key, no network and no Redis. With `GATEWAY_DATA_DIR` set, the workload is built from real prompts and
recorded answers (see bench/workloads/README.md) and quality is read from the recorded judge scores; without it, a
synthetic workload runs, the first line and the report say so, and quality is marked as not measured.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gateway.costbench.html import html_report
from gateway.costbench.measure import measure
from gateway.costbench.report import text_report
from gateway.workloads.sources import data_dir


def run_demo(requests: int, report_path: str, workload: str = "multi-agent", as_json: bool = False) -> int:
    if data_dir() is None:
        print("SYNTHETIC workload: GATEWAY_DATA_DIR is not set (or has no replay data); quality is not measured",
              file=sys.stderr if as_json else sys.stdout)
    report = measure(workload, requests, progress=True)
    text = text_report(report)
    Path(report_path).write_text(html_report(report, text), encoding="utf-8")
    report["html_report"] = str(report_path)
    report.pop("series")
    print(text + f"\nembedder:  {report['semantic_embedder']}; took {report['wall_seconds']} s\n"
          f"HTML report written to {report_path}", file=sys.stderr if as_json else sys.stdout)
    if as_json:
        print(json.dumps(report))
    return 0 if report["failed"] == 0 else 1
