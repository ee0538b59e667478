"""Idempotency keys survive Redis failing at any step: a retry with the same key gets the
same job (or a 409 saying how long to wait), never a second one (fast tier: the real app,
the real Redis, and a connection that fails from a chosen command on)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from redis.backoff import NoBackoff
from redis.retry import Retry

from producer_api.app import create_app
from producer_api.idempotency import IdempotencyStore, body_fingerprint
from producer_api.services import ApiServices
from render_core.fair_queue import tenant_queue_key
from render_core.job_index import UNSENT_KEY
from render_core.jobs import FenceLost, JobStore
from render_core.schema import JobError, JobRecord, JobStatus, Priority, RenderRequest
from render_core.settings import Settings
from tests.api.conftest import KEY_A, queued_messages
from tests.api.test_renders_in_process import SMALL, register
from workers.reaper import resend_orphans

pytestmark = pytest.mark.anyio

LEASE_S = 0.3
SAD = RenderRequest(character_id="c", emotion="sad")
TENANT_JOBS = "ar:tenant:tenant-a:jobs"


@dataclass
class Faults:
    """Counts Redis commands from when it is armed; from the ``fail_from``-th one on, each
    fails: before it is sent (``send``), or after Redis ran it, the reply lost (``reply``)."""

    mode: str = "send"
    fail_from: int | None = None
    count: int = 0
    fired: bool = False

    def arm(self, fail_from: int, mode: str) -> None:
        self.fail_from, self.mode, self.count, self.fired = fail_from, mode, 0, False

    def disarm(self) -> None:
        self.fail_from = None

    def step(self, when: str) -> None:
        if self.fail_from is None or when != self.mode:
            return
        if when == "send":
            self.count += 1
        if self.count >= self.fail_from:
            self.fired = True
            raise redis.ConnectionError(f"injected failure at command {self.count} ({when})")


def failing_pool(faults: Faults, settings: Settings) -> redis.ConnectionPool:
    class FailingConnection(redis.Connection):
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            faults.step("send")
            super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            response = super().read_response(*args, **kwargs)
            if faults.mode == "reply":
                faults.count += 1
            faults.step("reply")
            return response

    url = redis.connection.parse_url(settings.redis_url)  # type: ignore[no-untyped-call]
    return redis.ConnectionPool(
        connection_class=FailingConnection,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
        **url,
    )


@pytest.fixture
def faulty(api_settings: Settings) -> Iterator[tuple[FastAPI, Faults]]:
    app = create_app(api_settings.model_copy(update={"idempotency_lease_s": LEASE_S}))
    faults = Faults()
    services: ApiServices = app.state.services
    services.redis.connection_pool = failing_pool(faults, api_settings)
    yield app, faults
    services.redis.connection_pool.disconnect()


def client_of(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    auth = {"Authorization": f"Bearer {KEY_A}"}
    return httpx.AsyncClient(transport=transport, base_url="http://api", headers=auth)


async def settle(client: httpx.AsyncClient, body: dict[str, Any], key: str) -> httpx.Response:
    """Retry as a client does: wait while the key is in progress (bounded)."""
    for _ in range(50):
        response = await client.post("/v1/renders", json=body, headers={"Idempotency-Key": key})
        if response.status_code != 409:
            return response
        assert response.json()["error"]["code"] == "idempotency_in_progress"
        assert 1 <= int(response.headers["retry-after"]) <= 1 + LEASE_S
        await asyncio.sleep(LEASE_S / 3)
    raise AssertionError(f"key {key} stayed in progress")


@pytest.mark.parametrize("mode", ["send", "reply"])
async def test_a_redis_failure_at_any_step_never_makes_a_second_job(
    faulty: tuple[FastAPI, Faults], redis_client: redis.Redis, mode: str
) -> None:
    app, faults = faulty
    async with client_of(app) as client:
        character = await register(client)
        # Uncached: identical renders would follow the first (single flight), unsent.
        body = {"character_id": character["id"], "emotion": "happy", "cache": False, **SMALL}
        for step in range(1, 80):
            key = f"{mode}-{step}"
            before = redis_client.zcard(TENANT_JOBS)
            faults.arm(step, mode)
            first = await client.post("/v1/renders", json=body, headers={"Idempotency-Key": key})
            fired = faults.fired
            faults.disarm()
            assert first.status_code in (202, 409, 503), (step, first.text)
            assert first.headers["content-type"] == "application/json"
            second = await settle(client, body, key)
            assert second.status_code == 202, (step, second.text)
            assert redis_client.zcard(TENANT_JOBS) == before + 1, f"step {step}: a second job"
            if first.status_code == 202:
                assert first.json()["id"] == second.json()["id"]
            job = (await client.get(f"/v1/renders/{second.json()['id']}")).json()
            assert job["status"] == "queued", (step, job)
            if not fired:  # the whole request ran before step N: every step was covered
                break
        # the key's claim, the checks' read, the creation, a dispatch, the key's completion
        assert step > 5, f"only {step} steps"
        # Every job was sent (a resumed one possibly twice) or waits for its turn.
        waiting = redis_client.zcard(tenant_queue_key(Priority.interactive, "tenant-a"))
        assert queued_messages(redis_client) + waiting >= step


async def test_a_claim_whose_request_died_blocks_a_retry_only_for_its_lease(
    api_settings: Settings, redis_client: redis.Redis
) -> None:
    app = create_app(api_settings.model_copy(update={"idempotency_lease_s": 2.0}))
    async with client_of(app) as client:
        character = await register(client)
        body = {"character_id": character["id"], "emotion": "sad", **SMALL}
        # A request claimed the key, then died (or its client had already given up).
        fingerprint = body_fingerprint("renders", [RenderRequest(**body).model_dump(mode="json")])
        dead = IdempotencyStore(redis_client, lease_s=2.0).claim("tenant-a", "gone", fingerprint, 1)
        busy = await client.post("/v1/renders", json=body, headers={"Idempotency-Key": "gone"})
        assert busy.status_code == 409 and busy.headers["retry-after"] == "2"
        await asyncio.sleep(2.05)
        done = await client.post("/v1/renders", json=body, headers={"Idempotency-Key": "gone"})
        assert done.status_code == 202 and done.json()["id"] == dead.job_ids[0]
        again = await client.post("/v1/renders", json=body, headers={"Idempotency-Key": "gone"})
        assert again.json()["id"] == dead.job_ids[0]
        assert redis_client.zcard(TENANT_JOBS) == 1 and queued_messages(redis_client) == 1


async def test_a_refused_send_leaves_the_job_to_the_reaper_and_a_replay_finds_it(
    api_settings: Settings, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker refusing a message does not refuse the job: it is stored (202), marked
    taken-but-unsent, and the reaper sends it; a replay with the key is the same job."""
    app = create_app(api_settings)
    services: ApiServices = app.state.services
    real_send = services.celery.send_task
    calls = {"n": 0}

    def refuse_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("broker refused")
        return real_send(*args, **kwargs)

    monkeypatch.setattr(services.celery, "send_task", refuse_once)
    async with client_of(app) as client:
        character = await register(client)
        body = {"character_id": character["id"], "emotion": "sad", **SMALL}
        accepted = await client.post("/v1/renders", json=body, headers={"Idempotency-Key": "q"})
        assert accepted.status_code == 202 and accepted.json()["status"] == "queued"
        job_id = accepted.json()["id"]
        assert queued_messages(redis_client) == 0
        assert redis_client.zscore(UNSENT_KEY, job_id) is not None
        at_once = api_settings.model_copy(update={"orphan_age_s": 0.0})
        assert resend_orphans(services.jobs, services.celery, at_once) == [job_id]
        replayed = await client.post("/v1/renders", json=body, headers={"Idempotency-Key": "q"})
        assert replayed.status_code == 202 and replayed.json()["id"] == job_id
        assert redis_client.zcard(TENANT_JOBS) == 1 and queued_messages(redis_client) == 1
        assert redis_client.zscore(UNSENT_KEY, job_id) is None


