"""The shared store: each key's budget and rate windows in Redis, checked and updated by one Lua script each.

A script runs atomically, so "check, then reserve" cannot interleave between replicas: the sum of the estimates
of requests in flight never exceeds what is left of the budget. Keys carry the key id in braces (a Redis Cluster
hash tag), so one script's keys always live on one shard.
"""

from __future__ import annotations

from typing import Any

from gateway.cache.redis_link import RedisLink
from gateway.limits.ask import WINDOW_S, Ask, Verdict

# KEYS: budget hash, requests counter, tokens counter.
# ARGV: budget (-1: none), usd, budget ttl (0: none), rpm (-1), tpm (-1), tokens, window ms.
# Refuse on the first limit that would be crossed; otherwise count the request and its tokens in the window (which
# starts with the first request) and add the estimate to `reserved`. A request that costs nothing (a cache hit)
# passes the budget check: it cannot overspend.
ADMIT = """
local budget, usd, budget_ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local rpm, tpm, tokens, window = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local requests = tonumber(redis.call('GET', KEYS[2]) or '0')
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local refused = ''
if rpm >= 0 and requests + 1 > rpm then refused = 'requests'
elseif tpm >= 0 and tokens > 0 and used + tokens > tpm then refused = 'tokens'
elseif budget >= 0 and usd > 0 and spent + reserved + usd > budget then refused = 'budget'
else
  requests = redis.call('INCR', KEYS[2])
  if redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], window) end
  if tokens > 0 then
    used = redis.call('INCRBY', KEYS[3], tokens)
    if redis.call('PTTL', KEYS[3]) < 0 then redis.call('PEXPIRE', KEYS[3], window) end
  end
  if usd > 0 then reserved = tonumber(redis.call('HINCRBYFLOAT', KEYS[1], 'reserved', usd)) end
  if budget >= 0 and budget_ttl > 0 then redis.call('EXPIRE', KEYS[1], budget_ttl) end
end
return {refused, requests, redis.call('PTTL', KEYS[2]), used, redis.call('PTTL', KEYS[3]),
        tostring(spent), tostring(reserved)}
"""

# KEYS: budget hash, tokens counter. ARGV: reserved usd, actual usd, budget ttl, token correction.
# Move the reservation to `spent` at the actual cost (0 for a failed request: a release), and correct the window's
# token count by actual minus estimate while that window lasts.
SETTLE = """
local reserved_usd, actual, ttl, delta = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if reserved_usd > 0 or actual > 0 then
  local left = tonumber(redis.call('HINCRBYFLOAT', KEYS[1], 'reserved', -reserved_usd))
  if left < 1e-12 then redis.call('HSET', KEYS[1], 'reserved', 0) end
  redis.call('HINCRBYFLOAT', KEYS[1], 'spent', actual)
  if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
end
if delta ~= 0 and redis.call('PTTL', KEYS[2]) > 0 then redis.call('INCRBY', KEYS[2], delta) end
return 1
"""


class RedisLimitStore:
    def __init__(self, link: RedisLink, prefix: str) -> None:
        self.link = link
        self.prefix = prefix
        self._admit: Any = None
        self._settle: Any = None

    def _keys(self, ask: Ask) -> tuple[str, str, str]:
        base = f"{self.prefix}:limits:{{{ask.key_id}}}"
        return f"{base}:budget:{ask.period_id}", f"{base}:rpm", f"{base}:tpm"

    def _scripts(self) -> tuple[Any, Any]:
        if self._admit is None:
            self._admit = self.link.client.register_script(ADMIT)
            self._settle = self.link.client.register_script(SETTLE)
        return self._admit, self._settle

    async def admit(self, ask: Ask) -> Verdict | None:
        """None when Redis is absent, paused or failing: the caller falls back to the local store."""
        if not self.link.configured:
            return None
        limits, script = ask.limits, self._scripts()[0]
        args = [limits.budget.usd if limits.budget else -1, ask.usd, ask.period_ttl_s,
                limits.requests_per_minute or -1, limits.tokens_per_minute or -1, ask.tokens, WINDOW_S * 1000]
        reply = await self.link.call(lambda client: script(keys=list(self._keys(ask)), args=args, client=client))
        if reply is None:
            return None
        refused, requests, requests_ms, tokens, tokens_ms, spent, reserved = reply
        return Verdict(_text(refused) or None, int(requests), _seconds(requests_ms), int(tokens), _seconds(tokens_ms),
                       float(_text(spent)), float(_text(reserved)))

    async def settle(self, ask: Ask, usd: float, tokens: int) -> bool:
        budget, _, tpm = self._keys(ask)
        script = self._scripts()[1]
        args = [ask.usd, usd if ask.limits.budget else 0.0, ask.period_ttl_s,
                (tokens - ask.tokens) if ask.limits.tokens_per_minute else 0]
        return await self.link.call(lambda client: script(keys=[budget, tpm], args=args, client=client)) is not None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _seconds(pttl_ms: Any) -> float:
    """A window's time left; a missing window (-2) or one without expiry (-1) resets now."""
    return max(0.0, int(pttl_ms) / 1000)
