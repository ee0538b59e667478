"""The content-addressed render cache in Redis: entries, single flight, references.

- *Entries*: ``ar:cache:entry:{request key}`` maps a renderer key to the job that rendered
  it (``CacheSource``). A worker fills it in the transaction that commits the render.
- *Single flight*: the first cacheable job of a request key (per priority) holds
  ``ar:cache:flight:...``; identical jobs submitted while it is queued or running wait
  out of the fair queue as its followers. When it ends (in the same MULTI as its final
  move) its followers go into the fair queue: after a success each succeeds from the
  entry on a worker in milliseconds; after a failure the first becomes the new leader.
- *References*: a hit names another job's outputs; ``ar:cache:refs:{source}`` holds the
  hits still showing them, so retention keeps those outputs, and ``retiring`` marks a
  source whose outputs retention is deleting, so no new hit takes it.

Every check that a hit, a follower or a leader relies on is read under WATCH by the job
store's transaction (``render_core.cache_guards``), so a concurrent change makes the
caller decide again.
"""

from __future__ import annotations

from typing import cast

import redis
from pydantic import BaseModel

from render_core import fair_queue
from render_core.errors import Conflict
from render_core.records import PREFIX
from render_core.schema import JobRecord, JobStatus, Priority

CURRENT_RENDERER_KEY = f"{PREFIX}:cache:renderer"
FOLLOWING_KEY = f"{PREFIX}:cache:following"  # follower job id -> its leader


def entry_key(cache_key: str) -> str:
    return f"{PREFIX}:cache:entry:{cache_key}"


def flight_key(cache_key: str, priority: Priority) -> str:
    return f"{PREFIX}:cache:flight:{cache_key}:{priority.value}"


def followers_key(leader: str) -> str:
    return f"{PREFIX}:cache:followers:{leader}"


def refs_key(source: str) -> str:
    return f"{PREFIX}:cache:refs:{source}"


def retiring_key(source: str) -> str:
    return f"{PREFIX}:cache:retiring:{source}"


def job_key(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


class CacheSource(BaseModel):
    """A render whose outputs identical requests may take."""

    job_id: str
    manifest_key: str
    output_prefix: str
    bytes: int


class CacheRaced(Conflict):
    """What a hit, a follower or a leader relied on changed meanwhile: decide again."""


Reader = redis.Redis | redis.client.Pipeline


def source_usable(reader: Reader, source: str) -> bool:
    """Succeeded, outputs not expired, not being retired (a pipeline reads under WATCH)."""
    raw = cast("str | None", reader.get(job_key(source)))
    if raw is None:
        return False
    return usable_record(raw, bool(reader.exists(retiring_key(source)))) is not None


def usable_record(raw: str | None, retiring: bool) -> JobRecord | None:
    """A source's record, read with whether it is retiring, when it may be taken."""
    if raw is None or retiring:
        return None
    record = JobRecord.model_validate_json(raw)
    usable = record.status == JobStatus.succeeded and not record.outputs_expired
    return record if usable else None


# When a cacheable job ends: give up its flight, and send its followers into the fair
# queue (after a success they succeed from the entry; after anything else the first one
# leads and the others follow it). KEYS: flight, followers, following, then fair_push's.
# ARGV: job id, succeeded (1/0), the followers key prefix, tenant.
RELEASE = (
    fair_queue.PUSH_FUNCTION
    + """
local job, ok, prefix, tenant = ARGV[1], ARGV[2] == '1', ARGV[3], ARGV[4]
if redis.call('GET', KEYS[1]) == job then redis.call('DEL', KEYS[1]) end
local waiting = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
redis.call('DEL', KEYS[2])
local last = ok and #waiting or math.min(#waiting, 2)
for i = 1, last, 2 do
  redis.call('HDEL', KEYS[3], waiting[i])
  fair_push(KEYS[4], KEYS[5], KEYS[6], KEYS[7], waiting[i], waiting[i + 1], tenant)
end
if not ok and #waiting > 0 then
  local heir = waiting[1]
  redis.call('SET', KEYS[1], heir)
  for i = 3, #waiting, 2 do
    redis.call('ZADD', prefix .. heir, waiting[i + 1], waiting[i])
    redis.call('HSET', KEYS[3], waiting[i], heir)
  end
end
return #waiting / 2
"""
)


def release(pipe: redis.client.Pipeline, record: JobRecord) -> None:
    """Queue, in the MULTI of a cacheable job's final move, the release of its flight."""
    assert record.cache_key is not None
    priority = record.request.priority
    keys = [
        flight_key(record.cache_key, priority),
        followers_key(record.id),
        FOLLOWING_KEY,
        *fair_queue.push_keys(priority, record.tenant),
    ]
    succeeded = "1" if record.status == JobStatus.succeeded else "0"
    args = [record.id, succeeded, followers_key(""), record.tenant]
    pipe.eval(RELEASE, len(keys), *keys, *args)


def leader_of(client: redis.Redis, job_id: str) -> str | None:
    return cast("str | None", client.hget(FOLLOWING_KEY, job_id))


def stop_following(pipe: redis.client.Pipeline, job_id: str, leader: str) -> None:
    """A follower that leaves ``queued`` (cancelled) no longer waits for its leader."""
    pipe.zrem(followers_key(leader), job_id)
    pipe.hdel(FOLLOWING_KEY, job_id)


RETIRING_TTL_S = 7 * 24 * 3600


def retire(client: redis.Redis, source: JobRecord) -> bool:
    """Before retention deletes a cache source's outputs: unless a live hit still shows
    them (False), mark it retiring and drop its entries, atomically with the check, so no
    new hit can take it from here on."""
    refs = refs_key(source.id)
    entry = entry_key(source.cache_key) if source.cache_key else None
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(refs, *([entry] if entry else []))  # type: ignore[no-untyped-call]
                if int(pipe.scard(refs)) > 0:
                    return False
                fields = cast("dict[str, str]", pipe.hgetall(entry)) if entry else {}
                mine = [
                    field_name
                    for field_name, raw in fields.items()
                    if CacheSource.model_validate_json(raw).job_id == source.id
                ]
                pipe.multi()
                pipe.set(retiring_key(source.id), "1", ex=RETIRING_TTL_S)
                if entry and mine:
                    pipe.hdel(entry, *mine)
                pipe.execute()
                return True
            except redis.WatchError:
                continue


class RenderCache:
    """Reads of the cache, and the renderer identity workers announce."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def announce(self, renderer_key: str) -> None:
        """A worker set up this renderer: the API may serve hits rendered by it."""
        self.redis.set(CURRENT_RENDERER_KEY, renderer_key)

    def source(self, cache_key: str, renderer_key: str) -> CacheSource | None:
        raw = cast("str | None", self.redis.hget(entry_key(cache_key), renderer_key))
        return None if raw is None else CacheSource.model_validate_json(raw)

    def usable_source(self, cache_key: str, renderer_key: str) -> CacheSource | None:
        """The entry's source when it may be taken now (checked again under WATCH)."""
        found = self.source(cache_key, renderer_key)
        if found is None or not source_usable(self.redis, found.job_id):
            return None
        return found

    def in_flight(self, cache_key: str, priority: Priority) -> str | None:
        return cast("str | None", self.redis.get(flight_key(cache_key, priority)))

    def references(self, source: str) -> set[str]:
        """The hits that still show ``source``'s outputs."""
        return cast("set[str]", self.redis.smembers(refs_key(source)))
