"""The per-process services of a worker: created in the process that uses them.

Redis clients and the renderer's model are built after the pool forks
(``worker_process_init``), never in the parent, so no client or CUDA context is
inherited across a fork. The object store is the one the parent opened and checked: it
makes its network clients per process, on first use, and is shared by the pipeline and
the renderer's caches.
"""

from __future__ import annotations

import logging
import time

from render_core.cache_keys import renderer_key
from render_core.characters import CharacterStore
from render_core.jobs import JobStore
from render_core.redis_conn import sync_redis
from render_core.render_cache import RenderCache
from render_core.settings import Settings
from render_core.storage import ObjectStore
from workers.cache_step import CacheStep
from workers.metrics import PrometheusEvents
from workers.outcome import RetryPolicy
from workers.pipeline import RenderServices
from workers.renderers.registry import load_renderer

log = logging.getLogger(__name__)

_services: RenderServices | None = None


def build_services(settings: Settings, store: ObjectStore) -> RenderServices:
    client = sync_redis(settings)
    renderer = load_renderer(settings, store)
    events = PrometheusEvents()
    started = time.perf_counter()
    renderer.setup()
    events.model_loaded(time.perf_counter() - started)
    if settings.worker_metrics_port:
        events.serve(settings.worker_metrics_host, settings.worker_metrics_port)
    jobs = JobStore(client, settings.events_retention_s)
    cache = None
    if settings.cache:
        cache = CacheStep(RenderCache(client), renderer_key(renderer.describe()), jobs, store)
        cache.cache.announce(cache.renderer_key)  # the API may serve hits this renderer made
    return RenderServices(
        jobs=jobs,
        characters=CharacterStore(client),
        store=store,
        renderer=renderer,
        batch_size=settings.frame_batch_size,
        first_batch_size=settings.first_batch_size,
        lease_ttl_s=settings.lease_ttl_s,
        encode_threads=settings.encode_threads,
        retry_policy=RetryPolicy(
            max_attempts=settings.max_attempts,
            backoff_s=settings.retry_backoff_s,
            backoff_max_s=settings.retry_backoff_max_s,
        ),
        events=events,
        cache=cache,
    )


def init_services(settings: Settings, store: ObjectStore) -> RenderServices:
    global _services
    _services = build_services(settings, store)
    log.info("worker process ready: renderer %s", _services.renderer.describe().model_dump())
    return _services


def current_services(settings: Settings, store: ObjectStore) -> RenderServices:
    """The services of this process, built on first use if the init hook did not run."""
    return _services if _services is not None else init_services(settings, store)
