"""Accepting render jobs: checks, tenant limits, admission, creation, then dispatch.

Order matters. The cheap read-only checks come first (unknown characters, a queue already
at its cap, a farm too busy for another interactive job; all they need is read in one
round trip), then the job store's creation script checks the queue cap again, takes the
tenant's rate tokens and creates the records and their places in the tenant's fair queue,
all in one atomic step. A refused submission creates nothing, and a batch is refused
whole. Dispatch follows; it may send
nothing (the broker is full) and that is fine: a worker's next turn sends it. Last, when
Redis replicas are configured, the answer waits until they hold the new jobs.

With an Idempotency-Key the job ids are fixed by the key's claim before anything is
stored, and every step may be repeated: a retry after a failure anywhere finishes the
same jobs, and a retry after success replays them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import redis

from producer_api import cache_plan
from producer_api.admission import Line, Place
from producer_api.cache_plan import Known, Plan
from producer_api.idempotency import body_fingerprint
from producer_api.services import ApiServices, replicated
from render_core.errors import (
    NotFound,
    Overloaded,
    QueueFull,
    QueueUnavailable,
    RateLimited,
    RenderServiceError,
    Throttled,
    UnstorableRecord,
)
from render_core.job_view import JobView
from render_core.jobs import QUEUE_FULL_RETRY_S, Fence
from render_core.records import RecordT, TenantRecords
from render_core.render_cache import CURRENT_RENDERER_KEY, CacheRaced
from render_core.replication import NotReplicated
from render_core.schema import JobError, JobRecord, JobStatus, Priority, RenderRequest
from render_core.tenant_stats import count_rejection

log = logging.getLogger(__name__)

# Plans of one submission against the cache before it is created without it.
PLAN_ATTEMPTS = 4
# Refusals that come before a job is stored: an idempotency key refused so is free again.
REFUSED_BEFORE_STORING = frozenset(
    {
        "character_not_found",
        "driving_video_not_found",
        UnstorableRecord.code,
        QueueFull.code,
        RateLimited.code,
        Overloaded.code,
    }
)


@dataclass(frozen=True)
class Snapshot:
    """What a submission's checks read, in one round trip: the inputs its requests name,
    the tenant's jobs queued or running, and both lines of the queue."""

    known: Known
    active: int
    lines: dict[Priority, Line]


def _found(
    tenant: str,
    store: TenantRecords[RecordT],
    ids: list[str],
    answers: Iterator[Any],
    *,
    code: str,
) -> dict[str, RecordT]:
    found = {}
    for record_id in ids:
        try:
            found[record_id] = store.of_tenant(tenant, record_id, next(answers))
        except NotFound as exc:
            what = store.kind.replace("_", " ")
            raise NotFound(f"{what} {record_id} not found", code=code) from exc
    return found


def _read(services: ApiServices, tenant: str, requests: list[RenderRequest]) -> Snapshot:
    """Everything the checks before creation need, read in one pipeline."""
    character_ids = list(dict.fromkeys(r.character_id for r in requests))
    video_ids = list(dict.fromkeys(r.driving_video_id for r in requests if r.driving_video_id))
    pipe = services.redis.pipeline(transaction=False)
    for character_id in character_ids:
        pipe.get(services.characters.key(character_id))
    for video_id in video_ids:
        pipe.get(services.driving_videos.key(video_id))
    services.jobs.read_active(pipe, tenant)
    services.admission.read_lines(pipe)
    pipe.get(CURRENT_RENDERER_KEY)
    try:
        answers = iter(pipe.execute())
    except redis.RedisError as exc:
        raise QueueUnavailable(f"job store unavailable: {exc}") from exc
    characters = _found(
        tenant, services.characters, character_ids, answers, code="character_not_found"
    )
    videos = _found(
        tenant, services.driving_videos, video_ids, answers, code="driving_video_not_found"
    )
    active = services.jobs.active_from(answers)
    lines = services.admission.lines_from(answers)
    renderer = cast("str | None", next(answers))
    return Snapshot(Known(characters, videos, renderer), active, lines)


def _admit(
    services: ApiServices, tenant: str, queued: list[RenderRequest], snapshot: Snapshot
) -> list[Place]:
    """Tenant cap and global admission for the jobs that will wait; raises what refuses."""
    limits = services.settings.limits_for(tenant)
    active = snapshot.active
    if active + len(queued) > limits.queued:
        raise QueueFull(
            f"tenant {tenant} has {active} jobs queued or running; {len(queued)} more would "
            f"pass its limit of {limits.queued}",
            retry_after_s=QUEUE_FULL_RETRY_S,
        )
    return services.admission.admit(tenant, queued, snapshot.lines)


def _store(
    services: ApiServices, tenant: str, planned: Plan, known: Known, if_absent: bool
) -> Plan | None:
    """Create the planned jobs; a plan overtaken by a concurrent change (a source retired,
    a leader finished) is planned again, and the last try goes without the cache. None:
    with ``if_absent``, the jobs exist already (made by a request this one outran)."""
    limits = services.settings.limits_for(tenant)
    for attempt in range(1, PLAN_ATTEMPTS + 1):
        try:
            stored = services.jobs.create(
                planned.records,
                if_absent=if_absent,
                max_queued=limits.queued,
                held=planned.held,
                guard=planned.guard,
                rate=limits.rate,
            )
        except CacheRaced:
            planned.discard(services)
            last = attempt == PLAN_ATTEMPTS - 1
            planned = cache_plan.plan(
                services, tenant, planned.originals, known, use_cache=not last
            )
            continue
        except BaseException:
            planned.discard(services)
            raise
        if not stored:
            planned.discard(services)
            return None
        return planned
    raise AssertionError("unreachable: the last plan does not use the cache")


