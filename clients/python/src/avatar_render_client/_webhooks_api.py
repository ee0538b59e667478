"""Webhook management (``/v1/webhooks``): the operations once, and the methods of both
clients as mixins, so the client modules stay about renders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from pydantic import TypeAdapter

from avatar_render_client._core import ClientCore, _segment
from avatar_render_client._steps import Call, Op
from avatar_render_client.webhooks import Webhook, WebhookCreated, WebhookDelivery

T = TypeVar("T")
_WEBHOOKS = TypeAdapter(list[Webhook])
_DELIVERIES = TypeAdapter(list[WebhookDelivery])


class WebhookOps:
    def __init__(self, core: ClientCore) -> None:
        self.core = core

    def _path(self, webhook_id: str, *rest: str) -> str:
        return self.core.url("v1", "webhooks", _segment(webhook_id), *rest)

    def create(self, url: str, events: Sequence[str] | None) -> Op[WebhookCreated]:
        body = {"url": url} if events is None else {"url": url, "events": [str(e) for e in events]}
        call = Call("POST", self.core.url("v1", "webhooks"), json=body)
        return self.core._model(WebhookCreated, call)

    def list_all(self) -> Op[list[Webhook]]:
        call = Call("GET", self.core.url("v1", "webhooks"), idempotent=True)
        response = yield from self.core.send(call)
        return _WEBHOOKS.validate_python(response.json()["webhooks"])

    def delete(self, webhook_id: str) -> Op[None]:
        # Not retried after a broken connection: a second DELETE of a deleted one is a 404.
        yield from self.core.send(Call("DELETE", self._path(webhook_id)))

    def rotate_secret(self, webhook_id: str) -> Op[WebhookCreated]:
        call = Call("POST", self._path(webhook_id, "rotate-secret"))
        return self.core._model(WebhookCreated, call)

    def resume(self, webhook_id: str) -> Op[Webhook]:
        call = Call("POST", self._path(webhook_id, "resume"), idempotent=True)
        return self.core._model(Webhook, call)

    def deliveries(self, webhook_id: str, limit: int) -> Op[list[WebhookDelivery]]:
        call = Call(
            "GET", self._path(webhook_id, "deliveries"), params={"limit": limit}, idempotent=True
        )
        response = yield from self.core.send(call)
        return _DELIVERIES.validate_python(response.json()["deliveries"])


class WebhookMethods:
    """The blocking client's webhook methods."""

    _webhooks: WebhookOps

    def _run(self, op: Op[T]) -> T:
        raise NotImplementedError

    def create_webhook(self, url: str, events: Sequence[str] | None = None) -> WebhookCreated:
        """Register an endpoint for these event types (default: all) for the events written
        from now on; keep the returned ``secret``: it is shown only here and in
        ``rotate_webhook_secret``, and ``verify_webhook`` needs it."""
        return self._run(self._webhooks.create(url, events))

    def list_webhooks(self) -> list[Webhook]:
        """The tenant's endpoints, each with its health (``status``, ``last_error``...)."""
        return self._run(self._webhooks.list_all())

    def delete_webhook(self, webhook_id: str) -> None:
        """Stop deliveries to the endpoint and forget it (``NotFound`` if unknown)."""
        self._run(self._webhooks.delete(webhook_id))

    def rotate_webhook_secret(self, webhook_id: str) -> WebhookCreated:
        """A new secret; the old one also signs until ``previous_secret_expires_at``, so
        receivers can switch without losing a delivery."""
        return self._run(self._webhooks.rotate_secret(webhook_id))

    def resume_webhook(self, webhook_id: str) -> Webhook:
        """Restart a paused endpoint; it gets the events written from now on."""
        return self._run(self._webhooks.resume(webhook_id))

    def webhook_deliveries(self, webhook_id: str, *, limit: int = 100) -> list[WebhookDelivery]:
        """Recent delivery attempts, newest first (1 to 1000)."""
        return self._run(self._webhooks.deliveries(webhook_id, limit))


class AsyncWebhookMethods:
    """The asyncio client's webhook methods: the same, awaited."""

    _webhooks: WebhookOps

    async def _run(self, op: Op[T]) -> T:
        raise NotImplementedError

    async def create_webhook(self, url: str, events: Sequence[str] | None = None) -> WebhookCreated:
        """Register an endpoint for these event types (default: all); keep the ``secret``."""
        return await self._run(self._webhooks.create(url, events))

    async def list_webhooks(self) -> list[Webhook]:
        return await self._run(self._webhooks.list_all())

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._run(self._webhooks.delete(webhook_id))

    async def rotate_webhook_secret(self, webhook_id: str) -> WebhookCreated:
        """A new secret; the old one also signs until ``previous_secret_expires_at``."""
        return await self._run(self._webhooks.rotate_secret(webhook_id))

    async def resume_webhook(self, webhook_id: str) -> Webhook:
        return await self._run(self._webhooks.resume(webhook_id))

    async def webhook_deliveries(
        self, webhook_id: str, *, limit: int = 100
    ) -> list[WebhookDelivery]:
        return await self._run(self._webhooks.deliveries(webhook_id, limit))
