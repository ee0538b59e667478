"""Liveness in Redis: worker heartbeats and attempt leases.

A worker's main process refreshes ``ar:worker:{hostname}`` every few seconds with a TTL;
an expired key means the worker is gone (health checks and ``/readyz`` read these). The
same beat renews the worker's entry in each queue's slot set (``ar:slots:{queue}``, scored
by when it expires, with its pool size beside it), which the dispatcher and the admission
estimate read in one step instead of scanning every key.
The process rendering an attempt holds ``ar:lease:{token}`` the same way; an expired
lease means the attempt died with its process, and the reaper gives the job to another
worker without waiting for the broker's visibility timeout.
"""

from __future__ import annotations

import time
from typing import cast

import redis
from pydantic import BaseModel, Field

from render_core.records import PREFIX, note_unreadable

WORKER_TTL_S = 30
LEASE_TTL_S = 30


SLOT_COUNTS_KEY = f"{PREFIX}:slots:count"


class WorkerBeat(BaseModel):
    hostname: str
    renderer: str
    queues: list[str]
    pid: int
    concurrency: int = 1
    at: float = Field(default_factory=time.time)


def slots_key(queue: str) -> str:
    """Live workers consuming ``queue``, scored by when their beat expires."""
    return f"{PREFIX}:slots:{queue}"


def worker_key(hostname: str) -> str:
    return f"{PREFIX}:worker:{hostname}"


def lease_key(token: str) -> str:
    return f"{PREFIX}:lease:{token}"


def beat(client: redis.Redis, heartbeat: WorkerBeat, ttl_s: int = WORKER_TTL_S) -> None:
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.set(worker_key(heartbeat.hostname), heartbeat.model_dump_json(), ex=ttl_s)
    pipe.hset(SLOT_COUNTS_KEY, heartbeat.hostname, heartbeat.concurrency)
    for queue in heartbeat.queues:
        pipe.zadd(slots_key(queue), {heartbeat.hostname: now + ttl_s})
        pipe.zremrangebyscore(slots_key(queue), "-inf", now)
    pipe.execute()


def forget_worker(client: redis.Redis, hostname: str, queues: list[str] | None = None) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.delete(worker_key(hostname))
    for queue in queues or []:
        pipe.zrem(slots_key(queue), hostname)
    pipe.execute()


# The pool processes of the live hosts in a queue's slot set (1 where unknown), summed;
# a function, so that the dispatch script counts them the same way.
LIVE_SLOTS_FUNCTION = """
local function live_slots(slots_key, counts_key, now)
  local slots = 0
  for _, host in ipairs(redis.call('ZRANGEBYSCORE', slots_key, now, '+inf')) do
    slots = slots + (tonumber(redis.call('HGET', counts_key, host)) or 1)
  end
  return slots
end
"""
LIVE_SLOTS = LIVE_SLOTS_FUNCTION + "return live_slots(KEYS[1], KEYS[2], ARGV[1])"


def read_live_slots(pipe: redis.client.Pipeline, queue: str) -> None:
    """Queue on ``pipe`` the pool processes of live workers consuming ``queue``: how many
    jobs run at once (its answer is that number)."""
    pipe.eval(LIVE_SLOTS, 2, slots_key(queue), SLOT_COUNTS_KEY, time.time())


def live_workers(client: redis.Redis) -> list[WorkerBeat]:
    keys = sorted(cast("list[str]", list(client.scan_iter(match=worker_key("*"), count=100))))
    raws = cast("list[str | None]", client.mget(keys)) if keys else []
    beats = []
    for key, raw in zip(keys, raws, strict=True):
        if raw is None:
            continue
        try:
            beats.append(WorkerBeat.model_validate_json(raw))
        except ValueError as exc:  # a bad beat hides no other worker
            note_unreadable(client, key, str(exc))
    return beats


def hold_lease(client: redis.Redis, token: str, ttl_s: int = LEASE_TTL_S) -> None:
    client.set(lease_key(token), "1", ex=ttl_s)


def release_lease(client: redis.Redis, token: str) -> None:
    client.delete(lease_key(token))


def lease_ttl(client: redis.Redis, token: str) -> float:
    """Seconds the lease has left; 0 when it is gone."""
    remaining = int(client.ttl(lease_key(token)))
    return float(max(remaining, 0))
