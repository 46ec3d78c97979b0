"""Independent subtasks in the last turn, each composed so a worker can answer it on its own.

Splitting is only safe when the pieces really are independent, so the rules are conservative: a list is split when
its items are separate questions or tasks, or when the instruction applies per item ("for each", "answer these",
"translate the following sentences", "extract A, B and C from ..."). It is not split when the items are steps of one
procedure or requirements of one deliverable, when an item leans on another ("then use the result", "its"), or when
the list is data processed as a whole ("summarize these notes"). A subtask is the turn with the whole list replaced
by one item, so the instruction and any passage around the list travel with every subtask.
"""

from __future__ import annotations

import re

from gateway.analysis.lists import Block, Item, inline_items, marker_blocks, question_lines
from gateway.analysis.types import Subtask

MAX_SUBTASKS = 64
_I = re.IGNORECASE

_QUESTION_START = frozenset(("what", "what's", "whats", "who", "whom", "whose", "when", "where", "why", "how", "which",
                             "is", "are", "was", "were", "can", "could", "do", "does", "did", "should", "would",
                             "will", "has", "have", "qué", "cuál", "cómo", "por", "quién", "dónde", "cuándo", "¿qué"))
_TASK_VERBS = frozenset(("explain", "describe", "write", "translate", "summarize", "summarise", "define", "compare",
                         "give", "list", "name", "suggest", "tell", "calculate", "solve", "compute", "find", "identify",
                         "provide", "discuss", "outline", "compose", "draft", "generate", "classify", "evaluate",
                         "analyze", "analyse", "recommend", "convert", "determine", "estimate", "prove", "state",
                         "differentiate", "distinguish", "elaborate", "justify", "mention", "rewrite", "propose"))
_PROCEDURE_VERBS = frozenset(("install", "create", "add", "run", "open", "click", "configure", "set", "build", "deploy",
                              "update", "use", "call", "import", "copy", "paste", "navigate", "go", "select", "enter",
                              "type", "press", "download", "save", "load", "start", "stop", "make", "then", "next",
                              "finally", "first", "after", "wait", "check", "ensure", "allow", "let", "store", "show",
                              "display", "return", "read", "print", "implement", "send", "receive", "connect"))
_CROSS_REFERENCE = re.compile(
    r"\b(?:previous|above|preceding|aforementioned|prior|earlier) (?:question|answer|result|step|item|one|part|"
    r"response|output|list|example)s?\b|\b(?:this|that|your|these|those) (?:result|answer|output|value|outcome|"
    r"number)s?\b|\bthe (?:result|answer|output|outcome)s? (?:of|from) (?:the )?(?:previous|above|last|first|prior|"
    r"question|step|part)\b|\busing (?:it|that|this|them|those)\b|\b(?:question|step|part|item|task) "
    r"(?:\d+|[a-h]|one|two|three)\b|^(?:then|next|after that|afterwards|finally|and|also|so|but|or|if so|if not|"
    r"otherwise|now|same)\b|\b(?:if so|if not|in that case|based on (?:that|this|it|these|those|your))\b", _I)
_LEAN_PRONOUN = frozenset(("it", "its", "they", "them", "their", "theirs", "he", "she", "his", "her", "him"))
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|«[^»]*»")
_WORD = re.compile(r"[a-z][a-z'’-]*")
_EXPLETIVE = re.compile(r"\bit(?:'s| is| was)?(?: \w+){0,3} (?:to|that|whether|if)\b|\b(?:is|was|would|does) it\b")
_STOP = frozenset(("what", "which", "when", "where", "why", "how", "who", "whom", "whose", "the", "and", "are", "is",
                   "was", "were", "does", "do", "did", "can", "could", "would", "should", "will", "you", "your",
                   "please", "with", "about", "from", "have", "has", "had", "been", "that", "this", "there", "then",
                   "also", "give", "tell", "explain", "describe", "some", "many", "much", "more", "kind", "type"))
