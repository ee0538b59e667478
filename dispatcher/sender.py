"""One signed POST of an event to an endpoint, through the SSRF guard.

The host is resolved and checked before every delivery, and the request goes to the
checked address (Host header and TLS SNI keep the name, so certificates are verified
against it). Redirects are not followed; proxies from the environment are ignored;
the whole delivery, DNS included, has one time limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from render_core.webhook_urls import (
    Resolver,
    WebhookUrlRefused,
    checked_addresses,
    parse_webhook_url,
    system_resolver,
)
from render_core.webhooks import WebhookEndpoint

USER_AGENT = "avatar-render-webhooks/1"


@dataclass(frozen=True)
class SendResult:
    """``reason`` is the metric label: ok, http_status, redirect, timeout, connect, refused_url."""

    reason: str
    status_code: int | None = None
    error: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


def signature_headers(
    secrets: Sequence[str], message_id: str, body: str, now: datetime
) -> dict[str, str]:
    """Standard Webhooks headers; one ``v1,`` signature per secret (rotation grace)."""
    signatures = " ".join(Webhook(secret).sign(message_id, now, body) for secret in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
    }


class Sender:
    def __init__(
        self,
        timeout_s: float,
        allow_http: bool,
        allow_private: bool,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.timeout_s = timeout_s
        self.allow_http = allow_http
        self.allow_private = allow_private
        self.resolver = resolver
        # No keep-alive: a pooled connection is keyed by address, and a connection opened
        # for one host name must not carry another's request.
        self.client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, endpoint: WebhookEndpoint, message_id: str, body: str) -> SendResult:
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(
                self._send(endpoint, message_id, body), timeout=self.timeout_s
            )
        except TimeoutError:
            result = SendResult("timeout", error=f"no answer within {self.timeout_s:g} s")
        return SendResult(
            result.reason, result.status_code, result.error, time.monotonic() - started
        )

    async def _send(self, endpoint: WebhookEndpoint, message_id: str, body: str) -> SendResult:
        try:
            target = parse_webhook_url(endpoint.url, self.allow_http)
            found = await asyncio.to_thread(self.resolver, target.host, target.port)
            addresses = checked_addresses(target, self.allow_private, lambda _h, _p: found)
        except WebhookUrlRefused as exc:
            return SendResult("refused_url", error=exc.message)
        now = datetime.now(UTC)
        headers = {
            **signature_headers(endpoint.signing_secrets(now), message_id, body, now),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "host": target.host_header,
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        error = "no address answered"
        for address in addresses:
            try:
                # Streamed and never read: the answer's status is all we need, and a huge
                # body from a hostile endpoint never reaches memory.
                async with self.client.stream(
                    "POST",
                    target.url_for(address),
                    content=body,
                    headers=headers,
                    extensions=extensions,
                ) as response:
                    return _judge(response)
            except httpx.TimeoutException:
                return SendResult("timeout", error=f"no answer within {self.timeout_s:g} s")
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue  # the next checked address, if any
        return SendResult("connect", error=error)


def _judge(response: httpx.Response) -> SendResult:
    status = response.status_code
    if 200 <= status < 300:
        return SendResult("ok", status_code=status)
    if 300 <= status < 400:
        where = response.headers.get("location", "?")
        return SendResult("redirect", status_code=status, error=f"redirect to {where} not followed")
    return SendResult("http_status", status_code=status, error=f"HTTP {status}")
