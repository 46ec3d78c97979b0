"""The other workloads: long sessions with independent questions, repeats and paraphrases, multi-part requests,
and single Arena prompts. Each keeps the data's own text; see bench/workloads/README.md for why each mix is so."""

from __future__ import annotations

import random
from pathlib import Path

from gateway.workloads.model import QualityKey, WorkRequest, Workload
from gateway.workloads.sources import BASELINE_MODEL, ReplaySet, read_jsonl, shuffled
from gateway.workloads.traces import arrival_gaps, arrivals, mooncake_repeat_rate


def _timed(requests: list[WorkRequest], data: Path, rate: float) -> list[WorkRequest]:
    for request, at in zip(requests, arrivals(arrival_gaps(data), len(requests), rate)):
        request.at = at
    return requests


def _arena_request(arena: ReplaySet, row: int, history: list[dict] | None = None) -> WorkRequest:
    messages = [*(history or []), {"role": "user", "content": arena.labelled.prompts[row]}]
    return WorkRequest(messages, item=f"arena:{row}", quality=QualityKey("arena", row))


def arena_single(arena: ReplaySet, data: Path, count: int, seed: int, rate: float) -> Workload:
    """Hard, unrelated Arena prompts, each once: no repeats and no history, so little but routing can save."""
    rows = shuffled(arena.usable_rows(), seed)[:count]
    return Workload("arena-single", "real Arena prompts, each once, no history", _timed(
        [_arena_request(arena, row) for row in rows], data, rate), replay_files=[str(arena.path)])


def long_sessions(arena: ReplaySet, data: Path, count: int, seed: int, rate: float, sessions: int = 3) -> Workload:
    """`sessions` chats that keep one conversation open: each turn is a real Arena prompt sent with every earlier
    turn and the baseline's recorded answer, so prompts grow to tens of thousands of tokens. Arena prompts are
    self-contained, so every turn is a context-independent side question: the best case for context trimming."""
    rows = shuffled(arena.usable_rows(), seed)[:count]
    histories: list[list[dict]] = [[] for _ in range(sessions)]
    requests = []
    for i, row in enumerate(rows):
        history = histories[i % sessions]
        requests.append(_arena_request(arena, row, list(history)))
        history += [{"role": "user", "content": arena.labelled.prompts[row]},
                    {"role": "assistant", "content": arena.answer(row, BASELINE_MODEL) or ""}]
    return Workload("long-sessions", f"{sessions} long chats of real Arena turns with recorded answers as history",
                    _timed(requests, data, rate), replay_files=[str(arena.path)])


def repeats(arena: ReplaySet, data: Path, count: int, seed: int, rate: float) -> Workload:
    """Half Arena prompts (exact repeats at the Mooncake trace's rate), half Quora question pairs sent one after
    the other (each pair's second question is a paraphrase when QQP labels it duplicate, a hard negative else)."""
    rng = random.Random(seed)
    repeat_rate = mooncake_repeat_rate(data)
    arena_part = [_arena_request(arena, row) for row in shuffled(arena.usable_rows(), seed)[:count // 2]]
    arena_part += [_arena_request(arena, int(r.item.split(":")[1])) for r in arena_part
                   if rng.random() < repeat_rate]
    pairs = read_jsonl(data / "qqp" / "pairs.dev.jsonl")
    pairs = shuffled(pairs[:20000], seed)[:max(1, (count - len(arena_part)) // 2)]
    qqp_part = []
    for i, pair in enumerate(pairs):
        a, b = f"qqp:{i}:a", f"qqp:{i}:b"
        qqp_part.append(WorkRequest([{"role": "user", "content": pair["a"]}], item=a))
        qqp_part.append(WorkRequest([{"role": "user", "content": pair["b"]}], item=b,
                                    dup_of=frozenset({a}) if pair["label"] else frozenset()))
    mixed = _merge(shuffled(arena_part, seed), qqp_part, rng)
    duplicates = sum(p["label"] for p in pairs)
    return Workload("repeats", "Arena prompts with exact re-sends, Quora pairs as paraphrases and hard negatives",
                    _timed(mixed, data, rate), replay_files=[str(arena.path)],
                    notes={"exact_repeat_rate": round(repeat_rate, 4), "qqp_pairs": len(pairs),
                           "qqp_duplicate_share": round(duplicates / max(1, len(pairs)), 3)})


def _merge(first: list[WorkRequest], pairs: list[WorkRequest], rng: random.Random) -> list[WorkRequest]:
    """Interleave at random; each QQP pair's second question goes at a random later place (a paraphrase comes
    from another user later, not while the first question is still being answered)."""
    out = list(first)
    for j in range(0, len(pairs), 2):
        a_at = rng.randint(0, len(out))
        out.insert(a_at, pairs[j])
        out.insert(rng.randint(a_at + 1, len(out)), pairs[j + 1])
    return out


def multipart(data: Path, count: int, seed: int, rate: float) -> Workload:
    """Real user prompts (ParallelPrompt, origin lmsys) that hold several independent subtasks. No recorded
    answers exist for them, so quality is not measured on this workload."""
    rows = [r for r in read_jsonl(data / "parallel" / "parallelprompt.dev.jsonl") if r.get("origin") == "lmsys"]
    requests = [WorkRequest([{"role": "user", "content": r["original"]}], item=f"parallel:{i}")
                for i, r in enumerate(shuffled(rows, seed)[:count])]
    return Workload("multi-part", "real multi-part user prompts (ParallelPrompt, lmsys origin)",
                    _timed(requests, data, rate))
