"""The job store: one JSON record per job in Redis, and the state moves between statuses.

The moves themselves (start an attempt, succeed, fail, retry, ...) are in
``render_core.job_moves``; this module holds the transaction they all go through.

Every status move goes through ``_update``, an optimistic transaction (WATCH/MULTI) that
re-reads the record, checks the move is legal and writes record, indexes and the
tenant's events (``render_core.event_log``) together, so two processes racing on one job
cannot both win and no event is lost or invented. Lists and counts of many jobs are
``JobIndex``'s (``store.index``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import redis

from render_core import job_creation, places
from render_core.cache_guards import Guard
from render_core.errors import Conflict, QueueFull, RateLimited
from render_core.event_log import (
    DEFAULT_RETENTION_S,
    EventLog,
    NewEvent,
    events_for_move,
    queued_event,
)
from render_core.job_index import JobIndex, Page, tenant_index
from render_core.job_moves import CacheOutcome, JobMoves
from render_core.records import UNREADABLE_KEY, TenantRecords
from render_core.redis_conn import sync_redis
from render_core.schema import JobRecord, JobStatus
from render_core.settings import Settings
from render_core.tenant_limits import Rate
from render_core.token_bucket import Take

ALLOWED_MOVES: dict[JobStatus, frozenset[JobStatus]] = {
    # queued → failed: its message could not be sent, or it ran out of attempts.
    JobStatus.queued: frozenset({JobStatus.running, JobStatus.cancelled, JobStatus.failed}),
    # running → queued is a retry after a transient failure or a lost worker;
    # running → running is a redelivery after a crash (a new attempt takes over).
    JobStatus.running: frozenset(
        {
            JobStatus.running,
            JobStatus.queued,
            JobStatus.succeeded,
            JobStatus.failed,
            JobStatus.cancelled,
        }
    ),
    JobStatus.succeeded: frozenset(),
    JobStatus.failed: frozenset({JobStatus.queued}),
    JobStatus.cancelled: frozenset({JobStatus.queued}),
}


__all__ = [
    "CAPPED",
    "QUEUE_FULL_RETRY_S",
    "CacheOutcome",
    "Fence",
    "FenceLost",
    "IllegalTransition",
    "JobStore",
]

# The statuses a tenant's queue cap counts, and how soon a refused tenant may try again (a
# job time or so: it is the workers, not a clock, that make room).
CAPPED = (JobStatus.queued, JobStatus.running)
QUEUE_FULL_RETRY_S = 5.0


def _creation_events(record: JobRecord) -> list[NewEvent]:
    """A new job is queued; a cache hit is created succeeded: both events, in order."""
    queued = queued_event(record)
    if record.status == JobStatus.queued:
        return [queued]
    before = record.model_copy(update={"status": JobStatus.queued})
    return [queued, *events_for_move(before, record)]


@dataclass(frozen=True)
class Fence:
    """A write allowed only while ``key`` holds ``token`` (a lease the writer holds)."""

    key: str
    token: str


class FenceLost(Conflict):
    """The writer's lease ran out: another holder may have acted on the job since."""

    code = "fence_lost"


class IllegalTransition(Conflict):
    """The job's status does not allow that move."""

    code = "illegal_transition"


