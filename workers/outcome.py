"""What became of an attempt, and the retry-or-fail decision for one that stopped on an error."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import redis
from celery.exceptions import SoftTimeLimitExceeded

from render_core.errors import (
    PermanentRenderError,
    QueueUnavailable,
    RenderServiceError,
    RenderTimeout,
    StaleAttempt,
)
from render_core.jobs import JobStore
from render_core.schema import JobError, JobStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_s: float
    backoff_max_s: float


@dataclass(frozen=True)
class RetryPlan:
    """Retry after ``delay_s`` seconds (the job is back to ``queued``)."""

    delay_s: float


def classify_failure(exc: BaseException) -> RenderServiceError:
    """Our own errors say what they are; a few library errors are known transients;
    anything else is a bug, failed at once rather than retried into a loop."""
    if isinstance(exc, RenderServiceError):
        return exc
    if isinstance(exc, SoftTimeLimitExceeded):
        return RenderTimeout("the attempt ran past its time limit")
    if isinstance(exc, redis.RedisError):
        return QueueUnavailable(f"Redis failed during the render: {exc}")
    return PermanentRenderError(f"internal error: {exc!r}", code="internal_error")


def backoff_delay(attempts: int, base_s: float, max_s: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(n-1))].

    Our own arithmetic rather than Celery's helper, which takes whole seconds only.
    """
    return random.uniform(0.0, min(max_s, base_s * 2 ** max(0, attempts - 1)))


def settle_failure(
    jobs: JobStore,
    job_id: str,
    token: str,
    exc: RenderServiceError,
    policy: RetryPolicy,
) -> RetryPlan | None:
    """Requeue a transient failure that has attempts left; fail everything else.

    A stale attempt (another one owns the job now) changes nothing.
    """
    if isinstance(exc, StaleAttempt):
        log.info("job %s: stale attempt stopped without writing", job_id)
        return None
    record = jobs.get(job_id)
    if record.status != JobStatus.running or record.attempt_token != token:
        log.info("job %s: attempt %s no longer owns the job", job_id, token)
        return None
    error = JobError(code=exc.code, message=exc.message, retryable=exc.retryable)
    if exc.retryable and record.attempts < policy.max_attempts:
        delay = backoff_delay(record.attempts, policy.backoff_s, policy.backoff_max_s)
        jobs.requeue(job_id, token, error)
        return RetryPlan(delay_s=delay)
    jobs.fail(job_id, token, error)
    return None
