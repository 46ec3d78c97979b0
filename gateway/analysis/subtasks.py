"""Independent subtasks in the last turn, each composed so a worker can answer it on its own.

Splitting is only safe when the pieces really are independent, so the rules are conservative: a list is split when
its items are separate questions or tasks, or when the instruction applies per item ("for each", "answer these",
"translate the following sentences", "extract A, B and C from ..."). It is not split when the items are steps of one
procedure or parts of one deliverable, when an item leans on another ("then use the result", "its"), or when the
list is material processed as a whole ("summarize these notes"). A subtask is the turn with the whole list replaced
by one item, so the instruction and any passage around the list travel with every subtask.
"""

from __future__ import annotations

import re

from gateway.analysis import subtask_rules as rules
from gateway.analysis.lists import Block, Item, inline_enumeration, inline_items, marker_blocks, question_lines
from gateway.analysis.types import Subtask

MAX_SUBTASKS = 64
MAX_CHARS = 40_000      # ~10k tokens: longer turns are documents; scanning them would cost more than splitting saves
MAX_GAP_WORDS = 12      # between two question lines: a short header ("Part 2: Security") at most
_I = re.IGNORECASE

EDGE_WORDS = 60         # a run of question lines is the ask when it starts or ends the turn
def find(text: str) -> tuple[tuple[Subtask, ...], str]:
    """(subtasks, reason): the reason says how they were found, or why a list was not split."""
    if len(text) > MAX_CHARS:
        return (), f"turn too long to look for subtasks ({len(text)} characters)"
    reasons: list[str] = []
    note = ""
    escaped = text.count("\\n")
    if escaped >= 2 and escaped > text.count("\n"):  # a client that escaped its newlines twice: "1. a\\n2. b"
        text = text.replace("\\r\\n", "\n").replace("\\n", "\n")
        note = " (escaped newlines read as line breaks)"
    for rule in (_for_each, _fields, _marker_lists, _question_lines, _inline_questions):
        pieces, reason = rule(text)
        if len(pieces) >= 2:
            if len(pieces) > MAX_SUBTASKS:
                return (), f"{len(pieces)} items: too many to split"
            return tuple(Subtask(i, piece) for i, piece in enumerate(pieces)), f"{len(pieces)} subtasks: {reason}{note}"
        if reason:
            reasons.append(reason)
    match = rules.GENERATE_N.search(text, 0, 1500)
    if match:
        reasons.append(f"asks for {match.group(1)} items at once (not split: they must differ)")
    return (), "; ".join(reasons[:2])


def _compose(text: str, start: int, end: int, item: str) -> str:
    before, after = text[:start].rstrip(), text[end:].strip()
    return "\n\n".join(part for part in (before, item.strip(), after) if part)


def _instruction(text: str, start: int, end: int) -> str:
    """The words that say what to do with a list: the opening line, just before it, the first/last line after it."""
    after = text[end:].strip()
    lines = after.splitlines() if after else []
    around = [text[:min(start, 200)].split("\n", 1)[0], text[max(0, start - 300):start]]
    if lines:
        around.append(lines[0][:300])
        if len(lines) > 1:
            around.append(lines[-1][:300])
    return "\n".join(around)


def _gaps(text: str, items: list[Item]) -> list[str]:
    return [text[a.end:b.start] for a, b in zip(items, items[1:])]


def _refuse(instruction: str) -> str:
    """Why the instruction forbids splitting its list, or ''."""
    if rules.OFFERED.search(instruction):
        return "list is offered content, not separate requests"
    answer = rules.ANSWER_QUESTIONS.search(instruction) is not None
    if rules.ARTIFACT.search(instruction) and not answer:
        return "items go into one deliverable"
    if rules.WHOLE.search(instruction) and not (answer or rules.EACH.search(instruction)):
        return "list is material processed as a whole"
    return ""


def _marker_lists(text: str) -> tuple[list[str], str]:
    blocks = marker_blocks(text, 4 * MAX_SUBTASKS)
    if not blocks:
        inline = inline_enumeration(text)
        return _split_block(text, Block(inline, "num")) if inline else ([], "")
    if sum(len(block.items) for block in blocks) > MAX_SUBTASKS:
        return [], "list too long to split"
    questions = [b for b in blocks if all(rules.kind(i.body) == "question" for i in b.items)]
    if len(questions) > 1:  # "Part 1: ... 1. 2. 3.  Part 2: ... 1. 2." -- several lists of questions
        merged = Block([item for block in questions for item in block.items], "num")
        if all(len(gap.split()) <= 3 * MAX_GAP_WORDS for gap in _gaps(text, merged.items)):
            return _split_block(text, merged)
    return _split_block(text, max(blocks, key=lambda b: len(b.items)))


