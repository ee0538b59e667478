"""Run the API under uvicorn (the ``avatar-render api`` command)."""

from __future__ import annotations

import uvicorn


def run_api(host: str, port: int, workers: int = 1, shutdown_grace_s: float = 10.0) -> None:
    """``shutdown_grace_s``: on SIGTERM, requests still open after this long (event streams,
    which never end by themselves) are closed; SSE clients resume with Last-Event-ID."""
    uvicorn.run(
        "producer_api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
        timeout_graceful_shutdown=int(max(1, round(shutdown_grace_s))),
    )
