"""The exact JSON objects OpenAI returns (field names, order and nulls), built from a plan.

Clients and the gateway parse these with strict SDK models and the official OpenAPI schemas, so every field that
OpenAI always sends is always sent here too, with the same null-vs-absent choices.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from .completions import ChoicePlan, CompletionPlan

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def random_id(prefix: str, length: int = 29) -> str:
    """A unique id like OpenAI's (`chatcmpl-` + 29 characters); unique per response, not deterministic."""
    return prefix + "".join(_ALPHABET[b % 62] for b in os.urandom(length))


def system_fingerprint(model: str) -> str:
    return "fp_" + hashlib.blake2b(model.encode(), digest_size=5).hexdigest()


def message_for(choice: ChoicePlan) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.content, "refusal": None}
    if choice.tool_call is not None:
        call = choice.tool_call
        message["tool_calls"] = [{"id": call.id, "type": "function",
                                  "function": {"name": call.name, "arguments": call.arguments}}]
    return message


def completion_body(plan: CompletionPlan, completion_id: str, created: int) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": plan.model,
        "choices": [{"index": c.index, "message": message_for(c), "logprobs": None, "finish_reason": c.finish_reason}
                    for c in plan.choices],
        "usage": plan.usage(),
        "service_tier": "default",
        "system_fingerprint": system_fingerprint(plan.model),
    }


def chunk_base(plan: CompletionPlan, completion_id: str, created: int) -> dict[str, Any]:
    """The fields every chunk of one stream repeats."""
    return {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": plan.model,
            "service_tier": "default", "system_fingerprint": system_fingerprint(plan.model)}


def now() -> int:
    return int(time.time())


def embedding_body(model: str, vectors: list[Any], prompt_tokens: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def models_body(names: list[str], created: int = 1700000000) -> dict[str, Any]:
    def owner(name: str) -> str:
        lowered = name.lower()
        if "/" in name:
            return name.split("/", 1)[0]
        if lowered.startswith(("gpt", "o1", "o3", "o4", "text-", "text_", "chatgpt", "davinci")):
            return "openai"
        if lowered.startswith("claude"):
            return "anthropic"
        return "sim"

    return {"object": "list", "data": [{"id": n, "object": "model", "created": created, "owned_by": owner(n)}
                                       for n in names]}
