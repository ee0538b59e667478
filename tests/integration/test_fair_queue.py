"""The fair queue on a real Redis: tenants in turn by weight, FIFO within a tenant, the
order the job view predicts, and nothing lost between taking a job and sending it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis
from celery import Celery

from render_cli.local_redis import LocalRedis
from render_core import fair_queue
from render_core.dispatch import Dispatcher
from render_core.heartbeats import WorkerBeat, beat
from render_core.job_index import UNSENT_KEY
from render_core.jobs import JobStore
from render_core.queue import make_celery, queue_name
from render_core.schema import JobError, JobRecord, JobStatus, Priority, RenderRequest
from render_core.settings import Settings
from tests.conftest import STORE_TEST_DB, child_env


@pytest.fixture
def settings(redis_server: LocalRedis, redis_client: redis.Redis) -> Settings:
    return Settings(
        redis_url=f"redis://127.0.0.1:{redis_server.port}/{STORE_TEST_DB}",
        tenant_limits="alpha:weight=2",
        dispatch_ahead=1,
    )


@pytest.fixture
def celery(settings: Settings) -> Iterator[Celery]:
    app = make_celery(settings)
    yield app
    app.close()


def _record(job_id: str, tenant: str, priority: str = "interactive") -> JobRecord:
    request = RenderRequest.model_validate(
        {"character_id": "c", "emotion": "sad", "priority": priority}
    )
    return JobRecord(id=job_id, tenant=tenant, request=request, task_id=f"t-{job_id}")


def _take_all(client: redis.Redis, dispatcher: Dispatcher, priority: Priority) -> list[str]:
    room = replace(dispatcher.room(priority), ahead_per_slot=0)
    return fair_queue.take_next(client, priority, room, dispatcher.weights)


def test_tenants_take_turns_by_weight_and_each_keeps_its_order(
    redis_client: redis.Redis, settings: Settings, celery: Celery
) -> None:
    jobs = JobStore(redis_client)
    dispatcher = Dispatcher(celery, settings, jobs)
    jobs.create([_record(f"a{i}", "alpha") for i in range(6)])
    jobs.create([_record(f"b{i}", "beta") for i in range(6)])
    jobs.create([_record("c0", "gamma")])
    order = _take_all(redis_client, dispatcher, Priority.interactive)
    assert order[:6] == ["a0", "b0", "c0", "a1", "a2", "b1"]
    assert [j for j in order if j.startswith("a")] == [f"a{i}" for i in range(6)]
    assert [j for j in order if j.startswith("b")] == [f"b{i}" for i in range(6)]
    # alpha (weight 2) gets two turns for each of beta's while both wait
    assert order[6:9] == ["a3", "a4", "b2"]
    assert set(redis_client.zrange(UNSENT_KEY, 0, -1)) == set(order)


def test_a_tenant_coming_back_banks_no_credit(
    redis_client: redis.Redis, settings: Settings, celery: Celery
) -> None:
    jobs = JobStore(redis_client)
    dispatcher = Dispatcher(celery, settings, jobs)
    jobs.create([_record(f"b{i}", "beta") for i in range(3)])
    assert _take_all(redis_client, dispatcher, Priority.interactive) == ["b0", "b1", "b2"]
    jobs.create([_record(f"g{i}", "gamma") for i in range(3)])
    jobs.create([_record(f"b{i}", "beta") for i in range(3, 6)])
    # gamma was never served, beta was served three times while alone: from here they
    # alternate (beta does not owe its idle turns, gamma is not owed them either)
    order = _take_all(redis_client, dispatcher, Priority.interactive)
    assert order == ["g0", "b3", "g1", "b4", "g2", "b5"]


def test_the_predicted_place_is_the_dispatch_order(
    redis_client: redis.Redis, settings: Settings, celery: Celery
) -> None:
    jobs = JobStore(redis_client)
    dispatcher = Dispatcher(celery, settings, jobs)
    jobs.create([_record(f"a{i}", "alpha") for i in range(5)])
    jobs.create([_record(f"b{i}", "beta") for i in range(4)])
    jobs.create([_record(f"c{i}", "gamma") for i in range(2)])
    pipe = redis_client.pipeline(transaction=False)
    fair_queue.read_state(pipe, Priority.interactive)
    state = fair_queue.state_from(iter(pipe.execute()), Priority.interactive)
    predicted = {}
    for record in filter(
        None, jobs.get_many([f"a{i}" for i in range(5)] + [f"b{i}" for i in range(4)])
    ):
        rank = fair_queue.rank_in_tenant_queue(redis_client, record)
        assert rank is not None
        predicted[record.id] = state.served_before(record.tenant, rank, dispatcher.weights)
    order = _take_all(redis_client, dispatcher, Priority.interactive)
    assert predicted == {job_id: order.index(job_id) for job_id in predicted}


def test_dispatch_keeps_the_broker_short_and_sends_through_enqueue(
    redis_client: redis.Redis, settings: Settings, celery: Celery
) -> None:
    jobs = JobStore(redis_client)
    queue = queue_name(settings, Priority.interactive)
    beat(redis_client, WorkerBeat(hostname="w1@h", renderer="mock", queues=[queue], pid=1))
    beat(
        redis_client,
        WorkerBeat(hostname="w2@h", renderer="mock", queues=[queue], pid=2, concurrency=2),
    )
    jobs.create([_record(f"a{i}", "alpha") for i in range(10)])
    dispatcher = Dispatcher(celery, settings, jobs)
    assert dispatcher.top_up() == 3  # three live slots, one message ahead for each
    assert redis_client.llen(queue) == 3
    assert dispatcher.top_up() == 0
    sent = [r for r in jobs.get_many([f"a{i}" for i in range(10)]) if r and r.enqueued_at]
    assert [r.id for r in sent] == ["a0", "a1", "a2"]
    assert redis_client.zcard(UNSENT_KEY) == 0
    redis_client.rpop(queue)  # a worker takes one: room for the next
    assert dispatcher.top_up() == 1 and jobs.get("a3").enqueued_at is not None


def test_cancelled_waiting_jobs_leave_the_fair_queue(
    redis_client: redis.Redis, settings: Settings, celery: Celery
) -> None:
    jobs = JobStore(redis_client)
    dispatcher = Dispatcher(celery, settings, jobs)
    jobs.create([_record("a0", "alpha"), _record("a1", "alpha"), _record("b0", "beta", "batch")])
    jobs.request_cancel("a0")
    jobs.request_cancel("b0")
    assert _take_all(redis_client, dispatcher, Priority.interactive) == ["a1"]
    assert _take_all(redis_client, dispatcher, Priority.batch) == []
    assert jobs.get("a0").status == JobStatus.cancelled
    retried = jobs.retry("a0", task_id="t2")
    assert retried.status == JobStatus.queued
    assert _take_all(redis_client, dispatcher, Priority.interactive) == ["a0"]


def test_the_cli_replays_a_failed_job_through_the_fair_queue(
    redis_client: redis.Redis, settings: Settings
) -> None:
    jobs = JobStore(redis_client)
    jobs.create([_record("a0", "alpha"), _record("a1", "alpha")])
    error = JobError(code="render_failed", message="no", retryable=False)
    for job_id in ("a0", "a1"):
        jobs.fail(job_id, None, error)
    env = child_env(redis_url=settings.redis_url, log_json="false")
    done = subprocess.run(
        [sys.executable, "-m", "render_cli", "jobs", "retry", "--all-failed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    replayed = list(filter(None, jobs.get_many(["a0", "a1"])))
    assert [r.status for r in replayed] == [JobStatus.queued, JobStatus.queued]
    # one message waits for a worker (none beats here); the other waits its turn
    assert [r.enqueued_at is not None for r in replayed] == [True, False]
