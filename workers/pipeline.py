"""One render attempt as plain code: claim, prepare, plan, render in batches, write, commit.

No Celery here (the task is a thin shell around ``run_attempt``), so every status move,
progress update and storage write is testable with a real Redis and a plain call.
Outputs go under the attempt's own prefix and the manifest is written last, so a
duplicate delivery or a crash never leaves a half-written render that looks finished.
"""

from __future__ import annotations

import hashlib
import io
import logging
import platform
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from render_core import keys
from render_core.characters import CharacterStore
from render_core.errors import UnsupportedImage
from render_core.heartbeats import LEASE_TTL_S, lease_ttl
from render_core.jobs import JobStore
from render_core.logs import job_context
from render_core.manifest import FrameEntry, ObjectEntry, RenderManifest
from render_core.schema import (
    CacheResult,
    JobRecord,
    JobStatus,
    OutputKind,
    RendererInfo,
    RenderRequest,
)
from render_core.storage import ObjectStore
from workers.cache_step import CacheStep, cache_fill, take_cache_hit
from workers.encoding import Mp4Writer, encode_frame
from workers.events import NoEvents, RenderEvents
from workers.lease import LeaseKeeper
from workers.outcome import RetryPlan, RetryPolicy, classify_failure, settle_failure
from workers.patience import patiently
from workers.renderer import Frame, PreparedSource, Renderer

log = logging.getLogger(__name__)


@dataclass
class RenderServices:
    """What an attempt needs, created once per worker process."""

    jobs: JobStore
    characters: CharacterStore
    store: ObjectStore
    renderer: Renderer[Any, Any]
    batch_size: int
    retry_policy: RetryPolicy
    first_batch_size: int = 0
    encode_threads: int = 4
    lease_ttl_s: int = LEASE_TTL_S
    events: RenderEvents = field(default_factory=NoEvents)
    # The render cache with this process's renderer (None: off).
    cache: CacheStep | None = None


@dataclass(frozen=True)
class AttemptOutcome:
    """The job after the attempt (None when it was not claimed) and a retry, if one is due."""

    record: JobRecord | None
    retry: RetryPlan | None = None


@dataclass
class _Timings:
    """Milliseconds per stage, summed over batches. Frames and the clip are encoded while the
    next batch renders; ``encode_wait`` is only the time the render loop waited for them.
    The background stages (``encode_frames``, ``encode_mp4``, ``storage_writes``) are summed
    over their threads, so they say what bounds a busy worker, not where its wall time went."""

    started: float = field(default_factory=time.perf_counter)
    stages: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, stage: str, since: float) -> None:
        elapsed = (time.perf_counter() - since) * 1000.0
        with self._lock:  # encoder threads add too
            self.stages[stage] = self.stages.get(stage, 0.0) + elapsed


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_portrait(data: bytes) -> Frame:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except OSError as exc:
        raise UnsupportedImage(f"stored portrait cannot be decoded: {exc}") from exc


def run_attempt(services: RenderServices, job_id: str, worker_name: str) -> AttemptOutcome:
    """Claim and render one attempt of ``job_id``; failures are settled here, not raised."""
    busy_for = patiently(lambda: _live_attempt_ttl(services, job_id), f"job {job_id}")
    if busy_for:
        # A duplicate delivery while a live attempt renders: look again once it may be over.
        log.info("job %s is rendering elsewhere; checking again in %.0f s", job_id, busy_for)
        services.events.attempt_finished("deferred")
        return AttemptOutcome(record=None, retry=RetryPlan(delay_s=busy_for + 1.0))
    renderer = services.renderer
    info = RendererInfo(name=renderer.name, version=renderer.version)
    max_attempts = services.retry_policy.max_attempts
    record = patiently(
        lambda: services.jobs.start_attempt(job_id, worker_name, info, max_attempts),
        f"job {job_id}",
    )
    if record is None:
        log.info("job %s not claimed: nothing to run", job_id)
        services.events.attempt_finished("skipped")
        return AttemptOutcome(record=None)
    assert record.attempt_token is not None
    with job_context(record.id, record.tenant, record.attempts):
        return _run_claimed(services, record, record.attempt_token)


