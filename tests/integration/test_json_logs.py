"""The API's and a worker's log files are JSON lines; a render's lines carry its job."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from avatar_render_client import AvatarRenderClient

from render_cli.local_redis import LocalRedis
from render_cli.processes import wait_until
from tests.conftest import SAMPLE_PORTRAIT
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.integration

LOGS_DB = 6
API_KEY = "logs-key-0123456789"
TENANT = "ops"


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis.Redis(port=redis_server.port, db=LOGS_DB).flushdb()
    url = f"redis://127.0.0.1:{redis_server.port}/{LOGS_DB}"
    root = tmp_path_factory.mktemp("logs")
    # Slow frames, so a render is still running when the test cancels it.
    with running_stack(url, root, f"{TENANT}:{API_KEY}", mock_frame_delay_s="0.02") as s:
        s.start_worker("logs-mock")
        s.start_api()
        yield s


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line that is a JSON object; Celery's start-up banner is plain stdout text."""
    lines = []
    for text in path.read_text(errors="replace").splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


def test_worker_and_api_log_json_lines(stack: Stack) -> None:
    with AvatarRenderClient(stack.api_url, API_KEY) as client:
        client.list_jobs()  # raises unless the API answered 200
    worker_lines = _json_lines(stack.logs / "worker-logs-mock.log")
    assert {"ts", "level", "logger", "message", "job_id", "tenant", "attempt"} <= set(
        worker_lines[0]
    )
    ready = [line for line in worker_lines if line["logger"] == "workers.services"]
    assert ready and ready[0]["process"].startswith("ForkPoolWorker")  # the pool child's line
    assert any(line["logger"].startswith("celery.") for line in worker_lines)

    def access_logged() -> bool:
        api_lines = _json_lines(stack.logs / "api.log")
        return any(
            line["logger"] == "uvicorn.access" and "GET /v1/renders " in line["message"]
            for line in api_lines
        )

    wait_until(access_logged, 10, "the API's access log line")


def test_a_cancelled_renders_lines_carry_its_job(stack: Stack) -> None:
    """Needs ``with job_context(...)`` around the attempt in ``workers/pipeline.py``."""
    with AvatarRenderClient(stack.api_url, API_KEY) as client:
        character = client.register_character(SAMPLE_PORTRAIT)
        request = {"character_id": character.id, "emotion": "angry", "size": 256}
        job = client.submit({**request, "duration_ms": 10_000, "fps": 25})
        deadline = time.monotonic() + 60
        while client.get_job(job.id).progress.frames_done == 0:
            assert time.monotonic() < deadline, "the render never started"
            time.sleep(0.05)
        assert client.cancel(job.id).cancel_requested
        assert client.wait(job.id, timeout_s=60).status == "cancelled"

    lines = _json_lines(stack.logs / "worker-logs-mock.log")
    tagged = [line for line in lines if line["job_id"] == job.id]
    assert tagged, "no worker log line carries the job id"
    assert all(line["tenant"] == TENANT and line["attempt"] == 1 for line in tagged)
    assert any("cancelled" in line["message"] for line in tagged)
    untagged = [line for line in lines if line["job_id"] is None]
    assert untagged  # outside an attempt (start-up, Celery's own lines) the fields are null
