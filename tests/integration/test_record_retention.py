"""Redis does not grow without bound: finished jobs go RENDER_JOB_RETENTION_S after they
finished, record, index entries and what outputs are left, in the workers' reaper round
(real Redis, broker and local storage)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from celery import Celery

from render_cli.local_redis import LocalRedis
from render_core import keys
from render_core.heartbeats import hold_lease
from render_core.jobs import JobStore
from render_core.queue import make_celery
from render_core.retention import expire_outputs, expire_records
from render_core.schema import JobStatus, utc_now
from render_core.settings import Settings
from render_core.storage import LocalStore
from tests.conftest import STORE_TEST_DB
from tests.storage.test_retention import _job
from workers.reaper import reap_lost_attempts

RETENTION_S = 60


@pytest.fixture
def settings(redis_server: LocalRedis, redis_client: redis.Redis) -> Settings:
    return Settings(
        redis_url=f"redis://127.0.0.1:{redis_server.port}/{STORE_TEST_DB}",
        job_retention_s=RETENTION_S,
    )


@pytest.fixture
def celery(settings: Settings) -> Iterator[Celery]:
    app = make_celery(settings)
    yield app
    app.close()


def age(client: redis.Redis, job_id: str, seconds: float) -> None:
    """Make a finished job look as if it finished ``seconds`` ago (its retention clock)."""
    client.zadd("ar:finished", {job_id: time.time() - seconds})


def traces(client: redis.Redis, job_id: str) -> list[str]:
    """Every key that still holds the job: its record and any index."""
    found = [str(key) for key in client.keys("ar:*") if client.type(key) == "zset"]
    held = [key for key in found if client.zscore(key, job_id) is not None]
    return held + ([f"ar:job:{job_id}"] if client.exists(f"ar:job:{job_id}") else [])


def test_the_reaper_round_deletes_finished_jobs_past_retention_and_nothing_else(
    redis_client: redis.Redis, settings: Settings, celery: Celery, tmp_path: Path
) -> None:
    jobs, store = JobStore(redis_client), LocalStore(tmp_path / "objects")
    for job_id, status in [
        ("old-done", JobStatus.succeeded),
        ("old-failed", JobStatus.failed),
        ("fresh-done", JobStatus.succeeded),
        ("waiting", JobStatus.queued),
        ("busy", JobStatus.running),
    ]:
        _job(jobs, store, job_id, status)
    busy = jobs.get("busy")
    assert busy.attempt_token is not None
    hold_lease(redis_client, busy.attempt_token)
    age(redis_client, "old-done", RETENTION_S + 5)
    age(redis_client, "old-failed", RETENTION_S + 5)

    reap_lost_attempts(redis_client, jobs, celery, settings, holder="me", store=store)

    for gone in ("old-done", "old-failed"):
        assert traces(redis_client, gone) == []
        assert store.list(keys.job_prefix(gone)) == []
    assert len(store.list(keys.job_prefix("fresh-done"))) == 1
    assert jobs.get("fresh-done").status == JobStatus.succeeded
    assert {j.id for j in jobs.list_page("t1", None, 10, None).jobs} == {
        "fresh-done",
        "waiting",
        "busy",
    }
    assert jobs.index.count(JobStatus.succeeded) == 1


def test_outputs_gc_and_record_retention_agree(redis_client: redis.Redis, tmp_path: Path) -> None:
    """A record whose outputs ``storage gc`` deleted stays (410) until record retention;
    a retried job leaves the finished index and is never deleted while it runs again."""
    jobs, store = JobStore(redis_client), LocalStore(tmp_path / "objects")
    _job(jobs, store, "done", JobStatus.succeeded)
    _job(jobs, store, "failed", JobStatus.failed)
    later = utc_now() + timedelta(days=8)
    expire_outputs(jobs, store, timedelta(days=7), now=later)
    assert jobs.get("done").outputs_expired
    assert expire_records(jobs, store, 30 * 86_400, now=later) == []  # not yet
    jobs.retry("failed", task_id="t2")
    assert expire_records(jobs, store, 7 * 86_400, now=later) == ["done"]
    assert traces(redis_client, "done") == []
    assert jobs.get("failed").status == JobStatus.queued
