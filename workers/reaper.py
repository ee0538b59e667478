"""The reaper: jobs whose attempt died with its worker go back to the queue.

Celery on Redis redelivers an unacknowledged message only after the visibility timeout,
which must outlast the longest render (hours). The reaper does not wait that long: a
``running`` job whose attempt lease has expired lost its process, so it is requeued
(or failed as ``worker_lost`` once out of attempts). One reaper at a time holds a lock;
it also deletes finished jobs past record retention (``render_core.retention``).

A requeued job goes back into its tenant's fair queue at its old place (the front), and
the dispatch step sends it; a job a dispatcher took and never marked sent (it died in
between) is re-sent here.
"""

from __future__ import annotations

import logging
import time
import uuid

import redis
from celery import Celery

from render_core.dispatch import Dispatcher
from render_core.errors import NotFound, RenderServiceError, UnreadableRecord, WorkerLost
from render_core.heartbeats import lease_key
from render_core.jobs import JobStore
from render_core.queue import enqueue
from render_core.records import PREFIX
from render_core.retention import expire_records
from render_core.schema import JobError, JobRecord, JobStatus
from render_core.settings import Settings
from render_core.storage import ObjectStore

log = logging.getLogger(__name__)

LOCK_KEY = f"{PREFIX}:reaper:lock"
LOCK_TTL_S = 10


def _read(jobs: JobStore, job_id: str) -> JobRecord | None:
    """One record of a round, or None: an unreadable one (noted by the store) or one gone
    since the index was read is skipped, so one bad record never stops the round."""
    try:
        return jobs.get(job_id)
    except (UnreadableRecord, NotFound) as exc:
        log.warning("reaper skips job %s: %s", job_id, exc)
        return None


def resend_orphans(jobs: JobStore, celery: Celery, settings: Settings) -> list[str]:
    """Queued jobs taken for dispatch whose message was never marked sent (the dispatcher
    died in between) get one.

    A duplicate message is harmless: the claim in the job store lets one attempt run.
    """
    sent: list[str] = []
    for job_id in jobs.index.unsent_since(time.time() - settings.orphan_age_s):
        record = _read(jobs, job_id)
        if record is None or record.status != JobStatus.queued or record.enqueued_at is not None:
            continue
        record.task_id = uuid.uuid4().hex
        enqueue(celery, settings, jobs, [record])
        log.warning("job %s had no message; sent one", job_id)
        sent.append(job_id)
    return sent


def reap_lost_attempts(
    client: redis.Redis,
    jobs: JobStore,
    celery: Celery,
    settings: Settings,
    holder: str,
    store: ObjectStore | None = None,
) -> list[str]:
    """Requeue or fail running jobs without a live lease and send messages to orphaned
    queued jobs; returns the job ids touched. With ``store``, also delete the jobs past
    record retention (``RENDER_JOB_RETENTION_S``), a batch a round."""
    if not client.set(LOCK_KEY, holder, nx=True, ex=LOCK_TTL_S):
        return []
    touched: list[str] = []
    try:
        for job_id in jobs.index.ids_with_status(JobStatus.running, limit=10_000):
            record = _read(jobs, job_id)
            if record is None:
                continue
            token = record.attempt_token
            if (
                record.status != JobStatus.running
                or token is None
                or client.exists(lease_key(token))
            ):
                continue
            error = JobError(
                code=WorkerLost.code,
                message=f"the worker {record.worker} stopped during attempt {record.attempts}",
                retryable=True,
            )
            try:
                if record.attempts >= settings.max_attempts:
                    jobs.fail(job_id, token, error)
                    log.warning("job %s failed: worker lost on its last attempt", job_id)
                else:
                    jobs.requeue(job_id, token, error, task_id=uuid.uuid4().hex)
                    log.warning("job %s requeued: its worker %s is gone", job_id, record.worker)
                touched.append(job_id)
            except RenderServiceError as exc:  # it moved on meanwhile (finished, taken over)
                log.info("job %s not reaped: %s", job_id, exc)
        touched += resend_orphans(jobs, celery, settings)
        if store is not None:
            try:
                expire_records(jobs, store, settings.job_retention_s)
            except RenderServiceError as exc:  # storage down: the next round tries again
                log.warning("record retention postponed: %s", exc)
        Dispatcher(celery, settings, jobs).top_up()
    finally:
        if client.get(LOCK_KEY) == holder:
            client.delete(LOCK_KEY)
    return touched
