"""The Celery task: thin on purpose.

It hands the job id to the pipeline and turns a retry plan into Celery's own delayed
retry; everything else is plain code in ``workers.pipeline``.
"""

from __future__ import annotations

from celery import Celery, Task

from render_core.queue import RENDER_TASK
from render_core.settings import Settings
from render_core.storage import ObjectStore
from workers.pipeline import run_attempt
from workers.services import current_services


def register_tasks(app: Celery, settings: Settings, store: ObjectStore) -> None:
    # The job store counts attempts (RENDER_MAX_ATTEMPTS); Celery's own limit must not
    # cut in first. ``retry(max_retries=None)`` alone means "the task's default", which is 3.
    @app.task(name=RENDER_TASK, bind=True, max_retries=None)  # type: ignore[untyped-decorator]
    def render(self: Task, job_id: str) -> None:
        outcome = run_attempt(current_services(settings, store), job_id, str(self.request.hostname))
        if outcome.retry is not None:
            raise self.retry(countdown=outcome.retry.delay_s)