_WHOLE = re.compile(
    r"\b(?:summari[sz]e|rewrite|rephrase|paraphrase|proofread|combine|merge|sort|rank|order|prioriti[sz]e|"
    r"compare|organi[sz]e|format|group|cluster|deduplicate|reorder|shuffle|tabulate|choose|pick|select)\b|"
    r"\bturn (?:them|these|this|it|the)\b|\bmake (?:a|an) (?:table|summary|essay|story|article|post|paragraph)\b|"
    r"\bwhich (?:of these|one)\b|\binto (?:a|an|one) (?:single )?(?:paragraph|essay|table|story|article|post|email|"
    r"letter|report)\b|\b(?:based on|using|with|from|include|incorporate) (?:all )?(?:these|the above|the following|"
    r"this|the) (?:points|notes|items|bullets|requirements|keywords|words|information|details|data|facts|ideas)\b|"
    r"\b(?:these|the following|the above|my|the) (?:notes|points|requirements|rules|guidelines|constraints|"
    r"criteria|specs|specifications|features|instructions|steps)\b", _I)
_PER_ITEM = re.compile(
    r"\b(?:answer|respond to|reply to)\b|\bquestions?\b|\bfor (?:each|every)\b|\beach (?:of|one)\b|\bseparately\b|"
    r"\bindividually\b|\bone by one\b|\b(?:translate|classify|categori[sz]e|label|define|sentiment|rate|solve|"
    r"extract)\b", _I)
_PROCEDURE = re.compile(
    r"\b(?:steps?|step-by-step|procedure|process|workflow|pipeline|stages?|phases?|instructions?|recipe|tutorial|"
    r"walkthrough|roadmap|plan|schedule|itinerary|agenda|timeline|guide|sequence|order)\b", _I)
_DELIVERABLE = re.compile(
    r"\b(?:write|build|create|develop|implement|design|make|code|generate|program)\b.{0,60}\b(?:program|app|"
    r"application|script|function|website|web ?site|class|bot|system|model|tool|api|service|game|extension|plugin|"
    r"page|component|module|code|database|dashboard|project|document|report|essay|article|story|email|letter|post|"
    r"proposal|presentation|resume|cv|course|curriculum)\b|\b(?:should|must|needs? to|requirements?|features?|"
    r"functionalit(?:y|ies)|able to|tasks?)\b", _I)
_UNIT_NOUN = re.compile(
    r"\b(?:the following|these|those|below|each|all|the|this list of|a list of)\s+(?:\w+\s+){0,2}?(?:sentences|"
    r"phrases|words|terms|questions|reviews|tweets|comments|messages|texts|statements|titles|headlines|queries|"
    r"emails|names|problems|equations|examples|passages|paragraphs|utterances|claims|concepts|expressions|"
    r"idioms|items|products|companies|countries|cities|topics|people|words)\b", _I)
_FIELDS = re.compile(r"\b(?:extract|identify|pull out)\b(?: only| all| out)?", _I)
_FIELDS_END = re.compile(r"\s+(?:from|in|out of|within)\s+(?:the|this|these|that|following|given|below|above|my|"
                         r"each|an?|provided)\b|\s*:\s|[.;]\s|\n", _I)
_FIELDS_INTRO = re.compile(r"(?:.*)\b(?:such as|like|including|namely|for|e\.g\.)\s+", _I | re.S)
_ETC = re.compile(r"^(?:etc|and so on|and more|others?)$", _I)
_ANSWER = re.compile(r"\b(?:answer|respond to|reply to)\b", _I)
_FOR_EACH = re.compile(r"\bfor (?:each|every)(?: one)? of\s+", _I)
_META_QUESTION = re.compile(r"^(?:can|could|would|will) you (?:please )?(?:help|assist|do (?:it|this|that))\b|"
                            r"\b(?:any (?:ideas|suggestions|thoughts|advice)|does (?:that|this|it) make sense|"
                            r"what do you think|right|ok|okay|got it|understood|ready|is that clear)\?*$", _I)
_SPEAKER = re.compile(r"^[A-Za-z][A-Za-z .'-]{0,23}:\s")
_GENERATE_N = re.compile(r"\b(?:generate|write|create|give me|list|come up with|suggest|provide|produce)\s+(?:me\s+)?"
                         r"(\d{1,3}|two|three|four|five|six|seven|eight|nine|ten|twenty)\s+(?:\w+\s+){0,3}?"
                         r"(?:different|unique|distinct|new|more|creative|possible)?", _I)


