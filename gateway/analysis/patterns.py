"""Analyzer regexes whose first match RE2 finds, or proves absent, where that is provably what `re` would say.

The analyzer's phrase lists are long alternations behind `\\b` ("\\b(?:random|numbers?|digits?|...)\\b"). `re`
cannot use a literal prefix to skip ahead on those, so it tries every alternative at every position: 30-60 µs per
pattern on a 1-2 KB turn, and most of them do not match at all. RE2 compiles the same alternation to an automaton
and answers "no match" or "first match here" 4-10x faster on such texts (bench/regex_engines.py). `re` then answers
from that position, so every answer and match object is `re`'s own.

RE2 (the "twin") is asked only where a match of `re` at a position implies one of the twin at the same position:
- on ASCII text (`str.isascii()` is a flag lookup), where `\\b`, `\\w`, `\\d` and case folding mean the same in
  both; `\\s` is spelled out as `re`'s ASCII whitespace set, which has `\\v` and `\\x1c-\\x1f` that RE2's lacks;
- on other text through its shadow (`shadow`): each non-ASCII character replaced by an ASCII one of the same kind
  for `re` (whitespace, decimal digit, other word character, anything else; an ASCII letter where IGNORECASE folds
  it to one). The shadow has the same length and word boundaries, so the twin still matches wherever `re` does,
  and may find more (then `re` starts earlier); patterns with a negated class that could exclude a shadow
  character, or a range with a non-ASCII end, keep non-ASCII text on `re`;
- on patterns RE2 can express: lookarounds, backreferences, `$` without MULTILINE (it also matches before a final
  newline in `re`), possessive or atomic groups and verbose patterns stay on `re`;
- on texts long enough for the automaton to pay for the binding's per-call cost;
- when the `google-re2` wheel is installed at all.
tests/test_patterns.py compares the answers on every pattern of the package and checks the shadow on every code point.
"""

from __future__ import annotations

import re
import string
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

_ASCII_FOLDS = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}  # tests check this list is complete
_SHADOW_FREE_MEMBERS = frozenset([*(c for c in string.punctuation if c not in "_-"), "\\n", "\\t", "\\r",
                                  *("\\" + c for c in string.punctuation)])  # negated-class members safe on shadows
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


class Pattern:
    """A compiled `re` pattern with an RE2 twin for long texts; the subset of `re.Pattern` the analyzer uses.

    The twin only finds where the first match starts, or proves there is none (the common case for a phrase list);
    `re` then answers from that position. So every answer is `re`'s own, with `re.Match` objects, and the twin
    never has to build match objects in Python, which on a turn with hundreds of matches costs more than `re`'s
    whole scan. Starting `re` at the first match gives the same matches as a scan from `pos`, since no match starts
    before it (`^`, `\\A`, `\\b` and lookbehinds in `re` still see the text before a start position).
    """

    __slots__ = ("regex", "twin", "shadow_safe", "pattern", "flags", "groupindex", "groups")

    def __init__(self, regex: re.Pattern[str], twin: Any = None, shadow_safe: bool = False):
        self.regex = regex
        self.twin = twin
        self.shadow_safe = shadow_safe
        self.pattern = regex.pattern
        self.flags = regex.flags
        self.groupindex = regex.groupindex
        self.groups = regex.groups

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        start = self._first_match_start(text, pos, endpos)
        return None if start is None else self.regex.search(text, start, endpos)

    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        target = self._twin_text(text)
        if target is not None and self.twin.match(_cut(target, endpos), pos) is None:
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

    def _twin_text(self, text: str) -> str | None:
        """What the twin reads for this text: the text when ASCII, its shadow where that is safe, else None."""
        if self.twin is None or len(text) < RE2_MIN_CHARS:
            return None
        if text.isascii():
            return text
        return shadow(text) if self.shadow_safe else None

    def _first_match_start(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> int | None:
        """Where `re` needs to start: `pos` without a twin, else the twin's first match, or None when it has none."""
        target = self._twin_text(text)
        if target is None:
            return pos
        first = self.twin.search(_cut(target, endpos), pos)
        return None if first is None else first.start()

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r}, re2={self.twin is not None})"


class _ShadowTable(dict):
    """str.translate's table from non-ASCII code points to their shadow, filled as characters are met."""

    MAX_ENTRIES = 1 << 16  # a text of every code point cannot grow it without bound

    def __missing__(self, code_point: int) -> int:
        if len(self) >= self.MAX_ENTRIES:
            self.clear()
        char = chr(code_point)
        if char in _ASCII_FOLDS:
            shadow = _ASCII_FOLDS[char]
        elif char.isspace():
            shadow = " "
        elif char.isdecimal():
            shadow = "0"
        else:
            shadow = "_" if char.isalnum() else "\x01"
        self[code_point] = ord(shadow)
        return self[code_point]


_SHADOW_TABLE = _ShadowTable()
_recent_shadows: list[tuple[str, str]] = [("", "")] * 4  # (text, shadow), found by the text's identity


def shadow(text: str) -> str:
    """The text with each non-ASCII character replaced by its shadow (module docstring), remembered for the last
    few texts: the analyzer asks dozens of patterns about the same turn."""
    for seen, seen_shadow in _recent_shadows:
        if seen is text:
            return seen_shadow
    made = _NON_ASCII_RUN.sub(lambda run: run.group().translate(_SHADOW_TABLE), text)
    _recent_shadows[hash(text) % len(_recent_shadows)] = (text, made)
    return made


