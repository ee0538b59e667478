"""Driving videos: a performance whose motion a character's render can follow.

The upload is spooled to a temporary file (from a worker thread), decoded to its end in
the validation process pool (``producer_api.heavy``), and only then stored;
a refused video leaves nothing in storage or Redis. A non-square video is cropped around
the face of its first frame, as LivePortrait crops driving videos (a square one is taken
as already cropped); the crop is stored beside the video for the workers.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, UploadFile, status
from starlette.concurrency import run_in_threadpool

from producer_api.auth import Tenant
from producer_api.driving_videos import MEDIA_TYPES, DrivingVideo, DrivingVideoView
from producer_api.errors import ERROR_RESPONSES, error_responses
from producer_api.heavy import check_driving_video
from producer_api.services import ApiServices, Services, replicated
from producer_api.videos import MAX_VIDEO_BYTES
from render_core import keys
from render_core.errors import UnsupportedVideo, VideoTooLarge

router = APIRouter(prefix="/v1/driving-videos", tags=["driving videos"], responses=ERROR_RESPONSES)

CHUNK = 1 << 20


def _spool(upload: UploadFile, path: Path) -> tuple[int, str]:
    """Copy at most the limit to ``path``; answer the size and sha256."""
    digest, size = hashlib.sha256(), 0
    with path.open("wb") as out:
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > MAX_VIDEO_BYTES:
                raise VideoTooLarge(f"the video is over {MAX_VIDEO_BYTES // (1024 * 1024)} MB")
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise UnsupportedVideo("the video file is empty", code="empty_file")
    return size, digest.hexdigest()


def _store(services: ApiServices, record: DrivingVideo, path: Path) -> None:
    """The crop before the video, so a stored video always has its crop; then the record."""
    if record.face is not None:
        services.store.put_bytes(
            keys.driving_face_key(record.id),
            record.face.model_dump_json().encode(),
            "application/json",
        )
    services.store.put_file(record.video_key, path, MEDIA_TYPES[record.container])
    services.driving_videos.save(record)
    replicated(services)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a driving video",
    description=(
        "Multipart upload, file field `video`: mp4 or webm, at most 100 MB, 30 s and "
        "4096 px a side, with at least one frame; decoded frame by frame to its end "
        "before it is stored. A non-square video must show a face in its first frame: "
        "the motion is read from a crop around it (`face_box`). Renders name it by "
        "`driving_video_id`."
    ),
    responses=error_responses(
        400,
        413,
        415,
        422,
        429,
        s413="Over the byte or frame-size limits.",
        s415="Not an mp4 or webm video, or empty, or undecodable.",
        s422="Too long, no frames, or no face in a non-square video's first frame "
        "(`no_face_found`).",
    ),
)
async def register_driving_video(
    services: Services,
    tenant: Tenant,
    video: Annotated[
        UploadFile,
        File(
            description="The driving video (mp4 or webm).", json_schema_extra={"format": "binary"}
        ),
    ],
) -> DrivingVideoView:
    with tempfile.TemporaryDirectory(prefix="driving-video-") as folder:
        path = Path(folder) / "upload"
        size, sha256 = await run_in_threadpool(_spool, video, path)
        checked = await services.heavy.run(check_driving_video, path)
        video_id = uuid.uuid4().hex
        record = DrivingVideo(
            **checked.facts.model_dump(),
            id=video_id,
            tenant=tenant,
            video_key=keys.driving_video_key(video_id, checked.facts.container),
            video_sha256=sha256,
            size_bytes=size,
            face=checked.face,
        )
        await run_in_threadpool(_store, services, record, path)
    return DrivingVideoView.of(record)


@router.get("/{video_id}", summary="A registered driving video", responses=error_responses(404))
def get_driving_video(services: Services, tenant: Tenant, video_id: str) -> DrivingVideoView:
    return DrivingVideoView.of(services.driving_videos.get_for_tenant(tenant, video_id))
