"""The job store: one JSON record per job in Redis, created and moved in transactions.

Every status move goes through ``_update``, an optimistic transaction (WATCH/MULTI) that
re-reads the record, checks the move is legal and writes record, indexes and the
tenant's events (``render_core.event_log``) together, so two processes racing on one job
cannot both win and no event is lost or invented. Lists and counts of many jobs are
``JobIndex``'s (``store.index``); what each move changes is ``JobMoves``'s
(``render_core.job_moves``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

import redis

from render_core.cache_guards import Guard
from render_core.errors import Conflict, QueueFull
from render_core.event_log import (
    DEFAULT_RETENTION_S,
    EventLog,
    NewEvent,
    events_for_move,
    queued_event,
)
from render_core.job_index import JobIndex, Page, tenant_index
from render_core.job_moves import CacheOutcome, JobMoves
from render_core.records import TenantRecords
from render_core.schema import (
    JobRecord,
    JobStatus,
)

__all__ = ["CAPPED", "QUEUE_FULL_RETRY_S", "CacheOutcome", "IllegalTransition", "JobStore"]

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
        self.events = EventLog(events_retention_s)

    @classmethod
    def from_url(cls, url: str, events_retention_s: float = DEFAULT_RETENTION_S) -> JobStore:
        return cls(redis.Redis.from_url(url, decode_responses=True), events_retention_s)

    def create(
        self,
        records: Iterable[JobRecord],
        max_queued: int | None = None,
        held: Collection[str] = (),
        guard: Guard | None = None,
    ) -> None:
        """Store new jobs with their index entries, all or none.

        With ``max_queued`` the tenant's jobs queued or running, the queued ones here
        included, may not pass it (``QueueFull``). The count is read under WATCH, so two
        submissions of one tenant racing in two API processes cannot both slip past the
        cap. ``held`` jobs are queued but kept out of the fair queue (cache followers);
        a job created ``succeeded`` (a cache hit) gets its queued and succeeded events.
        ``guard`` adds keys to watch, a check under WATCH and writes to the transaction.
        """
        records = list(records)
        tenants = {record.tenant for record in records}
        adding = sum(record.status == JobStatus.queued for record in records)
        capped = [tenant_index(t, s) for t in tenants for s in CAPPED] if max_queued else []
        watched = [*capped, *(guard.keys if guard else [])]
        try:
            scores = self.index.reserve_scores(len(records))
            by_id = {r.id: float(score) for r, score in zip(records, scores, strict=True)}
            with self.redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        if watched:
                            pipe.watch(*watched)  # type: ignore[no-untyped-call]
                        if capped:
                            self._check_cap(pipe, tenants, adding, max_queued or 0)
                        if guard is not None:
                            guard.check(pipe)
                        pipe.multi()
                        for record, score in zip(records, scores, strict=True):
                            pipe.set(self.key(record.id), record.model_dump_json())
                            self.index.add(pipe, record, score, dispatch=record.id not in held)
                            self.events.append(pipe, record.tenant, _creation_events(record))
                        if guard is not None:
                            guard.write(pipe, by_id)
                        pipe.execute()
                        return
                    except redis.WatchError:
                        continue
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc

    @staticmethod
    def _check_cap(
        pipe: redis.client.Pipeline, tenants: set[str], adding: int, max_queued: int
    ) -> None:
        (tenant,) = tenants  # a submission belongs to one tenant
        active = sum(int(pipe.zcard(tenant_index(tenant, s))) for s in CAPPED)
        if active + adding > max_queued:
            raise QueueFull(
                f"tenant {tenant} has {active} jobs queued or running; {adding} more would "
                f"pass its limit of {max_queued}",
                retry_after_s=QUEUE_FULL_RETRY_S,
            )

    def active_count(self, tenant: str) -> int:
        """The tenant's jobs queued or running (what its queue cap counts)."""
        try:
            pipe = self.redis.pipeline(transaction=False)
            for status in CAPPED:
                pipe.zcard(tenant_index(tenant, status))
            return sum(int(n) for n in pipe.execute())
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc

    def get_many(self, job_ids: Sequence[str]) -> list[JobRecord]:
        """The records that exist, in the order asked, in one round trip."""
        if not job_ids:
            return []
        try:
            raws = self.redis.mget([self.key(job_id) for job_id in job_ids])
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
        return [JobRecord.model_validate_json(raw) for raw in raws if raw is not None]

    def list_page(
        self, tenant: str, status: JobStatus | None, limit: int, cursor: str | None
    ) -> Page:
        """A tenant's jobs, newest first, ``limit`` at a time."""
        ids, next_cursor = self.index.page_ids(tenant, status, limit, cursor)
        return Page(jobs=self.get_many(ids), next_cursor=next_cursor)

    # -- moves --------------------------------------------------------------------------

    def _update(
        self,
        job_id: str,
        change: Callable[[JobRecord], None],
        frames: Sequence[int] = (),
        guard: Guard | None = None,
    ) -> JobRecord:
        """Apply ``change`` to the record and write it with its index moves and events, in
        one transaction; ``frames`` (progress only) are the frame indices just stored;
        ``guard`` watches, checks and writes more in the same transaction."""
        key = self.key(job_id)
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        pipe.watch(key, *(guard.keys if guard else []))  # type: ignore[no-untyped-call]
                        if guard is not None:
                            guard.check(pipe)
                        raw = pipe.get(key)
                        if raw is None:
                            raise self.not_found(job_id)
                        record = JobRecord.model_validate_json(raw)
                        old = record.model_copy(deep=True)
                        before = record.status
                        change(record)
                        if record.status not in ALLOWED_MOVES[before] | {before}:
                            raise IllegalTransition(
                                f"job {job_id} cannot move from {before} to {record.status}"
                            )
                        pipe.multi()
                        pipe.set(key, record.model_dump_json())
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
