"""Webhook endpoints: what a tenant registered, how each endpoint is faring, its attempts.

The API writes endpoints; the dispatcher (``dispatcher/``) reads them, delivers and
writes health, the attempt log and dead letters, all under the keys named here. Events
come from the tenant's event log through the consumer group ``GROUP``; an endpoint
receives the events written after it was registered (``since_event_id``).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Literal, cast

import redis
from pydantic import BaseModel, Field

from render_core.errors import Conflict
from render_core.event_log import START_ID, as_entries, stream_key
from render_core.records import PREFIX, TenantRecords, note_unreadable
from render_core.schema import TenantRecord, utc_now

GROUP = "webhooks"
TENANTS_KEY = f"{PREFIX}:webhooks:tenants"  # tenants with at least one endpoint
PAUSED_KEY = f"{PREFIX}:webhooks:paused"  # endpoint ids that are paused
ATTEMPT_LOG_SIZE = 1000
MAX_ENDPOINTS_PER_TENANT = 20
Outcome = Literal["delivered", "retrying", "dead"]


def endpoint_key(endpoint_id: str) -> str:
    """Where an endpoint's record lives (``TenantRecords`` of kind ``webhook``)."""
    return f"{PREFIX}:webhook:{endpoint_id}"


def tenant_webhooks_key(tenant: str) -> str:
    return f"{PREFIX}:tenant:{tenant}:webhooks"


def health_key(endpoint_id: str) -> str:
    return f"{PREFIX}:webhook:{endpoint_id}:health"


def attempts_key(endpoint_id: str) -> str:
    return f"{PREFIX}:webhook:{endpoint_id}:attempts"


def dead_key(endpoint_id: str) -> str:
    return f"{PREFIX}:webhook:{endpoint_id}:dead"


def new_secret() -> str:
    """24 random bytes, base64, with Standard Webhooks' ``whsec_`` prefix."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookEndpoint(TenantRecord):
    url: str
    events: list[str]
    secret: str
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None
    since_event_id: str = START_ID
    created_at: datetime = Field(default_factory=utc_now)

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the previous one during its grace period."""
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            return [self.secret, self.previous_secret]
        return [self.secret]


class EndpointHealth(BaseModel):
    """How an endpoint is faring, kept by the dispatcher in a hash beside the record."""

    failing_since: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_success_at: datetime | None = None
    paused_at: datetime | None = None
    paused_reason: str | None = None

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> EndpointHealth:
        return cls.model_validate({k: v for k, v in raw.items() if v != ""})


class DeliveryAttempt(BaseModel):
    """One POST of one event to one endpoint (or the decision not to make it)."""

    event_id: str
    event_type: str
    render_id: str
    attempt: int
    at: datetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0
    outcome: Outcome
    next_try_at: datetime | None = None


class WebhookStore(TenantRecords[WebhookEndpoint]):
    """The API's side: register, list, rotate, resume and delete endpoints."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client, "webhook", WebhookEndpoint)

    def create(self, tenant: str, url: str, events: list[str]) -> WebhookEndpoint:
        """Register; deliveries start with the events written after this call."""
        try:
            if int(self.redis.scard(tenant_webhooks_key(tenant))) >= MAX_ENDPOINTS_PER_TENANT:
                raise Conflict(f"a tenant may register at most {MAX_ENDPOINTS_PER_TENANT} webhooks")
            self._ensure_group(tenant)
            endpoint = WebhookEndpoint(
                id=uuid.uuid4().hex,
                tenant=tenant,
                url=url,
                events=events,
                secret=new_secret(),
                since_event_id=self._head(tenant),
            )
            pipe = self.redis.pipeline(transaction=True)
            pipe.set(self.key(endpoint.id), self.dump(endpoint))
            pipe.sadd(tenant_webhooks_key(tenant), endpoint.id)
            pipe.sadd(TENANTS_KEY, tenant)
            pipe.execute()
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
        return endpoint

    def _head(self, tenant: str) -> str:
        newest = as_entries(self.redis.xrevrange(stream_key(tenant), count=1))
        return newest[0][0] if newest else START_ID

    def _ensure_group(self, tenant: str) -> None:
        try:
            self.redis.xgroup_create(stream_key(tenant), GROUP, id="$", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def list_for_tenant(self, tenant: str) -> list[WebhookEndpoint]:
        try:
            ids = sorted(cast("set[str]", self.redis.smembers(tenant_webhooks_key(tenant))))
            raws = cast(
                "list[str | None]", self.redis.mget([self.key(i) for i in ids]) if ids else []
            )
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
        found = self.parse_many(ids, raws)
        return sorted(found, key=lambda e: e.created_at)

    def rotate_secret(self, tenant: str, endpoint_id: str, grace_s: float) -> WebhookEndpoint:
        endpoint = self.get_for_tenant(tenant, endpoint_id)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = utc_now() + timedelta(seconds=grace_s)
        endpoint.secret = new_secret()
        self.save(endpoint)
        return endpoint

    def delete(self, tenant: str, endpoint_id: str) -> None:
        self.get_for_tenant(tenant, endpoint_id)
        try:
            pipe = self.redis.pipeline(transaction=True)
            pipe.delete(
                self.key(endpoint_id),
                health_key(endpoint_id),
                attempts_key(endpoint_id),
                dead_key(endpoint_id),
            )
            pipe.srem(tenant_webhooks_key(tenant), endpoint_id)
            pipe.srem(PAUSED_KEY, endpoint_id)
            pipe.execute()
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc

    def resume(self, tenant: str, endpoint_id: str) -> WebhookEndpoint:
        """Unpause: deliveries start again with the events written after this call."""
        endpoint = self.get_for_tenant(tenant, endpoint_id)
        try:
            endpoint.since_event_id = self._head(tenant)
            pipe = self.redis.pipeline(transaction=True)
            pipe.set(self.key(endpoint_id), self.dump(endpoint))
            pipe.delete(health_key(endpoint_id))
            pipe.srem(PAUSED_KEY, endpoint_id)
            pipe.execute()
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc
        return endpoint

    def health(self, endpoint_id: str) -> EndpointHealth:
        raw = cast("dict[str, str]", self.redis.hgetall(health_key(endpoint_id)))
        return EndpointHealth.from_hash(raw)

    def dead_letters(self, endpoint_id: str) -> int:
        return int(self.redis.zcard(dead_key(endpoint_id)))

    def attempts(self, endpoint_id: str, limit: int) -> list[DeliveryAttempt]:
        raws = cast("list[str]", self.redis.lrange(attempts_key(endpoint_id), 0, limit - 1))
        attempts = []
        for raw in raws:
            try:
                attempts.append(DeliveryAttempt.model_validate_json(raw))
            except ValueError as exc:  # one bad entry must not hide the others
                note_unreadable(self.redis, attempts_key(endpoint_id), str(exc))
        return attempts
