"""The job store: one JSON record per job in Redis, and the indexes that list them.

Every status move goes through ``_update``, an optimistic transaction (WATCH/MULTI) that
re-reads the record, checks the move is legal and writes record and indexes together,
so two processes racing on one job cannot both win.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import redis

from render_core.errors import Conflict, NotFound, QueueUnavailable, StaleAttempt, WorkerLost
from render_core.schema import JobError, JobRecord, JobStatus, RendererInfo, utc_now

PREFIX = "ar"

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


class IllegalTransition(Conflict):
    """The job's status does not allow that move."""

    code = "illegal_transition"


def _job_key(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def _tenant_index(tenant: str, status: JobStatus | None = None) -> str:
    base = f"{PREFIX}:tenant:{tenant}:jobs"
    return base if status is None else f"{base}:{status.value}"


def status_index(status: JobStatus) -> str:
    """All jobs of one status, every tenant; ``failed`` is the dead-letter index."""
    return f"{PREFIX}:status:{status.value}"


SEQUENCE_KEY = f"{PREFIX}:seq"
# Queued jobs without a sent message, scored by when they became so (epoch seconds): the
# reaper reads only these, not every queued record.
UNSENT_KEY = f"{PREFIX}:unsent"


def _awaits_message(record: JobRecord) -> bool:
    return record.status == JobStatus.queued and record.enqueued_at is None


@dataclass(frozen=True)
class Page:
    jobs: list[JobRecord]
    next_cursor: str | None


class JobStore:
    """Job records and their indexes in Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    @classmethod
    def from_url(cls, url: str) -> JobStore:
        return cls(redis.Redis.from_url(url, decode_responses=True))

    # -- creation and reads -------------------------------------------------------------

    def create(self, records: Iterable[JobRecord]) -> None:
        """Store new queued jobs, all or none."""
        records = list(records)
        try:
            last = int(self.redis.incrby(SEQUENCE_KEY, len(records)))
            pipe = self.redis.pipeline(transaction=True)
            for offset, record in enumerate(records):
                score = last - len(records) + offset + 1
                pipe.set(_job_key(record.id), record.model_dump_json())
                pipe.zadd(_tenant_index(record.tenant), {record.id: score})
                pipe.zadd(_tenant_index(record.tenant, record.status), {record.id: score})
                pipe.zadd(status_index(record.status), {record.id: score})
                if _awaits_message(record):
                    pipe.zadd(UNSENT_KEY, {record.id: record.created_at.timestamp()})
            pipe.execute()
        except redis.RedisError as exc:
            raise QueueUnavailable(f"job store unavailable: {exc}") from exc

    def get(self, job_id: str) -> JobRecord:
        try:
            raw = self.redis.get(_job_key(job_id))
        except redis.RedisError as exc:
            raise QueueUnavailable(f"job store unavailable: {exc}") from exc
        if raw is None:
            raise NotFound(f"job {job_id} not found")
        return JobRecord.model_validate_json(raw)

    def get_for_tenant(self, tenant: str, job_id: str) -> JobRecord:
        """Another tenant's job is answered exactly like a missing one."""
        record = self.get(job_id)
        if record.tenant != tenant:
            raise NotFound(f"job {job_id} not found")
        return record

    def list_page(
        self, tenant: str, status: JobStatus | None, limit: int, cursor: str | None
    ) -> Page:
        """Newest first; the cursor is the position of the last job of the previous page."""
        upper = f"({int(cursor)}" if cursor else "+inf"
        try:
            rows = cast(
                "list[tuple[str, float]]",
                self.redis.zrevrangebyscore(
                    _tenant_index(tenant, status),
                    upper,
                    "-inf",
                    start=0,
                    num=limit,
                    withscores=True,
                ),
            )
            raws = self.redis.mget([_job_key(job_id) for job_id, _ in rows]) if rows else []
        except redis.RedisError as exc:
            raise QueueUnavailable(f"job store unavailable: {exc}") from exc
        jobs = [JobRecord.model_validate_json(raw) for raw in raws if raw is not None]
        next_cursor = str(int(rows[-1][1])) if len(rows) == limit else None
        return Page(jobs=jobs, next_cursor=next_cursor)

    def count(self, status: JobStatus) -> int:
        return int(self.redis.zcard(status_index(status)))

    def unsent_since(self, before: float, limit: int = 1000) -> list[str]:
        """Queued jobs that have had no sent message since before ``before`` (epoch s)."""
        return cast("list[str]", self.redis.zrangebyscore(UNSENT_KEY, "-inf", before, 0, limit))

    def ids_with_status(self, status: JobStatus, limit: int = 1000) -> list[str]:
        return cast("list[str]", self.redis.zrange(status_index(status), 0, limit - 1))

    # -- moves --------------------------------------------------------------------------

    def _update(self, job_id: str, change: Callable[[JobRecord], None]) -> JobRecord:
        key = _job_key(job_id)
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        pipe.watch(key)  # type: ignore[no-untyped-call]
                        raw = pipe.get(key)
                        if raw is None:
                            raise NotFound(f"job {job_id} not found")
                        record = JobRecord.model_validate_json(raw)
                        before = record.status
                        change(record)
                        if record.status not in ALLOWED_MOVES[before] | {before}:
                            raise IllegalTransition(
                                f"job {job_id} cannot move from {before} to {record.status}"
                            )
                        pipe.multi()
                        pipe.set(key, record.model_dump_json())
                        if record.status != before:
                            self._move_indexes(pipe, record, before)
                        if _awaits_message(record):
                            pipe.zadd(UNSENT_KEY, {record.id: time.time()}, nx=True)
                        else:
                            pipe.zrem(UNSENT_KEY, record.id)
                        pipe.execute()
                        return record
                    except redis.WatchError:
                        continue
        except redis.RedisError as exc:
            raise QueueUnavailable(f"job store unavailable: {exc}") from exc

    def _move_indexes(
        self, pipe: redis.client.Pipeline, record: JobRecord, before: JobStatus
    ) -> None:
        score = self.redis.zscore(_tenant_index(record.tenant), record.id) or 0
        pipe.zrem(_tenant_index(record.tenant, before), record.id)
        pipe.zrem(status_index(before), record.id)
        pipe.zadd(_tenant_index(record.tenant, record.status), {record.id: score})
        pipe.zadd(status_index(record.status), {record.id: score})

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

    def record_progress(self, job_id: str, token: str, frames_done: int) -> JobRecord:
        """Progress of the owning attempt; tells the caller whether a cancel was asked."""

        def change(record: JobRecord) -> None:
            self._check_owner(record, token)
            record.progress.frames_done = frames_done

        return self._update(job_id, change)

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
