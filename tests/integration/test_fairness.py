"""Fair scheduling end to end: two mock workers, tenant A queues 500 jobs, then tenant B
submits one; B's job starts within two job-times of its submission instead of after A's
500. Interactive work overtakes a batch backlog. (``benchmarks/fairness.py`` measures
the same and A's throughput against unbounded dispatch; the figures are in the README.)"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from render_cli.local_redis import LocalRedis
from render_cli.processes import wait_until
from render_core.jobs import JobStore
from render_core.schema import JobStatus
from tests.conftest import SAMPLE_PORTRAIT
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.integration

KEYS = {"tenant-a": "key-a-fair", "tenant-b": "key-b-fair"}
# 20 frames at 50 ms: about a second a job, long next to the queue's own overheads; 500
# renders, not one render and 499 cache hits.
JOB = {
    "emotion": "happy",
    "size": 256,
    "duration_ms": 800,
    "fps": 25,
    "outputs": ["frames"],
    "cache": False,
}
A_JOBS = 500


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with LocalRedis(data_dir=tmp_path / "redis") as server:
        api_keys = ",".join(f"{tenant}:{key}" for tenant, key in KEYS.items())
        settings = {
            "mock_frame_delay_s": "0.05",
            "tenant_rate": "10000/s",
            "max_interactive_wait_s": "3600",
        }
        with running_stack(server.url, tmp_path, api_keys=api_keys, **settings) as s:
            yield s


def _client(stack: Stack, tenant: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {KEYS[tenant]}"}
    return httpx.Client(base_url=stack.api_url, headers=headers, timeout=60)


def _character(client: httpx.Client) -> str:
    response = client.post(
        "/v1/characters", files={"portrait": ("a.png", SAMPLE_PORTRAIT.read_bytes())}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_second_tenant_starts_within_two_job_times_behind_500(stack: Stack) -> None:
    stack.start_worker("fair1")
    stack.start_worker("fair2")
    stack.start_api()
    jobs = JobStore.from_url(stack.settings.redis_url)
    with _client(stack, "tenant-a") as a, _client(stack, "tenant-b") as b:
        body_a = {"character_id": _character(a), **JOB}
        body_b = {"character_id": _character(b), **JOB}
        a_ids: list[str] = []
        for _ in range(A_JOBS // 100):
            response = a.post("/v1/renders/batch", json={"requests": [body_a] * 100})
            assert response.status_code == 202, response.text
            a_ids += [job["id"] for job in response.json()["jobs"]]
        submitted = b.post("/v1/renders", json=body_b)
        assert submitted.status_code == 202, submitted.text
        b_id = submitted.json()["id"]
        assert submitted.json()["queue_position"] <= 4  # the broker's few, not A's 500
        wait_until(lambda: jobs.get(b_id).started_at is not None, 60, "B's job starting")
    b_job = jobs.get(b_id)
    assert b_job.started_at is not None
    waited = (b_job.started_at - b_job.created_at).total_seconds()
    finished = [
        r
        for r in filter(None, jobs.get_many(a_ids))
        if r.status == JobStatus.succeeded and r.started_at and r.finished_at
    ]
    assert len(finished) >= 2 and len(finished) < A_JOBS / 2
    job_time = statistics.median(
        (r.finished_at - r.started_at).total_seconds()  # type: ignore[operator]
        for r in finished
    )
    print(f"B waited {waited:.2f} s; a job takes {job_time:.2f} s")  # noqa: T201
    assert waited <= 2 * job_time


def test_an_interactive_job_overtakes_a_batch_backlog(stack: Stack) -> None:
    stack.start_worker("fair-one")
    stack.start_api()
    jobs = JobStore.from_url(stack.settings.redis_url)
    short = {**JOB, "duration_ms": 200}  # five frames, a quarter of a second
    with _client(stack, "tenant-a") as a:
        body = {"character_id": _character(a), **short}
        backlog = [{**body, "priority": "batch"}] * 12
        response = a.post("/v1/renders/batch", json={"requests": backlog})
        assert response.status_code == 202, response.text
        batch_ids = [job["id"] for job in response.json()["jobs"]]
        # the same tenant: only the priority lets it pass its own backlog
        submitted = a.post("/v1/renders", json={**body, "priority": "interactive"})
        assert submitted.status_code == 202, submitted.text
        urgent = submitted.json()["id"]
        wait_until(lambda: jobs.get(urgent).started_at is not None, 60, "the interactive job")
    started = jobs.get(urgent).started_at
    assert started is not None
    batch = list(filter(None, jobs.get_many(batch_ids)))
    after = [r.id for r in batch if r.started_at is None or r.started_at > started]
    # one worker slot: at most the batch job running and the one already handed to the
    # broker go first; the rest wait behind the interactive job
    assert len(after) >= len(batch_ids) - 3, [r.started_at for r in batch]
