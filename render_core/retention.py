"""Retention: delete the outputs of renders that finished long ago, and later their records.

Outputs (``storage gc --older-than AGE``) and records (``RENDER_JOB_RETENTION_S``, by the
reaper) agree: a record goes only with or after its outputs, so no output outlives the
record that names it. ``expire_outputs`` deletes outputs and marks the record
``outputs_expired`` (the API answers 410); ``expire_records`` deletes what outputs are
left and then the record and its index entries.

Only finished jobs (succeeded, failed, cancelled) are considered, so a queued or running
job's outputs are never touched. Outputs go first and the record is marked after, so an
interrupted run leaves an unmarked job that the next run picks up again. Only the
prefixes of the attempts counted when the job was judged are deleted: a manual retry
racing with the collector writes under a new attempt's prefix, which stays.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from render_core import keys
from render_core.errors import Conflict, NotFound, UnreadableRecord
from render_core.jobs import JobStore
from render_core.schema import JobRecord, JobStatus, utc_now
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


def _finished_before(jobs: JobStore, cutoff: datetime) -> Iterator[JobRecord]:
    """Finished jobs whose outputs are still there and that finished before ``cutoff``; a
    job cancelled before it ever ran wrote nothing and is left out."""
    for status in FINISHED:
        for job_id in jobs.index.ids_with_status(status, MOST_JOBS_PER_STATUS):
            try:
                record = jobs.get(job_id)
            except (UnreadableRecord, NotFound) as exc:  # noted by the store; the rest go on
                log.warning("retention skips job %s: %s", job_id, exc)
                continue
            if record.finished_at is not None:  # jobs finished before the index existed
                jobs.index.note_finished(record.id, record.finished_at.timestamp())
            if record.outputs_expired or record.finished_at is None or record.attempts == 0:
                continue
            if record.finished_at < cutoff:
                yield record


def _attempt_prefixes(record: JobRecord) -> list[str]:
    return [keys.attempt_prefix(record.id, attempt) for attempt in range(1, record.attempts + 1)]


def expire_outputs(
    jobs: JobStore,
    store: ObjectStore,
    older_than: timedelta,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> list[Expiry]:
    """Delete and mark every finished render older than ``older_than``; a dry run only counts."""
    cutoff = (now or utc_now()) - older_than
    expired = []
    for record in _finished_before(jobs, cutoff):
        assert record.finished_at is not None  # _finished_before yields finished jobs only
        prefixes = _attempt_prefixes(record)
        if dry_run:
            objects = sum(len(store.list(prefix)) for prefix in prefixes)
        else:
            objects = sum(store.delete_prefix(prefix) for prefix in prefixes)
            try:
                jobs.mark_outputs_expired(record.id, record.finished_at)
            except Conflict:
                continue  # retried meanwhile: its new attempt is not ours to report gone
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
    deleted = []
    for job_id in jobs.index.finished_before(cutoff, limit):
        try:
            record: JobRecord | None = jobs.get(job_id)
        except (NotFound, UnreadableRecord):  # already gone, or damaged (noted): it goes
            record = None
        if record is not None:
            if not record.status.is_terminal or record.finished_at is None:
                continue  # retried since; its index entry goes with the move
            for prefix in _attempt_prefixes(record):
                store.delete_prefix(prefix)
        else:
            store.delete_prefix(keys.job_prefix(job_id))
        finished_at = record.finished_at if record is not None else None
        if jobs.delete_finished(job_id, finished_at):
            deleted.append(job_id)
    if deleted:
        log.info("record retention deleted %d finished jobs", len(deleted))
    return deleted
