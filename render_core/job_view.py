"""The job as the API shows it: the record without its internal bookkeeping, plus where
a queued job stands in line (which the record cannot know; the API computes it)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from render_core.schema import (
    CacheResult,
    JobError,
    JobRecord,
    JobStatus,
    Progress,
    RendererInfo,
    RenderRequest,
)


class JobView(BaseModel):
    """The job as the API shows it: the record without internal bookkeeping."""

    id: str
    status: JobStatus
    request: RenderRequest
    attempts: int
    cancel_requested: bool
    progress: Progress
    worker: str | None
    renderer: RendererInfo | None
    error: JobError | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    manifest_key: str | None
    outputs_expired: bool
    cache: CacheResult | None = Field(
        None,
        description="Once succeeded: hit (the outputs are those of an identical earlier "
        "render of this tenant, rendered_by) or miss (rendered for it); null when the "
        "render cache was not used.",
    )
    rendered_by: str | None = Field(
        None, description="The job that rendered the outputs (itself, unless a cache hit)."
    )
    queue_position: int | None = Field(
        None,
        description="While queued: how many jobs start before this one (higher priorities, "
        "messages already handed to workers, and the other tenants' turns); null otherwise.",
    )
    estimated_start_s: float | None = Field(
        None,
        description="While queued: seconds until it is expected to start, from the jobs "
        "ahead, the live workers and the recent time per job; null when there is no live "
        "worker or no finished job to learn from yet, and once it is no longer queued.",
    )

    @classmethod
    def of(
        cls, record: JobRecord, position: int | None = None, estimated_start_s: float | None = None
    ) -> JobView:
        """Built from the record's own (validated) values, not validated again."""
        return cls.model_construct(
            **{name: getattr(record, name) for name in RECORD_FIELDS},
            queue_position=position,
            estimated_start_s=None if estimated_start_s is None else round(estimated_start_s, 1),
        )


# The view's fields a record holds (all but the place in line).
RECORD_FIELDS = tuple(
    name for name in JobView.model_fields if name not in {"queue_position", "estimated_start_s"}
)
