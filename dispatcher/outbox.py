"""The delivery outbox: one entry per (endpoint, event), due at a time, leased while sent.

Fan-out puts deliveries here in the same transaction as it acknowledges the event in
the consumer group. A sender claims due deliveries by pushing their due time past a
lease; if it dies mid-delivery, the lease runs out and any dispatcher sends it again
(at least once; the ``webhook-id`` stays the event id). Each outcome is written with the
attempt log, the endpoint's health and, past the retry period, the dead letters, in one
transaction.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import redis.asyncio as aredis

from render_core.event_log import Event
from render_core.records import PREFIX
from render_core.webhooks import (
    ATTEMPT_LOG_SIZE,
    PAUSED_KEY,
    DeliveryAttempt,
    Outcome,
    WebhookEndpoint,
    attempts_key,
    dead_key,
    health_key,
)

DUE_KEY = f"{PREFIX}:webhooks:due"
DEAD_LETTER_TTL_S = 7 * 24 * 3600

# Take up to ARGV[2] deliveries due by ARGV[1] and lease them until ARGV[3], atomically,
# so two dispatchers never send the same delivery at once.
CLAIM_SCRIPT = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], member)
end
return due
"""


def delivery_key(member: str) -> str:
    return f"{PREFIX}:webhooks:delivery:{member}"


def member_of(endpoint_id: str, event_id: str) -> str:
    return f"{endpoint_id}:{event_id}"