def _split_block(text: str, block: Block) -> tuple[list[str], str]:
    if len(block.items) > MAX_SUBTASKS:
        return [], "list too long to split"
    start, end = block.start, block.end
    instruction = _instruction(text, start, end)
    bodies = [item.body for item in block.items]
    kinds = {rules.kind(body) for body in bodies}
    refusal = _refuse(instruction)
    if refusal:
        return [], refusal
    answer = rules.ANSWER_QUESTIONS.search(instruction) is not None
    each = rules.EACH.search(instruction) is not None
    per_item = each or rules.PER_ITEM_VERB.search(instruction) is not None
    procedure = rules.PROCEDURE.search(instruction) is not None
    if kinds == {"question"} or ((answer or per_item) and kinds <= {"question", "task"}):
        label = "numbered questions" if block.kind in ("num", "q") else "listed questions"
    elif answer and block.kind in ("num", "q") and "step" not in kinds:
        label = "numbered exercises"
    elif kinds == {"task"} and not procedure and not rules.SPEC.search(instruction):
        label = "separate tasks"
    elif _per_item_data(text, start, end) and not procedure:
        label = "per-item instruction over listed data"
    elif "step" in kinds or procedure:
        return [], "list of steps of one procedure"
    else:
        return [], "list is not separate questions"
    context_words = len(text[:start].split()) + len(text[end:].split())
    if label != "per-item instruction over listed data" and not rules.independent(bodies, context_words):
        return [], "list items depend on each other"  # (data items are material: their pronouns are their own)
    if any(len(gap.split()) > 3 * MAX_GAP_WORDS for gap in _gaps(text, block.items)):
        return [], "list items are interleaved with other text"
    return [_compose(text, start, end, body) for body in bodies], label


def _per_item_data(text: str, start: int, end: int) -> bool:
    """Data items introduced, right above them, by an instruction that applies to each one."""
    before = text[max(0, start - 300):start].rstrip()
    last_line = before.rsplit("\n", 1)[-1]
    if not (last_line.endswith(":") or rules.FORWARD.search(last_line)):
        return False
    if not (rules.EACH.search(before) or rules.PER_ITEM_VERB.search(before)):
        return False
    return bool(rules.EACH.search(before) or rules.UNIT_NOUN.search(before) or "extract" in before.lower())


def _question_lines(text: str) -> tuple[list[str], str]:
    found = [item for item in question_lines(text, MAX_SUBTASKS)
             if len(item.body.split()) >= 3 and not rules.META_QUESTION.search(item.body)]
    if len(found) < 2:
        return [], ""
    if len(found) > MAX_SUBTASKS:
        return [], "too many questions to split"
    runs: list[list[Item]] = [[found[0]]]
    for previous, item in zip(found, found[1:]):
        if len(text[previous.end:item.start].split()) > MAX_GAP_WORDS:
            runs.append([])
        runs[-1].append(item)
    items = max(runs, key=len)
    if items and items[0].start < 200 and rules.FORWARD.search(items[0].body):
        items = items[1:]  # "Can you answer the following questions?" is the instruction, not an item
    if len(items) < 2:
        return [], "questions are scattered through a text"
    before, after = len(text[:items[0].start].split()), len(text[items[-1].end:].split())
    if min(before, after) > EDGE_WORDS and not rules.ANSWER_QUESTIONS.search(text[:items[0].start]):
        return [], "questions sit inside a pasted text"
    if sum(1 for item in items if rules.SPEAKER.match(item.body)) >= 2:
        return [], "questions are lines of a dialogue"
    first_words = {item.body.split(None, 1)[0].lower() for item in items}
    if len(first_words) > 1 and sum(1 for item in items if rules.asks(item.body)) < 0.75 * len(items):
        return [], "lines are not all questions"
    block = Block(items, "line")
    refusal = _refuse(_instruction(text, block.start, block.end))
    if refusal:
        return [], refusal
    bodies = [item.body for item in items]
    context_words = len(text[:block.start].split()) + len(text[block.end:].split())
    if not rules.independent(bodies, context_words):
        return [], "questions depend on each other"
    return [_compose(text, block.start, block.end, body) for body in bodies], "one question per line"


