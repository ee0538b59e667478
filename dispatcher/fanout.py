"""Fan-out: events from the tenants' logs, through the consumer group, into the outbox.

Each batch of events read with ``XREADGROUP`` becomes deliveries (one per matching
endpoint) and is acknowledged in one transaction: a dispatcher that dies before it
leaves the entries pending in the group, and ``XAUTOCLAIM`` hands them to a live
dispatcher; after it, the outbox holds the deliveries. Endpoints are read fresh for
every batch, so a new endpoint gets every event written after its registration.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import redis.asyncio as aredis
from redis.exceptions import ResponseError

from dispatcher.outbox import Outbox
from render_core.event_log import Entries, as_entries, id_after, parse_entry, stream_key
from render_core.webhooks import (
    GROUP,
    PAUSED_KEY,
    TENANTS_KEY,
    WebhookEndpoint,
    endpoint_key,
    tenant_webhooks_key,
)

log = logging.getLogger(__name__)

READ_COUNT = 200
STREAM_PREFIX = stream_key("")


class FanOut:
    def __init__(
        self, client: aredis.Redis, consumer: str, block_ms: int = 1000, claim_idle_ms: int = 10_000
    ) -> None:
        self.redis = client
        self.consumer = consumer
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self._grouped: set[str] = set()

    async def tenants(self) -> list[str]:
        """Tenants with endpoints, each stream with its consumer group."""
        tenants = sorted(cast("set[str]", await self.redis.smembers(TENANTS_KEY)))
        for tenant in tenants:
            if tenant not in self._grouped:
                await self._ensure_group(tenant)
                self._grouped.add(tenant)
        return tenants

    async def _ensure_group(self, tenant: str) -> None:
        try:
            await self.redis.xgroup_create(stream_key(tenant), GROUP, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read_new(self) -> int:
        """Wait up to ``block_ms`` for new events; returns the deliveries queued."""
        tenants = await self.tenants()
        if not tenants:
            return 0
        streams: dict[Any, Any] = {stream_key(t): ">" for t in tenants}
        try:
            rows = await self.redis.xreadgroup(
                GROUP, self.consumer, streams, count=READ_COUNT, block=self.block_ms
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("a consumer group is missing (stream deleted?); creating it again")
            self._grouped.clear()
            return 0
        queued = 0
        for stream, entries in cast("list[tuple[str, Any]]", rows or []):
            queued += await self.handle(stream.removeprefix(STREAM_PREFIX), as_entries(entries))
        return queued

    async def reclaim(self) -> int:
        """Take over entries another (dead) dispatcher read but never acknowledged."""
        queued = 0
        for tenant in await self.tenants():
            start = "0-0"
            while True:
                reply = await self.redis.xautoclaim(
                    stream_key(tenant),
                    GROUP,
                    self.consumer,
                    self.claim_idle_ms,
                    start_id=start,
                    count=READ_COUNT,
                )
                start, claimed = reply[0], as_entries(reply[1])
                live = [(i, f) for i, f in claimed if f]  # trimmed entries come back empty
                if live:
                    log.warning("re-claimed %d unacknowledged events of %s", len(live), tenant)
                    queued += await self.handle(tenant, live)
                if start == "0-0":
                    break
        return queued

    async def handle(self, tenant: str, entries: Entries) -> int:
        """Queue the deliveries of ``entries`` and acknowledge them, together."""
        endpoints = await self._endpoints(tenant)
        queued = 0
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry_id, fields in entries:
                event = parse_entry(entry_id, fields)
                for endpoint in endpoints:
                    if event.type in endpoint.events and id_after(
                        entry_id, endpoint.since_event_id
                    ):
                        Outbox.add(pipe, endpoint, event)
                        queued += 1
                pipe.xack(stream_key(tenant), GROUP, entry_id)
            await pipe.execute()
        return queued

    async def _endpoints(self, tenant: str) -> list[WebhookEndpoint]:
        """The tenant's endpoints that take deliveries now (paused ones do not)."""
        ids = sorted(cast("set[str]", await self.redis.smembers(tenant_webhooks_key(tenant))))
        if not ids:
            return []
        raws = cast("list[str | None]", await self.redis.mget([endpoint_key(i) for i in ids]))
        paused = cast("list[int]", await self.redis.smismember(PAUSED_KEY, ids))
        endpoints = []
        for endpoint_id, raw, is_paused in zip(ids, raws, paused, strict=True):
            if not raw or is_paused:
                continue
            try:
                endpoints.append(WebhookEndpoint.model_validate_json(raw))
            except ValueError as exc:  # one bad record must not stop the tenant's deliveries
                log.error("unreadable webhook endpoint %s skipped: %s", endpoint_id, exc)
        return endpoints