def _run_claimed(services: RenderServices, record: JobRecord, token: str) -> AttemptOutcome:
    job_id = record.id
    try:
        with LeaseKeeper(services.jobs.redis, token, services.lease_ttl_s):
            finished = _render(services, record)
        services.events.attempt_finished(finished.status.value)
        return AttemptOutcome(record=finished)
    except Exception as exc:  # every failure is settled: retried, failed, or ignored if stale
        failure = classify_failure(exc)
        log.log(
            logging.ERROR if failure.code == "internal_error" else logging.WARNING,
            "job %s attempt %d stopped: %s (%s)",
            job_id,
            record.attempts,
            failure.message,
            failure.code,
            exc_info=failure.code == "internal_error",
        )
    retry = settle_failure(services.jobs, job_id, token, failure, services.retry_policy)
    services.events.attempt_finished("retried" if retry is not None else "failed")
    return AttemptOutcome(record=services.jobs.get(job_id), retry=retry)


def _live_attempt_ttl(services: RenderServices, job_id: str) -> float:
    current = services.jobs.get(job_id)
    if current.status != JobStatus.running or current.attempt_token is None:
        return 0.0
    return lease_ttl(services.jobs.redis, current.attempt_token)


def _render(services: RenderServices, record: JobRecord) -> JobRecord:
    hit = take_cache_hit(services.cache, record)
    if hit is not None:
        _remove_earlier_attempts(services, record)  # a died attempt's partial outputs
        return hit
    assert record.attempt_token is not None
    token = record.attempt_token
    request = record.request
    prefix = keys.attempt_prefix(record.id, record.attempts)
    timings = _Timings()

    t = time.perf_counter()
    character = services.characters.get(request.character_id)
    portrait = decode_portrait(services.store.get_bytes(character.portrait_key))
    source = services.renderer.prepare(character, portrait, request.size)
    timings.add("prepare_source", t)
    services.events.source_prepared(source.from_cache, time.perf_counter() - t)
    # Once per attempt: motion over the whole clip (a driving video's on its first use).
    # It counts as rendering, where it ran when every batch planned for itself.
    t = time.perf_counter()
    plan = services.renderer.plan(request)
    timings.add("render", t)

    with tempfile.TemporaryDirectory(prefix="render-") as workdir:
        clip_path = Path(workdir) / "clip.mp4"
        frame_entries = _render_frames(services, record, source, plan, clip_path, timings)
        if frame_entries is None:
            return _cancel(services, record.id, token, prefix)
        want_clip = OutputKind.mp4 in request.outputs
        clip = _write_clip(services, prefix, clip_path, timings) if want_clip else None

    total = request.frame_count
    cacheable = services.cache is not None and record.cache_key is not None
    manifest = RenderManifest(
        job_id=record.id,
        attempt=record.attempts,
        request=request,
        renderer=services.renderer.describe().model_copy(update={"machine": platform.machine()}),
        fps=request.fps,
        width=request.size,
        height=request.size,
        frame_count=total,
        frame_format=request.frame_format.value,
        frames=frame_entries,
        clip=clip,
        timings_ms={**timings.stages, "total": (time.perf_counter() - timings.started) * 1000},
        cache=CacheResult.miss if cacheable else None,
        rendered_by=record.id if cacheable else None,
    )
    manifest_key = keys.manifest_key(prefix)
    # The job may have been cancelled or taken over while we wrote: check before committing.
    current = services.jobs.record_progress(record.id, token, total)
    if current.cancel_requested:
        return _cancel(services, record.id, token, prefix)
    services.store.put_bytes(
        manifest_key, manifest.model_dump_json(indent=2).encode(), "application/json"
    )
    fill = cache_fill(services.cache, record, manifest, manifest_key, prefix)
    succeeded = services.jobs.succeed(record.id, token, manifest_key, prefix, fill)
    _remove_earlier_attempts(services, record)
    return succeeded


def _remove_earlier_attempts(services: RenderServices, record: JobRecord) -> None:
    """An attempt that died between writing its manifest and committing it left outputs
    no record names; the attempt that committed removes them, so a job has one manifest."""
    for attempt in range(1, record.attempts):
        services.store.delete_prefix(keys.attempt_prefix(record.id, attempt))


@dataclass
class _BatchOut:
    """A rendered batch whose frames and clip frames are being written in the background."""

    indices: range
    stored: list[Future[FrameEntry]]
    clip: Future[None] | None


