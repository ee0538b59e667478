"""The dispatch step: the next jobs in fair order become Celery messages when there is room.

Anyone may run it at any time, as often as it likes; the script that takes jobs is atomic,
so dispatchers in many processes never take one job twice or overfill the broker. It runs
after a submission (the API), when a worker takes a message (the worker's main process),
and on every heartbeat (a safety net). Room is ``RENDER_DISPATCH_AHEAD`` messages per live
worker slot of the queue (at least one, so a job waits in the broker for a worker that is
starting); ``0`` sends everything at once, as before fair scheduling.

Every message goes out through ``render_core.queue.enqueue``: the record's task id and its
enqueued mark stay the one truth. A taken job whose send fails stays in the unsent set
and the reaper sends it ``RENDER_ORPHAN_AGE_S`` later.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import redis
from celery import Celery

from render_core import fair_queue
from render_core.heartbeats import SLOT_COUNTS_KEY, slots_key
from render_core.job_index import UNSENT_KEY
from render_core.jobs import JobStore
from render_core.queue import NotEnqueued, enqueue, queue_name
from render_core.queue_depth import broker_keys
from render_core.schema import JobStatus, Priority
from render_core.settings import Settings

log = logging.getLogger(__name__)

# Per script call when nothing bounds the broker (RENDER_DISPATCH_AHEAD=0), and the most
# rounds one top-up makes.
UNBOUNDED_CHUNK = 500
MAX_ROUNDS = 100


class Dispatcher:
    """Moves jobs from the tenants' fair queues into the broker, interactive first."""

    def __init__(self, celery: Celery, settings: Settings, jobs: JobStore) -> None:
        self.celery = celery
        self.settings = settings
        self.jobs = jobs
        self.weights = {name: limits.weight for name, limits in settings.limits_by_tenant.items()}

    def room(self, priority: Priority) -> fair_queue.DispatchRoom:
        queue = queue_name(self.settings, priority)
        return fair_queue.DispatchRoom(
            broker_keys=broker_keys(queue),
            slots_key=slots_key(queue),
            slot_counts_key=SLOT_COUNTS_KEY,
            ahead_per_slot=self.settings.dispatch_ahead,
            unsent_key=UNSENT_KEY,
        )

    def top_up(self, priorities: Collection[Priority] = tuple(Priority)) -> int:
        """Send what fits now (of ``priorities``' queues: after a submission, those it added
        to); returns how many messages went out. Never raises for Redis or broker trouble:
        what was taken and not sent is the reaper's."""
        sent = 0
        try:
            for priority in (Priority.interactive, Priority.batch):
                if priority in priorities:
                    sent += self._top_up(priority)
        except (redis.RedisError, NotEnqueued) as exc:
            log.warning("dispatch stopped: %s", exc)
        return sent

    def _top_up(self, priority: Priority) -> int:
        """Rounds of take-and-send until a round takes nothing. The jobs a round takes
        count as waiting until their send is marked, so a worker that took one of them in
        the meantime saw no room; the round after the marks sees it (no lost wake-up)."""
        sent = 0
        for _ in range(MAX_ROUNDS):
            taken = fair_queue.take_next(
                self.jobs.redis,
                priority,
                self.room(priority),
                self.weights,
                limit=UNBOUNDED_CHUNK,
            )
            if not taken:
                break
            records = [r for r in self.jobs.get_many(taken) if r is not None]
            ready = [r for r in records if r.status == JobStatus.queued and r.enqueued_at is None]
            if len(ready) < len(taken):
                ready_ids = {r.id for r in ready}
                self.jobs.index.drop_unsent(priority, [i for i in taken if i not in ready_ids])
            sent += len(enqueue(self.celery, self.settings, self.jobs, ready))
        return sent
