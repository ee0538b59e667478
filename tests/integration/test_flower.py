"""The real Flower, started by ``avatar-render flower``, watching a real worker render a job."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from avatar_render_client import AvatarRenderClient

from render_cli.local_redis import LocalRedis, free_port
from render_cli.processes import ManagedProcess, wait_until
from render_core.queue import RENDER_TASK
from tests.conftest import SAMPLE_PORTRAIT, child_env
from tests.stack import CLI, Stack, running_stack

pytestmark = pytest.mark.integration

FLOWER_DB = 3
API_KEY = "flower-key-0123456789"
FLOWER_USER, FLOWER_PASSWORD = "ops", "flower-secret"
SMALL = {"size": 256, "duration_ms": 400, "fps": 25}


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis.Redis(port=redis_server.port, db=FLOWER_DB).flushdb()
    url = f"redis://127.0.0.1:{redis_server.port}/{FLOWER_DB}"
    with running_stack(url, tmp_path_factory.mktemp("flower"), f"ops:{API_KEY}") as s:
        s.start_worker("flower-mock")
        s.start_api()
        yield s


@pytest.fixture(scope="module")
def flower_url(stack: Stack) -> Iterator[str]:
    url = f"http://127.0.0.1:{free_port()}"
    port = url.rsplit(":", 1)[1]
    env = {**stack.env, "RENDER_FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{FLOWER_PASSWORD}"}
    flower = ManagedProcess(
        [*CLI, "flower", "--address", "127.0.0.1", "--port", port],
        env,
        stack.logs / "flower.log",
    )
    try:
        wait_until(lambda: _healthy(url, flower), 60, "Flower answering /healthcheck")
        yield url
    finally:
        flower.stop()


def _healthy(url: str, flower: ManagedProcess) -> bool:
    if not flower.alive():
        raise RuntimeError(f"flower exited:\n{flower.log_tail()}")
    try:
        return httpx.get(f"{url}/healthcheck", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _flower_api(url: str, path: str, **params: str) -> Any:
    response = httpx.get(
        f"{url}{path}", params=params, auth=(FLOWER_USER, FLOWER_PASSWORD), timeout=10.0
    )
    response.raise_for_status()
    return response.json()


def _render_task(url: str, job_id: str) -> dict[str, Any] | None:
    tasks: dict[str, dict[str, Any]] = _flower_api(url, "/api/tasks", taskname=RENDER_TASK)
    return next((t for t in tasks.values() if job_id in str(t.get("args"))), None)


def test_flower_lists_the_worker_and_the_finished_render(stack: Stack, flower_url: str) -> None:
    # Flower knows only what it saw: wait until the worker's events reach it.
    wait_until(
        lambda: any(
            node.startswith("flower-mock@") and alive
            for node, alive in _flower_api(flower_url, "/api/workers", status="true").items()
        ),
        30,
        "Flower seeing the worker's events",
        poll_s=0.5,
    )
    with AvatarRenderClient(stack.api_url, API_KEY) as client:
        character = client.register_character(SAMPLE_PORTRAIT)
        job = client.submit({"character_id": character.id, "emotion": "happy", **SMALL})
        assert client.wait(job.id, timeout_s=120).status == "succeeded"

    def finished() -> bool:
        task = _render_task(flower_url, job.id)
        return task is not None and task["state"] == "SUCCESS"

    wait_until(finished, 30, "Flower showing the render task succeeded", poll_s=0.5)
    task = _render_task(flower_url, job.id)
    assert task is not None and task["name"] == RENDER_TASK
    assert str(task["worker"]).startswith("flower-mock@")

    workers = _flower_api(flower_url, "/api/workers", refresh="true")
    node = next(n for n in workers if n.startswith("flower-mock@"))
    consumed = {q["name"] for q in workers[node]["active_queues"]}
    assert consumed == {"render.interactive", "render.batch"}


@pytest.mark.parametrize("path", ["/api/workers", "/api/tasks"])
def test_flower_refuses_callers_without_the_password(flower_url: str, path: str) -> None:
    assert httpx.get(f"{flower_url}{path}", timeout=10.0).status_code == 401
    wrong = httpx.get(f"{flower_url}{path}", auth=(FLOWER_USER, "guess"), timeout=10.0)
    assert wrong.status_code == 401


def test_flower_will_not_start_open_when_the_api_has_keys() -> None:
    env = child_env(api_keys=f"ops:{API_KEY}", redis_url="redis://127.0.0.1:1/0")
    result = subprocess.run(
        [sys.executable, "-m", "render_cli", "flower", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "RENDER_FLOWER_BASIC_AUTH" in result.stderr and "required" in result.stderr
