"""Per-tenant counters kept in Redis: refusals by reason and the render cache's work.

They are counted where they happen (an API process refuses, an API process or a worker
serves a cache hit) into one hash per tenant, so every API process's ``/metrics`` reports
the same totals. The API maps tenants to labels from the configuration (unknown tenants
are ``other``), so the series stay a closed set.
"""

from __future__ import annotations

from typing import cast

import redis

from render_core.records import PREFIX

TENANTS_KEY = f"{PREFIX}:stats:tenants"

REJECTED = "rejected"
CACHE_HITS = "cache_hits"
CACHE_MISSES = "cache_misses"
CACHE_BYTES_SAVED = "cache_bytes_saved"

Counter = redis.Redis | redis.client.Pipeline


def stats_key(tenant: str) -> str:
    return f"{PREFIX}:stats:tenant:{tenant}"


def rejected_field(reason: str) -> str:
    return f"{REJECTED}:{reason}"


def count(target: Counter, tenant: str, field: str, amount: int = 1) -> None:
    """Add ``amount`` (on a client: now; on a pipeline: with the caller's transaction)."""
    target.sadd(TENANTS_KEY, tenant)
    target.hincrby(stats_key(tenant), field, amount)


def count_rejection(client: redis.Redis, tenant: str, reason: str, amount: int = 1) -> None:
    """A refusal is counted after the fact; a Redis error here must not hide the refusal."""
    try:
        pipe = client.pipeline(transaction=False)
        count(pipe, tenant, rejected_field(reason), amount)
        pipe.execute()
    except redis.RedisError:
        pass


def read_all(client: redis.Redis) -> dict[str, dict[str, int]]:
    """Every tenant's counters."""
    tenants = sorted(cast("set[str]", client.smembers(TENANTS_KEY)))
    pipe = client.pipeline(transaction=False)
    for tenant in tenants:
        pipe.hgetall(stats_key(tenant))
    rows = cast("list[dict[str, str]]", pipe.execute()) if tenants else []
    return {
        tenant: {field: int(value) for field, value in row.items()}
        for tenant, row in zip(tenants, rows, strict=True)
    }
