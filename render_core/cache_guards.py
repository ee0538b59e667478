"""The render cache's parts of job-store transactions: what each watches, checks, writes.

The job store runs a ``Guard`` inside its optimistic transaction: the guard's keys are
WATCHed with the record, ``check`` reads them (raising ``CacheRaced`` when what the caller
decided no longer holds), and ``write`` adds its writes to the same MULTI. So a hit never
takes a source that retention retires, a follower never waits for a leader that has
finished, and two leaders of one kind never fly at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import redis

from render_core import tenant_stats
from render_core.places import Place
from render_core.render_cache import (
    FOLLOWING_KEY,
    CacheRaced,
    CacheSource,
    entry_key,
    followers_key,
    job_key,
    refs_key,
    retiring_key,
    source_usable,
)


class Guard(Protocol):
    """Keys a transaction watches, what it checks under WATCH, what it writes in MULTI."""

    @property
    def keys(self) -> Sequence[str]: ...

    def check(self, pipe: redis.client.Pipeline) -> None: ...

    def write(self, pipe: redis.client.Pipeline, scores: Mapping[str, Place]) -> None: ...


@dataclass(frozen=True)
class HitGuard:
    """A new job that succeeds from ``source``: it must still be there, and it gets a ref."""

    job_id: str
    tenant: str
    source: CacheSource

    @property
    def keys(self) -> Sequence[str]:
        return [job_key(self.source.job_id), retiring_key(self.source.job_id)]

    def check(self, pipe: redis.client.Pipeline) -> None:
        if not source_usable(pipe, self.source.job_id):
            raise CacheRaced(f"render {self.source.job_id} is no longer a cache source")

    def write(self, pipe: redis.client.Pipeline, scores: Mapping[str, Place]) -> None:
        pipe.sadd(refs_key(self.source.job_id), self.job_id)
        tenant_stats.count(pipe, self.tenant, tenant_stats.CACHE_HITS)
        tenant_stats.count(pipe, self.tenant, tenant_stats.CACHE_BYTES_SAVED, self.source.bytes)


@dataclass(frozen=True)
class FollowGuard:
    """A new job that waits for ``leader`` (``known`` when the leader is already stored)."""

    job_id: str
    leader: str
    flight: str
    known: bool

    @property
    def keys(self) -> Sequence[str]:
        return [self.flight] if self.known else []

    def check(self, pipe: redis.client.Pipeline) -> None:
        if self.known and pipe.get(self.flight) != self.leader:
            raise CacheRaced(f"render {self.leader} is no longer in flight")

    def write(self, pipe: redis.client.Pipeline, scores: Mapping[str, Place]) -> None:
        pipe.zadd(followers_key(self.leader), {self.job_id: scores[self.job_id]})
        pipe.hset(FOLLOWING_KEY, self.job_id, self.leader)


@dataclass(frozen=True)
class LeadGuard:
    """A new job that identical ones will wait for while it is queued or running."""

    job_id: str
    flight: str

    @property
    def keys(self) -> Sequence[str]:
        return [self.flight]

    def check(self, pipe: redis.client.Pipeline) -> None:
        if pipe.get(self.flight) is not None:
            raise CacheRaced("an identical render is in flight now")

    def write(self, pipe: redis.client.Pipeline, scores: Mapping[str, Place]) -> None:
        pipe.set(self.flight, self.job_id)


class WriteOnly:
    """A guard that only writes: it watches and checks nothing."""

    @property
    def keys(self) -> Sequence[str]:
        return []

    def check(self, pipe: redis.client.Pipeline) -> None:
        pass


@dataclass(frozen=True)
class FillGuard(WriteOnly):
    """A render that succeeded becomes the entry for its renderer (a miss counted)."""

    cache_key: str
    renderer_key: str
    tenant: str
    source: CacheSource

    def write(self, pipe: redis.client.Pipeline, scores: Mapping[str, Place]) -> None:
        pipe.hset(entry_key(self.cache_key), self.renderer_key, self.source.model_dump_json())
        tenant_stats.count(pipe, self.tenant, tenant_stats.CACHE_MISSES)


@dataclass
class Guards:
    """Several guards as one."""

    items: list[Guard] = field(default_factory=list)

    @property
    def keys(self) -> Sequence[str]:
        return [key for guard in self.items for key in guard.keys]

    def check(self, pipe: redis.client.Pipeline) -> None:
        for guard in self.items:
            guard.check(pipe)

    def write(self, pipe: redis.client.Pipeline, scores: Mapping[str, Place]) -> None:
        for guard in self.items:
            guard.write(pipe, scores)


@dataclass(frozen=True)
class UnrefGuard(WriteOnly):
    """A hit whose own manifest retention deleted no longer holds its source's outputs."""

    hit: str
    source: str

    def write(self, pipe: redis.client.Pipeline, scores: Mapping[str, Place]) -> None:
        pipe.srem(refs_key(self.source), self.hit)
