"""Liveness in Redis: worker heartbeats and attempt leases.

A worker's main process refreshes ``ar:worker:{hostname}`` every few seconds with a TTL;
an expired key means the worker is gone (health checks and ``/readyz`` read these).
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


class WorkerBeat(BaseModel):
    hostname: str
    renderer: str
    queues: list[str]
    pid: int
    at: float = Field(default_factory=time.time)


def worker_key(hostname: str) -> str:
    return f"{PREFIX}:worker:{hostname}"


def lease_key(token: str) -> str:
    return f"{PREFIX}:lease:{token}"


def beat(client: redis.Redis, heartbeat: WorkerBeat, ttl_s: int = WORKER_TTL_S) -> None:
    client.set(worker_key(heartbeat.hostname), heartbeat.model_dump_json(), ex=ttl_s)


def forget_worker(client: redis.Redis, hostname: str) -> None:
    client.delete(worker_key(hostname))


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
