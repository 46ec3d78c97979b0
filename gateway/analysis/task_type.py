"""Task type from the words of the last turn: a transparent keyword vote, not a model.

Why words and not regexes: one pass of word lookups over the instruction window costs a few microseconds, while
dozens of case-insensitive regexes over the same text cost hundreds. The vote keeps its evidence so `policy explain`
can show why a request was typed the way it was. `follow_up` is decided by the analyzer, which knows the dependency.
"""

from __future__ import annotations

from gateway.analysis import patterns
from gateway.analysis.task_lexicon import CODE_LANG_HINT, CREATE_VERBS, LEXICON, OBJECTS, QUESTION_START
from gateway.analysis.text import Gated, words

HEAD_WORDS = 40          # words of the opening instruction count 1.5x
MIN_SCORE = 1.5          # below this no type has real evidence: open_question

_MATH_EXPR = patterns.compile(r"\d\s*[-+*/^×÷=<>]\s*[\d(x-z]|\b[a-z]\s*[=<>]\s*-?\d|"
                              r"\\frac|\\sqrt|\\int|\bf\([a-z]\)|\|\s*x")
_NUMBER = patterns.compile(r"(?<![\w.])\$?\d+(?:[.,]\d+)?(?![.)]\s)")  # not list markers ("1. ", "2) ")
_QUANTITY_QUESTION = patterns.compile(r"\bhow (?:many|much|long|far|old)\b|\bwhat (?:is|was|would be|"
                                      r"will be) the (?:total|sum|value|remainder|probability|area|average|difference|"
                                      r"cost|price|amount|result)\b")
_PERSONA = Gated(patterns.compile(r"\b(?:pretend|imagine yourself|picture yourself|act as|(?:play|take on|assume|"
                                  r"embrace|adopt) the (?:role|persona|character)|embody|role-?play|in character|"
                                  r"you are now)\b"),
                 "pretend", "imagine", "picture", "act", "role", "persona", "character", "embody", "roleplay",
                 "role-play", "now")
_DIGIT = patterns.compile(r"\d")
_PUZZLE_TAIL = patterns.compile(r"[.!]\s+[^.!?]{0,200}\?\s*$")


def classify(lowered: str, code: bool) -> tuple[str, float, list[str], dict[str, float]]:
    """(task type, confidence 0..1, the evidence words, all scores) for the lowered instruction window; `code`: the
    turn carries code."""
    tokens = words(lowered)
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}
    seen: set[str] = set()
    for position, word in enumerate(tokens):
        hits = LEXICON.get(word)
        if hits is not None and word not in seen:
            seen.add(word)
            for task, weight in hits:
                _vote(scores, evidence, task, weight * 1.5 if position < HEAD_WORDS else weight, word)
        if word in CREATE_VERBS and position < 200:
            for obj in tokens[position + 1:position + 6]:
                task = OBJECTS.get(obj)
                if task is not None:
                    if obj == "script" and CODE_LANG_HINT.intersection(tokens):
                        task = "code_generation"
                    _vote(scores, evidence, task, 3.5 if position < HEAD_WORDS else 2.0, f"{word} {obj}")
                    break
    _structure(lowered, code, tokens, scores, evidence)
    return _decide(scores, evidence)


def _vote(scores: dict[str, float], evidence: dict[str, list[str]], task: str, weight: float, why: str) -> None:
    scores[task] = scores.get(task, 0.0) + weight
    evidence.setdefault(task, []).append(why)


def _structure(lowered: str, code: bool, tokens: list[str], scores: dict[str, float],
               evidence: dict[str, list[str]]) -> None:
    """Non-lexical evidence: code in the turn, arithmetic, personas, the shape of a question or a puzzle."""
    if code:
        _vote(scores, evidence, "code_generation", 2.0, "code block")
    digits = _DIGIT.search(lowered) is not None  # the arithmetic patterns all need one (or LaTeX, or f(x))
    numbers = len(_NUMBER.findall(lowered, 0, 2000)) if digits else 0
    if (digits or "\\" in lowered or "f(" in lowered) and _MATH_EXPR.search(lowered, 0, 2000):
        _vote(scores, evidence, "math", 2.0, "expression")
    quantity = _QUANTITY_QUESTION.search(lowered, 0, 2000) if numbers >= 2 else None
    if quantity:
        _vote(scores, evidence, "math", 1.5 + min(1.0, 0.25 * numbers), f"{numbers} numbers, '{quantity.group(0)}'")
    if _PERSONA.search(lowered[:400], set(tokens[:80])):
        _vote(scores, evidence, "creative_writing", 2.5, "role-play")
    question = lowered.rstrip().endswith("?")
    if tokens and (tokens[0] in QUESTION_START or question):
        _vote(scores, evidence, "open_question", 1.5, "question form")
    if question and not numbers and len(tokens) <= 120 and _PUZZLE_TAIL.search(lowered[-400:]) \
            and lowered.count(". ") >= 2:
        _vote(scores, evidence, "reasoning", 1.0, "facts, then a question")


def _decide(scores: dict[str, float], evidence: dict[str, list[str]]) -> tuple[str, float, list[str],
                                                                                 dict[str, float]]:
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    if not ranked or ranked[0][1] < MIN_SCORE:
        return "open_question", 0.4, evidence.get("open_question", []), scores
    best, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    margin = (top - second) / top
    confidence = min(0.95, 0.45 + 0.06 * top) * (0.55 + 0.45 * margin)
    return best, round(confidence, 3), evidence.get(best, []), scores
