"""Context dependency: does the last turn need the earlier turns to be understood?

This decides whether a worker may see only the last turn (cheap) or needs the conversation (the main session, or a
worker with the history). A false "independent" sends a question like "and the second one?" to a model that never
saw the list, so strong evidence (explicit back-references, continuations, answers to the assistant's own question,
edits of earlier output) weighs much more than weak evidence (a pronoun inside a long, self-contained question).
Evidence is combined as independent votes: 1 - prod(1 - w).
"""

from __future__ import annotations

import re

from gateway.analysis.text import words

HEAD = 400  # back-references are at the start of a turn or right after its first clause

_OUTPUT_NOUN = (r"(?:response|answer|reply|message|output|result|code|example|solution|list|story|poem|email|"
                r"suggestion|question|version|draft|point|option|idea|paragraph|sentence|text|step|item|case|"
                r"statement|part|table|function|program|script|explanation|proof|approach|implementation|plan|essay|"
                r"algorithm|scenario|one|choice|letter|article|summary|translation|outline|recommendation)s?")
_BACK_REFERENCE = re.compile(
    r"\b(?:your|the|my|that|this|these|those) (?:previous|last|earlier|prior|above|preceding|original|former|latter|"
    r"first|second|third|fourth|fifth|other|same|initial|aforementioned|mentioned|listed) " + _OUTPUT_NOUN + r"\b"
    r"|\b(?:the |as )?above\b|\baforementioned\b"
    r"|\bas (?:mentioned|discussed|stated|described|shown|said|noted) (?:before|earlier|previously)\b"
    r"|\byou (?:just )?(?:said|mentioned|wrote|suggested|gave|provided|listed|described|explained|proposed|showed|"
    r"recommended|used|made|did|created|generated)\b"
    r"|\b(?:do|repeat|try|redo) (?:the same|it|that|this)(?: task| thing)? again\b|\bthe same (?:task|thing|way|"
    r"format|question|again)\b|\bsame (?:for|with)\b|\bdo the same\b"
    r"|\byour (?:\w+ ){0,2}" + _OUTPUT_NOUN + r"\b")
_SELECT = re.compile(r"\b(?:pick|choose|select|take) (?:one|two|three|the best|your favou?rite|any one)\b"
                     r"|\bone of (?:them|these|those|the)\b|\b(?:first|second|third|last) (?:one|example|option)\b")
_WEAK_BACK = re.compile(r"\b(?:earlier|previously|again|instead|as well|so far|before)\b")
_EDIT_PRONOUN = re.compile(
    r"\b(?:rewrite|rephrase|translate|summari[sz]e|simplify|shorten|expand|elaborate on|explain|fix|improve|"
    r"convert|format|turn|put|refactor|optimi[sz]e|finish|redo|modify|change|update|adjust|revise|extend|make|"
    r"parallelize|test|continue|correct|reformat|check|debug|run) (?:it|this|that|them|these|those)\b(?!\s*:)")
_ELLIPTIC = re.compile(
    r"^(?:shorter|longer|simpler|more \w+|less \w+|in \w+|as a (?:table|list|poem|json|bullet list)|in bullet points"
    r"|one more|another(?: one)?|elaborate|expand|again|more details?|more examples?|tl;?dr|explain more|go deeper"
    r"|give me more|try again|examples?|details?|continue|go on|keep going|next|proceed|do it|please do|go ahead"
    r"|the (?:first|second|third|last|other) one|both|neither|all of them|the latter|the former)\b")
_EXPLETIVE_IT = re.compile(r"\b(?:it(?:'s| is| was| would be| will be| seems| takes)|(?:is|was|would|does) it)"
                           r"(?: \w+){0,3} (?:to|that|whether|if|like|when|for)\b|\bwhat is it like\b")

_LEADING: dict[str, float] = {
    "and": 0.75, "but": 0.6, "so": 0.45, "also": 0.5, "then": 0.55, "now": 0.55, "ok": 0.6, "okay": 0.6,
    "thanks": 0.5, "thank": 0.5, "great": 0.5, "cool": 0.5, "nice": 0.45, "perfect": 0.5, "yes": 0.8, "no": 0.7,
    "yeah": 0.8, "yep": 0.8, "nope": 0.75, "sure": 0.75, "continue": 0.85, "more": 0.6, "again": 0.7, "why": 0.55,
    "instead": 0.7, "hmm": 0.5, "what about": 0.8, "how about": 0.8, "what if": 0.6, "what else": 0.8,
    "in that case": 0.8, "go on": 0.85, "keep going": 0.85, "and the": 0.85, "same": 0.7, "wait": 0.6,
    "actually": 0.45, "alright": 0.55, "right": 0.45,
}
_PRONOUNS = frozenset(("it", "its", "they", "them", "their", "those", "these", "he", "she", "him", "her", "his",
                       "that", "this", "there"))