def _create(
    services: ApiServices,
    tenant: str,
    requests: list[RenderRequest],
    job_ids: list[str] | None = None,
) -> tuple[list[JobRecord], list[JobView]] | None:
    """Check, admit and store the jobs, then dispatch what fits. ``job_ids`` (an
    idempotency key's) are created only if absent: None when they exist already."""
    snapshot = _read(services, tenant, requests)
    records = cache_plan.new_records(tenant, requests, job_ids)
    planned = cache_plan.plan(services, tenant, records, snapshot.known)
    try:
        try:
            waiting = {r.id: r.request for r in planned.queued}
            admitted = _admit(services, tenant, list(waiting.values()), snapshot)
            places = dict(zip(waiting, admitted, strict=True))
        except BaseException:
            planned.discard(services)
            raise
        # the exact queue cap and the rate are checked here
        stored = _store(services, tenant, planned, snapshot.known, if_absent=job_ids is not None)
    except (Throttled, Overloaded) as exc:
        count_rejection(services.redis, tenant, exc.code, len(requests))
        raise
    if stored is None:
        return None
    services.dispatcher.top_up(
        {r.request.priority for r in stored.queued if r.id not in stored.held}
    )
    views = []
    for record in stored.records:
        place = places.get(record.id)
        if record.status != JobStatus.queued:  # a cache hit: it succeeded already
            views.append(JobView.of(record, estimated_start_s=0.0))
        elif place is None:
            views.append(JobView.of(record))
        else:
            views.append(JobView.of(record, place.position, place.estimated_start_s))
    return stored.records, views


def _replicate(services: ApiServices, records: list[JobRecord], fence: Fence | None) -> None:
    """Wait for the replicas (when configured) to hold the jobs; the client hears 503 when
    they do not. Without a key (``fence`` None) the jobs are failed then (a running one
    stops at its next batch), so a 503 means nothing runs; with one they are left as they
    are, and the client's retry with the key answers them once they are replicated."""
    try:
        replicated(services)
    except NotReplicated as exc:
        if fence is None:
            _fail(services, [r for r in records if r.status == JobStatus.queued], exc.message)
        raise


def _fail(services: ApiServices, records: list[JobRecord], why: str) -> None:
    log.error("could not accept %d job(s): %s", len(records), why)
    error = JobError(code=QueueUnavailable.code, message=why, retryable=True)
    for record in records:
        try:
            services.jobs.fail(record.id, None, error)
        except RenderServiceError as exc:  # finished meanwhile: nothing left to stop
            log.warning("job %s not failed: %s", record.id, exc)


def _jobs_of(services: ApiServices, tenant: str, job_ids: list[str]) -> list[JobRecord]:
    """The tenant's jobs, read in one round trip (a replayed batch's hundred included)."""
    records = []
    for job_id, record in zip(job_ids, services.jobs.get_many(job_ids), strict=True):
        if record is None or record.tenant != tenant:
            raise services.jobs.not_found(job_id)
        records.append(record)
    return records


def current_views(services: ApiServices, records: list[JobRecord]) -> list[JobView]:
    """The jobs, each with its place in line while it is still waiting (one snapshot of the
    lines for all of them)."""
    waiting = any(r.status == JobStatus.queued for r in records)
    lines = services.admission.lines() if waiting else {}
    views = []
    for record in records:
        place = services.admission.place(record, lines) if waiting else None
        if place is None:
            views.append(JobView.of(record))
        else:
            views.append(JobView.of(record, place.position, place.estimated_start_s))
    return views


def current_view(services: ApiServices, record: JobRecord) -> JobView:
    (view,) = current_views(services, [record])
    return view


def _make(
    services: ApiServices,
    tenant: str,
    requests: list[RenderRequest],
    job_ids: list[str],
    fence: Fence,
) -> list[JobView]:
    """Create the jobs under the ids the key's claim fixed; every step may be repeated."""
    if not any(services.jobs.get_many(job_ids)):
        created = _create(services, tenant, requests, job_ids)
        if created is not None:
            records, views = created
            _replicate(services, records, fence)
            return views
    # Made by an earlier try, or meanwhile by a request this one outran: queued ones wait
    # in their tenant's fair queue, so only the replicas are left to wait for.
    _replicate(services, [], fence)
    records = _jobs_of(services, tenant, job_ids)
    return current_views(services, records)


def submit(
    services: ApiServices,
    tenant: str,
    requests: list[RenderRequest],
    idempotency_key: str | None,
    route: str,
) -> list[JobView]:
    """Create and enqueue, or replay the jobs an earlier request with the same key made."""
    if idempotency_key is None:
        created = _create(services, tenant, requests)
        assert created is not None  # new ids are always absent
        records, views = created
        _replicate(services, records, None)
        return views
    fingerprint = body_fingerprint(route, [r.model_dump(mode="json") for r in requests])
    keys = services.idempotency
    claim = keys.claim(tenant, idempotency_key, fingerprint, len(requests))
    if claim.done:
        records = _jobs_of(services, tenant, claim.job_ids)
        return current_views(services, records)
    try:
        fence = keys.fence(tenant, idempotency_key, claim)
        views = _make(services, tenant, requests, claim.job_ids, fence)
    except RenderServiceError as exc:
        # Refused before anything was stored (an unknown character, a limit): the key is
        # free again. Otherwise the entry stays, and the client's retry resumes it at once.
        with contextlib.suppress(QueueUnavailable):
            end = keys.forget if exc.code in REFUSED_BEFORE_STORING else keys.release
            end(tenant, idempotency_key, claim)
        raise
    try:
        keys.complete(tenant, idempotency_key, claim)
    except QueueUnavailable as exc:  # the jobs are stored: a retry only replays them
        log.warning("idempotency key left unfinished (a retry will finish it): %s", exc)
    return views
