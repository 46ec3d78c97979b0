"""The cache as the request path sees it: look up by ticket (exact, then semantic), store complete answers.

Lookups are timed and counted by kind and tier; the semantic cache's verifier rejections by reason. A failure of
the shared tier is absorbed by the Redis link (the request goes on from memory and upstream), and a failure of the
embedder skips the semantic lookup for that request: the cache can only ever save a call, never cost one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gateway.cache.answer import CachedAnswer, new_answer, storable
from gateway.cache.exact import ExactCache
from gateway.cache.memory import ByteLRU
from gateway.cache.redis_link import RedisLink
from gateway.cache.semantic import SemanticCache
from gateway.cache.ticket import CacheTicket
from gateway.config.settings import Settings
from gateway.server.timing import Histogram

log = logging.getLogger(__name__)
LOOKUP_BUCKETS_S = (0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)


@dataclass(frozen=True)
class CacheHit:
    answer: CachedAnswer
    kind: str                  # exact | semantic
    tier: str                  # memory | redis
    similarity: float = 1.0


@dataclass
class CacheStats:
    hits: Counter = field(default_factory=Counter)        # (kind, tier) -> count
    misses: int = 0
    stores: int = 0
    not_stored: int = 0                                   # answers that were incomplete or failed
    embed_errors: int = 0
    lookup_seconds: Histogram = field(default_factory=lambda: Histogram(LOOKUP_BUCKETS_S))


class CacheService:
    def __init__(self, settings: Settings, redis: RedisLink, semantic: SemanticCache | None) -> None:
        self.settings = settings.cache
        self.redis = redis
        self.memory = ByteLRU(settings.cache.memory_max_bytes)
        self.exact = ExactCache(self.memory, redis, settings.cache.redis_prefix)
        self.semantic = semantic
        self.stats = CacheStats()
        self.semantic_error = ""
        self._sync_task: asyncio.Task | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "CacheService":
        return cls(settings, RedisLink(settings.redis_url, settings.cache.redis_timeout_s), None)

    def attach_semantic(self, semantic: SemanticCache) -> None:
        """The embedder takes a moment to load, so the semantic tier joins once it is ready."""
        self.semantic = semantic
        if self.redis.configured:
            self._sync_task = asyncio.create_task(semantic.run_sync(self.settings.semantic.sync_interval_s))

    async def lookup(self, ticket: CacheTicket, *, count: bool = True) -> CacheHit | None:
        """The cached answer for the ticket, if any. `count=False` previews (the evaluate endpoint) without
        moving the hit statistics."""
        if not ticket.lookup or not ticket.used:
            return None
        started = time.perf_counter()
        hit = await self._exact(ticket) or await self._semantic(ticket)
        if not count:
            return hit
        self.stats.lookup_seconds.observe(time.perf_counter() - started)
        if hit is None:
            self.stats.misses += 1
        else:
            self.stats.hits[(hit.kind, hit.tier)] += 1
        return hit

    async def _exact(self, ticket: CacheTicket) -> CacheHit | None:
        if ticket.key is None:
            return None
        found = await self.exact.get(ticket.key)
        return CacheHit(found.answer, "exact", found.tier) if found else None

    async def _semantic(self, ticket: CacheTicket) -> CacheHit | None:
        if ticket.namespace is None or self.semantic is None:
            return None
        try:
            result = await self.semantic.lookup(ticket.namespace, ticket.question)
        except Exception as exc:  # an embedder failure costs this request its semantic lookup, nothing more
            self.stats.embed_errors += 1
            log.warning("semantic lookup skipped: embedder failed (%s)", type(exc).__name__)
            return None
        if result.hit is None:
            return None
        return CacheHit(result.hit.answer, "semantic", "memory", result.hit.similarity)

    async def store(self, ticket: CacheTicket, completion: Any, model: str) -> None:
        """Keep a complete, successful answer under the ticket's keys (never an error or a partial answer)."""
        if not ticket.store or not ticket.used:
            return
        if not storable(completion):
            self.stats.not_stored += 1
            return
        self.stats.stores += 1
        if ticket.key is not None:
            self.exact.put(ticket.key, new_answer(completion, model), ticket.ttl_s)
        if ticket.namespace is not None and self.semantic is not None:
            await self._store_semantic(ticket, completion, model)

    async def _store_semantic(self, ticket: CacheTicket, completion: dict, model: str) -> None:
        try:
            vector, tokens = await self.semantic.embedded(ticket.question)
        except Exception as exc:
            self.stats.embed_errors += 1
            log.warning("semantic store skipped: embedder failed (%s)", type(exc).__name__)
            return
        answer = new_answer(completion, model, ticket.question)
        self.semantic.store(ticket.namespace, ticket.question, vector, answer, ticket.ttl_s, tokens)

    def status(self) -> dict[str, object]:
        semantic = self.semantic
        return {"memory_entries": len(self.memory), "memory_bytes": self.memory.bytes, "redis": self.redis.state,
                "semantic": {"entries": len(semantic), "threshold": semantic.threshold,
                             "verifier": semantic.verifier_kind, "embedder": semantic.embedder.describe()}
                if semantic is not None else
                {"state": self.semantic_error or "loading"}}

    async def close(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
        await self.redis.close()
