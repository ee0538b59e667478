"""A cache hit's manifest: the source render's, naming the same output objects, as its own.

A hit writes no frames and no clip. Its manifest (under ``renders/{job}/cache-hit/``) is
the source's with the hit's job id and request (its metadata), ``cache: "hit"`` and the
job that rendered the outputs, so every consumer of manifests (the API's outputs routes,
the clients' checksum checks, ``storage verify``) works on a hit unchanged. Written
before the record that names it, as every manifest is.
"""

from __future__ import annotations

import time

from render_core import keys
from render_core.manifest import RenderManifest
from render_core.render_cache import CacheSource
from render_core.schema import CacheResult, JobRecord, utc_now
from render_core.storage import ObjectStore


def output_bytes(manifest: RenderManifest) -> int:
    """What the render stored (frames and clip): what a hit saves."""
    clip = manifest.clip.size if manifest.clip else 0
    return sum(frame.size for frame in manifest.frames) + clip


def write_hit_manifest(
    store: ObjectStore, record: JobRecord, source: CacheSource, attempt: int
) -> str:
    """The hit's manifest, written; returns its key."""
    started = time.perf_counter()
    rendered = RenderManifest.model_validate_json(store.get_bytes(source.manifest_key))
    hit = rendered.model_copy(
        update={
            "job_id": record.id,
            "attempt": attempt,
            "request": record.request,
            "cache": CacheResult.hit,
            "rendered_by": rendered.rendered_by or source.job_id,
            "created_at": utc_now(),
            "timings_ms": {"total": (time.perf_counter() - started) * 1000},
        }
    )
    key = keys.manifest_key(keys.cache_hit_prefix(record.id))
    store.put_bytes(key, hit.model_dump_json(indent=2).encode(), "application/json")
    return key
