"""Admission control and the place in line: how long a job will wait before it starts.

Per priority, the jobs ahead of one job are: everything waiting at a higher priority
(interactive before batch), the messages already in the broker, the jobs taken for
dispatch, and the jobs the tenants' turns put first (``FairState.served_before``). With the
live worker slots of the queue (their heartbeats) and the recent time per job of that
priority, the wait is the time for the slots to work through the jobs ahead. Unknown
(no live worker, or no job finished yet to learn from) means no estimate and no refusal:
``/readyz`` is what says that no worker is there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis

from render_core import fair_queue
from render_core.errors import Overloaded
from render_core.heartbeats import read_live_slots
from render_core.job_index import status_index
from render_core.job_times import durations_from, read_durations, recent_job_seconds
from render_core.queue import queue_name
from render_core.queue_depth import depths_from, read_depths
from render_core.schema import JobRecord, JobStatus, Priority, RenderRequest
from render_core.settings import Settings

# Longest broker list searched for a job's message (the broker is kept short, so this
# is only reached when dispatch is unbounded).
MAX_BROKER_SCAN = 1000
LINE_ORDER = (Priority.interactive, Priority.batch)


@dataclass(frozen=True)
class Line:
    """One priority's queue at one moment."""

    priority: Priority
    fair: fair_queue.FairState
    broker: int  # messages waiting in the broker
    higher: int  # jobs of higher priorities waiting, which go first
    slots: int
    running: int
    job_s: float | None

    @property
    def waiting(self) -> int:
        """Everything that starts before a job that joins this line at its end."""
        return self.higher + self.broker + self.fair.sending + self.fair.waiting

    def wait_s(self, ahead: int) -> float | None:
        """Seconds until a job with ``ahead`` jobs before it starts; None when unknown."""
        if self.slots <= 0 or self.job_s is None:
            return None
        free = max(0, self.slots - self.running)
        if ahead < free:
            return 0.0
        return (ahead - free + 1) / self.slots * self.job_s


@dataclass(frozen=True)
class Place:
    """A queued job's place: jobs that start before it, and the seconds until it starts."""

    position: int
    estimated_start_s: float | None


class Admission:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.weights = {name: limits.weight for name, limits in settings.limits_by_tenant.items()}

    def read_lines(self, pipe: redis.client.Pipeline) -> None:
        """Queue on ``pipe`` every read ``lines_from`` needs (so a caller's other reads go in
        the same round trip)."""
        queues = self._queues()
        read_depths(pipe, list(queues.values()))
        pipe.zcard(status_index(JobStatus.running))
        for priority in LINE_ORDER:
            fair_queue.read_state(pipe, priority)
            read_live_slots(pipe, queues[priority])
        read_durations(pipe)

    def lines_from(self, answers: Iterator[Any]) -> dict[Priority, Line]:
        """Both priorities, interactive first: the batch line counts interactive as ahead."""
        queues = self._queues()
        depths = depths_from(answers, list(queues.values()))
        running = int(next(answers))
        read = {p: (fair_queue.state_from(answers, p), int(next(answers))) for p in LINE_ORDER}
        durations = durations_from(answers)
        lines: dict[Priority, Line] = {}
        higher = 0
        for priority in LINE_ORDER:
            state, slots = read[priority]
            line = Line(
                priority=priority,
                fair=state,
                broker=depths[queues[priority]],
                higher=higher,
                slots=slots,
                running=running,
                job_s=recent_job_seconds(durations, priority),
            )
            lines[priority] = line
            higher += line.broker + state.sending + state.waiting
        return lines

    def lines(self) -> dict[Priority, Line]:
        """Both lines as they stand, read in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        self.read_lines(pipe)
        return self.lines_from(iter(pipe.execute()))

    def _queues(self) -> dict[Priority, str]:
        return {p: queue_name(self.settings, p) for p in Priority}

    def _fair_place(self, line: Line, tenant: str, rank: int) -> Place:
        ahead = line.higher + line.broker + line.fair.sending
        ahead += line.fair.served_before(tenant, rank, self.weights)
        return Place(ahead, line.wait_s(ahead))

    def admit(
        self, tenant: str, requests: Sequence[RenderRequest], lines: dict[Priority, Line]
    ) -> list[Place]:
        """Where new jobs would stand in ``lines``; ``Overloaded`` when an interactive one
        would wait longer than ``RENDER_MAX_INTERACTIVE_WAIT_S`` (the whole submission is
        refused)."""
        joined = {p: _waiting_of(lines[p].fair, tenant) for p in Priority}
        places = []
        for request in requests:
            priority = request.priority
            places.append(self._fair_place(lines[priority], tenant, joined[priority]))
            joined[priority] += 1
        limit = self.settings.max_interactive_wait_s
        worst = max(
            (
                place.estimated_start_s or 0.0
                for place, request in zip(places, requests, strict=True)
                if request.priority == Priority.interactive
            ),
            default=0.0,
        )
        if worst > limit:
            raise Overloaded(
                f"an interactive render would wait about {worst:.0f} s to start, more than "
                f"the {limit:g} s allowed; retry later or submit it as batch",
                retry_after_s=worst - limit,
            )
        return places

    def place(self, record: JobRecord, lines: dict[Priority, Line] | None = None) -> Place | None:
        """A queued job's place in line now; None once it is no longer waiting."""
        if record.status != JobStatus.queued:
            return None
        line = (lines or self.lines())[record.request.priority]
        rank = fair_queue.rank_in_tenant_queue(self.redis, record)
        if rank is not None:
            return self._fair_place(line, record.tenant, rank)
        ahead = line.higher + self._broker_ahead(record, line)
        return Place(ahead, line.wait_s(ahead))

    def _broker_ahead(self, record: JobRecord, line: Line) -> int:
        """Messages before this job's in the broker list (consumed from its right end); a
        job taken for dispatch and not yet sent is behind all of them."""
        queue = queue_name(self.settings, record.request.priority)
        raws = cast("list[str]", self.redis.lrange(queue, -MAX_BROKER_SCAN, -1))
        task_id = record.task_id or ""
        for index, raw in enumerate(raws):
            if task_id and task_id in raw:
                return len(raws) - 1 - index
        return line.broker


def _waiting_of(state: fair_queue.FairState, tenant: str) -> int:
    return next((turn.waiting for turn in state.turns if turn.tenant == tenant), 0)
