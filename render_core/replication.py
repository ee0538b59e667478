"""Waiting for a replica: what makes an accepted job survive a failover.

Redis replicates asynchronously: a write the primary acknowledged can be lost if the
primary dies before a replica has it, and a promoted replica would not know the job.
So, when replicas are configured, the API waits (``WAIT``) until
``RENDER_REDIS_WAIT_REPLICAS`` of them acknowledge everything written so far, at most
``RENDER_REDIS_WAIT_TIMEOUT_MS``, before it answers 202 (or 201). ``WAIT`` covers the
writes of the connection it runs on; the probe written just before it comes after every
earlier write to the primary (the job records, and the broker message another connection
sent), so the replica holding the probe holds them all.
"""

from __future__ import annotations

import redis

from render_core.errors import QueueUnavailable, TransientError
from render_core.records import PREFIX

PROBE_KEY = f"{PREFIX}:replication:probe"


class NotReplicated(TransientError):
    """Fewer replicas than required acknowledged the writes in time."""

    code = "replication_unavailable"


def wait_for_replicas(client: redis.Redis, replicas: int, timeout_ms: int) -> None:
    """Return once ``replicas`` replicas hold every write made so far; ``NotReplicated``
    after ``timeout_ms`` without them. Nothing to wait for when ``replicas`` is 0."""
    if replicas <= 0:
        return
    try:
        with client.pipeline(transaction=False) as pipe:
            pipe.incr(PROBE_KEY)
            pipe.wait(replicas, timeout_ms)
            _, acknowledged = pipe.execute()
    except redis.RedisError as exc:
        raise QueueUnavailable(f"job store unavailable: {exc}") from exc
    if int(acknowledged) < replicas:
        raise NotReplicated(
            f"{acknowledged} of {replicas} Redis replicas acknowledged within {timeout_ms} ms; "
            "nothing was accepted, retry later"
        )
