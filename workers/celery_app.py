"""The worker's Celery app: the shared wiring plus our task and the per-process set-up."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import task_received, worker_process_init, worker_ready, worker_shutdown

from render_core.dispatch import Dispatcher
from render_core.jobs import JobStore
from render_core.queue import make_celery
from render_core.redis_conn import sync_redis
from render_core.settings import Settings
from render_core.storage import ObjectStore
from workers.dispatch_thread import DispatchThread
from workers.heartbeat import HeartbeatThread
from workers.reaper import reap_lost_attempts
from workers.services import init_services
from workers.tasks import register_tasks


def create_worker_app(
    settings: Settings, queues: list[str], store: ObjectStore, concurrency: int = 1
) -> Celery:
    """``store`` is the worker's one object store, opened and checked before the fork;
    ``concurrency`` its pool size, announced in its heartbeat as its slots."""
    app = make_celery(settings)
    register_tasks(app, settings, store)
    heartbeats: list[HeartbeatThread] = []
    dispatchers: list[DispatchThread] = []

    @worker_process_init.connect(weak=False)  # type: ignore[untyped-decorator]
    def _load_in_child(**_: Any) -> None:
        # Runs in each pool child after the fork: clients and model belong to the child.
        init_services(settings, store)

    @worker_ready.connect(weak=False)  # type: ignore[untyped-decorator]
    def _start_heartbeat(sender: Any, **_: Any) -> None:
        # The main process: created after the pool forked, so no child inherits it.
        client = sync_redis(settings)
        jobs = JobStore(client, settings.events_retention_s)
        hostname = str(sender.hostname)

        def reap() -> None:
            reap_lost_attempts(client, jobs, app, settings, holder=hostname, store=store)

        thread = HeartbeatThread(
            client,
            hostname,
            settings.renderer,
            queues,
            after_beat=reap,
            interval_s=settings.heartbeat_interval_s,
            concurrency=concurrency,
        )
        thread.start()
        heartbeats.append(thread)
        dispatch = DispatchThread(
            Dispatcher(app, settings, JobStore(client, settings.events_retention_s)),
            interval_s=settings.heartbeat_interval_s,
        )
        dispatch.start()
        dispatchers.append(dispatch)

    @task_received.connect(weak=False)  # type: ignore[untyped-decorator]
    def _message_taken(**_: Any) -> None:
        for dispatch in dispatchers:
            dispatch.poke()

    @worker_shutdown.connect(weak=False)  # type: ignore[untyped-decorator]
    def _stop_heartbeat(**_: Any) -> None:
        for thread in heartbeats:
            thread.stop()
        for dispatch in dispatchers:
            dispatch.stop()

    return app
