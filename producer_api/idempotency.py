"""Idempotency keys: the same ``Idempotency-Key`` and body give the same jobs for 24 hours.

A key's entry is a Redis hash ``ar:idem:{tenant}:{sha256(key)}`` holding the body's
fingerprint and the job ids, chosen when the key is first claimed and stored *before*
any job exists; ``done`` is set once the jobs are stored and sent. Whoever works on an
entry holds its short lease (``...:lease``, ``RENDER_IDEMPOTENCY_LEASE_S``). Every step
after the claim is idempotent (create the records if absent, send what is unsent), so a
Redis failure at any step leaves an entry that the client's retry finishes: it gets the
same job ids, never a second set. While a lease is held, a retry is answered 409
``idempotency_in_progress`` with ``Retry-After`` saying when the lease runs out; a request
that died (or a claim made after its client gave up) blocks retries for at most that.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from typing import Any, cast

import redis

from render_core.errors import Conflict, QueueUnavailable
from render_core.jobs import Fence
from render_core.records import PREFIX

TTL_S = 24 * 3600
MAX_KEY_LENGTH = 200  # checked by the route's header parameter

# KEYS: entry, lease. ARGV: fingerprint, job ids (comma separated), token, ttl s, lease ms.
_CLAIM = """
local entry = redis.call('HMGET', KEYS[1], 'body_sha256', 'job_ids', 'done')
if not entry[1] then
  redis.call('HSET', KEYS[1], 'body_sha256', ARGV[1], 'job_ids', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[5])
  return {'new', ARGV[2], 0}
end
if entry[1] ~= ARGV[1] then return {'conflict', '', 0} end
if entry[3] then return {'done', entry[2], 0} end
local holder = redis.call('GET', KEYS[2])
if holder == ARGV[3] or redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[5]) then
  return {'taken', entry[2], 0}
end
return {'busy', '', redis.call('PTTL', KEYS[2])}
"""
# KEYS: entry, lease. ARGV: token, what (done / forget / release).
_FINISH = """
local mine = redis.call('GET', KEYS[2]) == ARGV[1]
if ARGV[2] == 'done' then
  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'done', '1') end
elseif ARGV[2] == 'forget' and mine then
  redis.call('DEL', KEYS[1])
end
if mine then redis.call('DEL', KEYS[2]) end
return mine and 1 or 0
"""


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"


@dataclass(frozen=True)
class Claim:
    """What a request holding a key does: replay ``job_ids`` (``done``), or make them."""

    job_ids: list[str]
    done: bool
    token: str


def body_fingerprint(route: str, body: Any) -> str:
    canonical = json.dumps({"route": route, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def entry_key(tenant: str, key: str) -> str:
    return f"{PREFIX}:idem:{tenant}:{hashlib.sha256(key.encode()).hexdigest()}"


class IdempotencyStore:
    def __init__(self, client: redis.Redis, lease_s: float = 10.0) -> None:
        self.redis = client
        self.lease_ms = max(1, round(lease_s * 1000))
        self._claim = client.register_script(_CLAIM)
        self._finish = client.register_script(_FINISH)

    def claim(self, tenant: str, key: str, fingerprint: str, count: int) -> Claim:
        """Claim the key for ``count`` jobs: their ids, and whether they are already made.

        Raises ``IdempotencyConflict`` for another body, ``IdempotencyInProgress`` (with
        ``retry_after_s``) while another request holds the key's lease.
        """
        token = uuid.uuid4().hex
        fresh_ids = ",".join(uuid.uuid4().hex for _ in range(count))
        entry = entry_key(tenant, key)
        try:
            outcome, ids, lease_left_ms = cast(
                "list[Any]",
                self._claim(
                    keys=[entry, f"{entry}:lease"],
                    args=[fingerprint, fresh_ids, token, TTL_S, self.lease_ms],
                ),
            )
        except redis.RedisError as exc:
            raise QueueUnavailable(f"idempotency store unavailable: {exc}") from exc
        if outcome == "conflict":
            raise IdempotencyConflict("this Idempotency-Key was used with a different request")
        if outcome == "busy":
            busy = IdempotencyInProgress(
                "a request with this Idempotency-Key is still being handled; retry after "
                "the time Retry-After gives"
            )
            busy.retry_after_s = max(1, math.ceil(int(lease_left_ms) / 1000))
            raise busy
        return Claim(job_ids=str(ids).split(","), done=outcome == "done", token=token)

    def _end(self, tenant: str, key: str, claim: Claim, what: str) -> None:
        entry = entry_key(tenant, key)
        try:
            self._finish(keys=[entry, f"{entry}:lease"], args=[claim.token, what])
        except redis.RedisError as exc:
            raise QueueUnavailable(f"idempotency store unavailable: {exc}") from exc

    def fence(self, tenant: str, key: str, claim: Claim) -> Fence:
        """What a job write must check to be this claim's: its lease, still ours."""
        return Fence(f"{entry_key(tenant, key)}:lease", claim.token)

    def complete(self, tenant: str, key: str, claim: Claim) -> None:
        """The jobs are stored and sent: later requests replay them."""
        self._end(tenant, key, claim, "done")

    def forget(self, tenant: str, key: str, claim: Claim) -> None:
        """Nothing was stored (the request was refused): the key may be used again."""
        self._end(tenant, key, claim, "forget")

    def release(self, tenant: str, key: str, claim: Claim) -> None:
        """The request failed midway: the next one with this key resumes at once."""
        self._end(tenant, key, claim, "release")
