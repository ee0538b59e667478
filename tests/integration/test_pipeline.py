"""The pipeline as plain code, with a real Redis and a real local store (no Celery)."""

from __future__ import annotations

import hashlib
import io
import platform
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
import redis
from PIL import Image

from render_core import keys
from render_core.characters import CharacterStore
from render_core.errors import StorageUnavailable
from render_core.jobs import JobStore
from render_core.manifest import RenderManifest
from render_core.schema import (
    Character,
    JobError,
    JobRecord,
    JobStatus,
    RendererInfo,
    RenderRequest,
)
from render_core.storage import LocalStore
from tests.conftest import SAMPLE_PORTRAIT
from workers.outcome import RetryPolicy
from workers.pipeline import RenderServices, run_attempt
from workers.renderers.mock import MockRenderer


class FlakyStore(LocalStore):
    """A local store whose frame writes fail a given number of times (a storage outage)."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        if "/frames/" in key and self.failures > 0:
            self.failures -= 1
            raise StorageUnavailable("storage is down")
        super().put_bytes(key, data, content_type)


class CancellingRenderer(MockRenderer):
    """Asks for the job's cancellation while rendering its first batch."""

    def __init__(self, jobs: JobStore, job_id: str) -> None:
        super().__init__()
        self.jobs, self.job_id = jobs, job_id

    def render_batch(self, source, request, indices):
        if indices.start == 0:
            self.jobs.request_cancel(self.job_id)
        return super().render_batch(source, request, indices)


class FirstBatchWatcher(MockRenderer):
    """Renders the second batch only once the first batch's progress is recorded (waiting
    at most ``patience_s``), and notes whether it was."""

    def __init__(self, jobs: JobStore, job_id: str, patience_s: float = 10.0) -> None:
        super().__init__()
        self.jobs, self.job_id, self.patience_s = jobs, job_id, patience_s
        self.first_reported_early = False

    def render_batch(self, source, request, indices):
        if indices.start == 1:
            deadline = time.monotonic() + self.patience_s
            while time.monotonic() < deadline and not self.first_reported_early:
                self.first_reported_early = self.jobs.get(self.job_id).progress.frames_done >= 1
                time.sleep(0.01)
        return super().render_batch(source, request, indices)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "storage")


def _services(
    client: redis.Redis, store: LocalStore, renderer: MockRenderer | None = None
) -> RenderServices:
    return RenderServices(
        jobs=JobStore(client),
        characters=CharacterStore(client),
        store=store,
        renderer=renderer or MockRenderer(),
        batch_size=4,
        retry_policy=RetryPolicy(max_attempts=3, backoff_s=1.0, backoff_max_s=10.0),
    )


@pytest.fixture
def job(redis_client: redis.Redis, store: LocalStore) -> Iterator[JobRecord]:
    png = SAMPLE_PORTRAIT.read_bytes()
    character = Character(
        id="c1", tenant="t", name=None, width=512, height=512,
        portrait_key=keys.portrait_key("c1"), portrait_sha256=hashlib.sha256(png).hexdigest(),
    )  # fmt: skip
    store.put_bytes(character.portrait_key, png, "image/png")
    CharacterStore(redis_client).save(character)
    request = RenderRequest.model_validate(
        {"character_id": "c1", "emotion": "angry", "duration_ms": 400, "fps": 25, "size": 256}
    )
    record = JobRecord(id="job1", tenant="t", request=request)
    JobStore(redis_client).create([record])
    yield record


def test_a_render_writes_frames_clip_and_manifest_last(
    redis_client: redis.Redis, store: LocalStore, job: JobRecord
) -> None:
    outcome = run_attempt(_services(redis_client, store), job.id, "w1")
    record = outcome.record
    assert record is not None and outcome.retry is None
    assert record.status == JobStatus.succeeded and record.progress.frames_done == 10
    manifest = RenderManifest.model_validate_json(
        store.get_bytes(keys.manifest_key("renders/job1/1/"))
    )
    assert manifest.frame_count == 10 and len(manifest.frames) == 10
    assert manifest.renderer.name == "mock" and manifest.request == job.request
    assert manifest.renderer.machine == platform.machine()
    for entry in manifest.frames:
        data = store.get_bytes(entry.key)
        assert hashlib.sha256(data).hexdigest() == entry.sha256 and len(data) == entry.size
        assert Image.open(io.BytesIO(data)).size == (256, 256)
    assert manifest.clip is not None
    with av.open(str(store.root / manifest.clip.key)) as clip:
        stream = clip.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert sum(1 for _ in clip.decode(video=0)) == 10
    assert {"render", "encode_wait", "encode_mp4_close", "total"} <= manifest.timings_ms.keys()


def test_the_first_batch_is_reported_before_the_next_one_renders(
    redis_client: redis.Redis, store: LocalStore, job: JobRecord
) -> None:
    """A live viewer sees the first frames once they are stored, not a batch later."""
    renderer = FirstBatchWatcher(JobStore(redis_client), job.id)
    services = _services(redis_client, store, renderer)
    services.first_batch_size = 1
    outcome = run_attempt(services, job.id, "w1")
    assert outcome.record is not None and outcome.record.status == JobStatus.succeeded
    assert renderer.first_reported_early


