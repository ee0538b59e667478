"""The SSE parser and the stream's resume rules without a server (httpx.MockTransport):
chunk boundaries anywhere, comments, ``retry:``, 503 then resume, 204, 410, replays."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from avatar_render_client import AvatarRenderClient, EventsExpired, InvalidRequest, RetryPolicy
from avatar_render_client._sse import SseMessage, SseParser

STREAM = (
    b"\xef\xbb\xbfretry: 2500\r\n\r\n: keep-alive\n\n"
    b'id: 1-0\ndata: {"a": 1,\ndata:  "b": "\xc3\xa9"}\n\n'
    b"id: 2-0\r\nevent: custom\r\ndata\r\n\r\n"
    b"id: 3-0\rdata: last\r\r"
    b"id: 4-0\ndata: cut off"
)


def _parse(chunks: Iterator[bytes]) -> tuple[list[SseMessage], SseParser]:
    parser = SseParser()
    return [m for chunk in chunks for m in parser.feed(chunk)], parser


def test_the_parser_gives_the_same_messages_whatever_the_chunks() -> None:
    whole, parser = _parse(iter([STREAM]))
    assert whole == [
        SseMessage(data='{"a": 1,\n "b": "é"}', id="1-0", event="message"),
        SseMessage(data="", id="2-0", event="custom"),
        SseMessage(data="last", id="3-0", event="message"),
    ]
    assert parser.retry_ms == 2500 and parser.comments == 1
    assert parser.last_id == "4-0"  # seen, but its message never ended: not dispatched
    bytewise, _ = _parse(STREAM[i : i + 1] for i in range(len(STREAM)))
    assert bytewise == whole
    for cut in range(len(STREAM)):
        assert _parse(iter([STREAM[:cut], STREAM[cut:]]))[0] == whole, cut


def _event(event_id: str, kind: str = "render.progress") -> bytes:
    body = {
        "id": event_id,
        "type": kind,
        "time": "2026-01-01T00:00:00+00:00",
        "render_id": "r1",
        "data": {},
    }
    return f"id: {event_id}\ndata: {json.dumps(body)}\n\n".encode()


class Script:
    """Answers event stream requests in turn from a list, noting each Last-Event-ID."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.resumed_from: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.resumed_from.append(request.headers.get("last-event-id"))
        return self.answers.pop(0)


def _client(script: Script) -> AvatarRenderClient:
    policy = RetryPolicy(backoff_s=0.01, backoff_max_s=0.02)
    return AvatarRenderClient(
        "http://api", "k", retry=policy, transport=httpx.MockTransport(script)
    )


def test_a_stream_resumes_after_an_end_a_503_and_a_replay_and_stops_at_204() -> None:
    fast = b"retry: 10\n\n"
    script = Script(
        httpx.Response(200, content=fast + _event("1-0", "render.state") + _event("2-0")),
        httpx.Response(503, json={"error": {"code": "queue_unavailable", "message": "x"}}),
        # A server that replays from an older point: the repeats are dropped.
        httpx.Response(200, content=fast + _event("1-0") + _event("2-0") + _event("3-0")),
        httpx.Response(200, content=_event("4-0", "render.succeeded") + _event("5-0")),
    )
    with _client(script) as client:
        seen = [e.id for e in client.render_events("r1")]
    assert seen == ["1-0", "2-0", "3-0", "4-0"]  # ends after the terminal event
    assert script.resumed_from == [None, "2-0", "2-0", "3-0"]

    ended = Script(httpx.Response(200, content=fast + _event("7-0")), httpx.Response(204))
    with _client(ended) as client:
        assert [e.id for e in client.render_events("r1")] == ["7-0"]
    assert ended.resumed_from == [None, "7-0"]


def test_refusals_raise_their_error_class() -> None:
    for status, code, cls in (
        (410, "events_expired", EventsExpired),
        (422, "invalid_request", InvalidRequest),
    ):
        script = Script(httpx.Response(status, json={"error": {"code": code, "message": "no"}}))
        with _client(script) as client, pytest.raises(cls):
            next(client.events(last_event_id="1-0"))
