"""``verify_webhook`` agrees with the ``standardwebhooks`` package: what it signs we accept,
whatever it would refuse we refuse (tampered body, wrong secret, stale or future
timestamp, missing headers), with the SDK's own error class."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from avatar_render_client import AvatarRenderError, WebhookVerificationError, verify_webhook
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as StandardRefusal


def _secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def _event(event_id: str = "1764403200123-0") -> bytes:
    body = {
        "id": event_id,
        "type": "render.succeeded",
        "time": "2026-11-29T08:00:00.123456+00:00",
        "render_id": "3f9d",
        "data": {"attempt": 1, "manifest_key": "renders/3f9d/1/manifest.json", "note": "é"},
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _signed(
    body: bytes, *secrets: str, at: datetime | None = None, msg_id: str = "1764403200123-0"
) -> dict[str, str]:
    """Headers as a Standard Webhooks sender makes them (one signature per secret)."""
    when = at or datetime.now(UTC)
    signatures = " ".join(Webhook(s).sign(msg_id, when, body.decode()) for s in secrets)
    return {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(int(when.timestamp())),
        "Webhook-Signature": signatures,
    }


def test_what_standardwebhooks_signs_is_accepted_and_parsed() -> None:
    secret, body = _secret(), _event()
    headers = _signed(body, secret)
    event = verify_webhook(body, headers, secret)
    assert Webhook(secret).verify(body, headers) == json.loads(body)  # the reference agrees
    assert (event.id, event.type, event.render_id) == (
        "1764403200123-0",
        "render.succeeded",
        "3f9d",
    )
    assert event.data["note"] == "é" and event.is_terminal
    assert verify_webhook(body.decode(), headers, secret) == event  # str bodies too
    # A rotation: two signatures while the old secret's grace lasts; either secret works.
    old, new = _secret(), _secret()
    rotated = _signed(body, new, old)
    assert verify_webhook(body, rotated, old) == verify_webhook(body, rotated, [_secret(), new])
    # Unknown versions and garbage among the signatures are skipped, not fatal.
    noisy = dict(headers, **{"Webhook-Signature": "v2,abc v1,!!! " + headers["Webhook-Signature"]})
    assert verify_webhook(body, noisy, secret) == event
    # A secret printed without its base64 padding is the same key.
    padded = "whsec_" + base64.b64encode(os.urandom(25)).decode()
    assert padded.endswith("==")
    assert verify_webhook(body, _signed(body, padded), padded.rstrip("=")) == event


def _refused(body: bytes, headers: dict[str, str], secret: str) -> str:
    with pytest.raises(StandardRefusal):
        Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(body, headers, secret)
    assert isinstance(caught.value, AvatarRenderError)
    return caught.value.message


def test_what_standardwebhooks_refuses_is_refused() -> None:
    secret, body = _secret(), _event()
    headers = _signed(body, secret)
    tampered = body.replace(b'"attempt":1', b'"attempt":2')
    assert "no signature" in _refused(tampered, headers, secret)
    assert "no signature" in _refused(body, headers, _secret())
    other_id = dict(headers, **{"Webhook-Id": "1764403200124-0"})
    assert "no signature" in _refused(body, other_id, secret)
    now = datetime.now(UTC)
    stale = _signed(body, secret, at=now - timedelta(minutes=6))
    assert "old" in _refused(body, stale, secret)
    future = _signed(body, secret, at=now + timedelta(minutes=6))
    assert "future" in _refused(body, future, secret)
    # Within the 5 minutes, both accept; a stale delivery checks out at its own time.
    assert verify_webhook(body, _signed(body, secret, at=now - timedelta(minutes=4)), secret)
    sent_at = int(stale["Webhook-Timestamp"])
    assert verify_webhook(body, stale, secret, now=sent_at + 1).id == "1764403200123-0"
    for missing in ("Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"):
        without = {k: v for k, v in headers.items() if k != missing}
        assert "missing" in _refused(body, without, secret)
    with pytest.raises(WebhookVerificationError, match="unix seconds"):
        verify_webhook(body, dict(headers, **{"Webhook-Timestamp": "soon"}), secret)


def test_a_signed_body_that_is_not_an_event_and_bad_secrets() -> None:
    secret = _secret()
    with pytest.raises(WebhookVerificationError, match="not an event"):
        verify_webhook(b'{"hello": 1}', _signed(b'{"hello": 1}', secret), secret)
    with pytest.raises(ValueError, match="base64"):
        verify_webhook(_event(), _signed(_event(), secret), "whsec_not base64!")
    with pytest.raises(ValueError, match="no webhook secret"):
        verify_webhook(_event(), _signed(_event(), secret), [])
