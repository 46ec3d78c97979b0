"""Worker sessions: each part of a split request answered by its own upstream call, in parallel, with recovery.

Each part is tried on the worker model, retried once there, then run on the main (requested) model; a part that
fails all three raises PartFailed and the caller falls back to the main session, so no answer ever silently lacks a
part. Concurrency is bounded twice: per request by the policy's `max_workers`, and across the process by
`MAX_CONCURRENT_WORKERS` (a split request must not starve the plain traffic of upstream capacity). Calls go through
the gateway's pooled, kept-alive upstream session. The tasks are the caller's to cancel (`cancel_all`), which it
does in a `finally`, so a client that goes away stops its workers.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import orjson

from gateway.accounting.cost import Usage, usage_from_openai
from gateway.accounting.estimate import estimate_usage
from gateway.accounting.ledger import SplitCounters
from gateway.config.settings import ModelSpec, ProviderSettings
from gateway.orchestrator.split_plan import Part, SplitPlan
from gateway.server.errors import APIError
from gateway.server.sse import EventSplitter, event_data
from gateway.upstream.client import UpstreamClient, read_all, stream_chunks

log = logging.getLogger(__name__)

MAX_CONCURRENT_WORKERS = 64
FORWARDED = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty",
             "seed", "user", "metadata", "stop", "service_tier")
_GLOBAL: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()
OnDelta = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Target:
    """A model to call, with the provider and key that reach it."""

    model: ModelSpec
    provider: ProviderSettings
    api_key: str | None


@dataclass(frozen=True)
class PartAnswer:
    index: int
    content: str
    usage: Usage
    model: ModelSpec
    finish_reason: str


class PartFailed(Exception):
    """A part that no attempt answered; `partial` when some of it already reached the client."""

    def __init__(self, index: int, error: BaseException | None, partial: bool = False) -> None:
        super().__init__(f"part {index + 1} failed: {error!r}")
        self.index, self.error, self.partial = index, error, partial


class _Emitted(Exception):
    """A live stream failed after some of its text reached the client: no retry can take that back."""


def global_limit() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _GLOBAL:
        _GLOBAL[loop] = asyncio.Semaphore(MAX_CONCURRENT_WORKERS)
    return _GLOBAL[loop]


@dataclass
class WorkerPool:
    """Runs the parts of one request: `attempts` are tried in order (worker, worker again, main model)."""

    upstream: UpstreamClient
    counters: SplitCounters
    attempts: tuple[Target, ...]
    body: dict[str, Any]
    max_workers: int

    def __post_init__(self) -> None:
        self._limit = asyncio.Semaphore(self.max_workers)

    def start(self, plan: SplitPlan, live: OnDelta | None = None) -> list[asyncio.Task[PartAnswer]]:
        """One task per part; with `live`, the first part streams its text through it as it arrives."""
        self.counters.requests += 1
        return [asyncio.create_task(self._bounded(part, live if part.index == 0 else None)) for part in plan.parts]

    async def _bounded(self, part: Part, live: OnDelta | None) -> PartAnswer:
        async with self._limit, global_limit(), self.counters.running():
            return await self.answer(part, live)

    async def answer(self, part: Part, live: OnDelta | None = None) -> PartAnswer:
        error: BaseException | None = None
        for attempt, target in enumerate(self.attempts):
            if attempt:
                self.counters.retries += 1
                if target.model.name != self.attempts[0].model.name:
                    self.counters.main_model_fallbacks += 1
            self.counters.workers += 1
            try:
                if live is None:
                    return await self._call(target, part)
                return await self._stream(target, part, live)
            except ConnectionError:
                raise  # the client went away while the live part streamed: not the worker's failure
            except _Emitted as exc:
                self.counters.worker_failures += 1
                raise PartFailed(part.index, exc.__cause__, partial=True) from None
            except (APIError, ValueError, OSError, asyncio.TimeoutError) as exc:
                self.counters.worker_failures += 1
                log.info("split part %d failed on %s: %r", part.index + 1, target.model.name, exc)
                error = exc
        raise PartFailed(part.index, error)

    def _body(self, target: Target, part: Part, stream: bool) -> bytes:
        body = {**self.body, "model": target.model.upstream_model, "messages": part.messages, "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return orjson.dumps(body)

    async def _call(self, target: Target, part: Part) -> PartAnswer:
        response = await self.upstream.post(target.provider, "/chat/completions", self._body(target, part, False),
                                            stream=False, api_key=target.api_key)
        answer = orjson.loads(await read_all(target.provider, response))  # garbled JSON: a ValueError, retried
        choice = (answer.get("choices") or [None])[0] if isinstance(answer, dict) else None
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str) or not content.strip():
            raise ValueError("worker answer has no text")
        usage = usage_from_openai(answer.get("usage")) or estimate_usage(target.model.upstream_model,
                                                                          part.messages, [message])
        return PartAnswer(part.index, content.strip(), usage, target.model, choice.get("finish_reason") or "stop")

    async def _stream(self, target: Target, part: Part, live: OnDelta) -> PartAnswer:
        response = await self.upstream.post(target.provider, "/chat/completions", self._body(target, part, True),
                                            stream=True, api_key=target.api_key)
        texts: list[str] = []
        usage, finish, done = None, "stop", False
        try:
            splitter = EventSplitter()
            async for data in stream_chunks(response):
                for event in splitter.feed(data):
                    payload = event_data(event)
                    if payload is None:
                        continue
                    if payload == b"[DONE]":
                        done = True
                        break
                    chunk = orjson.loads(payload)
                    if not isinstance(chunk, dict) or chunk.get("error"):
                        raise ValueError(f"worker stream error: {str(chunk)[:200]}")
                    usage = usage_from_openai(chunk.get("usage")) or usage
                    for choice in chunk.get("choices") or ():
                        text = (choice.get("delta") or {}).get("content")
                        finish = choice.get("finish_reason") or finish
                        if text:
                            text = text.lstrip() if not texts else text
                            texts.append(text)
                            await live(text)
                if done:
                    break
            if not done:
                raise ValueError("worker stream ended before [DONE]")
        except ConnectionError:
            raise  # the client went away: not a worker failure
        except Exception as exc:
            if texts:
                raise _Emitted() from exc
            raise ValueError(f"worker stream failed: {exc!r}") from exc
        finally:
            response.release()
        content = "".join(texts).strip()
        if not content:
            raise ValueError("worker answer has no text")
        usage = usage or estimate_usage(target.model.upstream_model, part.messages, [{"content": content}])
        return PartAnswer(part.index, content, usage, target.model, finish)


def forwarded(body: dict[str, Any]) -> dict[str, Any]:
    """The request's sampling and bookkeeping fields a worker call keeps (never tools, n, or the messages)."""
    return {key: body[key] for key in FORWARDED if key in body}


def cancel_all(tasks: list[asyncio.Task[Any]], counters: SplitCounters) -> None:
    """Cancel every unfinished worker (client gone, or the request failed): nothing runs on after the response."""
    for task in tasks:
        if not task.done() or task.cancelled():  # the one being awaited is cancelled with the handler itself
            task.cancel()
            counters.workers_cancelled += 1
        else:
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
