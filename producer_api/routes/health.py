"""Liveness and readiness probes, outside ``/v1`` and without auth.

``/readyz`` is ready when Redis answers and every render queue has a live worker (from
the heartbeats workers keep in Redis), so a load balancer or an operator sees at once
that accepted jobs would only wait.
"""

from __future__ import annotations

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from producer_api.services import Services
from render_core.heartbeats import live_workers
from render_core.queue import render_queues
from render_core.readiness import consumers_by_queue

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.head("/healthz", summary="The process is alive (no body)")
def healthz_head() -> Response:
    return Response(media_type="application/json")


@router.get(
    "/readyz",
    summary="Redis answers and every render queue has a live worker",
    responses={503: {"description": "Not ready: Redis is down or a render queue has no worker."}},
)
def readyz(services: Services) -> JSONResponse:
    return _readiness(services)


@router.head(
    "/readyz",
    summary="Readiness without a body: 200 ready, 503 not",
    responses={503: {"description": "Not ready: Redis is down or a render queue has no worker."}},
)
def readyz_head(services: Services) -> Response:
    return Response(status_code=_readiness(services).status_code, media_type="application/json")


def _readiness(services: Services) -> JSONResponse:
    try:
        services.redis.ping()
        workers = live_workers(services.redis)
    except redis.RedisError as exc:
        return JSONResponse({"status": "unavailable", "redis": str(exc)}, status_code=503)
    consumers = consumers_by_queue(workers, render_queues(services.settings))
    idle = sorted(queue for queue, hostnames in consumers.items() if not hostnames)
    body = {
        "status": "unavailable" if idle else "ok",
        "redis": "ok",
        "workers": consumers,
        "queues_without_workers": idle,
    }
    return JSONResponse(body, status_code=503 if idle else 200)
