"""A submission against the render cache: which new jobs are hits, followers or leaders.

The API keys each cacheable request on what it knows (tenant, the inputs' content, the
canonical request) and takes the renderer part from the last renderer a worker announced.
A request whose render already succeeded for that renderer is a *hit*: a new job created
succeeded, with its own manifest naming the same outputs (no worker involved). One whose
identical render is queued or running *follows* it (single flight). The first of a kind
*leads*. What each decision relies on is checked again under WATCH when the jobs are
created (``render_cache.Guard``); if it changed, the submission is planned again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import redis

from producer_api.driving_videos import DrivingVideo
from producer_api.services import ApiServices
from render_core import cache_keys, keys
from render_core.cache_guards import FollowGuard, Guards, HitGuard, LeadGuard
from render_core.cache_hits import write_hit_manifest
from render_core.errors import NotFound
from render_core.render_cache import (
    CacheSource,
    entry_key,
    flight_key,
    job_key,
    retiring_key,
    usable_record,
)
from render_core.schema import (
    CacheResult,
    Character,
    JobRecord,
    JobStatus,
    RenderRequest,
    utc_now,
)


@dataclass
class Plan:
    originals: list[JobRecord]  # the new jobs as they were before any decision
    records: list[JobRecord]
    held: set[str] = field(default_factory=set)  # followers: out of the fair queue
    guard: Guards = field(default_factory=Guards)

    @property
    def queued(self) -> list[JobRecord]:
        return [r for r in self.records if r.status == JobStatus.queued]

    def discard(self, services: ApiServices) -> None:
        """A plan not carried out: its hits' manifests go (no record names them)."""
        for record in self.records:
            if record.cache == CacheResult.hit:
                services.store.delete_prefix(keys.cache_hit_prefix(record.id))


def new_records(
    tenant: str, requests: list[RenderRequest], job_ids: list[str] | None = None
) -> list[JobRecord]:
    """The jobs of a submission, ids fixed before any planning (a re-plan keeps them):
    ``job_ids`` when an idempotency key's claim fixed them, else new ones."""
    ids = job_ids if job_ids is not None else [uuid.uuid4().hex for _ in requests]
    return [
        JobRecord(id=job_id, tenant=tenant, request=r, task_id=uuid.uuid4().hex)
        for job_id, r in zip(ids, requests, strict=True)
    ]


@dataclass(frozen=True)
class Known:
    """What the submission read before planning: the characters and driving videos its
    requests name (the tenant's own), and the renderer a worker announced last."""

    characters: dict[str, Character]
    videos: dict[str, DrivingVideo]
    renderer: str | None

    def inputs(self, request: RenderRequest) -> dict[str, Any]:
        """The content of the request's inputs, as its cache key takes them."""
        character = self.characters[request.character_id]
        face = character.face.model_dump(mode="json") if character.face else None
        inputs: dict[str, Any] = {"portrait": character.portrait_sha256, "face": face}
        if request.driving_video_id:
            video = self.videos[request.driving_video_id]
            video_face = video.face.model_dump(mode="json") if video.face else None
            inputs.update({"driving_video": video.video_sha256, "driving_face": video_face})
        return inputs


def uses_cache(services: ApiServices, request: RenderRequest) -> bool:
    return services.settings.cache and request.cache


def _as_hit(
    services: ApiServices, record: JobRecord, source: CacheSource, rendered: JobRecord
) -> JobRecord | None:
    """The job as a hit of ``source`` (whose record is ``rendered``), its manifest written;
    None when the source's manifest cannot be found (not a usable source after all)."""
    now = utc_now()
    try:
        manifest_key = write_hit_manifest(services.store, record, source, attempt=0)
    except NotFound:
        return None
    hit = record.model_copy(deep=True)
    hit.status = JobStatus.succeeded
    hit.task_id = None
    hit.renderer = rendered.renderer
    hit.manifest_key = manifest_key
    hit.output_prefix = source.output_prefix
    hit.started_at = hit.finished_at = now
    hit.progress.frames_done = hit.progress.frames_total
    hit.cache = CacheResult.hit
    hit.rendered_by = rendered.rendered_by or source.job_id
    return hit


@dataclass
class _Lookups:
    """What the cache holds for a submission's keys, read in two round trips (whatever the
    number of jobs): the entries and flights, then the entries' sources."""

    sources: dict[str, tuple[CacheSource, JobRecord]]  # cache key -> usable source
    flights: dict[str, str | None]  # flight key -> its leader

    @classmethod
    def read(
        cls, client: redis.Redis, keys: list[str], flights: list[str], renderer: str | None
    ) -> _Lookups:
        looked_up = keys if renderer is not None else []  # no renderer yet: no entries
        pipe = client.pipeline(transaction=False)
        for key in looked_up:
            pipe.hget(entry_key(key), renderer or "")
        for flight in flights:
            pipe.get(flight)
        answers = iter(pipe.execute())
        entries = {
            key: CacheSource.model_validate_json(raw)
            for key in looked_up
            if (raw := next(answers)) is not None
        }
        leaders = {flight: cast("str | None", next(answers)) for flight in flights}
        jobs = list(dict.fromkeys(source.job_id for source in entries.values()))
        for job in jobs:
            pipe.get(job_key(job))
            pipe.exists(retiring_key(job))
        found = iter(pipe.execute() if jobs else [])
        usable = {job: usable_record(next(found), bool(next(found))) for job in jobs}
        sources = {
            key: (source, rendered)
            for key, source in entries.items()
            if (rendered := usable[source.job_id]) is not None
        }
        return cls(sources, leaders)


def plan(
    services: ApiServices,
    tenant: str,
    records: list[JobRecord],
    known: Known,
    use_cache: bool = True,
) -> Plan:
    """Decide each job's way against the cache (reads, and a hit's manifest written);
    ``use_cache`` False plans plain jobs (a submission that kept racing)."""
    if not (use_cache and any(uses_cache(services, r.request) for r in records)):
        return Plan(originals=records, records=list(records))  # nothing to decide
    keys = {
        r.id: cache_keys.request_key(tenant, known.inputs(r.request), r.request)
        for r in records
        if uses_cache(services, r.request)
    }
    flights = {r.id: flight_key(keys[r.id], r.request.priority) for r in records if r.id in keys}
    lookups = _Lookups.read(
        services.redis,
        list(dict.fromkeys(keys.values())),
        list(dict.fromkeys(flights.values())),
        known.renderer,
    )
    result = Plan(originals=records, records=[])
    leaders: dict[str, str] = {}  # flight key -> leader within this submission
    for original in records:
        record = original.model_copy(deep=True)
        if record.id not in keys:
            result.records.append(record)
            continue
        record.cache_key = key = keys[record.id]
        flight = flights[record.id]
        found = lookups.sources.get(key)
        hit = _as_hit(services, record, *found) if found is not None else None
        if hit is not None and found is not None:
            record = hit
            result.guard.items.append(HitGuard(record.id, tenant, found[0]))
        elif (leader := leaders.get(flight)) is not None:
            result.held.add(record.id)
            result.guard.items.append(FollowGuard(record.id, leader, flight, known=False))
        elif (leader := lookups.flights[flight]) is not None:
            result.held.add(record.id)
            result.guard.items.append(FollowGuard(record.id, leader, flight, known=True))
        else:
            leaders[flight] = record.id
            result.guard.items.append(LeadGuard(record.id, flight))
        result.records.append(record)
    return result
