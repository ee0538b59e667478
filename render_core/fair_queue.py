"""Fair queueing in Redis: per priority, each tenant's waiting jobs, served in turn by weight.

Celery has no fairness of its own: a message sent is a message served in order. So a new
job does not become a message at once. It waits in its tenant's queue (a sorted set by
its place in the global sequence: FIFO within the tenant), written in the same MULTI as
its record. A dispatch step (``render_core.dispatch``) takes the next jobs, tenant by
tenant, only while the broker holds fewer than its target, and sends them through
``render_core.queue.enqueue``; so the broker stays short and a newcomer is next in line.

Turns are stride scheduling: every tenant with waiting jobs has a *pass* (virtual time);
the lowest pass is served and moves on by ``1 / weight``. A tenant that had nothing
waiting comes back at the current virtual time (``clock``), never earlier than its own
last pass, so idling builds up no credit. Taking a job and marking it dispatched happen in
one script: a job taken is in ``ar:jobs:unsent`` (the reaper's list) until its message is
marked sent, so a dispatcher that dies in between loses nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis

from render_core.heartbeats import LIVE_SLOTS_FUNCTION
from render_core.places import Place
from render_core.records import PREFIX
from render_core.schema import JobRecord, Priority

# Keys of one priority's fair queue.


def tenant_queue_key(priority: Priority, tenant: str) -> str:
    return f"{PREFIX}:fair:{priority.value}:t:{tenant}"


def active_key(priority: Priority) -> str:
    """Tenants with waiting jobs, scored by their pass."""
    return f"{PREFIX}:fair:{priority.value}:active"


def clock_key(priority: Priority) -> str:
    return f"{PREFIX}:fair:{priority.value}:clock"


def passes_key(priority: Priority) -> str:
    """Each tenant's last pass, so a tenant that comes back does not jump the line."""
    return f"{PREFIX}:fair:{priority.value}:passes"


def sending_key(priority: Priority) -> str:
    """Jobs taken from the fair queue whose message is not yet marked sent."""
    return f"{PREFIX}:fair:{priority.value}:sending"


# Joins a job to its tenant's queue; the tenant takes its turn from max(clock, own pass).
# A function, so that other scripts (the render cache's release) push the same way.
PUSH_FUNCTION = """
local function fair_push(queue, active, clock, passes, job, score, tenant)
  redis.call('ZADD', queue, score, job)
  if not redis.call('ZSCORE', active, tenant) then
    local pass = tonumber(redis.call('HGET', passes, tenant) or '0')
    local now = tonumber(redis.call('GET', clock) or '0')
    if pass < now then pass = now end
    redis.call('ZADD', active, pass, tenant)
  end
end
"""
PUSH = (
    PUSH_FUNCTION
    + """
fair_push(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3])
return 1
"""
)

# Takes up to the room left in the broker, lowest pass first, and marks each taken job
# as dispatched-but-unsent (the per-priority ``sending`` set and the reaper's ``unsent``).
DISPATCH = (
    LIVE_SLOTS_FUNCTION
    + """
local now = tonumber(ARGV[1])
local ahead = tonumber(ARGV[3])
local room = tonumber(ARGV[4])
if ahead > 0 then
  local slots = live_slots(KEYS[6], KEYS[7], now)
  local waiting = redis.call('ZCARD', KEYS[4])
  for i = 8, #KEYS do waiting = waiting + redis.call('LLEN', KEYS[i]) end
  room = math.min(room, math.max(1, math.floor(slots * ahead)) - waiting)
end
local weights = cjson.decode(ARGV[5])
local default = tonumber(ARGV[6])
local taken = {}
while #taken < room do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #head == 0 then break end
  local tenant, pass = head[1], tonumber(head[2])
  local queue = ARGV[2] .. tenant
  local popped = redis.call('ZPOPMIN', queue)
  if #popped == 0 then
    redis.call('ZREM', KEYS[1], tenant)
  else
    local job = popped[1]
    local after = pass + 1 / (tonumber(weights[tenant]) or default)
    redis.call('SET', KEYS[2], string.format('%.17g', pass))
    redis.call('HSET', KEYS[3], tenant, string.format('%.17g', after))
    if redis.call('ZCARD', queue) == 0 then
      redis.call('ZREM', KEYS[1], tenant)
    else
      redis.call('ZADD', KEYS[1], string.format('%.17g', after), tenant)
    end
    redis.call('ZADD', KEYS[4], now, job)
    redis.call('ZADD', KEYS[5], now, job)
    taken[#taken + 1] = job
  end
end
return taken
"""
)


def push_keys(priority: Priority, tenant: str) -> list[str]:
    """The keys ``fair_push`` writes, in its argument order."""
    return [
        tenant_queue_key(priority, tenant),
        active_key(priority),
        clock_key(priority),
        passes_key(priority),
    ]


def push(pipe: redis.client.Pipeline, record: JobRecord, score: Place) -> None:
    """Queue, inside the caller's MULTI, the job's entry in its tenant's fair queue."""
    keys = push_keys(record.request.priority, record.tenant)
    pipe.eval(PUSH, len(keys), *keys, record.id, score, record.tenant)


