"""Typed views of the API's JSON.

Response models ignore fields they do not know, so a newer server that adds fields
does not break an older client. Request models check types only: ranges and rules
(``intensity`` 0..1, one of ``emotion`` and ``driving_video_id``...) are the server's
to enforce, so the client never disagrees with it about what is valid.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Emotion(StrEnum):
    """The seven emotions a clip can show."""

    neutral = "neutral"
    happy = "happy"
    sad = "sad"
    angry = "angry"
    surprised = "surprised"
    fearful = "fearful"
    disgusted = "disgusted"


class JobStatus(StrEnum):
    """``queued → running → succeeded | failed | cancelled``; failed and cancelled may retry."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)


class FineControls(BaseModel):
    """Refinements on top of the emotion preset: -1..1 (``mouth_open`` 0..1), heads in degrees."""

    model_config = ConfigDict(extra="allow")

    smile: float | None = None
    eyebrow: float | None = None
    eye_open: float | None = None
    mouth_open: float | None = None
    head_pitch: float | None = None
    head_yaw: float | None = None
    head_roll: float | None = None


class RenderRequest(BaseModel):
    """One clip to render; fields left as None take the server's defaults.

    Also the ``request`` echoed in jobs and manifests (there every field is filled in).
    """

    model_config = ConfigDict(extra="allow")

    character_id: str
    emotion: Emotion | str | None = None
    driving_video_id: str | None = None
    intensity: float | None = None
    duration_ms: int | None = None
    fps: int | None = None
    size: int | None = None
    outputs: list[str] | None = None
    frame_format: str | None = None
    quality: int | None = None
    priority: str | None = None
    #: False: render anew even when an identical render exists or is under way.
    cache: bool | None = None
    controls: FineControls | None = None
    metadata: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The body the API expects: unset fields left out, so server defaults apply."""
        return self.model_dump(mode="json", exclude_none=True)


class RenderOptions(TypedDict, total=False):
    """The optional fields of a render request, as keyword arguments of ``render()``."""

    intensity: float
    duration_ms: int
    fps: int
    size: int
    outputs: list[str]
    frame_format: str
    quality: int
    priority: str
    cache: bool
    controls: FineControls | dict[str, float]
    metadata: dict[str, Any]


class Progress(_Response):
    frames_done: int = 0
    frames_total: int = 0

    @property
    def fraction(self) -> float:
        """0.0 to 1.0."""
        return self.frames_done / self.frames_total if self.frames_total else 0.0


class RendererInfo(_Response):
    name: str
    version: str


class JobError(_Response):
    """Why a job failed (or was last retried): ``code`` is one of the API's error codes."""

    code: str
    message: str
    retryable: bool = False


class Job(_Response):
    """A render job as the API shows it."""

    id: str
    status: JobStatus
    request: RenderRequest
    attempts: int = 0
    cancel_requested: bool = False
    progress: Progress = Field(default_factory=Progress)
    worker: str | None = None
    renderer: RendererInfo | None = None
    error: JobError | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    manifest_key: str | None = None
    outputs_expired: bool = False
    #: Once succeeded: "hit" (the outputs are ``rendered_by``'s, an identical earlier
    #: render) or "miss"; None when the render cache was not used.
    cache: str | None = None
    rendered_by: str | None = None
    #: While queued: jobs that start before this one; None otherwise.
    queue_position: int | None = None
    #: While queued: seconds until it is expected to start; None when the API cannot tell.
    estimated_start_s: float | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


class JobPage(_Response):
    """One page of ``GET /v1/renders``, newest first; ``next_cursor`` is None on the last."""

    jobs: list[Job]
    next_cursor: str | None = None


class FaceBox(_Response):
    left: float
    top: float
    right: float
    bottom: float


class DetectedFace(_Response):
    box: FaceBox
    score: float
    detector: str


class Character(_Response):
    """A registered portrait; renders name it by ``id``."""

    id: str
    name: str | None = None
    width: int
    height: int
    face: DetectedFace | None = None
    created_at: datetime


class DrivingVideo(_Response):
    """An uploaded driving video; renders name it by ``driving_video_id``."""

    id: str
    container: str
    duration_ms: int
    fps: float
    frame_count: int
    width: int
    height: int
    size_bytes: int
    face_box: FaceBox | None = None
    created_at: datetime


class ObjectEntry(_Response):
    """One stored output: what its bytes must be."""

    key: str
    size: int
    sha256: str


class FrameEntry(ObjectEntry):
    index: int


class RendererDescription(_Response):
    name: str
    version: str
    weights_fingerprint: str | None = None
    synthetic_weights: bool = False
    device: str | None = None
    precision: str | None = None
    machine: str | None = None


class Manifest(_Response):
    """A finished render's outputs, each with its size and sha256; written last by the worker."""

    job_id: str
    attempt: int
    request: RenderRequest
    renderer: RendererDescription
    fps: int
    width: int
    height: int
    frame_count: int
    frame_format: str = "png"
    frames: list[FrameEntry] = Field(default_factory=list)
    clip: ObjectEntry | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    #: "hit": these outputs were rendered by ``rendered_by`` for an identical request.
    cache: str | None = None
    rendered_by: str | None = None

    def frame(self, index: int) -> FrameEntry:
        """The entry of frame ``index``; KeyError when the render has no such frame."""
        for entry in self.frames:
            if entry.index == index:
                return entry
        raise KeyError(f"render {self.job_id} has no frame {index} in its manifest")


class WebhookCreated(_Response):
    """A registered webhook endpoint; the only answer that carries its signing secret."""

    id: str
    url: str
    events: list[str]
    secret: str
    previous_secret_expires_at: datetime | None = None


class Health(_Response):
    status: str


class Readiness(_Response):
    """``/readyz``: Redis answers and every render queue has a live worker."""

    status: str
    redis: str | None = None
    workers: dict[str, list[str]] = Field(default_factory=dict)
    queues_without_workers: list[str] = Field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.status == "ok"


class DownloadedOutputs(_Response):
    """Where ``download_outputs`` put a render's verified files."""

    folder: Path
    manifest: Manifest
    manifest_path: Path
    frames: list[Path]
    clip: Path | None
