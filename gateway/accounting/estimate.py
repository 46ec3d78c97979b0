"""Usage counted by the gateway itself, for upstreams that report none (some OpenAI-compatible servers don't)."""

from __future__ import annotations

from typing import Any, Iterable

from gateway.accounting.cost import Usage
from gateway.accounting.tokens import counter_for_model


def estimate_usage(model: str, sent_messages: list[dict[str, Any]], answer_parts: Iterable[Any]) -> Usage:
    """The prompt as sent, and the answer from its parts: whole messages, or a stream's deltas (same fields)."""
    counter = counter_for_model(model)
    completion = sum(counter.count_message_body({"content": part.get("content"), "tool_calls": part.get("tool_calls")})
                     for part in answer_parts if isinstance(part, dict))
    return Usage(counter.count_messages(sent_messages), completion, 0, estimated=True)
