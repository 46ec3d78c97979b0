"""How well the analyzer's rules do on real prompts (development data only; part of each set is held back).

    python bench/analyzer_eval.py [--data DIR] [--json] [--show N]

Figures:
- subtasks, recall: ParallelPrompt prompts (each has several independent subtasks) on which any are found, by
  category, and how often the count matches the reference decomposition.
- subtasks, false positives: ordinary prompts (ShareGPT first turns, MT-Bench turns) on which some are found.
  Some of these are real multi-question prompts, so this is an upper bound on the error; `--show` prints them.
- dependency: MT-Bench turn 2 after turn 1 and a placeholder answer (should be > 0.5), turn 1 alone (0), and two
  controls: another question's turn 1, and ShareGPT turns, asked after an unrelated exchange (should be < 0.5).
- task type: MT-Bench category agreement on turn 1 where the mapping is obvious.
- task type on sets that are their own label: GSM8K and MMLU's math subjects should be typed math.
- complexity: mean level where a cheap model (Mixtral) got the answer right vs wrong (RouteLLM MMLU/GSM8K).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
if "TIKTOKEN_CACHE_DIR" not in os.environ and (REPO.parent / "shared" / "tiktoken-cache").is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(REPO.parent / "shared" / "tiktoken-cache")

from gateway.accounting.tokens import counter_for_encoding  # noqa: E402
from gateway.analysis import analyze  # noqa: E402

OBVIOUS = {"coding": {"code_generation"}, "math": {"math"}, "extraction": {"extraction"},
           "writing": {"creative_writing", "rewriting"}, "roleplay": {"creative_writing"}, "reasoning": {"reasoning"}}
LOOSE = {"stem": {"open_question", "reasoning"}, "humanities": {"open_question", "reasoning", "creative_writing"}}
PLACEHOLDER = "Here is my answer to your request, with the details you asked for."
COUNTER = counter_for_encoding("o200k_base")


def data_dir(arg: str | None) -> Path | None:
    for candidate in (arg, os.environ.get("GATEWAY_DATA_DIR"), str(REPO.parent / "shared" / "data")):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def subtask_recall(rows: list[dict]) -> dict:
    """Share of ParallelPrompt prompts on which subtasks are found, and how often their count is the reference's."""
    by_cat: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for row in rows:
        found = analyze(user(row["original"]), None, COUNTER).subtasks
        expected = len(row["data"]) if row.get("data") else row.get("n") or 0
        keys = [row["category"], f"origin:{row.get('origin')}", "all"]
        if row["category"] != "generate_n":
            keys.append("all but generate_n")
        for key in keys:
            cell = by_cat[key]
            cell[0] += 1
            cell[1] += len(found) >= 2
            cell[2] += len(found) >= 2 and len(found) == expected
    return {key: {"rows": n, "recall": hit / n, "count_matches": same / hit if hit else None}
            for key, (n, hit, same) in sorted(by_cat.items())}


def false_positives(texts: list[str], show: int) -> dict:
    hits = []
    for text in texts:
        analysis = analyze(user(text), None, COUNTER)
        if analysis.has_subtasks:
            hits.append((text, analysis))
    for text, analysis in hits[:show]:
        print(f"--- {len(analysis.subtasks)} subtasks ({analysis.signals[-2]}):\n{text[:400]}\n", file=sys.stderr)
    return {"prompts": len(texts), "with_subtasks": len(hits), "rate": len(hits) / len(texts) if texts else None}


