"""Registered driving videos: one JSON record per video in Redis; the file is in storage.

A render that names a driving video follows its motion instead of an emotion preset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import redis
from pydantic import BaseModel, Field

from render_core.face_region import FaceBox, FaceRegion
from render_core.records import TenantRecords
from render_core.schema import TenantRecord, utc_now

Container = Literal["mp4", "webm"]
MEDIA_TYPES: dict[str, str] = {"mp4": "video/mp4", "webm": "video/webm"}


class DrivingVideoFacts(BaseModel):
    """What decoding the whole video found out (not what its header claims)."""

    container: Container
    codec: str
    duration_ms: int = Field(ge=0)
    fps: float = Field(ge=0, description="Frames a second, frame_count over the duration.")
    frame_count: int = Field(ge=1)
    width: int = Field(ge=1)
    height: int = Field(ge=1)


class DrivingVideo(DrivingVideoFacts, TenantRecord):
    video_key: str
    video_sha256: str
    size_bytes: int
    face: FaceRegion | None = Field(
        None, description="Non-square videos: the face crop the motion is read from."
    )
    created_at: datetime = Field(default_factory=utc_now)


class DrivingVideoView(BaseModel):
    id: str
    container: Container
    duration_ms: int
    fps: float
    frame_count: int
    width: int
    height: int
    size_bytes: int
    face_box: FaceBox | None = Field(
        description="Where the face was found in the first frame of a non-square video; its "
        "crop is what drives the render. Square videos are used whole, already cropped."
    )
    created_at: datetime

    @classmethod
    def of(cls, video: DrivingVideo) -> DrivingVideoView:
        face_box = video.face.box if video.face is not None else None
        return cls.model_validate({**video.model_dump(), "face_box": face_box})


class DrivingVideoStore(TenantRecords[DrivingVideo]):
    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client, "driving_video", DrivingVideo)
