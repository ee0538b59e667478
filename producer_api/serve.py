"""Run the API under uvicorn (the ``avatar-render api`` command)."""

from __future__ import annotations

import uvicorn


def run_api(host: str, port: int, workers: int = 1) -> None:
    uvicorn.run(
        "producer_api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
    )
