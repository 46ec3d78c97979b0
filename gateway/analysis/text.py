"""Text helpers shared by the feature modules.

Everything here is bounded: features look at windows of the last turn (its head, where the instruction usually is,
and its tail, where it often is after a pasted document), never at the whole conversation, so the analyzer's cost does
not grow with the history.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.analysis import patterns

HEAD_CHARS = 1200   # the instruction is nearly always near the start...
TAIL_CHARS = 600    # ...or right after a pasted document, at the end
ASSISTANT_TAIL_CHARS = 400

_WORD = patterns.compile(r"[a-z0-9][a-z0-9'_-]*")
_SENTENCE_END = patterns.compile(r"(?<=[.!?])\s+")


def content_text(content: Any) -> str:
    """The text of an OpenAI message content: a string, or the text parts of a list joined by newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") in ("text", "input_text"):
                texts.append(str(part.get("text", "")))
            elif isinstance(part, str):
                texts.append(part)
        return "\n".join(texts)
    return str(content)


def window(text: str) -> str:
    """Head and tail of a long text (joined by a newline), the whole text when short. Not lowercased."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def lower_window(text: str) -> str:
    return window(text).lower()


def words(lowered: str) -> list[str]:
    return _WORD.findall(lowered)


def first_sentence(text: str, limit: int = 300) -> str:
    head = text[:limit].strip()
    parts = _SENTENCE_END.split(head, maxsplit=1)
    return parts[0] if parts else head


def tail(text: str, chars: int = ASSISTANT_TAIL_CHARS) -> str:
    return text[-chars:] if len(text) > chars else text


def has_code(text: str) -> bool:
    """A fenced block or lines that look like code (cheap checks only)."""
    if "```" in text:
        return True
    sample = window(text)
    return sum(1 for marker in ("def ", "return ", "){", ") {", "};", "import ", "#include", "=>", "</", "self.")
               if marker in sample) >= 2


class Gated:
    """A regex that only runs when one of its trigger words is among the turn's words.

    Most turns contain none of a rule's words, and a set check costs far less than a case-folded regex scan; the
    trigger set must name at least one word that every alternative of the pattern needs.
    """

    __slots__ = ("pattern", "triggers")

    def __init__(self, pattern: re.Pattern[str], *triggers: str):
        self.pattern = pattern
        self.triggers = frozenset(triggers)

    def search(self, text: str, present: set[str] | frozenset[str]) -> re.Match[str] | None:
        return None if self.triggers.isdisjoint(present) else self.pattern.search(text)

    def finditer(self, text: str, present: set[str] | frozenset[str]) -> list[re.Match[str]]:
        return [] if self.triggers.isdisjoint(present) else list(self.pattern.finditer(text))
