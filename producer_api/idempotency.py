"""Idempotency keys: the same ``Idempotency-Key`` and body give the same jobs for 24 hours.

The key is claimed with SET NX before any job is created, so two concurrent requests
with one key cannot both create jobs; the claim becomes the record of the jobs made.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

import redis
from pydantic import BaseModel

from render_core.errors import Conflict, QueueUnavailable
from render_core.records import PREFIX

TTL_S = 24 * 3600
PENDING_TTL_S = 60
MAX_KEY_LENGTH = 200  # checked by the route's header parameter


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"


class _Entry(BaseModel):
    body_sha256: str
    job_ids: list[str] | None = None


def body_fingerprint(route: str, body: Any) -> str:
    canonical = json.dumps({"route": route, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _key(tenant: str, key: str) -> str:
    return f"{PREFIX}:idem:{tenant}:{hashlib.sha256(key.encode()).hexdigest()}"


class IdempotencyStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def claim(self, tenant: str, key: str, fingerprint: str) -> list[str] | None:
        """None when the caller should create the jobs; the earlier job ids to replay otherwise."""
        entry = _Entry(body_sha256=fingerprint)
        try:
            if self.redis.set(
                _key(tenant, key), entry.model_dump_json(), nx=True, ex=PENDING_TTL_S
            ):
                return None
            raw = cast("str | None", self.redis.get(_key(tenant, key)))
        except redis.RedisError as exc:
            raise QueueUnavailable(f"idempotency store unavailable: {exc}") from exc
        if raw is None:  # expired between the two calls: claim again
            return self.claim(tenant, key, fingerprint)
        earlier = _Entry.model_validate_json(raw)
        if earlier.body_sha256 != fingerprint:
            raise IdempotencyConflict("this Idempotency-Key was used with a different request")
        if earlier.job_ids is None:
            raise IdempotencyInProgress(
                "a request with this Idempotency-Key is still being handled"
            )
        return earlier.job_ids

    def complete(self, tenant: str, key: str, fingerprint: str, job_ids: list[str]) -> None:
        entry = _Entry(body_sha256=fingerprint, job_ids=job_ids)
        self.redis.set(_key(tenant, key), entry.model_dump_json(), ex=TTL_S)

    def release(self, tenant: str, key: str) -> None:
        """The request failed before creating jobs: the key may be used again."""
        self.redis.delete(_key(tenant, key))
