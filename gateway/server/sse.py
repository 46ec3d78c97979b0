"""Server-sent events as the OpenAI API frames them: `data: {json}\\n\\n` events, ending with `data: [DONE]\\n\\n`."""

from __future__ import annotations

import secrets
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def completion_id() -> str:
    """A fresh id for an answer the gateway writes itself (merged, or replayed from the cache)."""
    return "chatcmpl-" + secrets.token_urlsafe(18)


def data_event(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def comment_event(name: str, payload: Any) -> bytes:
    """An SSE comment line: every compliant client (the OpenAI SDKs included) ignores it, so it can carry the
    gateway's final cost figures without changing the stream's shape."""
    return b": " + name.encode() + b" " + orjson.dumps(payload) + b"\n\n"


def error_event(error: dict[str, Any]) -> bytes:
    """How a failure after the stream started reaches the client: the SDKs raise an APIError on this event."""
    return data_event(error)


class EventSplitter:
    """Cuts a byte stream into complete SSE events, whatever the network's chunk boundaries."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._pending + data
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        events = buffer.split(b"\n\n")
        self._pending = events.pop()
        return [event for event in events if event]

    @property
    def leftover(self) -> bytes:
        return self._pending.strip()


def event_data(event: bytes) -> bytes | None:
    """The data payload of one event (None for comments and other fields). Multi-line data is joined per spec."""
    if event.startswith(b"data: "):
        if b"\n" not in event:
            return event[6:]
    elif not event.startswith(b"data:"):
        if b"\ndata:" not in event:
            return None
    lines = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None
