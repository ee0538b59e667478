"""``events()`` and ``render_events()`` against the real stack: order, filters, the end of
a render stream, and resuming by themselves, with no gap and no duplicate, after the
connection is cut mid-message and after the API is restarted under an open stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator

import httpx
import pytest
import redis
from avatar_render_client import (
    AsyncAvatarRenderClient,
    AvatarRenderClient,
    Event,
    EventsExpired,
    EventType,
    JobStatus,
    NotFound,
    RenderOptions,
)

from render_core.event_log import as_entries, parse_entry, stream_key
from tests.clients.conftest import FAST_RETRY, SMALL, api_key
from tests.conftest import SAMPLE_PORTRAIT
from tests.stack import Stack

pytestmark = pytest.mark.integration

ClientFor = Callable[[str], AvatarRenderClient]
# 100 frames at 20 ms in batches of 16: 7 progress events over about 2 s.
LONG: RenderOptions = {"size": 256, "duration_ms": 4000, "fps": 25, "outputs": ["frames"]}


def _logged(stack: Stack, tenant: str, render_id: str) -> list[str]:
    """The render's event ids as the log holds them: what a stream must match."""
    client = redis.Redis.from_url(stack.settings.redis_url, decode_responses=True)
    rows = as_entries(client.xrange(stream_key(tenant)))
    client.close()
    return [i for i, f in rows if parse_entry(i, f).render_id == render_id]


def _until_terminal(stream: Iterator[Event], render_id: str) -> list[Event]:
    seen = []
    for event in stream:
        if event.render_id == render_id:
            seen.append(event)
            if event.is_terminal:
                break
    return seen


def test_events_sees_a_render_from_queued_to_succeeded_in_order(
    stack: Stack, client_for: ClientFor
) -> None:
    client = client_for("events")
    character = client.register_character(SAMPLE_PORTRAIT)
    with client.events() as stream:  # connected on entry: nothing after this is missed
        job = client.render(character.id, "happy", **SMALL)
        seen = _until_terminal(stream, job.id)
        assert stream.last_event_id == seen[-1].id
    types = [e.type for e in seen]
    assert types[:2] == [EventType.queued, EventType.started]
    assert types[-1] == EventType.succeeded and EventType.progress in types
    assert seen[0].data["frames_total"] == 10
    assert seen[-1].data["manifest_key"].endswith("manifest.json")
    assert [e.id for e in seen] == _logged(stack, "events", job.id)

    # Filters, and a replay from a stored position: only that render's end.
    second = client.render(character.id, "sad", **SMALL)
    client.wait(second.id, timeout_s=60, poll_interval_s=0.05)
    replay = client.events(render_id=second.id, types=["render.succeeded"], last_event_id="0-0")
    with replay:
        ended = next(replay)
    assert (ended.type, ended.render_id) == (EventType.succeeded, second.id)
    with pytest.raises(EventsExpired), client.events(last_event_id="1000-0") as expired:
        next(expired)


def test_render_events_starts_with_the_state_and_ends_after_the_terminal_event(
    stack: Stack, client_for: ClientFor
) -> None:
    client = client_for("events")
    character = client.register_character(SAMPLE_PORTRAIT)
    job = client.render(character.id, "angry", **LONG)
    seen = list(client.render_events(job.id))  # ends by itself
    state = seen[0].job
    assert seen[0].type == EventType.state and state is not None and state.id == job.id
    assert seen[-1].type == EventType.succeeded and seen[-1].is_terminal
    assert [e.id for e in seen[1:]] == [
        i for i in _logged(stack, "events", job.id) if i > seen[0].id
    ]
    done = [e.data["frames_done"] for e in seen if e.type == EventType.progress]
    assert done == sorted(done) and done[-1] == 100

    # After the end: the final state alone; resumed after the terminal event: nothing.
    late = list(client.render_events(job.id))
    assert [e.type for e in late] == [EventType.state]
    assert late[0].job is not None and late[0].job.status == JobStatus.succeeded
    assert list(client.render_events(job.id, last_event_id=seen[-1].id)) == []
    with pytest.raises(NotFound):
        next(client.render_events("0" * 32))