def mt_bench(rows: list[dict], show: int) -> dict:
    rng = random.Random(7)
    turn1_zero = dep2_high = control_low = agree = agree_n = loose = loose_n = 0
    confusion: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    misses = []
    for index, row in enumerate(rows):
        first, second = row["turns"][:2]
        one = analyze(user(first), None, COUNTER)
        turn1_zero += one.context_dependency == 0.0
        history = [{"role": "user", "content": first}, {"role": "assistant", "content": PLACEHOLDER}]
        two = analyze(history + user(second), None, COUNTER)
        dep2_high += two.context_dependency > 0.5
        if two.context_dependency <= 0.5:
            misses.append((two.context_dependency, second))
        other = rows[(index + rng.randrange(1, len(rows))) % len(rows)]["turns"][0]
        control_low += analyze(history + user(other), None, COUNTER).context_dependency < 0.5
        category = row["category"]
        confusion[category][one.task_type] += 1
        if category in OBVIOUS:
            agree_n += 1
            agree += one.task_type in OBVIOUS[category]
        elif category in LOOSE:
            loose_n += 1
            loose += one.task_type in LOOSE[category]
    for dep, text in misses[:show]:
        print(f"--- turn 2 dependency {dep:.2f}: {text[:200]}", file=sys.stderr)
    n = len(rows)
    return {"rows": n, "turn1_dependency_zero": turn1_zero / n, "turn2_dependency_gt_0_5": dep2_high / n,
            "control_unrelated_turn_lt_0_5": control_low / n,
            "category_agreement_obvious": agree / agree_n if agree_n else None, "obvious_rows": agree_n,
            "category_agreement_loose": loose / loose_n if loose_n else None, "loose_rows": loose_n,
            "confusion": {k: dict(v) for k, v in confusion.items()}}


def sharegpt_control(texts: list[str], mt_rows: list[dict]) -> dict:
    """ShareGPT turns asked after an unrelated MT-Bench exchange: share with dependency > 0.5. An upper bound on
    false 'dependent' verdicts: ShareGPT 'first turns' include mid-conversation prompts ('Continue.', 'Sure! ...')."""
    rng = random.Random(5)
    high = 0
    for text in texts:
        row = rng.choice(mt_rows)
        history = [{"role": "user", "content": row["turns"][0]}, {"role": "assistant", "content": PLACEHOLDER}]
        high += analyze(history + user(text), None, COUNTER).context_dependency > 0.5
    return {"prompts": len(texts), "dependency_gt_0_5": high / len(texts) if texts else None}


def complexity_vs_cheap_model(path: Path, limit: int) -> dict | None:
    if not path.is_file():
        return None
    rows = load(path)[:limit]
    levels: dict[bool, list[int]] = {True: [], False: []}
    for row in rows:
        correct = (row.get("correct") or {}).get("mistralai/Mixtral-8x7B-Instruct-v0.1",
                                                 (row.get("correct") or {}).get("mixtral-8x7b-instruct"))
        if correct is None:
            continue
        levels[bool(correct)].append(analyze(user(row["prompt"]), None, COUNTER).complexity)
    mean = {key: (sum(v) / len(v) if v else None) for key, v in levels.items()}
    return {"rows": len(levels[True]) + len(levels[False]), "mean_complexity_cheap_right": mean[True],
            "mean_complexity_cheap_wrong": mean[False]}


MATH_SUBJECTS = ("abstract_algebra", "college_mathematics", "elementary_mathematics", "high_school_mathematics",
                 "high_school_statistics", "college_physics", "high_school_physics")


