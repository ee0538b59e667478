"""The reaper against a real Redis and broker: lost attempts and orphaned jobs go back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from celery import Celery

from render_cli.local_redis import LocalRedis
from render_core.dispatch import Dispatcher
from render_core.fair_queue import take_next
from render_core.heartbeats import hold_lease
from render_core.job_index import UNSENT_KEY
from render_core.jobs import JobStore
from render_core.queue import make_celery, queue_name
from render_core.schema import JobRecord, JobStatus, Priority, RendererInfo, RenderRequest, utc_now
from render_core.settings import Settings
from tests.conftest import STORE_TEST_DB
from workers.reaper import reap_lost_attempts, resend_orphans

MOCK = RendererInfo(name="mock", version="1")


@pytest.fixture
def settings(redis_server: LocalRedis, redis_client: redis.Redis) -> Settings:
    return Settings(
        redis_url=f"redis://127.0.0.1:{redis_server.port}/{STORE_TEST_DB}", max_attempts=2
    )


@pytest.fixture
def celery(settings: Settings) -> Iterator[Celery]:
    app = make_celery(settings)
    yield app
    app.close()


def _record(job_id: str, age_s: float = 0.0) -> JobRecord:
    request = RenderRequest.model_validate({"character_id": "c", "emotion": "sad"})
    return JobRecord(
        id=job_id, tenant="t", request=request, created_at=utc_now() - timedelta(seconds=age_s)
    )


def _queued_messages(client: redis.Redis, settings: Settings) -> int:
    return int(client.llen(queue_name(settings, Priority.interactive)))


def test_a_running_job_without_lease_is_requeued_and_sent(
    redis_client: redis.Redis, settings: Settings, celery: Celery
) -> None:
    jobs = JobStore(redis_client)
    jobs.create([_record("lost"), _record("alive")])
    lost = jobs.start_attempt("lost", "w-dead", MOCK, max_attempts=2)
    alive = jobs.start_attempt("alive", "w-live", MOCK, max_attempts=2)
    assert lost is not None and alive is not None and alive.attempt_token
    jobs.mark_enqueued("lost", "t1")
    jobs.mark_enqueued("alive", "t2")
    hold_lease(redis_client, alive.attempt_token)
    touched = reap_lost_attempts(redis_client, jobs, celery, settings, holder="me")
    assert touched == ["lost"]
    requeued = jobs.get("lost")
    assert requeued.status == JobStatus.queued and requeued.error is not None
    assert requeued.error.code == "worker_lost" and requeued.enqueued_at is not None
    assert requeued.task_id != "t1"
    assert _queued_messages(redis_client, settings) == 1
    assert jobs.get("alive").status == JobStatus.running


def test_a_job_lost_on_its_last_attempt_fails(
    redis_client: redis.Redis, settings: Settings, celery: Celery
) -> None:
    jobs = JobStore(redis_client)
    jobs.create([_record("poison")])
    for _ in range(2):
        jobs.start_attempt("poison", "w", MOCK, max_attempts=2)
    jobs.mark_enqueued("poison", "t")
    reap_lost_attempts(redis_client, jobs, celery, settings, holder="me")
    failed = jobs.get("poison")
    assert failed.status == JobStatus.failed and failed.error and failed.error.code == "worker_lost"
    assert jobs.index.ids_with_status(JobStatus.failed) == ["poison"]


def test_only_one_reaper_runs_at_a_time(
    redis_client: redis.Redis, settings: Settings, celery: Celery
) -> None:
    jobs = JobStore(redis_client)
    jobs.create([_record("lost")])
    jobs.start_attempt("lost", "w", MOCK, max_attempts=2)
    redis_client.set("ar:reaper:lock", "someone-else", ex=10)
    assert reap_lost_attempts(redis_client, jobs, celery, settings, holder="me") == []
    assert jobs.get("lost").status == JobStatus.running


def test_jobs_a_dispatcher_took_but_never_sent_get_a_message(
    redis_client: redis.Redis, settings: Settings, celery: Celery
) -> None:
    """A dispatcher that dies between taking jobs from the fair queue and sending them
    leaves them in the unsent set; the reaper sends them once they are old enough."""
    jobs = JobStore(redis_client)
    jobs.create([_record("orphan"), _record("young"), _record("sent")])
    room = Dispatcher(celery, settings, jobs).room(Priority.interactive)
    unbounded = replace(room, ahead_per_slot=0)
    assert take_next(redis_client, Priority.interactive, unbounded, {}) == [
        "orphan",
        "young",
        "sent",
    ]
    redis_client.zadd(UNSENT_KEY, {"orphan": time.time() - 60, "sent": time.time() - 60})
    jobs.mark_enqueued("sent", "t")
    assert resend_orphans(jobs, celery, settings) == ["orphan"]
    assert jobs.get("orphan").enqueued_at is not None
    assert jobs.get("young").enqueued_at is None
    assert _queued_messages(redis_client, settings) == 1
    assert resend_orphans(jobs, celery, settings) == []
