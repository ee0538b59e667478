"""The dispatcher's Redis side against a real redis-server: fan-out through the consumer
group, re-claiming what a dead dispatcher read, the outbox lease, dead letters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis
import redis.asyncio as aredis

from dispatcher.fanout import FanOut
from dispatcher.outbox import DUE_KEY, Outbox, Policy
from render_core.event_log import stream_key
from render_core.jobs import JobStore
from render_core.schema import JobRecord, RenderRequest
from render_core.webhooks import GROUP, PAUSED_KEY, WebhookStore

T = TypeVar("T")
POLICY = Policy(retry_for_s=60, backoff_s=0.1, backoff_max_s=0.2, pause_after_s=60, lease_s=0.3)


def _due(client: redis.Redis) -> list[str]:
    return [str(m) for m in client.zrange(DUE_KEY, 0, -1)]


def _record(job_id: str, tenant: str = "t1") -> JobRecord:
    request = RenderRequest.model_validate({"character_id": "c", "emotion": "sad"})
    return JobRecord(id=job_id, tenant=tenant, request=request, task_id=f"task-{job_id}")


def _run(url: str, work: Callable[[aredis.Redis], Awaitable[T]]) -> T:
    async def main() -> T:
        client = aredis.Redis.from_url(url, decode_responses=True)
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_events_a_dead_dispatcher_read_are_reclaimed(
    redis_client: redis.Redis, store_redis_url: str
) -> None:
    hooks = WebhookStore(redis_client)
    hook = hooks.create("t1", "https://93.184.216.34/h", ["render.queued"])
    JobStore(redis_client).create([_record("a"), _record("b")])
    # A dispatcher reads both events, then dies before acknowledging them.
    redis_client.xreadgroup(GROUP, "dead", {stream_key("t1"): ">"}, count=10)
    assert redis_client.xpending(stream_key("t1"), GROUP)["pending"] == 2

    async def reclaim(client: aredis.Redis) -> int:
        return await FanOut(client, "alive", claim_idle_ms=0).reclaim()

    assert _run(store_redis_url, reclaim) == 2
    assert redis_client.xpending(stream_key("t1"), GROUP)["pending"] == 0
    members = _due(redis_client)
    assert len(members) == 2 and all(m.startswith(f"{hook.id}:") for m in members)


def test_fan_out_honours_types_registration_time_and_pauses(
    redis_client: redis.Redis, store_redis_url: str
) -> None:
    hooks = WebhookStore(redis_client)
    jobs = JobStore(redis_client)
    early = hooks.create("t1", "https://93.184.216.34/a", ["render.queued"])
    jobs.create([_record("before")])
    late = hooks.create("t1", "https://93.184.216.34/b", ["render.queued", "render.cancelled"])
    paused = hooks.create("t1", "https://93.184.216.34/c", ["render.queued"])
    redis_client.sadd(PAUSED_KEY, paused.id)
    jobs.create([_record("after")])
    jobs.request_cancel("after")

    async def fan_out(client: aredis.Redis) -> int:
        return await FanOut(client, "d", block_ms=10).read_new()

    assert _run(store_redis_url, fan_out) == 4
    by_endpoint: dict[str, int] = {}
    for member in _due(redis_client):
        endpoint = member.split(":", 1)[0]
        by_endpoint[endpoint] = by_endpoint.get(endpoint, 0) + 1
    # early: both queued events; late: the later queued and the cancel; paused: nothing.
    assert by_endpoint == {early.id: 2, late.id: 2}


def test_a_lease_hides_a_delivery_until_it_runs_out(
    redis_client: redis.Redis, store_redis_url: str
) -> None:
    WebhookStore(redis_client).create("t1", "https://93.184.216.34/a", ["render.queued"])
    JobStore(redis_client).create([_record("a")])

    async def scenario(client: aredis.Redis) -> tuple[int, int, int]:
        await FanOut(client, "d", block_ms=10).read_new()
        outbox = Outbox(client, POLICY)
        first = await outbox.claim(10)  # a sender takes it ... and dies
        again = await outbox.claim(10)
        await asyncio.sleep(POLICY.lease_s + 0.1)
        after_lease = await outbox.claim(10)
        return len(first), len(again), len(after_lease)

    assert _run(store_redis_url, scenario) == (1, 0, 1)


def test_past_the_retry_period_a_delivery_is_dead_lettered(
    redis_client: redis.Redis, store_redis_url: str
) -> None:
    hook = WebhookStore(redis_client).create("t1", "https://93.184.216.34/a", ["render.queued"])
    JobStore(redis_client).create([_record("a")])
    short = Policy(retry_for_s=0.5, backoff_s=0.1, backoff_max_s=0.2, pause_after_s=60, lease_s=5)

    async def scenario(client: aredis.Redis) -> list[bool]:
        await FanOut(client, "d", block_ms=10).read_new()
        outbox = Outbox(client, short)
        outcomes = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for member in await outbox.claim(10):
                delivery = await outbox.open(member)
                assert delivery is not None
                outcomes.append(await outbox.failed(delivery, 500, "HTTP 500", 0.01))
            if outcomes and outcomes[-1]:
                break
            await asyncio.sleep(0.05)
        return outcomes

    outcomes = _run(store_redis_url, scenario)
    assert outcomes[-1] is True and not any(outcomes[:-1]) and len(outcomes) >= 3
    assert redis_client.zcard(DUE_KEY) == 0
    store = WebhookStore(redis_client)
    assert store.dead_letters(hook.id) == 1
    attempts = store.attempts(hook.id, 100)
    assert attempts[0].outcome == "dead" and attempts[0].attempt == len(outcomes)
    assert store.health(hook.id).consecutive_failures == len(outcomes)