def forget(pipe: redis.client.Pipeline, record: JobRecord) -> None:
    """The job no longer waits for dispatch (sent, cancelled, running): drop its entries."""
    priority = record.request.priority
    pipe.zrem(tenant_queue_key(priority, record.tenant), record.id)
    pipe.zrem(sending_key(priority), record.id)


@dataclass(frozen=True)
class DispatchRoom:
    """What bounds one dispatch: the broker lists and live slots of the priority's queue."""

    broker_keys: Sequence[str]
    slots_key: str
    slot_counts_key: str
    ahead_per_slot: float  # 0: no bound, everything waiting is taken
    unsent_key: str


def take_next(
    client: redis.Redis,
    priority: Priority,
    room: DispatchRoom,
    weights: Mapping[str, float],
    limit: int = 500,
) -> list[str]:
    """The jobs to send now, in fair order, already marked dispatched-but-unsent."""
    keys = [
        active_key(priority),
        clock_key(priority),
        passes_key(priority),
        sending_key(priority),
        room.unsent_key,
        room.slots_key,
        room.slot_counts_key,
        *room.broker_keys,
    ]
    args: list[str | float | int] = [
        time.time(),
        tenant_queue_key(priority, ""),
        room.ahead_per_slot,
        limit,
        json.dumps(dict(weights)),
        1.0,
    ]
    return cast("list[str]", client.eval(DISPATCH, len(keys), *keys, *args))


@dataclass(frozen=True)
class TenantTurn:
    """A tenant with waiting jobs: its pass and how many jobs it has waiting."""

    tenant: str
    pass_: float
    waiting: int


@dataclass(frozen=True)
class FairState:
    """One priority's fair queue at one moment: enough to say who goes before whom."""

    priority: Priority
    turns: list[TenantTurn]
    clock: float
    passes: dict[str, float]
    sending: int

    @property
    def waiting(self) -> int:
        return sum(turn.waiting for turn in self.turns)

    def entry_pass(self, tenant: str) -> float:
        """The pass a tenant's next job is served at (now active, or coming back)."""
        for turn in self.turns:
            if turn.tenant == tenant:
                return turn.pass_
        return max(self.clock, self.passes.get(tenant, 0.0))

    def served_before(self, tenant: str, rank: int, weights: Mapping[str, float]) -> int:
        """Jobs dispatched before the ``rank``-th (0-based) waiting job of ``tenant``: its own
        earlier ones, and each other tenant's jobs whose turn comes first (ties go to the
        tenant whose name sorts first, as in the sorted set)."""
        weight = weights.get(tenant, 1.0)
        at = self.entry_pass(tenant) + rank / weight
        ahead = rank
        for turn in self.turns:
            if turn.tenant == tenant or turn.waiting == 0:
                continue
            other = weights.get(turn.tenant, 1.0)
            span = (at - turn.pass_) * other  # how many of its turns fit before ours
            if span < 0 or (span == 0 and turn.tenant > tenant):
                continue
            count = int(span) + (1 if turn.tenant < tenant or span != int(span) else 0)
            ahead += min(turn.waiting, count)
        return ahead


# One priority's fair queue as it stands: each active tenant with its pass and its number
# of waiting jobs, the clock, the passes, the taken-but-unsent count.
# KEYS: active, clock, passes, sending; ARGV[1]: the tenant queue key prefix.
STATE = """
local active = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local turns = {}
for i = 1, #active, 2 do
  turns[#turns + 1] = {active[i], active[i + 1], redis.call('ZCARD', ARGV[1] .. active[i])}
end
local clock = redis.call('GET', KEYS[2]) or '0'
return {turns, clock, redis.call('HGETALL', KEYS[3]), redis.call('ZCARD', KEYS[4])}
"""


def read_state(pipe: redis.client.Pipeline, priority: Priority) -> None:
    """Queue on ``pipe`` the read of the priority's ``FairState`` (``state_from``)."""
    keys = [active_key(priority), clock_key(priority), passes_key(priority), sending_key(priority)]
    pipe.eval(STATE, len(keys), *keys, tenant_queue_key(priority, ""))


def state_from(answers: Iterator[Any], priority: Priority) -> FairState:
    turns, clock, passes, sending = next(answers)
    flat = [str(item) for item in passes]
    return FairState(
        priority=priority,
        turns=[TenantTurn(str(name), float(pass_), int(n)) for name, pass_, n in turns],
        clock=float(clock),
        passes={flat[i]: float(flat[i + 1]) for i in range(0, len(flat), 2)},
        sending=int(sending),
    )


def rank_in_tenant_queue(client: redis.Redis, record: JobRecord) -> int | None:
    """The job's place among its tenant's waiting jobs (0: next); None when not waiting."""
    rank = client.zrank(tenant_queue_key(record.request.priority, record.tenant), record.id)
    return None if rank is None else int(cast(int, rank))
