"""The tenant event log: every change a tenant should see, in a Redis Stream per tenant.

Events are written by the job store inside the same MULTI as the record change they
report, so a crash can neither lose an event nor report a move that did not happen, and
a refused (stale) move writes none. Server-sent events and the webhook dispatcher read
this one log; nothing polls job records. An event's id is its stream entry id
(``1718000000000-0``): increasing within a tenant, and the resume point for clients.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import redis
from pydantic import BaseModel, Field

from render_core.records import PREFIX
from render_core.schema import JobRecord, JobStatus, utc_now

DEFAULT_RETENTION_S = 24 * 3600
# The stream id that sorts before every real entry: "from the beginning".
START_ID = "0-0"


class EventType(StrEnum):
    queued = "render.queued"
    started = "render.started"
    progress = "render.progress"
    succeeded = "render.succeeded"
    failed = "render.failed"
    cancelled = "render.cancelled"
    retried = "render.retried"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_TYPES


TERMINAL_TYPES = frozenset({EventType.succeeded, EventType.failed, EventType.cancelled})


class Event(BaseModel):
    """One event as clients see it, in SSE ``data:`` lines and webhook bodies alike."""

    id: str = Field(description="The stream entry id: increasing per tenant; resume from it.")
    type: str = Field(description="render.queued, render.started, ... (see EventType).")
    time: datetime
    render_id: str
    data: dict[str, Any] = Field(description="The event's own small body.")


@dataclass(frozen=True)
class NewEvent:
    """An event about to be written: its id is given by Redis on XADD."""

    type: EventType
    render_id: str
    data: dict[str, Any]


def stream_key(tenant: str) -> str:
    return f"{PREFIX}:events:{tenant}"


def parse_id(event_id: str) -> tuple[int, int]:
    """``ms-seq`` as a pair of ints; ValueError for anything else."""
    ms, sep, seq = event_id.partition("-")
    if not ms.isdigit() or (sep and not seq.isdigit()):
        raise ValueError(f"not an event id: {event_id!r}")
    return int(ms), int(seq or 0)


def id_after(a: str, b: str) -> bool:
    """Whether event id ``a`` comes after ``b``."""
    return parse_id(a) > parse_id(b)


Entries = list[tuple[str, dict[str, str]]]


def as_entries(raw: Any) -> Entries:
    """XRANGE/XREAD rows as redis-py returns them (decoded), typed."""
    return cast(Entries, raw or [])


def parse_entry(entry_id: str, fields: Mapping[str, str]) -> Event:
    return Event(
        id=entry_id,
        type=fields["type"],
        time=datetime.fromisoformat(fields["time"]),
        render_id=fields["render_id"],
        data=json.loads(fields["data"]),
    )


def _attempt(record: JobRecord) -> dict[str, Any]:
    return {"attempt": record.attempts}


def _error(record: JobRecord) -> dict[str, Any] | None:
    return record.error.model_dump() if record.error else None


def _status_event(before: JobRecord, after: JobRecord) -> NewEvent | None:
    """The event of a status move, if the move is one a tenant sees."""
    if after.status == before.status:
        return None
    if after.status == JobStatus.succeeded:
        data = {**_attempt(after), "manifest_key": after.manifest_key}
        return NewEvent(EventType.succeeded, after.id, data)
    if after.status == JobStatus.failed:
        return NewEvent(EventType.failed, after.id, {**_attempt(after), "error": _error(after)})
    if after.status == JobStatus.cancelled:
        return NewEvent(EventType.cancelled, after.id, _attempt(after))
    if after.status == JobStatus.queued:
        # running → queued: an automatic retry; failed/cancelled → queued: a manual one.
        manual = before.status != JobStatus.running
        data = {**_attempt(after), "manual": manual, "error": None if manual else _error(after)}
        return NewEvent(EventType.retried, after.id, data)
    return None


def events_for_move(
    before: JobRecord, after: JobRecord, frames: Sequence[int] = ()
) -> list[NewEvent]:
    """What a tenant should hear about one write of a job record (often nothing).

    ``frames`` are the indices whose files the writer has just stored (progress only).
    """
    if after.status == JobStatus.running and after.attempts > before.attempts:
        renderer = after.renderer.model_dump() if after.renderer else None
        data = {**_attempt(after), "worker": after.worker, "renderer": renderer}
        return [NewEvent(EventType.started, after.id, data)]
    moved = _status_event(before, after)
    if moved is not None:
        return [moved]
    same_attempt = before.attempt_token == after.attempt_token
    progressed = after.progress.frames_done != before.progress.frames_done or bool(frames)
    if after.status == JobStatus.running and same_attempt and progressed:
        data = {
            **_attempt(after),
            "frames_done": after.progress.frames_done,
            "frames_total": after.progress.frames_total,
            "frames": sorted(frames),
        }
        return [NewEvent(EventType.progress, after.id, data)]
    return []


def queued_event(record: JobRecord) -> NewEvent:
    data = {
        "priority": record.request.priority.value,
        "frames_total": record.progress.frames_total,
        "metadata": record.request.metadata,
    }
    return NewEvent(EventType.queued, record.id, data)


class EventLog:
    """Appends events inside a caller's transaction, trimming the stream by age."""

    def __init__(self, retention_s: float = DEFAULT_RETENTION_S) -> None:
        self.retention_s = retention_s

    def min_id(self, now: float | None = None) -> str:
        """Entries before this id are past retention."""
        now = time.time() if now is None else now
        return f"{max(0, int((now - self.retention_s) * 1000))}-0"

    def append(self, pipe: redis.client.Pipeline, tenant: str, events: Iterable[NewEvent]) -> None:
        """Queue XADDs on ``pipe`` (inside its MULTI); the transaction writes them or none."""
        at = utc_now().isoformat()
        for event in events:
            fields = {
                "type": event.type.value,
                "render_id": event.render_id,
                "time": at,
                "data": json.dumps(event.data, separators=(",", ":")),
            }
            # Exact MINID trimming: cheap when an append evicts few entries, and it keeps
            # "an id older than the retention is gone" true to the millisecond.
            pipe.xadd(stream_key(tenant), fields, minid=self.min_id(), approximate=False)  # type: ignore[arg-type]
