"""What the API tells strangers: no server paths in errors, no worker hostnames or Redis
addresses on ``/readyz`` without a key (fast tier, real Redis and local storage)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis

from producer_api.app import create_app
from render_cli.local_redis import free_port
from render_core.heartbeats import WorkerBeat, beat
from render_core.settings import Settings
from tests.api.conftest import KEY_A, ClientFactory
from tests.conftest import SAMPLE_PORTRAIT

pytestmark = pytest.mark.anyio


async def test_readyz_names_workers_only_to_a_caller_with_a_key(
    client_for: ClientFactory, redis_client: redis.Redis
) -> None:
    for queue in ("render.interactive", "render.batch"):
        hostname = f"{queue}-node@secret-host-1"
        beat(redis_client, WorkerBeat(hostname=hostname, renderer="mock", queues=[queue], pid=1))
    async with client_for(None) as anonymous, client_for("wrong") as stranger:
        for caller in (anonymous, stranger):
            response = await caller.get("/readyz")
            assert response.status_code == 200
            assert response.json() == {
                "status": "ok",
                "redis": "ok",
                "queues_without_workers": [],
            }
            assert "secret-host" not in response.text
    async with client_for(KEY_A) as operator:
        detailed = (await operator.get("/readyz")).json()
        assert detailed["workers"]["render.batch"] == ["render.batch-node@secret-host-1"]


async def test_readyz_hides_the_redis_address_from_strangers(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(
        redis_url=f"redis://127.0.0.1:{port}/0",
        storage_url=(tmp_path / "storage").as_uri(),
        api_keys=f"t:{KEY_A}",
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as anonymous:
        response = await anonymous.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "redis": "unavailable"}
    assert str(port) not in response.text


async def test_a_storage_error_names_no_server_path(
    client: httpx.AsyncClient, api_settings: Settings
) -> None:
    root = Path(api_settings.storage_url.removeprefix("file://"))
    (root / "characters").write_text("a file where a directory should be")
    files = {"portrait": ("p.png", SAMPLE_PORTRAIT.read_bytes(), "image/png")}
    response = await client.post("/v1/characters", files=files)
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "storage_unavailable"
    assert str(root) not in response.text and "/tmp" not in response.text
    assert "characters/" in error["message"]  # the key, which is ours to show