def backoff_delay(attempt: int, base_s: float, max_s: float) -> float:
    """Exponential, with jitter over the upper half so retries spread but never bunch at 0."""
    ceiling = min(max_s, base_s * 2 ** max(0, attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Delivery:
    member: str
    tenant: str
    endpoint_id: str
    event: Event
    body: str
    attempts: int  # including the one about to be made
    first_try_at: float


@dataclass(frozen=True)
class Policy:
    retry_for_s: float
    backoff_s: float
    backoff_max_s: float
    pause_after_s: float
    lease_s: float


def _iso(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Outbox:
    def __init__(self, client: aredis.Redis, policy: Policy) -> None:
        self.redis = client
        self.policy = policy
        self._claim = client.register_script(CLAIM_SCRIPT)

    @staticmethod
    def add(pipe: aredis.client.Pipeline, endpoint: WebhookEndpoint, event: Event) -> None:
        """Queue, on the caller's transaction, a delivery of ``event`` due now."""
        member = member_of(endpoint.id, event.id)
        fields = {
            "tenant": endpoint.tenant,
            "endpoint_id": endpoint.id,
            "event": event.model_dump_json(),
            "attempts": 0,
        }
        pipe.hset(delivery_key(member), mapping=fields)  # type: ignore[arg-type]
        pipe.zadd(DUE_KEY, {member: time.time()}, nx=True)

    async def claim(self, limit: int) -> list[str]:
        now = time.time()
        due = await self._claim(keys=[DUE_KEY], args=[now, limit, now + self.policy.lease_s])
        return cast("list[str]", due)

    async def next_due_in(self) -> float | None:
        """Seconds until the earliest delivery is due (0 when one is), None when none waits."""
        first = cast(
            "list[tuple[str, float]]", await self.redis.zrange(DUE_KEY, 0, 0, withscores=True)
        )
        return max(0.0, first[0][1] - time.time()) if first else None

    async def open(self, member: str) -> Delivery | None:
        """Count the attempt about to be made; None when the delivery is gone."""
        key = delivery_key(member)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "attempts", 1)
            pipe.hsetnx(key, "first_try_at", repr(time.time()))
            pipe.hgetall(key)
            _, _, raw = await pipe.execute()
        fields = cast("dict[str, str]", raw)
        if "event" not in fields:  # deleted meanwhile: the HINCRBY made a stub
            await self.drop(member)
            return None
        event = Event.model_validate_json(fields["event"])
        return Delivery(
            member=member,
            tenant=fields["tenant"],
            endpoint_id=fields["endpoint_id"],
            event=event,
            body=event.model_dump_json(),
            attempts=int(fields["attempts"]),
            first_try_at=float(fields["first_try_at"]),
        )

    async def drop(self, member: str) -> None:
        """The endpoint is gone: forget the delivery."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(DUE_KEY, member)
            pipe.delete(delivery_key(member))
            await pipe.execute()

    def _attempt(
        self,
        delivery: Delivery,
        outcome: Outcome,
        status: int | None,
        error: str | None,
        **extra: Any,
    ) -> str:
        attempt = DeliveryAttempt(
            event_id=delivery.event.id,
            event_type=delivery.event.type,
            render_id=delivery.event.render_id,
            attempt=delivery.attempts,
            at=_iso(time.time()),
            status_code=status,
            error=error,
            outcome=outcome,
            **extra,
        )
        return attempt.model_dump_json()

    async def delivered(self, delivery: Delivery, status: int, duration_s: float) -> None:
        entry = self._attempt(delivery, "delivered", status, None, duration_ms=duration_s * 1000)
        endpoint = delivery.endpoint_id
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(DUE_KEY, delivery.member)
            pipe.delete(delivery_key(delivery.member))
            self._log(pipe, endpoint, entry)
            pipe.hset(health_key(endpoint), "last_success_at", _iso(time.time()).isoformat())
            pipe.hdel(health_key(endpoint), "failing_since", "consecutive_failures", "last_error")
            await pipe.execute()

    async def failed(
        self, delivery: Delivery, status: int | None, error: str, duration_s: float
    ) -> bool:
        """Schedule the retry, or dead-letter past the retry period; True when dead."""
        policy = self.policy
        now = time.time()
        next_at = now + backoff_delay(delivery.attempts, policy.backoff_s, policy.backoff_max_s)
        dead = next_at - delivery.first_try_at > policy.retry_for_s
        endpoint = delivery.endpoint_id
        async with self.redis.pipeline(transaction=True) as pipe:
            if dead:
                self._dead_letter(pipe, delivery, now)
                entry = self._attempt(
                    delivery, "dead", status, error, duration_ms=duration_s * 1000
                )
            else:
                pipe.zadd(DUE_KEY, {delivery.member: next_at}, xx=True)
                entry = self._attempt(
                    delivery,
                    "retrying",
                    status,
                    error,
                    duration_ms=duration_s * 1000,
                    next_try_at=_iso(next_at),
                )
            self._log(pipe, endpoint, entry)
            pipe.hsetnx(health_key(endpoint), "failing_since", _iso(now).isoformat())
            pipe.hincrby(health_key(endpoint), "consecutive_failures", 1)
            pipe.hset(health_key(endpoint), "last_error", error)
            await pipe.execute()
        return dead

    async def give_up(self, delivery: Delivery, reason: str) -> None:
        """Dead-letter without sending (the endpoint is paused)."""
        entry = self._attempt(delivery, "dead", None, reason)
        async with self.redis.pipeline(transaction=True) as pipe:
            self._dead_letter(pipe, delivery, time.time())
            self._log(pipe, delivery.endpoint_id, entry)
            await pipe.execute()

    def _dead_letter(self, pipe: aredis.client.Pipeline, delivery: Delivery, now: float) -> None:
        """Out of the schedule, into the endpoint's dead letters (kept a week)."""
        dead = dead_key(delivery.endpoint_id)
        pipe.zrem(DUE_KEY, delivery.member)
        pipe.expire(delivery_key(delivery.member), DEAD_LETTER_TTL_S)
        pipe.zadd(dead, {delivery.event.id: now})
        pipe.zremrangebyscore(dead, "-inf", now - DEAD_LETTER_TTL_S)

    @staticmethod
    def _log(pipe: aredis.client.Pipeline, endpoint_id: str, entry: str) -> None:
        pipe.lpush(attempts_key(endpoint_id), entry)
        pipe.ltrim(attempts_key(endpoint_id), 0, ATTEMPT_LOG_SIZE - 1)

    async def pause_if_failing(self, endpoint_id: str) -> str | None:
        """Pause an endpoint that has failed without a success for the pause period."""
        raw = cast("dict[str, str]", await self.redis.hgetall(health_key(endpoint_id)))
        since = raw.get("failing_since")
        if not since or raw.get("paused_at"):
            return None
        failing_for = (datetime.now(UTC) - datetime.fromisoformat(since)).total_seconds()
        if failing_for < self.policy.pause_after_s:
            return None
        reason = (
            f"no delivery succeeded for {failing_for:.0f} s "
            f"({raw.get('consecutive_failures', '?')} failures in a row; "
            f"last: {raw.get('last_error', '')})"
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                health_key(endpoint_id),
                mapping={"paused_at": datetime.now(UTC).isoformat(), "paused_reason": reason},
            )
            pipe.sadd(PAUSED_KEY, endpoint_id)
            await pipe.execute()
        return reason
