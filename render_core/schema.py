"""The job contract: the render request a client sends and the job record we keep.

The API shows the job record, never Celery's task states; the record lives in Redis
(``render_core.jobs``) and is the one source of truth about a job.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from render_core.emotions import DEFAULT_INTENSITY, Emotion, FineControls
from render_core.face_region import DetectedFace, FaceRegion

MAX_METADATA_KEYS = 16
MAX_METADATA_KEY_LENGTH = 64
MAX_METADATA_TEXT_LENGTH = 240
MAX_METADATA_INTEGER = 2**53 - 1

# Metadata is a flat object of scalars: its size and depth are bounded by the schema
# itself (16 keys of at most 64 characters, texts of at most 240), so every client can
# check it before sending, and every record that holds it reads back.
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_METADATA_KEY_LENGTH)]
MetadataValue = (
    Annotated[str, StringConstraints(max_length=MAX_METADATA_TEXT_LENGTH)]
    | bool
    # Integers a JavaScript client reads exactly (2**53 - 1).
    | Annotated[int, Field(ge=-MAX_METADATA_INTEGER, le=MAX_METADATA_INTEGER)]
    # Infinity and NaN are not JSON: stored, they would read back as null.
    | Annotated[float, Field(allow_inf_nan=False)]
    | None
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Priority(StrEnum):
    """Interactive jobs are consumed before batch jobs."""

    interactive = "interactive"
    batch = "batch"


class OutputKind(StrEnum):
    frames = "frames"
    mp4 = "mp4"


class FrameFormat(StrEnum):
    png = "png"
    webp = "webp"
    jpeg = "jpeg"

    @property
    def media_type(self) -> str:
        return f"image/{self.value}"


class CacheResult(StrEnum):
    """``hit``: the outputs are an earlier identical render's; ``miss``: rendered here."""

    hit = "hit"
    miss = "miss"


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


EXAMPLE_REQUEST = {
    "character_id": "3f9d2a4c8b7e4d1f9a6b5c4d3e2f1a0b",
    "emotion": "happy",
    "intensity": 0.8,
    "duration_ms": 2000,
    "fps": 25,
    "size": 512,
    "outputs": ["frames", "mp4"],
    "priority": "interactive",
    "metadata": {"scene": "greeting"},
}


def _request_rules(schema: dict[str, Any]) -> None:
    """State in the JSON schema the rules the model validators enforce, so that a request
    valid against the published schema is never refused for a rule it hides."""
    null: dict[str, Any] = {"type": "null"}
    given: dict[str, Any] = {"not": null}
    schema["examples"] = [EXAMPLE_REQUEST]
    schema["allOf"] = [
        {
            "description": "Exactly one of emotion and driving_video_id.",
            "oneOf": [
                {
                    "title": "EmotionMotion",
                    "required": ["emotion"],
                    "properties": {"emotion": given, "driving_video_id": null},
                },
                {
                    "title": "DrivingVideoMotion",
                    "required": ["driving_video_id"],
                    "properties": {"driving_video_id": given, "emotion": null},
                },
            ],
        },
        {
            "description": "quality only with webp or jpeg frames.",
            "anyOf": [
                {"properties": {"quality": null}},
                {
                    "required": ["frame_format"],
                    "properties": {"frame_format": {"enum": ["webp", "jpeg"]}},
                },
            ],
        },
    ]


