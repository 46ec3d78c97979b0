"""The split shape of a turn: template, shared context, items (or a count), their labels, and a confidence.

The list rules (subtasks.py) compose each subtask as the turn with the list replaced by one item, so the shape is
recovered from the subtasks alone: what all of them share is the template around the slot, what differs is the item.
This keeps one source of truth for *whether* to split (the conservative rules) and adds *how sure* we are: each rule
has a confidence from how often its shape is a genuine set of independent parts, lower for only two parts.
"""

from __future__ import annotations

import os

from gateway.analysis import patterns
from gateway.analysis.types import SplitShape, Subtask

# How often each rule's finds are really independent parts (judged on the dev prompts; see bench/split_eval.py).
RULE_CONFIDENCE = {
    "numbered questions": 0.9, "listed questions": 0.85, "numbered exercises": 0.8, "separate tasks": 0.75,
    "per-item instruction over listed data": 0.85, "one question per line": 0.8, "several questions in a row": 0.7,
    "for-each template": 0.85, "extraction of separate fields": 0.85, "count": 0.75,
}
TWO_PARTS_PENALTY = 0.1
_LABEL = patterns.compile(r"^[ \t]*(\d{1,2}[.)]|\(\d{1,2}\)|[a-hA-H][.)]|\([a-h]\)|"
                          r"Q(?:uestion)?\s*\d{1,2}\s*[:.)])[ \t]*$")
SLOT = "{item}"


def items_shape(text: str, subtasks: tuple[Subtask, ...], reason: str) -> SplitShape:
    """The shape of list subtasks: their common prefix and suffix (cut at a line or word boundary) are the template."""
    texts = [subtask.text for subtask in subtasks]
    prefix = _boundary_prefix(os.path.commonprefix(texts))
    shortest = min(len(t) for t in texts) - len(prefix)
    suffix = _boundary_suffix(os.path.commonprefix([t[::-1] for t in texts])[::-1][-shortest:] if shortest > 0
                              else "")
    items = tuple(t[len(prefix):len(t) - len(suffix)].strip() for t in texts)
    rule = reason.split(": ", 1)[-1].split(" (", 1)[0]
    confidence = RULE_CONFIDENCE.get(rule, 0.6) - (TWO_PARTS_PENALTY if len(items) == 2 else 0.0)
    return SplitShape("items", prefix + SLOT + suffix, (prefix + suffix).strip(), items, _labels(text, items),
                      len(items), round(confidence, 3), reason)


def count_shape(text: str, n: int, reason: str) -> SplitShape:
    """'Give me N variations': the whole turn is the template and the context; the workers share out the N."""
    confidence = RULE_CONFIDENCE["count"] - (TWO_PARTS_PENALTY if n == 2 else 0.0)
    return SplitShape("count", text, text, (), (), n, round(confidence, 3), reason)


def _boundary_prefix(prefix: str) -> str:
    """Back off to the start of a line (lists), else of a word, so no item loses its first characters."""
    cut = prefix.rfind("\n")
    if cut < 0:
        cut = max(prefix.rfind(" "), -1)
    return prefix[:cut + 1]


def _boundary_suffix(suffix: str) -> str:
    cut = suffix.find("\n")
    if cut < 0:
        cut = suffix.find(" ")
    return suffix[cut:] if cut >= 0 else ""


def _labels(text: str, items: tuple[str, ...]) -> tuple[str, ...]:
    """Each item's own marker where the user wrote one ("3.", "b)", "Q2:"), else its position ("1.", "2.")."""
    text = text.replace("\\r\\n", "\n").replace("\\n", "\n") if "\\n" in text else text
    labels, position = [], 0
    for index, item in enumerate(items):
        head = item.split("\n", 1)[0][:60]
        found = text.find(head, position) if head else -1
        label = f"{index + 1}."
        if found >= 0:
            position = found + len(head)
            match = _LABEL.match(text[text.rfind("\n", 0, found) + 1:found])
            if match:
                label = match.group(1).replace(" ", "")
        labels.append(label)
    return tuple(labels)
