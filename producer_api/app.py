"""The FastAPI application factory."""

from __future__ import annotations

import logging

import redis
import redis.asyncio as aredis
from fastapi import FastAPI

from producer_api.admission import Admission
from producer_api.docs import install_docs
from producer_api.driving_videos import DrivingVideoStore
from producer_api.errors import install_error_handlers
from producer_api.event_stream import EventReader
from producer_api.faces.loading import load_face_detector
from producer_api.idempotency import IdempotencyStore
from producer_api.metrics import install_metrics
from producer_api.rate_limit import RateLimiter
from producer_api.routes import (
    characters,
    driving_videos,
    events,
    health,
    outputs,
    renders,
    webhooks,
)
from producer_api.services import ApiServices
from render_core.characters import CharacterStore
from render_core.dispatch import Dispatcher
from render_core.jobs import JobStore
from render_core.logs import configure_logging
from render_core.queue import make_celery
from render_core.settings import Settings
from render_core.storage import open_store
from render_core.webhooks import WebhookStore

log = logging.getLogger(__name__)

DESCRIPTION = """
Render short animated clips of a character's portrait showing an emotion.

Register a portrait (`POST /v1/characters`), submit renders (`POST /v1/renders`),
poll their status and progress, then fetch the manifest, frames and mp4.
Everything under `/v1` takes `Authorization: Bearer <api key>`; errors are
`{"error": {"code": ..., "message": ...}}`.
"""


def create_app(settings: Settings) -> FastAPI:
    if not settings.auth_enabled:
        log.warning(
            "AUTH IS OFF: RENDER_API_KEYS is empty, every caller is tenant 'local'. "
            "Use this for local runs only."
        )
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    store = open_store(settings)
    store.check()
    app = FastAPI(
        title="avatar-render",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
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
        idempotency=IdempotencyStore(client),
        webhooks=WebhookStore(client),
        dispatcher=Dispatcher(celery, settings, jobs),
        admission=Admission(client, settings),
        rate_limiter=RateLimiter(client),
    )
    # Event streams wait in Redis without holding a thread: their own asyncio client.
    # Its reads block for up to a keep-alive period: the socket timeout must outlast it.
    async_client = aredis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_timeout=settings.events_keepalive_s + 5
    )
    app.state.events = EventReader(async_client, settings.events_retention_s)
    install_error_handlers(app)
    install_docs(app)
    install_metrics(app, jobs, settings)
    for module in (health, characters, driving_videos, renders, outputs, events, webhooks):
        app.include_router(module.router)
    return app


def app_from_environment() -> FastAPI:
    """Entry point for ``uvicorn --factory``, called in every server process it starts."""
    settings = Settings()
    configure_logging(settings)  # after uvicorn set up its loggers: route them through ours
    return create_app(settings)