def find(text: str) -> tuple[tuple[Subtask, ...], str]:
    """(subtasks, reason): the reason says how they were found, or why a list was not split."""
    reasons: list[str] = []
    for rule in (_for_each, _fields, _marker_lists, _question_lines, _inline_questions):
        pieces, reason = rule(text)
        if len(pieces) >= 2:
            if len(pieces) > MAX_SUBTASKS:
                return (), f"{len(pieces)} items: too many to split"
            return tuple(Subtask(i, piece) for i, piece in enumerate(pieces)), f"{len(pieces)} subtasks: {reason}"
        if reason:
            reasons.append(reason)
    match = _GENERATE_N.search(text, 0, 1500)
    if match:
        reasons.append(f"asks for {match.group(1)} items at once (not split: they must differ)")
    return (), "; ".join(reasons[:2])


def _compose(text: str, start: int, end: int, item: str) -> str:
    before, after = text[:start].rstrip(), text[end:].strip()
    return "\n\n".join(part for part in (before, item.strip(), after) if part)


def _instruction(text: str, start: int, end: int) -> str:
    """The words around a list that say what to do with it: just before it and the first/last line after it."""
    after = text[end:].strip()
    lines = after.splitlines() if after else []
    around = [text[max(0, start - 300):start]]
    if lines:
        around.append(lines[0][:300])
        if len(lines) > 1:
            around.append(lines[-1][:300])
    return "\n".join(around)


def _independent(bodies: list[str], context_words: int) -> bool:
    """No item leans on another; pronouns are allowed only when a passage around the list can carry them."""
    for index, body in enumerate(bodies):
        if index and _CROSS_REFERENCE.search(body):
            return False
        if index and context_words < 30 and _leans(body):
            return False
    return True


def _leans(body: str) -> bool:
    """A pronoun before any noun of the item's own ("Why did she ask him?", "What is its capital?")."""
    lowered = _QUOTED.sub(" ", body.lower())
    for word in _WORD.findall(lowered)[:25]:
        if word in _LEAN_PRONOUN:
            return not (word == "it" and _EXPLETIVE.search(lowered))
        if len(word) >= 4 and word not in _STOP:
            return False
    return False


def _kind(body: str) -> str:
    first = body.split(None, 1)[0].lower().strip("¿¡*\"'(") if body.strip() else ""
    if body.rstrip(" *\"')").endswith("?") or first in _QUESTION_START:
        return "question"
    if first in _TASK_VERBS:
        return "task"
    if first in _PROCEDURE_VERBS:
        return "step"
    return "statement"


def _marker_lists(text: str) -> tuple[list[str], str]:
    blocks = marker_blocks(text)
    if not blocks:
        return [], ""
    questions = [b for b in blocks if all(_kind(i.body) == "question" for i in b.items)]
    if len(questions) > 1:  # "Part 1: ... 1. 2. 3.  Part 2: ... 1. 2." -- several lists of questions
        merged = Block([item for block in questions for item in block.items], "num")
        return _split_block(text, merged, span=(questions[0].start, questions[-1].end))
    best = max(blocks, key=lambda b: len(b.items))
    return _split_block(text, best, span=(best.start, best.end))


def _split_block(text: str, block: Block, span: tuple[int, int]) -> tuple[list[str], str]:
    start, end = span
    instruction = _instruction(text, start, end)
    bodies = [item.body for item in block.items]
    kinds = {_kind(body) for body in bodies}
    context_words = len(text[:start].split()) + len(text[end:].split())
    per_item = _PER_ITEM.search(instruction) is not None
    if _WHOLE.search(instruction) and not per_item:
        return [], "list is data processed as a whole"
    if kinds == {"question"} or (per_item and kinds <= {"question", "task"}) or \
            (_ANSWER.search(instruction) and "step" not in kinds):
        label = "numbered questions" if block.kind == "num" else "listed questions"
    elif kinds == {"task"} and not _PROCEDURE.search(instruction) and not _DELIVERABLE.search(instruction):
        label = "separate tasks"
    elif per_item and (_UNIT_NOUN.search(instruction) or _FIELDS.search(instruction)) and \
            not _PROCEDURE.search(instruction):
        label = "per-item instruction over listed data"
    elif "step" in kinds or _PROCEDURE.search(instruction):
        return [], "list of steps of one procedure"
    else:
        return [], "list is not separate questions"
    if not _independent(bodies, context_words):
        return [], "list items depend on each other"
    gap = _gap_text(text, block)
    if len(gap.split()) > 40:
        return [], "list items are interleaved with other text"
    return [_compose(text, start, end, body) for body in bodies], label


