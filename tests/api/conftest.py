"""The API in this process: the real FastAPI app over ``httpx.ASGITransport``, on the real
Redis of the fixtures and local storage. No uvicorn, no worker: the fast tier."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
import redis
from fastapi import FastAPI

from producer_api.app import create_app
from render_core.settings import Settings

KEY_A, KEY_B = "key-a-in-process", "key-b-in-process"
ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def api_settings(store_redis_url: str, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=store_redis_url,
        storage_url=(tmp_path / "storage").as_uri(),
        api_keys=f"tenant-a:{KEY_A},tenant-b:{KEY_B}",
        log_json=False,
    )


@pytest.fixture
def app(api_settings: Settings) -> FastAPI:
    return create_app(api_settings)


@pytest.fixture
def client_for(app: FastAPI) -> ClientFactory:
    """``async with client_for(KEY_A) as client``: a client of the app; ``None``: no key."""

    def make(key: str | None = KEY_A) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        transport = httpx.ASGITransport(app=app)
        return httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers)

    return make


@pytest.fixture
async def client(client_for: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(KEY_A) as one:
        yield one


def queued_messages(redis_client: redis.Redis, queue: str = "render.interactive") -> int:
    """Messages waiting in a render queue of the broker (a Redis list per queue)."""
    return int(redis_client.llen(queue))
