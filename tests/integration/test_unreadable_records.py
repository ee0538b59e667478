"""One damaged record in Redis never stops a loop over many: the reaper and retention log
it, note it in ``ar:unreadable`` and go on with the others (real Redis and broker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from render_cli.local_redis import LocalRedis
from render_core import keys
from render_core.job_index import FINISHED_KEY
from render_core.jobs import JobStore
from render_core.queue import make_celery
from render_core.records import UNREADABLE_KEY
from render_core.render_cache import refs_key
from render_core.retention import expire_outputs, expire_records
from render_core.schema import JobRecord, JobStatus, RendererInfo, RenderRequest
from render_core.settings import Settings
from render_core.storage import LocalStore
from tests.api.test_records_read_back import corrupt_job
from tests.conftest import STORE_TEST_DB
from tests.storage.test_retention import LATER, WEEK, _job
from workers.reaper import reap_lost_attempts

MOCK = RendererInfo(name="mock", version="1")


@pytest.fixture
def settings(redis_server: LocalRedis, redis_client: redis.Redis) -> Settings:
    return Settings(
        redis_url=f"redis://127.0.0.1:{redis_server.port}/{STORE_TEST_DB}", orphan_age_s=0.001
    )


@pytest.fixture
def celery(settings: Settings) -> Iterator[Celery]:
    app = make_celery(settings)
    yield app
    app.close()


def test_the_reaper_skips_a_damaged_record_and_reaps_the_rest(
    redis_client: redis.Redis, settings: Settings, celery: Celery
) -> None:
    jobs = JobStore(redis_client)
    request = RenderRequest(character_id="c", emotion="sad")
    jobs.create([JobRecord(id="lost", tenant="t", request=request)])
    jobs.start_attempt("lost", "w-dead", MOCK, max_attempts=5)
    jobs.create([JobRecord(id="orphan", tenant="t", request=request)])
    corrupt_job(redis_client, "damaged", "t", "running", score=0)  # read first
    # "orphan" as a dispatcher that died after taking it left it; and a missing one
    redis_client.zadd("ar:unsent", {"orphan": 0, "damaged": 0, "vanished": 0})

    touched = reap_lost_attempts(redis_client, jobs, celery, settings, holder="me")

    assert sorted(touched) == ["lost", "orphan"]
    assert jobs.get("lost").status == JobStatus.queued
    assert redis_client.hexists(UNREADABLE_KEY, "ar:job:damaged")


def test_retention_skips_a_damaged_record_and_expires_the_rest(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    jobs, store = JobStore(redis_client), LocalStore(tmp_path / "objects")
    _job(jobs, store, "done", JobStatus.succeeded)
    corrupt_job(redis_client, "damaged", "t1", "succeeded", score=0)
    redis_client.zadd("ar:status:failed", {"vanished": 0})

    expired = expire_outputs(jobs, store, WEEK, now=LATER)

    assert [e.job_id for e in expired] == ["done"]
    assert store.list(keys.job_prefix("done")) == [] and jobs.get("done").outputs_expired
    assert redis_client.hexists(UNREADABLE_KEY, "ar:job:damaged")


def test_record_retention_keeps_a_damaged_source_that_a_live_hit_shows(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    jobs, store = JobStore(redis_client), LocalStore(tmp_path / "objects")
    corrupt_job(redis_client, "damaged", "t1", "succeeded", score=0)
    redis_client.zadd(FINISHED_KEY, {"damaged": 0})
    frame = keys.job_prefix("damaged") + "1/frames/000000.png"
    store.put_bytes(frame, b"frame", "image/png")
    redis_client.sadd(refs_key("damaged"), "a-live-hit")

    assert expire_records(jobs, store, 0, now=LATER) == []
    assert store.get_bytes(frame) == b"frame"

    redis_client.srem(refs_key("damaged"), "a-live-hit")  # the hit went
    assert expire_records(jobs, store, 0, now=LATER) == ["damaged"]
    assert store.list(keys.job_prefix("damaged")) == []
