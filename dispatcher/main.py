"""``avatar-render webhooks``: build the dispatcher from the settings and run it until a signal."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

from dispatcher.fanout import FanOut
from dispatcher.metrics import DispatcherMetrics
from dispatcher.outbox import Outbox, Policy
from dispatcher.sender import Sender
from dispatcher.service import HEARTBEAT_PREFIX, Dispatcher
from render_core.redis_conn import async_redis, sync_redis
from render_core.settings import Settings

log = logging.getLogger(__name__)

LEASE_MARGIN_S = 5.0
FANOUT_BLOCK_S = 1.0


def policy_from(settings: Settings) -> Policy:
    return Policy(
        retry_for_s=settings.webhook_retry_for_s,
        backoff_s=settings.webhook_backoff_s,
        backoff_max_s=settings.webhook_backoff_max_s,
        pause_after_s=settings.webhook_pause_after_s,
        # A delivery is time-limited as a whole, so its lease outlasts it.
        lease_s=settings.webhook_timeout_s + LEASE_MARGIN_S,
    )


def build_dispatcher(settings: Settings, name: str | None = None) -> Dispatcher:
    name = name or f"{socket.gethostname()}-{os.getpid()}"
    # The fan-out blocks in XREADGROUP for up to its block time: the socket outlasts it.
    client = async_redis(settings, blocking_s=FANOUT_BLOCK_S)
    metrics = DispatcherMetrics(sync_redis(settings))
    if settings.webhook_metrics_port:
        metrics.serve(settings.webhook_metrics_host, settings.webhook_metrics_port)
    sender = Sender(
        settings.webhook_timeout_s,
        allow_http=settings.webhook_allow_http,
        allow_private=settings.webhook_allow_private_urls,
    )
    return Dispatcher(
        client,
        Outbox(client, policy_from(settings)),
        FanOut(client, consumer=name, block_ms=round(FANOUT_BLOCK_S * 1000)),
        sender,
        metrics,
        concurrency=settings.webhook_concurrency,
        name=name,
    )


def run_dispatcher(settings: Settings, name: str | None = None) -> None:
    """Run until SIGTERM or SIGINT; deliveries under way finish first (each time-limited)."""
    if settings.webhook_allow_private_urls:
        log.warning("RENDER_WEBHOOK_ALLOW_PRIVATE_URLS is on: webhooks may reach private hosts")

    async def main() -> None:
        dispatcher = build_dispatcher(settings, name)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, dispatcher.stop)
        await dispatcher.run()

    asyncio.run(main())


def dispatcher_alive(settings: Settings, name_prefix: str = "") -> list[str]:
    """Names of dispatchers with a live heartbeat, those starting with ``name_prefix`` (a
    container's hostname: the default names are host-pid); the container health check."""
    client = sync_redis(settings)
    try:
        return sorted(
            str(key).removeprefix(HEARTBEAT_PREFIX)
            for key in client.scan_iter(match=f"{HEARTBEAT_PREFIX}{name_prefix}*")
        )
    finally:
        client.close()
