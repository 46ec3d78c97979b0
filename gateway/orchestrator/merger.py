"""Merging worker answers into what the client asked for: one chat.completion, or one SSE stream.

The client must not be able to tell a split answer from a normal one by its format: one id, model (the name the client
asked for) and `created` on every chunk, the role delta first, one finish reason, the usage summed over the workers
(and the integration call), and a usage chunk only when the client asked for one. Parts keep the order and the
labels the user gave them. `integration_ok` is the integration check behind the success metric: every part
answered, in order, none a duplicate of another.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from gateway.accounting.cost import Usage, usage_to_openai
from gateway.orchestrator.split_plan import SplitPlan
from gateway.orchestrator.workers import PartAnswer
from gateway.server.sse import completion_id, data_event


def integration_ok(plan: SplitPlan, answers: Sequence[PartAnswer]) -> bool:
    texts = [answer.content.strip() for answer in answers]
    return ([answer.index for answer in answers] == list(range(plan.size)) and all(texts)
            and len(set(texts)) == len(texts))


def part_text(plan: SplitPlan, answer: PartAnswer) -> str:
    """One part as it appears in the merged answer: its heading (the user's label and item), then the answer."""
    heading = plan.parts[answer.index].heading
    return f"{heading}\n\n{answer.content}" if heading else answer.content


def merged_text(plan: SplitPlan, answers: Sequence[PartAnswer]) -> str:
    return plan.separator.join(part_text(plan, answer) for answer in answers)


def summed_usage(usages: Sequence[Usage]) -> Usage:
    return Usage(sum(u.prompt_tokens for u in usages), sum(u.completion_tokens for u in usages),
                 sum(u.cached_tokens for u in usages), any(u.estimated for u in usages))


def finish_reason(answers: Sequence[PartAnswer]) -> str:
    """'length' if any part was cut by max_tokens (the client should know the answer is incomplete), else 'stop'."""
    return "length" if any(answer.finish_reason == "length" for answer in answers) else "stop"


def usage_object(usage: Usage) -> dict[str, Any]:
    """Workers are asked for plain answers, so no reasoning tokens are part of a merged answer."""
    return {**usage_to_openai(usage), "completion_tokens_details": {"reasoning_tokens": 0}}


def completion(model: str, content: str, finish: str, usage: Usage) -> dict[str, Any]:
    """The merged non-streamed answer, in the shape of CreateChatCompletionResponse."""
    return {"id": completion_id(), "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": None, "finish_reason": finish}],
            "usage": usage_object(usage), "system_fingerprint": None}


@dataclass
class ChunkWriter:
    """The chunks of one merged stream, all with the same id, model and created time."""

    model: str
    include_usage: bool
    id: str = field(default_factory=completion_id)
    created: int = field(default_factory=lambda: int(time.time()))

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                 "system_fingerprint": None, "choices": choices, **extra}
        if self.include_usage:
            chunk.setdefault("usage", None)
        return data_event(chunk)

    def role(self) -> bytes:
        return self._chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                             "finish_reason": None}])

    def content(self, text: str) -> bytes:
        return self._chunk([{"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}])

    def finish(self, reason: str) -> bytes:
        return self._chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": reason}])

    def usage(self, usage: Usage) -> bytes:
        """The final usage chunk (empty choices), only when the client asked for it."""
        return self._chunk([], usage=usage_object(usage)) if self.include_usage else b""
