"""Liveness and readiness probes, outside ``/v1`` and without auth."""

from __future__ import annotations

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from producer_api.services import Services

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Redis answers", responses={503: {"description": "Not ready."}})
def readyz(services: Services) -> JSONResponse:
    try:
        services.redis.ping()
    except redis.RedisError as exc:
        return JSONResponse({"status": "unavailable", "redis": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", "redis": "ok"})
