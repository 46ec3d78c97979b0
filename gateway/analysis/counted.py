""""Give me N variations": a turn that asks for N outputs that do not depend on each other.

N slogans, names, ideas or example questions can be written by several workers at once, each asked for its share
with a hint to differ from the obvious choices. Conservative on purpose: the N things must be separate outputs (not
the parts of one deliverable: paragraphs, steps, slides, days of a plan), the request must not constrain the set as a
whole (unique, ranked, summing to a total, in a table, pick one), and a number inside a code request ("write a
function that generates 6 random numbers") is a parameter of the code, not a count of answers.
"""

from __future__ import annotations

import re

from gateway.analysis import patterns

_I = re.IGNORECASE
_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
          "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50}
ASK = patterns.compile(r"\b(?:generate|write|create|give(?: me| us)?|come up with|suggest|provide|produce|brainstorm|"
                       r"propose|draft|compose|list|make me|need|want)\s+(?:me\s+|us\s+|some\s+|about\s+)?"
                       r"(?P<n>\d{1,3}|" + "|".join(_WORDS) + r")(?P<plus>\+)?\s+"
                       r"(?P<noun>(?:[\w'’-]+[ ,]+){0,5}?[\w'’-]+s)\b", _I)
CODE_BEFORE = patterns.compile(r"\b(?:code|function|script|program|class|method|algorithm|regex|button|sql|python|"
                               r"javascript|java|c\+\+|excel|formula|api|loop|array)\b", _I)
NOT_SEPARATE = patterns.compile(r"\b(?:random|numbers?|digits?|letters?|rows?|records?|columns?|paragraphs?|pages?|"
                                r"chapters?|parts?|sections?|steps?|stages?|phases?|days?|weeks?|months?|slides?|"
                                r"sentences?|words?|lines?|bullets?|points?|minutes?|seconds?|hours?|years?|times?|"
                                r"dollars?|people|tables?|files?|buckets?|instances?|objects?)\b", _I)
SET_CONSTRAINT = patterns.compile(r"\b(?:unique|not (?:be )?repeated|no (?:duplicates?|repeats?)|none (?:can|"
                                  r"should) be the same|distinct|without repe|table|step[- ]by[- ]step|rank(?:ed|ing)?|"
                                  r"top \d+|best \d+|sum|total|in order|sequence|sequential|chronolog|choose|pick one|"
                                  r"select one|one of (?:them|these)|compare|story|storyline|continu)\w*", _I)
MIN_N, MAX_N = 2, 100


def find_count(text: str) -> tuple[int, str]:
    """(N, reason) when the turn asks for N independent outputs; (0, why not) otherwise."""
    match = ASK.search(text, 0, 1500)
    if match is None:
        return 0, ""
    raw = match.group("n").lower()
    n = int(raw) if raw.isdigit() else _WORDS[raw]
    noun = match.group("noun")
    sentence_start = max(text.rfind(".", 0, match.start()), text.rfind("\n", 0, match.start()), 0)
    if not MIN_N <= n <= MAX_N or re.match(r"\s*(?:-|to|or)\s*\d", text[match.end("n"):match.end("n") + 6]):
        return 0, f"asks for {raw} items: not a count worth splitting"
    if CODE_BEFORE.search(text, sentence_start, match.start()) or CODE_BEFORE.search(noun):
        return 0, f"the number {n} is a parameter of a code request"
    if NOT_SEPARATE.search(noun):
        return 0, f"asks for {n} {noun}: parts of one answer, not separate outputs"
    constraint = SET_CONSTRAINT.search(text, 0, 3000)
    if constraint:
        return 0, f"asks for {n} {noun} constrained as a set ('{constraint.group(0)}')"
    return n, f"{n} independent outputs asked for ({match.group(0).strip()[:60]})"
