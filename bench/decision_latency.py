"""What a routing decision costs: analyze -> policy match -> price the options, on conversations of 1k-32k tokens.

Two conversation shapes: `chat`, real user turns (ShareGPT) answered by real recorded assistant answers (Arena,
AlpacaEval), as a chat grows; and `short-turns`, every message a short real user turn, the worst case for the
per-message work (an 8k-token conversation has ~200 messages instead of ~30). Two cases per size, because real
traffic has both: `cold`, a conversation the gateway has never seen (up to 1,000
characters of new text are tokenized, the rest is estimated, see `Tally`), and `warm`, the next turn of a
conversation it has seen (the history's exact counts are remembered) - the common case for chat products and agent
pipelines, which resend their history. Between requests the benchmark waits for the background thread that counts
estimated text exactly (`settle`), as a chat's next turn comes after the user has read the answer; under a load
that keeps that thread busy, its tokenizing competes with decisions for the CPU. The estimate's error on the
decision is reported too: the estimated total against the exact one.

The machine is shared and its speed varies between sessions, so each cold decision is also set beside a reference
taken on the same conversation in the same run: counting its tokens exactly with tiktoken, as an accounting proxy
does for every request it has not seen (`tiktoken` column; the ratio is what to compare across runs). When the
quality router embeds prompts (`GATEWAY_MODEL_DIR`), the embedding is made first, as the gateway does before the
decision (`Decider.prefetch`; the chat path's `Decider.decide_async` does it after the policy, off the event loop), and
is not part of the time.

    python bench/decision_latency.py [--runs 300] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
SHAPES = ("chat", "short-turns")


def source_texts() -> tuple[list[str], list[str], str]:
    """Real user turns and real assistant answers (synthetic text without the data folder)."""
    data_dir = Path(os.environ.get("GATEWAY_DATA_DIR", SHARED / "data"))
    prompts = data_dir / "prompts" / "sharegpt.jsonl"
    if not prompts.is_file():
        words = "the gateway routes each request to the cheapest model that keeps the answer good".split()
        synthetic = [" ".join(itertools.islice(itertools.cycle(words), i, i + 120)) for i in range(200)]
        return synthetic, synthetic, "synthetic text"
    with prompts.open(encoding="utf-8") as handle:
        users = [json.loads(line)["prompt"] for line in handle]
    answers = recorded_answers(data_dir / "replay")
    return users, answers or users, f"ShareGPT turns, {len(answers)} recorded answers ({data_dir})"


def recorded_answers(replay_dir: Path) -> list[str]:
    """Assistant text as models really wrote it: every recorded answer of the replay sets."""
    answers: list[str] = []
    for path in sorted(replay_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                answers += [text for text in (row.get("answers") or row.get("outputs") or {}).values() if text]
    return answers


def conversation(users: list[str], answers: list[str], target_tokens: int, salt: int) -> list[dict]:
    """Alternating user/assistant turns of real text until the target size; the salt makes it unseen."""
    counter = counter_for_model("gpt-4o")
    messages = [{"role": "system", "content": f"You are a careful assistant (session {salt})."}]
    tokens, index = 0, salt * 7
    while tokens < target_tokens:
        source = users if len(messages) % 2 else answers
        text = source[index % len(source)][:4000]
        messages.append({"role": "user" if len(messages) % 2 else "assistant", "content": f"[{salt}] {text}"})
        tokens += counter.count(text) + 4
        index += 1
    if messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": "Thanks. Now summarize the key points of the above."})
    return messages


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def exact_count_time(messages: list[dict], counter) -> float:
    """The reference: tokenizing every message of the conversation with tiktoken, nothing cached."""
    encode_len = counter._encode_len
    started = time.perf_counter()
    for message in messages:
        encode_len(message["content"])
    return time.perf_counter() - started


def measure(state: GatewayState, users: list[str], answers: list[str], size: int, runs: int,
            loop: asyncio.AbstractEventLoop) -> dict[str, float]:
    requested = state.settings.find_model("gpt-4o")
    counter = counter_for_model("gpt-4o")
    cold, warm, reference, errors, lengths = [], [], [], [], []
    for run in range(runs):
        messages = conversation(users, answers, size, salt=size + run)
        request = validate_chat_request({"model": "gpt-4o", "messages": messages})
        reference.append(exact_count_time(messages, counter))
        counter.settle()
        cold.append(timed_decision(state, request, requested, loop))
        decision = state.decider.decide(request, requested, Caller())
        state.decider.remember_asked(request, requested)  # what the chat path records, so the next turn's
        state.decider.remember_sent(requested, messages, request)  # prompt-cache lookups find its prefix
        errors.append(abs(decision.analysis.tokens.total / counter.count_messages(messages) - 1))
        lengths.append(len(messages))
        counter.settle()
        follow_up = validate_chat_request({"model": "gpt-4o", "messages": messages + [
            {"role": "assistant", "content": "Here are the key points."},
            {"role": "user", "content": f"And which of them matters most for run {run}?"}]})
        warm.append(timed_decision(state, follow_up, requested, loop))
    return {"tokens": counter.count_messages(messages), "messages": statistics.median(lengths),
            **{f"{name}_{label}_ms": percentile(samples, q) * 1e3
               for name, samples in (("cold", cold), ("warm", warm), ("tiktoken", reference))
               for label, q in (("p50", 0.5), ("p99", 0.99))},
            "cold_vs_tiktoken_p50": percentile(cold, 0.5) / percentile(reference, 0.5),
            "warm_mean_ms": statistics.fmean(warm) * 1e3, "cold_error_mean": statistics.fmean(errors),
            "cold_error_p95": percentile(errors, 0.95)}


def timed_decision(state: GatewayState, request, requested, loop: asyncio.AbstractEventLoop) -> float:
    """One decision's time, after the work the gateway does before it off the event loop (the prompt's embedding)."""
    loop.run_until_complete(state.decider.prefetch(request, Caller()))
    started = time.perf_counter()
    state.decider.decide(request, requested, Caller())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="target tokens per conversation")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object on the last line")
    args = parser.parse_args()
    users, answers, source = source_texts()
    state = GatewayState.create(load_settings(None, upstream_override="http://127.0.0.1:9/v1"))
    loop = asyncio.new_event_loop()
    measure(state, users, users, 1_000, 20, loop)  # warm-up: tokenizer load, first-call costs
    gc.collect()
    gc.freeze()  # as `gateway serve` does once start-up has loaded everything (gateway/server/app.py)
    shapes = {"chat": answers, "short-turns": users}
    results = {f"{shape} ~{size // 1000}k": measure(state, users, shapes[shape], size, args.runs, loop)
               for shape in SHAPES for size in args.sizes}
    router = "embedding" if getattr(state.decider.engine.router, "_topic_weights", None) is not None else "words"
    print(f"decision latency (analyze + policy + options), default policy, {router} router, {args.runs} runs, "
          f"{source}")
    print("| conversation | messages | tokens | cold p50 | cold p99 | warm p50 | warm p99 | tiktoken p50 "
          "(reference) | cold / tiktoken | cold total's error mean / p95 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['messages']:.0f} | {r['tokens']} | {r['cold_p50_ms']:.2f} ms | {r['cold_p99_ms']:.2f} ms | "
              f"{r['warm_p50_ms']:.2f} ms | {r['warm_p99_ms']:.2f} ms | {r['tiktoken_p50_ms']:.2f} ms | "
              f"{r['cold_vs_tiktoken_p50']:.2f}x | {r['cold_error_mean']:.1%} / {r['cold_error_p95']:.1%} |")
    loop.close()
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
