"""Latency of `gateway.analysis.analyze` on realistic conversations, token counting included.

    python bench/analyzer_latency.py [--sizes 1000,8000,32000] [--runs 300] [--json]

Conversations are built from real text when a data folder is there (`GATEWAY_DATA_DIR` or ../shared/data: ShareGPT
first turns as user turns, Arena answers as assistant turns), otherwise from synthetic text (labelled as such). Each
has a system prompt, alternating turns up to the target size, and a last user question.

Three cases per size, because the token counter remembers counts of long texts by hash:
- cold: every message is new text (nothing cached): tokenizing the whole prompt dominates;
- warm: the history was seen before and only the last turn is new: the steady state of a chat or an agent loop,
  which resends the same system prompt and history on every call;
- rules only: warm `analyze` time minus a bare `count_messages` over the same messages: what the rules cost.
For reference, "tiktoken alone" is `count_messages` over all-new messages: the floor under any cold number.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
if "TIKTOKEN_CACHE_DIR" not in os.environ and (REPO.parent / "shared" / "tiktoken-cache").is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(REPO.parent / "shared" / "tiktoken-cache")

from gateway.accounting.tokens import counter_for_encoding  # noqa: E402
from gateway.analysis import analyze  # noqa: E402

SYSTEM = ("You are a helpful assistant for an engineering team. Answer precisely, cite assumptions, prefer short "
          "answers, and format code in fenced blocks. ") * 4
LAST_TURNS = ["Can you rewrite the second part so it is shorter and uses the async API instead?",
              "What are the main trade-offs between the two approaches you described, and which would you pick?",
              "Answer these:\n1. What is the capital of Australia?\n2. Who wrote Dune?\n3. What does HTTP 418 mean?",
              "Thanks! And how would I test that function with pytest, including the error case?"]


def corpus(data: Path | None) -> tuple[list[str], list[str], str]:
    """(user texts, assistant texts, source label)."""
    if data and (data / "prompts" / "sharegpt.jsonl").is_file():
        with (data / "prompts" / "sharegpt.jsonl").open(encoding="utf-8") as handle:
            users = [json.loads(line)["prompt"] for line in handle if line.strip()]
        answers: list[str] = []
        arena = data / "replay" / "arena-bench.dev.jsonl"
        if arena.is_file():
            with arena.open(encoding="utf-8") as handle:
                for line in handle:
                    answers.extend(text for text in json.loads(line)["answers"].values() if text)
        return users, answers or users, "real text (ShareGPT user turns, Arena answers)"
    rng = random.Random(1)
    vocab = ("the model routes each request to a cheaper worker when the context allows it and caches answers "
             "that repeat while the policy keeps quality above the threshold for every tenant").split()
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(20, 400))) for _ in range(500)]
    return texts, texts, "synthetic text (no data folder found)"


def conversation(target: int, users: list[str], answers: list[str], counter, rng: random.Random,
                 last: str) -> list[dict]:
    messages = [{"role": "system", "content": SYSTEM}]
    total = counter.count_messages(messages)
    while total < target:
        for role, pool in (("user", users), ("assistant", answers)):
            text = rng.choice(pool)[:6000]
            messages.append({"role": role, "content": text})
            total += 3 + counter.count_message_body(messages[-1])
    messages.append({"role": "user", "content": last})
    return messages


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def measure(target: int, runs: int, users: list[str], answers: list[str], counter) -> dict:
    rng = random.Random(target)
    base = conversation(target, users, answers, counter, rng, LAST_TURNS[0])
    tokens = counter.count_messages(base)
    cold, warm, bare, tokenize = [], [], [], []
    gc.disable()
    try:
        for run in range(runs):
            last = f"{LAST_TURNS[run % len(LAST_TURNS)]} (#{run})"
            fresh = [{**m, "content": f"[{run}] {m['content']}"} for m in base[:-1]]
            started = time.perf_counter()
            counter.count_messages(fresh)
            tokenize.append(time.perf_counter() - started)
            fresh = [{**m, "content": f"[{run}.] {m['content']}"} for m in base[:-1]]
            fresh.append({"role": "user", "content": last})
            started = time.perf_counter()
            analyze(fresh, None, counter)
            cold.append(time.perf_counter() - started)
            messages = base[:-1] + [{"role": "user", "content": last}]
            started = time.perf_counter()
            counter.count_messages(messages)
            bare.append(time.perf_counter() - started)
            started = time.perf_counter()
            analysis = analyze(messages, None, counter)
            warm.append(time.perf_counter() - started)
            if run % 50 == 49:
                gc.collect()
    finally:
        gc.enable()
    assert analysis.tokens.total == counter.count_messages(messages)
    ms = lambda values, q: percentile(values, q) * 1000  # noqa: E731
    features = [w - b for w, b in zip(warm, bare)]
    return {"target_tokens": target, "prompt_tokens": tokens, "messages": len(base), "runs": runs,
            "tokenize_only_p50_ms": ms(tokenize, 50),
            "cold_p50_ms": ms(cold, 50), "cold_p99_ms": ms(cold, 99), "warm_p50_ms": ms(warm, 50),
            "warm_p99_ms": ms(warm, 99), "features_p50_ms": ms(features, 50), "features_p99_ms": ms(features, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,8000,32000", help="target prompt sizes in tokens")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = None
    for candidate in (os.environ.get("GATEWAY_DATA_DIR"), str(REPO.parent / "shared" / "data")):
        if candidate and Path(candidate).is_dir():
            data = Path(candidate)
            break
    users, answers, source = corpus(data)
    counter = counter_for_encoding("o200k_base")
    rows = [measure(int(size), args.runs, users, answers, counter) for size in args.sizes.split(",")]
    report = {"tokenizer": f"o200k_base ({counter.source})", "text": source, "python": sys.version.split()[0],
              "rows": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"analyze() latency, {report['tokenizer']}, {source}, Python {report['python']}, {args.runs} runs\n")
    print("| prompt tokens | messages | tiktoken alone (cold) p50 | cold p50 | cold p99 | warm p50 | warm p99 "
          "| rules only p50 | rules only p99 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        cells = [f"{row['prompt_tokens']:,}", str(row["messages"])] + [
            f"{row[key]:.3f} ms" for key in ("tokenize_only_p50_ms", "cold_p50_ms", "cold_p99_ms", "warm_p50_ms",
                                            "warm_p99_ms", "features_p50_ms", "features_p99_ms")]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
