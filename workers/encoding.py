"""Frame and clip encoders: PNG, WebP or JPEG frames; H.264 mp4 through PyAV, streamed.

PNG, the default frame format, is written by ``workers.png`` (our writer on ISA-L's
deflate, a quarter of libpng's CPU for files of the same size).
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
from PIL import Image

from render_core.schema import FrameFormat
from workers.png import encode_png
from workers.renderer import Frame

DEFAULT_QUALITY = 90


def encode_frame(frame: Frame, frame_format: FrameFormat, quality: int | None = None) -> bytes:
    """Deterministic encoders: the same pixels always give the same bytes."""
    if frame_format == FrameFormat.png:
        return encode_png(frame)
    buffer = io.BytesIO()
    image = Image.fromarray(frame)
    if frame_format == FrameFormat.webp:
        image.save(buffer, format="WEBP", quality=quality or DEFAULT_QUALITY, method=4)
    else:
        image.save(buffer, format="JPEG", quality=quality or DEFAULT_QUALITY)
    return buffer.getvalue()


class Mp4Writer:
    """H.264, yuv420p, faststart (the index at the front, so players start before the end)."""

    def __init__(self, path: Path, fps: int, size: int) -> None:
        self.path = path
        self._container: Any = av.open(str(path), mode="w", options={"movflags": "+faststart"})
        self._stream: Any = self._container.add_stream("libx264", rate=Fraction(fps, 1))
        self._stream.width = size
        self._stream.height = size
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": "20", "preset": "veryfast"}

    def write(self, frame: Frame) -> None:
        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._container.close()
