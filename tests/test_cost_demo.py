"""`gateway demo` and bench/cost.py run end to end (small workloads), and their reports add up."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO

KEYS = {"baseline_cost_usd", "cost_usd", "saved_pct", "quality_kept_pct", "saved_by_mechanism"}


def _run(args: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _consistent(report: dict) -> None:
    assert KEYS <= set(report)
    saved = report["baseline_cost_usd"] - report["cost_usd"]
    assert abs(sum(report["saved_by_mechanism"].values()) - saved) < 1e-4
    assert report["failed"] == 0


def test_demo_json_end_to_end(tmp_path):
    html = tmp_path / "report.html"
    report = _run(["-m", "gateway.cli", "demo", "--requests", "12", "--json", "--report", str(html)],
                  {**os.environ, "GATEWAY_LOG_LEVEL": "WARNING"})
    _consistent(report)
    page = html.read_text()
    assert 'id="cumulative-cost"' in page and 'id="saving-by-mechanism"' in page and 'id="quality-by-role"' in page


def test_demo_without_data_is_synthetic(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GATEWAY_DATA_DIR"}
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "demo", "--requests", "8", "--json", "--report",
                           str(tmp_path / "r.html")], cwd=REPO, env={**env, "GATEWAY_LOG_LEVEL": "WARNING"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.splitlines()[0].startswith("SYNTHETIC")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["synthetic"] and report["quality_kept_pct"] is None and not report["quality"]["measured"]


def test_cost_bench_smoke():
    report = _run(["bench/cost.py", "--workload", "repeats", "--requests", "12", "--json"],
                  {**os.environ, "GATEWAY_LOG_LEVEL": "WARNING"})
    _consistent(report)
    assert report["workload"] == "repeats"