def _inline_questions(text: str) -> tuple[list[str], str]:
    """'What is X? How does Y work?' -- only short, plain paragraphs, and only questions that share no referents."""
    if text.count("?") < 2 or len(text) > 1500 or sum(1 for line in text.splitlines() if line.strip()) > 3:
        return [], ""
    sentences = rules.SENTENCE.split(text.strip())
    first = next((i for i, s in enumerate(sentences) if s.endswith("?")), len(sentences))
    preamble, questions = " ".join(sentences[:first]), sentences[first:]
    if len(questions) < 2 or not all(q.endswith("?") for q in questions) or len(preamble.split()) > 40:
        return [], ""
    if any(len(q.split()) < 5 or rules.META_QUESTION.search(q) or _thin(q) for q in questions):
        return [], ""
    if sum(1 for line in text.splitlines() if rules.SPEAKER.match(line.strip())) >= 2:
        return [], "questions are lines of a dialogue"
    if any(rules.PREMISE.search(q) for q in questions[:-1]) or not rules.independent(questions, 0, strict=True):
        return [], "questions depend on each other"
    return [f"{preamble} {q}".strip() for q in questions], "several questions in a row"


def _for_each(text: str) -> tuple[list[str], str]:
    """'For each of X, Y and Z, T' / 'T for each of X, Y and Z' -> 'T for X', ..."""
    head = text[:2000]
    match = rules.FOR_EACH.search(head)
    if match is None:
        return [], ""
    line_end = head.find("\n", match.end())
    line_end = len(head) if line_end < 0 else line_end
    rest = head[match.end():line_end]
    task_before = head[head.rfind("\n", 0, match.start()) + 1:match.start()].strip(" ,")
    comma = re.search(r",\s*(?=(?:please\s+)?[a-z]+\b)", rest)
    if task_before and len(task_before.split()) >= 2:
        items, task = inline_items(re.split(r"[.?!:]\s", rest + " ", maxsplit=1)[0]), task_before
    elif comma is not None:
        items, task = inline_items(rest[:comma.start()]), rest[comma.end():].strip()
    else:
        return [], ""
    if len(items) < 2 or any(len(item.split()) > 8 for item in items) or len(task.split()) < 2:
        return [], ""
    if items[0].lower().startswith(("the following", "these", "those", "them", "the ")):
        return [], ""  # the items follow as a list, or are a description: the list rules handle those
    task = task.rstrip(" .?!")
    task = task[:1].upper() + task[1:]
    tail = text[line_end:].strip()
    return [f"{task} for {item}." + (f"\n\n{tail}" if tail else "") for item in items], "for-each template"


def _fields(text: str) -> tuple[list[str], str]:
    """'Extract A, B and C from <text>' -> one extraction per field, each with the whole passage."""
    match = rules.FIELDS.search(text, 0, 300)
    if match is None:
        return [], ""
    named = rules.FIELDS_NAMED.search(text, match.end(), match.end() + 300)
    if named is not None:                                   # "... the following attributes: A, B, C."
        start = named.end()
        stop_match = rules.SENTENCE_STOP.search(text, start, start + 400)
        stop = stop_match.start() if stop_match else min(len(text), start + 400)
    else:
        end = rules.FIELDS_END.search(text, match.end(), match.end() + 400)
        if end is None:
            return [], ""
        start, stop = match.end(), end.start()
        inner = rules.BRACKETED.search(text, start, stop)
        if inner is not None and "," not in text[start:inner.start()] + text[inner.end():stop]:
            start, stop = inner.start(1), inner.end(1)      # "named entities (people, organizations, places)"
    items = [item for item in inline_items(text[start:stop]) if not rules.ETC.match(item)]
    long = [index for index, item in enumerate(items) if len(item.split()) > 8]
    if long and len(items) - long[-1] > 3:                           # "... which buyers care about, like A, B, C"
        items = items[long[-1] + 1:]
    if items:
        start = max(start, text.find(items[0], start))
        cut = 0
        for cut_match in rules.FIELDS_INTRO.finditer(items[0].split("(", 1)[0]):   # "tags for A", "like A"
            cut = cut_match.end()
        lead = re.match(r"the following\s+\w+\s*:?\s*", items[0][cut:], _I)
        cut += lead.end() if lead else 0
        items[0], start = items[0][cut:], start + cut
    if len(items) < 3 or any(len(item.split()) > 8 or rules.NOT_FIELD.match(item) for item in items):
        return [], ""
    if not rules.independent(items, 0) or any(rules.leans(item) for item in items):
        return [], "fields are related to each other"
    return [text[:start] + item + text[stop:] for item in items], "extraction of separate fields"


def _thin(question: str) -> bool:
    """Too few words of its own to stand alone ("Can you give me an example?")."""
    words = re.findall(r"[a-z][a-z'-]+", question.lower())
    return sum(1 for word in words if len(word) >= 4 and word not in rules.THIN_STOP) < 2
