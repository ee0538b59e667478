"""Start a Celery worker process for one renderer (the ``avatar-render worker`` command)."""

from __future__ import annotations

import os
import socket

from render_core.queue import render_queues
from render_core.settings import Settings
from render_core.storage import open_store
from workers.celery_app import create_worker_app


def worker_argv(
    settings: Settings, queues: list[str], concurrency: int, name: str | None, loglevel: str
) -> list[str]:
    """Prefork with one child per worker: the parent never touches CUDA, the child renders."""
    node = name or f"{settings.renderer}-{socket.gethostname()}"
    return [
        "worker",
        f"--loglevel={loglevel}",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        f"--queues={','.join(queues)}",
        f"--hostname={node}@%h",
        "--task-events",
        "--without-gossip",
        "--without-mingle",
    ]


def run_worker(
    settings: Settings,
    queues: list[str] | None = None,
    concurrency: int = 1,
    name: str | None = None,
    loglevel: str = "INFO",
) -> None:
    # A missing bucket or refused credentials stop the worker here, before Celery forks
    # (a pool child's failed set-up is only logged). This is the worker's one store: the
    # children use it too (S3 clients are made per process, on first use).
    store = open_store(settings)
    store.check()
    if settings.worker_nice:
        os.nice(settings.worker_nice)  # before Celery forks: its pool inherits it
    consumed = queues or render_queues(settings)
    app = create_worker_app(settings, consumed, store, concurrency)
    app.worker_main(worker_argv(settings, consumed, concurrency, name, loglevel))