def _cut(text: str, endpos: int) -> str:
    """`re` reads text as if it ended at endpos (so `\\b` and `$` match there); RE2 would look past it."""
    return text[:endpos] if endpos < len(text) else text


COMPILED: list[Pattern] = []  # every pattern made by `compile`, for the benchmark and the tests


def compile(source: str, flags: int = 0) -> Pattern:  # noqa: A001 - mirrors re.compile on purpose
    """Compile with `re`, and with an RE2 twin where a match of `re` implies one of the twin (module docstring)."""
    regex = re.compile(source, flags)
    translation = _translate(source, flags) if re2 is not None else None
    pattern = Pattern(regex)
    if translation is not None:
        try:
            pattern = Pattern(regex, re2.compile(translation[0]), translation[1])
        except re2.error:
            pass  # RE2 refuses it (a repetition over its limit, say): `re` alone
    COMPILED.append(pattern)
    return pattern


def re2_source(source: str, flags: int) -> str | None:
    """The RE2 spelling of an `re` pattern for ASCII text, or None when RE2 cannot say the same thing."""
    translation = _translate(source, flags)
    return translation and translation[0]


def _translate(source: str, flags: int) -> tuple[str, bool] | None:
    """(RE2 spelling, whether it also holds on shadow text), or None when RE2 cannot say the same thing."""
    if flags & ~_RE2_SAFE_FLAGS:
        return None
    letters = "".join(letter for flag, letter in _FLAG_LETTERS.items() if flags & flag)
    walked = _PatternWalk(source, multiline=bool(flags & re.MULTILINE)).run()
    if walked is None:
        return None
    body, shadow_safe = walked
    return (f"(?{letters}){body}" if letters else body), shadow_safe


class _PatternWalk:
    """One pass over an `re` pattern: rewrites what RE2 spells differently, refuses what it lacks, and notes
    whether the result also holds on shadow text (see `shadow`): it does unless a negated class could exclude a
    shadow character."""

    def __init__(self, source: str, multiline: bool):
        self.source, self.multiline = source, multiline
        self.out: list[str] = []
        self.shadow_safe = True

    def run(self) -> tuple[str, bool] | None:
        source, i, after_quantifier = self.source, 0, False
        while i < len(source):
            if source[i] == "[":
                i = self._char_class(i)
                after_quantifier = False
            elif source[i] == "\\":
                escape = _translate_escape(source[i + 1:i + 2], in_class=False)
                if escape is None:
                    return None
                self.out.append(escape)
                i, after_quantifier = i + 2, False
            else:
                i, after_quantifier = self._outside_class(i, after_quantifier)
            if i < 0:
                return None
        return "".join(self.out), self.shadow_safe

    def _outside_class(self, i: int, after_quantifier: bool) -> tuple[int, bool]:
        """(next index, whether this was a quantifier), or (-1, _) for something RE2 cannot say."""
        source, char = self.source, self.source[i]
        if char == "(" and source[i + 1:i + 4].startswith(_RE_ONLY_GROUPS):
            return -1, False
        if (char == "$" and not self.multiline) or (char == "+" and after_quantifier):
            return -1, False  # "$" before a final newline; a possessive quantifier
        if char == "{" and re.match(r"\{,\d+\}", source[i:]):
            self.out.append("{0")
            return i + 1, False
        quantifier = char in _QUANTIFIER_ENDS and not (char == "?" and self.out[-1:] == ["("])
        self.out.append(char if char.isascii() else _shadow_literal(char))
        return i + 1, quantifier

    def _char_class(self, i: int) -> int:
        """Copy the class starting at source[i] == "["; the index after it, or -1."""
        source = self.source
        negated = source[i + 1:i + 2] == "^"
        j = i + 1 + negated
        members: list[str] = []
        while j < len(source) and (source[j] != "]" or j == i + 1 + negated):
            if source[j] == "\\":
                escape = _translate_escape(source[j + 1:j + 2], in_class=True)
                if escape is None:
                    return -1
                members.append(escape)
                j += 2
            elif source[j] == "[" and source[j + 1:j + 2] == ":":
                return -1  # `re` reads "[:" literally, RE2 as a POSIX class
            elif not source[j].isascii():
                range_after = source[j + 1:j + 2] == "-" and source[j + 2:j + 3] not in ("]", "")
                range_before = source[j - 1] == "-" and j - 1 > i + 1 + negated and source[j - 2] != "\\"
                if range_after or range_before:
                    return -1  # a range with a non-ASCII end
                members.append(_shadow_literal(source[j]))
                j += 1
            else:
                members.append(source[j])
                j += 1
        if negated and not all(member in _SHADOW_FREE_MEMBERS for member in members):
            self.shadow_safe = False
        self.out.append("[" + "^" * negated + "".join(members) + "]")
        return j + 1


def _shadow_literal(char: str) -> str:
    """A non-ASCII character of a pattern, as its shadow: what the twin must match in its place on shadow text."""
    mapped = chr(_SHADOW_TABLE[ord(char)])
    return mapped if mapped.isalnum() or mapped in "_ " else "\\x01"


def _translate_escape(letter: str, in_class: bool) -> str | None:
    if letter == "s":
        return _SPACE_SET if in_class else f"[{_SPACE_SET}]"
    if letter == "S":
        return None if in_class else f"[^{_SPACE_SET}]"
    if letter == "Z":
        return None if in_class else "\\z"
    if letter and not letter.isascii():
        return _shadow_literal(letter)
    if letter.isdigit() or letter in ("", "u", "U", "N"):
        return None  # backreferences, octal and named escapes
    return "\\" + letter
