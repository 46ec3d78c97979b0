"""Whether and how one request may use the caches: the policy's cache actions, the client's headers and the
analysis, turned into the keys to look up and store under.

The semantic cache is the one that can answer the wrong question, so it is held to more than the policy's word:
the last message must be the user's own text (no images, no tool results) and short (the embedder must read it
whole: a longer one could differ only where the embedder does not look), the analyzer must judge it independent
of the conversation (a follow-up in one chat must never get another chat's answer), and the text must be a real
question, not an empty or boilerplate turn ("continue", "thanks") that would collide with every other one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.cache.control import CacheControl
from gateway.cache.embedder import MAX_TOKENS
from gateway.cache.keys import cache_scope, exact_key, semantic_namespace
from gateway.cache.question import embeddable
from gateway.config.cache_settings import CacheSettings
from gateway.decision.plan import Plan
from gateway.server.validation import ChatRequest

_DEFAULT_TEMPERATURE = 1.0  # the API's own default when a request names none
# The embedder reads the first MAX_TOKENS WordPiece tokens of a text: two long turns that differ only after that
# would embed alike. WordPiece splits text finer than the API's tokenizers, so the bound keeps a quarter in reserve,
# whatever `cache.semantic.max_question_tokens` says. Long turns rarely repeat in other words; the exact cache
# still serves them.
EMBEDDER_READS_TOKENS = MAX_TOKENS * 3 // 4


@dataclass(frozen=True)
class CacheTicket:
    key: str | None            # the exact-cache key; None: no exact cache for this request
    namespace: str | None      # the semantic namespace; None: no semantic cache
    question: str
    lookup: bool
    store: bool
    ttl_s: int
    why_not: str = ""          # why the request is not cached at all (shown in logs and explain)

    @property
    def used(self) -> bool:
        return (self.key is not None or self.namespace is not None) and (self.lookup or self.store)


NO_CACHE = CacheTicket(None, None, "", False, False, 0, "cache off")


def issue_ticket(request: ChatRequest, plan: Plan, control: CacheControl, settings: CacheSettings,
                 tenant: str | None, passthrough_key: str | None, semantic_ready: bool) -> CacheTicket:
    decision = plan.decision
    policy = decision.match.actions.cache
    why_not = _varying_answer(request, policy.max_temperature, policy.multiple_choices)
    ttl = min(policy.ttl_s if control.ttl_s is None else control.ttl_s, settings.max_ttl_s)
    if why_not or not (policy.exact or policy.semantic):
        return CacheTicket(None, None, "", False, False, 0, why_not or "the policy turns caching off")
    scope = cache_scope(settings.scope, tenant, passthrough_key)
    key = exact_key(scope, plan.model, plan.messages, request.body) if policy.exact else None
    # Paraphrases may route differently (the router scores each wording), so semantic entries are pooled by the
    # model asked for: the answer served came from a model the router judged adequate for the same question.
    namespace = None
    max_tokens = min(settings.semantic.max_question_tokens, EMBEDDER_READS_TOKENS)
    if policy.semantic and semantic_ready and _semantically_safe(request, decision, max_tokens):
        namespace = semantic_namespace(scope, plan.baseline_model, plan.messages, request.body)
    return CacheTicket(key, namespace, decision.analysis.last_user_text, control.lookup, control.store and ttl > 0,
                       ttl)


def _varying_answer(request: ChatRequest, max_temperature: float, multiple_choices: bool) -> str:
    temperature = request.body.get("temperature")
    temperature = _DEFAULT_TEMPERATURE if temperature is None else temperature
    if temperature > max_temperature:
        return f"temperature {temperature:g} is above the policy's cache limit {max_temperature:g}"
    if request.n > 1 and not multiple_choices:
        return f"n={request.n} asks for varied answers"
    return ""


def _semantically_safe(request: ChatRequest, decision: Any, max_tokens: int) -> bool:
    last = request.messages[-1] if request.messages else {}
    analysis = decision.analysis
    return (last.get("role") == "user" and isinstance(last.get("content"), str)
            and analysis.tokens.last_user <= max_tokens
            and analysis.context_dependency < decision.match.actions.independence_threshold
            and embeddable(analysis.last_user_text))
