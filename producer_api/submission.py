"""Accepting render jobs: checks, tenant limits, admission, creation, then dispatch.

Order matters. The cheap read-only checks come first (unknown characters, a queue already
at its cap, a farm too busy for another interactive job), then the rate limiter takes its
tokens, then the job store creates the records and their places in the tenant's fair
queue in one MULTI, where the queue cap is checked again under WATCH. A refused
submission creates nothing, and a batch is refused whole. Dispatch follows; it may send
nothing (the broker is full) and that is fine: a worker's next turn sends it.
"""

from __future__ import annotations

from producer_api import cache_plan
from producer_api.admission import Place
from producer_api.cache_plan import Plan
from producer_api.idempotency import body_fingerprint
from producer_api.services import ApiServices
from render_core.errors import NotFound, Overloaded, QueueFull, Throttled
from render_core.job_view import JobView
from render_core.jobs import QUEUE_FULL_RETRY_S
from render_core.render_cache import CacheRaced
from render_core.schema import JobRecord, JobStatus, RenderRequest
from render_core.tenant_stats import count_rejection

# Plans of one submission against the cache before it is created without it.
PLAN_ATTEMPTS = 4


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


def _admit(services: ApiServices, tenant: str, queued: list[RenderRequest]) -> list[Place]:
    """Tenant cap and global admission for the jobs that will wait; raises what refuses."""
    limits = services.settings.limits_for(tenant)
    active = services.jobs.active_count(tenant)
    if active + len(queued) > limits.queued:
        raise QueueFull(
            f"tenant {tenant} has {active} jobs queued or running; {len(queued)} more would "
            f"pass its limit of {limits.queued}",
            retry_after_s=QUEUE_FULL_RETRY_S,
        )
    return services.admission.admit(tenant, queued)


def _store(services: ApiServices, tenant: str, planned: Plan) -> Plan:
    """Create the planned jobs; a plan overtaken by a concurrent change (a source retired,
    a leader finished) is planned again, and the last try goes without the cache."""
    for attempt in range(1, PLAN_ATTEMPTS + 1):
        try:
            services.jobs.create(
                planned.records,
                max_queued=services.settings.limits_for(tenant).queued,
                held=planned.held,
                guard=planned.guard,
            )
            return planned
        except CacheRaced:
            planned.discard(services)
            last = attempt == PLAN_ATTEMPTS - 1
            planned = cache_plan.plan(services, tenant, planned.originals, use_cache=not last)
        except BaseException:
            planned.discard(services)
            raise
    raise AssertionError("unreachable: the last plan does not use the cache")


def _create(services: ApiServices, tenant: str, requests: list[RenderRequest]) -> list[JobView]:
    _check_characters(services, tenant, requests)
    _check_driving_videos(services, tenant, requests)
    planned = cache_plan.plan(services, tenant, cache_plan.new_records(tenant, requests))
    try:
        try:
            waiting = {r.id: r.request for r in planned.queued}
            admitted = _admit(services, tenant, list(waiting.values()))
            places = dict(zip(waiting, admitted, strict=True))
            rate = services.settings.limits_for(tenant).rate
            services.rate_limiter.take(tenant, rate, len(requests))
        except BaseException:
            planned.discard(services)
            raise
        planned = _store(services, tenant, planned)  # the exact queue cap is checked here
    except (Throttled, Overloaded) as exc:
        count_rejection(services.redis, tenant, exc.code, len(requests))
        raise
    services.dispatcher.top_up()
    views = []
    for record in planned.records:
        place = places.get(record.id)
        if record.status != JobStatus.queued:  # a cache hit: it succeeded already
            views.append(JobView.of(record, estimated_start_s=0.0))
        elif place is None:
            views.append(JobView.of(record))
        else:
            views.append(JobView.of(record, place.position, place.estimated_start_s))
    return views


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


def submit(
    services: ApiServices,
    tenant: str,
    requests: list[RenderRequest],
    idempotency_key: str | None,
    route: str,
) -> list[JobView]:
    """Create and enqueue, or replay the jobs an earlier request with the same key made."""
    if idempotency_key is None:
        return _create(services, tenant, requests)
    fingerprint = body_fingerprint(route, [r.model_dump(mode="json") for r in requests])
    earlier = services.idempotency.claim(tenant, idempotency_key, fingerprint)
    if earlier is not None:
        records = [services.jobs.get_for_tenant(tenant, job_id) for job_id in earlier]
        return current_views(services, records)
    try:
        views = _create(services, tenant, requests)
    except BaseException:
        services.idempotency.release(tenant, idempotency_key)
        raise
    services.idempotency.complete(tenant, idempotency_key, fingerprint, [v.id for v in views])
    return views
