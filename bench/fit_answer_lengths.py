"""Fit the answer-length priors (`gateway/decision/answer_lengths.json`) on recorded answers.

For every prompt of the replay sets (Arena and AlpacaEval: real prompts, the answers of many models), the analyzer
gives the task type and the last turn's tokens; the answers give real lengths. Tasks that transform a given text
(translation, rewriting, summarization, extraction) keep their share of the input as a structural prior (a
translation is about as long as its source) because these sets' prompts are too short to identify it, and only
their base is fitted; the rest get the median length. The median is robust to the few very long answers, and the
gateway corrects the estimates online from real usage anyway.

    python bench/fit_answer_lengths.py [--data DIR] [--write]
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

from _fit import REPO, fit_arguments, write_fit  # first: it puts the repository on the path
from gateway.accounting.tokens import counter_for_encoding
from gateway.analysis import TASK_TYPES, analyze

TRANSFORMING = ("translation", "rewriting", "summarization", "extraction")
OUT = REPO / "gateway" / "decision" / "answer_lengths.json"


def samples(data_dir: Path) -> dict[str, list[tuple[int, int]]]:
    """(input tokens, answer tokens) per task type, one pair per recorded answer."""
    counter = counter_for_encoding("cl100k_base")
    by_task: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for name, field in (("arena-bench.dev.jsonl", "answers"), ("alpaca-eval.dev.jsonl", "outputs")):
        with (data_dir / "replay" / name).open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                analysis = analyze([{"role": "user", "content": row["prompt"]}], None, counter)
                for answer in row[field].values():
                    if isinstance(answer, str) and answer.strip():
                        by_task[analysis.task_type].append((analysis.tokens.last_user, counter.count(answer)))
    return by_task


def fit(pairs: list[tuple[int, int]], per_input: float) -> dict[str, float]:
    """The median of what the answers add beyond their share of the input."""
    base = statistics.median(answer - per_input * given for given, answer in pairs)
    return {"base": round(max(1.0, base)), **({"per_input": per_input} if per_input else {})}


def main() -> None:
    args = fit_arguments(__doc__, OUT)
    by_task = samples(args.data)
    current = json.loads(OUT.read_text())["task_types"]
    fitted = {}
    print("| task type | answers | fitted | previous |\n|---|---|---|---|")
    for task in TASK_TYPES:
        pairs = by_task.get(task, [])
        share = float(current[task].get("per_input", 0.0)) if task in TRANSFORMING else 0.0
        fitted[task] = fit(pairs, share) if len(pairs) >= 5 else current[task]
        print(f"| {task} | {len(pairs)} | {fitted[task]} | {current[task]} |")
    if args.write:
        write_fit(OUT, {"source": "bench/fit_answer_lengths.py on the replay sets (median answer tokens; base + share "
                                  "of input for text-transforming tasks)", "task_types": fitted})


if __name__ == "__main__":
    main()