class RenderRequest(BaseModel):
    """What a client asks for: a character showing an emotion for a while."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_request_rules)

    character_id: str = Field(min_length=1, max_length=64, description="A registered character.")
    emotion: Emotion | None = Field(
        None, description="One of the seven emotions; leave out when driving_video_id is given."
    )
    driving_video_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="A registered driving video whose motion the character follows.",
    )
    controls: FineControls | None = Field(None, description="Fine controls on top of the preset.")
    # Numbers and flags are strict: true, "0.5" or 2000.0 are refused, not converted.
    intensity: float = Field(
        DEFAULT_INTENSITY, ge=0.0, le=1.0, strict=True, allow_inf_nan=False,
        description="0 is neutral.",
    )  # fmt: skip
    duration_ms: int = Field(2000, ge=200, le=10_000, strict=True, description="Clip length.")
    fps: int = Field(25, ge=1, le=60, strict=True, description="Frames a second.")
    size: Literal[256, 512] = Field(512, description="Square output side in pixels.")
    outputs: list[OutputKind] = Field(
        default_factory=lambda: [OutputKind.frames, OutputKind.mp4],
        min_length=1,
        max_length=len(OutputKind),
        description="Which outputs to write: frames, mp4 or both.",
    )
    frame_format: FrameFormat = Field(FrameFormat.png, description="png, webp or jpeg frames.")
    quality: int | None = Field(
        None, ge=1, le=100, strict=True, description="webp/jpeg quality (default 90); not for png."
    )
    priority: Priority = Field(Priority.interactive, description="Queue class.")
    cache: bool = Field(
        True,
        strict=True,
        description="false: render anew even when an identical render of this tenant exists "
        "or is under way (by default such a request succeeds from it at once).",
    )
    metadata: dict[MetadataKey, MetadataValue] | None = Field(
        None,
        max_length=MAX_METADATA_KEYS,
        description=f"Echoed back in the job and manifest: a flat JSON object of at most "
        f"{MAX_METADATA_KEYS} keys (1 to {MAX_METADATA_KEY_LENGTH} characters) whose values "
        f"are texts of at most {MAX_METADATA_TEXT_LENGTH} characters, numbers, booleans or null.",
    )

    @field_validator("size", mode="before")
    @classmethod
    def _size_is_a_whole_number(cls, value: object) -> object:
        if isinstance(value, float):  # a literal would take 256.0 as 256
            raise ValueError("size is a whole number: 256 or 512")
        return value

    @field_validator("outputs")
    @classmethod
    def _outputs_unique(cls, value: list[OutputKind]) -> list[OutputKind]:
        if len(set(value)) != len(value):
            raise ValueError("outputs must not repeat an entry")
        return value

    @model_validator(mode="after")
    def _one_motion_source(self) -> RenderRequest:
        if (self.emotion is None) == (self.driving_video_id is None):
            raise ValueError("give exactly one of emotion and driving_video_id")
        return self

    @model_validator(mode="after")
    def _quality_needs_lossy_format(self) -> RenderRequest:
        if self.quality is not None and self.frame_format == FrameFormat.png:
            raise ValueError("quality applies to webp and jpeg frames, not png")
        return self

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration_ms * self.fps / 1000))


class BatchRenderRequest(BaseModel):
    """Up to 100 render requests accepted or refused together."""

    model_config = ConfigDict(extra="forbid")

    requests: list[RenderRequest] = Field(min_length=1, max_length=100)


class Progress(BaseModel):
    frames_done: int = 0
    frames_total: int = 0


class RendererInfo(BaseModel):
    name: str
    version: str


class JobError(BaseModel):
    code: str
    message: str
    retryable: bool


class TenantRecord(BaseModel):
    """Something a tenant registered and only that tenant may see."""

    id: str
    tenant: str


class JobRecord(TenantRecord):
    """Everything we know about one job; stored as JSON in Redis."""

    request: RenderRequest
    status: JobStatus = JobStatus.queued
    attempts: int = Field(0, description="Attempts started so far.")
    attempt_token: str | None = Field(None, description="Owner of the current attempt.")
    task_id: str | None = Field(None, description="Celery id of the latest message sent for it.")
    cancel_requested: bool = False
    progress: Progress = Field(default_factory=Progress)
    worker: str | None = None
    renderer: RendererInfo | None = None
    error: JobError | None = None
    created_at: datetime = Field(default_factory=utc_now)
    enqueued_at: datetime | None = Field(None, description="When its latest message was sent.")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    manifest_key: str | None = None
    output_prefix: str | None = None
    outputs_expired: bool = False
    cache_key: str | None = Field(
        None, description="The request's render-cache key (tenant, inputs, request); None: off."
    )
    cache: CacheResult | None = None
    rendered_by: str | None = Field(None, description="The job whose render the outputs are.")

    @model_validator(mode="after")
    def _progress_total(self) -> JobRecord:
        if self.progress.frames_total == 0:
            self.progress.frames_total = self.request.frame_count
        return self


class Character(TenantRecord):
    """A registered portrait."""

    name: str | None
    width: int
    height: int
    portrait_key: str
    portrait_sha256: str
    face: FaceRegion | None = Field(
        None, description="The face and its crop, found at registration (None before faces)."
    )
    created_at: datetime = Field(default_factory=utc_now)


class CharacterView(BaseModel):
    id: str
    name: str | None
    width: int
    height: int
    face: DetectedFace | None
    created_at: datetime

    @classmethod
    def of(cls, character: Character) -> CharacterView:
        return cls.model_validate(character.model_dump())
