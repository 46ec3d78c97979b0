"""The benchmarks run end to end on tiny inputs, so the numbers in the README and docs stay reproducible."""

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


def test_cache_latency_benchmark_quick_run(redis_url):
    done = subprocess.run([sys.executable, "bench/cache_latency.py", "--questions", "20", "--redis", redis_url,
                           "--json"], cwd=REPO, env={**os.environ}, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    tiers = report["tiers"]
    assert tiers["exact_memory"]["answers"] == {"exact": 20} and tiers["exact_redis"]["answers"] == {"exact": 20}
    assert report["fixed_cost_ms"] > 0 and tiers["semantic_miss"]["in_gateway_lookup_ms_mean"] > 0
    for row, kind in (("semantic_hit", "semantic"), ("semantic_rejected", "miss")):  # timed by what answered
        if row in tiers:
            assert tiers[row]["requests"] == tiers[row]["answers"][kind]


def test_fault_suite_quick_run():
    done = subprocess.run([sys.executable, "bench/faults.py", "--requests", "30", "--rate", "0.2", "--json"], cwd=REPO,
                          env={**os.environ}, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["requests"] == 30 * 7 and set(report["by_fault"]) >= {"500", "stream-cut", "timeout"}
    # Non-streamed requests always get an answer; a stream that fails says so; nothing partial is ever cached.
    assert (report["non_stream_failures"], report["silent_cuts"], report["wrongly_cached"]) == (0, 0, 0)
    assert report["retries"] > 0


def test_fault_suite_redis_outage_quick_run():
    """Redis (the suite's own) killed and restarted under load: no request fails, limits fall back and return."""
    done = subprocess.run([sys.executable, "bench/faults.py", "--redis-outage", "--requests", "45", "--rps", "15",
                           "--json"], cwd=REPO, env={**os.environ}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["requests"] == 45 and report["requests_while_down"] == 15 and report["redis_down_s"] > 0.5
    assert (report["client_visible_failures"], report["silent_cuts"], report["wrongly_cached"]) == (0, 0, 0)
    assert report["limits_fell_back"] and report["limits_came_back"] and report["local_admissions"] >= 15
    assert report["redis_failures"] > 0 and report["redis_reconnects"] >= 1
    assert report["budget_spent_usd"] > 0     # the restarted Redis holds the key's spend again


def test_decision_latency_quick_run():
    done = subprocess.run([sys.executable, "bench/decision_latency.py", "--runs", "5", "--sizes", "1000", "--json"],
                          cwd=REPO, env={**os.environ}, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == {"chat ~1k", "short-turns ~1k"}
    for row in report.values():
        assert 900 <= row["tokens"] <= 2000 and row["messages"] >= 3
        assert row["cold_p50_ms"] > 0 and row["tiktoken_p50_ms"] > 0 and row["cold_vs_tiktoken_p50"] > 0
        assert row["cold_error_mean"] < 0.25  # the estimate is within a few percent of the exact count


def test_fits_rerun_on_the_data_reproduce_the_shipped_files():
    """Both fitting scripts run (dry, no `--write`), and refit from the data exactly the figures that ship."""
    runs = {script: subprocess.run([sys.executable, f"bench/{script}"], cwd=REPO, env={**os.environ},
                                   capture_output=True, text=True, timeout=120)
            for script in ("fit_answer_lengths.py", "fit_token_estimate.py")}
    for done in runs.values():
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = [line.split(" | ") for line in runs["fit_answer_lengths.py"].stdout.splitlines()[2:]]
    assert len(rows) >= 10 and all(fitted == previous.removesuffix(" |") for _, _, fitted, previous in rows)
    shipped = json.loads((REPO / "gateway" / "accounting" / "token_estimate.json").read_text())["encodings"]
    printed = runs["fit_token_estimate.py"].stdout
    for name, fitted in shipped.items():
        e = fitted["error"]
        assert f"| {name} | {e['n']} | {e['mean']:.1%} | {e['p95']:.1%} | {e['p99']:.1%} |" in printed
