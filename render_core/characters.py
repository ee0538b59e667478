"""Registered characters: one JSON record per character in Redis; the portrait is in storage."""

from __future__ import annotations

import redis

from render_core.errors import NotFound, QueueUnavailable
from render_core.jobs import PREFIX
from render_core.schema import Character


def _character_key(character_id: str) -> str:
    return f"{PREFIX}:character:{character_id}"


class CharacterStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def save(self, character: Character) -> None:
        try:
            self.redis.set(_character_key(character.id), character.model_dump_json())
        except redis.RedisError as exc:
            raise QueueUnavailable(f"character store unavailable: {exc}") from exc

    def get(self, character_id: str) -> Character:
        try:
            raw = self.redis.get(_character_key(character_id))
        except redis.RedisError as exc:
            raise QueueUnavailable(f"character store unavailable: {exc}") from exc
        if raw is None:
            raise NotFound(f"character {character_id} not found")
        return Character.model_validate_json(raw)

    def get_for_tenant(self, tenant: str, character_id: str) -> Character:
        """Another tenant's character is answered exactly like a missing one."""
        character = self.get(character_id)
        if character.tenant != tenant:
            raise NotFound(f"character {character_id} not found")
        return character
