"""Cache keys: what makes two requests the same question, for the exact cache and for semantic namespaces.

The exact key hashes everything that goes upstream and can shape the answer: the model as routed (provider and
upstream name), the messages as sent (after any context minimizing), and every other body field except the few
that only change delivery or bookkeeping. Unknown fields are included, so a provider-specific knob we have never
heard of makes a miss, never a wrong hit. A semantic namespace is the same material minus the conversation itself,
keyed by the model asked for: only questions asked of the same model, under the same system prompt, tools and
parameters, are compared with each other.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

import orjson

from gateway.config.settings import ModelSpec, hash_key

# Body fields that change how the answer is delivered or billed, never what it says.
# The provider's prompt-cache hints only change what the prompt costs (and for how long its prefix stays cached).
DELIVERY_FIELDS = frozenset({"model", "messages", "stream", "stream_options", "user", "metadata", "store",
                             "service_tier", "prompt_cache_key", "prompt_cache_retention", "safety_identifier"})
_SYSTEM_ROLES = ("system", "developer")


def cache_scope(scope_setting: str, tenant: str | None, passthrough_key: str | None) -> str:
    """Whose entries a request may see. A client paying with its own provider key only ever shares with itself;
    with `scope: tenant`, each tenant has its own pool."""
    if passthrough_key:
        return "key:" + hash_key(passthrough_key)[:24]
    if scope_setting == "tenant" and tenant:
        return "tenant:" + tenant
    return "shared"


def exact_key(scope: str, model: ModelSpec, messages: list[dict[str, Any]], body: dict[str, Any]) -> str:
    return _digest(scope, model, {"messages": messages, "params": answer_parameters(body)})


def semantic_namespace(scope: str, model: ModelSpec, messages: Iterable[dict[str, Any]],
                       body: dict[str, Any]) -> str:
    system = [message for message in messages if message.get("role") in _SYSTEM_ROLES]
    return _digest(scope, model, {"system": system, "params": answer_parameters(body)})


def answer_parameters(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name not in DELIVERY_FIELDS}


def _digest(scope: str, model: ModelSpec, material: dict[str, Any]) -> str:
    payload = orjson.dumps({"scope": scope, "model": f"{model.provider}/{model.upstream_model}", **material},
                           option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=16).hexdigest()
