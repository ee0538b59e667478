"""Driving-video validation on real files: decoded to the end, limits from module constants."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi import UploadFile

from producer_api import videos
from producer_api.routes import driving_videos as route
from render_core.errors import RenderServiceError, UnsupportedVideo, VideoTooLarge
from tests.videos import write_audio_only, write_streamed_webm, write_video


def _refusal(path: Path) -> tuple[int, str]:
    with pytest.raises(RenderServiceError) as caught:
        videos.validate_driving_video(path)
    return caught.value.http_status, caught.value.code


@pytest.mark.parametrize(("name", "codec"), [("a.mp4", "libx264"), ("a.webm", "libvpx"),
                                             ("b.webm", "libvpx-vp9")])  # fmt: skip
def test_mp4_and_webm_are_measured_by_decoding(tmp_path: Path, name: str, codec: str) -> None:
    path = tmp_path / name
    write_video(path, seconds=1.0, fps=25, size=64, codec=codec)
    facts = videos.validate_driving_video(path)
    assert facts.container == name.rsplit(".", 1)[1]
    assert (facts.frame_count, facts.width, facts.height) == (25, 64, 64)
    assert facts.duration_ms == 1000 and facts.fps == pytest.approx(25.0)


def test_a_video_over_the_duration_is_refused(tmp_path: Path) -> None:
    write_video(tmp_path / "long.mp4", seconds=31, fps=5, size=32)
    assert _refusal(tmp_path / "long.mp4") == (422, "video_too_long")


def test_decoding_measures_a_video_whose_header_states_no_duration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "live.webm"
    write_streamed_webm(path, seconds=2.0, fps=10)
    facts = videos.validate_driving_video(path)
    assert (facts.duration_ms, facts.frame_count) == (2000, 20)
    monkeypatch.setattr(videos, "MAX_DURATION_S", 1.5)
    assert _refusal(path) == (422, "video_too_long")


def test_too_many_frames_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_video(tmp_path / "fast.mp4", seconds=1.0, fps=30, size=32)
    monkeypatch.setattr(videos, "MAX_FRAMES", 20)
    assert _refusal(tmp_path / "fast.mp4") == (422, "video_too_many_frames")


def test_frames_over_the_side_limit_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_video(tmp_path / "wide.mp4", seconds=0.2, size=64)
    monkeypatch.setattr(videos, "MAX_VIDEO_SIDE", 48)
    assert _refusal(tmp_path / "wide.mp4") == (413, "video_too_large")


def test_a_truncated_mp4_is_refused(tmp_path: Path) -> None:
    data = write_video(tmp_path / "whole.mp4", options={"movflags": "faststart"})
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    assert _refusal(tmp_path / "half.mp4") == (415, "unsupported_video")
    # Without faststart the index is at the end: cut, the stream cannot even be opened.
    data = write_video(tmp_path / "plain.mp4")
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    assert _refusal(tmp_path / "cut.mp4") == (415, "unsupported_video")


def test_text_audio_and_other_containers_are_refused(tmp_path: Path) -> None:
    (tmp_path / "text.mp4").write_text("this is not a video\n")
    assert _refusal(tmp_path / "text.mp4") == (415, "unsupported_video")
    write_audio_only(tmp_path / "audio.mp4")
    assert _refusal(tmp_path / "audio.mp4") == (422, "no_video_stream")
    write_video(tmp_path / "clip.mov", seconds=0.2)  # QuickTime, not mp4
    assert _refusal(tmp_path / "clip.mov") == (415, "unsupported_video")
    write_video(tmp_path / "clip.mkv", seconds=0.2)  # Matroska with H.264 is not webm
    assert _refusal(tmp_path / "clip.mkv") == (415, "unsupported_video")


def test_the_upload_is_refused_past_the_byte_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(route, "MAX_VIDEO_BYTES", 1000)
    target = tmp_path / "spooled"
    with pytest.raises(VideoTooLarge):
        route._spool(UploadFile(io.BytesIO(b"x" * 1001)), target)
    size, _ = route._spool(UploadFile(io.BytesIO(b"x" * 1000)), target)
    assert size == 1000
    with pytest.raises(UnsupportedVideo, match="empty"):
        route._spool(UploadFile(io.BytesIO(b"")), target)
