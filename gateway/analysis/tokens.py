"""Prompt tokens by part (system, history, last turn, tools), as billed.

The parts add up exactly to `counter.count_messages(messages)` plus the tools, because the decision engine prices the
main session from the same total it prices the minimized worker context from: a part that silently dropped the
framing would make every worker look cheaper than it is. Each message is tokenized once. Given a `Tally` (the
decision path), long unseen text is estimated and the parts say how much (`TokenCounts.estimated`).
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from gateway.accounting.tokens import REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, PromptCounter
from gateway.analysis.types import TokenCounts

SYSTEM_ROLES = ("system", "developer")


def turn_index(messages: list[dict[str, Any]]) -> int:
    """Index of the last user message; without one, the last message (an agent step, a tool result). -1 if empty."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            return index
    return len(messages) - 1


def tools_tokens(tools: list[dict[str, Any]] | None, counter: PromptCounter) -> int:
    """Tokens of the tools as compact JSON: an estimate (providers render tools in their own syntax), but stable."""
    if not tools:
        return 0
    try:
        text = orjson.dumps(tools).decode()
    except TypeError:
        text = str(tools)
    return counter.count(text)


def count_parts(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, counter: PromptCounter,
                turn: int) -> TokenCounts:
    """Split the billed prompt tokens into parts; `turn` is the index where the last turn starts."""
    system = history = last = 0
    estimated_before = counter.estimated
    counter.prepare(messages)
    for index, message in enumerate(messages):
        tokens = TOKENS_PER_MESSAGE + counter.count_message_body(message)
        if message.get("role") in SYSTEM_ROLES:
            system += tokens
        elif index < turn:
            history += tokens
        else:
            last += tokens
    tools_part = tools_tokens(tools, counter)
    estimated = counter.estimated - estimated_before
    return TokenCounts(system=system, history=history, last_user=last + REPLY_PRIMING_TOKENS, tools=tools_part,
                       estimated=estimated, margin=math.ceil(estimated * counter.error_bound))