def _gap_text(text: str, block: Block) -> str:
    return " ".join(text[a.end:b.start] for a, b in zip(block.items, block.items[1:]))


def _question_lines(text: str) -> tuple[list[str], str]:
    items = question_lines(text)
    items = [item for item in items if len(item.body.split()) >= 3 and not _META_QUESTION.search(item.body)]
    if len(items) < 2:
        return [], ""
    if sum(1 for item in items if _SPEAKER.match(item.body)) >= 2:
        return [], "questions are lines of a dialogue"
    block = Block(items, "line")
    if len(_gap_text(text, block).split()) > 12 * len(items):
        return [], "questions are scattered through a text"
    instruction = _instruction(text, block.start, block.end)
    if _WHOLE.search(instruction) and not _PER_ITEM.search(instruction):
        return [], "questions are data processed as a whole"
    bodies = [item.body for item in items]
    context_words = len(text[:block.start].split()) + len(text[block.end:].split())
    if not _independent(bodies, context_words):
        return [], "questions depend on each other"
    return [_compose(text, block.start, block.end, body) for body in bodies], "one question per line"


_QUESTION_SPLIT = re.compile(r"(?<=\?)\s+")


def _inline_questions(text: str) -> tuple[list[str], str]:
    if text.count("?") < 2 or len(text) > 1500:
        return [], ""
    sentences = _QUESTION_SPLIT.split(text.strip())
    questions = [s for s in sentences if s.endswith("?")]
    rest = [s for s in sentences if not s.endswith("?")]
    if len(questions) < 2 or len(" ".join(rest).split()) > 25:
        return [], ""
    if any(len(q.split()) < 5 or _META_QUESTION.search(q) for q in questions):
        return [], ""
    if not _independent(questions, 0):
        return [], "questions depend on each other"
    if rest:
        return [], ""
    return questions, "several questions in a row"


def _for_each(text: str) -> tuple[list[str], str]:
    head = text[:2000]
    match = _FOR_EACH.search(head)
    if match is None:
        return [], ""
    line_end = head.find("\n", match.end())
    line_end = len(head) if line_end < 0 else line_end
    rest = head[match.end():line_end]
    task_before = head[head.rfind("\n", 0, match.start()) + 1:match.start()].strip(" ,")
    comma = re.search(r",\s*(?=(?:please\s+)?[a-z]+\b)", rest)
    if task_before and len(task_before.split()) >= 2:            # "T for each of X, Y and Z."
        phrase = re.split(r"[.?!:]\s", rest + " ", maxsplit=1)[0]
        items, task = inline_items(phrase), task_before
    elif comma is not None:                                       # "For each of X, Y and Z, T"
        items, task = inline_items(rest[:comma.start()]), rest[comma.end():].strip()
    else:
        return [], ""
    if len(items) < 2 or any(len(item.split()) > 8 for item in items) or len(task.split()) < 2:
        return [], ""
    if items[0].lower().startswith(("the following", "these", "those", "them")):
        return [], ""  # the items follow as a list: the marker-list rule composes those
    task = task.rstrip(" .?!")
    task = task[:1].upper() + task[1:]
    tail = text[line_end:].strip()
    return [f"{task} for {item}." + (f"\n\n{tail}" if tail else "") for item in items], "for-each template"


def _fields(text: str) -> tuple[list[str], str]:
    """'Extract A, B and C from <text>' -> one extraction per field, the passage with each."""
    match = _FIELDS.search(text, 0, 600)
    if match is None:
        return [], ""
    end = _FIELDS_END.search(text, match.end(), match.end() + 400)
    if end is None:
        return [], ""
    start, stop = match.end(), end.start()
    intro = _FIELDS_INTRO.match(text, start, stop)
    if intro is not None:                                   # "extract attributes such as A, B, C"
        start = intro.end()
    phrase = text[start:stop]
    lead = re.match(r"[\s,]*(?:the following\s+\w+\s*:?\s*|the\s+|all\s+|only\s+)?", phrase, _I)
    start += lead.end() if lead else 0
    items = [item for item in inline_items(text[start:stop]) if not _ETC.match(item)]
    if len(items) < 3 or any(len(item.split()) > 6 for item in items):
        return [], ""
    if not _independent(items, 0) or any(_leans(item) for item in items):
        return [], "fields are related to each other"
    return [text[:start] + item + text[stop:] for item in items], "extraction of separate fields"
