"""Server-sent events for chat completions, byte-compatible with OpenAI and paced by the latency model.

Each chunk is `data: {json}\\n\\n`; all chunks share id and created; the first delta of a choice carries the role,
content deltas carry a few tokens each, a last chunk per choice carries finish_reason, an optional usage chunk has
empty choices, and `data: [DONE]` ends the stream. Chunks that are due at the same moment are written together, so
an unpaced stream (latency off) costs one write.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Callable

import orjson
from aiohttp import web

from .completions import ChoicePlan, CompletionPlan
from .faults import Fault, abort_connection
from .latency import Timing
from .shapes import chunk_base

WORDS_PER_CHUNK = 3  # about four tokens per content delta
ARGUMENT_CHARS_PER_CHUNK = 12
DONE = b"data: [DONE]\n\n"
_WORD_SPLIT = re.compile(r"(?<=\S)(?=\s)")
_MIN_SLEEP_S = 0.001


def content_pieces(text: str) -> list[str]:
    """Split text into deltas of a few words; joining them gives back the exact text."""
    words = [w for w in _WORD_SPLIT.split(text) if w]
    return ["".join(words[i:i + WORDS_PER_CHUNK]) for i in range(0, len(words), WORDS_PER_CHUNK)]


def _choice(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def choice_events(choice: ChoicePlan, timing: Timing) -> list[tuple[float, dict[str, Any]]]:
    """(seconds after the first token, chunk choice) for one choice, from role delta to finish_reason."""
    make: Callable[[str], dict[str, Any]]
    if choice.tool_call is not None:
        call = choice.tool_call
        first = {"role": "assistant", "content": None, "refusal": None,
                 "tool_calls": [{"index": 0, "id": call.id, "type": "function",
                                 "function": {"name": call.name, "arguments": ""}}]}
        args = call.arguments
        pieces = [args[i:i + ARGUMENT_CHARS_PER_CHUNK] for i in range(0, len(args), ARGUMENT_CHARS_PER_CHUNK)]

        def make(piece: str) -> dict[str, Any]:
            return {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
    else:
        first = {"role": "assistant", "content": "", "refusal": None}
        pieces = content_pieces(choice.content or "")

        def make(piece: str) -> dict[str, Any]:
            return {"content": piece}

    events: list[tuple[float, dict[str, Any]]] = [(0.0, _choice(choice.index, first))]
    total_chars = sum(len(p) for p in pieces) or 1
    done = 0
    for piece in pieces:
        done += len(piece)
        events.append((timing.decode_s(choice.completion_tokens * done / total_chars),
                       _choice(choice.index, make(piece))))
    events.append((timing.decode_s(choice.completion_tokens), _choice(choice.index, {}, choice.finish_reason)))
    return events


def stream_frames(plan: CompletionPlan, completion_id: str, created: int, timing: Timing,
                  include_usage: bool) -> tuple[list[tuple[float, bytes]], bytes]:
    """All timed frames of the stream (choices interleaved by time) and the tail (usage chunk, [DONE])."""
    base = chunk_base(plan, completion_id, created)
    usage_field = {"usage": None} if include_usage else {}
    events = [event for choice in plan.choices for event in choice_events(choice, timing)]
    events.sort(key=lambda event: event[0])  # stable: equal times keep choice order
    frames = [(t, b"data: " + orjson.dumps({**base, "choices": [c], **usage_field}) + b"\n\n") for t, c in events]
    tail = DONE
    if include_usage:
        tail = b"data: " + orjson.dumps({**base, "choices": [], "usage": plan.usage()}) + b"\n\n" + DONE
    return frames, tail


def malformed_frame(completion_id: str) -> bytes:
    """A chunk whose JSON is cut off mid-object, as a broken proxy or provider bug would produce."""
    return (b'data: {"id": "' + completion_id.encode()
            + b'", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "trun\n\n')


async def send_stream(request: web.Request, response: web.StreamResponse, plan: CompletionPlan,
                      completion_id: str, created: int, timing: Timing, include_usage: bool,
                      fault: Fault | None) -> web.StreamResponse:
    """Write the stream with its pacing; apply a stream-cut or malformed-chunk fault after `fault.after` chunks."""
    frames, tail = stream_frames(plan, completion_id, created, timing, include_usage)
    cut = fault is not None and fault.name == "stream-cut"
    if cut:
        frames, tail = frames[:fault.after], b""
    elif fault is not None and fault.name == "malformed-chunk":
        at = min(fault.after, len(frames))
        when = frames[at - 1][0] if at > 0 else 0.0
        frames.insert(at, (when, malformed_frame(completion_id)))
    loop = asyncio.get_running_loop()
    try:
        await response.prepare(request)
        if timing.ttft_s > 0:
            await asyncio.sleep(timing.ttft_s)
        start = loop.time()
        pending: list[bytes] = []
        for due, frame in frames:
            delay = start + due - loop.time()
            if delay > _MIN_SLEEP_S:
                if pending:
                    await response.write(b"".join(pending))
                    pending.clear()
                await asyncio.sleep(delay)
            pending.append(frame)
        pending.append(tail)
        await response.write(b"".join(pending))
        if cut:
            await asyncio.sleep(0)  # let the transport hand the bytes to the kernel before we drop the connection
            abort_connection(request, reset=False)
            return response
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away mid-stream: nothing left to do
    return response
