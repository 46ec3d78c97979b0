"""The vocabulary of the subtask rules: what an instruction around a list says, and whether items stand alone.

Kept apart from the detectors so each rule reads as a sentence: "split when the instruction applies per item and no
item leans on another", with the word lists that define those phrases here, in one place, to review.
"""

from __future__ import annotations

import re

from gateway.analysis import patterns

_I = re.IGNORECASE

QUESTION_START = frozenset((
    "what", "what's", "whats", "who", "whom", "whose", "when", "where", "why", "how", "which", "is", "are", "was",
    "were", "can", "could", "do", "does", "did", "should", "would", "will", "has", "have", "may", "might", "must",
    "qué", "cuál", "cuáles", "cómo", "por", "quién", "dónde", "cuándo", "cuánto", "cuántos",  # es
    "qu'est-ce", "que", "quel", "quelle", "quels", "quelles", "pourquoi", "comment", "combien", "où", "quand", "qui",
    "est-ce",  # fr
    "wie", "was", "wer", "wo", "warum", "wann", "welche", "welcher", "welches", "wieviel", "wozu",  # de
    "qual", "quale", "quali", "perché", "come", "dove", "chi", "cosa", "quanto", "quando", "o", "quais"))  # it/pt
TASK_VERBS = frozenset(("explain", "describe", "write", "translate", "summarize", "summarise", "define", "compare",
                        "give", "list", "name", "suggest", "tell", "calculate", "solve", "compute", "find", "identify",
                        "provide", "discuss", "outline", "compose", "draft", "generate", "classify", "evaluate",
                        "analyze", "analyse", "recommend", "convert", "determine", "estimate", "prove", "state",
                        "differentiate", "distinguish", "elaborate", "justify", "mention", "rewrite", "propose"))
PROCEDURE_VERBS = frozenset(("install", "create", "add", "run", "open", "click", "configure", "set", "build", "deploy",
                             "update", "use", "call", "import", "copy", "paste", "navigate", "go", "select", "enter",
                             "type", "press", "download", "save", "load", "start", "stop", "make", "then", "next",
                             "finally", "first", "after", "wait", "check", "ensure", "allow", "let", "store", "show",
                             "display", "return", "read", "print", "implement", "send", "receive", "connect"))

# An item that points at another item or at an answer not yet given cannot go to its own worker.
CROSS_REFERENCE = patterns.compile(
    r"\b(?:previous|above|preceding|aforementioned|prior|earlier) (?:question|answer|result|step|item|one|part|"
    r"response|output|list|example)s?\b|\b(?:this|that|your|these|those) (?:result|answer|output|value|outcome|"
    r"number)s?\b|\bthe (?:result|answer|output|outcome)s? (?:of|from) (?:the )?(?:previous|above|last|first|prior|"
    r"question|step|part)\b|\busing (?:it|that|this|them|those)\b|\b(?:question|step|part|item|task) "
    r"(?:\d+|[a-h]|one|two|three)\b|^(?:then|next|after that|afterwards|finally|and|also|so|but|or|if so|if not|"
    r"otherwise|now|same|(?:more )?specifically|in particular|for example|e\.g\.)\b|\b(?:if so|if not|in that case|"
    r"based on (?:that|this|it|these|those|your))\b", _I)
# What the instruction around a list may say.
WHOLE = patterns.compile(  # the list is material for one operation
    r"\b(?:summari[sz]e|rewrite|rephrase|paraphrase|proofread|combine|merge|sort|rank|prioriti[sz]e|"
    r"compare|organi[sz]e|reformat|cluster|deduplicate|reorder|shuffle|tabulate|choose|pick|select)\b|"
    r"\bgroup (?:them|these|the)\b|"
    r"\bturn (?:them|these|this|it|the|all)\b|\bmake (?:a|an) (?:table|summary|essay|story|article|post|paragraph)\b|"
    r"\bwhich (?:of these|one)\b|\binto (?:a|an|one) (?:single )?(?:paragraph|essay|table|story|article|post|email|"
    r"letter|report)\b|\b(?:based on|using|with|from|include|incorporate) (?:all )?(?:these|the above|the following|"
    r"this|the) (?:\w+ )?(?:points|notes|items|bullets|requirements|keywords|words|information|details|data|facts|"
    r"ideas|questions|examples)\b|\b(?:these|the following|the above|my|the) (?:notes|points|requirements|rules|"
    r"guidelines|constraints|criteria|specs|specifications|features|instructions|steps|conversation|dialogue|"
    r"transcript|chat)\b|\b(?:add|write|generate|create) (?:\w+ )?(?:more|similar|other)\b", _I)
OFFERED = patterns.compile(  # the list is content someone offers (often a pasted answer), not work asked for
    r"\bhere (?:are|is) (?:some|a few|a list of|\w+) (?:possible |sample |example |potential |suggested )?(?:questions|"
    r"examples|ideas|answers|responses|prompts)\b|\bhere (?:are|is) (?:the|some|a few|\w+) (?:\w+ )?(?:counts|results|"
    r"answers|responses|examples|ideas|suggestions|options|possible|sample|potential)\b|\bquestions (?:you|one|they|"
    r"we) (?:could|might|can|should) ask\b|\b(?:i will|i'll|let me|i am going to|i'm going to)\s+(?:now\s+)?"
    r"(?:provide|list|explain|describe|outline|present|introduce|walk|go through)\b", _I)