def _render_frames(
    services: RenderServices,
    record: JobRecord,
    source: PreparedSource,
    plan: object,
    clip_path: Path,
    timings: _Timings,
) -> list[FrameEntry] | None:
    """Render in batches while the previous batch is encoded and stored in the background
    (a pool for frames, one thread for the mp4, which needs its frames in order), so the
    renderer rarely waits for encoders. A batch is settled (progress recorded, cancellation
    checked) on a thread of its own as soon as its frames are stored, not after the next
    batch renders: a clip's first frames reach viewers one batch sooner. The render loop
    waits for a batch's settling before it renders past the next one. None when the job
    was cancelled meanwhile; by then every write has finished."""
    request = record.request
    assert record.attempt_token is not None
    token = record.attempt_token
    prefix = keys.attempt_prefix(record.id, record.attempts)
    want_frames = OutputKind.frames in request.outputs
    want_clip = OutputKind.mp4 in request.outputs
    writer = Mp4Writer(clip_path, request.fps, request.size) if want_clip else None
    entries: list[FrameEntry] = []

    def settle(batch: _BatchOut) -> bool:
        """Wait for a batch's writes; True when the job should go on."""
        stored = [future.result() for future in batch.stored]
        entries.extend(stored)
        if batch.clip is not None:
            batch.clip.result()
        # The progress event names the frames now in storage (none for an mp4-only job).
        current = services.jobs.record_progress(
            record.id, token, batch.indices.stop, [entry.index for entry in stored]
        )
        return not current.cancel_requested

    def go_on(settling: Future[bool] | None) -> bool:
        t = time.perf_counter()
        carry_on = settling is None or settling.result()
        timings.add("encode_wait", t)
        return carry_on

    def store_frame(index: int, frame: Frame) -> FrameEntry:
        return _store_frame(services.store, prefix, request, index, frame, timings)

    try:
        with (
            ThreadPoolExecutor(max_workers=services.encode_threads) as pool,
            ThreadPoolExecutor(max_workers=1) as clip_thread,
            ThreadPoolExecutor(max_workers=1) as settler,
        ):
            settling: Future[bool] | None = None
            for indices in batch_ranges(
                request.frame_count, services.batch_size, services.first_batch_size
            ):
                t = time.perf_counter()
                frames = services.renderer.render_batch(source, plan, indices)
                timings.add("render", t)
                services.events.frames_rendered(len(frames), time.perf_counter() - t)
                batch = _BatchOut(
                    indices=indices,
                    stored=[
                        pool.submit(store_frame, index, frame)
                        for index, frame in zip(indices, frames, strict=True)
                        if want_frames
                    ],
                    clip=clip_thread.submit(_feed_clip, writer, frames, timings)
                    if writer
                    else None,
                )
                if not go_on(settling):
                    return None
                settling = settler.submit(settle, batch)
            if not go_on(settling):
                return None
    finally:
        if writer is not None:
            t = time.perf_counter()
            writer.close()
            timings.add("encode_mp4_close", t)
    return entries


def batch_ranges(total: int, size: int, first: int = 0) -> list[range]:
    """The clip's batches: a small first one (``first`` frames, 0 for a full one), so the
    first frames reach storage and live viewers sooner, then full batches."""
    first = min(first or size, size)
    ranges: list[range] = []
    start = 0
    while start < total:
        stop = min(total, start + (first if start == 0 else size))
        ranges.append(range(start, stop))
        start = stop
    return ranges


def _feed_clip(writer: Mp4Writer, frames: list[Frame], timings: _Timings) -> None:
    t = time.perf_counter()
    for frame in frames:
        writer.write(frame)
    timings.add("encode_mp4", t)


def _store_frame(
    store: ObjectStore,
    prefix: str,
    request: RenderRequest,
    index: int,
    frame: Frame,
    timings: _Timings,
) -> FrameEntry:
    """Encode and upload one frame; runs in the pool (encoders and uploads release the GIL)."""
    t = time.perf_counter()
    data = encode_frame(frame, request.frame_format, request.quality)
    timings.add("encode_frames", t)
    key = keys.frame_key(prefix, index, request.frame_format.value)
    t = time.perf_counter()
    store.put_bytes(key, data, request.frame_format.media_type)
    timings.add("storage_writes", t)
    return FrameEntry(index=index, key=key, size=len(data), sha256=_sha256(data))


def _write_clip(
    services: RenderServices, prefix: str, path: Path, timings: _Timings
) -> ObjectEntry:
    data = path.read_bytes()
    key = keys.clip_key(prefix)
    t = time.perf_counter()
    services.store.put_file(key, path, "video/mp4")
    timings.add("storage_writes", t)
    return ObjectEntry(key=key, size=len(data), sha256=_sha256(data))


def _cancel(services: RenderServices, job_id: str, token: str, prefix: str) -> JobRecord:
    """Stop between batches: partial outputs are removed and the job ends cancelled."""
    removed = services.store.delete_prefix(prefix)
    log.info("job %s cancelled while running; removed %d partial objects", job_id, removed)
    return services.jobs.mark_cancelled(job_id, token)
