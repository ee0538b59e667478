"""Events: what ``events()``, ``render_events()`` and webhook deliveries carry.

One event is the same JSON in an SSE ``data:`` line and in a webhook body. ``type`` stays
a plain string so a type added by a newer server does not break an older client; compare
it with ``EventType`` members (a StrEnum equals its value).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from avatar_render_client.models import Job, JobStatus, _Response


class EventType(StrEnum):
    """The event types of the tenant log, and ``render.state`` (first on a render stream)."""

    state = "render.state"
    queued = "render.queued"
    started = "render.started"
    progress = "render.progress"
    succeeded = "render.succeeded"
    failed = "render.failed"
    cancelled = "render.cancelled"
    retried = "render.retried"


TERMINAL_EVENT_TYPES = frozenset({EventType.succeeded, EventType.failed, EventType.cancelled})


class Event(_Response):
    """One event. ``id`` is the log position (``ms-seq``, increasing per tenant): keep the
    last one you handled to resume later with ``last_event_id=``."""

    id: str
    type: str
    time: datetime
    render_id: str
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        """The render ended here (succeeded, failed or cancelled), or a state says it had."""
        if self.type == EventType.state:
            return self.data.get("status") in {s.value for s in JobStatus if s.is_terminal}
        return self.type in TERMINAL_EVENT_TYPES

    @property
    def job(self) -> Job | None:
        """The job of a ``render.state`` event (None for other types)."""
        return Job.model_validate(self.data) if self.type == EventType.state else None


def parse_event_id(event_id: str) -> tuple[int, int]:
    """``ms-seq`` as a pair of ints, to compare ids; ValueError for anything else."""
    ms, sep, seq = event_id.partition("-")
    if not ms.isdigit() or (sep and not seq.isdigit()):
        raise ValueError(f"not an event id: {event_id!r}")
    return int(ms), int(seq or 0)
