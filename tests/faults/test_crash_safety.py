"""Fault tests: processes are killed and Redis restarts while at least 20 jobs are in flight.

Each test ends with every accepted job in the state it expects, none lost, none with two
manifests. Leases, heartbeats and the orphan sweep run on test-sized clocks (seconds).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from render_cli.local_redis import LocalRedis
from render_cli.processes import ManagedProcess, wait_until
from render_core.jobs import JobStore
from render_core.schema import JobRecord, JobStatus
from tests.conftest import SAMPLE_PORTRAIT
from tests.stack import Stack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAST_CLOCKS = {
    "lease_ttl_s": "3",
    "heartbeat_interval_s": "1",
    "orphan_age_s": "3",
    "visibility_timeout_s": "120",
    "mock_frame_delay_s": "0.05",
    "mock_faults": "true",
    "retry_backoff_s": "0.5",
    "max_attempts": "3",
}
# 20 frames, about 1.3 s. Not cached: 20 identical requests would otherwise be one render
# and 19 cache hits, and these tests need 20 renders in flight (the cache under a crash is
# tests/faults/test_cache_faults.py's).
JOB = {"emotion": "happy", "size": 256, "duration_ms": 800, "fps": 25, "cache": False}
IN_FLIGHT = 20


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[LocalRedis]:
    """A private server per test: one of them stops and restarts it."""
    server = LocalRedis(data_dir=tmp_path / "redis")
    server.start()
    yield server
    server.close()


@pytest.fixture
def stack(own_redis: LocalRedis, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(own_redis.url, tmp_path, **FAST_CLOCKS) as s:
        yield s


def _character(client: httpx.Client) -> str:
    response = client.post(
        "/v1/characters", files={"portrait": ("a.png", SAMPLE_PORTRAIT.read_bytes())}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _submit(client: httpx.Client, character_id: str, count: int, **extra: Any) -> list[str]:
    requests = [{"character_id": character_id, **JOB, **extra} for _ in range(count)]
    response = client.post("/v1/renders/batch", json={"requests": requests})
    assert response.status_code == 202, response.text
    return [job["id"] for job in response.json()["jobs"]]


def _records(stack: Stack) -> list[JobRecord]:
    jobs = JobStore.from_url(stack.settings.redis_url)
    records: list[JobRecord] = []
    for status in JobStatus:
        records += [jobs.get(job_id) for job_id in jobs.index.ids_with_status(status, 10_000)]
    return records


def _wait_all_finished(
    stack: Stack, ids: list[str], timeout_s: float = 180
) -> dict[str, JobRecord]:
    jobs = JobStore.from_url(stack.settings.redis_url)

    def finished() -> bool:
        return all(jobs.get(job_id).status.is_terminal for job_id in ids)

    wait_until(finished, timeout_s, f"{len(ids)} jobs finishing", poll_s=0.5)
    return {job_id: jobs.get(job_id) for job_id in ids}


def _assert_one_manifest_each(stack: Stack, records: dict[str, JobRecord]) -> None:
    for job_id, record in records.items():
        manifests = sorted((stack.storage_dir / "renders" / job_id).glob("*/manifest.json"))
        assert [m.relative_to(stack.storage_dir).as_posix() for m in manifests] == [
            record.manifest_key
        ]


def _running_job(stack: Stack, ids: list[str], worker_prefix: str | None = None) -> JobRecord:
    """Wait for a job that is mid-render (some frames done), on the given worker if named."""
    jobs = JobStore.from_url(stack.settings.redis_url)
    found: list[JobRecord] = []

    def mid_render() -> bool:
        for job_id in ids:
            record = jobs.get(job_id)
            on_worker = worker_prefix is None or (record.worker or "").startswith(worker_prefix)
            if record.status == JobStatus.running and record.progress.frames_done > 0 and on_worker:
                found.append(record)
                return True
        return False

    wait_until(mid_render, 60, "a job mid-render", poll_s=0.05)
    return found[0]


def _pool_children(worker: ManagedProcess) -> list[int]:
    path = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
    return [int(pid) for pid in path.read_text().split()]


def test_sigkill_of_the_pool_child_loses_no_job(stack: Stack) -> None:
    worker = stack.start_worker("pool-kill")
    stack.start_api()
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        ids = _submit(client, _character(client), IN_FLIGHT)
        victim = _running_job(stack, ids)
        (child,) = _pool_children(worker)
        os.kill(child, signal.SIGKILL)
        records = _wait_all_finished(stack, ids)
    assert all(r.status == JobStatus.succeeded for r in records.values()), records
    assert records[victim.id].attempts == 2
    assert all(r.attempts == 1 for job_id, r in records.items() if job_id != victim.id)
    _assert_one_manifest_each(stack, records)
    assert worker.alive()


def test_sigkill_of_a_whole_worker_hands_its_job_to_the_other(stack: Stack) -> None:
    doomed = stack.start_worker("doomed")
    stack.start_worker("survivor")
    stack.start_api()
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        ids = _submit(client, _character(client), IN_FLIGHT)
        victim = _running_job(stack, ids, worker_prefix="doomed")
        doomed.signal_group(signal.SIGKILL)
        records = _wait_all_finished(stack, ids)
    assert all(r.status == JobStatus.succeeded for r in records.values()), records
    assert records[victim.id].attempts == 2
    assert (records[victim.id].worker or "").startswith("survivor")
    assert sum(r.attempts for r in records.values()) == IN_FLIGHT + 1
    _assert_one_manifest_each(stack, records)


def test_redis_restart_with_jobs_queued_and_running(stack: Stack, own_redis: LocalRedis) -> None:
    stack.start_worker("steady")
    stack.start_api()
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        ids = _submit(client, _character(client), IN_FLIGHT)
    _running_job(stack, ids)
    own_redis.stop()  # SIGTERM: Redis writes its AOF and exits
    time.sleep(3)
    own_redis.start()
    records = _wait_all_finished(stack, ids, timeout_s=240)
    assert all(r.status == JobStatus.succeeded for r in records.values()), records
    assert all(1 <= r.attempts <= 2 for r in records.values())
    _assert_one_manifest_each(stack, records)


def test_killing_the_api_during_a_batch_loses_no_accepted_job(stack: Stack) -> None:
    stack.start_worker("batch-worker")
    api = stack.start_api()
    accepted: list[str] = []
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        character = _character(client)

        def submit_batches() -> None:
            for _ in range(10):
                try:
                    accepted.extend(_submit(client, character, IN_FLIGHT))
                except (httpx.HTTPError, AssertionError):
                    return

        sender = threading.Thread(target=submit_batches)
        sender.start()
        wait_until(lambda: len(accepted) >= IN_FLIGHT, 60, "a first batch accepted", poll_s=0.01)
        api.signal_group(signal.SIGKILL)
        sender.join(timeout=60)
    every_record = {r.id: r for r in _records(stack)}
    assert set(accepted) <= set(every_record)
    records = _wait_all_finished(stack, list(every_record), timeout_s=240)
    assert all(r.status == JobStatus.succeeded for r in records.values()), records
    _assert_one_manifest_each(stack, records)


def test_a_job_that_kills_its_worker_every_time_fails_as_worker_lost(stack: Stack) -> None:
    worker = stack.start_worker("poisoned")
    stack.start_api()
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        character = _character(client)
        (poison,) = _submit(client, character, 1, metadata={"mock_fault": "crash"})
        healthy = _submit(client, character, IN_FLIGHT)
        records = _wait_all_finished(stack, [poison, *healthy], timeout_s=240)
    failed = records[poison]
    assert failed.status == JobStatus.failed and failed.error is not None
    assert failed.error.code == "worker_lost" and failed.attempts == 3
    assert all(records[job_id].status == JobStatus.succeeded for job_id in healthy)
    assert poison in JobStore.from_url(stack.settings.redis_url).index.ids_with_status(
        JobStatus.failed
    )
    assert worker.alive()


def test_a_hung_render_times_out_and_retries(own_redis: LocalRedis, tmp_path: Path) -> None:
    """The soft limit (floor + frames x budget) stops a render that hangs: a transient
    ``timeout``, retried, then failed once out of attempts; other jobs go on."""
    limits = {"time_limit_floor_s": "3", "expected_frame_s": "0.05", "max_attempts": "2"}
    with running_stack(own_redis.url, tmp_path, **{**FAST_CLOCKS, **limits}) as stack:
        stack.start_worker("limited")
        stack.start_api()
        with httpx.Client(base_url=stack.api_url, timeout=30) as client:
            character = _character(client)
            (hung,) = _submit(client, character, 1, metadata={"mock_fault": "hang"})
            (healthy,) = _submit(client, character, 1)
            records = _wait_all_finished(stack, [hung, healthy], timeout_s=120)
    failed = records[hung]
    assert failed.status == JobStatus.failed and failed.attempts == 2
    assert failed.error is not None and failed.error.code == "timeout" and failed.error.retryable
    assert records[healthy].status == JobStatus.succeeded
