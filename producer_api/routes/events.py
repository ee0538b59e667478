"""Server-sent events: a tenant's event log, all of it or one render's, pushed as it grows.

Each event is one SSE message: ``id:`` (the log position) and one ``data:`` line of JSON
``{"id", "type", "time", "render_id", "data"}``. Reconnect with ``Last-Event-ID`` to get
exactly the events after it, across API restarts too; 410 ``events_expired`` when that
point is past retention.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import StringConstraints

from producer_api.auth import Tenant
from producer_api.errors import ERROR_RESPONSES, ErrorBody, error_responses
from producer_api.event_stream import RECONNECT_MS, EventReader, event_frame, follow
from producer_api.services import Services
from render_core.event_log import TERMINAL_TYPES, Event, EventType
from render_core.job_view import JobView

router = APIRouter(tags=["events"])

# Headers that keep every hop from buffering or caching the stream (nginx reads
# X-Accel-Buffering; others honour no-cache / no-transform).
STREAM_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
STATE_TYPE = "render.state"

SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    200: {
        "content": {"text/event-stream": {}},
        "description": "A stream of SSE messages, each `id:` and one `data:` line of JSON.",
    },
    410: {"model": ErrorBody, "description": "Last-Event-ID is past the retention."},
}

_TYPE_NAMES = "|".join(re.escape(t.value) for t in EventType)
# One or more event types, comma separated: the schema names them, so no hidden rule.
EventTypes = Annotated[str, StringConstraints(pattern=rf"^({_TYPE_NAMES})(,({_TYPE_NAMES}))*$")]

# A string that may be empty (absent), never null: a header has no null.
LastEventId = Annotated[
    str,
    Header(
        alias="Last-Event-ID",
        pattern=r"^([0-9]{1,20}(-[0-9]{1,20})?)?$",
        description="Resume after this event id; the stream starts at the next event.",
    ),
]


def _stream(body: Any) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers=STREAM_HEADERS)


def _parse_types(values: list[str] | None) -> frozenset[str] | None:
    """The wanted types (each value already matched ``EVENT_TYPES``)."""
    if not values:
        return None
    return frozenset(name for value in values for name in value.split(","))


def _reader(request: Request) -> EventReader:
    reader: EventReader = request.app.state.events
    return reader


@router.get(
    "/v1/events",
    summary="Stream the tenant's events (server-sent events)",
    response_class=StreamingResponse,
    responses=SSE_RESPONSES,
)
async def tenant_events(
    request: Request,
    services: Services,
    tenant: Tenant,
    render_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this render's events.")
    ] = None,
    types: Annotated[
        list[EventTypes] | None,
        Query(description="Only these types (comma separated or repeated)."),
    ] = None,
    last_event_id: LastEventId = "",
) -> StreamingResponse:
    reader = _reader(request)
    wanted = _parse_types(types)

    def matches(event: Event) -> bool:
        return (render_id is None or event.render_id == render_id) and (
            wanted is None or event.type in wanted
        )

    if last_event_id:
        await reader.check_resumable(tenant, last_event_id)
        after = last_event_id
    else:
        after = await reader.head(tenant)  # before the headers go out: no event is missed
    keepalive = services.settings.events_keepalive_s
    return _stream(follow(reader, tenant, after, matches, keepalive))


@router.get(
    "/v1/renders/{job_id}/events",
    summary="Stream one render's events, from its current state to its end",
    response_class=StreamingResponse,
    responses={
        **SSE_RESPONSES,
        **error_responses(404),
        204: {"description": "Resumed after the render's end."},
    },
    tags=["renders"],
)
async def render_events(
    request: Request,
    services: Services,
    tenant: Tenant,
    job_id: str,
    last_event_id: LastEventId = "",
) -> Response:
    """The first message is ``render.state`` (the job as ``GET /v1/renders/{id}`` shows it)
    unless resuming; the stream ends after ``render.succeeded``, ``render.failed`` or
    ``render.cancelled`` (or at once, after the state, when the job has already ended)."""
    reader = _reader(request)
    if last_event_id:
        await reader.check_resumable(tenant, last_event_id)
    snapshot = await reader.snapshot(tenant, services.jobs.key(job_id))
    if snapshot.raw_record is None:
        raise services.jobs.not_found(job_id)
    record = services.jobs.parse(job_id, snapshot.raw_record)
    if record.tenant != tenant:
        raise services.jobs.not_found(job_id)  # another tenant's job is answered as missing

    def mine(event: Event) -> bool:
        return event.render_id == job_id

    def ends(event: Event) -> bool:
        return event.type in TERMINAL_TYPES

    first: list[str] = []
    ended = record.status.is_terminal
    if not last_event_id:
        state = Event(
            id=snapshot.head,
            type=STATE_TYPE,
            time=record.finished_at or record.started_at or record.created_at,
            render_id=job_id,
            data=JobView.of(record).model_dump(mode="json"),
        )
        first = [event_frame(state)]
        if ended:
            return _stream(_once(first))
        after = snapshot.head
    else:
        after = last_event_id
        if ended and not await reader.any_between(tenant, after, snapshot.head, mine):
            return Response(status_code=204)  # nothing more will come: EventSource stops
    keepalive = services.settings.events_keepalive_s
    return _stream(follow(reader, tenant, after, mine, keepalive, first=first, last=ends))


async def _once(frames: list[str]) -> Any:
    yield f"retry: {RECONNECT_MS}\n\n"
    for frame in frames:
        yield frame
