"""Which frames of one render exist in storage, kept current from the tenant's event log.

A live session starts from a snapshot (the job record and the log position it matches,
read together), then follows the log: ``render.progress`` names the frame indices just
stored, ``render.started`` begins a new attempt (whose frames live under its own prefix),
``render.succeeded`` makes every frame of the committed attempt available, and
``render.failed`` / ``render.cancelled`` end the feed. Nothing polls job records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from producer_api.event_stream import EventReader
from render_core import keys
from render_core.errors import QueueUnavailable
from render_core.event_log import Event, EventType
from render_core.schema import JobRecord, JobStatus

log = logging.getLogger(__name__)

# Redis failures in a row a follower rides out (a second apart) before it gives up.
REDIS_RETRIES = 10


class FrameFeed:
    """The stored frames of the render's current attempt, and how the render ended."""

    def __init__(
        self, reader: EventReader, record: JobRecord, after: str, block_ms: int = 5000
    ) -> None:
        self.reader = reader
        self.block_ms = block_ms  # one XREAD's wait: under the reader's socket timeout
        self.tenant = record.tenant
        self.render_id = record.id
        self.frame_count = record.request.frame_count
        self.extension = record.request.frame_format.value
        self.after = after
        self.attempt = record.attempts
        self.stored: set[int] = set()
        # succeeded, failed, cancelled, or lost (the log could not be read): no more change.
        self.ended: str | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        if record.status == JobStatus.succeeded and record.output_prefix:
            self._prefix = record.output_prefix
            self.stored = set(range(self.frame_count))
            self.ended = JobStatus.succeeded.value
        else:
            self._prefix = keys.attempt_prefix(record.id, record.attempts)
            if record.status == JobStatus.running:
                # Batches are stored in order: progress counts the frames already there.
                self.stored = set(range(record.progress.frames_done))

    def start(self) -> None:
        if self.ended is None and self._task is None:
            self._task = asyncio.create_task(self._follow(), name=f"feed-{self.render_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def key(self, index: int) -> str:
        return keys.frame_key(self._prefix, index, self.extension)

    async def wait_for(self, index: int) -> str | None:
        """The storage key of frame ``index`` once it is stored; None if the render ended
        without it (failed, cancelled, or the log was lost)."""
        while True:
            if index in self.stored:
                return self.key(index)
            if self.ended is not None:
                return None
            self._changed.clear()
            await self._changed.wait()

    def apply(self, event: Event) -> None:
        """Update from one of this render's events."""
        data: dict[str, Any] = event.data
        attempt = int(data.get("attempt", self.attempt))
        if event.type in (EventType.started, EventType.progress) and attempt != self.attempt:
            self._begin_attempt(attempt)
        if event.type == EventType.progress:
            self.stored.update(int(i) for i in data.get("frames", []))
        elif event.type == EventType.succeeded:
            self._begin_attempt(attempt)
            self.stored = set(range(self.frame_count))
            self.ended = JobStatus.succeeded.value
        elif event.type in (EventType.failed, EventType.cancelled):
            self.ended = event.type.removeprefix("render.")
        self._changed.set()

    def _begin_attempt(self, attempt: int) -> None:
        self.attempt = attempt
        self._prefix = keys.attempt_prefix(self.render_id, attempt)
        self.stored = set()

    def _end(self, why: str) -> None:
        self.ended = why
        self._changed.set()

    async def _follow(self) -> None:
        failures = 0
        while self.ended is None:
            try:
                events = await self.reader.read(self.tenant, self.after, self.block_ms)
            except QueueUnavailable as exc:
                failures += 1
                if failures > REDIS_RETRIES:
                    log.warning("live feed of %s lost the event log: %s", self.render_id, exc)
                    self._end("lost")
                    return
                await asyncio.sleep(1.0)
                continue
            failures = 0
            for event in events:
                self.after = event.id
                if event.render_id == self.render_id:
                    self.apply(event)
