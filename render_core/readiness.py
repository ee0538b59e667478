"""Is anyone rendering? Answers from the worker heartbeats in Redis.

``/readyz`` asks whether every render queue has a live consumer, so accepted jobs do not
wait for a worker that is not there; ``avatar-render worker --check`` asks whether one
worker (or any) is alive, for container health checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from render_core.heartbeats import WorkerBeat, live_workers
from render_core.redis_conn import sync_redis
from render_core.settings import Settings


def node_name(hostname: str) -> str:
    """``gpu0@host-1`` → ``gpu0``: the name given with ``avatar-render worker --name``."""
    return hostname.partition("@")[0]


def consumers_by_queue(workers: list[WorkerBeat], queues: list[str]) -> dict[str, list[str]]:
    """For each queue, the hostnames of the live workers consuming it."""
    return {queue: [w.hostname for w in workers if queue in w.queues] for queue in queues}


@dataclass(frozen=True)
class WorkerCheck:
    alive: bool
    reason: str


def check_worker(workers: list[WorkerBeat], name: str | None) -> WorkerCheck:
    """A live heartbeat of the node ``name`` (its node name or full hostname), or of any."""
    if name is None:
        matching = workers
    else:
        matching = [w for w in workers if name in (w.hostname, node_name(w.hostname))]
    if matching:
        described = ", ".join(
            f"{w.hostname} ({w.renderer}: {','.join(w.queues)})" for w in matching
        )
        return WorkerCheck(alive=True, reason=f"alive: {described}")
    if name is None:
        return WorkerCheck(alive=False, reason="no live worker heartbeat in Redis")
    others = ", ".join(w.hostname for w in workers) or "none"
    return WorkerCheck(
        alive=False, reason=f"no live heartbeat of worker {name!r} (live workers: {others})"
    )


def probe_worker(settings: Settings, name: str | None) -> WorkerCheck:
    """``check_worker`` against the heartbeats in Redis; a silent Redis is not alive."""
    client = sync_redis(settings)
    try:
        return check_worker(live_workers(client), name)
    except redis.RedisError as exc:
        return WorkerCheck(alive=False, reason=f"Redis did not answer: {exc}")
    finally:
        client.close()