def test_an_attempt_that_died_after_its_manifest_leaves_no_second_manifest(
    redis_client: redis.Redis, store: LocalStore, job: JobRecord
) -> None:
    jobs = JobStore(redis_client)
    renderer = MockRenderer()
    info = RendererInfo(name=renderer.name, version=renderer.version)
    first = jobs.start_attempt(job.id, "doomed", info, max_attempts=3)
    assert first is not None and first.attempt_token is not None
    # Attempt 1 wrote its outputs and manifest, then its worker died before committing.
    orphan = keys.manifest_key(keys.attempt_prefix(job.id, 1))
    store.put_bytes(orphan, b"{}", "application/json")
    lost = JobError(code="worker_lost", message="gone", retryable=True)
    jobs.requeue(job.id, first.attempt_token, lost)
    outcome = run_attempt(_services(redis_client, store, renderer), job.id, "survivor")
    assert outcome.record is not None and outcome.record.status == JobStatus.succeeded
    manifests = sorted(
        p.relative_to(store.root).as_posix() for p in store.root.rglob("manifest.json")
    )
    assert manifests == [outcome.record.manifest_key] == ["renders/job1/2/manifest.json"]


def test_frames_only_render_writes_no_clip(
    redis_client: redis.Redis, store: LocalStore, job: JobRecord
) -> None:
    request = RenderRequest.model_validate({**job.request.model_dump(), "outputs": ["frames"]})
    JobStore(redis_client).create([JobRecord(id="job2", tenant="t", request=request)])
    run_attempt(_services(redis_client, store), "job2", "w1")
    assert not store.exists("renders/job2/1/clip.mp4")
    assert len(store.list("renders/job2/1/frames/")) == 10


@pytest.mark.parametrize(("fmt", "pil_name"), [("webp", "WEBP"), ("jpeg", "JPEG")])
def test_lossy_frame_formats(
    redis_client: redis.Redis, store: LocalStore, job: JobRecord, fmt: str, pil_name: str
) -> None:
    values = {**job.request.model_dump(), "frame_format": fmt, "quality": 70, "outputs": ["frames"]}
    JobStore(redis_client).create(
        [JobRecord(id="lossy", tenant="t", request=RenderRequest.model_validate(values))]
    )
    run_attempt(_services(redis_client, store), "lossy", "w1")
    manifest = RenderManifest.model_validate_json(store.get_bytes("renders/lossy/1/manifest.json"))
    assert manifest.frame_format == fmt
    first = manifest.frames[0]
    assert first.key == f"renders/lossy/1/frames/000000.{fmt}"
    assert Image.open(io.BytesIO(store.get_bytes(first.key))).format == pil_name


def test_transient_storage_failure_requeues_with_backoff_then_succeeds(
    redis_client: redis.Redis, tmp_path: Path, job: JobRecord
) -> None:
    flaky = FlakyStore(tmp_path / "storage", failures=1)
    flaky.put_bytes(keys.portrait_key("c1"), SAMPLE_PORTRAIT.read_bytes(), "image/png")
    first = run_attempt(_services(redis_client, flaky), job.id, "w1")
    assert first.retry is not None and 0 <= first.retry.delay_s <= 1.0
    assert first.record is not None and first.record.status == JobStatus.queued
    assert first.record.error is not None and first.record.error.code == "storage_unavailable"
    second = run_attempt(_services(redis_client, flaky), job.id, "w1")
    assert second.record is not None and second.record.status == JobStatus.succeeded
    assert (
        second.record.attempts == 2 and second.record.manifest_key == "renders/job1/2/manifest.json"
    )


def test_transient_failures_past_the_limit_fail_the_job(
    redis_client: redis.Redis, tmp_path: Path, job: JobRecord
) -> None:
    flaky = FlakyStore(tmp_path / "storage", failures=100)
    flaky.put_bytes(keys.portrait_key("c1"), SAMPLE_PORTRAIT.read_bytes(), "image/png")
    outcomes = [run_attempt(_services(redis_client, flaky), job.id, "w1") for _ in range(3)]
    assert [o.retry is not None for o in outcomes] == [True, True, False]
    final = JobStore(redis_client).get(job.id)
    assert final.status == JobStatus.failed and final.attempts == 3
    assert final.error is not None and final.error.retryable
    assert JobStore(redis_client).index.ids_with_status(JobStatus.failed) == [job.id]


def test_a_missing_portrait_fails_at_once(
    redis_client: redis.Redis, store: LocalStore, job: JobRecord
) -> None:
    store.delete(keys.portrait_key("c1"))
    outcome = run_attempt(_services(redis_client, store), job.id, "w1")
    assert outcome.retry is None and outcome.record is not None
    assert outcome.record.status == JobStatus.failed and outcome.record.attempts == 1
    assert outcome.record.error is not None and outcome.record.error.code == "not_found"


def test_cancel_while_running_stops_and_removes_partial_frames(
    redis_client: redis.Redis, store: LocalStore, job: JobRecord
) -> None:
    renderer = CancellingRenderer(JobStore(redis_client), job.id)
    outcome = run_attempt(_services(redis_client, store, renderer), job.id, "w1")
    assert outcome.record is not None and outcome.record.status == JobStatus.cancelled
    assert outcome.record.progress.frames_done == 4  # stopped after the first batch
    assert store.list("renders/job1/") == []


def test_a_cancelled_queued_job_never_runs(
    redis_client: redis.Redis, store: LocalStore, job: JobRecord
) -> None:
    JobStore(redis_client).request_cancel(job.id)
    outcome = run_attempt(_services(redis_client, store), job.id, "w1")
    assert outcome.record is None
    assert JobStore(redis_client).get(job.id).attempts == 0
    assert store.list("renders/") == []
