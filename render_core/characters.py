"""Registered characters: one JSON record per character in Redis; the portrait is in storage.

Each tenant's characters are also in a sorted set scored by registration order, so the
API lists them newest first in stable pages (the same cursor scheme as renders).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis

from render_core.records import PREFIX, TenantRecords
from render_core.schema import Character

SEQUENCE_KEY = f"{PREFIX}:character:seq"


def tenant_characters(tenant: str) -> str:
    return f"{PREFIX}:tenant:{tenant}:characters"


@dataclass(frozen=True)
class CharacterPage:
    characters: list[Character]
    next_cursor: str | None


class CharacterStore(TenantRecords[Character]):
    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client, "character", Character)

    def save(self, record: Character) -> None:
        """Store the record and, the first time, its place in the tenant's list."""
        try:
            score = int(self.redis.incr(SEQUENCE_KEY))
            pipe = self.redis.pipeline(transaction=True)
            pipe.set(self.key(record.id), record.model_dump_json())
            pipe.zadd(tenant_characters(record.tenant), {record.id: score}, nx=True)
            pipe.execute()
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc

    def list_page(self, tenant: str, limit: int, cursor: str | None) -> CharacterPage:
        """Newest first; the cursor is the position of the previous page's last one."""
        upper = f"({int(cursor)}" if cursor else "+inf"
        try:
            rows = cast(
                "list[tuple[str, float]]",
                self.redis.zrevrangebyscore(
                    tenant_characters(tenant), upper, "-inf", start=0, num=limit, withscores=True
                ),
            )
            raws = self.redis.mget([self.key(i) for i, _ in rows]) if rows else []
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
        characters = [self.model.model_validate_json(raw) for raw in raws if raw is not None]
        next_cursor = str(int(rows[-1][1])) if len(rows) == limit else None
        return CharacterPage(characters=characters, next_cursor=next_cursor)
