"""Driving videos over real HTTP: uvicorn, a mock worker, Redis and local storage."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis

from producer_api.videos import MAX_VIDEO_BYTES
from render_cli.local_redis import LocalRedis
from tests.conftest import SAMPLE_PORTRAIT
from tests.stack import Stack, running_stack, wait_for_job
from tests.videos import portrait_on_the_right, write_audio_only, write_frames, write_video

pytestmark = pytest.mark.integration

KEY_A, KEY_B = "key-a-0123456789", "key-b-9876543210"


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("driving")
    with running_stack(redis_server.url, root, api_keys=f"tenant-a:{KEY_A},tenant-b:{KEY_B}") as s:
        s.start_worker("driving-mock")
        s.start_api()
        yield s


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


def _client(stack: Stack, key: str = KEY_A) -> httpx.Client:
    return httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=120.0
    )


def _upload(client: httpx.Client, name: str, data: Any) -> httpx.Response:
    return client.post("/v1/driving-videos", files={"video": (name, data)})


def _written(stack: Stack) -> tuple[set[str], list[str]]:
    """Everything in storage, and every driving-video record in Redis."""
    files = {p.relative_to(stack.storage_dir).as_posix() for p in stack.storage_dir.rglob("*")}
    client = redis.Redis.from_url(stack.settings.redis_url, decode_responses=True)
    try:
        return files, sorted(client.scan_iter("ar:driving_video:*"))
    finally:
        client.close()


def test_an_mp4_is_registered_stored_and_shown(stack: Stack, media: Path) -> None:
    data = write_video(media / "clip.mp4", seconds=1.0, fps=25, size=64)
    with _client(stack) as client:
        response = _upload(client, "clip.mp4", data)
        assert response.status_code == 201, response.text
        video = response.json()
        assert video["container"] == "mp4"
        assert (video["duration_ms"], video["fps"], video["frame_count"]) == (1000, 25.0, 25)
        assert (video["width"], video["height"], video["size_bytes"]) == (64, 64, len(data))
        assert video["face_box"] is None  # square: taken as already cropped
        stored = stack.storage_dir / "driving_videos" / video["id"] / "video.mp4"
        assert stored.read_bytes() == data
        assert client.get(f"/v1/driving-videos/{video['id']}").json() == video
    with _client(stack, KEY_B) as other:
        missing = other.get(f"/v1/driving-videos/{video['id']}")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_a_wide_video_is_cropped_around_its_face(stack: Stack, media: Path) -> None:
    data = write_frames(media / "wide.mp4", portrait_on_the_right(range(0, 10, 2)))
    with _client(stack) as client:
        response = _upload(client, "wide.mp4", data)
    assert response.status_code == 201, response.text
    video = response.json()
    assert (video["width"], video["height"], video["frame_count"]) == (768, 512, 5)
    box = video["face_box"]
    assert box is not None and box["left"] > 256  # the portrait's face, right of centre
    face_file = stack.storage_dir / "driving_videos" / video["id"] / "face.json"
    stored = json.loads(face_file.read_text())
    assert stored["box"] == box and stored["crop_size"] == 512


def test_a_wide_video_without_a_face_is_refused(stack: Stack, media: Path) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (4, 64, 96, 3), dtype=np.uint8)
    data = write_frames(media / "faceless.mp4", list(noise))
    before = _written(stack)
    with _client(stack) as client:
        response = _upload(client, "faceless.mp4", data)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "no_face_found" and "first frame" in error["message"]
    assert _written(stack) == before


def test_a_webm_is_registered(stack: Stack, media: Path) -> None:
    data = write_video(media / "clip.webm", seconds=0.6, fps=10, size=48, codec="libvpx-vp9")
    with _client(stack) as client:
        response = _upload(client, "clip.webm", data)
    assert response.status_code == 201, response.text
    video = response.json()
    assert (video["container"], video["frame_count"], video["width"]) == ("webm", 6, 48)
    assert (stack.storage_dir / "driving_videos" / video["id"] / "video.webm").is_file()


def _bad_uploads(media: Path) -> dict[str, tuple[bytes, int, str]]:
    whole = write_video(media / "whole.mp4", options={"movflags": "faststart"})
    return {
        "31-seconds": (write_video(media / "long.mp4", 31, fps=5, size=32), 422, "video_too_long"),
        "truncated": (whole[: len(whole) // 2], 415, "unsupported_video"),
        "text-named-mp4": (b"this is not a video\n", 415, "unsupported_video"),
        "audio-only": (write_audio_only(media / "audio.mp4"), 422, "no_video_stream"),
        "quicktime": (write_video(media / "clip.mov", 0.2), 415, "unsupported_video"),
        "empty": (b"", 415, "empty_file"),
    }


def test_bad_videos_are_refused_and_nothing_is_written(stack: Stack, media: Path) -> None:
    before = _written(stack)
    with _client(stack) as client:
        for case, (data, status, code) in _bad_uploads(media).items():
            response = _upload(client, "clip.mp4", data)
            assert response.status_code == status, (case, response.text)
            assert response.json()["error"]["code"] == code, case
    assert _written(stack) == before


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, made as they are read: no 100 MB buffer in the test."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def test_a_video_over_100_mb_is_refused(stack: Stack) -> None:
    before = _written(stack)
    with _client(stack) as client:
        response = _upload(client, "huge.mp4", _Zeros(MAX_VIDEO_BYTES + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "video_too_large"
    assert _written(stack) == before


def test_a_render_follows_a_registered_video_of_its_own_tenant(stack: Stack, media: Path) -> None:
    data = write_video(media / "drive.mp4", seconds=0.4, size=32)
    with _client(stack) as client:
        video = _upload(client, "drive.mp4", data).json()
        character = client.post(
            "/v1/characters", files={"portrait": ("a.png", SAMPLE_PORTRAIT.read_bytes())}
        ).json()
        body = {
            "character_id": character["id"],
            "driving_video_id": video["id"],
            "size": 256,
            "duration_ms": 400,
        }
        response = client.post("/v1/renders", json=body)
        assert response.status_code == 202, response.text
        job = wait_for_job(client, response.json()["id"])
        assert job["status"] == "succeeded", job
        manifest = client.get(f"/v1/renders/{job['id']}/manifest").json()
        assert manifest["request"]["driving_video_id"] == video["id"]
        unknown = client.post("/v1/renders", json=body | {"driving_video_id": "no-such-video"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "driving_video_not_found"
    with _client(stack, KEY_B) as other:
        theirs = other.post(
            "/v1/characters", files={"portrait": ("a.png", SAMPLE_PORTRAIT.read_bytes())}
        ).json()
        refused = other.post("/v1/renders", json=body | {"character_id": theirs["id"]})
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "driving_video_not_found"


def test_the_routes_are_documented(stack: Stack) -> None:
    spec = httpx.get(f"{stack.api_url}/openapi.json").json()
    assert (
        "/v1/driving-videos" in spec["paths"] and "/v1/driving-videos/{video_id}" in spec["paths"]
    )
