"""The worker's Celery app: the shared wiring plus our task and the per-process set-up."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from render_core.queue import make_celery
from render_core.settings import Settings
from workers.services import init_services
from workers.tasks import register_tasks


def create_worker_app(settings: Settings) -> Celery:
    app = make_celery(settings)
    register_tasks(app, settings)

    @worker_process_init.connect(weak=False)  # type: ignore[untyped-decorator]
    def _load_in_child(**_: Any) -> None:
        # Runs in each pool child after the fork: clients and model belong to the child.
        init_services(settings)

    return app
