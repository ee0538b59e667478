"""The job store against a real redis-server: legal moves only, tenants apart, pages stable."""

from __future__ import annotations

import pytest
import redis

from render_core import fair_queue
from render_core.cache_guards import LeadGuard
from render_core.errors import Conflict, NotFound, QueueFull, RateLimited, StaleAttempt
from render_core.job_index import tenant_index
from render_core.jobs import IllegalTransition, JobStore
from render_core.places import SEQUENCE_KEY
from render_core.schema import (
    JobError,
    JobRecord,
    JobStatus,
    Priority,
    RendererInfo,
    RenderRequest,
)
from render_core.tenant_limits import Rate
from render_core.token_bucket import bucket_key

MOCK = RendererInfo(name="mock", version="1")
ERROR = JobError(code="storage_unavailable", message="down", retryable=True)


def _record(job_id: str, tenant: str = "t1") -> JobRecord:
    request = RenderRequest.model_validate({"character_id": "c", "emotion": "sad"})
    return JobRecord(id=job_id, tenant=tenant, request=request, task_id=f"task-{job_id}")


@pytest.fixture
def jobs(redis_client: redis.Redis) -> JobStore:
    return JobStore(redis_client)


def test_a_job_runs_and_succeeds(jobs: JobStore) -> None:
    jobs.create([_record("a")])
    claimed = jobs.start_attempt("a", "w1", MOCK, max_attempts=5)
    assert claimed is not None and claimed.status == JobStatus.running and claimed.attempts == 1
    assert claimed.attempt_token
    jobs.record_progress("a", claimed.attempt_token, 10)
    done = jobs.succeed("a", claimed.attempt_token, "renders/a/1/manifest.json", "renders/a/1/")
    assert done.status == JobStatus.succeeded and done.progress.frames_done == 10
    assert done.finished_at is not None and done.worker == "w1"
    assert jobs.index.count(JobStatus.succeeded) == 1 and jobs.index.count(JobStatus.queued) == 0


def test_illegal_moves_are_refused(jobs: JobStore) -> None:
    jobs.create([_record("a")])
    claimed = jobs.start_attempt("a", "w1", MOCK, max_attempts=5)
    assert claimed is not None and claimed.attempt_token
    jobs.succeed("a", claimed.attempt_token, "m", "p")
    with pytest.raises(Conflict):
        jobs.retry("a", task_id="t2")
    with pytest.raises(Conflict):
        jobs.request_cancel("a")
    assert jobs.start_attempt("a", "w2", MOCK, max_attempts=5) is None
    assert jobs.get("a").status == JobStatus.succeeded


def test_illegal_transition_is_a_conflict() -> None:
    assert issubclass(IllegalTransition, Conflict)


def test_a_stale_attempt_cannot_write(jobs: JobStore) -> None:
    jobs.create([_record("a")])
    first = jobs.start_attempt("a", "w1", MOCK, max_attempts=5)
    second = jobs.start_attempt("a", "w2", MOCK, max_attempts=5)  # redelivery after a crash
    assert first is not None and second is not None and second.attempts == 2
    assert first.attempt_token and second.attempt_token
    with pytest.raises(StaleAttempt):
        jobs.record_progress("a", first.attempt_token, 3)
    with pytest.raises(StaleAttempt):
        jobs.succeed("a", first.attempt_token, "m", "p")
    assert jobs.succeed("a", second.attempt_token, "m", "p").status == JobStatus.succeeded


def test_redelivery_past_the_attempt_limit_fails_as_worker_lost(jobs: JobStore) -> None:
    jobs.create([_record("a")])
    for _ in range(2):
        assert jobs.start_attempt("a", "w", MOCK, max_attempts=2) is not None
    assert jobs.start_attempt("a", "w", MOCK, max_attempts=2) is None
    failed = jobs.get("a")
    assert failed.status == JobStatus.failed and failed.error and failed.error.code == "worker_lost"
    assert jobs.index.ids_with_status(JobStatus.failed) == ["a"]


def test_cancel_queued_is_immediate_and_running_is_flagged(jobs: JobStore) -> None:
    jobs.create([_record("q"), _record("r")])
    assert jobs.request_cancel("q").status == JobStatus.cancelled
    assert jobs.start_attempt("q", "w", MOCK, max_attempts=5) is None
    running = jobs.start_attempt("r", "w", MOCK, max_attempts=5)
    assert running is not None and running.attempt_token
    flagged = jobs.request_cancel("r")
    assert flagged.status == JobStatus.running and flagged.cancel_requested
    assert jobs.record_progress("r", running.attempt_token, 1).cancel_requested
    assert jobs.mark_cancelled("r", running.attempt_token).status == JobStatus.cancelled


def test_retry_only_from_failed_or_cancelled(jobs: JobStore) -> None:
    jobs.create([_record("a")])
    with pytest.raises(Conflict):
        jobs.retry("a", task_id="x")
    claimed = jobs.start_attempt("a", "w", MOCK, max_attempts=5)
    assert claimed is not None
    jobs.fail("a", claimed.attempt_token, ERROR)
    again = jobs.retry("a", task_id="new-task")
    assert again.status == JobStatus.queued and again.error is None and again.task_id == "new-task"
    assert jobs.index.ids_with_status(JobStatus.failed) == []


