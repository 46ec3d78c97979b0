"""Serving a cached answer in the shape the client asked for: one `chat.completion`, or an SSE stream.

Every hit gets a fresh `id` and `created`, so clients that key anything on the id never see two answers share one.
The usage reports the original token counts (what the answer is worth) with every prompt token marked as cached
(`prompt_tokens_details.cached_tokens`, the API's own way to say "you were not charged full price for these");
the money saved is in the `x-gateway-*` cost headers. A stream is replayed as the API frames one: a role delta, the
content and tool calls, the finish reason, then the usage chunk when the client asked for it, and `[DONE]`.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.cache.answer import CachedAnswer
from gateway.server.sse import DONE, completion_id, data_event

_CONTENT_PIECE = 256  # characters per replayed content delta: a few events, not one per token


def served_usage(answer: CachedAnswer) -> dict[str, Any]:
    usage = dict(answer.usage)
    prompt = usage.get("prompt_tokens")
    if isinstance(prompt, int):
        usage["prompt_tokens_details"] = {**(usage.get("prompt_tokens_details") or {}), "cached_tokens": prompt}
    return usage


def completion_body(answer: CachedAnswer) -> dict[str, Any]:
    completion = {**answer.completion, "id": completion_id(), "created": int(time.time()), "object": "chat.completion"}
    if answer.usage:
        completion["usage"] = served_usage(answer)
    return completion


def stream_events(answer: CachedAnswer, include_usage: bool) -> list[bytes]:
    head = {"id": completion_id(), "object": "chat.completion.chunk", "created": int(time.time()),
            "model": answer.completion.get("model")}
    if answer.completion.get("system_fingerprint"):
        head["system_fingerprint"] = answer.completion["system_fingerprint"]
    events = []
    for choice in answer.completion.get("choices") or ():
        events += [data_event({**head, "choices": [delta]}) for delta in _choice_deltas(choice)]
    if include_usage and answer.usage:
        events.append(data_event({**head, "choices": [], "usage": served_usage(answer)}))
    events.append(DONE)
    return events


def _choice_deltas(choice: dict[str, Any]) -> list[dict[str, Any]]:
    index = choice.get("index", 0)
    message = choice.get("message") or {}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    content = message.get("content") or ""
    deltas += [{"content": content[i:i + _CONTENT_PIECE]} for i in range(0, len(content), _CONTENT_PIECE)]
    if message.get("refusal"):
        deltas.append({"refusal": message["refusal"]})
    for position, call in enumerate(message.get("tool_calls") or ()):
        deltas.append({"tool_calls": [{"index": position, "id": call.get("id"), "type": call.get("type", "function"),
                                       "function": call.get("function")}]})
    events = [{"index": index, "delta": delta, "logprobs": None, "finish_reason": None} for delta in deltas]
    events.append({"index": index, "delta": {}, "logprobs": None, "finish_reason": choice.get("finish_reason")})
    return events
