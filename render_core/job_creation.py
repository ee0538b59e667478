"""Storing new jobs in one script: the checks run in the same atomic step as the writes.

The writes of a creation (records, index entries, fair-queue places, events, the render
cache's writes) are built as usual on a pipeline that never runs; one Lua script then
checks that the jobs do not exist yet (``absent``), that the tenant's queued and running
jobs stay within its cap (``capped``), and that no job of the tenant was stored with a
later place in the sequence meanwhile (``ordered``: a tenant's jobs are stored in the
order of their places), and applies the writes only when all of that holds.

A WATCH on the counted sets would check the same, but every submission of a tenant and
every move of its jobs writes them, so concurrent submissions kept failing each other's
transactions and retrying, several round trips each time. The script never retries for
them; only the render cache's checks, which read records under WATCH, still can.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import redis

from render_core import fair_queue

# ARGV[1]: the checks (JSON); then each write as its length followed by its arguments.
# Returns {'ok'}, {'exists'}, {'full', jobs counted} or {'late'}.
CREATE = (
    fair_queue.PUSH_FUNCTION
    + """
local checks = cjson.decode(ARGV[1])
for _, key in ipairs(checks.absent) do
  if redis.call('EXISTS', key) == 1 then return {'exists'} end
end
if #checks.capped > 0 then
  local active = 0
  for _, key in ipairs(checks.capped) do active = active + redis.call('ZCARD', key) end
  if active + checks.adding > checks.max then return {'full', active} end
end
for _, key in ipairs(checks.ordered) do
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #last > 0 and tonumber(last[2]) >= checks.first then return {'late'} end
end
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  if ARGV[i + 1] == 'FAIR_PUSH' then
    fair_push(unpack(ARGV, i + 2, i + n))
  else
    redis.call(unpack(ARGV, i + 1, i + n))
  end
  i = i + n + 1
end
return {'ok'}
"""
)
# The fair queue's push is a script itself, which a script cannot EVAL: named instead.
FAIR_PUSH = "FAIR_PUSH"


@dataclass(frozen=True)
class Checks:
    """What must hold for the writes to happen."""

    absent: Sequence[str]  # keys that must not exist (else: ``exists``)
    capped: Sequence[str]  # sets whose sizes, plus ``adding``, may not pass ``max``
    adding: int
    max: int
    ordered: Sequence[str]  # sets whose highest score must be below ``first``
    first: int


@dataclass(frozen=True)
class Outcome:
    status: str  # ok, exists, full or late
    active: int = 0  # with ``full``: the jobs the cap counted

    @classmethod
    def of(cls, answer: Any) -> Outcome:
        status, *rest = cast("list[Any]", answer)
        return cls(str(status), int(rest[0]) if rest else 0)


def _args(checks: Checks, writes: redis.client.Pipeline) -> list[Any]:
    """The script's arguments: the checks, then every command queued on ``writes``."""
    args: list[Any] = [json.dumps(asdict(checks), separators=(",", ":"))]
    for command, _ in writes.command_stack:
        if command[0] == "EVAL":
            if command[1] != fair_queue.PUSH:
                raise ValueError("a creation's writes are plain commands and fair pushes")
            command = (FAIR_PUSH, *command[3:])
        args += [len(command), *command]
    return args


class Creation:
    """The creation script, registered once per client (sent by its SHA1)."""

    def __init__(self, client: redis.Redis) -> None:
        self.script = client.register_script(CREATE)

    def run(self, checks: Checks, writes: redis.client.Pipeline) -> Outcome:
        """Check and write now (the script is loaded again if Redis lost it)."""
        return Outcome.of(self.script(args=_args(checks, writes)))

    def queue(
        self, pipe: redis.client.Pipeline, checks: Checks, writes: redis.client.Pipeline
    ) -> None:
        """Queue it in ``pipe``'s MULTI; its answer is the first of ``execute``. Redis may
        have lost the script (a restart, a failover): ``execute`` raises ``NoScriptError``,
        nothing was written, and ``load`` makes the next try work."""
        pipe.evalsha(self.script.sha, 0, *_args(checks, writes))

    def load(self) -> None:
        self.script.registered_client.script_load(CREATE)
