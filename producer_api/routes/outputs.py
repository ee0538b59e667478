"""A finished render's outputs: the manifest, single frames and the clip.

With a backend that can sign URLs (S3) the API answers 307 to a URL signed anew on
every request; with the local backend it streams the bytes itself.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from producer_api.auth import Tenant
from producer_api.errors import ERROR_RESPONSES, error_responses
from producer_api.services import ApiServices, Services
from render_core import keys
from render_core.errors import Conflict, NotFound, OutputsExpired
from render_core.manifest import RenderManifest
from render_core.schema import JobRecord, JobStatus, OutputKind

router = APIRouter(
    prefix="/v1/renders",
    tags=["outputs"],
    responses={
        **ERROR_RESPONSES,
        **error_responses(404, 409, 410, s409="The render has not succeeded (`not_ready`)."),
        307: {"description": "Redirect to a presigned object-storage URL (S3 backend)."},
    },
)


def _finished(services: ApiServices, tenant: str, job_id: str) -> JobRecord:
    record = services.jobs.get_for_tenant(tenant, job_id)
    if record.outputs_expired:
        raise OutputsExpired(f"the outputs of render {job_id} were deleted by retention")
    if record.status != JobStatus.succeeded or record.output_prefix is None:
        raise Conflict(
            f"render {job_id} is {record.status.value}; it has no outputs", code="not_ready"
        )
    return record


def _serve(services: ApiServices, key: str, media_type: str) -> Response:
    url = services.store.presigned_url(key)
    if url is not None:
        return RedirectResponse(url, status_code=307)
    size = services.store.size(key)
    return StreamingResponse(
        services.store.iter_chunks(key),
        media_type=media_type,
        headers={"Content-Length": str(size)},
    )


@router.get("/{job_id}/manifest", summary="The render's manifest")
def get_manifest(services: Services, tenant: Tenant, job_id: str) -> RenderManifest:
    record = _finished(services, tenant, job_id)
    assert record.manifest_key is not None
    return RenderManifest.model_validate_json(services.store.get_bytes(record.manifest_key))


@router.get(
    "/{job_id}/frames/{index}",
    summary="One frame, in the request's frame format",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/webp": {}, "image/jpeg": {}}}},
)
def get_frame(services: Services, tenant: Tenant, job_id: str, index: int) -> Response:
    record = _finished(services, tenant, job_id)
    if OutputKind.frames not in record.request.outputs:
        raise NotFound(f"render {job_id} was not asked for frames")
    if not 0 <= index < record.request.frame_count:
        raise NotFound(f"render {job_id} has frames 0 to {record.request.frame_count - 1}")
    assert record.output_prefix is not None
    frame_format = record.request.frame_format
    key = keys.frame_key(record.output_prefix, index, frame_format.value)
    return _serve(services, key, frame_format.media_type)


@router.get(
    "/{job_id}/clip.mp4",
    summary="The clip (H.264 mp4)",
    response_class=Response,
    responses={200: {"content": {"video/mp4": {}}}},
)
def get_clip(services: Services, tenant: Tenant, job_id: str) -> Response:
    record = _finished(services, tenant, job_id)
    if OutputKind.mp4 not in record.request.outputs:
        raise NotFound(f"render {job_id} was not asked for an mp4")
    assert record.output_prefix is not None
    return _serve(services, keys.clip_key(record.output_prefix), "video/mp4")
