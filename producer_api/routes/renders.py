"""Render jobs: submit (one or a batch), read, list, cancel and retry."""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel

from producer_api.auth import Tenant
from producer_api.errors import ERROR_RESPONSES, error_responses
from producer_api.idempotency import MAX_KEY_LENGTH, body_fingerprint
from producer_api.paging import Cursor
from producer_api.services import ApiServices, Services, replicated
from render_core.errors import (
    NotFound,
    QueueUnavailable,
    RenderServiceError,
    UnstorableRecord,
)
from render_core.jobs import Fence, FenceLost
from render_core.queue import NotEnqueued, enqueue
from render_core.replication import NotReplicated
from render_core.schema import (
    BatchRenderRequest,
    JobError,
    JobRecord,
    JobStatus,
    JobView,
    RenderRequest,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/renders", tags=["renders"], responses=ERROR_RESPONSES)
# Submissions: an unparsable body, an unknown character or driving video, a reused
# Idempotency-Key with another body (or one still in flight).
SUBMISSION = error_responses(
    400,
    404,
    409,
    s404="An unknown character or driving video (`character_not_found`, "
    "`driving_video_not_found`).",
    s409="The Idempotency-Key was used with another body (`idempotency_key_reused`), or a "
    "request with it is still being handled (`idempotency_in_progress`, with Retry-After).",
)
# Refusals that come before a job is stored: an idempotency key refused so is free again.
REFUSED_BEFORE_STORING = frozenset(
    {"character_not_found", "driving_video_not_found", UnstorableRecord.code}
)
# Moves of one job: unknown, or in the wrong state for the move.
MOVE = error_responses(404, 409, s409="The job is in the wrong state for that.")


class BatchJobs(BaseModel):
    jobs: list[JobView]


class JobPage(BaseModel):
    jobs: list[JobView]
    next_cursor: str | None


def _check_characters(services: ApiServices, tenant: str, requests: list[RenderRequest]) -> None:
    for character_id in {r.character_id for r in requests}:
        try:
            services.characters.get_for_tenant(tenant, character_id)
        except NotFound as exc:
            raise NotFound(
                f"character {character_id} not found", code="character_not_found"
            ) from exc


def _check_driving_videos(
    services: ApiServices, tenant: str, requests: list[RenderRequest]
) -> None:
    for video_id in {r.driving_video_id for r in requests if r.driving_video_id}:
        try:
            services.driving_videos.get_for_tenant(tenant, video_id)
        except NotFound as exc:
            raise NotFound(
                f"driving video {video_id} not found", code="driving_video_not_found"
            ) from exc


def _enqueue(services: ApiServices, records: list[JobRecord], fence: Fence | None = None) -> None:
    """Send the jobs, then wait for the replicas (when configured) to hold them and their
    messages; the client hears 503 when either fails.

    A job whose message could not be sent is failed: nothing can have started it, and a
    retry with the same Idempotency-Key sends it again. A job no replica took in time may
    already be running (its message went out): without a key it is failed (stopped at its
    next batch), so a 503 means nothing runs; with a key (``fence``, the key's lease) it is
    left as it is, and the client's retry with the key answers it once it is replicated.
    A request whose lease ran out (slow, its client retried) fails nothing: the retry that
    took the key over owns the jobs now."""
    try:
        enqueue(services.celery, services.settings, services.jobs, records)
        replicated(services)
    except NotEnqueued as exc:
        _fail(services, exc.unsent, exc.message, fence)
        raise QueueUnavailable("the queue is unavailable; retry later") from exc
    except NotReplicated as exc:
        if fence is None:
            _fail(services, records, exc.message, None)
        raise


def _fail(services: ApiServices, records: list[JobRecord], why: str, fence: Fence | None) -> None:
    log.error("could not accept %d job(s): %s", len(records), why)
    error = JobError(code=QueueUnavailable.code, message=why, retryable=True)
    for record in records:
        try:
            services.jobs.fail(record.id, None, error, fence=fence)
        except FenceLost:
            log.warning("job %s left to the request that took its key over", record.id)


def _create(services: ApiServices, tenant: str, requests: list[RenderRequest]) -> list[JobRecord]:
    _check_characters(services, tenant, requests)
    _check_driving_videos(services, tenant, requests)
    records = [
        JobRecord(id=uuid.uuid4().hex, tenant=tenant, request=r, task_id=uuid.uuid4().hex)
        for r in requests
    ]
    services.jobs.create(records)
    _enqueue(services, records)
    return records


def _unsent(services: ApiServices, record: JobRecord) -> JobRecord | None:
    """A job of an earlier try that still needs its message: never sent (that try died in
    between), or failed because the queue refused it (it never ran); None otherwise."""
    if record.status == JobStatus.queued and record.enqueued_at is None:
        return record
    never_sent = record.error is not None and record.error.code == QueueUnavailable.code
    if record.status == JobStatus.failed and never_sent and record.attempts == 0:
        return services.jobs.retry(record.id, task_id=uuid.uuid4().hex)
    return None


def _make(
    services: ApiServices,
    tenant: str,
    requests: list[RenderRequest],
    job_ids: list[str],
    fence: Fence,
) -> list[JobRecord]:
    """Create the jobs under the ids the key's claim fixed, and send them; every step may
    be repeated, so a retry after a failure anywhere finishes the same jobs."""
    existing = services.jobs.get_many(job_ids)
    if not any(existing):
        _check_characters(services, tenant, requests)
        _check_driving_videos(services, tenant, requests)
        records = [
            JobRecord(id=job_id, tenant=tenant, request=r, task_id=uuid.uuid4().hex)
            for job_id, r in zip(job_ids, requests, strict=True)
        ]
        if services.jobs.create(records, if_absent=True):
            _enqueue(services, records, fence)
            return records
        existing = services.jobs.get_many(job_ids)  # made meanwhile by a request it outran
    found = [record for record in existing if record is not None]
    unsent = [job for job in (_unsent(services, record) for record in found) if job]
    _enqueue(services, unsent, fence)
    return [services.jobs.get_for_tenant(tenant, job_id) for job_id in job_ids]


def _submit(
    services: ApiServices,
    tenant: str,
    requests: list[RenderRequest],
    idempotency_key: str | None,
    route: str,
) -> list[JobRecord]:
    """Create and enqueue, or replay the jobs an earlier request with the same key made."""
    if idempotency_key is None:
        return _create(services, tenant, requests)
    fingerprint = body_fingerprint(route, [r.model_dump(mode="json") for r in requests])
    keys = services.idempotency
    claim = keys.claim(tenant, idempotency_key, fingerprint, len(requests))
    if claim.done:
        return [services.jobs.get_for_tenant(tenant, job_id) for job_id in claim.job_ids]
    try:
        fence = keys.fence(tenant, idempotency_key, claim)
        records = _make(services, tenant, requests, claim.job_ids, fence)
    except RenderServiceError as exc:
        # Refused before anything was stored (an unknown character): the key is free
        # again. Otherwise the entry stays, and the client's retry resumes it at once.
        with contextlib.suppress(QueueUnavailable):
            end = keys.forget if exc.code in REFUSED_BEFORE_STORING else keys.release
            end(tenant, idempotency_key, claim)
        raise
    try:
        keys.complete(tenant, idempotency_key, claim)
    except QueueUnavailable as exc:  # the jobs are stored and sent: a retry only replays
        log.warning("idempotency key left unfinished (a retry will finish it): %s", exc)
    return records


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
    (record,) = _submit(services, tenant, [request], idempotency_key, "renders")
    response.headers["Location"] = f"/v1/renders/{record.id}"
    return JobView.of(record)


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
    records = _submit(services, tenant, batch.requests, idempotency_key, "renders/batch")
    return BatchJobs(jobs=[JobView.of(r) for r in records])


@router.get("", summary="List renders, newest first")
def list_renders(
    services: Services,
    tenant: Tenant,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> JobPage:
    page = services.jobs.list_page(tenant, status_filter, limit, cursor)
    return JobPage(jobs=[JobView.of(r) for r in page.jobs], next_cursor=page.next_cursor)


@router.get("/{job_id}", summary="A render's status and progress", responses=error_responses(404))
def get_render(services: Services, tenant: Tenant, job_id: str) -> JobView:
    return JobView.of(services.jobs.get_for_tenant(tenant, job_id))


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
    _enqueue(services, [record])
    return JobView.of(record)
