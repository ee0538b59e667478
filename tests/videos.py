"""Small test videos made with PyAV: real encoders, real containers."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_video(
    path: Path,
    seconds: float = 1.0,
    fps: int = 25,
    size: int = 64,
    codec: str = "libx264",
    options: dict[str, str] | None = None,
) -> bytes:
    """Frames of changing noise (so they do not compress to nothing); answers the file."""
    with av.open(str(path), mode="w", options=options or {}) as container:
        _encode(container, codec, seconds, fps, size)
    return path.read_bytes()


def write_frames(path: Path, frames: list[np.ndarray], fps: int = 10) -> bytes:
    """An H.264 mp4 of the given RGB frames (even width and height); answers the file."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for pixels in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return path.read_bytes()


def portrait_on_the_right(shifts: range) -> list[np.ndarray]:
    """Wide (768 x 512) frames with the sample portrait in the right two thirds, moved
    ``shift`` pixels down in each frame: a head-and-shoulders shot, off centre."""
    from PIL import Image

    from tests.conftest import SAMPLE_PORTRAIT

    portrait = np.asarray(Image.open(SAMPLE_PORTRAIT).convert("RGB").resize((512, 512)))
    frames = []
    for shift in shifts:
        frame = np.full((512, 768, 3), 40, dtype=np.uint8)
        frame[:, 256:] = np.roll(portrait, shift, axis=0)
        frames.append(frame)
    return frames


class _Pipe:
    """A write-only sink: the muxer cannot seek back to fill in the duration."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: bytes) -> int:
        self.data += chunk
        return len(chunk)


def write_streamed_webm(path: Path, seconds: float, fps: int = 10, size: int = 32) -> bytes:
    """A webm written as a live stream: its header states no duration at all."""
    pipe = _Pipe()
    with av.open(pipe, mode="w", format="webm") as container:
        _encode(container, "libvpx", seconds, fps, size)
    path.write_bytes(pipe.data)
    return bytes(pipe.data)


def _encode(container: av.container.OutputContainer, codec: str, seconds: float, fps: int,
            size: int) -> None:  # fmt: skip
    rng = np.random.default_rng(0)
    stream = container.add_stream(codec, rate=fps)
    assert isinstance(stream, av.VideoStream)
    stream.width = stream.height = size
    stream.pix_fmt = "yuv420p"
    for _ in range(round(seconds * fps)):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
    container.mux(stream.encode())


def write_audio_only(path: Path, seconds: float = 1.0) -> bytes:
    """An mp4 holding one AAC stream and no video."""
    rate = 48_000
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=rate)
        for start in range(0, round(seconds * rate), 1024):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path.read_bytes()
