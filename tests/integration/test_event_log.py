"""The event log against a real redis-server: events are written in the transaction of
the change they report, a refused move writes none, and tenants have separate logs."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

from producer_api.event_stream import EventReader
from render_core.errors import EventsExpired, StaleAttempt
from render_core.event_log import as_entries, parse_entry, stream_key
from render_core.jobs import JobStore
from render_core.schema import JobError, JobRecord, JobStatus, RendererInfo, RenderRequest

MOCK = RendererInfo(name="mock", version="1")
ERROR = JobError(code="storage_unavailable", message="down", retryable=True)


def _record(job_id: str, tenant: str = "t1") -> JobRecord:
    request = RenderRequest.model_validate({"character_id": "c", "emotion": "sad", "fps": 10})
    return JobRecord(id=job_id, tenant=tenant, request=request, task_id=f"task-{job_id}")


def _events(client: redis.Redis, tenant: str = "t1") -> list[tuple[str, str, dict[str, Any]]]:
    rows = as_entries(client.xrange(stream_key(tenant)))
    return [(e.type, e.render_id, e.data) for e in (parse_entry(i, f) for i, f in rows)]


@pytest.fixture
def jobs(redis_client: redis.Redis) -> JobStore:
    return JobStore(redis_client)


def test_a_lifecycle_writes_one_event_per_visible_change(
    jobs: JobStore, redis_client: redis.Redis
) -> None:
    jobs.create([_record("a")])
    claimed = jobs.start_attempt("a", "w1", MOCK, max_attempts=5)
    assert claimed is not None and claimed.attempt_token
    jobs.mark_enqueued("a", "task-a")  # bookkeeping only: no event
    jobs.record_progress("a", claimed.attempt_token, 8, [0, 1, 2, 3, 4, 5, 6, 7])
    jobs.record_progress("a", claimed.attempt_token, 10, [9, 8])
    jobs.record_progress("a", claimed.attempt_token, 10)  # the pre-commit check: no change
    jobs.succeed("a", claimed.attempt_token, "renders/a/1/manifest.json", "renders/a/1/")
    events = _events(redis_client)
    assert [(t, r) for t, r, _ in events] == [
        ("render.queued", "a"),
        ("render.started", "a"),
        ("render.progress", "a"),
        ("render.progress", "a"),
        ("render.succeeded", "a"),
    ]
    assert events[0][2] == {"priority": "interactive", "frames_total": 20, "metadata": None}
    assert events[1][2] == {"attempt": 1, "worker": "w1", "renderer": MOCK.model_dump()}
    assert events[3][2] == {"attempt": 1, "frames_done": 10, "frames_total": 20, "frames": [8, 9]}
    assert events[4][2] == {"attempt": 1, "manifest_key": "renders/a/1/manifest.json"}


def test_failures_retries_and_cancels_are_events(jobs: JobStore, redis_client: redis.Redis) -> None:
    jobs.create([_record("a"), _record("q")])
    first = jobs.start_attempt("a", "w", MOCK, max_attempts=5)
    assert first is not None
    jobs.requeue("a", first.attempt_token, ERROR)
    second = jobs.start_attempt("a", "w", MOCK, max_attempts=5)
    assert second is not None
    jobs.fail("a", second.attempt_token, ERROR)
    jobs.retry("a", task_id="again")
    jobs.request_cancel("q")
    types = [(t, d) for t, r, d in _events(redis_client) if r == "a"]
    assert [t for t, _ in types] == [
        "render.queued",
        "render.started",
        "render.retried",
        "render.started",
        "render.failed",
        "render.retried",
    ]
    assert types[2][1] == {"attempt": 1, "manual": False, "error": ERROR.model_dump()}
    assert types[4][1] == {"attempt": 2, "error": ERROR.model_dump()}
    assert types[5][1] == {"attempt": 2, "manual": True, "error": None}
    assert [t for t, r, _ in _events(redis_client) if r == "q"] == [
        "render.queued",
        "render.cancelled",
    ]


def test_a_stale_attempt_writes_no_event(jobs: JobStore, redis_client: redis.Redis) -> None:
    jobs.create([_record("a")])
    first = jobs.start_attempt("a", "w1", MOCK, max_attempts=5)
    second = jobs.start_attempt("a", "w2", MOCK, max_attempts=5)  # redelivery after a crash
    assert first is not None and second is not None and first.attempt_token
    before = redis_client.xlen(stream_key("t1"))
    record_before = redis_client.get(jobs.key("a"))
    with pytest.raises(StaleAttempt):
        jobs.record_progress("a", first.attempt_token, 5, [0, 1, 2, 3, 4])
    with pytest.raises(StaleAttempt):
        jobs.succeed("a", first.attempt_token, "m", "p")
    with pytest.raises(StaleAttempt):
        jobs.mark_cancelled("a", first.attempt_token)
    assert redis_client.xlen(stream_key("t1")) == before
    assert redis_client.get(jobs.key("a")) == record_before


def test_a_transaction_lost_to_a_race_writes_no_event(
    jobs: JobStore, redis_client: redis.Redis
) -> None:
    """A concurrent write between WATCH and EXEC aborts the first try: its event vanishes
    with its record write, and the retried move writes exactly one."""
    jobs.create([_record("a")])
    other = redis.Redis(connection_pool=redis_client.connection_pool)  # a second writer
    tries: list[int] = []

    def change(record: JobRecord) -> None:
        tries.append(1)
        if len(tries) == 1:
            other.set(jobs.key("a"), other.get(jobs.key("a")) or "")  # touch the watched key
        record.status = JobStatus.cancelled

    jobs._update("a", change)
    assert len(tries) == 2
    assert [t for t, _, _ in _events(redis_client)] == ["render.queued", "render.cancelled"]


def test_every_reader_sees_a_record_and_its_event_together(
    jobs: JobStore, redis_client: redis.Redis
) -> None:
    """Read record and newest event in one MULTI while a writer records progress: the
    event always reports exactly the record's progress, never one behind or ahead."""
    jobs.create([_record("a")])
    claimed = jobs.start_attempt("a", "w", MOCK, max_attempts=5)
    assert claimed is not None and claimed.attempt_token
    token = claimed.attempt_token
    done = threading.Event()

    def write() -> None:
        for frames_done in range(1, 201):
            jobs.record_progress("a", token, frames_done, [frames_done - 1])
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    checked = 0
    while not done.is_set() or checked == 0:
        pipe = redis_client.pipeline(transaction=True)
        pipe.get(jobs.key("a"))
        pipe.xrevrange(stream_key("t1"), count=1)
        raw, newest = pipe.execute()
        record = JobRecord.model_validate_json(raw)
        event = parse_entry(*as_entries(newest)[0])
        if event.type == "render.progress":
            assert event.data["frames_done"] == record.progress.frames_done
            checked += 1
    writer.join()
    assert checked > 0


