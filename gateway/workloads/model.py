"""What a cost workload is: requests in arrival order, each with what the benchmark needs to score its answer.

A workload is built in memory from real data at run time (third-party text is never written into the project);
`extra_replay` carries recorded answers for prompts the builder composed (an agent's role prompt around a real
prompt), so the simulator can answer those with the served model's real recorded answer too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class QualityKey:
    """Where the recorded quality of an answer lives: a labelled set (`arena`, `gsm8k`...) and its row."""

    dataset: str
    row: int


@dataclass
class WorkRequest:
    """One chat completion of the workload.

    `item` groups requests about the same underlying prompt (a semantic-cache hit from another item is a wrong
    answer); `dup_of` names items a paraphrase may correctly be answered from (QQP duplicates).
    """

    messages: list[dict[str, Any]]
    at: float = 0.0  # seconds after the start, from a real trace
    role: str = "none"
    item: str = ""
    quality: QualityKey | None = None
    dup_of: frozenset[str] = frozenset()
    headers: dict[str, str] = field(default_factory=dict)

    def body(self, model: str) -> dict[str, Any]:
        return {"model": model, "messages": self.messages}


@dataclass
class Workload:
    name: str
    description: str
    requests: list[WorkRequest]
    policy: str = "default"
    replay_files: list[str] = field(default_factory=list)
    extra_replay: list[dict[str, Any]] = field(default_factory=list)
    synthetic: bool = False
    notes: dict[str, Any] = field(default_factory=dict)
