"""How long jobs take lately, per priority: what the admission estimate multiplies by.

The job store pushes each rendered job's seconds (started to succeeded) here in the same
transaction as the success, so every API process reads the same recent figures. Cache
hits never ran on a worker and are not counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import redis

from render_core.records import PREFIX
from render_core.schema import JobRecord, Priority

KEEP = 50


def durations_key(priority: Priority) -> str:
    return f"{PREFIX}:stats:job_seconds:{priority.value}"


def note_duration(pipe: redis.client.Pipeline, record: JobRecord) -> None:
    """Queue, in the caller's MULTI, the run time of a job that just succeeded."""
    if record.started_at is None or record.finished_at is None:
        return
    seconds = (record.finished_at - record.started_at).total_seconds()
    key = durations_key(record.request.priority)
    pipe.lpush(key, f"{max(seconds, 0.0):.4f}")
    pipe.ltrim(key, 0, KEEP - 1)


def read_durations(pipe: redis.client.Pipeline) -> None:
    """Queue on ``pipe`` the recent figures of every priority (``durations_from``)."""
    for priority in Priority:
        pipe.lrange(durations_key(priority), 0, -1)


def durations_from(answers: Iterator[Any]) -> dict[Priority, list[float]]:
    return {priority: [float(v) for v in next(answers)] for priority in Priority}


def recent_job_seconds(
    durations: Mapping[Priority, list[float]], priority: Priority
) -> float | None:
    """The mean of the last jobs of that priority, else of the other one; None before any."""
    for p in (priority, *(p for p in Priority if p != priority)):
        if durations[p]:
            return sum(durations[p]) / len(durations[p])
    return None