def test_a_request_whose_lease_ran_out_fails_no_job(redis_client: redis.Redis) -> None:
    """A slow request (its client gave up and retried) must not fail a job that the retry,
    which took the key over, has meanwhile answered 202 for."""
    store = IdempotencyStore(redis_client, lease_s=0.2)
    jobs = JobStore(redis_client)
    fingerprint = body_fingerprint("renders", [{}])
    slow = store.claim("tenant-a", "k", fingerprint, 1)
    jobs.create([JobRecord(id=slow.job_ids[0], tenant="tenant-a", request=SAD)], if_absent=True)
    time.sleep(0.3)  # the slow request's lease runs out; a retry takes the key over
    retry = store.claim("tenant-a", "k", fingerprint, 1)
    assert retry.job_ids == slow.job_ids and not retry.done
    refused = JobError(code="queue_unavailable", message="not replicated", retryable=True)
    with pytest.raises(FenceLost):
        jobs.fail(slow.job_ids[0], None, refused, fence=store.fence("tenant-a", "k", slow))
    assert jobs.get(slow.job_ids[0]).status == JobStatus.queued
    failed = jobs.fail(slow.job_ids[0], None, refused, fence=store.fence("tenant-a", "k", retry))
    assert failed.status == JobStatus.failed  # the holder of the key may
