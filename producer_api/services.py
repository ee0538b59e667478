"""What the API's routes use, built once per process by ``create_app`` and held on the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis
from celery import Celery
from fastapi import Depends, Request

from producer_api.admission import Admission
from producer_api.driving_videos import DrivingVideoStore
from producer_api.faces.candidates import FaceDetector
from producer_api.heavy import HeavyWork
from producer_api.idempotency import IdempotencyStore
from render_core.characters import CharacterStore
from render_core.dispatch import Dispatcher
from render_core.jobs import JobStore
from render_core.replication import wait_for_replicas
from render_core.settings import Settings
from render_core.storage import ObjectStore
from render_core.webhooks import WebhookStore


@dataclass
class ApiServices:
    settings: Settings
    redis: redis.Redis
    jobs: JobStore
    characters: CharacterStore
    driving_videos: DrivingVideoStore
    faces: FaceDetector
    store: ObjectStore
    celery: Celery
    idempotency: IdempotencyStore
    webhooks: WebhookStore
    heavy: HeavyWork
    dispatcher: Dispatcher
    admission: Admission


def replicated(services: ApiServices) -> None:
    """Return once the configured replicas hold every write so far (``NotReplicated``
    past the wait); a no-op without replicas."""
    settings = services.settings
    wait_for_replicas(services.redis, settings.replicas_to_wait, settings.redis_wait_timeout_ms)


async def get_services(request: Request) -> ApiServices:
    """Async, like every dependency that does no I/O: FastAPI runs a plain ``def``
    dependency in its thread pool, a hand-off per request for nothing."""
    services: ApiServices = request.app.state.services
    return services


Services = Annotated[ApiServices, Depends(get_services)]
