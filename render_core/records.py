"""Tenant-owned records kept as JSON in Redis (characters, jobs), one value per record."""

from __future__ import annotations

from typing import Generic, TypeVar

import redis

from render_core.errors import NotFound, QueueUnavailable
from render_core.schema import TenantRecord

# Every Redis key the service writes starts with this.
PREFIX = "ar"

RecordT = TypeVar("RecordT", bound=TenantRecord)


class TenantRecords(Generic[RecordT]):
    """One JSON value per record under ``ar:{kind}:{id}``; tenants see only their own."""

    def __init__(self, client: redis.Redis, kind: str, model: type[RecordT]) -> None:
        self.redis = client
        self.kind = kind
        self.model = model

    def key(self, record_id: str) -> str:
        return f"{PREFIX}:{self.kind}:{record_id}"

    def _described(self) -> str:
        return self.kind.replace("_", " ")

    def unavailable(self, exc: redis.RedisError) -> QueueUnavailable:
        return QueueUnavailable(f"{self._described()} store unavailable: {exc}")

    def not_found(self, record_id: str) -> NotFound:
        return NotFound(f"{self._described()} {record_id} not found")

    def save(self, record: RecordT) -> None:
        try:
            self.redis.set(self.key(record.id), record.model_dump_json())
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc

    def get(self, record_id: str) -> RecordT:
        try:
            raw = self.redis.get(self.key(record_id))
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
        if raw is None:
            raise self.not_found(record_id)
        return self.model.model_validate_json(raw)

    def get_for_tenant(self, tenant: str, record_id: str) -> RecordT:
        """Another tenant's record is answered exactly like a missing one."""
        record = self.get(record_id)
        if record.tenant != tenant:
            raise self.not_found(record_id)
        return record
