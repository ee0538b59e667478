"""Single flight in the job store, on a real Redis: followers wait out of the fair queue and
are released in the MULTI of their leader's final move; after a failure the first of them
leads; a cancelled follower stops waiting; a stale plan is refused under WATCH."""

from __future__ import annotations

import pytest
import redis

from render_core import fair_queue
from render_core.cache_guards import FollowGuard, LeadGuard
from render_core.jobs import JobStore
from render_core.render_cache import FOLLOWING_KEY, CacheRaced, flight_key, followers_key
from render_core.schema import JobError, JobRecord, JobStatus, Priority, RendererInfo, RenderRequest

KEY = "k" * 64
MOCK = RendererInfo(name="mock", version="1")


def _record(job_id: str) -> JobRecord:
    request = RenderRequest.model_validate({"character_id": "c", "emotion": "sad"})
    return JobRecord(id=job_id, tenant="t", request=request, task_id=f"t-{job_id}", cache_key=KEY)


def _waiting(client: redis.Redis) -> list[str]:
    queue = fair_queue.tenant_queue_key(Priority.interactive, "t")
    return [str(job_id) for job_id in client.zrange(queue, 0, -1)]


FLIGHT = flight_key(KEY, Priority.interactive)


def _lead_and_follow(jobs: JobStore) -> None:
    jobs.create([_record("lead")], guard=LeadGuard("lead", FLIGHT))
    for follower in ("f1", "f2", "f3"):
        jobs.create(
            [_record(follower)],
            held={follower},
            guard=FollowGuard(follower, "lead", FLIGHT, known=True),
        )


def test_followers_wait_for_the_leader_and_go_when_it_succeeds(redis_client: redis.Redis) -> None:
    jobs = JobStore(redis_client)
    _lead_and_follow(jobs)
    assert _waiting(redis_client) == ["lead"]
    assert redis_client.zrange(followers_key("lead"), 0, -1) == ["f1", "f2", "f3"]
    redis_client.zpopmin(fair_queue.tenant_queue_key(Priority.interactive, "t"))
    claimed = jobs.start_attempt("lead", "w", MOCK, max_attempts=3)
    assert claimed is not None and claimed.attempt_token
    jobs.succeed("lead", claimed.attempt_token, "m", "p/")
    assert _waiting(redis_client) == ["f1", "f2", "f3"]
    assert redis_client.get(FLIGHT) is None and redis_client.hlen(FOLLOWING_KEY) == 0


def test_after_a_failure_the_first_follower_leads_the_others(redis_client: redis.Redis) -> None:
    jobs = JobStore(redis_client)
    _lead_and_follow(jobs)
    error = JobError(code="render_failed", message="no", retryable=False)
    jobs.fail("lead", None, error)
    assert _waiting(redis_client) == ["f1"]
    assert redis_client.get(FLIGHT) == "f1"
    assert redis_client.zrange(followers_key("f1"), 0, -1) == ["f2", "f3"]
    assert redis_client.hget(FOLLOWING_KEY, "f3") == "f1"


def test_a_cancelled_follower_stops_waiting(redis_client: redis.Redis) -> None:
    jobs = JobStore(redis_client)
    _lead_and_follow(jobs)
    assert jobs.request_cancel("f2").status == JobStatus.cancelled
    assert redis_client.zrange(followers_key("lead"), 0, -1) == ["f1", "f3"]
    jobs.request_cancel("lead")
    assert _waiting(redis_client) == ["f1"]
    assert redis_client.zrange(followers_key("f1"), 0, -1) == ["f3"]


def test_a_plan_overtaken_under_watch_is_refused(redis_client: redis.Redis) -> None:
    jobs = JobStore(redis_client)
    jobs.create([_record("lead")], guard=LeadGuard("lead", FLIGHT))
    with pytest.raises(CacheRaced):  # a second leader of the same kind
        jobs.create([_record("other")], guard=LeadGuard("other", FLIGHT))
    jobs.request_cancel("lead")  # the flight ends
    with pytest.raises(CacheRaced):  # following a leader that is gone
        jobs.create(
            [_record("late")], held={"late"}, guard=FollowGuard("late", "lead", FLIGHT, True)
        )
    assert jobs.index.count(JobStatus.queued) == 0
