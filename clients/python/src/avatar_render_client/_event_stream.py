"""Following an event stream, resuming by itself: the logic, once for both clients.

As the other operations, a stream is a generator of steps (open a request, read a chunk,
emit an event, sleep) that the sync and async clients perform. It reconnects when the
connection drops or the server ends the stream (a deploy, a Redis hiccup), sending
``Last-Event-ID`` of the last event it emitted and waiting what the server's ``retry:``
said, so the caller sees every event once, in order. Ids increase within a tenant, so
an event at or before the last one emitted is dropped rather than repeated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from avatar_render_client._retry import RetryPolicy, raise_for_status, retry_after_s
from avatar_render_client._sse import SseMessage, SseParser
from avatar_render_client._steps import Call, Sleep
from avatar_render_client.client_errors import ConnectionFailed
from avatar_render_client.errors import HttpError
from avatar_render_client.events import Event, parse_event_id

if TYPE_CHECKING:
    from avatar_render_client._core import ClientCore

#: The reconnection delay until the server says otherwise (its ``retry:``).
DEFAULT_RETRY_S = 2.0
#: Longer than the server's keep-alive interval (15 s by default): a silent connection
#: this long is dead, and is reopened.
DEFAULT_IDLE_TIMEOUT_S = 45.0
#: How long reconnecting may keep failing before the stream raises.
DEFAULT_RECONNECT_FOR_S = 120.0
# Answers a proxy or a restarting API gives that are worth reconnecting after.
_TRANSIENT = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Open:
    """Send ``call``, keeping a 200's body open; answer: the response or a network error."""

    call: Call


@dataclass(frozen=True)
class Read:
    """The next bytes of the open response: ``b""`` at its end, or a network error."""


@dataclass(frozen=True)
class Close:
    """Close the open response, if any."""


@dataclass(frozen=True)
class Emit:
    """Hand ``event`` to the caller; None says a stream is open (for ``connect()``)."""

    event: Event | None


StreamStep = Open | Read | Close | Emit | Sleep
StreamOutcome = httpx.Response | httpx.TransportError | bytes | None
StreamOp = Generator[StreamStep, StreamOutcome, None]


@dataclass(frozen=True)
class StreamSpec:
    url: str
    params: dict[str, str]
    #: Resume after this id; None starts with what the server sends first.
    last_event_id: str | None
    #: A render's stream: done after its terminal event (or a terminal state).
    ends_at_terminal: bool
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    reconnect_for_s: float = DEFAULT_RECONNECT_FOR_S


def _event(message: SseMessage) -> Event:
    try:
        return Event.model_validate_json(message.data)
    except (ValidationError, json.JSONDecodeError) as exc:
        raise HttpError(
            f"an event stream message is not an event: {message.data[:200]!r}", http_status=200
        ) from exc


def _newer(event: Event, last_id: str | None) -> bool:
    return last_id is None or parse_event_id(event.id) > parse_event_id(last_id)


@dataclass
class _Position:
    """Where a stream is: the last event emitted, and the server's reconnection delay."""

    last_id: str | None
    retry_s: float = DEFAULT_RETRY_S


def _read_open_stream(
    spec: StreamSpec, position: _Position
) -> Generator[StreamStep, StreamOutcome, bool]:
    """Emit the events of one open response; True when the render stream is done."""
    parser = SseParser()
    try:
        while True:
            chunk = yield Read()
            if not isinstance(chunk, bytes) or not chunk:
                return False  # the server ended the stream, or the connection broke
            for message in parser.feed(chunk):
                event = _event(message)
                if _newer(event, position.last_id):
                    yield Emit(event)
                    position.last_id = event.id
                if spec.ends_at_terminal and event.is_terminal:
                    return True
    finally:
        if parser.retry_ms is not None:
            position.retry_s = parser.retry_ms / 1000


def follow(spec: StreamSpec, policy: RetryPolicy) -> StreamOp:
    """Emit the stream's events, reconnecting until it ends (render streams) or the
    caller stops; raise the API's error for a refusal (410 ``events_expired`` included),
    or ``ConnectionFailed`` once reconnecting failed for ``reconnect_for_s``."""
    position = _Position(spec.last_event_id)
    failures = 0
    failing_since = 0.0
    timeout = httpx.Timeout(30.0, read=spec.idle_timeout_s)
    while True:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if position.last_id is not None:
            headers["Last-Event-ID"] = position.last_id
        call = Call("GET", spec.url, params=spec.params, headers=headers, timeout=timeout)
        outcome = yield Open(call)
        if isinstance(outcome, httpx.Response) and outcome.status_code == 200:
            failures = 0
            yield Emit(None)
            ended = yield from _read_open_stream(spec, position)
            yield Close()
            if ended:
                return
            yield Sleep(position.retry_s)
            continue
        if isinstance(outcome, httpx.Response) and outcome.status_code == 204:
            return  # a render stream resumed after its end: nothing more will come
        failures += 1
        failing_since = time.monotonic() if failures == 1 else failing_since
        gave_up = time.monotonic() - failing_since >= spec.reconnect_for_s
        yield Sleep(_reconnect_delay(spec, call, outcome, gave_up, failures, position, policy))


def _reconnect_delay(
    spec: StreamSpec,
    call: Call,
    outcome: StreamOutcome,
    gave_up: bool,
    failures: int,
    position: _Position,
    policy: RetryPolicy,
) -> float:
    """How long to wait after a failed connection, or the error to raise instead."""
    if isinstance(outcome, httpx.Response):
        if gave_up or outcome.status_code not in _TRANSIENT:
            raise_for_status(outcome, call)
        wait = retry_after_s(outcome)
        if wait is not None:
            return wait
    elif gave_up:
        reason = f"{type(outcome).__name__}: {outcome!s}" if outcome else "no answer"
        raise ConnectionFailed(spec.url, reason, attempts=failures)
    return max(position.retry_s, policy.backoff(failures))


def tenant_events(
    core: ClientCore,
    render_id: str | None,
    types: Sequence[str] | None,
    last_event_id: str | None,
    idle_timeout_s: float,
    reconnect_for_s: float,
) -> StreamOp:
    """The tenant's events (``GET /v1/events``, filtered): it never ends by itself."""
    params = {"types": ",".join(str(t) for t in types)} if types else {}
    if render_id:
        params["render_id"] = render_id
    url = core.url("v1", "events")
    spec = StreamSpec(url, params, last_event_id, False, idle_timeout_s, reconnect_for_s)
    return follow(spec, core.policy)


def render_events(
    core: ClientCore,
    job_id: str,
    last_event_id: str | None,
    idle_timeout_s: float,
    reconnect_for_s: float,
) -> StreamOp:
    """One render's events (``GET /v1/renders/{id}/events``), ending after its end."""
    url = core.url("v1", "renders", quote(job_id, safe=""), "events")
    spec = StreamSpec(url, {}, last_event_id, True, idle_timeout_s, reconnect_for_s)
    return follow(spec, core.policy)
