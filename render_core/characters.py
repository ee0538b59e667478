"""Registered characters: one JSON record per character in Redis; the portrait is in storage."""

from __future__ import annotations

import redis

from render_core.records import TenantRecords
from render_core.schema import Character


class CharacterStore(TenantRecords[Character]):
    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client, "character", Character)
