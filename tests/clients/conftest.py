"""One real stack for the client tests: redis-server, a mock Celery worker, uvicorn, and
the webhook dispatcher for the tests that ask for it.

Each test talks as its own tenant, so listings, job counts and event logs are its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from avatar_render_client import AvatarRenderClient, RenderOptions, RetryPolicy

from render_cli.local_redis import LocalRedis
from tests.stack import Stack, running_stack

# A Redis database of its own: other tiers' stacks share the server (see tests/conftest.py).
CLIENTS_DB = 9
TENANTS = (
    *("flow", "batch", "pages", "cancel", "errors", "verify", "idem", "async"),
    *("events", "cut", "restart", "hooks", "signed"),
)
SMALL: RenderOptions = {"size": 256, "duration_ms": 400, "fps": 25}  # 10 frames
# Webhooks to receivers on loopback, retried quickly; idle event streams get a keep-alive
# every 2 s; a stopping API closes open streams after 1 s.
STACK_SETTINGS = {
    "webhook_allow_http": "true",
    "webhook_allow_private_urls": "true",
    "webhook_backoff_s": "0.2",
    "webhook_backoff_max_s": "1",
    "events_keepalive_s": "2",
    "api_shutdown_grace_s": "1",
}


def api_key(tenant: str) -> str:
    return f"{tenant}-key-0123456789"


# Quick retries: the tests that count attempts need no long waits.
FAST_RETRY = RetryPolicy(backoff_s=0.05, backoff_max_s=0.2)


@pytest.fixture(scope="package")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis.Redis(port=redis_server.port, db=CLIENTS_DB).flushdb()
    redis_url = f"redis://127.0.0.1:{redis_server.port}/{CLIENTS_DB}"
    keys = ",".join(f"{tenant}:{api_key(tenant)}" for tenant in TENANTS)
    root = tmp_path_factory.mktemp("clients")
    with running_stack(redis_url, root, api_keys=keys, **STACK_SETTINGS) as s:
        # 20 ms a frame: long enough to see progress and to cancel a running job.
        s.start_worker("clients-mock", mock_frame_delay_s="0.02")
        s.start_api()
        yield s


@pytest.fixture(scope="package")
def dispatcher(stack: Stack) -> Stack:
    """The stack with a webhook dispatcher running (started by the first test needing it)."""
    if not stack.dispatchers:
        stack.start_dispatcher("clients-dispatcher")
    return stack


@pytest.fixture
def client_for(stack: Stack) -> Iterator[Callable[[str], AvatarRenderClient]]:
    """A sync client of one tenant, closed after the test."""
    clients: list[AvatarRenderClient] = []

    def make(tenant: str) -> AvatarRenderClient:
        client = AvatarRenderClient(stack.api_url, api_key(tenant), retry=FAST_RETRY)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
