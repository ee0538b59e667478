"""Real parts for every test tier: a redis-server started here, on a free loopback port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from render_cli.local_redis import LocalRedis

ASSETS = Path(__file__).resolve().parents[1] / "render_cli" / "assets"
SAMPLE_PORTRAIT = ASSETS / "astronaut.png"
# Database 0 belongs to long-lived stacks (broker, API, worker); direct store tests
# use database 1, emptied before each test.
STORE_TEST_DB = 1


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    server = LocalRedis(data_dir=tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.close()


@pytest.fixture
def redis_client(redis_server: LocalRedis) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_server.port, db=STORE_TEST_DB, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def store_redis_url(redis_server: LocalRedis, redis_client: redis.Redis) -> str:
    return f"redis://127.0.0.1:{redis_server.port}/{STORE_TEST_DB}"


def child_env(**render_settings: str) -> dict[str, str]:
    """The test process's environment without RENDER_* values, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDER_")}
    env.update({f"RENDER_{k.upper()}": v for k, v in render_settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env
