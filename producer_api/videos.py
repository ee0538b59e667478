"""Driving-video uploads: decoded frame by frame, to the end, before anything is stored.

Header values are only a first, cheap refusal; the facts we keep (duration, frame
count, size) come from decoding, since a header can lie. Frames are decoded one at a
time and dropped, so a long video never sits in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer
from numpy.typing import NDArray

from producer_api.driving_videos import Container, DrivingVideoFacts
from render_core.errors import InvalidInput, UnsupportedVideo, VideoTooLarge

MAX_VIDEO_BYTES = 100 * 1024 * 1024
MAX_DURATION_S = 30.0
MAX_VIDEO_SIDE = 4096
MAX_FRAME_RATE = 60
MAX_FRAMES = int(MAX_DURATION_S * MAX_FRAME_RATE)
DURATION_TOLERANCE_S = 0.05
"""Room for the rounding of timestamps: a 30 s clip may end at 30.04 s."""

WEBM_CODECS = {"vp8", "vp9", "av1"}
QUICKTIME_BRAND = "qt"


def too_long(seconds: float) -> InvalidInput:
    return InvalidInput(
        f"the video lasts {seconds:.2f} s; at most {MAX_DURATION_S:g} s",
        code="video_too_long",
    )


def _container_kind(container: InputContainer, codec: str) -> Container:
    """mp4 (not QuickTime .mov) or webm (Matroska with a WebM video codec); nothing else."""
    names = set(container.format.name.split(","))
    if "mp4" in names and container.metadata.get("major_brand", "").strip() != QUICKTIME_BRAND:
        return "mp4"
    if "webm" in names and codec in WEBM_CODECS:
        return "webm"
    raise UnsupportedVideo(
        f"the video is {container.format.long_name} with {codec}; send mp4 or webm"
    )


def _check_frame_size(width: int, height: int) -> None:
    if width > MAX_VIDEO_SIDE or height > MAX_VIDEO_SIDE:
        raise VideoTooLarge(f"the video is {width}x{height}; at most {MAX_VIDEO_SIDE} px a side")


def validate_driving_video(path: Path) -> DrivingVideoFacts:
    """Open, check the header, then decode every frame; raise a clear error at the first fault."""
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise UnsupportedVideo(f"the file is not a video we can open: {exc.strerror}") from exc
    with container:
        if not container.streams.video:
            raise InvalidInput("the file has no video stream", code="no_video_stream")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise UnsupportedVideo("the video stream has no codec we can decode")
        codec = stream.codec_context.name
        kind = _container_kind(container, codec)
        _check_frame_size(stream.codec_context.width, stream.codec_context.height)
        if container.duration is not None:
            claimed = container.duration / av.time_base
            if claimed > MAX_DURATION_S + DURATION_TOLERANCE_S:
                raise too_long(claimed)
        return _decode_all(container, stream, kind, codec)


@dataclass
class _Tally:
    """What decoding has seen so far; time runs from the first frame's start to the last's end."""

    count: int = 0
    width: int = 0
    height: int = 0
    first: float | None = None
    last: float = 0.0
    last_length: float = 0.0

    def add(self, frame: av.VideoFrame) -> None:
        self.count += 1
        self.width, self.height = frame.width, frame.height
        if frame.time is not None:
            self.first = frame.time if self.first is None else self.first
            self.last = frame.time
            base = frame.time_base
            self.last_length = float(frame.duration * base) if frame.duration and base else 0.0

    def seconds(self, rate: Fraction | None) -> float:
        """``rate`` (the stream's) stands in for a frame's length when frames carry none."""
        length = self.last_length or (float(1 / rate) if rate else 0.0)
        if self.first is None:
            return self.count * length
        return self.last - self.first + length


def _decode_all(
    container: InputContainer, stream: av.VideoStream, kind: Container, codec: str
) -> DrivingVideoFacts:
    stream.thread_type = "AUTO"
    rate = stream.average_rate or stream.guessed_rate
    tally = _Tally()
    try:
        for frame in container.decode(stream):
            tally.add(frame)
            _check_frame_size(tally.width, tally.height)
            if tally.count > MAX_FRAMES:
                raise InvalidInput(
                    f"the video has over {MAX_FRAMES} frames; at most {MAX_FRAME_RATE} a second",
                    code="video_too_many_frames",
                )
            if tally.seconds(rate) > MAX_DURATION_S + DURATION_TOLERANCE_S:
                raise too_long(tally.seconds(rate))
    except av.error.FFmpegError as exc:
        raise UnsupportedVideo(f"the video cannot be decoded to its end: {exc.strerror}") from exc
    if tally.count == 0:
        raise InvalidInput("the video has no frames", code="no_video_frames")
    if stream.frames and tally.count < stream.frames:
        raise UnsupportedVideo(
            f"the video is truncated: {tally.count} of its {stream.frames} frames decode"
        )
    seconds = tally.seconds(rate)
    return DrivingVideoFacts(
        container=kind,
        codec=codec,
        duration_ms=round(seconds * 1000),
        fps=round(tally.count / seconds, 3) if seconds > 0 else 0.0,
        frame_count=tally.count,
        width=tally.width,
        height=tally.height,
    )


def first_frame_rgb(path: Path) -> NDArray[np.uint8]:
    """The first frame of a video that ``validate_driving_video`` accepted, as RGB."""
    with av.open(str(path), mode="r") as container:
        for frame in container.decode(container.streams.video[0]):
            return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    raise InvalidInput("the video has no frames", code="no_video_frames")
