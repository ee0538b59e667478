"""Retries, Retry-After and error mapping against scripted answers (httpx.MockTransport),
and network failures against a real closed port: what a healthy stack never shows."""

from __future__ import annotations

import asyncio
import pickle
import time
from typing import Any

import httpx
import pytest
from avatar_render_client import (
    AsyncAvatarRenderClient,
    AvatarRenderClient,
    AvatarRenderError,
    ConnectionFailed,
    HttpError,
    IdempotencyInProgress,
    Job,
    JobStatus,
    NotFound,
    QueueUnavailable,
    RetryPolicy,
    TransientError,
    WaitTimeout,
)

from render_cli.local_redis import free_port

BASE = "http://api.test"
FAST = RetryPolicy(max_attempts=3, backoff_s=0.01, backoff_max_s=0.02)
JOB: dict[str, Any] = {
    "id": "j1",
    "status": "queued",
    "request": {"character_id": "c1", "emotion": "happy"},
    "attempts": 0,
    "cancel_requested": False,
    "progress": {"frames_done": 0, "frames_total": 50},
    "worker": None,
    "renderer": None,
    "error": None,
    "created_at": "2026-01-01T00:00:00Z",
    "started_at": None,
    "finished_at": None,
    "manifest_key": None,
    "outputs_expired": False,
}


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": f"{code} happened"}}
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """Answers requests from a list, in order, and keeps what it was sent."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(time.monotonic())
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self, retry: RetryPolicy = FAST) -> AvatarRenderClient:
        return AvatarRenderClient(BASE, "k", retry=retry, transport=httpx.MockTransport(self))

    def async_client(self, retry: RetryPolicy = FAST) -> AsyncAvatarRenderClient:
        return AsyncAvatarRenderClient(BASE, "k", retry=retry, transport=httpx.MockTransport(self))


@pytest.mark.parametrize(("status", "code"), [(503, "queue_unavailable"), (429, "rate_limited")])
def test_retry_after_is_honoured(status: int, code: str) -> None:
    script = Script(_error(status, code, {"Retry-After": "1"}), httpx.Response(200, json=JOB))
    with script.client() as client:
        assert client.get_job("j1").id == "j1"
    assert len(script.requests) == 2
    assert script.times[1] - script.times[0] >= 1.0


def test_a_submission_keeps_its_idempotency_key_across_retries() -> None:
    script = Script(
        _error(503, "queue_unavailable", {"Retry-After": "0"}),
        httpx.ReadError("reset"),  # a POST with a key may be sent again, even after a reset
        httpx.Response(202, json=JOB),
    )
    with script.client(RetryPolicy(max_attempts=3, backoff_s=0.01)) as client:
        client.render("c1", "happy")
    keys = {r.headers["Idempotency-Key"] for r in script.requests}
    assert len(script.requests) == 3 and len(keys) == 1
    script = Script(httpx.Response(202, json=JOB), httpx.Response(202, json=JOB))
    with script.client() as client:
        client.render("c1", "happy")
        client.render("c1", "happy", idempotency_key="mine")
    assert script.requests[0].headers["Idempotency-Key"] not in ("", "mine")
    assert script.requests[1].headers["Idempotency-Key"] == "mine"


def test_retries_are_bounded_and_a_long_retry_after_is_not_waited_for() -> None:
    script = Script(*[_error(503, "queue_unavailable")] * 3)
    with script.client() as client, pytest.raises(QueueUnavailable) as exhausted:
        client.get_job("j1")
    assert len(script.requests) == 3 and isinstance(exhausted.value, TransientError)

    script = Script(_error(429, "rate_limited", {"Retry-After": "3600"}))
    started = time.monotonic()
    with script.client() as client, pytest.raises(AvatarRenderError) as too_long:
        client.get_job("j1")
    assert time.monotonic() - started < 1 and len(script.requests) == 1
    assert (too_long.value.http_status, too_long.value.retry_after) == (429, 3600.0)


def test_an_ambiguous_network_error_is_not_retried_for_a_non_idempotent_call() -> None:
    script = Script(httpx.ReadError("connection reset"))
    with script.client() as client, pytest.raises(ConnectionFailed):
        client.cancel("j1")
    assert len(script.requests) == 1
    # A refused connection never reached the server: safe to try again, whatever the call.
    script = Script(httpx.ConnectError("refused"), httpx.Response(200, json=JOB))
    with script.client() as client:
        assert client.cancel("j1").id == "j1"
    # The first call with the same key is still running: wait for its answer.
    script = Script(_error(409, "idempotency_in_progress"), httpx.Response(202, json=JOB))
    with script.client() as client:
        assert client.render("c1", "happy").id == "j1"
    script = Script(*[_error(409, "idempotency_in_progress")] * 3)
    with script.client() as client, pytest.raises(IdempotencyInProgress):
        client.render("c1", "happy")


def test_codes_pick_classes_and_unknown_codes_give_the_base_class() -> None:
    script = Script(
        _error(404, "not_found"),
        _error(418, "teapot_overflow"),
        httpx.Response(502, text="<html>\n<b>Bad gateway</b>\n</html>"),
    )
    with script.client() as client:
        with pytest.raises(NotFound):
            client.get_job("j1")
        with pytest.raises(AvatarRenderError) as unknown:
            client.get_job("j1")
        with pytest.raises(HttpError) as not_ours:
            client.get_job("j1")
    assert type(unknown.value) is AvatarRenderError
    assert (unknown.value.code, unknown.value.http_status) == ("teapot_overflow", 418)
    assert not_ours.value.http_status == 502 and "\n" not in str(not_ours.value)
    copy = pickle.loads(pickle.dumps(unknown.value))
    assert (type(copy), copy.code, str(copy)) == (
        AvatarRenderError,
        "teapot_overflow",
        str(unknown.value),
    )


def test_models_ignore_fields_they_do_not_know() -> None:
    job = Job.model_validate({**JOB, "priority_score": 7, "progress": {"frames_done": 1, "eta": 3}})
    assert job.status == JobStatus.queued and job.progress.frames_done == 1
    assert not hasattr(job, "priority_score")


def test_wait_times_out_with_a_typed_error() -> None:
    script = Script(*[httpx.Response(200, json=JOB)] * 50)
    seen: list[Job] = []
    with script.client() as client, pytest.raises(WaitTimeout) as late:
        client.wait("j1", timeout_s=0.3, poll_interval_s=0.05, on_progress=seen.append)
    assert isinstance(late.value, TimeoutError) and late.value.status == "queued"
    assert len(seen) == 1  # the callback sees changes, not every poll


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def _assert_one_line_naming(error: ConnectionFailed, url: str) -> None:
    text = str(error)
    assert "\n" not in text and url in text and "after 3 attempts" in text
    assert isinstance(error, ConnectionError) and error.url == url and error.attempts == 3


def test_a_network_failure_is_one_line_naming_the_url() -> None:
    base = _closed_port_url()
    with AvatarRenderClient(base, retry=FAST) as client, pytest.raises(ConnectionFailed) as down:
        client.get_job("j1")
    _assert_one_line_naming(down.value, f"{base}/v1/renders/j1")


def test_the_async_client_retries_and_fails_alike() -> None:
    base = _closed_port_url()

    async def scenario() -> tuple[float, ConnectionFailed]:
        script = Script(
            _error(429, "rate_limited", {"Retry-After": "1"}), httpx.Response(200, json=JOB)
        )
        async with script.async_client() as client:
            await client.get_job("j1")
        async with AsyncAvatarRenderClient(base, retry=FAST) as client:
            try:
                await client.get_job("j1")
            except ConnectionFailed as error:
                return script.times[1] - script.times[0], error
        raise AssertionError("no ConnectionFailed")

    waited, error = asyncio.run(scenario())
    assert waited >= 1.0
    _assert_one_line_naming(error, f"{base}/v1/renders/j1")
