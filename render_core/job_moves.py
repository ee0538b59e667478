"""The status moves of a job: each is a change applied by the store's ``_update``.

``JobMoves`` is mixed into ``JobStore`` (``render_core.jobs``), which owns the record
transaction; here is only what each move changes and when it is refused.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from render_core.cache_guards import Guard
from render_core.errors import Conflict, StaleAttempt, WorkerLost
from render_core.schema import (
    CacheResult,
    JobError,
    JobRecord,
    JobStatus,
    RendererInfo,
    utc_now,
)


@dataclass(frozen=True)
class CacheOutcome:
    """How a success stands to the render cache: a ``hit`` of ``rendered_by``'s render,
    or a ``miss`` that fills the cache; ``guard`` is the cache's part of the commit."""

    result: CacheResult
    guard: Guard
    rendered_by: str | None = None


class JobMoves(ABC):
    """Every legal move of a job record, written through ``_update``."""

    @abstractmethod
    def _update(
        self,
        job_id: str,
        change: Callable[[JobRecord], None],
        frames: Sequence[int] = (),
        fence: Any = None,
        guard: Guard | None = None,
    ) -> JobRecord: ...

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

    def succeed(
        self,
        job_id: str,
        token: str,
        manifest_key: str,
        output_prefix: str,
        cache: CacheOutcome | None = None,
    ) -> JobRecord:
        """Commit the attempt; with ``cache``, as a hit of another render or as the render
        that fills the cache, in the same transaction."""

        def change(record: JobRecord) -> None:
            self._check_owner(record, token)
            record.status = JobStatus.succeeded
            record.manifest_key = manifest_key
            record.output_prefix = output_prefix
            record.error = None
            record.finished_at = utc_now()
            record.rendered_by = (cache.rendered_by if cache else None) or job_id
            if cache is not None:
                record.cache = cache.result
            if record.cache == CacheResult.hit:  # every frame exists: the source's
                record.progress.frames_done = record.progress.frames_total

        return self._update(job_id, change, guard=cache.guard if cache else None)

    def mark_cancelled(self, job_id: str, token: str) -> JobRecord:
        def change(record: JobRecord) -> None:
            self._check_owner(record, token)
            record.status = JobStatus.cancelled
            record.finished_at = utc_now()

        return self._update(job_id, change)

    def fail(self, job_id: str, token: str | None, error: JobError, fence: Any = None) -> JobRecord:
        """Final failure: the job enters the failed (dead-letter) index. With ``fence``
        (``render_core.jobs.Fence``), only while the caller still holds that lease."""

        def change(record: JobRecord) -> None:
            if token is not None:
                self._check_owner(record, token)
            record.status = JobStatus.failed
            record.error = error
            record.finished_at = utc_now()

        return self._update(job_id, change, fence=fence)

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

    def mark_outputs_expired(
        self, job_id: str, finished_at: datetime, guard: Guard | None = None
    ) -> JobRecord:
        """Retention deleted the outputs of the finish at ``finished_at``; the API answers 410.

        Refused (``Conflict``) when the job has moved on since retention judged it (a
        manual retry), so that a new attempt's outputs are never reported gone.
        """

        def change(record: JobRecord) -> None:
            if not record.status.is_terminal or record.finished_at != finished_at:
                raise Conflict(f"job {job_id} is {record.status.value}: it has run again")
            record.outputs_expired = True

        return self._update(job_id, change, guard=guard)
