"""Server-sent events over real HTTP: uvicorn, a mock Celery worker and Redis.

Streams start where they should, resume after exactly the last event seen (across an
API restart too), refuse a resume point past retention, keep idle connections alive and
keep tenants apart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from render_cli.local_redis import LocalRedis
from render_core.event_log import as_entries, parse_entry, stream_key
from tests.sse import Message, messages
from tests.stack import Stack, register_portrait, running_stack, wait_for_job

pytestmark = pytest.mark.integration

KEY_A, KEY_B = "key-a-events-0001", "key-b-events-0002"
SMALL = {"emotion": "happy", "size": 256, "duration_ms": 400, "fps": 25}
# 100 frames in batches of 4 at 10 ms a frame: 25 progress events over about 1.5 s.
LONG = {"emotion": "sad", "size": 256, "duration_ms": 4000, "fps": 25, "outputs": ["frames"]}
TERMINAL = {"render.succeeded", "render.failed", "render.cancelled"}


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("sse")
    with running_stack(
        redis_server.url,
        root,
        api_keys=f"tenant-a:{KEY_A},tenant-b:{KEY_B}",
        events_keepalive_s="0.5",
        api_shutdown_grace_s="1",
        frame_batch_size="4",
        mock_frame_delay_s="0.01",
    ) as s:
        s.start_worker("sse-mock")
        s.start_api()
        yield s


def _client(stack: Stack, key: str = KEY_A) -> httpx.Client:
    return httpx.Client(
        base_url=stack.api_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=httpx.Timeout(30.0, read=10.0),
    )


def _submit(client: httpx.Client, character: dict[str, Any], shape: dict[str, Any]) -> str:
    # Every submission here must render (its events are the point), never be a cache hit.
    body = {"character_id": character["id"], **shape, "cache": False}
    response = client.post("/v1/renders", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _logged(stack: Stack, tenant: str, render_id: str) -> list[str]:
    """The render's event ids as the log holds them: the truth a stream must match."""
    client = redis.Redis.from_url(stack.settings.redis_url, decode_responses=True)
    rows = as_entries(client.xrange(stream_key(tenant)))
    client.close()
    return [i for i, f in rows if parse_entry(i, f).render_id == render_id]


def _data_for(stream: Iterator[Message], seconds: float) -> list[Message]:
    """The data messages of ``seconds`` (keep-alive comments keep the iterator moving)."""
    deadline = time.monotonic() + seconds
    got = []
    for message in stream:
        if message.comment is None:
            got.append(message)
        if time.monotonic() > deadline:
            return got
    return got


def _until_terminal(stream: Iterator[Message], render_id: str) -> list[Message]:
    seen = []
    for message in stream:
        if message.data["render_id"] != render_id:
            continue
        seen.append(message)
        if message.type in TERMINAL:
            break
    return seen


def test_a_render_stream_starts_with_the_state_and_ends_after_the_end(stack: Stack) -> None:
    with _client(stack) as client:
        character = register_portrait(client)
        job_id = _submit(client, character, LONG)
        with client.stream("GET", f"/v1/renders/{job_id}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"].startswith("no-cache")
            assert response.headers["x-accel-buffering"] == "no"
            seen = list(messages(response))  # the server ends the stream
        assert seen[0].type == "render.state" and seen[0].data["data"]["id"] == job_id
        assert seen[-1].type == "render.succeeded"
        assert seen[-1].data["data"]["manifest_key"].endswith("manifest.json")
        # Every event after the state is the log's, in order, each with its id.
        assert [m.id for m in seen[1:]] == [
            i for i in _logged(stack, "tenant-a", job_id) if i > (seen[0].id or "")
        ]
        # The progress events name every frame stored after the state was read.
        stored = [f for m in seen if m.type == "render.progress" for f in m.data["data"]["frames"]]
        done_at_state = seen[0].data["data"]["progress"]["frames_done"]
        assert sorted(stored) == list(range(done_at_state, 100))
        assert seen[-2].type == "render.progress" and seen[-2].data["data"]["frames_done"] == 100
        # Subscribing after the end: the final state, then the stream ends at once.
        with client.stream("GET", f"/v1/renders/{job_id}/events") as response:
            late = list(messages(response))
        assert [m.type for m in late] == ["render.state"]
        assert late[0].data["data"]["status"] == "succeeded"
        # Resuming after the end answers 204, so an EventSource stops reconnecting.
        resumed = client.get(
            f"/v1/renders/{job_id}/events", headers={"Last-Event-ID": seen[-1].id or ""}
        )
        assert resumed.status_code == 204


