"""Per-tenant submission rate: a token bucket kept in Redis, taken from atomically.

The bucket is read, refilled and taken from inside the script that creates the jobs, on
Redis's own clock, so the limit holds across every API process and every host with no
clock skew between them, and a submission refused for another reason (its tenant's
queue cap) takes no tokens. A batch takes as many tokens as it has requests, all or none.
"""

from __future__ import annotations

from dataclasses import dataclass

from render_core.records import PREFIX
from render_core.tenant_limits import Rate

# take_tokens(bucket key, tokens a second, burst, cost) -> taken (1 or 0), and the tokens
# left when taken or the seconds until enough are there when not.
TAKE_FUNCTION = """
local function take_tokens(key, rate, burst, cost)
  local now = redis.call('TIME')
  now = tonumber(now[1]) + tonumber(now[2]) / 1000000
  local bucket = redis.call('HMGET', key, 'tokens', 'at')
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
  redis.call('HSET', key, 'tokens', string.format('%.17g', tokens),
             'at', string.format('%.17g', now))
  redis.call('EXPIRE', key, math.ceil(burst / rate) + 1)
  return taken, answer
end
"""


def bucket_key(tenant: str) -> str:
    return f"{PREFIX}:rate:{tenant}"


@dataclass(frozen=True)
class Take:
    """Tokens to take from a tenant's bucket (the script's ``bucket`` check)."""

    key: str
    per_s: float
    burst: float
    cost: int

    @classmethod
    def of(cls, tenant: str, rate: Rate, cost: int) -> Take:
        return cls(bucket_key(tenant), rate.per_s, rate.burst, cost)
