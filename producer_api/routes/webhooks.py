"""Webhook endpoints: register, list, delete, rotate the secret, resume, see the attempts.

The secret (``whsec_...``) is shown once, in the answer to the registration or the
rotation. URLs pass the SSRF guard here and again before every delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from producer_api.auth import Tenant
from producer_api.errors import ERROR_RESPONSES, error_responses
from producer_api.services import ApiServices, Services
from render_core.event_log import EventType
from render_core.webhook_urls import check_webhook_url
from render_core.webhooks import DeliveryAttempt, WebhookEndpoint

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=ERROR_RESPONSES)


class WebhookRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/avatar-render",
                    "events": ["render.succeeded", "render.failed"],
                }
            ]
        },
    )

    url: str = Field(max_length=2048, description="https:// URL on a public address.")
    events: list[EventType] = Field(
        default_factory=lambda: list(EventType),
        min_length=1,
        max_length=len(EventType),
        description="Event types to deliver (default: all).",
    )


class WebhookCreated(BaseModel):
    """The only answer that shows the secret: keep it to verify signatures."""

    id: str
    url: str
    events: list[str]
    secret: str
    previous_secret_expires_at: datetime | None = None


class WebhookView(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime
    status: Literal["active", "paused"]
    paused_at: datetime | None
    paused_reason: str | None = Field(description="Why deliveries stopped; resume to restart.")
    failing_since: datetime | None
    consecutive_failures: int
    last_error: str | None
    last_success_at: datetime | None
    dead_letters: int = Field(description="Deliveries given up after the retry period.")
    previous_secret_expires_at: datetime | None


class WebhookList(BaseModel):
    webhooks: list[WebhookView]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryAttempt]


def _created(endpoint: WebhookEndpoint) -> WebhookCreated:
    return WebhookCreated(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.events,
        secret=endpoint.secret,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


def _view(services: ApiServices, endpoint: WebhookEndpoint) -> WebhookView:
    health = services.webhooks.health(endpoint.id)
    return WebhookView(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.events,
        created_at=endpoint.created_at,
        status="paused" if health.paused_at else "active",
        paused_at=health.paused_at,
        paused_reason=health.paused_reason,
        failing_since=health.failing_since,
        consecutive_failures=health.consecutive_failures,
        last_error=health.last_error,
        last_success_at=health.last_success_at,
        dead_letters=services.webhooks.dead_letters(endpoint.id),
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a webhook endpoint",
    responses=error_responses(400),
)
def create_webhook(services: Services, tenant: Tenant, body: WebhookRequest) -> WebhookCreated:
    settings = services.settings
    check_webhook_url(body.url, settings.webhook_allow_http, settings.webhook_allow_private_urls)
    events = list(dict.fromkeys(e.value for e in body.events))
    return _created(services.webhooks.create(tenant, body.url, events))


@router.get("", summary="The tenant's webhook endpoints and how each is faring")
def list_webhooks(services: Services, tenant: Tenant) -> WebhookList:
    endpoints = services.webhooks.list_for_tenant(tenant)
    return WebhookList(webhooks=[_view(services, e) for e in endpoints])


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an endpoint",
    responses=error_responses(404),
)
def delete_webhook(services: Services, tenant: Tenant, webhook_id: str) -> Response:
    services.webhooks.delete(tenant, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhook_id}/rotate-secret",
    summary="A new secret; the old one signs a while",
    responses=error_responses(404),
)
def rotate_secret(services: Services, tenant: Tenant, webhook_id: str) -> WebhookCreated:
    grace = services.settings.webhook_secret_grace_s
    return _created(services.webhooks.rotate_secret(tenant, webhook_id, grace))


@router.post(
    "/{webhook_id}/resume",
    summary="Resume a paused endpoint with the next event",
    responses=error_responses(404),
)
def resume_webhook(services: Services, tenant: Tenant, webhook_id: str) -> WebhookView:
    return _view(services, services.webhooks.resume(tenant, webhook_id))


@router.get(
    "/{webhook_id}/deliveries",
    summary="Recent delivery attempts, newest first",
    responses=error_responses(404),
)
def list_deliveries(
    services: Services,
    tenant: Tenant,
    webhook_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    services.webhooks.get_for_tenant(tenant, webhook_id)
    return DeliveryList(deliveries=services.webhooks.attempts(webhook_id, limit))
