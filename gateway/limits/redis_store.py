"""The shared store: each key's budget and rate windows in Redis, checked and updated by one Lua script each.

A script runs atomically, so "check, then reserve" cannot interleave between replicas: the sum of the estimates
of requests in flight never exceeds what is left of the budget. Keys carry the key id in braces (a Redis Cluster
hash tag), so one script's keys always live on one shard.
"""

from __future__ import annotations

from typing import Any

from gateway.cache.redis_link import RedisLink
from gateway.limits.ask import WINDOW_S, Ask, Verdict

# A reservation is also recorded as a hold: a member "<id>|<usd>" of a sorted set scored by its deadline (Redis's
# own clock, so replicas need not agree on the time). Every admission first releases the holds whose deadline has
# passed, in the same atomic script: a replica that died, or lost Redis, between reserve and settle cannot keep the
# budget reserved for longer than the deadline.
RELEASE_EXPIRED = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
if #expired > 0 then
  local freed = 0
  for _, member in ipairs(expired) do freed = freed + (tonumber(string.match(member, '|(.+)$')) or 0) end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  local left = tonumber(redis.call('HINCRBYFLOAT', KEYS[1], 'reserved', -freed))
  if left < 1e-12 then redis.call('HSET', KEYS[1], 'reserved', 0) end
end
"""

# KEYS: budget hash, requests counter, tokens counter, holds.
# ARGV: budget (-1: none), usd, budget ttl (0: none), rpm (-1), tpm (-1), tokens, window ms, hold member, hold ms.
# Release expired holds; refuse on the first limit that would be crossed; otherwise count the request and its tokens
# in the window (which starts with the first request), add the estimate to `reserved` and record its hold. A request
# that costs nothing (a cache hit) passes the budget check: it cannot overspend.
ADMIT = RELEASE_EXPIRED + """
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
  if usd > 0 then
    reserved = tonumber(redis.call('HINCRBYFLOAT', KEYS[1], 'reserved', usd))
    redis.call('ZADD', KEYS[4], now + tonumber(ARGV[9]), ARGV[8])
  end
  if budget >= 0 and budget_ttl > 0 then
    redis.call('EXPIRE', KEYS[1], budget_ttl)
    redis.call('EXPIRE', KEYS[4], budget_ttl)
  end
end
return {refused, requests, redis.call('PTTL', KEYS[2]), used, redis.call('PTTL', KEYS[3]),
        tostring(spent), tostring(reserved), #expired}
"""

# KEYS: budget hash, tokens counter, holds. ARGV: reserved usd, actual usd, budget ttl, token correction, hold member.
# Move the reservation to `spent` at the actual cost (0 for a failed request: a release), and correct the window's
# token count by actual minus estimate while that window lasts. A hold that already expired was released by an
# admission: then only the actual cost is added (releasing it twice would free budget that is not reserved).
SETTLE = """
local reserved_usd, actual, ttl, delta = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local held = 0
if reserved_usd > 0 then held = redis.call('ZREM', KEYS[3], ARGV[5]) end
if held == 1 then
  local left = tonumber(redis.call('HINCRBYFLOAT', KEYS[1], 'reserved', -reserved_usd))
  if left < 1e-12 then redis.call('HSET', KEYS[1], 'reserved', 0) end
end
if held == 1 or actual > 0 then
  redis.call('HINCRBYFLOAT', KEYS[1], 'spent', actual)
  if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
end
if delta ~= 0 and redis.call('PTTL', KEYS[2]) > 0 then redis.call('INCRBY', KEYS[2], delta) end
return held
"""


class RedisLimitStore:
    def __init__(self, link: RedisLink, prefix: str, hold_s: float = 900.0) -> None:
        self.link = link
        self.prefix = prefix
        self.hold_ms = max(1, int(hold_s * 1000))
        self.expired_holds = 0      # reservations released by their deadline, not settled (seen by this replica)
        self._admit: Any = None
        self._settle: Any = None

    def _keys(self, ask: Ask) -> tuple[str, str, str, str]:
        """Budget hash, request and token windows, and the budget's holds (all on one Redis Cluster slot)."""
        base = f"{self.prefix}:limits:{{{ask.key_id}}}"
        return f"{base}:budget:{ask.period_id}", f"{base}:rpm", f"{base}:tpm", f"{base}:holds:{ask.period_id}"

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
                limits.requests_per_minute or -1, limits.tokens_per_minute or -1, ask.tokens, WINDOW_S * 1000,
                _hold(ask), self.hold_ms]
        reply = await self.link.call(lambda client: script(keys=list(self._keys(ask)), args=args, client=client),
                                     idempotent=False)
        if reply is None:
            return None
        refused, requests, requests_ms, tokens, tokens_ms, spent, reserved, expired = reply
        self.expired_holds += int(expired)
        return Verdict(_text(refused) or None, int(requests), _seconds(requests_ms), int(tokens), _seconds(tokens_ms),
                       float(_text(spent)), float(_text(reserved)))

    async def settle(self, ask: Ask, usd: float, tokens: int) -> bool:
        budget, _, tpm, holds = self._keys(ask)
        script = self._scripts()[1]
        args = [ask.usd, usd if ask.limits.budget else 0.0, ask.period_ttl_s,
                (tokens - ask.tokens) if ask.limits.tokens_per_minute else 0, _hold(ask)]
        return await self.link.call(lambda client: script(keys=[budget, tpm, holds], args=args, client=client),
                                    idempotent=False) is not None


def _hold(ask: Ask) -> str:
    """The hold's member: the reservation's id and amount (what an expiry releases)."""
    return f"{ask.hold_id}|{ask.usd!r}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _seconds(pttl_ms: Any) -> float:
    """A window's time left; a missing window (-2) or one without expiry (-1) resets now."""
    return max(0.0, int(pttl_ms) / 1000)