def test_tenants_have_separate_logs_trimmed_by_age(redis_client: redis.Redis) -> None:
    jobs = JobStore(redis_client, events_retention_s=3600)
    jobs.create([_record("mine", "t1"), _record("theirs", "t2")])
    assert [r for _, r, _ in _events(redis_client, "t1")] == ["mine"]
    assert [r for _, r, _ in _events(redis_client, "t2")] == ["theirs"]
    # An entry older than the retention goes at the next append (MINID trimming).
    redis_client.xadd(stream_key("t3"), {"type": "x"}, id="1000-0")
    jobs.create([_record("new", "t3")])
    ids = [i for i, _ in as_entries(redis_client.xrange(stream_key("t3")))]
    assert "1000-0" not in ids and len(ids) == 1


def test_a_resume_point_before_trimmed_events_is_refused(
    redis_client: redis.Redis, store_redis_url: str
) -> None:
    """Within the retention by its time, but followed by entries that were trimmed (by a
    shorter retention in force earlier): resuming there would leave a gap, so 410. Trimming
    removes from the head only: from the oldest kept entry on, nothing is missing."""
    key = stream_key("t1")
    now_ms = int(time.time() * 1000)
    ids = [redis_client.xadd(key, {"n": str(n)}, id=f"{now_ms - 100 + n}-0") for n in range(5)]
    redis_client.xtrim(key, minid=str(ids[3]), approximate=False)  # ids 0..2 are gone

    async def check(last_id: str) -> str:
        client = aredis.Redis.from_url(store_redis_url, decode_responses=True)
        try:
            await EventReader(client, retention_s=3600).check_resumable("t1", last_id)
            return "ok"
        except EventsExpired:
            return "expired"
        finally:
            await client.aclose()

    assert asyncio.run(check(str(ids[0]))) == "expired"  # ids[1] and [2] were trimmed
    assert asyncio.run(check(str(ids[3]))) == "ok"  # the oldest kept: nothing after it gone
    assert asyncio.run(check(str(ids[4]))) == "ok"
    assert asyncio.run(check("0-0")) == "expired"
