"""Labelled routing data: the routing and replay files as one shape (prompts x models -> quality).

Training and evaluation read the same files, so they share one reader and one definition of the label: the share
of the premium's quality a model keeps on a prompt (`kept_share`), which is what the router predicts.

Formats (JSON lines): routing `{"prompt", "correct": {model: bool}, "responses"?: {model: text}}`; replay
`{"prompt", "scores": {model: 1..10}, "answers"?: {model: text}}` or
`{"prompt", "win_rate_vs_<premium>": {model: 1..2}, "outputs"?: {model: text}}`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

REFERENCE_PREMIUM = "gpt-4-1106-preview"
TEST_PERCENT = 30            # the held-out split: prompts whose hash bucket (0..99) is below this
_WIN_RATE_PREFIX = "win_rate_vs_"
# The dev sets the project evaluates on, by short name (relative to GATEWAY_DATA_DIR).
DEV_SETS = {"mmlu": "routing/mmlu.dev.jsonl", "gsm8k": "routing/gsm8k.dev.jsonl",
            "arena": "replay/arena-bench.dev.jsonl", "alpaca": "replay/alpaca-eval.dev.jsonl"}
_IGNORED_MODELS = {"example"}  # alpaca_eval's placeholder entry


@dataclass
class LabelledSet:
    """One file as a matrix. `quality` is NaN where a model has no label on a prompt.

    kind: `correct` (0/1), `score` (judge score 1..10) or `win_rate` (probability that the judge prefers the model
    over the premium, 0..1: the file's 1..2 value minus 1, so the premium itself is 0.5).
    """

    name: str
    kind: str
    premium: str
    prompts: list[str]
    models: list[str]
    quality: np.ndarray
    answers: dict[str, list[str | None]] = field(default_factory=dict)

    def column(self, model: str) -> np.ndarray:
        return self.quality[:, self.models.index(model)]

    def kept_share(self) -> np.ndarray:
        """The share of the premium's quality each model keeps on each prompt, capped at 1: q_m / q_premium
        (1 where the premium scored 0). For correctness that is 1 unless the premium is right and the model
        wrong; NaN where either quality is missing. This is the label the router learns to predict."""
        premium = self.column(self.premium)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(premium > 0, np.minimum(self.quality / premium, 1.0), 1.0)
        share[np.isnan(self.quality) | np.isnan(np.broadcast_to(premium, self.quality.shape))] = np.nan
        return share

    def subset(self, rows: np.ndarray) -> "LabelledSet":
        index = np.flatnonzero(rows) if rows.dtype == bool else rows
        return LabelledSet(self.name, self.kind, self.premium, [self.prompts[i] for i in index], self.models,
                           self.quality[index],
                           {m: [answers[i] for i in index] for m, answers in self.answers.items()})


def data_dir() -> Path:
    """GATEWAY_DATA_DIR, else the shared folder beside the repository."""
    env = os.environ.get("GATEWAY_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


def hash_bucket(prompt: str) -> int:
    """A stable 0..99 bucket per prompt, so duplicates of a prompt always fall on the same side of a split."""
    return int(hashlib.sha256(prompt.strip().encode()).hexdigest()[:8], 16) % 100


def is_test(prompts: list[str]) -> np.ndarray:
    """The held-out split (hash bucket < TEST_PERCENT): never used for training or for choosing settings."""
    return np.array([hash_bucket(p) < TEST_PERCENT for p in prompts], dtype=bool)


def load_set(path: str | Path, name: str | None = None) -> LabelledSet:
    """Read a routing- or replay-format file."""
    path = Path(path)
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{path}: no rows")
    kind, quality_key, answers_key = _detect_format(path, rows[0])
    premium = quality_key[len(_WIN_RATE_PREFIX):] if kind == "win_rate" else None
    models = sorted({m for row in rows for m in row.get(quality_key, {})} - _IGNORED_MODELS)
    quality = np.full((len(rows), len(models)), np.nan)
    column = {m: j for j, m in enumerate(models)}
    for i, row in enumerate(rows):
        for model, value in (row.get(quality_key) or {}).items():
            if model in column and value is not None:
                quality[i, column[model]] = _quality_value(kind, value)
    if premium is None:
        means = np.nanmean(quality, axis=0)
        premium = REFERENCE_PREMIUM if REFERENCE_PREMIUM in column else models[int(np.nanargmax(means))]
    answers = {m: [(row.get(answers_key) or {}).get(m) for row in rows] for m in models
               if any((row.get(answers_key) or {}).get(m) for row in rows)} if answers_key else {}
    return LabelledSet(name or _short_name(path), kind, premium, [str(row["prompt"]) for row in rows], models,
                       quality, answers)


def load_dev_sets(names: list[str] | None = None, root: Path | None = None) -> dict[str, LabelledSet]:
    root = root or data_dir()
    missing = [str(root / DEV_SETS[n]) for n in names or DEV_SETS if not (root / DEV_SETS[n]).is_file()]
    if missing:
        raise FileNotFoundError(f"routing data not found: {', '.join(missing)} (set GATEWAY_DATA_DIR)")
    return {n: load_set(root / DEV_SETS[n], n) for n in names or DEV_SETS}


def _detect_format(path: Path, row: dict) -> tuple[str, str, str | None]:
    if "correct" in row:
        return "correct", "correct", "responses"
    if "scores" in row:
        return "score", "scores", "answers"
    for key in row:
        if key.startswith(_WIN_RATE_PREFIX):
            return "win_rate", key, "outputs"
    raise ValueError(f"{path}: neither routing (`correct`) nor replay (`scores`, `{_WIN_RATE_PREFIX}*`) format")


def _quality_value(kind: str, value: object) -> float:
    if kind == "correct":
        return float(bool(value))
    return float(value) - 1.0 if kind == "win_rate" else float(value)


def _short_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    return {"arena-bench": "arena", "alpaca-eval": "alpaca"}.get(stem, stem)
