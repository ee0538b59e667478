"""With a replica configured, a submission is answered 202 only once a replica holds the
job and its message (Redis WAIT); when no replica acknowledges in time the client hears
503 and the job is failed, never silently at risk (a real primary and replica)."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from producer_api.app import create_app
from render_cli.local_redis import LocalRedis
from render_core.settings import Settings
from tests.api.conftest import KEY_A
from tests.api.test_renders_in_process import SMALL, register

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRedis, LocalRedis]]:
    root = tmp_path_factory.mktemp("replication")
    primary = LocalRedis(root / "primary", None, "--repl-diskless-sync-delay", "0").start()
    replica = LocalRedis(root / "replica").replica_of(primary).start()
    replica.wait_replicating()
    yield primary, replica
    replica.close()
    primary.close()


@pytest.fixture
async def client(
    pair: tuple[LocalRedis, LocalRedis], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    primary, _ = pair
    settings = Settings(
        redis_url=primary.url,
        storage_url=(tmp_path / "storage").as_uri(),
        api_keys=f"tenant-a:{KEY_A}",
        redis_wait_replicas=1,
        redis_wait_timeout_ms=1500,  # a loaded 2-core CI machine: 300 ms was seen to run out
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    auth = {"Authorization": f"Bearer {KEY_A}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=auth) as c:
        yield c


async def test_202_only_once_a_replica_holds_the_job_and_its_message(
    client: httpx.AsyncClient, pair: tuple[LocalRedis, LocalRedis]
) -> None:
    _, replica = pair
    copy = redis.Redis(port=replica.port, decode_responses=True)
    character = await register(client)
    assert copy.exists(f"ar:character:{character['id']}")  # registrations wait too
    body = {"character_id": character["id"], "emotion": "sad", **SMALL}
    accepted = await client.post("/v1/renders", json=body)
    assert accepted.status_code == 202
    job_id = accepted.json()["id"]
    assert copy.exists(f"ar:job:{job_id}")  # read at once, on the replica
    assert any(job_id in message for message in copy.lrange("render.interactive", 0, -1))

    assert replica.process is not None
    os.kill(replica.process.pid, signal.SIGSTOP)  # the replica stops acknowledging
    try:
        refused = await client.post("/v1/renders", json=body)
    finally:
        os.kill(replica.process.pid, signal.SIGCONT)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "replication_unavailable"
    failed = (await client.get("/v1/renders", params={"status": "failed"})).json()["jobs"]
    assert len(failed) == 1 and failed[0]["error"]["code"] == "queue_unavailable"
