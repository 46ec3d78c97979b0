"""Context dependency: does the last turn need the earlier turns to be understood?

This decides whether a worker may see only the last turn (cheap) or needs the conversation (the main session, or a
worker with the history). A false "independent" sends a question like "and the second one?" to a model that never
saw the list, so strong evidence (explicit back-references, continuations, answers to the assistant's own question,
edits of earlier output) weighs much more than weak evidence (a pronoun inside a long, self-contained question).
Evidence is combined as independent votes: 1 - prod(1 - w).
"""

from __future__ import annotations

import re
from typing import Callable

from gateway.analysis import patterns
from gateway.analysis.dependency_cues import (
    BACK_REFERENCE, COMPARATIVE, DEICTIC_NEXT, DETERMINERS, EARLIER_WORD, EDIT_BEFORE, EDIT_PRONOUN, ELLIPTIC,
    EXPLETIVE_IT, FUNCTION_WORDS, GENERIC, LABEL, LEADING, MORE, ORDINALS, PERSONA, PERSONA_PERSISTS, PREMISE_START,
    PRONOUNS, SELECT, STOP, VARIABLE, WEAK_BACK)
from gateway.analysis.text import first_sentence, words

GIVEN_MAX_WORDS = 60  # longer turns bring their own referents: the history is not read for them
HEAD = 400  # back-references are at the start of a turn or right after its first clause

