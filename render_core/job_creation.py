"""Storing new jobs in one script: the checks run in the same atomic step as the writes.

The writes of a creation (records, index entries, fair-queue places, events, the render
cache's writes) are built as usual on a pipeline that never runs; one Lua script then
checks that the jobs do not exist yet (``absent``) and that the tenant's queued and
running jobs stay within its cap (``capped``), takes the submission's tokens from the
tenant's rate bucket (``bucket``), takes the jobs' places in the global sequence, and
applies the writes with those places filled in. So a submission is stored in one round
trip, a refused one writes nothing (a refusal by the cap takes no tokens), and a
tenant's jobs are stored in the order of their places.

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

from render_core import fair_queue, places, token_bucket
from render_core.token_bucket import Take

# ARGV[1]: the checks (JSON); then each write as its length followed by its arguments.
# Returns {'ok'}, {'exists'}, {'full', jobs counted} or {'rate', seconds until enough}.
CREATE = (
    fair_queue.PUSH_FUNCTION
    + token_bucket.TAKE_FUNCTION
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
if checks.bucket ~= cjson.null then
  local b = checks.bucket
  local taken, wait = take_tokens(b.key, b.per_s, b.burst, b.cost)
  if taken == 0 then return {'rate', string.format('%.17g', wait)} end
end
-- The jobs' places: after every place of their tenants' jobs, even when the sequence
-- was reset by hand behind them.
local last = redis.call('INCRBY', checks.sequence, checks.count)
for _, key in ipairs(checks.ordered) do
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #top > 0 and tonumber(top[2]) > last - checks.count then
    last = tonumber(top[2]) + checks.count
    redis.call('SET', checks.sequence, last)
  end
end
local first = last - checks.count + 1
local mark = checks.mark
local function placed(arg)
  if string.byte(arg, 1) == 0 and string.sub(arg, 1, #mark) == mark then
    return string.format('%d', first + tonumber(string.sub(arg, #mark + 1)))
  end
  return arg
end
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local command = {}
  for j = i + 1, i + n do command[#command + 1] = placed(ARGV[j]) end
  if command[1] == 'FAIR_PUSH' then
    fair_push(unpack(command, 2))
  else
    redis.call(unpack(command))
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
    """What must hold for the writes to happen, and the places they take."""

    absent: Sequence[str]  # keys that must not exist (else: ``exists``)
    capped: Sequence[str]  # sets whose sizes, plus ``adding``, may not pass ``max``
    adding: int
    max: int
    bucket: Take | None  # tokens to take (else: ``rate``); None takes none
    count: int  # the places to take, one a job
    ordered: Sequence[str]  # sets whose entries the new places come after
    sequence: str = places.SEQUENCE_KEY
    mark: str = places.PENDING_MARK


@dataclass(frozen=True)
class Outcome:
    status: str  # ok, exists, full or rate
    active: int = 0  # with ``full``: the jobs the cap counted
    wait_s: float = 0.0  # with ``rate``: until the bucket holds enough tokens

    @classmethod
    def of(cls, answer: Any) -> Outcome:
        status, *rest = cast("list[Any]", answer)
        if status == "full":
            return cls(status, active=int(rest[0]))
        if status == "rate":
            return cls(status, wait_s=float(rest[0]))
        return cls(str(status))


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
