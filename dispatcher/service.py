"""The dispatcher's loops: fan-out from the event logs, delivery from the outbox, heartbeat.

Any number of dispatchers may run: the consumer group splits the events among them and
the outbox's lease keeps two from sending one delivery at once. Nothing here polls job
records; the delivery loop sleeps until the next delivery is due or fan-out wakes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import cast

import redis.asyncio as aredis

from dispatcher.fanout import FanOut
from dispatcher.metrics import DispatcherMetrics
from dispatcher.outbox import Delivery, Outbox
from dispatcher.sender import Sender
from render_core.records import PREFIX
from render_core.webhooks import WebhookEndpoint, endpoint_key, health_key

log = logging.getLogger(__name__)

HEARTBEAT_PREFIX = f"{PREFIX}:webhooks:dispatcher:"
HEARTBEAT_TTL_S = 15
HEARTBEAT_EVERY_S = 5.0
RECLAIM_EVERY_S = 5.0
IDLE_WAIT_S = 1.0


class Dispatcher:
    def __init__(
        self,
        client: aredis.Redis,
        outbox: Outbox,
        fanout: FanOut,
        sender: Sender,
        metrics: DispatcherMetrics,
        concurrency: int,
        name: str,
    ) -> None:
        self.redis = client
        self.outbox = outbox
        self.fanout = fanout
        self.sender = sender
        self.metrics = metrics
        self.concurrency = concurrency
        self.name = name
        self.stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        log.info("webhook dispatcher %s ready", self.name)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._fanout_loop())
                group.create_task(self._delivery_loop())
                group.create_task(self._heartbeat_loop())
        finally:
            await self.redis.delete(HEARTBEAT_PREFIX + self.name)
            await self.sender.close()

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    async def _fanout_loop(self) -> None:
        reclaimed_at = 0.0
        while not self.stopping.is_set():
            try:
                if time.monotonic() - reclaimed_at >= RECLAIM_EVERY_S:
                    reclaimed_at = time.monotonic()
                    if await self.fanout.reclaim():
                        self._wake.set()
                if await self.fanout.read_new():
                    self._wake.set()
                elif not await self.fanout.tenants():
                    await self._sleep(IDLE_WAIT_S)
            except aredis.RedisError as exc:
                log.warning("fan-out: Redis failed (%s); trying again", exc)
                await self._sleep(IDLE_WAIT_S)

    async def _delivery_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                free = self.concurrency - len(self._in_flight)
                claimed = await self.outbox.claim(free) if free > 0 else []
                for member in claimed:
                    task = asyncio.create_task(self._deliver(member))
                    self._in_flight.add(task)
                    task.add_done_callback(self._done)
                if claimed and len(claimed) == free:
                    continue  # more may be due: claim again once a slot frees
                next_due = await self.outbox.next_due_in()
                wait = IDLE_WAIT_S if next_due is None else min(IDLE_WAIT_S, next_due)
                if free <= 0 or not claimed:
                    await self._wait_for_wake(max(wait, 0.005))
            except aredis.RedisError as exc:
                log.warning("delivery: Redis failed (%s); trying again", exc)
                await self._sleep(IDLE_WAIT_S)
        if self._in_flight:  # let deliveries under way finish (each is time-limited)
            await asyncio.wait(self._in_flight)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("a delivery failed unexpectedly", exc_info=task.exception())

    async def _wait_for_wake(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _heartbeat_loop(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(aredis.RedisError):
                await self.redis.set(
                    HEARTBEAT_PREFIX + self.name, datetime.now(UTC).isoformat(), ex=HEARTBEAT_TTL_S
                )
            await self._sleep(HEARTBEAT_EVERY_S)

    async def _deliver(self, member: str) -> None:
        """Send one claimed delivery and record what came of it."""
        delivery = await self.outbox.open(member)
        if delivery is None:
            return
        raw = await self.redis.get(endpoint_key(delivery.endpoint_id))
        if raw is None:  # the endpoint was deleted
            await self.outbox.drop(member)
            self.metrics.deliveries.labels("dropped").inc()
            return
        endpoint = WebhookEndpoint.model_validate_json(raw)
        paused = cast("str | None", await self.redis.hget(health_key(endpoint.id), "paused_reason"))
        if paused:
            await self.outbox.give_up(delivery, f"endpoint paused: {paused}")
            self.metrics.deliveries.labels("dead").inc()
            return
        await self._send(endpoint, delivery)

    async def _send(self, endpoint: WebhookEndpoint, delivery: Delivery) -> None:
        result = await self.sender.send(endpoint, delivery.event.id, delivery.body)
        self.metrics.duration.observe(result.duration_s)
        if result.ok:
            assert result.status_code is not None
            await self.outbox.delivered(delivery, result.status_code, result.duration_s)
            self.metrics.deliveries.labels("delivered").inc()
            lag = (datetime.now(UTC) - delivery.event.time).total_seconds()
            self.metrics.lag.observe(max(0.0, lag))
            return
        self.metrics.failures.labels(result.reason).inc()
        error = result.error or result.reason
        dead = await self.outbox.failed(delivery, result.status_code, error, result.duration_s)
        self.metrics.deliveries.labels("dead" if dead else "retrying").inc()
        log.info(
            "webhook %s event %s attempt %d: %s%s",
            endpoint.id,
            delivery.event.id,
            delivery.attempts,
            error,
            " (dead-lettered)" if dead else "",
        )
        reason = await self.outbox.pause_if_failing(endpoint.id)
        if reason:
            log.warning("webhook %s paused: %s", endpoint.id, reason)
