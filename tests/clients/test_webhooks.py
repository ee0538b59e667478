"""Webhook management through the SDK, and ``verify_webhook`` on real deliveries: the
dispatcher signs, a loopback receiver records, the SDK verifies (and refuses a tampered
body, a wrong secret, a stale timestamp)."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from avatar_render_client import (
    AvatarRenderClient,
    EventType,
    NotFound,
    WebhookUrlRefused,
    WebhookVerificationError,
    verify_webhook,
)
from standardwebhooks import Webhook as StandardWebhook

from render_cli.processes import wait_until
from tests.clients.conftest import SMALL
from tests.conftest import SAMPLE_PORTRAIT
from tests.stack import Stack
from tests.webhook_receiver import Received, Receiver

pytestmark = pytest.mark.integration

ClientFor = Callable[[str], AvatarRenderClient]


def _delivered(receiver: Receiver, render_id: str, count: int = 1) -> list[Received]:
    def done() -> bool:
        return len(_of(receiver, render_id)) >= count

    wait_until(done, 30, f"{count} deliveries of render {render_id}")
    return _of(receiver, render_id)


def _of(receiver: Receiver, render_id: str) -> list[Received]:
    return [r for r in receiver.all() if r.status == 200 and r.event["render_id"] == render_id]


def test_webhook_crud(dispatcher: Stack, client_for: ClientFor) -> None:
    client = client_for("hooks")
    with Receiver() as receiver, Receiver() as other:
        created = client.create_webhook(receiver.url, [EventType.succeeded])
        assert created.secret.startswith("whsec_") and created.events == ["render.succeeded"]
        everything = client.create_webhook(other.url)  # all types by default
        assert set(everything.events) >= {"render.queued", "render.progress", "render.retried"}

        listed = {w.id: w for w in client.list_webhooks()}
        assert listed.keys() == {created.id, everything.id}
        hook = listed[created.id]
        assert (hook.url, hook.status, hook.paused, hook.dead_letters) == (
            receiver.url,
            "active",
            False,
            0,
        )

        character = client.register_character(SAMPLE_PORTRAIT)
        job = client.render(character.id, "happy", **SMALL)
        _delivered(receiver, job.id)
        # The attempt is logged once the receiver's answer is in: wait for it.
        wait_until(lambda: bool(client.webhook_deliveries(created.id)), 10, "the attempt log")
        deliveries = client.webhook_deliveries(created.id, limit=10)
        assert [(d.event_type, d.render_id, d.outcome) for d in deliveries] == [
            ("render.succeeded", job.id, "delivered")
        ]
        assert deliveries[0].status_code == 200 and deliveries[0].attempt == 1
        assert client.list_webhooks()[0].last_success_at is not None

        rotated = client.rotate_webhook_secret(created.id)
        assert rotated.secret != created.secret and rotated.previous_secret_expires_at
        resumed = client.resume_webhook(created.id)
        assert resumed.id == created.id and resumed.status == "active"

        client.delete_webhook(everything.id)
        assert [w.id for w in client.list_webhooks()] == [created.id]
        with pytest.raises(NotFound):
            client.delete_webhook(everything.id)
        with pytest.raises(NotFound):
            client.webhook_deliveries(everything.id)
        client.delete_webhook(created.id)
    with pytest.raises(WebhookUrlRefused):
        client.create_webhook("ftp://example.com/hooks")


def test_verify_webhook_accepts_a_real_delivery_and_refuses_forgeries(
    dispatcher: Stack, client_for: ClientFor
) -> None:
    client = client_for("signed")
    with Receiver() as receiver:
        hook = client.create_webhook(receiver.url, ["render.succeeded"])
        character = client.register_character(SAMPLE_PORTRAIT)
        job = client.render(character.id, "sad", **SMALL)
        [delivery] = _delivered(receiver, job.id)

        event = verify_webhook(delivery.body, delivery.headers, hook.secret)
        assert delivery.verify(hook.secret)["id"] == event.id  # the reference agrees
        assert (event.type, event.render_id, event.id) == (
            EventType.succeeded,
            job.id,
            delivery.headers["webhook-id"],
        )
        assert event.data["manifest_key"] == client.get_job(job.id).manifest_key

        tampered = delivery.body.replace(job.id.encode(), b"0" * len(job.id))
        with pytest.raises(WebhookVerificationError, match="no signature"):
            verify_webhook(tampered, delivery.headers, hook.secret)
        wrong = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        with pytest.raises(WebhookVerificationError, match="no signature"):
            verify_webhook(delivery.body, delivery.headers, wrong)
        sent_at = int(delivery.headers["webhook-timestamp"])
        with pytest.raises(WebhookVerificationError, match="old"):
            verify_webhook(delivery.body, delivery.headers, hook.secret, now=sent_at + 301)
        # The same delivery re-stamped 10 minutes ago by a holder of the secret: stale.
        stale = sent_at - 600
        forged = dict(delivery.headers)
        forged["webhook-timestamp"] = str(stale)
        forged["webhook-signature"] = StandardWebhook(hook.secret).sign(
            forged["webhook-id"], datetime.fromtimestamp(stale, UTC), delivery.body.decode()
        )
        with pytest.raises(WebhookVerificationError, match="old"):
            verify_webhook(delivery.body, forged, hook.secret)

        # After a rotation each delivery carries both signatures while the grace lasts.
        rotated = client.rotate_webhook_secret(hook.id)
        second = client.render(character.id, "neutral", **SMALL)
        [after] = _delivered(receiver, second.id)
        assert len(after.headers["webhook-signature"].split(" ")) == 2
        for secret in (rotated.secret, hook.secret, [wrong, rotated.secret]):
            assert verify_webhook(after.body, after.headers, secret).render_id == second.id
        client.delete_webhook(hook.id)
