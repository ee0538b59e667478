"""The render manifest: written last, it is the commit point of a render's outputs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from render_core.schema import CacheResult, RenderRequest, utc_now


class ObjectEntry(BaseModel):
    key: str
    size: int
    sha256: str


class FrameEntry(ObjectEntry):
    index: int


class RendererDescription(BaseModel):
    name: str
    version: str
    weights_fingerprint: str | None = None
    synthetic_weights: bool = False
    device: str | None = None
    precision: str | None = None
    # The worker's CPU architecture (x86_64, aarch64): fleets mix both.
    machine: str | None = None


class RenderManifest(BaseModel):
    """Everything a consumer needs to trust and find a render's outputs."""

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
    created_at: datetime = Field(default_factory=utc_now)
    cache: CacheResult | None = Field(
        None,
        description="hit: these outputs were rendered by rendered_by for an identical request.",
    )
    rendered_by: str | None = Field(None, description="The job that rendered these outputs.")
