"""Per-tenant submission rate: a token bucket kept in Redis, taken from atomically.

The bucket lives in Redis and is read, refilled and taken from in one Lua script on
Redis's own clock, so the limit holds across every API process and every host, with no
clock skew between them. A batch takes as many tokens as it has requests, all or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis

from render_core.errors import QueueUnavailable, RateLimited
from render_core.records import PREFIX
from render_core.tenant_limits import Rate

# KEYS[1]: the bucket (tokens, at). ARGV: tokens a second, burst, cost.
# Returns {1, tokens left} when taken, {0, seconds until enough} when not.
TAKE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local taken, answer = 0, 0
if tokens >= cost then
  tokens = tokens - cost
  taken, answer = 1, tokens
else
  answer = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.17g', now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {taken, string.format('%.17g', answer)}
"""


def bucket_key(tenant: str) -> str:
    return f"{PREFIX}:rate:{tenant}"


@dataclass(frozen=True)
class RateLimiter:
    redis: redis.Redis

    def take(self, tenant: str, rate: Rate, cost: int) -> None:
        """Take ``cost`` tokens, or raise ``RateLimited`` saying when they will be there."""
        try:
            taken, answer = cast(
                "list[int | str]",
                self.redis.eval(TAKE, 1, bucket_key(tenant), rate.per_s, rate.burst, cost),
            )
        except redis.RedisError as exc:
            raise QueueUnavailable(f"rate limiter unavailable: {exc}") from exc
        if int(taken) != 1:
            wait = float(answer)
            raise RateLimited(
                f"tenant {tenant} may submit {rate.per_s:g} renders a second "
                f"(bursts of {rate.burst:g}); {cost} more fit in {wait:.1f} s",
                retry_after_s=wait,
            )