_DEICTIC_NEXT = frozenset(("code", "function", "answer", "one", "ones", "list", "example", "text", "story", "poem",
                           "email", "error", "problem", "question", "approach", "solution", "part", "sentence",
                           "paragraph", "point", "idea", "method", "program", "script", "version", "is", "was",
                           "does", "doesn't", "means", "works", "sounds", "looks", "case", "process", "algorithm",
                           "plan", "situation", "option", "options", "ideas", "points", "examples", "steps", "step",
                           "response", "reply", "design", "essay", "table", "results", "result", "issue", "bug"))
_STOP = frozenset(("what", "which", "when", "where", "why", "how", "who", "the", "and", "are", "is", "does", "do",
                   "can", "could", "would", "should", "you", "your", "please", "with", "about", "from", "into",
                   "have", "has", "for", "that", "this", "will", "give", "tell", "make", "some", "more", "than"))


def estimate(text: str, has_history: bool, assistant_tail: str,
             pasted: bool) -> tuple[float, list[tuple[float, str]]]:
    """(dependency 0..1, weighted evidence). `pasted`: the turn carries its own code or document."""
    if not has_history:
        return 0.0, [(0.0, "no earlier turns")]
    head = text[:HEAD].lower().strip()
    tokens = words(head)
    evidence: list[tuple[float, str]] = []
    n_words = len(words(text[:2000].lower())) if len(text) > HEAD else len(tokens)
    if not tokens:
        return 0.6, [(0.6, "empty turn continues the conversation")]
    short = n_words <= 12

    match = _BACK_REFERENCE.search(head)
    if match:
        evidence.append((0.9, f"refers back ('{match.group(0)}')"))
    match = _SELECT.search(head)
    if match:
        evidence.append((0.7, f"selects from earlier output ('{match.group(0)}')"))
    first_two = " ".join(tokens[:2])
    lead = _LEADING.get(first_two) or _LEADING.get(tokens[0])
    if lead:
        word = first_two if first_two in _LEADING else tokens[0]
        evidence.append((lead if n_words <= 25 else lead * 0.6, f"continues ('{word} ...')"))
    match = _ELLIPTIC.match(head)
    if match and n_words <= 8:
        evidence.append((0.85, f"elliptic request ('{match.group(0)}')"))
    match = _EDIT_PRONOUN.search(head)
    if match and not pasted:
        evidence.append((0.75, f"acts on earlier output ('{match.group(0)}')"))
    if assistant_tail and n_words <= 15 and assistant_asked(assistant_tail):
        evidence.append((0.85 if n_words <= 6 else 0.55, "answers the assistant's question"))
    _pronouns(head, tokens, n_words, pasted, evidence)
    match = _WEAK_BACK.search(head)
    if match:
        evidence.append((0.35, f"'{match.group(0)}'"))
    if n_words <= 3 and not evidence:
        evidence.append((0.4, "very short turn"))
    remaining = 1.0
    for weight, _ in evidence:
        remaining *= 1.0 - weight
    return round(1.0 - remaining, 3), evidence


def _pronouns(head: str, tokens: list[str], n_words: int, pasted: bool,
              evidence: list[tuple[float, str]]) -> None:
    """A pronoun or deictic with no antecedent in the turn; worth less the longer and more self-contained the turn."""
    expletive = _EXPLETIVE_IT.search(head) is not None
    content_before = 0
    for index, token in enumerate(tokens[:30]):
        if token in _PRONOUNS:
            if token == "it" and expletive:
                continue
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            if token in ("that", "this", "there") and following and following not in _DEICTIC_NEXT:
                continue
            if token in ("this", "these") and pasted:
                continue
            weight = 0.65 if n_words <= 12 else 0.45 if n_words <= 25 else 0.25 if n_words <= 60 else 0.1
            if content_before >= 2:
                weight /= 2  # "What is Python and why is it popular?": the antecedent is right there
            if weight >= 0.05:
                evidence.append((weight, f"pronoun without antecedent ('{token}')"))
            return
        if len(token) >= 4 and token not in _STOP:
            content_before += 1


def assistant_asked(tail: str) -> bool:
    """The assistant's message ends with a question (allowing a short closing line after it)."""
    mark = tail.rfind("?")
    return mark >= 0 and len(tail[mark + 1:].split()) <= 25
