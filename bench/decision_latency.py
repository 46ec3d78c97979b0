"""What a routing decision costs: analyze -> policy match -> price the options, on conversations of 1k-32k tokens.

Two cases per size, because real traffic has both: `cold`, a conversation the gateway has never seen (up to 1,000
characters of new text are tokenized, the rest is estimated, see `Tally`), and `warm`, the next turn of a
conversation it has seen (the history's exact counts are remembered) - the common case for chat products and agent
pipelines, which resend their history. Between requests the benchmark waits for the background thread that counts
estimated text exactly (`settle`), as a chat's next turn comes after the user has read the answer; under a load
that keeps that thread busy, its tokenizing competes with decisions for the CPU. The estimate's error on the
decision is reported too: the estimated total against the exact one.

    python bench/decision_latency.py [--runs 300] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"
if "TIKTOKEN_CACHE_DIR" not in os.environ and (SHARED / "tiktoken-cache").is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(SHARED / "tiktoken-cache")

from gateway.accounting.tokens import counter_for_model  # noqa: E402
from gateway.config.settings import load_settings  # noqa: E402
from gateway.decision.decider import Caller  # noqa: E402
from gateway.server.state import GatewayState  # noqa: E402
from gateway.server.validation import validate_chat_request  # noqa: E402

SIZES = (1_000, 8_000, 32_000)


def source_texts() -> tuple[list[str], str]:
    data_dir = Path(os.environ.get("GATEWAY_DATA_DIR", SHARED / "data"))
    prompts = data_dir / "prompts" / "sharegpt.jsonl"
    if prompts.is_file():
        with prompts.open(encoding="utf-8") as handle:
            return [json.loads(line)["prompt"] for line in handle], f"ShareGPT turns ({prompts})"
    words = "the gateway routes each request to the cheapest model that keeps the answer good".split()
    return [" ".join(itertools.islice(itertools.cycle(words), i, i + 120)) for i in range(200)], "synthetic text"


def conversation(texts: list[str], target_tokens: int, salt: int) -> list[dict]:
    """Alternating user/assistant turns built from real text until the target size; the salt makes it unseen."""
    counter = counter_for_model("gpt-4o")
    messages = [{"role": "system", "content": f"You are a careful assistant (session {salt})."}]
    tokens, index = 0, salt * 7
    while tokens < target_tokens:
        text = texts[index % len(texts)][:4000]
        messages.append({"role": "user" if len(messages) % 2 else "assistant", "content": f"[{salt}] {text}"})
        tokens += counter.count(text) + 4
        index += 1
    if messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": "Thanks. Now summarize the key points of the above."})
    return messages


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(state: GatewayState, texts: list[str], size: int, runs: int) -> dict[str, float]:
    requested = state.settings.find_model("gpt-4o")
    counter = counter_for_model("gpt-4o")
    cold, warm, errors = [], [], []
    for run in range(runs):
        messages = conversation(texts, size, salt=size + run)
        request = validate_chat_request({"model": "gpt-4o", "messages": messages})
        counter.settle()
        started = time.perf_counter()
        decision = state.decider.decide(request, requested, Caller())
        cold.append(time.perf_counter() - started)
        errors.append(abs(decision.analysis.tokens.total / counter.count_messages(messages) - 1))
        counter.settle()
        follow_up = validate_chat_request({"model": "gpt-4o", "messages": messages + [
            {"role": "assistant", "content": "Here are the key points."},
            {"role": "user", "content": f"And which of them matters most for run {run}?"}]})
        started = time.perf_counter()
        state.decider.decide(follow_up, requested, Caller())
        warm.append(time.perf_counter() - started)
    return {"tokens": counter.count_messages(messages),
            **{f"{name}_{label}_ms": percentile(samples, q) * 1e3
               for name, samples in (("cold", cold), ("warm", warm)) for label, q in (("p50", 0.5), ("p99", 0.99))},
            "warm_mean_ms": statistics.fmean(warm) * 1e3, "cold_error_mean": statistics.fmean(errors),
            "cold_error_p95": percentile(errors, 0.95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object on the last line")
    args = parser.parse_args()
    texts, source = source_texts()
    state = GatewayState.create(load_settings(None, upstream_override="http://127.0.0.1:9/v1"))
    measure(state, texts, 1_000, 20)  # warm-up: tokenizer load, first-call costs
    results = {size: measure(state, texts, size, args.runs) for size in SIZES}
    print(f"decision latency (analyze + policy + options), default policy, {args.runs} runs, {source}")
    print("| conversation | tokens | cold p50 | cold p99 | warm p50 | warm p99 | cold total's error mean / p95 |")
    print("|---|---|---|---|---|---|---|")
    for size, r in results.items():
        print(f"| ~{size // 1000}k | {r['tokens']} | {r['cold_p50_ms']:.3f} ms | {r['cold_p99_ms']:.3f} ms | "
              f"{r['warm_p50_ms']:.3f} ms | {r['warm_p99_ms']:.3f} ms | "
              f"{r['cold_error_mean']:.1%} / {r['cold_error_p95']:.1%} |")
    if args.json:
        print(json.dumps({str(size): r for size, r in results.items()}))


if __name__ == "__main__":
    main()
