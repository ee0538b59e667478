"""Readiness with and without a worker, and ``avatar-render worker --check``, on real processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from render_cli.local_redis import LocalRedis, free_port
from render_cli.processes import wait_until
from tests.conftest import child_env
from tests.stack import running_stack

pytestmark = pytest.mark.integration

HEALTH_DB = 5
QUEUES = ["render.interactive", "render.batch"]


def _fresh_db_url(server: LocalRedis, db: int) -> str:
    redis.Redis(port=server.port, db=db).flushdb()
    return f"redis://127.0.0.1:{server.port}/{db}"


def _worker_check(redis_url: str, *name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "render_cli", "worker", "--check", *name],
        env=child_env(redis_url=redis_url),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_readyz_needs_a_worker_on_every_render_queue(
    redis_server: LocalRedis, tmp_path: Path
) -> None:
    url = _fresh_db_url(redis_server, HEALTH_DB)
    with running_stack(url, tmp_path) as stack:
        # The stack's API waits for a 200 /readyz, so a worker comes first; then it goes.
        worker = stack.start_worker("ready-mock")
        stack.start_api()
        ready = httpx.get(f"{stack.api_url}/readyz", timeout=5.0)
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["queues_without_workers"] == []
        for queue in QUEUES:
            assert [h.split("@")[0] for h in body["workers"][queue]] == ["ready-mock"]

        worker.stop()  # a warm shutdown removes the worker's heartbeat
        not_ready = httpx.get(f"{stack.api_url}/readyz", timeout=5.0)
        assert not_ready.status_code == 503
        assert not_ready.json()["queues_without_workers"] == sorted(QUEUES)
        assert not_ready.json()["workers"] == {queue: [] for queue in QUEUES}
        assert httpx.get(f"{stack.api_url}/healthz", timeout=5.0).status_code == 200

        stack.start_worker("ready-again", "--queues", "render.batch")
        wait_until(lambda: _readyz_workers(stack.api_url)["render.batch"] != [], 30, "a beat")
        partial = httpx.get(f"{stack.api_url}/readyz", timeout=5.0)
        assert partial.status_code == 503
        assert partial.json()["queues_without_workers"] == ["render.interactive"]


def _readyz_workers(api_url: str) -> dict[str, list[str]]:
    workers: dict[str, list[str]] = httpx.get(f"{api_url}/readyz", timeout=5.0).json()["workers"]
    return workers


def test_worker_check_exits_0_only_for_a_live_worker(
    redis_server: LocalRedis, tmp_path: Path
) -> None:
    url = _fresh_db_url(redis_server, HEALTH_DB)
    nobody = _worker_check(url)
    assert nobody.returncode == 1 and "no live worker" in nobody.stderr

    with running_stack(url, tmp_path) as stack:
        worker = stack.start_worker("check-mock")
        wait_until(lambda: _worker_check(url).returncode == 0, 30, "a heartbeat", poll_s=0.5)
        named = _worker_check(url, "--name", "check-mock")
        assert named.returncode == 0 and "check-mock@" in named.stdout
        other = _worker_check(url, "--name", "gpu7")
        assert other.returncode == 1
        assert "gpu7" in other.stderr and "check-mock@" in other.stderr

        worker.stop()
        gone = _worker_check(url, "--name", "check-mock")
        assert gone.returncode == 1


def test_worker_check_says_when_redis_does_not_answer(tmp_path: Path) -> None:
    result = _worker_check(f"redis://127.0.0.1:{free_port()}/0")
    assert result.returncode == 1 and "Redis did not answer" in result.stderr
