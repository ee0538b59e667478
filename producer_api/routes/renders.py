"""Render jobs: submit (one or a batch), read, list, cancel and retry."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel

from producer_api.auth import Tenant
from producer_api.errors import ERROR_RESPONSES, error_responses
from producer_api.idempotency import MAX_KEY_LENGTH
from producer_api.paging import Cursor
from producer_api.services import Services
from producer_api.submission import current_view, current_views, submit
from render_core.job_view import JobView
from render_core.schema import BatchRenderRequest, JobStatus, RenderRequest

router = APIRouter(prefix="/v1/renders", tags=["renders"], responses=ERROR_RESPONSES)
# Submissions: an unparsable body, an unknown character or driving video, a reused
# Idempotency-Key with another body (or one still in flight), a tenant's limits, a farm
# too busy for another interactive job.
SUBMISSION = error_responses(
    400,
    404,
    409,
    429,
    503,
    s404="An unknown character or driving video (`character_not_found`, "
    "`driving_video_not_found`).",
    s409="The Idempotency-Key was used with another body (`idempotency_key_reused`), or a "
    "request with it is still being handled (`idempotency_in_progress`, with Retry-After).",
    s503="`overloaded`: an interactive render would wait longer than the farm allows "
    "(`Retry-After` says when to try again, or submit it as batch); "
    "`queue_unavailable` / `storage_unavailable`: Redis or storage did not answer; "
    "`replication_unavailable`: no Redis replica took the jobs in time.",
    retry_after=(429, 503),
)
# Moves of one job: unknown, or in the wrong state for the move.
MOVE = error_responses(404, 409, s409="The job is in the wrong state for that.")


class BatchJobs(BaseModel):
    jobs: list[JobView]


class JobPage(BaseModel):
    jobs: list[JobView]
    next_cursor: str | None


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="Repeat a request safely: the same key and body return the same jobs for "
        "24 hours; the same key with another body answers 409.",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a render",
    responses=SUBMISSION,
)
def submit_render(
    services: Services,
    tenant: Tenant,
    request: RenderRequest,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobView:
    (view,) = submit(services, tenant, [request], idempotency_key, "renders")
    response.headers["Location"] = f"/v1/renders/{view.id}"
    return view


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit up to 100 renders, all or nothing",
    responses=SUBMISSION,
)
def submit_batch(
    services: Services,
    tenant: Tenant,
    batch: BatchRenderRequest,
    idempotency_key: IdempotencyKey = None,
) -> BatchJobs:
    views = submit(services, tenant, batch.requests, idempotency_key, "renders/batch")
    return BatchJobs(jobs=views)


@router.get("", summary="List renders, newest first")
def list_renders(
    services: Services,
    tenant: Tenant,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> JobPage:
    page = services.jobs.list_page(tenant, status_filter, limit, cursor)
    views = current_views(services, page.jobs)
    return JobPage(jobs=views, next_cursor=page.next_cursor)


@router.get("/{job_id}", summary="A render's status and progress", responses=error_responses(404))
def get_render(services: Services, tenant: Tenant, job_id: str) -> JobView:
    return current_view(services, services.jobs.get_for_tenant(tenant, job_id))


@router.post("/{job_id}/cancel", summary="Cancel a queued or running render", responses=MOVE)
def cancel_render(services: Services, tenant: Tenant, job_id: str) -> JobView:
    services.jobs.get_for_tenant(tenant, job_id)
    record = services.jobs.request_cancel(job_id)
    if record.task_id is not None and record.status == JobStatus.cancelled:
        services.celery.control.revoke(record.task_id)
    return JobView.of(record)


@router.post(
    "/{job_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Retry a failed or cancelled render as a new attempt",
    responses=MOVE,
)
def retry_render(services: Services, tenant: Tenant, job_id: str) -> JobView:
    services.jobs.get_for_tenant(tenant, job_id)
    record = services.jobs.retry(job_id, task_id=uuid.uuid4().hex)
    # The answer is the move (queued, at its old place in its tenant's fair queue), not
    # what a worker made of it after the dispatch that follows.
    view = current_view(services, record)
    services.dispatcher.top_up()
    return view