def test_transient_failure_requeues_and_keeps_the_count(jobs: JobStore) -> None:
    jobs.create([_record("a")])
    claimed = jobs.start_attempt("a", "w", MOCK, max_attempts=5)
    assert claimed is not None
    requeued = jobs.requeue("a", claimed.attempt_token, ERROR)
    assert (
        requeued.status == JobStatus.queued and requeued.attempts == 1 and requeued.error == ERROR
    )
    assert jobs.start_attempt("a", "w", MOCK, max_attempts=5).attempts == 2  # type: ignore[union-attr]


def test_tenants_see_only_their_jobs(jobs: JobStore) -> None:
    jobs.create([_record("mine", "t1"), _record("theirs", "t2")])
    assert jobs.get_for_tenant("t1", "mine").id == "mine"
    with pytest.raises(NotFound):
        jobs.get_for_tenant("t1", "theirs")
    assert [r.id for r in jobs.list_page("t1", None, 10, None).jobs] == ["mine"]


def test_listing_pages_newest_first_and_filters_by_status(jobs: JobStore) -> None:
    jobs.create([_record(f"j{i}") for i in range(7)])
    jobs.request_cancel("j3")
    seen: list[str] = []
    cursor = None
    while True:
        page = jobs.list_page("t1", None, 3, cursor)
        seen += [r.id for r in page.jobs]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"j{i}" for i in reversed(range(7))]
    assert [r.id for r in jobs.list_page("t1", JobStatus.cancelled, 10, None).jobs] == ["j3"]
    assert len(jobs.list_page("t1", JobStatus.queued, 10, None).jobs) == 6


def test_missing_job_is_not_found(jobs: JobStore) -> None:
    with pytest.raises(NotFound):
        jobs.get("nope")


def test_a_creation_takes_the_next_places_in_the_order_of_its_jobs(
    jobs: JobStore, redis_client: redis.Redis
) -> None:
    before = int(redis_client.get(SEQUENCE_KEY) or 0)
    assert jobs.create([_record("a"), _record("b"), _record("c")])
    scores = [redis_client.zscore(tenant_index("t1"), job) for job in ("a", "b", "c")]
    assert scores == [before + 1, before + 2, before + 3]
    assert int(redis_client.get(SEQUENCE_KEY) or 0) == before + 3
    fair = redis_client.zrange(fair_queue.tenant_queue_key(Priority.interactive, "t1"), 0, -1)
    assert fair == ["a", "b", "c"]  # the fair queue got the places too, not the marks


def test_a_sequence_behind_the_tenants_jobs_moves_past_them(
    jobs: JobStore, redis_client: redis.Redis
) -> None:
    """A sequence reset by hand: the tenant's new jobs still come after its old ones."""
    redis_client.zadd(tenant_index("t1"), {"restored": 10**9})
    assert jobs.create([_record("a"), _record("b")])
    assert redis_client.zrange(tenant_index("t1"), -3, -1) == ["restored", "a", "b"]
    assert int(redis_client.get(SEQUENCE_KEY) or 0) == 10**9 + 2
    assert jobs.create([_record("c")])
    assert redis_client.zscore(tenant_index("t1"), "c") == 10**9 + 3


def test_the_rate_is_taken_with_the_writes_and_a_capped_refusal_takes_no_tokens(
    jobs: JobStore, redis_client: redis.Redis
) -> None:
    rate = Rate(per_s=0.001, burst=3)  # three tokens, then one every 1000 s
    redis_client.delete(bucket_key("t1"))
    assert jobs.create([_record("a"), _record("b")], rate=rate, max_queued=10)
    with pytest.raises(QueueFull):  # refused by the cap first: no tokens taken
        jobs.create([_record("c")], rate=rate, max_queued=2)
    with pytest.raises(RateLimited) as refused:  # two more would need one token more
        jobs.create([_record("c"), _record("d")], rate=rate, max_queued=10)
    assert refused.value.retry_after_s is not None and 900 < refused.value.retry_after_s <= 1000
    assert jobs.get_many(["c", "d"]) == [None, None]
    assert jobs.create([_record("c")], rate=rate, max_queued=10)  # the last token


def test_the_cap_and_absence_are_checked_with_the_writes(jobs: JobStore) -> None:
    assert jobs.create([_record("a"), _record("b")], max_queued=3)
    with pytest.raises(QueueFull):
        jobs.create([_record("c"), _record("d")], max_queued=3)
    assert jobs.get_many(["c", "d"]) == [None, None]  # all or nothing
    assert not jobs.create([_record("a")], if_absent=True)
    assert jobs.create([_record("c")], max_queued=3, if_absent=True)


def test_a_creation_under_watch_works_after_redis_lost_its_script(
    jobs: JobStore, redis_client: redis.Redis
) -> None:
    redis_client.script_flush()  # a restart or a failover forgets loaded scripts
    guard = LeadGuard("a", "ar:cache:flight:key:interactive")
    assert jobs.create([_record("a")], guard=guard)
    assert redis_client.get(guard.flight) == "a"
