"""The render cache under a crash: the worker rendering a single-flight leader is killed
mid-render while 19 identical jobs wait for it. The leader renders again (a new attempt)
and every follower succeeds from its outputs; nothing renders twice in parallel, no job
is lost, each job has one manifest."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from render_cli.local_redis import LocalRedis
from render_core.schema import CacheResult, JobStatus
from tests.faults.test_crash_safety import (
    FAST_CLOCKS,
    _assert_one_manifest_each,
    _character,
    _pool_children,
    _running_job,
    _wait_all_finished,
)
from tests.stack import Stack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# 60 frames in batches of 16 at 50 ms: about 3.5 s, with progress after each batch.
JOB = {"emotion": "surprised", "size": 256, "duration_ms": 2400, "fps": 25}
FOLLOWERS = 19


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with (
        LocalRedis(data_dir=tmp_path / "redis") as server,
        running_stack(server.url, tmp_path, **FAST_CLOCKS) as s,
    ):
        yield s


def test_killing_the_leader_s_worker_loses_no_follower(stack: Stack) -> None:
    worker = stack.start_worker("leader-kill")
    stack.start_api()
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        body = {"character_id": _character(client), **JOB}
        response = client.post("/v1/renders/batch", json={"requests": [body] * (FOLLOWERS + 1)})
        assert response.status_code == 202, response.text
        ids = [job["id"] for job in response.json()["jobs"]]
        leader = _running_job(stack, ids)
        assert leader.id == ids[0]
        (child,) = _pool_children(worker)
        os.kill(child, signal.SIGKILL)
        records = _wait_all_finished(stack, ids)
    assert all(r.status == JobStatus.succeeded for r in records.values()), records
    assert records[leader.id].attempts == 2 and records[leader.id].cache == CacheResult.miss
    followers = [records[job_id] for job_id in ids[1:]]
    assert all(r.cache == CacheResult.hit and r.rendered_by == leader.id for r in followers)
    frames = (stack.storage_dir / "renders").glob("*/*/frames/*.png")
    assert {frame.parts[-4] for frame in frames} == {leader.id}  # one render's frames
    _assert_one_manifest_each(stack, records)
    assert worker.alive()
