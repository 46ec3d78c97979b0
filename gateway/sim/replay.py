"""Recorded answers: when a request's prompt was recorded, answer with what the requested model really said.

Costs then use real answer lengths and benchmarks can score quality with the recorded judge scores. Files are JSON
lines with a `prompt` and a {model: text} map under `answers` (arena-bench), `outputs` (alpaca-eval) or `responses`
(RouteLLM gsm8k). Model names in those sets are spelled many ways (`gpt4_1106_preview`, `mistralai/Mixtral-...`,
dated snapshots), so names are matched loosely.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import orjson

log = logging.getLogger(__name__)

ANSWER_FIELDS = ("answers", "outputs", "responses")
HIT, PROMPT_ONLY, MISS = "hit", "prompt-only", "miss"

# A dated snapshot suffix: -2024-07-18, -20240620, or a month-day like -0613 / -1106.
_DATE_SUFFIX = re.compile(r"[-_.](?:\d{4}[-_.]?\d{2}[-_.]?\d{2}|(?:0[1-9]|1[0-2])[0-3]\d)$")
_SEPARATORS = re.compile(r"[-_.\s]+")


def normalize_prompt(text: str) -> str:
    return " ".join(text.split())


def prompt_key(text: str) -> bytes:
    return hashlib.blake2b(normalize_prompt(text).encode(), digest_size=16).digest()


def model_key(name: str) -> str:
    """Case, provider prefix and separators ignored: `mistralai/Mixtral-8x7B` ~ `mixtral_8x7b`."""
    return _SEPARATORS.sub("", name.rsplit("/", 1)[-1].lower())


def undated_model_key(name: str) -> str:
    """model_key without a dated snapshot suffix: `gpt-4o-mini-2024-07-18` ~ `gpt-4o-mini`."""
    return model_key(_DATE_SUFFIX.sub("", name.rsplit("/", 1)[-1].lower()))


@dataclass
class RecordedPrompt:
    """Every recorded answer to one prompt, indexed by exact and by undated model key."""

    by_model: dict[str, str] = field(default_factory=dict)
    by_undated: dict[str, str] = field(default_factory=dict)

    def add(self, model: str, text: str) -> None:
        self.by_model.setdefault(model_key(model), text)
        undated = undated_model_key(model)
        # An undated recording ("gpt-3.5-turbo") is the better stand-in than an arbitrary snapshot of it.
        if undated not in self.by_undated or model_key(model) == undated:
            self.by_undated[undated] = text

    def answer_for(self, model: str) -> str | None:
        text = self.by_model.get(model_key(model))
        return text if text is not None else self.by_undated.get(undated_model_key(model))


class ReplayStore:
    """Loads replay files once (in a worker thread, on first use or at startup) and answers lookups."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = [Path(p) for p in paths]
        self._prompts: dict[bytes, RecordedPrompt] = {}
        self._models: dict[str, str] = {}  # model key -> first spelling seen
        self._loaded = False
        self._lock = threading.Lock()
        self._task: asyncio.Future[None] | None = None
        self.rows = 0

    @property
    def enabled(self) -> bool:
        return bool(self.paths)

    def files(self) -> list[Path]:
        found: list[Path] = []
        for path in self.paths:
            if path.is_dir():
                found.extend(sorted(path.rglob("*.jsonl")))
            elif path.is_file():
                found.append(path)
            else:
                log.warning("replay path %s does not exist; ignored", path)
        return found

    def load(self) -> None:
        """Read every file (idempotent, thread-safe). About 50 ms for the 800 rows of the shared dev sets."""
        with self._lock:
            if self._loaded:
                return
            for path in self.files():
                try:
                    self._load_file(path)
                except (OSError, UnicodeDecodeError) as exc:  # one unreadable file must not break the server
                    log.warning("replay: cannot read %s (%s); ignored", path, exc)
            self._loaded = True
            if self.paths:
                log.info("replay: %d rows, %d prompts, %d models", self.rows, len(self._prompts), len(self._models))

    def _load_file(self, path: Path) -> None:
        bad = 0
        with path.open("rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError:
                    bad += 1
                    continue
                if isinstance(row, dict):
                    self._add_row(row)
        if bad:
            log.warning("replay: %d unreadable lines in %s", bad, path)

    def _add_row(self, row: dict) -> None:
        prompt = row.get("prompt")
        answers = next((row[f] for f in ANSWER_FIELDS if isinstance(row.get(f), dict)), None)
        if not isinstance(prompt, str) or answers is None:
            return
        recorded = self._prompts.setdefault(prompt_key(prompt), RecordedPrompt())
        for model, text in answers.items():
            if isinstance(model, str) and isinstance(text, str):
                recorded.add(model, text)
                self._models.setdefault(model_key(model), model)
        self.rows += 1

    async def ensure_loaded(self) -> None:
        """Load in a worker thread without blocking the event loop; concurrent callers share one load."""
        if self._loaded or not self.paths:
            return
        if self._task is None:
            self._task = asyncio.get_running_loop().run_in_executor(None, self.load)
        await asyncio.shield(self._task)

    def lookup(self, prompt: str | None, model: str) -> tuple[str, str | None]:
        """(`hit`, recorded text) | (`prompt-only`, None) | (`miss`, None). Call after `ensure_loaded`."""
        if prompt is None or not self._prompts:
            return MISS, None
        recorded = self._prompts.get(prompt_key(prompt))
        if recorded is None:
            return MISS, None
        text = recorded.answer_for(model)
        return (HIT, text) if text is not None else (PROMPT_ONLY, None)

    def models(self) -> list[str]:
        return list(self._models.values())
