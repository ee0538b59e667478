"""Webhooks with real processes: uvicorn, a mock Celery worker, the dispatcher
(``avatar-render webhooks``), Redis, and HTTP receivers on loopback.

Every delivery is signed (standardwebhooks verifies it), retried with backoff until the
receiver takes it, survives a SIGKILL of the dispatcher, and reaches only its tenant."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from dispatcher.outbox import DUE_KEY
from render_cli.local_redis import LocalRedis, free_port
from render_cli.processes import wait_until
from render_core.event_log import as_entries, parse_entry, stream_key
from tests.stack import CLI, Stack, register_portrait, running_stack, wait_for_job
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.integration

KEY_A, KEY_B = "key-a-hooks-0001", "key-b-hooks-0002"
SMALL = {"emotion": "happy", "size": 256, "duration_ms": 400, "fps": 10}
METRICS_PORT = free_port()
WEBHOOK_SETTINGS = {
    "webhook_allow_http": "true",
    "webhook_allow_private_urls": "true",  # the receivers are on loopback
    "webhook_timeout_s": "2",
    "webhook_backoff_s": "0.2",
    "webhook_backoff_max_s": "1",
    "webhook_retry_for_s": "120",
    "webhook_pause_after_s": "120",
}


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("hooks")
    with running_stack(
        redis_server.url,
        root,
        api_keys=f"tenant-a:{KEY_A},tenant-b:{KEY_B}",
        **WEBHOOK_SETTINGS,
    ) as s:
        s.start_worker("hooks-mock")
        s.start_api()
        s.start_dispatcher("d1", webhook_metrics_port=str(METRICS_PORT))
        yield s


@pytest.fixture(autouse=True)
def no_webhooks_left(stack: Stack) -> Iterator[None]:
    """Each test leaves no webhook behind, passed or failed: one left pointing at a closed
    receiver would keep retrying, and the next tests would see it and its deliveries."""
    yield
    for key in (KEY_A, KEY_B):
        with _client(stack, key) as client:
            for hook in client.get("/v1/webhooks").json()["webhooks"]:
                client.delete(f"/v1/webhooks/{hook['id']}")


def _client(stack: Stack, key: str = KEY_A) -> httpx.Client:
    return httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30.0
    )


def _register(client: httpx.Client, url: str, events: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url} | ({"events": events} if events else {})
    response = client.post("/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["secret"].startswith("whsec_")
    return created


def _submit(client: httpx.Client, character: dict[str, Any], count: int = 1) -> list[str]:
    ids = []
    for _ in range(count):
        # each one renders (its events are the point): never a cache hit of the one before
        body = {"character_id": character["id"], **SMALL, "cache": False}
        response = client.post("/v1/renders", json=body)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


def _event_ids(stack: Stack, tenant: str, render_ids: list[str], types: set[str] | None = None):
    client = redis.Redis.from_url(stack.settings.redis_url, decode_responses=True)
    rows = as_entries(client.xrange(stream_key(tenant)))
    client.close()
    events = [parse_entry(i, f) for i, f in rows]
    return {
        e.id for e in events if e.render_id in render_ids and (types is None or e.type in types)
    }


def _metrics(text: str) -> dict[str, float]:
    """Prometheus text as {series: value}."""
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def _deliveries(client: httpx.Client, webhook_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/webhooks/{webhook_id}/deliveries", params={"limit": 1000})
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()["deliveries"]
    return result


def test_a_receiver_down_for_20_s_gets_every_delivery_signed(stack: Stack) -> None:
    receiver = Receiver()  # not started: connections are refused
    with _client(stack) as client:
        hook = _register(client, receiver.url)
        down_since = time.monotonic()
        character = register_portrait(client)
        jobs = _submit(client, character, 3)
        for job in jobs:
            assert wait_for_job(client, job)["status"] == "succeeded"
        expected = _event_ids(stack, "tenant-a", jobs)
        assert len(expected) >= 12  # queued, started, progress, succeeded for each
        time.sleep(max(0.0, 20.0 - (time.monotonic() - down_since)))
        failing = client.get("/v1/webhooks").json()["webhooks"][0]
        assert failing["consecutive_failures"] > 0 and failing["failing_since"]
        assert "ConnectError" in (failing["last_error"] or "")
        with receiver:
            wait_until(lambda: expected <= receiver.delivered_ids(), 30, "every delivery")
            got = receiver.all()
    for request in got:
        event = request.verify(hook["secret"])  # signature and timestamp
        assert event["id"] == request.id and event["type"].startswith("render.")
    assert {r.id for r in got} == expected  # nothing for events before registration
    with _client(stack) as client:
        attempts = _deliveries(client, hook["id"])
        assert {a["event_id"] for a in attempts if a["outcome"] == "delivered"} == expected
        retried = [a for a in attempts if a["outcome"] == "retrying"]
        assert retried and all(a["next_try_at"] and a["status_code"] is None for a in retried)
        healthy = client.get("/v1/webhooks").json()["webhooks"][0]
        assert healthy["status"] == "active" and healthy["consecutive_failures"] == 0
        assert healthy["last_success_at"] and "secret" not in healthy
        assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 204


def test_five_500s_then_a_200_is_one_delivery_of_six_attempts(stack: Stack) -> None:
    with Receiver(fail_first=5) as receiver, _client(stack) as client:
        hook = _register(client, receiver.url, ["render.succeeded"])
        (job,) = _submit(client, register_portrait(client))
        wait_until(lambda: bool(receiver.delivered_ids()), 30, "the delivery")
        (event_id,) = _event_ids(stack, "tenant-a", [job], {"render.succeeded"})
        assert [r.status for r in receiver.all()] == [500] * 5 + [200]
        assert {r.id for r in receiver.all()} == {event_id}  # one webhook-id for all six
        # the dispatcher records an attempt once its answer is in: the last one just after
        wait_until(lambda: len(_deliveries(client, hook["id"])) >= 6, 30, "six attempts recorded")
        attempts = sorted(_deliveries(client, hook["id"]), key=lambda a: a["attempt"])
        assert [a["attempt"] for a in attempts] == [1, 2, 3, 4, 5, 6]
        assert [a["status_code"] for a in attempts] == [500] * 5 + [200]
        assert [a["outcome"] for a in attempts] == ["retrying"] * 5 + ["delivered"]
        assert all(a["event_id"] == event_id and a["error"] == "HTTP 500" for a in attempts[:5])
        retries_at = [a["next_try_at"] for a in attempts[:5]]  # each retry scheduled, in order
        assert retries_at == sorted(retries_at)
        client.delete(f"/v1/webhooks/{hook['id']}")
    metrics = _metrics(httpx.get(f"http://127.0.0.1:{METRICS_PORT}/metrics").text)
    assert metrics['avatar_render_webhook_deliveries_total{outcome="retrying"}'] >= 5
    assert metrics['avatar_render_webhook_deliveries_total{outcome="delivered"}'] >= 1
    assert metrics['avatar_render_webhook_failures_total{reason="http_status"}'] >= 5
    assert metrics["avatar_render_webhook_delivery_lag_seconds_count"] >= 1
    assert metrics["avatar_render_webhook_paused_endpoints"] == 0
    assert "avatar_render_webhook_oldest_overdue_seconds" in metrics


def test_the_health_check_finds_the_dispatchers_heartbeat(stack: Stack) -> None:
    def check(name: str) -> int:
        command = [*CLI, "webhooks", "--check", "--name", name]
        return subprocess.run(command, env=stack.env, capture_output=True, timeout=60).returncode

    assert check("d1") == 0
    assert check("nobody") == 1


def _repeats(receiver: Receiver) -> bool:
    ids = [r.id for r in receiver.all()]
    return len(ids) > len(set(ids))


def test_killing_the_dispatcher_mid_delivery_loses_nothing(stack: Stack) -> None:
    with Receiver(delay_s=1.5) as receiver, _client(stack) as client:
        hook = _register(client, receiver.url)
        jobs = _submit(client, register_portrait(client), 2)
        wait_until(lambda: receiver.in_flight > 0, 30, "a delivery under way")
        (dispatcher,) = [d for d in stack.dispatchers if d.alive()]
        dispatcher.signal_group(signal.SIGKILL)  # mid-delivery, no goodbye
        dispatcher.process.wait(timeout=10)
        for job in jobs:
            assert wait_for_job(client, job)["status"] == "succeeded"
        stack.start_dispatcher("d2")
        expected = _event_ids(stack, "tenant-a", jobs)
        wait_until(lambda: expected <= receiver.delivered_ids(), 60, "every delivery")
        # The one cut short is sent again with the same webhook-id (at least once), once
        # its lease has run out: the first copy may well have been answered meanwhile.
        wait_until(lambda: _repeats(receiver), 60, "the cut-short delivery sent again")
        assert {r.id for r in receiver.all()} == expected
        store = redis.Redis.from_url(stack.settings.redis_url)
        wait_until(lambda: store.zcard(DUE_KEY) == 0, 30, "the outbox drained")
        store.close()
        client.delete(f"/v1/webhooks/{hook['id']}")


def test_tenants_never_see_each_others_webhooks(stack: Stack) -> None:
    with (
        Receiver() as for_a,
        Receiver() as for_b,
        _client(stack, KEY_A) as a,
        _client(stack, KEY_B) as b,
    ):
        hook_a = _register(a, for_a.url)
        hook_b = _register(b, for_b.url)
        jobs_a = _submit(a, register_portrait(a))
        jobs_b = _submit(b, register_portrait(b))
        for job in jobs_a:
            wait_for_job(a, job)
        for job in jobs_b:
            wait_for_job(b, job)
        expected_a = _event_ids(stack, "tenant-a", jobs_a)
        expected_b = _event_ids(stack, "tenant-b", jobs_b)
        wait_until(lambda: expected_a <= for_a.delivered_ids(), 30, "A's deliveries")
        wait_until(lambda: expected_b <= for_b.delivered_ids(), 30, "B's deliveries")
        assert {r.event["render_id"] for r in for_a.all()} == set(jobs_a)
        assert {r.event["render_id"] for r in for_b.all()} == set(jobs_b)
        seen_by_b = {h["id"] for h in b.get("/v1/webhooks").json()["webhooks"]}
        assert hook_b["id"] in seen_by_b and hook_a["id"] not in seen_by_b
        for method, path in [
            ("DELETE", ""),
            ("POST", "/rotate-secret"),
            ("POST", "/resume"),
            ("GET", "/deliveries"),
        ]:
            response = b.request(method, f"/v1/webhooks/{hook_a['id']}{path}")
            assert response.status_code == 404, (method, path)
        assert [h["id"] for h in a.get("/v1/webhooks").json()["webhooks"]] == [hook_a["id"]]
        a.delete(f"/v1/webhooks/{hook_a['id']}")
        b.delete(f"/v1/webhooks/{hook_b['id']}")


def test_redirects_are_not_followed_and_rotation_signs_with_both_secrets(stack: Stack) -> None:
    with (
        Receiver() as private_target,
        Receiver(redirect_to="http://10.0.0.1/internal") as redirecting,
        Receiver() as rotated,
        _client(stack) as client,
    ):
        redirecting.redirect_to = private_target.url  # a private address we can observe
        hook = _register(client, redirecting.url, ["render.succeeded"])
        old = _register(client, rotated.url, ["render.succeeded"])
        new = client.post(f"/v1/webhooks/{old['id']}/rotate-secret")
        assert new.status_code == 200 and new.json()["secret"] != old["secret"]
        assert new.json()["previous_secret_expires_at"]
        (job,) = _submit(client, register_portrait(client))
        wait_until(lambda: bool(rotated.delivered_ids()), 30, "the rotated endpoint's delivery")
        request = rotated.all()[0]
        assert request.verify(old["secret"]) == request.verify(new.json()["secret"])
        assert len(request.headers["webhook-signature"].split(" ")) == 2

        def redirect_attempted() -> bool:
            return any(a["status_code"] == 302 for a in _deliveries(client, hook["id"]))

        wait_until(redirect_attempted, 30, "an attempt answered with a redirect")
        attempt = next(a for a in _deliveries(client, hook["id"]) if a["status_code"] == 302)
        assert attempt["outcome"] == "retrying" and "not followed" in attempt["error"]
        assert private_target.all() == []
        for h in (hook, old):
            client.delete(f"/v1/webhooks/{h['id']}")
