"""The exact cache: memory first, then Redis (shared by every replica), keyed by `keys.exact_key`.

Reads try memory, then Redis; a Redis hit is copied into memory so the next one is local. Writes go to memory at
once and to Redis in the background: the client never waits on the shared tier.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.cache.answer import CachedAnswer
from gateway.cache.memory import ByteLRU
from gateway.cache.redis_link import RedisLink


@dataclass(frozen=True)
class ExactHit:
    answer: CachedAnswer
    tier: str  # memory | redis


class ExactCache:
    def __init__(self, memory: ByteLRU, redis: RedisLink, prefix: str) -> None:
        self.memory = memory
        self.redis = redis
        self.prefix = f"{prefix}:exact:"

    async def get(self, key: str) -> ExactHit | None:
        blob = self.memory.get(key)
        tier = "memory"
        if blob is None:
            blob = await self.redis.call(lambda client: client.get(self.prefix + key))
            tier = "redis"
            if blob is None:
                return None
        answer = CachedAnswer.from_bytes(blob)
        if answer is None:
            return None
        if tier == "redis":
            ttl = await self.redis.call(lambda client: client.ttl(self.prefix + key))
            self.memory.put(key, blob, ttl if isinstance(ttl, int) and ttl > 0 else 60)
        return ExactHit(answer, tier)

    def put(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        blob = answer.to_bytes()
        self.memory.put(key, blob, ttl_s)
        self.redis.write_behind(lambda client: client.set(self.prefix + key, blob, ex=ttl_s))

    def forget(self, key: str) -> None:
        self.memory.remove(key)
