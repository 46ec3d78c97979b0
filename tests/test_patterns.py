"""The analyzer's regexes answer the same on RE2 as on `re`, for every pattern in the package."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import random
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

import gateway.analysis
from gateway.analysis import patterns

pytestmark = pytest.mark.skipif(patterns.re2 is None, reason="google-re2 is not installed")


def _analyzer_patterns() -> dict[str, patterns.Pattern]:
    """Every Pattern reachable from a module global of gateway.analysis: bare, in a Gated, in tuples, lists, dicts."""
    found: dict[str, patterns.Pattern] = {}

    def walk(name: str, value: Any, depth: int = 0) -> None:
        if isinstance(value, patterns.Pattern):
            found[name] = value
        elif depth < 3 and isinstance(value, (tuple, list)):
            for index, item in enumerate(value):
                walk(f"{name}[{index}]", item, depth + 1)
        elif depth < 3 and isinstance(value, dict):
            for key, item in value.items():
                walk(f"{name}[{key!r}]", item, depth + 1)
        elif depth < 3 and isinstance(getattr(value, "pattern", None), patterns.Pattern):
            walk(f"{name}.pattern", value.pattern, depth + 1)

    for module_info in pkgutil.iter_modules(gateway.analysis.__path__):
        if module_info.name == "patterns":
            continue  # its COMPILED list holds them all again: found where they are used, by their names there
        module = importlib.import_module(f"gateway.analysis.{module_info.name}")
        for name, value in vars(module).items():
            walk(f"{module_info.name}.{name}", value)
    return found


# Non-ASCII characters of every kind the shadow tells apart, the case folds first: they sit inside words, around
# words and between them in the synthetic texts.
_NON_ASCII = ["\u212a", "\u0131", "\u0130", "\u017f", "é", "É", "ß", "한", "文", "٣", "３", "²", "\u00a0", "\u3000",
              "\u2028", "\x85", "’", "“", "”", "–", "—", "…", "•", "×", "😀", "\u0301"]


def _synthetic_texts(sources: list[str], count: int, seed: int = 7, foreign: float = 0.0) -> Iterator[str]:
    """Texts made of the patterns' own words, numbers, list markers and punctuation, so that most patterns match;
    with `foreign`, that share of words gets a non-ASCII character before, inside or after it."""
    vocabulary = sorted({word for source in sources for word in re.findall(r"[a-z]{2,}", source)})
    glue = [" ", " ", " ", ", ", ". ", "? ", ": ", "\n", "\n\n", "\n1. ", "\n2) ", "\n- ", "\t", " (a) ", " \x0b ",
            " 12 ", " 3.5 ", " $40 ", " x = 2 ", " it ", " that ", " the ", "'s ", " - ", " for each of "]
    starts = ["", "(a) ", "b. ", "C) ", "1. ", "- ", "Q1: "]  # for the patterns anchored at the start of a line
    rng = random.Random(seed)
    for _ in range(count):
        words = [rng.choice(starts)]
        for _ in range(rng.randrange(30, 400)):
            word = rng.choice(vocabulary)
            word = word.capitalize() if rng.random() < 0.15 else word
            if rng.random() < foreign:
                cut = rng.randrange(len(word) + 1)
                word = word[:cut] + rng.choice(_NON_ASCII) + word[cut:]
            words.append(word)
            words.append(rng.choice(glue))
        yield "".join(words)


def _sprinkled(texts: list[str], seed: int = 9) -> list[str]:
    """The texts with a non-ASCII character inserted about every 60 characters (never before the first)."""
    rng = random.Random(seed)
    out = []
    for text in texts:
        cuts = sorted(rng.randrange(1, len(text)) for _ in range(max(1, len(text) // 60)))
        pieces = [text[start:end] for start, end in zip([0, *cuts], [*cuts, len(text)])]
        out.append("".join(piece + rng.choice(_NON_ASCII) for piece in pieces[:-1]) + pieces[-1])
    return out


def _real_texts(limit: int, ascii_only: bool) -> list[str]:
    """Prompts from the data folder, when there is one: real phrasing the synthetic texts cannot imitate."""
    folder = Path(os.environ.get("GATEWAY_DATA_DIR", "")) / "prompts"
    texts: list[str] = []
    for path in sorted(folder.glob("*.jsonl")) if os.environ.get("GATEWAY_DATA_DIR") else []:
        with path.open() as lines:
            for line in lines:
                texts.extend(text for text in _strings_in(json.loads(line)) if text.isascii() == ascii_only)
                if len(texts) >= limit:
                    return texts
    return texts


def _strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if len(value) >= patterns.RE2_MIN_CHARS:
            yield value
            yield value.lower()
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def _shape(match: Any) -> tuple | None:
    return match and (match.span(), match.groups())


def _answers(engine: Any, text: str) -> tuple:
    """What the analyzer can ask of a pattern, from either engine."""
    return (
        [_shape(match) for match in engine.finditer(text)],
        _shape(engine.search(text)),
        _shape(engine.search(text, 37)),
        _shape(engine.match(text)),
        engine.findall(text),
        engine.split(text),
        engine.sub(lambda match: "<" + match.group(0).upper() + ">", text),
    )


ALL = _analyzer_patterns()
TWINNED = {name: pattern for name, pattern in ALL.items() if pattern.twin is not None}
SOURCES = [pattern.pattern for pattern in ALL.values()]
TEXTS = list(_synthetic_texts(SOURCES, 60)) + _real_texts(240, ascii_only=True)
FOREIGN_TEXTS = (list(_synthetic_texts(SOURCES, 40, seed=8, foreign=0.2)) + _real_texts(160, ascii_only=False)
                 + _sprinkled(TEXTS))


def test_most_analyzer_patterns_run_on_re2() -> None:
    assert len(ALL) >= 80
    assert {id(pattern) for pattern in ALL.values()} <= {id(pattern) for pattern in patterns.COMPILED}
    assert len(TWINNED) >= 0.6 * len(ALL), sorted(set(ALL) - set(TWINNED))


@pytest.mark.parametrize("corpus", ["ascii", "non-ascii"])
@pytest.mark.parametrize("name", sorted(TWINNED))
def test_answers_are_res_own(name: str, corpus: str) -> None:
    """On ASCII text the twin itself answers like `re`; on other text it reads the shadow (where the pattern allows).
    Either way every answer of the Pattern is the one `re` gives."""
    pattern, texts = TWINNED[name], TEXTS if corpus == "ascii" else FOREIGN_TEXTS
    matched = 0
    for text in texts:
        expected = _answers(pattern.regex, text)
        assert _answers(pattern, text) == expected, (name, text[:200])
        if text.isascii():
            assert _answers(pattern.twin, text) == expected, (name, text[:200])
        half = len(text) // 2  # endpos: RE2 reads past it, so the Pattern slices the text there instead
        assert _shape(pattern.search(text, 5, half)) == _shape(pattern.regex.search(text, 5, half)), (name, text[:200])
        assert pattern.findall(text, 5, half) == pattern.regex.findall(text, 5, half), (name, text[:200])
        matched += bool(expected[0])
    assert matched > 0, f"{name} matched none of {len(texts)} {corpus} texts: the comparison proved nothing"


def test_shadow_keeps_every_class_re_tells_apart() -> None:
    """Over every code point: the shadow character is a word character, digit or whitespace for RE2 exactly when
    the original is one for `re`, and where re.IGNORECASE folds a character to an ASCII letter it is that letter."""
    everything = "".join(chr(code) for code in range(0x80, 0x110000) if not 0xD800 <= code <= 0xDFFF)
    shadowed = patterns.shadow(everything)
    assert len(shadowed) == len(everything) and shadowed.isascii() and "\n" not in shadowed
    for kind in (r"\w", r"\d", r"\s"):
        in_re = {match.start() for match in re.finditer(kind, everything)}
        in_shadow = {match.start() for match in re.finditer(kind, shadowed, re.ASCII)}
        assert in_re == in_shadow, (kind, sorted(in_re ^ in_shadow)[:5])
    for match in re.finditer("[a-z]", everything, re.IGNORECASE):
        folded = re.fullmatch(shadowed[match.start()], match.group(), re.IGNORECASE)
        assert folded, f"re.IGNORECASE folds U+{ord(match.group()):04X} to an ASCII letter; the shadow does not"


def test_dispatch_asks_re2_only_on_long_ascii_text() -> None:
    """A twin that never matches shows who was asked: it answers for long ASCII text, `re` for the rest."""
    never = patterns.re2.compile("x^")  # "^" after a character: no text matches it
    pattern = patterns.Pattern(re.compile(r"\bcolou?r\b", re.I), never)
    long_ascii = "x " * 100 + "Colour"
    assert pattern.search(long_ascii) is None and pattern.findall(long_ascii) == []
    assert pattern.search("short colour").span() == (6, 12)
    assert pattern.search("é " * 100 + "colour").span() == (200, 206)
    assert patterns.compile(r"\bcolou?r\b", re.I).search(long_ascii).span() == (200, 206)


def test_endpos_means_what_it_means_in_re() -> None:
    pattern = patterns.compile(r"end$", re.M)
    text = "a" * 300 + "end of it"
    assert pattern.search(text, 0, 303).span() == (300, 303)
    assert pattern.search(text) is None


@pytest.mark.parametrize("source, flags, expected", [
    (r"a\sb", 0, "a[\\t\\n\\v\\f\\r \\x1c-\\x1f]b"),
    (r"[\s,]+", 0, "[\\t\\n\\v\\f\\r \\x1c-\\x1f,]+"),
    (r"\S+", re.I, "(?i)[^\\t\\n\\v\\f\\r \\x1c-\\x1f]+"),
    (r"x{,3}\Z", re.M, "(?m)x{0,3}\\z"),
    (r"[]a]|(?:b)|(?P<n>c)?", re.I | re.M | re.S, "(?ims)[]a]|(?:b)|(?P<n>c)?"),
])
def test_translation_spells_re_semantics_in_re2(source: str, flags: int, expected: str) -> None:
    assert patterns.re2_source(source, flags) == expected


@pytest.mark.parametrize("source, flags", [
    (r"a(?=b)", 0), (r"a(?!b)", 0), (r"(?<=a)b", 0), (r"(?<!a)b", 0), (r"(a)\1", 0), (r"(?P<x>a)(?P=x)", 0),
    (r"end$", 0), (r"a++", 0), (r"(?>a)", 0), (r"[\S]", 0), (r"a b", re.X), (r"\u00e9", 0), (r"[x[:a]", 0),
])
def test_translation_refuses_what_re2_cannot_say(source: str, flags: int) -> None:
    assert patterns.re2_source(source, flags) is None
    assert patterns.compile(source, flags).twin is None
