"""The analyzer: one pass over a request that tells policy, decisions and splitting what they need to know.

It composes the per-concern modules (token parts, task type, complexity, context dependency, subtasks). Only the
last turn and the tail of the assistant's last message are read for features, and every message is tokenized once,
so its cost stays flat as conversations grow (token counts of resent history come from the counter's cache).
"""

from __future__ import annotations

from typing import Any

from gateway.accounting.tokens import PromptCounter
from gateway.analysis import complexity, counted, dependency, subtasks, task_type
from gateway.analysis.split_shape import count_shape, items_shape
from gateway.analysis.text import content_text, has_code, lower_window, tail, words
from gateway.analysis.tokens import SYSTEM_ROLES, count_parts, turn_index
from gateway.analysis.types import TASK_TYPES, Analysis, SplitShape, Subtask

FOLLOW_UP_DEPENDENCY = 0.6   # at or above: the turn leans on the conversation
FOLLOW_UP_OWN_SCORE = 3.0    # ...and unless its own task evidence is at least this strong, it is a follow-up
SUBTASK_MAX_DEPENDENCY = 0.6  # subtasks must be answerable alone: none when the turn needs the conversation
PASTED_CHARS = 800


def count_only(messages: list[dict], tools: list[dict] | None, counter: PromptCounter, *,
               task_hint: str | None = None) -> Analysis:
    """Token parts alone, for a policy that cannot change the request: the cost estimate needs nothing more, and
    skipping the features keeps such a gateway as light as a plain proxy."""
    turn = turn_index(messages)
    hint = task_hint.strip().lower() if task_hint else None
    text = content_text(messages[turn].get("content")) if turn >= 0 else ""
    return Analysis(count_parts(messages, tools, counter, turn), hint if hint in TASK_TYPES else "open_question",
                    1, 0.0, (), 1.0, text, sum(1 for message in messages if message.get("role") == "user"),
                    ("tokens only: the policy runs every request as asked",))


def analyze(messages: list[dict], tools: list[dict] | None, counter: PromptCounter, *,
            task_hint: str | None = None) -> Analysis:
    """Analyze validated OpenAI chat messages (and tools) for routing, caching and splitting."""
    turn = turn_index(messages)
    tokens = count_parts(messages, tools, counter, turn)
    user_turns = sum(1 for message in messages if message.get("role") == "user")
    hint = task_hint.strip().lower() if task_hint else None
    if turn < 0:
        return Analysis(tokens, hint if hint in TASK_TYPES else "open_question", 1, 0.0, (), 0.3, "", 0,
                        ("no messages",))
    text = content_text(messages[turn].get("content"))
    has_history = any(message.get("role") not in SYSTEM_ROLES for message in messages[:turn])
    assistant_tail = _assistant_tail(messages, turn)
    lowered = lower_window(text)
    tokens_words = words(lowered)
    code = has_code(text)
    pasted = code or (len(text) > PASTED_CHARS and "\n" in text)
    signals: list[str] = []

    persona = dependency.persona_weight(_first_user(messages, turn)) if has_history else 0.0
    dep, dep_evidence = dependency.estimate(text, has_history, assistant_tail, pasted,
                                            lambda: _earlier_words(messages, turn), persona)
    kind, kind_confidence, evidence, scores = task_type.classify(lowered, code)
    own_score = scores.get(kind, 0.0)
    if hint in TASK_TYPES:
        kind, kind_confidence = hint, 0.95
        signals.append(f"task: {hint} (client hint x-gateway-task-type)")
    elif dep >= FOLLOW_UP_DEPENDENCY and (len(tokens_words) <= 6 or own_score < FOLLOW_UP_OWN_SCORE):
        signals.append(f"task: follow_up (own evidence: {kind} {own_score:.1f})")
        kind, kind_confidence = "follow_up", max(kind_confidence, min(0.9, dep))
    else:
        shown = ", ".join(evidence[:4]) if evidence else "none: default"
        signals.append(f"task: {kind} (evidence: {shown})")
    if hint and hint not in TASK_TYPES:
        signals.append(f"ignored unknown task hint '{hint[:40]}'")

    level, reasons = complexity.estimate(lowered, tokens_words, kind, tokens.last_user)
    signals.append(f"complexity {level}" + (f": {', '.join(reasons[:3])}" if reasons else ""))
    strongest = max(dep_evidence, key=lambda item: item[0]) if dep_evidence else (0.0, "no evidence")
    signals.append(f"dependency {dep:.2f}: {strongest[1]}" + (f" (+{len(dep_evidence) - 1} more)"
                                                               if len(dep_evidence) > 1 else ""))

    found, reason, shape = _split(text)
    if found and dep >= SUBTASK_MAX_DEPENDENCY:
        reason = f"{len(found)} items found but the turn needs earlier turns: not split"
        found, shape = (), None
    if reason:
        signals.append(reason)
    signals.append(f"tokens: system {tokens.system}, history {tokens.history}, last turn {tokens.last_user}, "
                   f"tools {tokens.tools}" + (f" ({tokens.estimated} estimated)" if tokens.estimated else ""))
    clarity = 1.0 if not has_history else abs(dep - 0.5) * 2
    confidence = round(kind_confidence * (0.7 + 0.3 * clarity), 3)
    if hint in TASK_TYPES:
        confidence = max(confidence, 0.9)  # the client knows its own task
    return Analysis(tokens=tokens, task_type=kind, complexity=level, context_dependency=dep, subtasks=found,
                    confidence=confidence, last_user_text=text, user_turns=user_turns, signals=tuple(signals),
                    split=shape)


def _split(text: str) -> tuple[tuple[Subtask, ...], str, SplitShape | None]:
    """Subtasks from a list in the turn, else from a count of independent outputs ("give me 5 slogans")."""
    if not text:
        return (), "", None
    found, reason = subtasks.find(text)
    if found:
        return found, reason, items_shape(text, found, reason)
    n, why = counted.find_count(text)
    if not n:
        return (), "; ".join(part for part in (reason, why) if part), None
    parts = tuple(Subtask(index, text) for index in range(min(n, subtasks.MAX_SUBTASKS)))
    return parts, why, count_shape(text, n, why)


def _assistant_tail(messages: list[dict[str, Any]], turn: int) -> str:
    """The end of the assistant's last message before the turn: where it asks its own questions."""
    for index in range(turn - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "assistant":
            return tail(content_text(message.get("content")))
        if message.get("role") == "user":
            return ""
    return ""


EARLIER_CHARS = 1000  # of the previous user turn and of each end of the assistant's answer


def _earlier_words(messages: list[dict[str, Any]], turn: int) -> str:
    """Words of the previous exchange (bounded): the assistant's answers since the previous user turn, and that turn."""
    parts: list[str] = []
    for index in range(turn - 1, -1, -1):
        message = messages[index]
        role = message.get("role")
        if role == "assistant":
            content = content_text(message.get("content"))
            parts.append(content if len(content) <= 2 * EARLIER_CHARS
                         else content[:EARLIER_CHARS] + "\n" + content[-EARLIER_CHARS:])
        elif role == "user":
            parts.append(content_text(message.get("content"))[:2 * EARLIER_CHARS])
            break  # the previous exchange only: older turns are what that one already built on
    return dependency.history_words("\n".join(parts))


def _first_user(messages: list[dict[str, Any]], turn: int) -> str:
    return next((content_text(m.get("content"))[:600] for m in messages[:turn] if m.get("role") == "user"), "")
