"""Context minimizing: send upstream only the part of the conversation the last turn needs.

The conversation is cut into turns, each starting at a user message and running until the next one, so an
assistant's tool calls always stay with their tool results (a provider rejects a tool result without its call).
The system prompt and the last turn are always kept; history goes oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.accounting.tokens import TOKENS_PER_MESSAGE, PromptCounter
from gateway.policy.schema import ContextPolicy

Message = dict[str, Any]
_SYSTEM_ROLES = ("system", "developer")


@dataclass(frozen=True)
class MinimizedContext:
    messages: list[Message]
    removed_messages: int
    removed_tokens: int
    reason: str


def split_turns(messages: list[Message]) -> tuple[list[Message], list[list[Message]]]:
    """Leading system messages, then the turns (the last one is the turn being answered)."""
    start = 0
    while start < len(messages) and messages[start].get("role") in _SYSTEM_ROLES:
        start += 1
    turns: list[list[Message]] = []
    for message in messages[start:]:
        if message.get("role") == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    return messages[:start], turns


def minimize(messages: list[Message], policy: ContextPolicy, *, independent: bool,
             counter: PromptCounter) -> MinimizedContext | None:
    """The minimized conversation, or None when the policy removes nothing."""
    system, turns = split_turns(messages)
    if not turns:
        return None
    history, last = turns[:-1], turns[-1]
    reasons: list[str] = []
    if policy.drop_history_when_independent and independent and history:
        history, reasons = [], ["the last turn stands alone: history dropped"]
    if policy.keep_last_turns is not None and len(history) > policy.keep_last_turns:
        history = history[len(history) - policy.keep_last_turns:] if policy.keep_last_turns else []
        reasons.append(f"kept the last {policy.keep_last_turns} turns")
    kept_system = system if policy.keep_system else []
    if kept_system is not system and system:
        reasons.append("system prompt dropped")
    if policy.max_tokens is not None:
        history = _within_budget(kept_system, history, last, policy.max_tokens, counter, reasons)
    kept = kept_system + [message for turn in history for message in turn] + last
    kept_ids = {id(message) for message in kept}
    removed = [message for message in messages if id(message) not in kept_ids]
    if not removed:
        return None
    removed_tokens = sum(TOKENS_PER_MESSAGE + counter.count_message_body(message) for message in removed)
    return MinimizedContext(kept, len(removed), removed_tokens, "; ".join(reasons))


def _within_budget(system: list[Message], history: list[list[Message]], last: list[Message], budget: int,
                   counter: PromptCounter, reasons: list[str]) -> list[list[Message]]:
    def tokens(messages: list[Message]) -> int:
        return sum(TOKENS_PER_MESSAGE + counter.count_message_body(message) for message in messages)

    fixed = tokens(system) + tokens(last)
    sizes = [tokens(turn) for turn in history]
    dropped = 0
    while dropped < len(history) and fixed + sum(sizes[dropped:]) > budget:
        dropped += 1
    if dropped:
        reasons.append(f"dropped the {dropped} oldest turns to fit {budget} tokens")
    return history[dropped:]
