"""A cached answer: a complete `chat.completion`, however it arrived (one body or a stream of chunks).

Only complete, successful answers are kept. A choice must have ended normally (`stop`, `length` within the
request's own limit, or a finished tool call), and every tool call's arguments must be whole JSON: a stream cut in
the middle of a tool call, an error, or a content-filtered answer is never stored, so it can never be served again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable

import orjson

_COMPLETE_FINISH = frozenset({"stop", "length", "tool_calls", "function_call"})


@dataclass(frozen=True)
class CachedAnswer:
    completion: dict[str, Any]   # the chat.completion as the upstream answered it
    model: str                   # the catalog name of the model that answered
    stored_at: float
    question: str = ""           # the question a semantic entry was stored under (for the verifier)

    def to_bytes(self) -> bytes:
        return orjson.dumps({"c": self.completion, "m": self.model, "t": self.stored_at, "q": self.question})

    @classmethod
    def from_bytes(cls, blob: bytes) -> "CachedAnswer | None":
        try:
            data = orjson.loads(blob)
            return cls(data["c"], data["m"], float(data["t"]), data.get("q", ""))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    @property
    def usage(self) -> dict[str, Any]:
        usage = self.completion.get("usage")
        return usage if isinstance(usage, dict) else {}


def storable(completion: Any) -> bool:
    """True for a complete, successful answer: choices that all ended normally with whole tool calls."""
    if not isinstance(completion, dict) or completion.get("error") is not None:
        return False
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices:
        return False
    return all(_choice_complete(choice) for choice in choices)


def _choice_complete(choice: Any) -> bool:
    if not isinstance(choice, dict) or choice.get("finish_reason") not in _COMPLETE_FINISH:
        return False
    message = choice.get("message")
    if not isinstance(message, dict):
        return False
    for call in message.get("tool_calls") or ():
        arguments = (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
        if not isinstance(arguments, str):
            return False
        try:
            orjson.loads(arguments or "{}")
        except orjson.JSONDecodeError:
            return False
    return True


def completion_from_chunks(payloads: Iterable[bytes]) -> dict[str, Any] | None:
    """Rebuild the chat.completion a stream carried (content, refusal and tool-call deltas joined per choice)."""
    choices: dict[int, dict[str, Any]] = {}
    head: dict[str, Any] = {}
    usage = None
    for payload in payloads:
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(chunk, dict):
            return None
        head = head or {key: chunk.get(key) for key in ("id", "created", "model", "system_fingerprint")}
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or ():
            _apply_delta(choices.setdefault(choice.get("index", 0), _empty_choice(choice.get("index", 0))), choice)
    if not choices:
        return None
    completion = {**head, "object": "chat.completion",
                  "choices": [_finish_choice(choices[index]) for index in sorted(choices)]}
    if usage:
        completion["usage"] = usage
    return completion


def _empty_choice(index: int) -> dict[str, Any]:
    return {"index": index, "message": {"role": "assistant", "content": None}, "finish_reason": None,
            "_tool_calls": {}}


def _apply_delta(target: dict[str, Any], choice: dict[str, Any]) -> None:
    delta = choice.get("delta") or {}
    message = target["message"]
    for field in ("content", "refusal"):
        if isinstance(delta.get(field), str):
            message[field] = (message.get(field) or "") + delta[field]
    for call in delta.get("tool_calls") or ():
        slot = target["_tool_calls"].setdefault(call.get("index", 0), {"id": None, "type": "function",
                                                                       "function": {"name": "", "arguments": ""}})
        slot["id"] = call.get("id") or slot["id"]
        function = call.get("function") or {}
        slot["function"]["name"] += function.get("name") or ""
        slot["function"]["arguments"] += function.get("arguments") or ""
    if choice.get("finish_reason"):
        target["finish_reason"] = choice["finish_reason"]


def _finish_choice(choice: dict[str, Any]) -> dict[str, Any]:
    calls = choice.pop("_tool_calls")
    if calls:
        choice["message"]["tool_calls"] = [calls[index] for index in sorted(calls)]
    return choice


def new_answer(completion: dict[str, Any], model: str, question: str = "") -> CachedAnswer:
    return CachedAnswer(completion, model, time.time(), question)
