"""The job store: one JSON record per job in Redis, and the state moves between statuses.

Every status move goes through ``_update``, an optimistic transaction (WATCH/MULTI) that
re-reads the record, checks the move is legal and writes record, indexes and the
tenant's events (``render_core.event_log``) together, so two processes racing on one job
cannot both win and no event is lost or invented. Lists and counts of many jobs are
``JobIndex``'s (``store.index``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import redis

from render_core.errors import Conflict, QueueFull, StaleAttempt, WorkerLost
from render_core.event_log import DEFAULT_RETENTION_S, EventLog, events_for_move, queued_event
from render_core.job_index import JobIndex, Page, tenant_index
from render_core.records import TenantRecords
from render_core.schema import JobError, JobRecord, JobStatus, RendererInfo, utc_now

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


class IllegalTransition(Conflict):
    """The job's status does not allow that move."""

    code = "illegal_transition"


class JobStore(TenantRecords[JobRecord]):
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

    def create(self, records: Iterable[JobRecord], max_queued: int | None = None) -> None:
        """Store new queued jobs with their index entries, all or none.

        With ``max_queued`` the tenant's jobs queued or running, these included, may not
        pass it (``QueueFull``). The count is read under WATCH, so two submissions of one
        tenant racing in two API processes cannot both slip past the cap.
        """
        records = list(records)
        tenants = {record.tenant for record in records}
        watched = [tenant_index(t, s) for t in tenants for s in CAPPED] if max_queued else []
        try:
            scores = self.index.reserve_scores(len(records))
            with self.redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        if watched:
                            pipe.watch(*watched)  # type: ignore[no-untyped-call]
                            self._check_cap(pipe, tenants, len(records), max_queued or 0)
                        pipe.multi()
                        for record, score in zip(records, scores, strict=True):
                            pipe.set(self.key(record.id), record.model_dump_json())
                            self.index.add(pipe, record, score)
                            self.events.append(pipe, record.tenant, [queued_event(record)])
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
        self, job_id: str, change: Callable[[JobRecord], None], frames: Sequence[int] = ()
    ) -> JobRecord:
        """Apply ``change`` to the record and write it with its index moves and events, in
        one transaction; ``frames`` (progress only) are the frame indices just stored."""
        key = self.key(job_id)
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        pipe.watch(key)  # type: ignore[no-untyped-call]
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
                        pipe.execute()
                        return record
                    except redis.WatchError:
                        continue
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc

    def mark_enqueued(self, job_id: str, task_id: str) -> JobRecord:
        """The message ``task_id`` was sent; a queued job without this mark may have none."""

        def change(record: JobRecord) -> None:
            record.task_id = task_id
            record.enqueued_at = utc_now()

        return self._update(job_id, change)

    def start_attempt(
        self, job_id: str, worker: str, renderer: RendererInfo, max_attempts: int
    ) -> JobRecord | None:
        """Claim the job for a new attempt; None when it must not run.

        A job found ``running`` was redelivered because its attempt died with its
        worker; once that has used up the attempts it fails as ``worker_lost`` instead
        of taking the next worker down with it.
        """
        claimed: list[bool] = []

        def change(record: JobRecord) -> None:
            claimed.clear()
            if record.status not in (JobStatus.queued, JobStatus.running):
                return
            if record.cancel_requested:
                record.status = JobStatus.cancelled
                record.finished_at = utc_now()
                return
            if record.status == JobStatus.running and record.attempts >= max_attempts:
                record.status = JobStatus.failed
                record.error = JobError(
                    code=WorkerLost.code,
                    message=f"the worker died during each of {record.attempts} attempts",
                    retryable=True,
                )
                record.finished_at = utc_now()
                return
            record.status = JobStatus.running
            record.attempts += 1
            record.attempt_token = uuid.uuid4().hex
            record.worker = worker
            record.renderer = renderer
            record.started_at = utc_now()
            record.finished_at = None
            record.progress.frames_done = 0
            claimed.append(True)

        record = self._update(job_id, change)
        return record if claimed else None

    @staticmethod
    def _check_owner(record: JobRecord, token: str) -> None:
        if record.status != JobStatus.running or record.attempt_token != token:
            raise StaleAttempt(f"attempt {token} no longer owns job {record.id}")

    def record_progress(
        self, job_id: str, token: str, frames_done: int, stored: Sequence[int] = ()
    ) -> JobRecord:
        """Progress of the owning attempt; tells the caller whether a cancel was asked.

        ``stored`` are the indices of the frames written to storage since the last call;
        the progress event names them, so a client can fetch frames as they land.
        """

        def change(record: JobRecord) -> None:
            self._check_owner(record, token)
            record.progress.frames_done = frames_done

        return self._update(job_id, change, stored)

    def succeed(self, job_id: str, token: str, manifest_key: str, output_prefix: str) -> JobRecord:
        def change(record: JobRecord) -> None:
            self._check_owner(record, token)
            record.status = JobStatus.succeeded
            record.manifest_key = manifest_key
            record.output_prefix = output_prefix
            record.error = None
            record.finished_at = utc_now()

        return self._update(job_id, change)

    def mark_cancelled(self, job_id: str, token: str) -> JobRecord:
        def change(record: JobRecord) -> None:
            self._check_owner(record, token)
            record.status = JobStatus.cancelled
            record.finished_at = utc_now()

        return self._update(job_id, change)

    def fail(self, job_id: str, token: str | None, error: JobError) -> JobRecord:
        """Final failure: the job enters the failed (dead-letter) index."""

        def change(record: JobRecord) -> None:
            if token is not None:
                self._check_owner(record, token)
            record.status = JobStatus.failed
            record.error = error
            record.finished_at = utc_now()

        return self._update(job_id, change)

    def requeue(
        self, job_id: str, token: str | None, error: JobError, task_id: str | None = None
    ) -> JobRecord:
        """A transient failure: back to queued, waiting for the retry message.

        ``task_id`` names the new message when the caller sends one (the reaper); a
        Celery retry keeps the message id it has.
        """

        def change(record: JobRecord) -> None:
            if token is not None:
                self._check_owner(record, token)
            record.status = JobStatus.queued
            record.error = error
            record.attempt_token = None
            if task_id is not None:
                record.task_id = task_id
                record.enqueued_at = None

        return self._update(job_id, change)

    def request_cancel(self, job_id: str) -> JobRecord:
        """Cancel a queued job at once; flag a running one, which stops at its next batch."""

        def change(record: JobRecord) -> None:
            if record.status == JobStatus.cancelled:
                return
            if record.status.is_terminal:
                raise Conflict(f"job {job_id} already {record.status.value}")
            record.cancel_requested = True
            if record.status == JobStatus.queued:
                record.status = JobStatus.cancelled
                record.finished_at = utc_now()

        return self._update(job_id, change)

    def retry(self, job_id: str, task_id: str) -> JobRecord:
        """Replay a failed or cancelled job as a new attempt, under a new message id."""

        def change(record: JobRecord) -> None:
            if record.status not in (JobStatus.failed, JobStatus.cancelled):
                raise Conflict(
                    f"job {job_id} is {record.status.value}; only failed or cancelled jobs retry"
                )
            record.status = JobStatus.queued
            record.task_id = task_id
            record.enqueued_at = None
            record.cancel_requested = False
            record.error = None
            record.attempt_token = None
            record.finished_at = None
            record.progress.frames_done = 0
            record.outputs_expired = False  # the new attempt writes new outputs

        return self._update(job_id, change)

    def mark_outputs_expired(self, job_id: str, finished_at: datetime) -> JobRecord:
        """Retention deleted the outputs of the finish at ``finished_at``; the API answers 410.

        Refused (``Conflict``) when the job has moved on since retention judged it (a
        manual retry), so that a new attempt's outputs are never reported gone.
        """

        def change(record: JobRecord) -> None:
            if not record.status.is_terminal or record.finished_at != finished_at:
                raise Conflict(f"job {job_id} is {record.status.value}: it has run again")
            record.outputs_expired = True

        return self._update(job_id, change)
