"""Analyzer regexes that find their first match with RE2 where RE2 gives the same answer, and run on `re` otherwise.

The analyzer's phrase lists are long alternations behind `\\b` ("\\b(?:random|numbers?|digits?|...)\\b"). `re`
cannot use a literal prefix to skip ahead on those, so it tries every alternative at every position: 30-60 µs per
pattern on a 1-2 KB turn, and most of them do not match at all. RE2 compiles the same alternation to an automaton
and answers "no match" or "first match here" 4-10x faster on such texts (bench/regex_engines.py).

RE2 is asked only where the two engines provably agree, so the analysis never depends on which one answered:
- on ASCII text (`str.isascii()` is a flag lookup), where `\\b`, `\\w`, `\\d` and case folding mean the same in
  both; `\\s` is spelled out as `re`'s ASCII whitespace set, which has `\\v` and `\\x1c-\\x1f` that RE2's lacks;
- on patterns RE2 can express: lookarounds, backreferences, `$` without MULTILINE (it also matches before a final
  newline in `re`), possessive or atomic groups and verbose patterns stay on `re`;
- on texts long enough for the automaton to pay for the binding's per-call cost;
- when the `google-re2` wheel is installed at all.
tests/test_patterns.py compares both engines on every pattern of the package.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

try:
    import re2
except ImportError:  # the wheel is missing on this platform: every pattern runs on `re`
    re2 = None

RE2_MIN_CHARS = 80  # below this, `re` answers before the binding has encoded the text (bench/regex_engines.py)
_SPACE_SET = "\\t\\n\\v\\f\\r \\x1c-\\x1f"  # what `re`'s \s matches on ASCII text
_FLAG_LETTERS = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s"}
_RE2_SAFE_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.ASCII
_RE_ONLY_GROUPS = ("?=", "?!", "?<=", "?<!", "?P=", "?#", "?>", "?(")
_QUANTIFIER_ENDS = "*+?}"


class Pattern:
    """A compiled `re` pattern with an RE2 twin for long ASCII texts; the subset of `re.Pattern` the analyzer uses.

    The twin only finds where the first match starts, or proves there is none (the common case for a phrase list);
    `re` then answers from that position. So every answer is `re`'s own, with `re.Match` objects, and the twin
    never has to build match objects in Python, which on a turn with hundreds of matches costs more than `re`'s
    whole scan. Starting `re` at the first match gives the same matches as a scan from `pos`, since no match starts
    before it (`^`, `\\A`, `\\b` and lookbehinds in `re` still see the text before a start position).
    """

    __slots__ = ("regex", "twin", "pattern", "flags", "groupindex", "groups")

    def __init__(self, regex: re.Pattern[str], twin: Any = None):
        self.regex = regex
        self.twin = twin
        self.pattern = regex.pattern
        self.flags = regex.flags
        self.groupindex = regex.groupindex
        self.groups = regex.groups

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        start = self._first_match_start(text, pos, endpos)
        return None if start is None else self.regex.search(text, start, endpos)

    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        twin = self._twin_for(text)
        if twin is not None and twin.match(_cut(text, endpos), pos) is None:
            return None
        return self.regex.match(text, pos, endpos)

    def finditer(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        start = self._first_match_start(text, pos, endpos)
        return iter(()) if start is None else self.regex.finditer(text, start, endpos)

    def findall(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> list[Any]:
        start = self._first_match_start(text, pos, endpos)
        return [] if start is None else self.regex.findall(text, start, endpos)

    def split(self, text: str, maxsplit: int = 0) -> list[str]:
        return [text] if self._first_match_start(text) is None else self.regex.split(text, maxsplit)

    def sub(self, repl: str | Callable[[re.Match[str]], str], text: str, count: int = 0) -> str:
        return text if self._first_match_start(text) is None else self.regex.sub(repl, text, count)

    def _twin_for(self, text: str) -> Any:
        if self.twin is not None and len(text) >= RE2_MIN_CHARS and text.isascii():
            return self.twin
        return None

    def _first_match_start(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> int | None:
        """Where `re` needs to start: `pos` without a twin, else the twin's first match, or None when it has none."""
        twin = self._twin_for(text)
        if twin is None:
            return pos
        first = twin.search(_cut(text, endpos), pos)
        return None if first is None else first.start()

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r}, re2={self.twin is not None})"


def _cut(text: str, endpos: int) -> str:
    """`re` reads text as if it ended at endpos (so `\\b` and `$` match there); RE2 would look past it."""
    return text[:endpos] if endpos < len(text) else text


def compile(source: str, flags: int = 0) -> Pattern:  # noqa: A001 - mirrors re.compile on purpose
    """Compile with `re`, and with RE2 too where the pattern means the same in both on ASCII text."""
    regex = re.compile(source, flags)
    return Pattern(regex, _compile_twin(source, flags))


def _compile_twin(source: str, flags: int) -> Any:
    translated = re2_source(source, flags)
    if re2 is None or translated is None:
        return None
    try:
        return re2.compile(translated)
    except re2.error:
        return None


def re2_source(source: str, flags: int) -> str | None:
    """The RE2 spelling of an `re` pattern for ASCII text, or None when RE2 cannot say the same thing."""
    if flags & ~_RE2_SAFE_FLAGS:
        return None
    letters = "".join(letter for flag, letter in _FLAG_LETTERS.items() if flags & flag)
    body = _translate_body(source, multiline=bool(flags & re.MULTILINE))
    if body is None:
        return None
    return f"(?{letters}){body}" if letters else body


def _translate_body(source: str, multiline: bool) -> str | None:
    """Walk the pattern once, rewriting what differs and refusing what RE2 lacks."""
    out: list[str] = []
    i, in_class, class_start, after_quantifier = 0, False, -1, False
    while i < len(source):
        char = source[i]
        if char == "\\":
            escape = _translate_escape(source[i + 1:i + 2], in_class)
            if escape is None:
                return None
            out.append(escape)
            i, after_quantifier = i + 2, False
            continue
        if in_class:
            if char == "]" and i > class_start:
                in_class = False
            elif char == "[" and source[i + 1:i + 2] == ":":
                return None  # `re` reads "[:" literally, RE2 as a POSIX class
            out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            class_start = i + 1 + (source[i + 1:i + 2] == "^")
            class_start += source[class_start:class_start + 1] == "]"  # a leading "]" is a literal
        elif char == "(" and source[i + 1:i + 4].startswith(_RE_ONLY_GROUPS):
            return None
        elif char == "$" and not multiline:
            return None
        elif char == "+" and after_quantifier:
            return None  # possessive quantifier
        elif char == "{" and re.match(r"\{,\d+\}", source[i:]):
            out.append("{0")
            i, after_quantifier = i + 1, False
            continue
        out.append(char)
        after_quantifier = char in _QUANTIFIER_ENDS and not (char == "?" and out[-2:-1] == ["("])
        i += 1
    return "".join(out)


def _translate_escape(letter: str, in_class: bool) -> str | None:
    if letter == "s":
        return _SPACE_SET if in_class else f"[{_SPACE_SET}]"
    if letter == "S":
        return None if in_class else f"[^{_SPACE_SET}]"
    if letter == "Z":
        return None if in_class else "\\z"
    if letter.isdigit() or letter in ("", "u", "U", "N"):
        return None  # backreferences, octal and named escapes
    return "\\" + letter