def labelled_task_types(root: Path) -> dict:
    """Task type where the set itself is the label: GSM8K word problems and MMLU's math subjects are math."""
    out = {}
    gsm = root / "routing" / "gsm8k.dev.jsonl"
    if gsm.is_file():
        types = collections.Counter(analyze(user(r["prompt"]), None, COUNTER).task_type for r in load(gsm))
        out["gsm8k_math"] = {"rows": sum(types.values()), "math": types["math"] / sum(types.values()),
                             "types": dict(types.most_common())}
    mmlu = root / "routing" / "mmlu.dev.jsonl"
    if mmlu.is_file():
        rows = [r for r in load(mmlu) if r.get("subject") in MATH_SUBJECTS]
        types = collections.Counter(analyze(user(r["prompt"]), None, COUNTER).task_type for r in rows)
        out["mmlu_math_subjects"] = {"rows": len(rows), "math": types["math"] / len(rows) if rows else None,
                                     "types": dict(types.most_common())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="data folder in the layout of ../shared/data (default: GATEWAY_DATA_DIR)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--show", type=int, default=0, help="print N examples of misses/false positives to stderr")
    args = parser.parse_args()
    root = data_dir(args.data)
    if root is None:
        sys.exit("no data folder: set GATEWAY_DATA_DIR or pass --data (the layout of ../shared/data)")
    parallel = load(root / "parallel" / "parallelprompt.dev.jsonl")
    sharegpt = [row["prompt"] for row in load(root / "prompts" / "sharegpt.jsonl")]
    mt_rows = load(root / "prompts" / "mt_bench.jsonl")
    report = {
        "tokenizer": f"{COUNTER.encoding} ({COUNTER.source})",
        "subtask_recall": subtask_recall(parallel),
        "fp_sharegpt": false_positives(sharegpt, args.show),
        "fp_mt_bench_turns": false_positives([t for row in mt_rows for t in row["turns"]], args.show),
        "mt_bench": mt_bench(mt_rows, args.show),
        "dependency_control_sharegpt": sharegpt_control(sharegpt, mt_rows),
        "task_type_labelled": labelled_task_types(root),
        "complexity_mmlu": complexity_vs_cheap_model(root / "routing" / "mmlu.dev.jsonl", 3000),
        "complexity_gsm8k": complexity_vs_cheap_model(root / "routing" / "gsm8k.dev.jsonl", 1000),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print_report(report)


def print_report(report: dict) -> None:
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    print(f"tokenizer: {report['tokenizer']}\n\n## Subtasks: recall on ParallelPrompt (dev)\n")
    print("| set | rows | subtasks found | count = reference's |\n|---|---|---|---|")
    for key, cell in report["subtask_recall"].items():
        print(f"| {key} | {cell['rows']} | {pct(cell['recall'])} | {pct(cell['count_matches'])} |")
    print("\n## Subtasks: false positives on ordinary prompts\n")
    print("| set | prompts | with subtasks | rate |\n|---|---|---|---|")
    for key in ("fp_sharegpt", "fp_mt_bench_turns"):
        cell = report[key]
        print(f"| {key[3:]} | {cell['prompts']} | {cell['with_subtasks']} | {pct(cell['rate'])} |")
    mt = report["mt_bench"]
    print(f"\n## MT-Bench ({mt['rows']} two-turn questions)\n")
    print(f"- turn 1 alone, dependency 0: {pct(mt['turn1_dependency_zero'])}")
    print(f"- turn 2 after turn 1 + placeholder answer, dependency > 0.5: {pct(mt['turn2_dependency_gt_0_5'])}")
    print(f"- control, an unrelated turn 1 after the same history, dependency < 0.5: "
          f"{pct(mt['control_unrelated_turn_lt_0_5'])}")
    control = report["dependency_control_sharegpt"]
    print(f"- control, {control['prompts']} ShareGPT turns after an unrelated exchange, dependency > 0.5: "
          f"{pct(control['dependency_gt_0_5'])} (upper bound: the set has mid-conversation turns)")
    print(f"- task type agrees with category ({mt['obvious_rows']} rows; coding->code_generation, math->math, "
          f"extraction->extraction, writing->creative_writing|rewriting, roleplay->creative_writing, "
          f"reasoning->reasoning): {pct(mt['category_agreement_obvious'])}")
    print(f"- loose agreement ({mt['loose_rows']} rows; stem, humanities -> open_question|reasoning): "
          f"{pct(mt['category_agreement_loose'])}")
    print("- turn-1 types by category: " + "; ".join(
        f"{cat}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1]))
        for cat, c in mt["confusion"].items()))
    for key, cell in report["task_type_labelled"].items():
        print(f"- {key}: {cell['rows']} prompts typed math: {pct(cell['math'])} ({cell['types']})")
    for key in ("complexity_mmlu", "complexity_gsm8k"):
        cell = report[key]
        if cell:
            print(f"- {key}: {cell['rows']} prompts, mean complexity where Mixtral was right "
                  f"{cell['mean_complexity_cheap_right']:.2f}, wrong {cell['mean_complexity_cheap_wrong']:.2f}")


if __name__ == "__main__":
    main()
