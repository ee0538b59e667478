"""The reaper: jobs whose attempt died with its worker go back to the queue.

Celery on Redis redelivers an unacknowledged message only after the visibility timeout,
which must outlast the longest render (hours). The reaper does not wait that long: a
``running`` job whose attempt lease has expired lost its process, so it is requeued
(or failed as ``worker_lost`` once out of attempts). One reaper at a time holds a lock.

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
from render_core.errors import RenderServiceError, WorkerLost
from render_core.heartbeats import lease_key
from render_core.jobs import JobStore
from render_core.queue import enqueue
from render_core.records import PREFIX
from render_core.schema import JobError, JobStatus
from render_core.settings import Settings

log = logging.getLogger(__name__)

LOCK_KEY = f"{PREFIX}:reaper:lock"
LOCK_TTL_S = 10


def resend_orphans(jobs: JobStore, celery: Celery, settings: Settings) -> list[str]:
    """Queued jobs taken for dispatch whose message was never marked sent (the dispatcher
    died in between) get one.

    A duplicate message is harmless: the claim in the job store lets one attempt run.
    """
    sent: list[str] = []
    for job_id in jobs.index.unsent_since(time.time() - settings.orphan_age_s):
        record = jobs.get(job_id)
        if record.status != JobStatus.queued or record.enqueued_at is not None:
            continue
        record.task_id = uuid.uuid4().hex
        enqueue(celery, settings, jobs, [record])
        log.warning("job %s had no message; sent one", job_id)
        sent.append(job_id)
    return sent


def reap_lost_attempts(
    client: redis.Redis, jobs: JobStore, celery: Celery, settings: Settings, holder: str
) -> list[str]:
    """Requeue or fail running jobs without a live lease and send messages to orphaned
    queued jobs; returns the job ids touched."""
    if not client.set(LOCK_KEY, holder, nx=True, ex=LOCK_TTL_S):
        return []
    touched: list[str] = []
    try:
        for job_id in jobs.index.ids_with_status(JobStatus.running, limit=10_000):
            record = jobs.get(job_id)
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
        Dispatcher(celery, settings, jobs).top_up()
    finally:
        if client.get(LOCK_KEY) == holder:
            client.delete(LOCK_KEY)
    return touched
