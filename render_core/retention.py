"""Retention: delete the outputs of renders that finished long ago, and later their records.

Outputs (``storage gc --older-than AGE``) and records (``RENDER_JOB_RETENTION_S``, by the
reaper) agree: a record goes only with or after its outputs, so no output outlives the
record that names it. ``expire_outputs`` deletes outputs and marks the record
``outputs_expired`` (the API answers 410); ``expire_records`` deletes what outputs are
left and then the record and its index entries.

Only finished jobs (succeeded, failed, cancelled) are considered, so a queued or running
job's outputs are never touched, and neither are outputs a live cache hit still shows
(``render_core.render_cache``: a source is retired, atomically with the check that no hit
references it, before its outputs go). Outputs go first and the record is marked after, so an
interrupted run leaves an unmarked job that the next run picks up again. Only the
prefixes of the attempts counted when the job was judged are deleted: a manual retry
racing with the collector writes under a new attempt's prefix, which stays.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from render_core import keys
from render_core.cache_guards import UnrefGuard
from render_core.errors import Conflict, NotFound, UnreadableRecord
from render_core.jobs import JobStore
from render_core.render_cache import RenderCache, retire
from render_core.schema import CacheResult, JobRecord, JobStatus, utc_now
from render_core.storage import ObjectStore

log = logging.getLogger(__name__)

FINISHED = (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)
MOST_JOBS_PER_STATUS = 1_000_000
AGE_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
AGE_PATTERN = re.compile(r"^(\d+)([dhms])$")


def parse_age(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m`` or ``90s``: the forms an operator writes in a crontab."""
    match = AGE_PATTERN.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an age like 7d, 12h, 30m or 90s")
    amount, unit = match.groups()
    return timedelta(**{AGE_UNITS[unit]: int(amount)})


@dataclass(frozen=True)
class Expiry:
    """One render whose outputs retention deleted (or, in a dry run, would delete)."""

    job_id: str
    status: JobStatus
    finished_at: datetime
    objects: int


def _finished_before(jobs: JobStore, cutoff: datetime) -> list[JobRecord]:
    """Finished jobs whose outputs are still there and that finished before ``cutoff``,
    cache hits first (so the sources they release can go in the same run); a job cancelled
    before it ever ran wrote nothing and is left out."""
    found = []
    for status in FINISHED:
        for job_id in jobs.index.ids_with_status(status, MOST_JOBS_PER_STATUS):
            try:
                record = jobs.get(job_id)
            except (UnreadableRecord, NotFound) as exc:  # noted by the store; the rest go on
                log.warning("retention skips job %s: %s", job_id, exc)
                continue
            if record.finished_at is not None:  # jobs finished before the index existed
                jobs.index.note_finished(record.id, record.finished_at.timestamp())
            if record.outputs_expired or record.finished_at is None:
                continue
            if record.attempts == 0 and not _is_hit(record):
                continue
            if record.finished_at < cutoff:
                found.append(record)
    return sorted(found, key=lambda record: not _is_hit(record))


def _is_hit(record: JobRecord) -> bool:
    return record.cache == CacheResult.hit


def _unref(record: JobRecord) -> UnrefGuard | None:
    """For a cache hit: its source's reference dropped with the hit's own write."""
    if _is_hit(record) and record.rendered_by:
        return UnrefGuard(hit=record.id, source=record.rendered_by)
    return None


def _own_prefixes(record: JobRecord) -> list[str]:
    """What the job wrote itself: its attempts' prefixes, and a hit's manifest. A hit's
    outputs are its source's and are never deleted through the hit."""
    prefixes = [
        keys.attempt_prefix(record.id, attempt) for attempt in range(1, record.attempts + 1)
    ]
    if _is_hit(record):
        prefixes.append(keys.cache_hit_prefix(record.id))
    return prefixes


def expire_outputs(
    jobs: JobStore,
    store: ObjectStore,
    older_than: timedelta,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> list[Expiry]:
    """Delete and mark every finished render older than ``older_than``; a dry run only counts.

    A render whose outputs a live cache hit still shows is kept until that hit expires too.
    """
    cutoff = (now or utc_now()) - older_than
    cache = RenderCache(jobs.redis)
    expired: list[Expiry] = []
    gone_hits: set[str] = set()
    for record in _finished_before(jobs, cutoff):
        assert record.finished_at is not None  # _finished_before yields finished jobs only
        prefixes = _own_prefixes(record)
        guard = _unref(record)
        if guard is None and record.cache == CacheResult.miss:
            if cache.references(record.id) - gone_hits:
                continue  # a live hit shows these outputs
            if not dry_run and not retire(jobs.redis, record):
                continue  # a hit took it just now
        if dry_run:
            objects = sum(len(store.list(prefix)) for prefix in prefixes)
        else:
            objects = sum(store.delete_prefix(prefix) for prefix in prefixes)
            try:
                jobs.mark_outputs_expired(record.id, record.finished_at, guard)
            except Conflict:
                continue  # retried meanwhile: its new attempt is not ours to report gone
        if _is_hit(record):
            gone_hits.add(record.id)
        expired.append(Expiry(record.id, record.status, record.finished_at, objects))
    return expired


def expire_records(
    jobs: JobStore,
    store: ObjectStore,
    retention_s: float,
    *,
    now: datetime | None = None,
    limit: int = 100,
) -> list[str]:
    """Delete (at most ``limit``) jobs that finished over ``retention_s`` ago: their
    outputs first, then the record and its index entries. Returns the ids deleted."""
    cutoff = (now or utc_now()).timestamp() - retention_s
    cache = RenderCache(jobs.redis)
    deleted = []
    for job_id in jobs.index.finished_before(cutoff, limit):
        try:
            record: JobRecord | None = jobs.get(job_id)
        except (NotFound, UnreadableRecord):  # already gone, or damaged (noted): it goes
            record = None
        if record is not None:
            if not record.status.is_terminal or record.finished_at is None:
                continue  # retried since; its index entry goes with the move
            if record.cache == CacheResult.miss and (
                cache.references(record.id) or not retire(jobs.redis, record)
            ):
                continue  # a live hit shows its outputs: kept until that hit goes
            for prefix in _own_prefixes(record):
                store.delete_prefix(prefix)
        elif cache.references(job_id):
            continue  # damaged, but a live hit still shows its outputs
        else:
            store.delete_prefix(keys.job_prefix(job_id))
        finished_at = record.finished_at if record is not None else None
        guard = _unref(record) if record is not None else None
        if jobs.delete_finished(job_id, finished_at, guard):
            deleted.append(job_id)
    if deleted:
        log.info("record retention deleted %d finished jobs", len(deleted))
    return deleted
