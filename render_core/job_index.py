"""The indexes that list jobs: per tenant, per status, and the queued jobs without a message.

Records are read one at a time through the job store; everything that lists or counts
many jobs (the API's pages, metrics, the reaper, retention, the failed list) reads here.
Each index is a sorted set scored by a job's place in the global sequence, so pages are
newest first and stable while jobs move between statuses.

A queued job without a message is in exactly one of two places: its tenant's fair queue
(``render_core.fair_queue``), waiting for its turn, or the unsent set, taken by a
dispatcher whose send is not yet marked. The reaper re-sends only the latter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis

from render_core import fair_queue, job_times, render_cache
from render_core.errors import QueueUnavailable
from render_core.places import Place
from render_core.records import PREFIX
from render_core.schema import JobRecord, JobStatus, Priority

# Queued jobs taken for dispatch whose message is not marked sent, scored by when they
# were taken (epoch seconds): the reaper reads only these, not every queued record.
UNSENT_KEY = f"{PREFIX}:unsent"
# Finished jobs (succeeded, failed, cancelled), scored by when they finished (epoch
# seconds): record retention reads only the ones past it.
FINISHED_KEY = f"{PREFIX}:finished"


def tenant_index(tenant: str, status: JobStatus | None = None) -> str:
    base = f"{PREFIX}:tenant:{tenant}:jobs"
    return base if status is None else f"{base}:{status.value}"


def status_index(status: JobStatus) -> str:
    """All jobs of one status, every tenant; ``failed`` is the dead-letter index."""
    return f"{PREFIX}:status:{status.value}"


def awaits_message(record: JobRecord) -> bool:
    return record.status == JobStatus.queued and record.enqueued_at is None


@dataclass(frozen=True)
class Page:
    jobs: list[JobRecord]
    next_cursor: str | None


class JobIndex:
    """Reads over many jobs, and the index writes that go with a record's writes."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    @staticmethod
    def add(
        pipe: redis.client.Pipeline, record: JobRecord, score: Place, dispatch: bool = True
    ) -> None:
        """The new job's entries at its place. ``dispatch`` False: a queued job that waits
        elsewhere (a cache follower waits for its leader, which sends it into the fair
        queue when it ends). A job created finished (a cache hit) is indexed as finished,
        so record retention finds it and, with it, lets its source go."""
        pipe.zadd(tenant_index(record.tenant), {record.id: score})
        pipe.zadd(tenant_index(record.tenant, record.status), {record.id: score})
        pipe.zadd(status_index(record.status), {record.id: score})
        if awaits_message(record) and dispatch:
            fair_queue.push(pipe, record, score)
        if record.status.is_terminal and record.finished_at is not None:
            pipe.zadd(FINISHED_KEY, {record.id: record.finished_at.timestamp()})

    def move(self, pipe: redis.client.Pipeline, record: JobRecord, before: JobStatus) -> None:
        """Queue, inside the caller's transaction, the index changes of a record's write.

        A job that comes back to ``queued`` without a message (a manual retry, a lost
        worker) joins its tenant's fair queue at its old place; one that leaves ``queued``
        or gets its message leaves the fair queue and the unsent set.
        """
        if record.status != before:
            score = self.redis.zscore(tenant_index(record.tenant), record.id) or 0
            pipe.zrem(tenant_index(record.tenant, before), record.id)
            pipe.zrem(status_index(before), record.id)
            pipe.zadd(tenant_index(record.tenant, record.status), {record.id: score})
            pipe.zadd(status_index(record.status), {record.id: score})
            if awaits_message(record):
                fair_queue.push(pipe, record, score)
            if before == JobStatus.running and record.status == JobStatus.succeeded:
                job_times.note_duration(pipe, record)
            if before == JobStatus.queued and record.cache_key is not None:
                leader = render_cache.leader_of(self.redis, record.id)
                if leader is not None:
                    render_cache.stop_following(pipe, record.id, leader)
            if record.status.is_terminal and record.cache_key is not None:
                render_cache.release(pipe, record)
        if not awaits_message(record) and JobStatus.queued in (before, record.status):
            pipe.zrem(UNSENT_KEY, record.id)
            fair_queue.forget(pipe, record)
        if record.status.is_terminal and record.finished_at is not None:
            pipe.zadd(FINISHED_KEY, {record.id: record.finished_at.timestamp()})
        else:
            pipe.zrem(FINISHED_KEY, record.id)

    @staticmethod
    def remove(pipe: redis.client.Pipeline, job_id: str, tenant: str | None) -> None:
        """Queue, inside the caller's transaction, the removal of a job from every index."""
        if tenant is not None:
            pipe.zrem(tenant_index(tenant), job_id)
            for status in JobStatus:
                pipe.zrem(tenant_index(tenant, status), job_id)
        for status in JobStatus:
            pipe.zrem(status_index(status), job_id)
        pipe.zrem(UNSENT_KEY, job_id)
        pipe.zrem(FINISHED_KEY, job_id)

    def note_finished(self, job_id: str, finished_at: float) -> None:
        """Index a finished job that is not yet (written before the index existed)."""
        self.redis.zadd(FINISHED_KEY, {job_id: finished_at}, nx=True)

    def finished_before(self, before: float, limit: int) -> list[str]:
        """Jobs that finished before ``before`` (epoch s), oldest first."""
        return cast("list[str]", self.redis.zrangebyscore(FINISHED_KEY, "-inf", before, 0, limit))

    def drop_unsent(self, priority: Priority, job_ids: list[str]) -> None:
        """Taken for dispatch but no longer waiting (cancelled meanwhile): not an orphan."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrem(UNSENT_KEY, *job_ids)
        pipe.zrem(fair_queue.sending_key(priority), *job_ids)
        pipe.execute()

    def page_ids(
        self, tenant: str, status: JobStatus | None, limit: int, cursor: str | None
    ) -> tuple[list[str], str | None]:
        """Newest first; the cursor is the position of the last job of the previous page."""
        upper = f"({int(cursor)}" if cursor else "+inf"
        try:
            rows = cast(
                "list[tuple[str, float]]",
                self.redis.zrevrangebyscore(
                    tenant_index(tenant, status), upper, "-inf", start=0, num=limit, withscores=True
                ),
            )
        except redis.RedisError as exc:
            raise QueueUnavailable(f"job store unavailable: {exc}") from exc
        next_cursor = str(int(rows[-1][1])) if len(rows) == limit else None
        return [job_id for job_id, _ in rows], next_cursor

    def count(self, status: JobStatus) -> int:
        return int(self.redis.zcard(status_index(status)))

    def unsent_since(self, before: float, limit: int = 1000) -> list[str]:
        """Queued jobs that have had no sent message since before ``before`` (epoch s)."""
        return cast("list[str]", self.redis.zrangebyscore(UNSENT_KEY, "-inf", before, 0, limit))

    def ids_with_status(self, status: JobStatus, limit: int = 1000) -> list[str]:
        """Oldest first."""
        return cast("list[str]", self.redis.zrange(status_index(status), 0, limit - 1))
