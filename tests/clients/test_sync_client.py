"""The sync client against a real stack: uvicorn, a mock Celery worker, redis-server."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from avatar_render_client import (
    AvatarRenderClient,
    AvatarRenderError,
    CharacterNotFound,
    ChecksumMismatch,
    Conflict,
    EmptyFile,
    IdempotencyKeyReused,
    InvalidRequest,
    Job,
    JobStatus,
    NoFaceFound,
    NotFound,
    NotReady,
    RenderRequest,
    Unauthorized,
    UnsupportedImage,
)

from tests.clients.conftest import FAST_RETRY, SMALL, api_key
from tests.conftest import SAMPLE_PORTRAIT
from tests.stack import Stack
from tests.unit.test_portraits import png_bytes

pytestmark = pytest.mark.integration

ClientFor = Callable[[str], AvatarRenderClient]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_register_render_wait_with_progress_and_download_verified_outputs(
    client_for: ClientFor, tmp_path: Path
) -> None:
    client = client_for("flow")
    assert client.health().status == "ok"
    readiness = client.ready()
    assert readiness.ready and readiness.queues_without_workers == []

    character = client.register_character(SAMPLE_PORTRAIT, name="astronaut")
    assert (character.name, character.width, character.height) == ("astronaut", 512, 512)
    assert character.face is not None and character.face.box.right > character.face.box.left
    assert client.get_character(character.id) == character

    # 50 frames at 20 ms: several progress updates, in batches of 16.
    job = client.render(
        character.id,
        "happy",
        intensity=0.7,
        size=256,
        duration_ms=2000,
        fps=25,
        controls={"smile": 0.3},
        metadata={"scene": "greeting"},
    )
    assert job.status == JobStatus.queued and job.request.metadata == {"scene": "greeting"}
    updates: list[Job] = []
    final = client.wait(job.id, timeout_s=60, poll_interval_s=0.05, on_progress=updates.append)

    assert final.status == JobStatus.succeeded and final.error is None
    assert final.progress.frames_done == final.progress.frames_total == 50
    assert updates[-1] == final and len(updates) >= 2
    assert JobStatus.running in {u.status for u in updates}
    done = [u.progress.frames_done for u in updates]
    assert done == sorted(done)  # never goes back

    out = client.download_outputs(job.id, tmp_path / "out")
    manifest = out.manifest
    assert manifest.job_id == job.id and manifest.frame_count == 50 and len(out.frames) == 50
    for entry, path in zip(manifest.frames, out.frames, strict=True):
        assert path == tmp_path / "out" / "frames" / f"{entry.index:06d}.png"
        assert (path.stat().st_size, _sha256(path)) == (entry.size, entry.sha256)
    assert manifest.clip is not None and out.clip == tmp_path / "out" / "clip.mp4"
    assert _sha256(out.clip) == manifest.clip.sha256
    assert json.loads(out.manifest_path.read_text())["job_id"] == job.id
    assert not list((tmp_path / "out").rglob("*.part"))

    # Single outputs: into a folder (keeping the storage name) or to a named file.
    frame = client.download_frame(job.id, 3, tmp_path, manifest=manifest)
    assert frame == tmp_path / "000003.png" and _sha256(frame) == manifest.frame(3).sha256
    into_new_folder = client.download_frame(job.id, 4, f"{tmp_path}/new/", manifest=manifest)
    assert into_new_folder == tmp_path / "new" / "000004.png"
    clip = client.download_clip(job.id, tmp_path / "named.mp4")
    assert _sha256(clip) == manifest.clip.sha256
    with pytest.raises(NotFound):
        client.download_frame(job.id, 50, tmp_path, manifest=manifest)


def test_register_from_bytes_and_a_batch(client_for: ClientFor) -> None:
    client = client_for("batch")
    character = client.register_character(SAMPLE_PORTRAIT.read_bytes())
    assert character.name is None
    requests: list[RenderRequest | dict[str, object]] = [
        RenderRequest(character_id=character.id, emotion="sad", **SMALL),
        {"character_id": character.id, "emotion": "angry", "outputs": ["frames"], **SMALL},
        RenderRequest(character_id=character.id, emotion="neutral", intensity=0.0, size=256),
    ]
    jobs = client.render_batch(requests)
    assert [j.request.emotion for j in jobs] == ["sad", "angry", "neutral"]
    finals = [client.wait(j.id, timeout_s=60, poll_interval_s=0.05) for j in jobs]
    assert [f.status for f in finals] == [JobStatus.succeeded] * 3
    assert client.get_manifest(jobs[1].id).clip is None  # frames only
    with pytest.raises(NotFound):  # the server: no mp4 was asked for
        client.download_clip(jobs[1].id, "unused.mp4")


def test_listing_pages_and_filters(client_for: ClientFor) -> None:
    client = client_for("pages")
    character = client.register_character(SAMPLE_PORTRAIT)
    jobs = client.render_batch(
        [{"character_id": character.id, "emotion": e, **SMALL} for e in ("happy", "sad")] * 3
    )
    for job in jobs:
        client.wait(job.id, timeout_s=60, poll_interval_s=0.05)

    first = client.list_jobs(limit=4)
    assert len(first.jobs) == 4 and first.next_cursor is not None
    second = client.list_jobs(limit=4, cursor=first.next_cursor)
    assert len(second.jobs) == 2 and second.next_cursor is None
    listed = [j.id for j in client.iter_jobs(page_size=4)]
    assert listed == [j.id for j in first.jobs + second.jobs]
    assert sorted(listed) == sorted(j.id for j in jobs)
    assert len({j.id for j in client.iter_jobs(status="succeeded", page_size=1)}) == 6
    assert list(client.iter_jobs(status=JobStatus.failed)) == []


def test_cancel_then_retry_as_a_new_attempt(client_for: ClientFor) -> None:
    client = client_for("cancel")
    character = client.register_character(SAMPLE_PORTRAIT)
    # 100 frames at 20 ms: still running when the cancel arrives.
    job = client.render(character.id, "surprised", size=256, duration_ms=4000, fps=25)
    cancelled = client.cancel(job.id)
    assert cancelled.cancel_requested
    stopped = client.wait(job.id, timeout_s=60, poll_interval_s=0.05)
    assert stopped.status == JobStatus.cancelled
    with pytest.raises(NotReady) as not_ready:
        client.get_manifest(job.id)
    assert not_ready.value.http_status == 409 and isinstance(not_ready.value, Conflict)

    retried = client.retry(job.id)
    assert retried.status == JobStatus.queued
    final = client.wait(job.id, timeout_s=60, poll_interval_s=0.1)
    # A new attempt: the cancel found the job queued (0 attempts) or running (1).
    assert final.status == JobStatus.succeeded and final.attempts == stopped.attempts + 1
    assert client.get_manifest(job.id).attempt == final.attempts
    with pytest.raises(Conflict) as conflict:
        client.retry(job.id)  # a succeeded job does not run again
    assert conflict.value.http_status == 409


def test_api_errors_are_typed(client_for: ClientFor, stack: Stack) -> None:
    client = client_for("errors")
    with pytest.raises(NotFound) as unknown:
        client.get_job("0" * 32)
    error = unknown.value
    assert (error.code, error.http_status) == ("not_found", 404)
    assert isinstance(error, AvatarRenderError) and str(error).startswith("HTTP 404 not_found: ")

    character = client.register_character(SAMPLE_PORTRAIT)
    with pytest.raises(InvalidRequest) as invalid:
        client.render(character.id, "happy", intensity=2.0)
    assert invalid.value.http_status == 422 and "intensity" in invalid.value.message
    with pytest.raises(InvalidRequest):
        client.render(character.id)  # neither an emotion nor a driving video
    with pytest.raises(CharacterNotFound) as no_character:
        client.render("f" * 32, "happy")
    assert isinstance(no_character.value, NotFound)

    with pytest.raises(UnsupportedImage) as unreadable:
        client.register_character(b"these bytes are not an image", filename="p.png")
    assert unreadable.value.http_status == 415
    with pytest.raises(EmptyFile):
        client.register_character(b"")
    with pytest.raises(NoFaceFound) as faceless:
        client.register_character(png_bytes(256, 256))
    assert faceless.value.http_status == 422

    with AvatarRenderClient(stack.api_url, "not-a-key", retry=FAST_RETRY) as stranger:
        with pytest.raises(Unauthorized) as refused:
            stranger.get_job("0" * 32)
        assert refused.value.http_status == 401
        assert stranger.health().status == "ok"  # no key needed


def test_a_corrupt_stored_output_fails_verification(
    client_for: ClientFor, stack: Stack, tmp_path: Path
) -> None:
    client = client_for("verify")
    character = client.register_character(SAMPLE_PORTRAIT)
    job = client.render(character.id, "fearful", **SMALL)
    assert client.wait(job.id, timeout_s=60, poll_interval_s=0.05).status == "succeeded"
    manifest = client.get_manifest(job.id)

    # Same size, one byte changed: only the sha256 can tell.
    flipped = stack.storage_dir / manifest.frame(2).key
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch) as mismatch:
        client.download_frame(job.id, 2, tmp_path / "f2.png")
    error = mismatch.value
    assert error.key == manifest.frame(2).key and "sha256" in str(error)
    assert error.expected_sha256 == manifest.frame(2).sha256 != error.actual_sha256
    assert list(tmp_path.iterdir()) == []  # nothing kept under the name, no .part left

    truncated = stack.storage_dir / manifest.frame(5).key
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(ChecksumMismatch, match="size 100 bytes"):
        client.download_frame(job.id, 5, tmp_path)

    with pytest.raises(ChecksumMismatch):
        client.download_outputs(job.id, tmp_path / "all")
    assert not (tmp_path / "all" / "manifest.json").exists()  # the folder is not complete
    assert client.download_clip(job.id, tmp_path).name == "clip.mp4"  # the clip is intact


class DropFirstAnswer(httpx.BaseTransport):
    """Sends a request for real, then loses the first answer to a POST on ``path``: a
    connection reset after the server made the job."""

    def __init__(self, path: str) -> None:
        self.inner = httpx.HTTPTransport()
        self.path = path
        self.keys_sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path == self.path:
            self.keys_sent.append(request.headers["Idempotency-Key"])
            if len(self.keys_sent) == 1:
                response.read()
                response.close()
                raise httpx.ReadError("connection reset by peer", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_retried_submission_makes_one_job(client_for: ClientFor, stack: Stack) -> None:
    client = client_for("idem")
    character = client.register_character(SAMPLE_PORTRAIT)

    single = DropFirstAnswer("/v1/renders")
    with AvatarRenderClient(
        stack.api_url, api_key("idem"), transport=single, retry=FAST_RETRY
    ) as flaky:
        job = flaky.render(character.id, "happy", **SMALL)
    assert len(single.keys_sent) == 2 and single.keys_sent[0] == single.keys_sent[1]
    assert [j.id for j in client.iter_jobs()] == [job.id]

    batch = DropFirstAnswer("/v1/renders/batch")
    with AvatarRenderClient(
        stack.api_url, api_key("idem"), transport=batch, retry=FAST_RETRY
    ) as flaky:
        jobs = flaky.render_batch([{"character_id": character.id, "emotion": "sad", **SMALL}] * 3)
    assert len(batch.keys_sent) == 2 and batch.keys_sent[0] == batch.keys_sent[1]
    assert len(list(client.iter_jobs())) == 4
    assert {j.id for j in jobs} < {j.id for j in client.iter_jobs()}

    # Each call has its own key; the caller's own key replays, and refuses another body.
    again = client.render(character.id, "happy", **SMALL)
    assert again.id != job.id
    mine = client.render(character.id, "angry", idempotency_key="order-17", **SMALL)
    replayed = client.render(character.id, "angry", idempotency_key="order-17", **SMALL)
    assert replayed.id == mine.id
    with pytest.raises(IdempotencyKeyReused) as reused:
        client.render(character.id, "sad", idempotency_key="order-17", **SMALL)
    assert reused.value.http_status == 409
    assert len(list(client.iter_jobs())) == 6