class _CutStream(httpx.SyncByteStream):
    """Passes an event stream through until ``every`` messages, then sends half of the
    next chunk and breaks the connection; makes the server's ``retry:`` 100 ms."""

    def __init__(self, inner: Iterable[bytes], every: int) -> None:
        self.inner = inner
        self.every = every

    def __iter__(self) -> Iterator[bytes]:
        messages = 0
        for chunk in self.inner:
            messages += chunk.count(b"data:")
            if messages >= self.every:
                yield chunk[: len(chunk) // 2]  # the id line and part of the data
                raise httpx.ReadError("connection cut by the test")
            yield chunk.replace(b"retry: 2000", b"retry: 100")

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


class CutEveryFewMessages(httpx.BaseTransport):
    def __init__(self, every: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.every = every
        self.resumed_from: list[str | None] = []
        self.opened_at: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not request.url.path.endswith("/events") or response.status_code != 200:
            return response
        self.resumed_from.append(request.headers.get("last-event-id"))
        self.opened_at.append(time.monotonic())
        stream = _CutStream(response.stream, self.every)  # type: ignore[arg-type]
        return httpx.Response(200, headers=response.headers, stream=stream)

    def close(self) -> None:
        self.inner.close()


def test_a_stream_cut_mid_message_resumes_with_no_gap_and_no_duplicate(stack: Stack) -> None:
    transport = CutEveryFewMessages(every=3)
    with AvatarRenderClient(
        stack.api_url, api_key("cut"), retry=FAST_RETRY, transport=transport
    ) as client:
        character = client.register_character(SAMPLE_PORTRAIT)
        with client.events() as stream:
            job = client.render(character.id, "surprised", **LONG)
            seen = _until_terminal(stream, job.id)
        # Each connection after the first resumed from the last event handed out.
        handed_out = [e.id for e in seen]
        assert len(transport.resumed_from) >= 4
        assert transport.resumed_from[0] is None
        positions = [handed_out.index(r) if r else -1 for r in transport.resumed_from[1:]]
        assert min(positions) >= 0 and positions == sorted(set(positions))  # further each time
        # It waited what the (rewritten) retry: said, not the 2 s default.
        gaps = [b - a for a, b in zip(transport.opened_at, transport.opened_at[1:], strict=False)]
        assert max(gaps) < 1.5
        assert handed_out == _logged(stack, "cut", job.id)  # every one, once, in order
        assert seen[-1].type == EventType.succeeded

        # A render stream cut the same way also ends after its terminal event.
        again = client.render(character.id, "neutral", **LONG)
        render_seen = list(client.render_events(again.id))
        assert render_seen[-1].type == EventType.succeeded
        after_state = [e.id for e in render_seen[1:]]
        assert after_state == [i for i in _logged(stack, "cut", again.id) if i > render_seen[0].id]


class RecordResumes(httpx.AsyncBaseTransport):
    """Notes the Last-Event-ID of each event stream request."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.resumed_from: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            self.resumed_from.append(request.headers.get("last-event-id"))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_the_async_stream_resumes_across_an_api_restart(stack: Stack) -> None:
    transport = RecordResumes()

    def restart_api() -> None:
        assert stack.api is not None
        stack.api.stop()
        stack.start_api()

    async def scenario() -> list[Event]:
        async with AsyncAvatarRenderClient(
            stack.api_url, api_key("restart"), retry=FAST_RETRY, transport=transport
        ) as client:
            character = await client.register_character(SAMPLE_PORTRAIT)
            seen: list[Event] = []
            async with client.events(idle_timeout_s=6) as stream:
                job = await client.render(character.id, "happy", **LONG)
                async for event in stream:
                    seen.append(event)
                    if len(seen) == 3:  # mid-render: the API goes away and comes back
                        await asyncio.to_thread(restart_api)
                    if event.is_terminal and event.render_id == job.id:
                        break
            return seen

    seen = asyncio.run(scenario())
    # Every reconnection (those refused while the API was down too) resumed from an
    # event already handed out.
    assert transport.resumed_from[0] is None and len(transport.resumed_from) >= 2
    assert all(r in [e.id for e in seen[:-1]] for r in transport.resumed_from[1:])
    assert [e.id for e in seen] == _logged(stack, "restart", seen[0].render_id)
    assert [e.type for e in seen][:2] == [EventType.queued, EventType.started]
    assert seen[-1].type == EventType.succeeded
