"""The render cache in the API, no worker (fast tier): identical submissions wait for the
first one, different ones do not, and RENDER_CACHE=off or "cache": false turn it off."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis

from producer_api.app import create_app
from render_core import fair_queue
from render_core.schema import Priority
from render_core.settings import Settings
from tests.api.conftest import KEY_A
from tests.api.test_renders_in_process import SMALL, register

pytestmark = pytest.mark.anyio


def _waiting(client: redis.Redis, tenant: str = "tenant-a") -> int:
    queue = fair_queue.tenant_queue_key(Priority.interactive, tenant)
    return int(client.zcard(queue)) + int(client.llen("render.interactive"))


async def test_identical_submissions_wait_for_the_first(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    body = {"character_id": (await register(client))["id"], "emotion": "sad", **SMALL}
    for _ in range(3):
        assert (await client.post("/v1/renders", json=body)).status_code == 202
    assert _waiting(redis_client) == 1  # one render waits for a worker; two wait for it
    await client.post("/v1/renders", json={**body, "intensity": 0.2})
    await client.post("/v1/renders", json={**body, "cache": False})
    assert _waiting(redis_client) == 3


async def test_render_cache_off(
    store_redis_url: str, tmp_path: Path, redis_client: redis.Redis
) -> None:
    settings = Settings(
        redis_url=store_redis_url,
        storage_url=(tmp_path / "storage").as_uri(),
        api_keys=f"tenant-a:{KEY_A}",
        cache="off",
        log_json=False,
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    headers = {"Authorization": f"Bearer {KEY_A}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as c:
        body = {"character_id": (await register(c))["id"], "emotion": "sad", **SMALL}
        jobs = [(await c.post("/v1/renders", json=body)).json() for _ in range(3)]
    assert _waiting(redis_client) == 3
    assert [job["queue_position"] for job in jobs] == [0, 1, 2]