class JobStore(JobMoves, TenantRecords[JobRecord]):
    """Job records in Redis: reads by id (tenant-scoped), creation, and the status moves."""

    def __init__(
        self, client: redis.Redis, events_retention_s: float = DEFAULT_RETENTION_S
    ) -> None:
        super().__init__(client, "job", JobRecord)
        self.index = JobIndex(client)
        self.creation = job_creation.Creation(client)
        self.events = EventLog(events_retention_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> JobStore:
        return cls(sync_redis(settings), settings.events_retention_s)

    @classmethod
    def from_url(cls, url: str) -> JobStore:
        """A store on ``url`` with the environment's other settings (tools, tests)."""
        return cls.from_settings(Settings(redis_url=url))

    def create(
        self,
        records: Iterable[JobRecord],
        *,
        if_absent: bool = False,
        max_queued: int | None = None,
        held: Collection[str] = (),
        guard: Guard | None = None,
        rate: Rate | None = None,
    ) -> bool:
        """Store new jobs with their index entries, all or none; answers whether this call
        stored them.

        With ``if_absent`` (jobs whose ids were fixed beforehand, an idempotency key's)
        nothing is written when they exist already, so the step can be repeated after a
        failure. With ``max_queued`` the tenant's jobs queued or running, the queued ones
        here included, may not pass it (``QueueFull``); the count is taken by the script
        that writes the jobs, in the same atomic step (``render_core.job_creation``), so
        two submissions of one tenant racing in two API processes cannot both slip past
        the cap. ``held`` jobs are queued but kept out of the fair queue (cache
        followers); a job created ``succeeded`` (a cache hit) gets its queued and
        succeeded events. ``guard`` adds keys to watch, a check under WATCH and writes.
        With ``rate`` the jobs take as many tokens from their tenant's bucket, in the same
        step (``RateLimited`` when it holds too few).
        """
        records = list(records)
        raws = [self.dump(record) for record in records]  # each reads back, or none is stored
        tenants = {record.tenant for record in records}
        adding = sum(record.status == JobStatus.queued for record in records)
        watched = list(guard.keys) if guard else []
        # Several tenants' jobs may be stored at once (named together in a refusal); a rate
        # is one tenant's.
        tenant = ", ".join(sorted(tenants))
        if rate is not None and len(tenants) > 1:
            raise ValueError(f"one rate for several tenants: {tenant}")
        checks = job_creation.Checks(
            absent=[self.key(r.id) for r in records] if if_absent else [],
            capped=[tenant_index(t, s) for t in tenants for s in CAPPED] if max_queued else [],
            adding=adding,
            max=max_queued or 0,
            bucket=Take.of(tenant, rate, len(records)) if rate is not None else None,
            count=len(records),
            ordered=[tenant_index(t) for t in tenants],
        )
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        if watched:
                            pipe.watch(*watched)  # type: ignore[no-untyped-call]
                        if guard is not None:
                            guard.check(pipe)
                        writes = self._creation_writes(records, raws, held, guard)
                        if watched:
                            pipe.multi()
                            self.creation.queue(pipe, checks, writes)
                            outcome = job_creation.Outcome.of(pipe.execute()[0])
                        else:
                            outcome = self.creation.run(checks, writes)
                        break
                    except redis.WatchError:
                        continue
                    except redis.exceptions.NoScriptError:
                        self.creation.load()
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
        if outcome.status == "full":
            raise QueueFull(
                f"tenant {tenant} has {outcome.active} jobs queued or running; {adding} more "
                f"would pass its limit of {max_queued}",
                retry_after_s=QUEUE_FULL_RETRY_S,
            )
        if outcome.status == "rate":
            assert rate is not None
            raise RateLimited(
                f"tenant {tenant} may submit {rate.per_s:g} renders a second "
                f"(bursts of {rate.burst:g}); {len(records)} more fit in "
                f"{outcome.wait_s:.1f} s",
                retry_after_s=outcome.wait_s,
            )
        return outcome.status == "ok"

    def _creation_writes(
        self,
        records: list[JobRecord],
        raws: list[str],
        held: Collection[str],
        guard: Guard | None,
    ) -> redis.client.Pipeline:
        """The writes of a creation, queued on a pipeline that is never run (the creation
        script applies them, filling in the places it takes)."""
        writes = self.redis.pipeline(transaction=False)
        pending = {record.id: places.pending(i) for i, record in enumerate(records)}
        for record, raw in zip(records, raws, strict=True):
            writes.set(self.key(record.id), raw)
            self.index.add(writes, record, pending[record.id], dispatch=record.id not in held)
            self.events.append(writes, record.tenant, _creation_events(record))
        if guard is not None:
            guard.write(writes, pending)
        return writes

    @staticmethod
    def read_active(pipe: redis.client.Pipeline, tenant: str) -> None:
        """Queue on ``pipe`` the count of the tenant's jobs queued or running (what its queue
        cap counts); ``active_from`` takes the answers."""
        for status in CAPPED:
            pipe.zcard(tenant_index(tenant, status))

    @staticmethod
    def active_from(answers: Iterator[Any]) -> int:
        return sum(int(next(answers)) for _ in CAPPED)

    def get_many(self, job_ids: Sequence[str]) -> list[JobRecord | None]:
        """The records of ``job_ids`` in order; None for one that does not exist."""
        try:
            raws = self.redis.mget([self.key(job_id) for job_id in job_ids]) if job_ids else []
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
        return [
            None if raw is None else self.parse(job_id, raw)
            for job_id, raw in zip(job_ids, cast("list[str | None]", raws), strict=True)
        ]

    def list_page(
        self, tenant: str, status: JobStatus | None, limit: int, cursor: str | None
    ) -> Page:
        """A tenant's jobs, newest first, ``limit`` at a time; an unreadable record is
        skipped (and noted), never the page."""
        ids, next_cursor = self.index.page_ids(tenant, status, limit, cursor)
        try:
            raws = self.redis.mget([self.key(job_id) for job_id in ids]) if ids else []
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
        jobs = self.parse_many(ids, raws)
        return Page(jobs=[job for job in jobs if job.tenant == tenant], next_cursor=next_cursor)

    def delete_finished(
        self, job_id: str, finished_at: datetime | None, guard: Guard | None = None
    ) -> bool:
        """Delete a finished job's record and index entries (record retention); ``guard``
        writes more in the same transaction (a cache hit dropping its source's reference).

        Refused (False) when the job has moved on since it was judged: it is no longer
        finished, or finished again at another time (``finished_at`` is the finish that was
        judged; None for a record that was already gone or unreadable).
        """
        key = self.key(job_id)
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        pipe.watch(key)  # type: ignore[no-untyped-call]
                        raw = pipe.get(key)
                        tenant = None
                        if raw is not None and finished_at is not None:
                            record = self.parse(job_id, raw)
                            if record.finished_at != finished_at:
                                return False
                            tenant = record.tenant
                        pipe.multi()
                        pipe.delete(key)
                        self.index.remove(pipe, job_id, tenant)
                        pipe.hdel(UNREADABLE_KEY, key)
                        if guard is not None:
                            guard.write(pipe, {})
                        pipe.execute()
                        return True
                    except redis.WatchError:
                        continue
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc

    # -- moves --------------------------------------------------------------------------

    def _update(
        self,
        job_id: str,
        change: Callable[[JobRecord], None],
        frames: Sequence[int] = (),
        fence: Fence | None = None,
        guard: Guard | None = None,
    ) -> JobRecord:
        """Apply ``change`` to the record and write it with its index moves and events, in
        one transaction; ``frames`` (progress only) are the frame indices just stored.
        With ``fence``, the write happens only while its key still holds its token;
        ``guard`` watches, checks and writes more in the same transaction."""
        key = self.key(job_id)
        watched = [key, *([fence.key] if fence else []), *(guard.keys if guard else [])]
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        pipe.watch(*watched)  # type: ignore[no-untyped-call]
                        if fence is not None and pipe.get(fence.key) != fence.token:
                            raise FenceLost(f"job {job_id}: {fence.key} is no longer ours")
                        if guard is not None:
                            guard.check(pipe)
                        raw = pipe.get(key)
                        if raw is None:
                            raise self.not_found(job_id)
                        record = self.parse(job_id, raw)
                        old = record.model_copy(deep=True)
                        before = record.status
                        change(record)
                        if record.status not in ALLOWED_MOVES[before] | {before}:
                            raise IllegalTransition(
                                f"job {job_id} cannot move from {before} to {record.status}"
                            )
                        written = self.dump(record)
                        pipe.multi()
                        pipe.set(key, written)
                        self.index.move(pipe, record, before)
                        self.events.append(
                            pipe, record.tenant, events_for_move(old, record, frames)
                        )
                        if guard is not None:
                            guard.write(pipe, {})
                        pipe.execute()
                        return record
                    except redis.WatchError:
                        continue
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
