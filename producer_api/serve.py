"""Run the API under uvicorn (the ``avatar-render api`` command)."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "producer_api.app:app_from_environment"


def run_api(host: str, port: int, workers: int = 1, shutdown_grace_s: float = 10.0) -> None:
    """``shutdown_grace_s``: on SIGTERM, requests still open after this long (event streams,
    which never end by themselves) are closed; SSE clients resume with Last-Event-ID."""
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "log_level": "info",
        "proxy_headers": True,
        "timeout_graceful_shutdown": int(max(1, round(shutdown_grace_s))),
    }
    if workers <= 1:
        uvicorn.run(APP, **options)
        return
    config = uvicorn.Config(APP, workers=workers, **options)
    # The processes share a listening socket uvicorn opens without naming the TCP protocol,
    # so asyncio does not set TCP_NODELAY on the connections it accepts from it; Nagle's
    # algorithm then holds each response's body until the client acknowledges its headers,
    # a delayed ACK: about 40 ms on every answer. Accepted connections inherit the option.
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()
