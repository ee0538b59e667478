"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import ModuleType

from fastapi import FastAPI
from prometheus_client import Gauge

from producer_api.admission import Admission
from producer_api.docs import install_docs
from producer_api.driving_videos import DrivingVideoStore
from producer_api.errors import CatchAll, install_error_handlers
from producer_api.event_stream import EventReader
from producer_api.faces.loading import load_face_detector
from producer_api.guard import RequestGuard
from producer_api.heavy import HeavyWork, shut_pools
from producer_api.idempotency import IdempotencyStore
from producer_api.live.sessions import LiveSessions
from producer_api.metrics import install_metrics
from producer_api.routes import (
    characters,
    driving_videos,
    events,
    health,
    outputs,
    renders,
    webhooks,
    whep,
)
from producer_api.services import ApiServices
from producer_api.ui import install_ui
from render_core.characters import CharacterStore
from render_core.dispatch import Dispatcher
from render_core.jobs import JobStore
from render_core.logs import configure_logging
from render_core.queue import make_celery
from render_core.redis_conn import async_redis, sync_redis
from render_core.settings import Settings
from render_core.storage import open_store
from render_core.webhooks import WebhookStore

log = logging.getLogger(__name__)

DESCRIPTION = """
Render short animated clips of a character's portrait showing an emotion.

Register a portrait (`POST /v1/characters`), submit renders (`POST /v1/renders`),
poll their status and progress or follow their events, watch them live over WebRTC
(WHEP), then fetch the manifest, frames and mp4.
Everything under `/v1` takes `Authorization: Bearer <api key>`; errors are
`{"error": {"code": ..., "message": ...}}`.
"""


API_ROUTERS = (health, characters, driving_videos, renders, outputs, events, webhooks, whep)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    live: LiveSessions = app.state.live
    await live.shutdown()  # peer connections end with the process, not after it
    await asyncio.to_thread(shut_pools)


def create_app(settings: Settings) -> FastAPI:
    """The whole API: every route, the docs and the web page at /ui."""
    return build_app(settings, API_ROUTERS, docs=True)


def build_app(settings: Settings, routers: Sequence[ModuleType], docs: bool) -> FastAPI:
    """An app serving ``routers`` over the services every route may use."""
    if not settings.auth_enabled:
        log.warning(
            "AUTH IS OFF: RENDER_API_KEYS is empty, every caller is tenant 'local'. "
            "Use this for local runs only."
        )
    client = sync_redis(settings)
    store = open_store(settings)
    store.check()
    app = FastAPI(
        title="avatar-render",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    jobs = JobStore(client, settings.events_retention_s)
    celery = make_celery(settings)
    app.state.services = ApiServices(
        settings=settings,
        redis=client,
        jobs=jobs,
        characters=CharacterStore(client),
        driving_videos=DrivingVideoStore(client),
        faces=load_face_detector(settings.face_models_dir),
        store=store,
        celery=celery,
        idempotency=IdempotencyStore(client, settings.idempotency_lease_s),
        webhooks=WebhookStore(client),
        heavy=HeavyWork(settings.validation_processes, settings.face_models_dir),
        dispatcher=Dispatcher(celery, settings, jobs),
        admission=Admission(client, settings),
    )
    # Event streams wait in Redis without holding a thread: their own asyncio client.
    # Its reads block for up to a keep-alive period: the socket timeout outlasts it.
    async_client = async_redis(settings, blocking_s=settings.events_keepalive_s)
    app.state.events = EventReader(async_client, settings.events_retention_s)
    # Live sessions' registry and close requests: pub/sub waits up to 5 s a read.
    live_client = async_redis(settings, blocking_s=5.0)
    app.state.live = LiveSessions(settings, store, app.state.events, live_client)
    install_error_handlers(app)
    if docs:
        install_docs(app)
        install_ui(app, settings)
    # Middleware added later runs first: metrics see every answer, the guard's included.
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(CatchAll)
    registry = install_metrics(app, jobs, settings)
    live: LiveSessions = app.state.live
    Gauge(
        "avatar_render_live_sessions",
        "Live (WHEP) sessions this process holds.",
        registry=registry,
    ).set_function(lambda: len(live.sessions))
    for module in routers:
        app.include_router(module.router)
    return app


def app_from_environment() -> FastAPI:
    """Entry point for ``uvicorn --factory``, called in every server process it starts."""
    settings = Settings()
    configure_logging(settings)  # after uvicorn set up its loggers: route them through ours
    return create_app(settings)