EACH = patterns.compile(  # the instruction says outright that it applies to each item on its own
    r"\bfor (?:each|every)\b|\beach (?:of|one|question|item|sentence|text|message|line)\b|\bseparately\b|"
    r"\bindividually\b|\bone by one\b", _I)
PER_ITEM_VERB = patterns.compile(  # operations that naturally apply to items one at a time
    r"\b(?:translate|classify|categori[sz]e|label|define|sentiment|rate|solve|extract|correct)\b", _I)
ANSWER_QUESTIONS = patterns.compile(
    r"\b(?:answer|respond to|reply to) (?:the|these|those|all|each|every|following|below|my|them|both|this|"
    r"all of the)\b|\b(?:give|provide|write|tell)(?: me)? (?:the |your )?(?:answers?|responses?) (?:to|for) "
    r"(?:the|these|those|all|each|every|following|below|my)\b", _I)
PROCEDURE = patterns.compile(
    r"\b(?:steps?|step-by-step|procedure|process|workflow|pipeline|stages?|phases?|instructions?|recipe|tutorial|"
    r"walkthrough|roadmap|plan|schedule|itinerary|agenda|timeline|guide|sequence)\b", _I)
ARTIFACT = patterns.compile(  # one deliverable that the items go into
    r"\b(?:write|build|create|develop|implement|design|make|code|generate|program|draft|compose|prepare|produce)\b"
    r".{0,60}?\b(?:program|app|application|script|function|website|web ?site|class|bot|system|model|tool|api|service|"
    r"game|extension|plugin|page|component|module|code|database|dashboard|project|document|report|essay|article|"
    r"story|email|letter|post|proposal|presentation|resume|cv|course|curriculum|entry|concept|strategy|table|"
    r"questionnaire|survey|quiz|outline|blog|speech|song|poem|case study|plan|lesson|campaign|guide|book|chapter)s?\b"
    r"|\b(?:perform|conduct|do|write)\b.{0,20}?\b(?:analysis|assessment|evaluation|review|audit)\b", _I)
SPEC = patterns.compile(r"\b(?:should|must|needs? to|requirements?|features?|functionalit(?:y|ies)|able to|"
                        r"tasks?)\b", _I)
UNIT_NOUN = patterns.compile(
    r"\b(?:the following|these|those|below|each|all|the|this list of|a list of)\s+(?:\w+\s+){0,2}?(?:sentences|"
    r"phrases|words|terms|questions|reviews|tweets|comments|messages|texts|statements|titles|headlines|queries|"
    r"emails|names|problems|equations|examples|passages|paragraphs|utterances|claims|concepts|expressions|"
    r"idioms|items|products|companies|countries|cities|topics|people)\b", _I)

# The detectors' own patterns (see `subtasks`).
FIELDS = patterns.compile(r"(?:^|(?<=[.!?:;] )|(?<=[.!?:;]  ))[ \t*#>-]*(?:please |can you |could you |i want you to |"
                          r"help me |now )?(?:extract|identify|pull out)\b(?: only| all| out)?", _I | re.M)
FIELDS_END = patterns.compile(r"\s+(?:from|in|out of|within)\s+(?:the|this|these|that|following|given|below|above|my|"
                              r"each|an?|provided)\b|\s*:\s|[.;]\s|\n", _I)
FIELDS_INTRO = patterns.compile(r"\b(?:such as|like|including|namely|for|e\.g\.)\s+", _I)
NOT_FIELD = patterns.compile(r"^(?:one|the other|another|both|each|either)\b", _I)
SENTENCE_STOP = patterns.compile(r"[.;]\s|\n")
FIELDS_NAMED = patterns.compile(r"\b(?:following|these)\s+(?:\w+\s+){0,3}?(?:attributes|fields|entities|information|"
                                r"details|items|columns|properties|keys|categories|aspects|features|"
                                r"elements)(?:\s+\w+){0,4}\s*:[ \t]*", _I)
BRACKETED = patterns.compile(r"[({\[]([^()\[\]{}]*,[^()\[\]{}]*)[)}\]]")
ETC = patterns.compile(r"^(?:etc|and so on|and more|others?)$", _I)
FOR_EACH = patterns.compile(r"\bfor (?:each|every)(?: one)? of\s+", _I)
META_QUESTION = patterns.compile(r"^(?:can|could|would|will) you (?:please )?(?:help|assist|do (?:it|this|that))\b|"
                                 r"\b(?:any (?:ideas|suggestions|thoughts|advice)|does (?:that|this|it) make sense|"
                                 r"what do you think|right|ok|okay|got it|understood|ready|is that clear)\?*$", _I)
