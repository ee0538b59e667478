"""Tenant-owned records kept as JSON in Redis (characters, jobs), one value per record.

Every write checks that the record reads back as written (``dump``), so no request can
leave a value that breaks later reads. A value that does not parse anyway (written by
hand, by another version, damaged) raises ``UnreadableRecord`` for that record alone;
it is logged and noted in the hash ``ar:unreadable`` (record key: reason), which the
API's metrics count, and every loop over many records skips it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import Generic, TypeVar, cast

import redis
from pydantic import ValidationError

from render_core.errors import NotFound, QueueUnavailable, UnreadableRecord, UnstorableRecord
from render_core.schema import TenantRecord

log = logging.getLogger(__name__)

# Every Redis key the service writes starts with this.
PREFIX = "ar"
# Record keys that did not parse when read, with why and when: a hash, counted by metrics.
UNREADABLE_KEY = f"{PREFIX}:unreadable"
MAX_REASON = 300

RecordT = TypeVar("RecordT", bound=TenantRecord)


def note_unreadable(client: redis.Redis, key: str, reason: str) -> None:
    """Log an unreadable record and note it in ``ar:unreadable`` (best effort)."""
    log.error("unreadable record %s skipped: %s", key, reason)
    with suppress(redis.RedisError):
        client.hset(UNREADABLE_KEY, key, f"{time.time():.0f} {reason[:MAX_REASON]}")


def unreadable_counts(client: redis.Redis, most: int = 10_000) -> dict[str, int]:
    """Unreadable records still present, by kind (``job``, ``character``, ...); notes of
    records deleted since are dropped."""
    counts: dict[str, int] = {}
    gone: list[str] = []
    entries = cast("Iterator[tuple[str, str]]", client.hscan_iter(UNREADABLE_KEY))
    for number, (key, _) in enumerate(entries):
        if number >= most:
            break
        if not client.exists(key):
            gone.append(key)
            continue
        kind = key.split(":")[1] if key.count(":") >= 2 else "other"
        counts[kind] = counts.get(kind, 0) + 1
    if gone:
        client.hdel(UNREADABLE_KEY, *gone)
    return counts


def _first_problem(exc: ValueError) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem.get("loc", ()))
        return f"{where or 'record'}: {problem.get('msg', 'invalid')}"
    return str(exc)[:MAX_REASON]


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

    def dump(self, record: RecordT) -> str:
        """The JSON to store, once it is known to read back as the same record."""
        raw = record.model_dump_json()
        try:
            again = self.model.model_validate_json(raw)
        except ValueError as exc:
            raise UnstorableRecord(
                f"the {self._described()} would not read back: {_first_problem(exc)}"
            ) from exc
        if again != record:
            raise UnstorableRecord(f"the {self._described()} would not read back as sent")
        return raw

    def parse(self, record_id: str, raw: str | bytes) -> RecordT:
        """A stored value as a record; ``UnreadableRecord`` (noted and logged) if it is not one."""
        try:
            return self.model.model_validate_json(raw)
        except ValueError as exc:
            note_unreadable(self.redis, self.key(record_id), _first_problem(exc))
            raise UnreadableRecord(
                f"{self._described()} {record_id} cannot be read; it was logged"
            ) from exc

    def parse_many(self, ids: Iterable[str], raws: Iterable[str | bytes | None]) -> list[RecordT]:
        """The records that exist and parse, in order; unreadable ones are noted and skipped."""
        found = []
        for record_id, raw in zip(ids, raws, strict=True):
            if raw is None:
                continue
            with suppress(UnreadableRecord):
                found.append(self.parse(record_id, raw))
        return found

    def save(self, record: RecordT) -> None:
        raw = self.dump(record)
        try:
            self.redis.set(self.key(record.id), raw)
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc

    def get(self, record_id: str) -> RecordT:
        try:
            raw = self.redis.get(self.key(record_id))
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
        if raw is None:
            raise self.not_found(record_id)
        return self.parse(record_id, raw)

    def get_for_tenant(self, tenant: str, record_id: str) -> RecordT:
        """Another tenant's record is answered exactly like a missing one."""
        try:
            raw = self.redis.get(self.key(record_id))
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
        return self.of_tenant(tenant, record_id, raw)

    def of_tenant(self, tenant: str, record_id: str, raw: str | bytes | None) -> RecordT:
        """The value read at ``key(record_id)`` (in a caller's pipeline, say) as the tenant's
        record: a missing one and another tenant's are both ``NotFound``."""
        if raw is None:
            raise self.not_found(record_id)
        record = self.parse(record_id, raw)
        if record.tenant != tenant:
            raise self.not_found(record_id)
        return record
