"""The real data the workloads are built from, read from GATEWAY_DATA_DIR (never copied into the project)."""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.routing.data import LabelledSet, load_set

BASELINE_MODEL = "gpt-4-1106-preview"  # the premium model every workload asks for (the recorded judge's reference)
SECOND_OPINION = "gpt-4-0314"         # another premium recording, used as a second real prior output


def data_dir() -> Path | None:
    """GATEWAY_DATA_DIR when it holds the replay sets; None means: build a synthetic workload and say so."""
    root = os.environ.get("GATEWAY_DATA_DIR")
    if root and (Path(root) / "replay" / "arena-bench.dev.jsonl").is_file():
        return Path(root)
    return None


@dataclass
class ReplaySet:
    """A replay file as prompts, recorded answers and recorded quality (one LabelledSet)."""

    name: str
    path: Path
    labelled: LabelledSet

    def answer(self, row: int, model: str) -> str | None:
        answers = self.labelled.answers.get(model)
        return answers[row] if answers else None

    def answers(self, row: int) -> dict[str, str]:
        return {m: texts[row] for m, texts in self.labelled.answers.items() if texts[row]}

    def usable_rows(self) -> list[int]:
        """Rows where the baseline and the second opinion both have a recorded answer."""
        return [i for i in range(len(self.labelled.prompts))
                if self.answer(i, BASELINE_MODEL) and self.answer(i, SECOND_OPINION)]


def replay_set(data: Path, name: str = "arena") -> ReplaySet:
    path = data / {"arena": "replay/arena-bench.dev.jsonl", "alpaca": "replay/alpaca-eval.dev.jsonl"}[name]
    return ReplaySet(name, path, load_set(path, name))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def shuffled(items: list[Any], seed: int) -> list[Any]:
    copy = list(items)
    random.Random(seed).shuffle(copy)
    return copy
