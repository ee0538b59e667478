"""The render cache on the worker's side: before rendering, take a hit; after, fill.

The worker is where the renderer's identity is known (name, version, weights, precision),
so it is the one that checks an entry's renderer part and fills it. A claimed job whose
identical render already succeeded for this renderer succeeds from it here, without
rendering: a job the API could not serve as a hit (no worker had announced its
renderer yet), a single-flight follower its leader released, a job whose twin finished
while it waited. If the source is retired while the hit commits, the job renders.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from render_core import keys
from render_core.cache_guards import FillGuard, HitGuard
from render_core.cache_hits import output_bytes, write_hit_manifest
from render_core.errors import NotFound
from render_core.jobs import CacheOutcome, JobStore
from render_core.manifest import RenderManifest
from render_core.render_cache import CacheRaced, CacheSource, RenderCache
from render_core.schema import CacheResult, JobRecord
from render_core.storage import ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheStep:
    """The cache as one worker process sees it: its renderer's key among the rest."""

    cache: RenderCache
    renderer_key: str
    jobs: JobStore
    store: ObjectStore


def take_cache_hit(step: CacheStep | None, record: JobRecord) -> JobRecord | None:
    """The job succeeded from the cache, or None: render it."""
    if step is None or record.cache_key is None:
        return None
    assert record.attempt_token is not None
    source = step.cache.usable_source(record.cache_key, step.renderer_key)
    if source is None or source.job_id == record.id:
        return None
    try:
        manifest_key = write_hit_manifest(step.store, record, source, record.attempts)
    except NotFound:  # the source's manifest is gone: not a source after all
        return None
    outcome = CacheOutcome(
        CacheResult.hit, HitGuard(record.id, record.tenant, source), rendered_by=source.job_id
    )
    try:
        done = step.jobs.succeed(
            record.id, record.attempt_token, manifest_key, source.output_prefix, outcome
        )
    except CacheRaced:
        step.store.delete_prefix(keys.cache_hit_prefix(record.id))
        log.info("job %s: cache source %s retired meanwhile; rendering", record.id, source.job_id)
        return None
    log.info("job %s: cache hit of %s", record.id, source.job_id)
    return done


def cache_fill(
    step: CacheStep | None,
    record: JobRecord,
    manifest: RenderManifest,
    manifest_key: str,
    prefix: str,
) -> CacheOutcome | None:
    """The cache's part of a render's commit: its entry, for this renderer."""
    if step is None or record.cache_key is None:
        return None
    source = CacheSource(
        job_id=record.id,
        manifest_key=manifest_key,
        output_prefix=prefix,
        bytes=output_bytes(manifest),
    )
    guard = FillGuard(record.cache_key, step.renderer_key, record.tenant, source)
    return CacheOutcome(CacheResult.miss, guard)