def test_resume_with_last_event_id_across_an_api_restart_sees_every_event_once(
    stack: Stack,
) -> None:
    with _client(stack) as client:
        character = register_portrait(client)
        seen: list[Message] = []
        with client.stream("GET", "/v1/events") as response:
            stream = messages(response)
            job_id = _submit(client, character, LONG)
            for message in stream:  # disconnect mid-render, after a few progress events
                if message.data["render_id"] == job_id:
                    seen.append(message)
                if sum(m.type == "render.progress" for m in seen) == 3:
                    break
        with client.stream("GET", "/v1/events", headers={"Last-Event-ID": seen[-1].id or ""}) as r:
            stream = messages(r)
            for message in stream:
                if message.data["render_id"] == job_id:
                    seen.append(message)
                if sum(m.type == "render.progress" for m in seen) == 8:
                    break
            # The API goes away under the open stream (a deploy), promptly, and comes
            # back as a new process with nothing in memory.
            assert stack.api is not None
            stopping = time.monotonic()
            stack.api.stop()
            assert time.monotonic() - stopping < 5.0
        stack.start_api()
        with client.stream("GET", "/v1/events", headers={"Last-Event-ID": seen[-1].id or ""}) as r:
            seen += _until_terminal(messages(r), job_id)
        assert wait_for_job(client, job_id)["status"] == "succeeded"
    ids = [m.id for m in seen]
    assert ids == _logged(stack, "tenant-a", job_id)  # all of them, once each, in order
    assert [m.type for m in seen][:2] == ["render.queued", "render.started"]
    assert seen[-1].type == "render.succeeded"


def test_filters_and_a_resume_point_past_retention(stack: Stack) -> None:
    with _client(stack) as client:
        character = register_portrait(client)
        params = {"types": "render.succeeded,render.started"}
        with client.stream("GET", "/v1/events", params=params) as response:
            first = _submit(client, character, SMALL)
            second = _submit(client, character, SMALL)
            got = []
            for message in messages(response):
                got.append((message.type, message.data["render_id"]))
                if sum(t == "render.succeeded" for t, _ in got) == 2:
                    break
        assert sorted(got) == sorted(
            [(t, j) for t in ("render.started", "render.succeeded") for j in (first, second)]
        )
        third = _submit(client, character, SMALL)
        assert wait_for_job(client, third)["status"] == "succeeded"
        replay = {"params": {"render_id": third}, "headers": {"Last-Event-ID": "0-0"}}
        with client.stream("GET", "/v1/events", **replay) as response:  # type: ignore[arg-type]
            # From the start of the retained log: every one of the third's events.
            replayed = _until_terminal(messages(response), third)
        assert [m.id for m in replayed] == _logged(stack, "tenant-a", third)
        expired = client.get("/v1/events", headers={"Last-Event-ID": "1000-0"})
        assert expired.status_code == 410
        assert expired.json()["error"]["code"] == "events_expired"
        bad = client.get("/v1/events", headers={"Last-Event-ID": "yesterday"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
        assert "Last-Event-ID" in bad.json()["error"]["message"]
        unknown = client.get("/v1/events", params={"types": "render.exploded"})
        assert unknown.status_code == 422


def test_an_idle_stream_gets_keep_alive_comments(stack: Stack) -> None:
    with _client(stack, KEY_B) as client:
        started = time.monotonic()
        with client.stream("GET", "/v1/events") as response:
            comments = []
            for message in messages(response, comments=True):
                if message.comment is not None:
                    comments.append(message.comment)
                if len(comments) == 3:
                    break
        assert comments == ["keep-alive"] * 3
        assert 1.0 <= time.monotonic() - started < 5.0  # every 0.5 s (the test's setting)


def test_tenants_never_see_each_others_events(stack: Stack) -> None:
    with _client(stack, KEY_A) as a, _client(stack, KEY_B) as b:
        character = register_portrait(a)
        with b.stream("GET", "/v1/events") as theirs:
            job_id = _submit(a, character, SMALL)
            assert wait_for_job(a, job_id)["status"] == "succeeded"
            mine_b = register_portrait(b)
            b_job = _submit(b, mine_b, SMALL)
            seen = _until_terminal(messages(theirs), b_job)
        assert {m.data["render_id"] for m in seen} == {b_job}
        assert b.get(f"/v1/renders/{job_id}/events").status_code == 404
        replay = {"params": {"render_id": job_id}, "headers": {"Last-Event-ID": "0-0"}}
        with b.stream("GET", "/v1/events", **replay) as response:  # type: ignore[arg-type]
            # Another tenant's render id matches nothing in this tenant's log.
            assert _data_for(messages(response, comments=True), seconds=1.5) == []