SPEAKER = patterns.compile(r"^[A-Za-z][A-Za-z0-9 .'-]{0,23}:\s")
FORWARD = patterns.compile(r"\b(?:following|below|these|those|listed|this (?:text|passage|list))\b", _I)
THIN_STOP = frozenset(("what", "which", "when", "where", "why", "how", "who", "does", "did", "can", "could",
                       "would", "should", "will", "your", "please", "with", "about", "from", "have", "that", "this",
                       "there", "then", "also", "give", "tell", "show", "make", "take", "provide", "example",
                       "examples", "more", "some", "like", "mean", "work", "explain", "else"))
SENTENCE = patterns.compile(r"(?<=[.!?])\s+")
PREMISE = patterns.compile(r"\b(?:if|suppose|assume|assuming|given that|imagine)\b", _I)
GENERATE_N = patterns.compile(r"\b(?:generate|write|create|give me|list|come up with|suggest|provide|"
                              r"produce)\s+(?:me\s+)?(\d{1,3}|two|three|four|five|six|seven|eight|nine|ten|"
                              r"twenty)\s+", _I)

_LEAN_PRONOUN = frozenset(("it", "its", "they", "them", "their", "theirs", "he", "she", "his", "her", "him"))
_STRICT_PRONOUN = _LEAN_PRONOUN | frozenset(("this", "that", "these", "those", "such", "here", "there"))
_QUOTED = patterns.compile(r"\"[^\"]*\"|“[^”]*”|«[^»]*»|`[^`]*`")
_WORD = patterns.compile(r"[a-z][a-z'’-]*")
_EXPLETIVE = patterns.compile(r"\bit(?:'s| is| was)?(?: \w+){0,3} (?:to|that|whether|if)\b|\b(?:is|was|would) it\b")
_QUESTION_END = patterns.compile(r"[?？][\s\"'*)]*(?:\([^()]{0,24}\))?[\s.]*$")
_OPTION = patterns.compile(r"^\(?[a-eA-E][.)]\s")
_STOP = frozenset(("what", "which", "when", "where", "why", "how", "who", "whom", "whose", "the", "and", "are", "is",
                   "was", "were", "does", "do", "did", "can", "could", "would", "should", "will", "you", "your",
                   "please", "with", "about", "from", "have", "has", "had", "been", "that", "this", "there", "then",
                   "also", "give", "tell", "explain", "describe", "some", "many", "much", "more", "kind", "type",
                   "specifically", "exactly", "actually", "really", "just"))
_RELATIVE_THAT = patterns.compile(r"\b(?:so|such|now|is|was|are|were|means|shows?|says?|think|believe|know|sure|fact|"
                                  r"ensure|given|assume|suppose|prove) that\b|\bthat (?:is|are|was|were|has|have|can|"
                                  r"will|would|should|do|does|did|the|a|an|you|we|they|it)\b")


def leans(body: str, strict: bool = False) -> bool:
    """A pronoun with no antecedent of the item's own ("Why did she ask him?", "What is its capital?").

    Lenient (lists): only a pronoun before any noun counts. Strict (questions run together in one paragraph, where
    the previous question is the natural antecedent): any pronoun or demonstrative counts.
    """
    lowered = _QUOTED.sub(" ", body.lower())
    if strict:
        lowered = _EXPLETIVE.sub(" ", _RELATIVE_THAT.sub(" ", lowered))
        return any(word in _STRICT_PRONOUN for word in _WORD.findall(lowered))
    for word in _WORD.findall(lowered)[:25]:
        if word in _LEAN_PRONOUN:
            return not (word == "it" and _EXPLETIVE.search(lowered))
        if len(word) >= 4 and word not in _STOP:
            return False
    return False


def independent(bodies: list[str], context_words: int, strict: bool = False) -> bool:
    """No item leans on another; pronouns are allowed only when a passage around the items can carry them."""
    for index, body in enumerate(bodies):
        if index and CROSS_REFERENCE.search(_QUOTED.sub(" ", body)):
            return False
        if index and (strict or context_words < 30) and leans(body, strict):
            return False
    return True


def kind(body: str) -> str:
    """question | task | step | statement, from the shape of an item."""
    text = body.strip()
    if not text:
        return "statement"
    first_line, _, rest = text.partition("\n")
    first = first_line.split(None, 1)[0].lower().strip("¿¡*\"'(")
    if _QUESTION_END.search(text):
        return "question"
    if rest and first_line.rstrip(" *\"')").endswith(("?", ":")) and all(_OPTION.match(line) for line in
                                                                       rest.splitlines()):
        return "question"  # a multiple-choice question: the stem, then short options
    if first in QUESTION_START and not rest and len(text.split()) <= 25:
        return "question"
    if first in TASK_VERBS:
        return "task"
    if first in PROCEDURE_VERBS:
        return "step"
    return "statement"


def asks(body: str) -> bool:
    """The item opens like a question or a request (in a few languages), not like a statement or a fragment."""
    words = body.lower().lstrip("¿¡*\"'(-– ").split(None, 2)
    return bool(words) and (words[0] in QUESTION_START or words[0] in TASK_VERBS
                            or (words[0] in ("so", "and", "also", "please") and len(words) > 1
                                and words[1] in QUESTION_START | TASK_VERBS))
