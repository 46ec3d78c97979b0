"""Finding the items of a turn: marker lists (1. / a) / - / *), lines of questions, inline "X, Y and Z" lists.

Items keep their character span in the turn so a subtask can be composed by putting one item where the whole list
was: the instruction and any passage around the list stay exactly as the user wrote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.analysis import patterns

_MARKER = patterns.compile(r"[ \t]*(?:(?P<num>\d{1,2})[.)]|\((?P<pnum>\d{1,2})\)|(?P<let>[a-hA-H])[.)]|"
                           r"\((?P<plet>[a-h])\)|(?P<bul>[-*•+])|Q(?:uestion)?\s*(?P<q>\d{1,2})\s*[:.)])[ \t]+(?=\S)")
_MARKER_LINE = patterns.compile(r"^[ \t]*(?:\d{1,2}[.)]|\(\d{1,2}\)|[a-hA-H][.)]|\([a-h]\)|[-*•+]|"
                                r"Q(?:uestion)?\s*\d{1,2}\s*[:.)])[ \t]+\S", re.M)
_MARKER_FIRST = frozenset("0123456789-*•+(abcdefghABCDEFGHQ")
_QUESTION_END = patterns.compile(r"[?？][\s\"'*)]*(?:\([^()]{0,24}\))?[\s.]*$")  # "...? (5 pts)"
_INLINE_MARKER = patterns.compile(r"(?:(?<=\s)|^)\(?(\d{1,2})[.)]\s+")
_INLINE_SPLIT = patterns.compile(r"\s*,\s*(?:and\s+|or\s+|&\s*)?|\s*;\s*|\s+and\s+|\s+&\s+")
MAX_LINES = 2000
_RANK = {"num": 0, "q": 0, "let": 1, "bul": 2}


@dataclass
class Item:
    start: int          # span in the turn (marker included) ...
    end: int
    body: str           # ... and the text without its marker
    kind: str = ""      # marker family: num, let, bul, q, line


@dataclass
class Block:
    items: list[Item] = field(default_factory=list)
    kind: str = ""

    @property
    def start(self) -> int:
        return self.items[0].start

    @property
    def end(self) -> int:
        return self.items[-1].end


def _lines(text: str) -> list[tuple[int, str]]:
    out, offset = [], 0
    for line in text.splitlines(keepends=True):
        out.append((offset, line))
        offset += len(line)
    return out


def _marker(line: str) -> tuple[str, int, int] | None:
    """(family, ordinal, marker length) of a list line, None for other lines. Cheap first-character check first."""
    stripped = line.lstrip(" \t")
    if not stripped or stripped[0] not in _MARKER_FIRST:
        return None
    match = _MARKER.match(line)
    if match is None:
        return None
    for family in ("num", "pnum", "let", "plet", "bul", "q"):
        value = match.group(family)
        if value is not None:
            if family in ("num", "pnum", "q"):
                return ("num" if family != "q" else "q"), int(value), match.end()
            if family in ("let", "plet"):
                return "let", ord(value.lower()) - ord("a") + 1, match.end()
            return "bul:" + value, 0, match.end()
    return None


def marker_blocks(text: str, max_items: int = 256) -> list[Block]:
    """Runs of same-family list items; continuation lines belong to the item, deeper-indented items too.

    One C-level scan counts the marker lines first: under two there is no list, and over `max_items` the list is too
    long to split, so the line-by-line pass only runs for lists worth parsing.
    """
    if "\n" not in text:
        return []
    count = sum(1 for _ in zip(range(max_items + 1), _MARKER_LINE.finditer(text)))
    if count < 2 or count > max_items:
        return []
    lines = _lines(text)[:MAX_LINES]
    blocks: list[Block] = []
    current: Block | None = None
    indent = 0
    last_ordinal = 0
    blank = False
    for offset, line in lines:
        found = _marker(line)
        line_indent = len(line) - len(line.lstrip(" \t"))
        if found is not None and current is not None and not blank and (
                line_indent > indent + 1 or _RANK[found[0][:3]] > _RANK[current.kind[:3]]):
            found = None  # a nested item (deeper, or a lower family right under an item): part of the item
        if found is not None:
            family, ordinal, size = found
            consecutive = family == current.kind if current is not None else False
            if consecutive and family in ("num", "let", "q"):
                consecutive = ordinal in (last_ordinal + 1, last_ordinal)  # 1. 2. 3. or markdown's 1. 1. 1.
            if not consecutive:
                current = Block(kind=family)
                blocks.append(current)
                indent = line_indent
            current.items.append(Item(offset, offset + len(line.rstrip("\r\n")), line[size:].strip(), family))
            last_ordinal = ordinal
            blank = False
        elif current is not None and line.strip() and not blank:
            item = current.items[-1]           # a continuation line or a nested item
            item.end = offset + len(line.rstrip("\r\n"))
            item.body = item.body + "\n" + line.strip()
        elif current is not None and not line.strip():
            blank = True
        else:
            current = None if line.strip() else current
    return [block for block in blocks if len(block.items) >= 2]


def inline_enumeration(text: str) -> list[Item]:
    """'(1) Was A alive? (2) Was B dead? (3) ...' inside a paragraph: markers numbered 1, 2, 3... in order."""
    if "1." not in text and "1)" not in text:
        return []
    chain: list[re.Match[str]] = []
    for match in _INLINE_MARKER.finditer(text, 0, 20000):
        number = int(match.group(1))
        if number == len(chain) + 1:
            chain.append(match)
        elif number == 1 and len(chain) < 2:
            chain = [match]
    if len(chain) < 2:
        return []
    items = []
    for match, following in zip(chain, chain[1:] + [None]):
        if following is not None:
            end = following.start()
        else:
            blank = text.find("\n\n", match.end())
            end = len(text) if blank < 0 else blank
        body = text[match.end():end].strip()
        items.append(Item(match.start(), match.start() + len(text[match.start():end].rstrip()), body, "num"))
    return items


def question_lines(text: str, max_items: int = 256) -> list[Item]:
    """Lines that are whole questions (end with '?'), with their spans; the line-per-question layout."""
    marks = text.count("?") + text.count("？")
    if "\n" not in text or marks < 2 or marks > 4 * max_items:
        return []
    out = []
    for offset, line in _lines(text)[:MAX_LINES]:
        body = line.strip()
        if _QUESTION_END.search(body):
            out.append(Item(offset, offset + len(line.rstrip("\r\n")), body, "line"))
    return out


def inline_items(phrase: str) -> list[str]:
    """'A, B (x, y), and C' -> [A, B (x, y), C]: split on commas, 'and', ';' outside brackets; empty pieces dropped."""
    pieces, depth, last = [], 0, 0
    masked = []
    for char in phrase:
        if char in "([{":
            depth += 1
        elif char in ")]}" and depth:
            depth -= 1
        masked.append(char if depth == 0 else "_")
    flat = "".join(masked)
    for match in _INLINE_SPLIT.finditer(flat):
        pieces.append(phrase[last:match.start()])
        last = match.end()
    pieces.append(phrase[last:])
    items = []
    for piece in pieces:
        piece = piece.strip(" .,:;\"'`*")
        if piece:
            items.append(piece)
    return items
