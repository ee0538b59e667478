"""``verify_render`` on the cases the S3 tests do not reach: a lost or garbled manifest, a
render that has no outputs, and one whose outputs retention deleted (real Redis, local store)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from render_core import keys
from render_core.errors import Conflict, OutputsExpired
from render_core.jobs import JobStore
from render_core.schema import JobRecord, RendererInfo, RenderRequest
from render_core.storage import LocalStore
from render_core.verification import Problem, verify_render

MOCK = RendererInfo(name="mock", version="1")


@pytest.fixture
def jobs(redis_client: redis.Redis) -> JobStore:
    jobs = JobStore(redis_client)
    request = RenderRequest.model_validate({"character_id": "c", "emotion": "sad"})
    jobs.create([JobRecord(id="j1", tenant="t1", request=request)])
    return jobs


def _succeed(jobs: JobStore) -> str:
    record = jobs.start_attempt("j1", "w1", MOCK, max_attempts=5)
    assert record is not None and record.attempt_token is not None
    prefix = keys.attempt_prefix("j1", 1)
    jobs.succeed("j1", record.attempt_token, keys.manifest_key(prefix), prefix)
    return keys.manifest_key(prefix)


def test_a_lost_manifest_is_the_one_problem_named(jobs: JobStore, tmp_path: Path) -> None:
    manifest_key = _succeed(jobs)

    result = verify_render(jobs, LocalStore(tmp_path), "j1")

    assert not result.ok
    assert result.problems == [Problem(manifest_key, "missing")]


def test_a_garbled_manifest_is_named_unreadable(jobs: JobStore, tmp_path: Path) -> None:
    manifest_key = _succeed(jobs)
    store = LocalStore(tmp_path)
    store.put_bytes(manifest_key, b'{"job_id": "j1"', "application/json")

    result = verify_render(jobs, store, "j1")

    assert [(p.key, p.kind) for p in result.problems] == [(manifest_key, "unreadable")]


def test_a_render_without_outputs_cannot_be_verified(jobs: JobStore, tmp_path: Path) -> None:
    with pytest.raises(Conflict, match="j1 is queued"):
        verify_render(jobs, LocalStore(tmp_path), "j1")


def test_expired_outputs_are_reported_as_such(jobs: JobStore, tmp_path: Path) -> None:
    _succeed(jobs)
    finished_at = jobs.get("j1").finished_at
    assert finished_at is not None
    jobs.mark_outputs_expired("j1", finished_at)

    with pytest.raises(OutputsExpired):
        verify_render(jobs, LocalStore(tmp_path), "j1")
