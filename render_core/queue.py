"""Celery wiring shared by the API (which only sends) and the workers (which consume).

The settings below are the long-job settings of DESIGN.md; each line says why.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery

from render_core.errors import QueueUnavailable
from render_core.jobs import JobStore
from render_core.redis_conn import broker_transport_options, broker_url
from render_core.schema import JobRecord, Priority
from render_core.settings import Settings

RENDER_TASK = "avatar_render.render"


def queue_name(settings: Settings, priority: Priority) -> str:
    """Interactive and batch jobs wait in separate queues; workers drain interactive first."""
    return f"{settings.queue}.{priority.value}"


def render_queues(settings: Settings) -> list[str]:
    """The queues a render worker consumes, most urgent first."""
    return [queue_name(settings, p) for p in (Priority.interactive, Priority.batch)]


def make_celery(settings: Settings) -> Celery:
    """A Celery app for our broker; no result backend: job state lives in our job store."""
    app = Celery("avatar_render", broker=broker_url(settings), set_as_current=False)
    transport = {
        **broker_transport_options(settings),  # explicit timeouts: never wait forever
        # Redelivery of an unacknowledged message: longer than the longest render, the
        # same on every worker (the scanning worker's value is the one that counts).
        "visibility_timeout": settings.visibility_timeout_s,
        # Strict order of the queue list: interactive before batch.
        "queue_order_strategy": "priority",
    }
    app.conf.update(
        task_serializer="json",  # messages carry a job id, never pickles
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,  # the job record, not Celery's result, is the truth
        task_acks_late=True,  # acknowledge after the render, so a crash loses nothing
        task_reject_on_worker_lost=True,  # a killed pool child requeues its job
        worker_prefetch_multiplier=1,  # never hold a second long job behind a running one
        task_track_started=True,
        worker_send_task_events=True,  # Flower sees every task
        task_send_sent_event=True,  # ... including queued ones
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=settings.redis_connect_timeout_s,
        # A pool child is up once its renderer is loaded and warmed up (compiling W+G
        # takes minutes on a cold compile cache); Celery's 4 s default would kill it.
        worker_proc_alive_timeout=settings.worker_start_timeout_s,
        worker_hijack_root_logger=False,
        task_default_queue=queue_name(settings, Priority.interactive),
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


def time_limits(settings: Settings, frame_count: int) -> tuple[float, float]:
    """Soft and hard limits of one attempt, from its frame count, under the visibility timeout.

    The soft limit raises inside the render (a transient ``timeout``, retried); the hard
    limit kills a render that ignores it, and the reaper requeues the job.
    """
    soft = settings.time_limit_floor_s + frame_count * settings.expected_frame_s
    hard = soft * 1.2 + 30.0
    ceiling = settings.visibility_timeout_s * 0.9
    return min(soft, ceiling * 0.8), min(hard, ceiling)


class NotEnqueued(QueueUnavailable):
    """A job's message could not be sent; ``unsent`` are it and the jobs after it."""

    def __init__(self, message: str, unsent: list[JobRecord]) -> None:
        super().__init__(message)
        self.unsent = unsent


def enqueue(
    app: Celery, settings: Settings, jobs: JobStore, records: Sequence[JobRecord]
) -> list[JobRecord]:
    """Send each job's message, then mark it enqueued: the one way a job reaches the queue.

    Sending is by task name (the producer never imports worker code); a message carries
    only the job id. A job whose sender dies between the two steps stays queued without
    the mark, and the reaper sends it again. A send that fails raises ``NotEnqueued``
    naming the jobs left unsent, so the caller decides their fate.
    """
    sent: list[JobRecord] = []
    for position, record in enumerate(records):
        assert record.task_id is not None, "a job is enqueued under the message id it holds"
        soft, hard = time_limits(settings, record.request.frame_count)
        try:
            app.send_task(
                RENDER_TASK,
                args=[record.id],
                queue=queue_name(settings, record.request.priority),
                task_id=record.task_id,
                soft_time_limit=soft,
                time_limit=hard,
            )
        except Exception as exc:  # kombu raises many types; all mean "not sent"
            raise NotEnqueued(f"not enqueued: {exc}", list(records[position:])) from exc
        sent.append(jobs.mark_enqueued(record.id, record.task_id))
    return sent
