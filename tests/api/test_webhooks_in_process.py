"""Webhook endpoints through the real app in this process (fast tier): the SSRF guard at
registration, the secret shown once, rotation, tenants apart, pausing as the API shows it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis.asyncio as aredis

from dispatcher.outbox import Delivery, Outbox, Policy
from render_core.event_log import Event
from render_core.schema import utc_now
from render_core.settings import Settings
from tests.api.conftest import KEY_B, ClientFactory

pytestmark = pytest.mark.anyio

# A public address literal: accepted without DNS (this machine has none for the internet).
PUBLIC = "https://93.184.216.34/hooks/avatar"

REFUSED = {
    "loopback": "https://127.0.0.1/hook",
    "ten-slash-eight": "https://10.1.2.3/hook",
    "metadata-service": "https://169.254.169.254/latest/meta-data/",
    "ipv6-loopback": "https://[::1]/hook",
    "localhost-name": "https://localhost:8443/hook",
    "unspecified": "https://0.0.0.0/hook",
    "mapped-loopback": "https://[::ffff:127.0.0.1]/hook",
    "shared-cgnat": "https://100.64.1.1/hook",
    "private-192": "https://192.168.1.10:8443/hook",
    "private-172": "https://172.16.0.5/hook",
    "unique-local-v6": "https://[fd00::1]/hook",
    "http-not-allowed": "http://93.184.216.34/hook",
    "other-scheme": "ftp://93.184.216.34/hook",
    "credentials": "https://user:pw@93.184.216.34/hook",
    "no-host": "https:///hook",
}


async def register(client: httpx.AsyncClient, url: str = PUBLIC, **body: Any) -> httpx.Response:
    return await client.post("/v1/webhooks", json={"url": url, **body})


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_urls_that_could_reach_private_hosts_are_refused(
    client: httpx.AsyncClient, case: str
) -> None:
    response = await register(client, REFUSED[case])
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "webhook_url_refused"
    assert (await client.get("/v1/webhooks")).json() == {"webhooks": []}


async def test_register_list_rotate_delete(client: httpx.AsyncClient) -> None:
    created = await register(client, events=["render.succeeded", "render.failed"])
    assert created.status_code == 201
    hook = created.json()
    assert set(hook) == {"id", "url", "events", "secret", "previous_secret_expires_at"}
    assert hook["secret"].startswith("whsec_") and hook["url"] == PUBLIC
    assert hook["events"] == ["render.succeeded", "render.failed"]
    listed = (await client.get("/v1/webhooks")).json()["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0] and listed[0]["status"] == "active"
    assert listed[0]["dead_letters"] == 0 and listed[0]["consecutive_failures"] == 0
    rotated = (await client.post(f"/v1/webhooks/{hook['id']}/rotate-secret")).json()
    assert rotated["secret"] != hook["secret"] and rotated["previous_secret_expires_at"]
    assert (await client.get(f"/v1/webhooks/{hook['id']}/deliveries")).json() == {"deliveries": []}
    assert (await client.delete(f"/v1/webhooks/{hook['id']}")).status_code == 204
    assert (await client.delete(f"/v1/webhooks/{hook['id']}")).status_code == 404
    everything = (await register(client)).json()
    assert len(everything["events"]) == 7  # no list given: every event type


async def test_unknown_event_types_are_refused(client: httpx.AsyncClient) -> None:
    response = await register(client, events=["render.exploded"])
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


async def test_tenants_never_see_each_others_webhooks(
    client: httpx.AsyncClient, client_for: ClientFactory
) -> None:
    hook = (await register(client)).json()
    async with client_for(KEY_B) as other:
        assert (await other.get("/v1/webhooks")).json() == {"webhooks": []}
        for method, path in [
            ("DELETE", ""),
            ("POST", "/rotate-secret"),
            ("POST", "/resume"),
            ("GET", "/deliveries"),
        ]:
            response = await other.request(method, f"/v1/webhooks/{hook['id']}{path}")
            assert response.status_code == 404
    assert len((await client.get("/v1/webhooks")).json()["webhooks"]) == 1


async def test_an_endpoint_failing_too_long_is_paused_and_says_why(
    client: httpx.AsyncClient, api_settings: Settings
) -> None:
    hook = (await register(client)).json()
    connection = aredis.Redis.from_url(api_settings.redis_url, decode_responses=True)
    policy = Policy(retry_for_s=0.0, backoff_s=1, backoff_max_s=1, pause_after_s=0, lease_s=5)
    outbox = Outbox(connection, policy)
    event = Event(id="1-0", type="render.failed", time=utc_now(), render_id="r", data={})
    delivery = Delivery("m", "tenant-a", hook["id"], event, "{}", 1, first_try_at=0.0)
    assert await outbox.failed(delivery, 503, "HTTP 503", 0.1)  # past the retry period: dead
    reason = await outbox.pause_if_failing(hook["id"])
    await connection.aclose()
    assert reason is not None and "HTTP 503" in reason
    (view,) = (await client.get("/v1/webhooks")).json()["webhooks"]
    assert view["status"] == "paused" and view["paused_reason"] == reason
    assert view["dead_letters"] == 1 and view["last_error"] == "HTTP 503"
    (attempt,) = (await client.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["deliveries"]
    assert attempt["outcome"] == "dead" and attempt["status_code"] == 503
    resumed = await client.post(f"/v1/webhooks/{hook['id']}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
