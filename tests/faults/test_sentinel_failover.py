"""Failover under load: a primary, a replica and three sentinels on loopback, 20+ jobs in
flight with mock workers and submissions going on; SIGKILL the primary. The sentinels
promote the replica, the API and the workers follow it without a restart, and every job
that was answered 202 ends with one manifest (real processes throughout)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from render_cli.local_redis import LocalRedis, LocalSentinel
from render_cli.processes import wait_until
from render_core.jobs import JobStore
from render_core.schema import JobRecord, JobStatus
from tests.faults.test_crash_safety import FAST_CLOCKS, JOB, _assert_one_manifest_each, _character
from tests.stack import Stack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVICE = "avatar-render"
IN_FLIGHT = 24


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[LocalRedis, LocalRedis, list[LocalSentinel]]]:
    primary = LocalRedis(tmp_path / "primary", None, "--repl-diskless-sync-delay", "0").start()
    replica = LocalRedis(tmp_path / "replica").replica_of(primary).start()
    replica.wait_replicating()
    sentinels = [
        LocalSentinel(tmp_path / f"sentinel{n}", primary.port, SERVICE).start() for n in range(3)
    ]
    try:
        yield primary, replica, sentinels
    finally:
        for sentinel in sentinels:
            sentinel.stop()
        replica.close()
        primary.close()


def _primary_port(sentinel: LocalSentinel) -> int:
    client = redis.Redis(port=sentinel.port, decode_responses=True, socket_timeout=2)
    try:
        address = client.sentinel_get_master_addr_by_name(SERVICE, return_responses=True)
        assert isinstance(address, tuple)
        return int(address[1])
    finally:
        client.close()


class Submitter(threading.Thread):
    """Submits a job at a time until stopped, each with its own Idempotency-Key, retrying
    a key (as a client does) until the API answers 202; keeps every job id it was given."""

    def __init__(self, api_url: str, character_id: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=api_url, timeout=10)
        self.body = {"character_id": character_id, **JOB}
        self.accepted: list[str] = []
        self.refusals = 0
        self.stopped = threading.Event()

    def submit(self, key: str, patience_s: float = 90.0) -> str:
        deadline = time.monotonic() + patience_s
        while time.monotonic() < deadline:
            try:
                response = self.client.post(
                    "/v1/renders", json=self.body, headers={"Idempotency-Key": key}
                )
                if response.status_code == 202:
                    return str(response.json()["id"])
                assert response.status_code in (409, 503), response.text
            except httpx.HTTPError:
                pass
            self.refusals += 1
            time.sleep(0.2)
        raise AssertionError(f"key {key} never accepted")

    def run(self) -> None:
        while not self.stopped.is_set():
            self.accepted.append(self.submit(uuid.uuid4().hex))
            time.sleep(0.1)


def test_sigkill_of_the_primary_loses_no_accepted_job(
    cluster: tuple[LocalRedis, LocalRedis, list[LocalSentinel]], tmp_path: Path
) -> None:
    primary, replica, sentinels = cluster
    hosts = ",".join(f"127.0.0.1:{s.port}" for s in sentinels)
    url = f"sentinel://{hosts}/{SERVICE}/0"
    settings = {**FAST_CLOCKS, "mock_faults": "false", "max_attempts": "5"}
    with running_stack(url, tmp_path / "stack", **settings) as stack:
        workers = [stack.start_worker(name) for name in ("fo-a", "fo-b")]
        api = stack.start_api()
        with httpx.Client(base_url=stack.api_url, timeout=30) as client:
            character = _character(client)
        submitter = Submitter(stack.api_url, character)
        first = [submitter.submit(uuid.uuid4().hex) for _ in range(IN_FLIGHT)]
        submitter.start()
        jobs = JobStore.from_url(url)
        wait_until(
            lambda: jobs.index.count(JobStatus.running) > 0, 30, "a job mid-render", poll_s=0.05
        )

        assert primary.process is not None
        primary.process.kill()  # SIGKILL: no AOF flush, no goodbye
        killed = time.monotonic()
        wait_until(
            lambda: all(_primary_port(s) == replica.port for s in sentinels),
            60,
            "the sentinels promoting the replica",
            poll_s=0.2,
        )
        promoted_s = time.monotonic() - killed
        # With its one replica gone, the new primary has none to acknowledge: submissions
        # are refused (503) rather than accepted at risk, until the old primary is back
        # (a restart policy) and the sentinels have made it a replica of the new one.
        time.sleep(2)
        refused_alone = submitter.refusals
        primary.start()
        primary.wait_replicating()
        promoted_at = len(submitter.accepted)
        wait_until(lambda: len(submitter.accepted) >= promoted_at + 10, 90, "submissions after it")
        submitter.stopped.set()
        submitter.join(timeout=120)
        accepted = first + submitter.accepted
        records = _wait_for(stack, accepted)
        assert all(p.alive() for p in [*workers, api]), "a process died"
    logging.getLogger(__name__).warning(
        "failover: promoted %.1f s after the kill; %d jobs accepted, %d refusals; attempts %s",
        promoted_s,
        len(accepted),
        submitter.refusals,
        sorted(r.attempts for r in records.values()),
    )
    assert len(accepted) >= IN_FLIGHT + 10 and refused_alone > 0
    assert all(r.status == JobStatus.succeeded for r in records.values()), {
        job_id: (r.status, r.error) for job_id, r in records.items() if r.status != "succeeded"
    }
    _assert_one_manifest_each(stack, records)


def _wait_for(stack: Stack, ids: list[str], timeout_s: float = 240) -> dict[str, JobRecord]:
    jobs = JobStore.from_url(stack.settings.redis_url)

    def finished() -> bool:
        return all(
            record is not None and record.status.is_terminal for record in jobs.get_many(ids)
        )

    wait_until(finished, timeout_s, f"{len(ids)} jobs finishing", poll_s=0.5)
    return {record.id: record for record in jobs.get_many(ids) if record is not None}