def norm(word: str) -> str:
    """Crude singular form so 'tickets' in the history matches 'the ticket' in the turn."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def history_words(text: str) -> str:
    """The earlier turns' text (bounded), lowered: what a definite phrase may point back to. Kept as one string, not
    a word set, so it costs one `lower()`; `_known` looks up the few words a turn asks about, in any common form."""
    return text.lower()


def _known(word: str, earlier: str) -> bool:
    """`word` (or its singular/plural) occurs in `earlier` as a whole word."""
    base = norm(word)
    size = len(base)
    position = earlier.find(base)
    while position >= 0:
        if position == 0 or not earlier[position - 1].isalnum():
            rest = earlier[position + size:position + size + 4]
            if not rest or not rest[0].isalnum():
                return True
            if base.endswith("y") and rest.startswith("ies") and not rest[3:4].isalnum():
                return True
            for suffix in ("s", "es"):
                if rest.startswith(suffix) and not rest[len(suffix):len(suffix) + 1].isalnum():
                    return True
        position = earlier.find(base, position + 1)
    return False


def estimate(text: str, has_history: bool, assistant_tail: str, pasted: bool,
             earlier: Callable[[], str] | None = None,
             persona: float = 0.0) -> tuple[float, list[tuple[float, str]]]:
    """(dependency 0..1, weighted evidence).

    `pasted`: the turn carries its own code or document; `earlier`: gives the words of the previous exchange (see
    `history_words`), called only for turns short enough to use them; `persona`: the weight of a role set up in an
    earlier user turn (see `persona_weight`).
    """
    if not has_history:
        return 0.0, [(0.0, "no earlier turns")]
    head = text[:HEAD].lower().strip()
    tokens = words(head)
    evidence: list[tuple[float, str]] = []
    n_words = len(words(text[:2000].lower())) if len(text) > HEAD else len(tokens)
    if not text.strip():
        return 0.6, [(0.6, "empty turn continues the conversation")]
    if not tokens:
        return 0.25, [(0.25, "no words these rules can read (script): unsure")]
    opening = len(words(first_sentence(head)))
    present = set(tokens)

    for match in BACK_REFERENCE.finditer(head, present):
        weight = _back_reference_weight(match, head, n_words)
        if weight:
            evidence.append((weight, f"refers back ('{match.group(0)}')"))
            break
    match = SELECT.search(head, present)
    if match:
        evidence.append((0.7 if n_words <= 25 else 0.25, f"selects from earlier output ('{match.group(0)}')"))
    first_two = " ".join(tokens[:2])
    lead = LEADING.get(first_two) or LEADING.get(tokens[0])
    if lead and tokens[0] == "why" and first_two not in LEADING and n_words > 5:
        lead = 0.0  # "why?", "why not?" lean back; "Why should I avoid X in TypeScript?" is a question of its own
    if lead:
        word = first_two if first_two in LEADING else tokens[0]
        full = n_words <= 25 or (pasted and opening <= 8)
        evidence.append((lead if full else lead * 0.4, f"continues ('{word} ...')"))
    match = ELLIPTIC.match(head)
    if match and (n_words <= 4 or (" " in match.group(0) and n_words <= 8)):
        evidence.append((0.85, f"elliptic request ('{match.group(0)}')"))
    match = EDIT_PRONOUN.search(head, present)
    if match and not pasted and not _object_follows(head, match.end()):
        weight = 0.75 if n_words <= 15 else 0.4 if n_words <= 40 else 0.15
        clause = _SENTENCE_BREAK.split(head[:match.start()])
        if len(clause) > 1 or sum(1 for w in words(clause[-1]) if len(w) >= 4 and w not in STOP) >= 2:
            weight /= 2  # "write an episode and make it funny", "Create a course. Make it long": antecedent in turn
        evidence.append((weight, f"acts on earlier output ('{match.group(0)}')"))
    if assistant_tail and n_words <= 15 and assistant_asked(assistant_tail):
        evidence.append((0.85 if n_words <= 6 else 0.55, "answers the assistant's question"))
    _pronouns(head, tokens, n_words, pasted, evidence)
    if earlier is not None and n_words <= GIVEN_MAX_WORDS:
        _given(tokens, n_words, earlier(), evidence)
    match = COMPARATIVE.search(head, present)
    if match and n_words <= 40:
        evidence.append((0.6 if n_words <= 15 else 0.3, f"compares with something unnamed ('{match.group(0)}')"))
    if persona and n_words <= 30 and not PERSONA.search(head):
        evidence.append((persona if n_words <= 15 else persona * 0.6, "keeps a role set up in an earlier turn"))
    match = LABEL.search(head, present)
    if match and n_words <= 40 and not pasted:
        evidence.append((0.6, f"points at a labelled earlier item ('{match.group(0)}')"))
    match = MORE.search(head, present)
    if match and n_words <= 15:
        evidence.append((0.55, f"asks for more of something ('{match.group(0)}')"))
    match = WEAK_BACK.search(head, present)
    if match:
        evidence.append((0.35, f"'{match.group(0)}'"))
    if n_words <= 3 and not evidence:
        evidence.append((0.4, "very short turn"))
    remaining = 1.0
    for weight, _ in evidence:
        remaining *= 1.0 - weight
    return round(1.0 - remaining, 3), evidence


def _back_reference_weight(match: re.Match[str], head: str, n_words: int) -> float:
    """Strong unless the phrase points inside the turn ('three statements ... the third statement') or at the
    answer being asked for ('explain your reasoning', 'in your response' in a long instruction)."""
    phrase = match.group(0)
    noun = norm(phrase.rsplit(" ", 1)[-1])
    before = head[:match.start()]
    if noun and len(noun) > 3 and noun in {norm(w) for w in words(before)}:
        return 0.0
    if phrase.startswith("your ") and not EARLIER_WORD.search(phrase) and n_words > 25 \
            and not EDIT_BEFORE.search(before[-40:]):
        return 0.25
    return 0.9


def _given(tokens: list[str], n_words: int, earlier: str, evidence: list[tuple[float, str]]) -> None:
    """Definite phrases whose nouns this turn never introduced but an earlier turn did ('the triangle')."""
    seen: set[str] = set()
    hits: list[str] = []
    ordinal = False
    for index, token in enumerate(tokens[:60]):
        if token in DETERMINERS:
            for offset, following in enumerate(tokens[index + 1:index + 4]):
                if offset == 0 and following in ORDINALS:
                    ordinal = True  # "the first film": picks one of several things named before
                    continue
                if following in STOP or following in DETERMINERS or following in GENERIC or len(following) < 3 \
                        or following in FUNCTION_WORDS or not following.isalpha():
                    continue
                base = norm(following)
                if base not in seen and _known(following, earlier):
                    hits.append(f"{token} {following}")
                    break
                ordinal = False
        seen.add(norm(token))
    if hits:  # a definite phrase in a short turn leans hard; a long turn usually introduces its own referents
        weight = (0.55 if n_words <= 15 else 0.4 if n_words <= 40 else 0.25) + (0.15 if len(hits) > 1 else 0.0)
        if ordinal or (PREMISE_START.match(tokens[0]) and n_words <= 40):
            weight = max(weight, 0.6)  # "the first film"; "If the ticket is $2 ...": a variation on what came before
        evidence.append((weight, f"names things from earlier turns ('{hits[0]}')"))
    elif n_words <= 15:
        content = {norm(t) for t in tokens if len(t) >= 3 and t.isalpha() and t not in STOP and t not in GENERIC}
        shared = {word for word in content if _known(word, earlier)}
        if len(shared) >= 2 and len(shared) * 2 >= len(content):
            evidence.append((0.45, f"short turn on the earlier topic ('{sorted(shared)[0]}')"))
    variables = {v for v in VARIABLE.findall(" ".join(tokens[:40])) if _known(v, earlier)}
    if variables and n_words <= 15:
        evidence.append((0.55, f"uses variables from earlier turns ('{sorted(variables)[0]}')"))


def _pronouns(head: str, tokens: list[str], n_words: int, pasted: bool,
              evidence: list[tuple[float, str]]) -> None:
    """A pronoun or deictic with no antecedent in the turn; worth less the longer and more self-contained the turn."""
    expletive = EXPLETIVE_IT.search(head) is not None
    content_before = 0
    starts = _sentence_starts(head, tokens)
    for index, token in enumerate(tokens[:30]):
        if index in starts:
            content_before = 0
        if token in PRONOUNS:
            if token == "it" and expletive:
                continue
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            if token in ("that", "this", "there") and following and following not in DEICTIC_NEXT:
                continue
            if token in ("this", "these") and pasted:
                continue
            weight = 0.65 if n_words <= 12 else 0.45 if n_words <= 25 else 0.25 if n_words <= 60 else 0.1
            if content_before >= 2:
                weight /= 2  # "What is Python and why is it popular?": the antecedent is right there
            elif index and index >= min(starts - {0}, default=len(tokens)):
                weight /= 2  # a later sentence: the antecedent may be in an earlier one of this turn
            if weight >= 0.05:
                evidence.append((weight, f"pronoun without antecedent ('{token}')"))
            return
        if len(token) >= 4 and token not in STOP:
            content_before += 1


def assistant_asked(tail: str) -> bool:
    """The assistant's message ends with a question (allowing a short closing line after it)."""
    mark = tail.rfind("?")
    return mark >= 0 and len(tail[mark + 1:].split()) <= 25


def persona_weight(first_user_text: str) -> float:
    """A role-play set up in the first user turn: 0.6 when it says it lasts ('throughout this conversation'), 0.4 for
    a bare 'act as ...' (later turns may well be unrelated questions), 0 without one."""
    lowered = first_user_text.lower()
    if not lowered or PERSONA.search(lowered) is None:
        return 0.0
    return 0.6 if PERSONA_PERSISTS.search(lowered) else 0.4


_SENTENCE_BREAK = patterns.compile(r"[.!?]\s")
_OBJECT_FOLLOWS = patterns.compile(r"[^.?!\n]{0,40}:\s*\S")


def _object_follows(head: str, position: int) -> bool:
    """'rewrite this sentence: <text>': the object is given right after, in the turn itself."""
    return _OBJECT_FOLLOWS.match(head, position) is not None


def _sentence_starts(head: str, tokens: list[str]) -> set[int]:
    """Token indexes that open a new sentence, so an antecedent is only looked for in the pronoun's own sentence."""
    starts, count = set(), 0
    for sentence in re.split(r"(?<=[.!?])\s+", head):
        starts.add(count)
        count += len(words(sentence))
    return starts
