"""The ``stream`` role: live (WHEP) sessions in processes of their own.

Encoding video for viewers is CPU work whose load follows the viewers, not the API's
requests, and its UDP ports must be reachable from them; so a deployment may run the
WHEP routes here, scaled on their own, with its load balancer sending
``/v1/renders/{id}/whep`` (and the sessions under it) to this pool and the rest to the
API. The API serves the same routes itself, for one-process deployments and the web page.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from producer_api.app import build_app
from producer_api.routes import health, whep
from render_core.logs import configure_logging
from render_core.settings import Settings


def create_stream_app(settings: Settings) -> FastAPI:
    """Health probes and the WHEP routes, with the API's auth, errors and metrics."""
    return build_app(settings, (health, whep), docs=False)


def stream_from_environment() -> FastAPI:
    """Entry point for ``uvicorn --factory``."""
    settings = Settings()
    configure_logging(settings)
    return create_stream_app(settings)


def run_stream(host: str, port: int, shutdown_grace_s: float = 10.0) -> None:
    """One process: its sessions live in it (a DELETE reaching another finds them
    through Redis). The asyncio loop, so the UDP port range can be applied to it."""
    uvicorn.run(
        "producer_api.stream:stream_from_environment",
        factory=True,
        host=host,
        port=port,
        loop="asyncio",
        log_level="info",
        proxy_headers=True,
        timeout_graceful_shutdown=int(max(1, round(shutdown_grace_s))),
    )
