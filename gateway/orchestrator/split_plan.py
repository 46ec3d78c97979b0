"""From a split shape to worker parts: each part's minimal messages, and the heading that labels its answer.

A worker sees only what its part needs: the system prompt (it sets tone and rules the user expects everywhere), the
turn with the list replaced by its own item (so the shared context and the instruction travel with it), and a short
note that it answers one part of several. Earlier turns are not sent: the analyzer only finds subtasks in a turn that
stands alone. For a count ("give me 10 slogans"), the N outputs are shared out between at most `max_workers`
workers, each asked for its numbered share and told to steer away from the obvious choices, so that writers who
cannot see each other still produce different items.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.analysis.split_shape import SLOT
from gateway.analysis.types import SplitShape

SYSTEM_ROLES = ("system", "developer")
HEADING_CHARS = 80
ITEM_NOTE = ("\n\n---\n(This is part {k} of {total} of a larger request; the other parts are answered separately. "
             "Answer only this part, directly: do not restate it, do not mention the other parts.)")
COUNT_NOTE = ("\n\n---\n(You are writer {k} of {total}; the writers share out the {n} items requested and cannot see "
              "each other's. Write exactly {m} of them, numbered {first} to {last}, and nothing else: no introduction "
              "and no closing remarks. This is variation {k} of {total}: make yours different from the most obvious "
              "choices.)")


@dataclass(frozen=True)
class Part:
    """One worker's job: its messages and how its answer is introduced in the merged text."""

    index: int
    messages: list[dict]
    heading: str


@dataclass(frozen=True)
class SplitPlan:
    shape: SplitShape
    parts: tuple[Part, ...]
    separator: str        # between merged parts: a blank line for items, a line break for a numbered count

    @property
    def size(self) -> int:
        return len(self.parts)


def plan_split(shape: SplitShape, messages: list[dict], max_workers: int) -> SplitPlan:
    system = [message for message in messages if message.get("role") in SYSTEM_ROLES]
    if shape.kind == "count":
        return SplitPlan(shape, _count_parts(shape, system, max_workers), "\n")
    total = len(shape.items)
    parts = tuple(Part(index, system + [_user(shape.template.replace(SLOT, item)
                                              + ITEM_NOTE.format(k=index + 1, total=total))],
                       _heading(label, item))
                  for index, (label, item) in enumerate(zip(shape.labels, shape.items)))
    return SplitPlan(shape, parts, "\n\n")


def _count_parts(shape: SplitShape, system: list[dict], max_workers: int) -> tuple[Part, ...]:
    workers = max(1, min(shape.n, max_workers))
    base, extra = divmod(shape.n, workers)
    parts, first = [], 1
    for index in range(workers):
        share = base + (1 if index < extra else 0)
        note = COUNT_NOTE.format(k=index + 1, total=workers, n=shape.n, m=share, first=first, last=first + share - 1)
        parts.append(Part(index, system + [_user(shape.template + note)], ""))
        first += share
    return tuple(parts)


def _user(text: str) -> dict:
    return {"role": "user", "content": text}


def _heading(label: str, item: str) -> str:
    """'**2.** What is X?' -- the user's own label and the first line of the item, shortened."""
    line = " ".join(item.split("\n", 1)[0].split())
    if len(line) > HEADING_CHARS:
        line = line[:HEADING_CHARS].rsplit(" ", 1)[0] + " ..."
    return f"**{label}** {line}"
