"""Splitting: detection quality, and the cost and wall-clock time of split against whole, with and without faults.

    python bench/split_eval.py [--positives FILE] [--negatives FILE] [--limit N] [--timing-limit N]
                               [--fault-requests N] [--speed S] [--json]

- detection: positives are ParallelPrompt rows (`original`, `data` or `n`); negatives are real first turns
  (`id`, `prompt`: ShareGPT). A negative listed in bench/split_labels.txt is really parallel (asks for N independent
  items, or several separate questions) and counts as neither a false nor a true positive. Precision counts true
  positives on the positives against false positives on the negatives; recall is on the positives, also on a fixed
  held-out portion (rows whose text hashes into 3/16 of the space; the rules were not tuned on a split, so this is a
  check of stability, not a clean test set); subtask-count accuracy is how often the number of parts is the
  reference's, among the detected.
- time and cost: positives with 4+ detected subtasks, through the gateway (default policy: workers on gpt-4o-mini)
  against the whole request sent to gpt-4o, both on the simulator's latency model (`--speed` scales every model's
  speed alike, so ratios hold). The whole request is asked for as many answer tokens as the workers wrote together
  (simulator metadata `sim_answer_tokens`): one answer to N questions is at least that long.
- integration: the same requests with 0% and 10% of upstream calls failing (HTTP 500 at random, retries and
  fallbacks included): the share answered with every part present, in order, without duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
if "TIKTOKEN_CACHE_DIR" not in os.environ and (REPO.parent / "shared" / "tiktoken-cache").is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(REPO.parent / "shared" / "tiktoken-cache")

import httpx  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from gateway.accounting.cost import cost_usd, usage_from_openai  # noqa: E402
from gateway.accounting.tokens import counter_for_encoding  # noqa: E402
from gateway.analysis import analyze  # noqa: E402
from gateway.config.settings import load_settings  # noqa: E402
from gateway.policy.schema import SplitPolicy  # noqa: E402
from gateway.server.app import create_app  # noqa: E402
from gateway.sim import SimOptions, build_sim_app  # noqa: E402

COUNTER = counter_for_encoding("o200k_base")
LABELS = Path(__file__).with_name("split_labels.txt")
MIN_CONFIDENCE = SplitPolicy().min_confidence
MAIN, WORKER = "gpt-4o", "gpt-4o-mini"
NO_CACHE = {"x-gateway-cache": "no-cache"}  # repeated prompts must be split each time, not answered from the cache


def data_dir() -> Path:
    for candidate in (os.environ.get("GATEWAY_DATA_DIR"), str(REPO.parent / "shared" / "data")):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    sys.exit("no data folder: set GATEWAY_DATA_DIR (the layout of ../shared/data)")


def load(path: Path, limit: int | None) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return rows[:limit] if limit else rows


def shape(text: str):
    found = analyze([{"role": "user", "content": text}], None, COUNTER).split
    return found if found is not None and found.confidence >= MIN_CONFIDENCE else None


def held_out(text: str) -> bool:
    return int(hashlib.sha1(text.encode()).hexdigest()[-1], 16) < 3


def detection(positives: list[dict], negatives: list[dict], labels: set[str]) -> dict:
    found = [(row, shape(row["original"])) for row in positives]
    hits = [(row, s) for row, s in found if s is not None]
    expected = lambda row: len(row["data"]) if row.get("data") else row.get("n") or 0  # noqa: E731
    flagged = [row for row in negatives if shape(row["prompt"]) is not None]
    false_pos = [row for row in flagged if str(row.get("id")) not in labels]
    held = [(row, s) for row, s in found if held_out(row["original"])]
    by_category: dict[str, list[int]] = {}
    for row, s in found:
        cell = by_category.setdefault(row.get("category", "all"), [0, 0])
        cell[0] += 1
        cell[1] += s is not None
    return {"positives": len(positives), "negatives": len(negatives), "precision": len(hits) / max(1, len(hits) + len(false_pos)),
            "recall": len(hits) / max(1, len(positives)),
            "subtask_count_accuracy": sum(s.n == expected(row) for row, s in hits) / max(1, len(hits)),
            "held_out_rows": len(held), "held_out_recall": sum(s is not None for _, s in held) / max(1, len(held)),
            "false_positives": len(false_pos), "false_positive_rate": len(false_pos) / max(1, len(negatives)),
            "labelled_parallel_negatives_found": len(flagged) - len(false_pos),
            "recall_by_category": {k: v[1] / v[0] for k, v in sorted(by_category.items())},
            "false_positive_ids": [row.get("id") for row in false_pos]}


async def _servers(sim_options: SimOptions):
    sim = TestServer(build_sim_app(sim_options))
    await sim.start_server()
    config = REPO / "bench" / ".split_eval.yaml"
    config.write_text("policies:\n  default: default\n")
    settings = load_settings(str(config), upstream_override=str(sim.make_url("/v1")),
                             environ={**os.environ, "OPENAI_API_KEY": "sk-bench"})
    gateway = TestServer(create_app(settings))
    await gateway.start_server()
    return sim, gateway


async def timing(prompts: list[str], speed: float) -> dict:
    """Split through the gateway vs whole on the main model, one request at a time (wall-clock is per request)."""
    sim, gateway = await _servers(SimOptions(latency=True, speed=speed))
    settings = load_settings(None, environ={})
    rows = []
    try:
        async with httpx.AsyncClient(timeout=600) as client:
            for prompt in prompts:
                body = {"model": MAIN, "messages": [{"role": "user", "content": prompt}]}
                start = time.perf_counter()
                split = await client.post(str(gateway.make_url("/v1/chat/completions")), json=body,
                                          headers=NO_CACHE)
                split_s = time.perf_counter() - start
                if not split.headers.get("x-gateway-route", "").startswith("split:"):
                    continue
                tokens = split.json()["usage"]["completion_tokens"]
                whole_body = {**body, "metadata": {"sim_answer_tokens": str(tokens)}}
                start = time.perf_counter()
                whole = await client.post(str(sim.make_url("/v1/chat/completions")), json=whole_body)
                whole_s = time.perf_counter() - start
                whole_cost = cost_usd(settings.find_model(MAIN), usage_from_openai(whole.json()["usage"]))
                rows.append((split_s, whole_s, float(split.headers["x-gateway-cost-usd"]), whole_cost))
    finally:
        await gateway.close()
        await sim.close()
    if not rows:
        return {"timed_requests": 0}
    return {"timed_requests": len(rows), "speedup": statistics.median(w / s for s, w, _, _ in rows),
            "split_s_median": statistics.median(r[0] for r in rows),
            "whole_s_median": statistics.median(r[1] for r in rows),
            "cost_saving": 1 - sum(r[2] for r in rows) / sum(r[3] for r in rows)}


async def integration(prompts: list[str], fault_rate: float) -> dict:
    """Share of the requests answered split whose answer has every part, in order, once; and the share of all
    requests answered at all (a part that fails everywhere falls back to the main session; that call can fail too)."""
    rates = {"500": fault_rate} if fault_rate else {}
    sim, gateway = await _servers(SimOptions(latency=False, fault_rates=rates, seed=7))
    integrated = answered = split = 0
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            for prompt in prompts:
                found = shape(prompt)
                body = {"model": MAIN, "messages": [{"role": "user", "content": prompt}]}
                reply = await client.post(str(gateway.make_url("/v1/chat/completions")), json=body,
                                          headers=NO_CACHE)
                answered += reply.status_code == 200
                if reply.status_code == 200 and reply.headers.get("x-gateway-route", "").startswith("split:"):
                    split += 1
                    integrated += _in_order(reply.json()["choices"][0]["message"]["content"], found)
    finally:
        await gateway.close()
        await sim.close()
    return {"requests": split, "integration_success": integrated / max(1, split), "answered": answered / max(1, len(prompts))}


def _in_order(content: str, found) -> bool:
    if found is None or found.kind == "count":
        return bool(content.strip())
    marks = [content.find(f"**{label}**") for label in found.labels]
    return all(m >= 0 for m in marks) and marks == sorted(marks) and len(set(marks)) == len(marks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = data_dir()
    parser.add_argument("--positives", type=Path, default=data / "parallel" / "parallelprompt.dev.jsonl")
    parser.add_argument("--negatives", type=Path, default=data / "prompts" / "sharegpt.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="rows of each file (default: all)")
    parser.add_argument("--timing-limit", type=int, default=16, help="requests of 4+ subtasks timed and faulted")
    parser.add_argument("--fault-requests", type=int, default=None, help="requests per fault rate (default: 5x)")
    parser.add_argument("--speed", type=float, default=4.0, help="simulator speed factor (ratios do not change)")
    parser.add_argument("--json", action="store_true", help="print the headline figures as JSON on the last line")
    args = parser.parse_args()
    labels = {line.split("#")[0].strip() for line in LABELS.read_text().splitlines()} - {""}
    positives, negatives = load(args.positives, args.limit), load(args.negatives, args.limit)
    report = detection(positives, negatives, labels)
    # Timing and faults draw on the whole positives file: --limit bounds detection rows, --timing-limit these.
    big = [row["original"] for row in load(args.positives, None)
           if (s := shape(row["original"])) and s.kind == "items" and s.n >= 4]
    report.update(asyncio.run(timing(big[:args.timing_limit], args.speed)))
    faulted = (big * 5)[:args.fault_requests or 5 * args.timing_limit]
    for rate in (0.0, 0.1):
        result = asyncio.run(integration(faulted, rate))
        report[f"integration_success_{int(rate * 100)}pct_faults"] = result["integration_success"]
        report[f"answered_{int(rate * 100)}pct_faults"] = result["answered"]
    _print(report)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "false_positive_ids"}))


def _print(report: dict) -> None:
    print("| figure | value |\n|---|---|")
    for key, value in report.items():
        if key in ("false_positive_ids", "recall_by_category"):
            continue
        print(f"| {key} | {value:.3f} |" if isinstance(value, float) else f"| {key} | {value} |")
    print("recall by category:", {k: round(v, 3) for k, v in report["recall_by_category"].items()})
    print("false positives (ids):", " ".join(map(str, report["false_positive_ids"])))


if __name__ == "__main__":
    main()
