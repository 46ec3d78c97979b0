"""The semantic-cache evaluation runs end to end on a few rows, so the numbers in docs/semantic_cache.md stay
reproducible."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_semantic_cache_eval_quick_run(tmp_path):
    plot = tmp_path / "curve.png"
    done = subprocess.run([sys.executable, "bench/cache_eval.py", "--limit", "300", "--latency-texts", "20",
                           "--plot", str(plot), "--json"], cwd=REPO,
                          env={**os.environ, "GATEWAY_BENCH_CACHE": str(tmp_path / "vectors")},
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0.0 <= report["precision"] <= 1.0 and 0.0 <= report["recall"] <= 1.0
    assert 0.0 <= report["cosine_only_precision_at_same_recall"] <= 1.0
    assert 0.5 < report["threshold"] < 1.0 and report["embedder"]
    assert report["pairs"] > 50 and report["split"] == "test" and report["embed_ms_p50"] > 0
    assert plot.is_file() or "matplotlib is not installed" in done.stdout
