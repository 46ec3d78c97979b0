"""What the analyzer tells the rest of the gateway about a request (policy matching, decisions, splitting)."""

from __future__ import annotations

from dataclasses import dataclass, field

TASK_TYPES = ("summarization", "extraction", "classification", "translation", "rewriting", "code_generation",
              "math", "reasoning", "creative_writing", "open_question", "follow_up")


@dataclass(frozen=True)
class TokenCounts:
    """Prompt tokens by part, as billed (per-message framing included in the part it belongs to).

    On the decision path long unseen text is estimated (see `Tally`): `estimated` is how many of the tokens are
    estimates and `margin` how far the total may fall short at the estimate's measured p99 error, for limits that
    must not be exceeded (context windows). Both are 0 when every count is exact."""

    system: int = 0
    history: int = 0
    last_user: int = 0
    tools: int = 0
    estimated: int = 0
    margin: int = 0

    @property
    def total(self) -> int:
        return self.system + self.history + self.last_user + self.tools


@dataclass(frozen=True)
class Subtask:
    """One context-independent piece of the last user turn, answerable on its own by a worker."""

    index: int
    text: str


@dataclass(frozen=True)
class SplitShape:
    """How the last turn splits: a template with one slot, the shared context, and the data items or a count.

    `kind` is "items" (one worker per item: the turn with the list replaced by that item) or "count" ("give me N
    variations": the N outputs are shared out between workers). `labels` are the items' own markers ("1.", "b)",
    "Q3:") so the merged answer keeps the user's numbering. `confidence` (0..1) is compared with the policy's
    `split.min_confidence`: below it nothing is split.
    """

    kind: str
    template: str
    context: str
    items: tuple[str, ...]
    labels: tuple[str, ...]
    n: int
    confidence: float
    reason: str


@dataclass(frozen=True)
class Analysis:
    tokens: TokenCounts
    task_type: str
    complexity: int                 # 1 (trivial) .. 5 (hard, multi-step)
    context_dependency: float       # 0 (the last turn stands alone) .. 1 (meaningless without the earlier turns)
    subtasks: tuple[Subtask, ...]   # independent subtasks found in the last turn; empty when there are none
    confidence: float               # 0..1: how sure the analyzer is of task type and dependency together
    last_user_text: str
    user_turns: int
    signals: tuple[str, ...] = field(default=())  # short human-readable reasons, shown by `policy explain`
    split: SplitShape | None = None  # the split shape of `subtasks` (None when there are none)

    @property
    def has_subtasks(self) -> bool:
        return len(self.subtasks) > 1
