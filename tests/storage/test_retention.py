"""Retention against a real redis-server and a local object store, with the clock passed in.

The end-to-end cases (the CLI, S3, the API's 410) are in ``test_storage_failures.py``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import redis

from render_core import keys
from render_core.errors import Conflict
from render_core.jobs import JobStore
from render_core.retention import expire_outputs, parse_age
from render_core.schema import JobError, JobRecord, JobStatus, RendererInfo, RenderRequest, utc_now
from render_core.storage import LocalStore

MOCK = RendererInfo(name="mock", version="1")
WEEK = timedelta(days=7)
LATER = utc_now() + timedelta(days=8)
STORAGE_DOWN = JobError(code="storage_unavailable", message="down", retryable=True)


@pytest.fixture
def jobs(redis_client: redis.Redis) -> JobStore:
    return JobStore(redis_client)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects")


def _attempt(jobs: JobStore, store: LocalStore, job_id: str) -> str:
    """Start an attempt and write one frame under its prefix; returns the attempt token."""
    record = jobs.start_attempt(job_id, "w1", MOCK, max_attempts=5)
    assert record is not None and record.attempt_token is not None
    prefix = keys.attempt_prefix(job_id, record.attempts)
    store.put_bytes(keys.frame_key(prefix, 0), b"frame", "image/png")
    return record.attempt_token


def _job(jobs: JobStore, store: LocalStore, job_id: str, status: JobStatus) -> None:
    """A job brought to ``status``; one that ran has one frame stored."""
    request = RenderRequest.model_validate({"character_id": "c", "emotion": "sad"})
    jobs.create([JobRecord(id=job_id, tenant="t1", request=request, task_id=f"task-{job_id}")])
    if status == JobStatus.queued:
        return
    token = _attempt(jobs, store, job_id)
    if status == JobStatus.succeeded:
        prefix = keys.attempt_prefix(job_id, 1)
        jobs.succeed(job_id, token, keys.manifest_key(prefix), prefix)
    if status == JobStatus.failed:
        jobs.fail(job_id, token, STORAGE_DOWN)


def test_finished_renders_past_retention_are_deleted_and_marked(
    jobs: JobStore, store: LocalStore
) -> None:
    _job(jobs, store, "done", JobStatus.succeeded)
    _job(jobs, store, "broken", JobStatus.failed)
    _job(jobs, store, "busy", JobStatus.running)
    _job(jobs, store, "waiting", JobStatus.queued)
    _job(jobs, store, "never-ran", JobStatus.queued)
    jobs.request_cancel("never-ran")

    expired = expire_outputs(jobs, store, WEEK, now=LATER)

    assert sorted((e.job_id, e.status, e.objects) for e in expired) == [
        ("broken", JobStatus.failed, 1),
        ("done", JobStatus.succeeded, 1),
    ]
    assert store.list("renders/done/") == store.list("renders/broken/") == []
    assert jobs.get("done").outputs_expired and jobs.get("broken").outputs_expired
    assert len(store.list("renders/busy/")) == 1 and not jobs.get("busy").outputs_expired
    assert not jobs.get("waiting").outputs_expired
    assert not jobs.get("never-ran").outputs_expired
    assert expire_outputs(jobs, store, WEEK, now=LATER) == []  # nothing twice


def test_renders_within_retention_and_dry_runs_are_left_alone(
    jobs: JobStore, store: LocalStore
) -> None:
    _job(jobs, store, "done", JobStatus.succeeded)

    assert expire_outputs(jobs, store, WEEK) == []
    would_go = expire_outputs(jobs, store, WEEK, dry_run=True, now=LATER)

    assert [(e.job_id, e.objects) for e in would_go] == [("done", 1)]
    assert len(store.list("renders/done/")) == 1
    assert not jobs.get("done").outputs_expired


def test_a_retried_job_is_not_marked_and_its_new_attempt_keeps_its_outputs(
    jobs: JobStore, store: LocalStore
) -> None:
    _job(jobs, store, "again", JobStatus.failed)
    judged = jobs.get("again")
    jobs.retry("again", task_id="t2")
    _attempt(jobs, store, "again")  # attempt 2 writes under its own prefix
    assert judged.finished_at is not None

    with pytest.raises(Conflict):
        jobs.mark_outputs_expired("again", judged.finished_at)
    assert [info.key for info in store.list("renders/again/")] == [
        keys.frame_key(keys.attempt_prefix("again", 1), 0),
        keys.frame_key(keys.attempt_prefix("again", 2), 0),
    ]


def test_a_manual_retry_clears_the_expired_mark(jobs: JobStore, store: LocalStore) -> None:
    _job(jobs, store, "old", JobStatus.failed)
    expire_outputs(jobs, store, WEEK, now=LATER)
    assert jobs.get("old").outputs_expired

    assert not jobs.retry("old", task_id="t2").outputs_expired


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("0s", timedelta(0)),
    ],
)
def test_ages_in_days_hours_minutes_and_seconds(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["7", "a week", "1.5d", "-1d", "7w", "d", ""])
def test_anything_else_is_refused_with_the_forms_named(text: str) -> None:
    with pytest.raises(ValueError, match="not an age like 7d, 12h, 30m or 90s"):
        parse_age(text)
