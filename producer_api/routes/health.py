"""Liveness and readiness probes, outside ``/v1`` and without auth.

``/readyz`` is ready when Redis answers and every render queue has a live worker (from
the heartbeats workers keep in Redis), so a load balancer or an operator sees at once
that accepted jobs would only wait. Anyone sees the status and the queues without a
worker; worker hostnames and Redis's error only a caller with a valid key (an operator).
"""

from __future__ import annotations

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from producer_api.auth import MaybeTenant
from producer_api.services import ApiServices, Services
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
def readyz(services: Services, tenant: MaybeTenant) -> JSONResponse:
    return _readiness(services, detailed=tenant is not None)


@router.head(
    "/readyz",
    summary="Readiness without a body: 200 ready, 503 not",
    responses={503: {"description": "Not ready: Redis is down or a render queue has no worker."}},
)
def readyz_head(services: Services) -> Response:
    status_code = _readiness(services, detailed=False).status_code
    return Response(status_code=status_code, media_type="application/json")


def _readiness(services: ApiServices, detailed: bool) -> JSONResponse:
    try:
        services.redis.ping()
        workers = live_workers(services.redis)
    except redis.RedisError as exc:
        down = {"status": "unavailable", "redis": str(exc) if detailed else "unavailable"}
        return JSONResponse(down, status_code=503)
    consumers = consumers_by_queue(workers, render_queues(services.settings))
    idle = sorted(queue for queue, hostnames in consumers.items() if not hostnames)
    body: dict[str, object] = {
        "status": "unavailable" if idle else "ok",
        "redis": "ok",
        "queues_without_workers": idle,
    }
    if detailed:
        body["workers"] = consumers
    return JSONResponse(body, status_code=503 if idle else 200)
