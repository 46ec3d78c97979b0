"""The overhead benchmark runs end to end (a tiny run), so the numbers in the README stay reproducible."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO


def test_overhead_benchmark_quick_run(tmp_path):
    out = tmp_path / "overhead.json"
    done = subprocess.run([sys.executable, "bench/overhead.py", "--quick", "--out", str(out)], cwd=REPO,
                          env={**os.environ}, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert set(report["scenarios"]) == {"non-stream c=1", "non-stream c=32", "stream c=1", "stream c=32"}
    for scenario in report["scenarios"].values():
        gateway = scenario["targets"]["gateway"]
        assert gateway["errors"] == 0 and gateway["requests"] > 0
        assert gateway["proxy_cpu_ms_per_request"] > 0
        assert set(gateway["gateway_routes"]) == {"main/miss"}
