"""Webhook endpoints as the API shows them, and ``verify_webhook`` for the receiving side.

Deliveries are signed as Standard Webhooks (https://www.standardwebhooks.com/) do it:
``webhook-signature`` holds space-separated ``v1,<base64 HMAC-SHA256>`` signatures of
``{webhook-id}.{webhook-timestamp}.{body}``, keyed with the base64 after ``whsec_``.
Verifying takes the standard library only, so the client keeps its two dependencies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import ValidationError

from avatar_render_client.client_errors import WebhookVerificationError
from avatar_render_client.events import Event
from avatar_render_client.models import WebhookCreated, _Response

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "Webhook",
    "WebhookCreated",
    "WebhookDelivery",
    "WebhookVerificationError",
    "verify_webhook",
]

#: How far a delivery's timestamp may be from now: the standard's 5 minutes, which
#: bounds how long a captured delivery can be replayed.
DEFAULT_TOLERANCE_S = 5 * 60
_SECRET_PREFIX = "whsec_"


class Webhook(_Response):
    """A registered endpoint and how it is faring (``list_webhooks``, ``resume_webhook``)."""

    id: str
    url: str
    events: list[str]
    created_at: datetime
    #: ``active`` or ``paused`` (a str: a newer server may add states).
    status: str
    paused_at: datetime | None = None
    paused_reason: str | None = None
    failing_since: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_success_at: datetime | None = None
    #: Deliveries given up after the retry period (kept 7 days).
    dead_letters: int = 0
    previous_secret_expires_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return self.status == "paused"


class WebhookDelivery(_Response):
    """One POST of one event to an endpoint (``webhook_deliveries``, newest first)."""

    event_id: str
    event_type: str
    render_id: str
    attempt: int
    at: datetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0
    #: ``delivered``, ``retrying`` or ``dead`` (dead-lettered after the retry period).
    outcome: str
    next_try_at: datetime | None = None


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(_SECRET_PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def _signatures(header: str) -> list[bytes]:
    """The ``v1`` signatures of the header, decoded (others, and garbage, are skipped)."""
    found = []
    for item in header.split(" "):
        version, _, value = item.partition(",")
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def verify_webhook(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> Event:
    """The delivered event, once the signature and timestamp check out.

    ``payload`` must be the body exactly as received (before any JSON parsing);
    ``headers`` any mapping (names are matched case-insensitively). Give several
    ``secret`` values while a rotated secret's grace period lasts: one match is enough.
    Raises ``WebhookVerificationError``; the ``webhook-id`` (the event id) is the same on
    every retry of a delivery, so deduplicate on it.
    """
    keys = [_key(secret)] if isinstance(secret, str) else [_key(s) for s in secret]
    if not keys:
        raise ValueError("no webhook secret given")
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id", "")
    timestamp = lowered.get("webhook-timestamp", "")
    signature = lowered.get("webhook-signature", "")
    if not (message_id and timestamp and signature):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise WebhookVerificationError(f"webhook-timestamp {timestamp[:40]!r} is not unix seconds")
    skew = int(timestamp) - (time.time() if now is None else now)
    if skew < -tolerance_s:
        raise WebhookVerificationError(f"webhook-timestamp is {-skew:.0f} s old (replayed?)")
    if skew > tolerance_s:
        raise WebhookVerificationError(f"webhook-timestamp is {skew:.0f} s in the future")
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = [hmac.new(key, signed, hashlib.sha256).digest() for key in keys]
    given = _signatures(signature)
    # Every pair compared in constant time, none skipped.
    matches = [hmac.compare_digest(e, g) for e in expected for g in given]
    if not any(matches):
        raise WebhookVerificationError("no signature matches the secret")
    try:
        return Event.model_validate_json(body)
    except ValidationError as exc:
        raise WebhookVerificationError(f"the signed body is not an event: {exc}") from None
