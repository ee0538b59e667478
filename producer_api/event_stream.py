"""Reading a tenant's event log for server-sent events, without holding a thread.

Every read is ``redis.asyncio``: a follower waits in ``XREAD BLOCK`` for at most the
keep-alive interval, then writes a comment so proxies and clients see the stream alive.
A resume point (``Last-Event-ID``) gives exactly the events after it, or a 410 when
retention may have removed some of them (no silent gap).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aredis
from redis.exceptions import RedisError, ResponseError

from render_core.errors import EventsExpired, QueueUnavailable
from render_core.event_log import (
    START_ID,
    Event,
    as_entries,
    id_after,
    parse_entry,
    parse_id,
    stream_key,
)

log = logging.getLogger(__name__)

# What a browser's EventSource waits before reconnecting (the SSE ``retry:`` field).
RECONNECT_MS = 2000
READ_BATCH = 500


def sse_frame(event_id: str, data: str) -> str:
    """One SSE event: ``id:`` on every one, the JSON on one ``data:`` line."""
    return f"id: {event_id}\ndata: {data}\n\n"


def event_frame(event: Event) -> str:
    return sse_frame(event.id, event.model_dump_json())


KEEPALIVE = ": keep-alive\n\n"


@dataclass(frozen=True)
class Snapshot:
    """A job record and the log position it corresponds to, read in one transaction."""

    raw_record: str | None
    head: str


class EventReader:
    def __init__(self, client: aredis.Redis, retention_s: float) -> None:
        self.redis = client
        self.retention_s = retention_s

    def unavailable(self, exc: RedisError) -> QueueUnavailable:
        return QueueUnavailable(f"event log unavailable: {exc}")

    async def head(self, tenant: str) -> str:
        """The newest event's id: following from here gives only later events."""
        try:
            newest = as_entries(await self.redis.xrevrange(stream_key(tenant), count=1))
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        return newest[0][0] if newest else START_ID

    async def snapshot(self, tenant: str, record_key: str) -> Snapshot:
        """A record and the head of the log together: events are written in the record's
        own transaction, so the record shows exactly the events up to ``head``."""
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(record_key)
                pipe.xrevrange(stream_key(tenant), count=1)
                raw, newest = await pipe.execute()
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        entries = as_entries(newest)
        return Snapshot(raw_record=raw, head=entries[0][0] if entries else START_ID)

    async def check_resumable(self, tenant: str, last_id: str) -> None:
        """Refuse a resume point whose following events may be gone (410); its form was
        checked with the request (the header's pattern)."""
        ms, _ = parse_id(last_id)
        expired = EventsExpired(
            f"events after {last_id} are past the {self.retention_s:.0f} s retention; "
            "start again without Last-Event-ID"
        )
        if last_id != START_ID and ms < (time.time() - self.retention_s) * 1000:
            raise expired
        first_kept = await self._first_kept_after_trimming(tenant)
        if first_kept is not None and id_after(first_kept, last_id):
            raise expired

    async def _first_kept_after_trimming(self, tenant: str) -> str | None:
        """The oldest entry still kept, when older ones were trimmed (None when nothing was).

        Trimming removes entries from the head only, so the events after ``last_id`` are
        all there exactly when ``last_id`` is not before the oldest kept entry.
        """
        try:
            info: dict[str, Any] = await self.redis.xinfo_stream(stream_key(tenant))
        except ResponseError:  # no stream: nothing was ever trimmed from it
            return None
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        added, length = info.get("entries-added"), info.get("length")
        if added is None or length is None or int(added) <= int(length):
            return None  # Redis before 7.0 does not say; the time check still holds
        first = info.get("recorded-first-entry-id")
        return str(first) if first and first != START_ID else info.get("last-generated-id")

    async def read(self, tenant: str, after: str, block_ms: int) -> list[Event]:
        """Events after ``after``, waiting up to ``block_ms`` for the first one."""
        try:
            rows = await self.redis.xread(
                {stream_key(tenant): after}, count=READ_BATCH, block=max(1, block_ms)
            )
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        streams = cast("list[tuple[str, Any]]", rows or [])
        return [parse_entry(i, f) for _, entries in streams for i, f in as_entries(entries)]

    async def any_between(
        self, tenant: str, after: str, upto: str, matches: Callable[[Event], bool]
    ) -> bool:
        """Whether an event in (after, upto] matches."""
        start = f"({after}"
        while True:
            try:
                raw = await self.redis.xrange(stream_key(tenant), start, upto, count=READ_BATCH)
            except RedisError as exc:
                raise self.unavailable(exc) from exc
            entries = as_entries(raw)
            if any(matches(parse_entry(i, f)) for i, f in entries):
                return True
            if len(entries) < READ_BATCH:
                return False
            start = f"({entries[-1][0]}"


async def follow(
    reader: EventReader,
    tenant: str,
    after: str,
    matches: Callable[[Event], bool],
    keepalive_s: float,
    first: list[str] | None = None,
    last: Callable[[Event], bool] | None = None,
) -> AsyncIterator[str]:
    """SSE text: ``first`` frames, then every matching event after ``after`` as it is
    written, a keep-alive comment when nothing was sent for ``keepalive_s``; ends after
    an event for which ``last`` is true. Once the headers are out an error cannot be a
    status, so a Redis failure ends the stream and the client resumes from its last id."""
    yield f"retry: {RECONNECT_MS}\n\n"
    for frame in first or []:
        yield frame
    sent_at = time.monotonic()
    while True:
        wait_ms = int((sent_at + keepalive_s - time.monotonic()) * 1000)
        try:
            events = await reader.read(tenant, after, wait_ms)
        except QueueUnavailable as exc:
            log.warning("event stream of tenant %s ended: %s", tenant, exc.message)
            return
        for event in events:
            after = event.id
            if not matches(event):
                continue
            yield event_frame(event)
            sent_at = time.monotonic()
            if last is not None and last(event):
                return
        if time.monotonic() - sent_at >= keepalive_s:
            yield KEEPALIVE
            sent_at = time.monotonic()
