"""WHEP (RFC 9725): watch a render over WebRTC while it is made, or a finished one.

The client POSTs its SDP offer (non-trickle: ICE candidates included) and gets the
answer with a ``Location``; DELETE on that location ends the session. The server sends
one video track of the render's frames at the clip's fps and does not take trickled
candidates (PATCH answers 405, as the RFC allows).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from producer_api.auth import Tenant
from producer_api.errors import ERROR_RESPONSES, ErrorBody, error_responses
from producer_api.event_stream import EventReader
from producer_api.live.ice import link_headers
from producer_api.live.offers import MAX_OFFER_BYTES, InvalidOffer
from producer_api.live.sessions import LiveSessions
from producer_api.services import Services
from render_core.errors import Conflict, ImageTooLarge, InvalidInput, OutputsExpired
from render_core.schema import JobRecord, JobStatus, OutputKind

router = APIRouter(tags=["live"])

SDP = "application/sdp"


class UnsupportedMediaType(InvalidInput):
    """The body is not ``application/sdp``."""

    code = "unsupported_media_type"
    http_status = 415


class OfferTooLarge(ImageTooLarge):
    """The offer is over ``MAX_OFFER_BYTES``."""

    code = "offer_too_large"


OFFER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The client's SDP offer, ICE candidates included (no trickle): "
        "recvonly (or sendrecv) video, VP8 or H.264, at most 64 KiB.",
        "content": {SDP: {"schema": {"type": "string"}}},
    }
}

SESSION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    **error_responses(
        400,
        404,
        409,
        410,
        413,
        415,
        s400="Not an SDP offer that can receive our video (`invalid_sdp`).",
        s409="The render failed or was cancelled, or stores no frames (`not_playable`).",
        s413="The offer is over 64 KiB.",
        s415="The body is not `application/sdp`.",
    ),
    201: {
        "description": "The SDP answer; `Location` names the session (DELETE it to stop).",
        "content": {SDP: {"schema": {"type": "string"}}},
        "headers": {
            "Location": {"schema": {"type": "string"}, "description": "The session."},
            "Link": {
                "schema": {"type": "string"},
                "description": 'The STUN/TURN servers, `<url>; rel="ice-server"` each.',
            },
        },
    },
    503: {
        "model": ErrorBody,
        "description": "This server holds its most live sessions (`too_many_sessions`; "
        "retry after `Retry-After` seconds), or Redis or storage did not answer.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}


def _live(request: Request) -> LiveSessions:
    live: LiveSessions = request.app.state.live
    return live


def _check_playable(record: JobRecord) -> None:
    if record.outputs_expired:
        raise OutputsExpired(f"the outputs of render {record.id} were deleted by retention")
    if OutputKind.frames not in record.request.outputs:
        raise Conflict(f"render {record.id} stores no frames to play", code="not_playable")
    if record.status in (JobStatus.failed, JobStatus.cancelled):
        raise Conflict(f"render {record.id} is {record.status.value}", code="not_playable")


async def _offer(request: Request) -> str:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != SDP:
        raise UnsupportedMediaType(f"send the offer as {SDP}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            raise OfferTooLarge(f"the offer is over {MAX_OFFER_BYTES // 1024} KiB")
    try:
        return body.decode()
    except UnicodeDecodeError as exc:
        raise InvalidOffer("the offer is not UTF-8") from exc


@router.post(
    "/v1/renders/{job_id}/whep",
    status_code=status.HTTP_201_CREATED,
    summary="Watch a render live over WebRTC (WHEP)",
    description="The session plays the render's frames as a video track at the clip's "
    "fps: a queued or running render from its first stored frame as the frames are "
    "made, a finished one whole; the track ends after the last frame, or when the "
    "render fails or is cancelled (its event stream says why).",
    response_class=Response,
    responses=SESSION_RESPONSES,
    openapi_extra=OFFER_BODY,
)
async def open_session(
    request: Request, services: Services, tenant: Tenant, job_id: str
) -> Response:
    offer = await _offer(request)
    reader: EventReader = request.app.state.events
    snapshot = await reader.snapshot(tenant, services.jobs.key(job_id))
    if snapshot.raw_record is None:
        raise services.jobs.not_found(job_id)
    record = JobRecord.model_validate_json(snapshot.raw_record)
    if record.tenant != tenant:
        raise services.jobs.not_found(job_id)
    _check_playable(record)
    session_id, answer = await _live(request).open(record, snapshot.head, offer)
    response = Response(answer, status_code=201, media_type=SDP)
    response.headers["Location"] = f"/v1/renders/{job_id}/whep/{session_id}"
    for link in link_headers(services.settings):
        response.headers.append("Link", link)
    return response


@router.delete(
    "/v1/renders/{job_id}/whep/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End a live session",
    response_class=Response,
    responses={**ERROR_RESPONSES, **error_responses(404)},
)
async def close_session(request: Request, tenant: Tenant, job_id: str, session_id: str) -> Response:
    await _live(request).delete(tenant, job_id, session_id)
    return Response(status_code=204)
