"""The SSRF guard and the sender: which addresses are public, names checked through a
test resolver, the check repeated at delivery (DNS rebinding), and the connection made
to the checked address with the name kept in Host."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from dispatcher.sender import Sender, SendResult, signature_headers
from render_core.webhook_urls import WebhookUrlRefused, check_webhook_url, is_public
from render_core.webhooks import WebhookEndpoint, new_secret
from tests.webhook_receiver import Receiver


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1::1", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd12:3456::1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
    ],
)
def test_only_global_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


class FlippingResolver:
    """A name that resolves to a public address first, then to loopback (rebinding)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return [self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]]


def test_a_name_mapped_to_loopback_is_refused() -> None:
    with pytest.raises(WebhookUrlRefused, match="non-public address"):
        check_webhook_url(
            "https://hooks.example.test/x", False, False, FlippingResolver("127.0.0.1")
        )
    target, addresses = check_webhook_url(
        "https://hooks.example.test/x?a=1", False, False, FlippingResolver("93.184.216.34")
    )
    assert addresses == ["93.184.216.34"] and target.path == "/x?a=1"
    assert target.url_for("93.184.216.34") == "https://93.184.216.34:443/x?a=1"


def _endpoint(url: str) -> WebhookEndpoint:
    return WebhookEndpoint(id="e", tenant="t", url=url, events=[], secret=new_secret())


def _send(sender: Sender, endpoint: WebhookEndpoint) -> SendResult:
    async def run() -> SendResult:
        try:
            return await sender.send(endpoint, "1-0", '{"id":"1-0"}')
        finally:
            await sender.close()

    return asyncio.run(run())


def test_the_check_is_repeated_at_delivery_so_rebinding_is_refused() -> None:
    with Receiver() as receiver:
        url = f"http://rebind.example.test:{receiver.port}/hooks"
        resolver = FlippingResolver("93.184.216.34", "127.0.0.1")
        check_webhook_url(url, True, False, resolver)  # registration: public, accepted
        result = _send(Sender(2.0, True, False, resolver), _endpoint(url))
        assert result.reason == "refused_url" and "127.0.0.1" in (result.error or "")
        assert receiver.all() == []  # no connection was made


def test_delivery_connects_to_the_checked_address_and_keeps_the_name() -> None:
    with Receiver() as receiver:
        # The name exists nowhere but in the resolver: an answer proves the connection
        # went to the address that was checked.
        url = f"http://hooks.example.test:{receiver.port}/hooks"
        endpoint = _endpoint(url)
        result = _send(Sender(2.0, True, True, FlippingResolver("127.0.0.1")), endpoint)
        assert result.ok and result.status_code == 200
        (request,) = receiver.all()
        assert request.headers["host"] == f"hooks.example.test:{receiver.port}"
        assert request.verify(endpoint.secret) == {"id": "1-0"}


def test_unanswered_deliveries_time_out_and_redirects_are_not_followed() -> None:
    with Receiver(delay_s=1.0) as slow, Receiver() as target:
        result = _send(Sender(0.3, True, True), _endpoint(slow.url))
        assert result.reason == "timeout" and result.duration_s < 0.9
        with Receiver(redirect_to=target.url) as redirecting:
            result = _send(Sender(2.0, True, True), _endpoint(redirecting.url))
        assert result.reason == "redirect" and result.status_code == 302
        assert target.all() == []


def test_both_secrets_sign_during_a_rotation() -> None:
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)
    headers = signature_headers([new, old], "1718000000000-0", '{"a":1}', now)
    assert headers["webhook-id"] == "1718000000000-0"
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify('{"a":1}', headers) == {"a": 1}
