"""A render's frames as a WebRTC video track, played at the clip's fps as they are stored.

aiortc pulls frames with ``recv()``; each is read from object storage (in a thread: the
stores are blocking), decoded and paced one frame period after the previous one. When the
next frame is not stored yet the track waits for it, so a live render plays as fast as it
is made and never faster than its fps. After the last frame the track repeats it a few
times: a receiver's jitter buffer hands a frame on only when the next one arrives.
"""

from __future__ import annotations

import asyncio
import fractions
import io
import logging
import time
from typing import NoReturn

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from PIL import Image

from producer_api.live.feed import FrameFeed
from render_core.errors import RenderServiceError
from render_core.storage import ObjectStore

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000  # RTP's clock rate for video
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
# Repeats of the last frame, so every receiver shows it before the track ends.
TAIL_FRAMES = 3
PREFETCH = 3


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


class RenderTrack(MediaStreamTrack):
    """Frames ``0..frame_count-1`` of a render, in order, then ``TAIL_FRAMES`` repeats."""

    kind = "video"

    def __init__(self, feed: FrameFeed, store: ObjectStore, fps: int) -> None:
        super().__init__()
        self.feed = feed
        self.store = store
        self.period = 1.0 / fps
        self.sent = 0  # frames handed to the encoder, repeats included
        self.first_sent_at: float | None = None  # wall clock, for time-to-first-frame
        self._started: float | None = None
        self._due = 0.0
        self._last: np.ndarray | None = None
        self._loads: dict[int, asyncio.Task[np.ndarray]] = {}
        self.end_reason: str | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        index = self.sent
        if index < self.feed.frame_count:
            image = await self._frame(index)
        elif index < self.feed.frame_count + TAIL_FRAMES and self._last is not None:
            image = self._last
        else:
            self._finish("played")
        await self._pace()
        assert self._started is not None
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = round((time.monotonic() - self._started) * VIDEO_CLOCK)
        frame.time_base = TIME_BASE
        self._last = image
        self.sent += 1
        return frame

    async def _frame(self, index: int) -> np.ndarray:
        key = await self.feed.wait_for(index)
        if key is None:
            self._finish(self.feed.ended or "ended")
        try:
            image = await self._load(index, key)
        except RenderServiceError as exc:  # removed (a cancel) or storage down: stop here
            log.info("live frame %d of %s unreadable: %s", index, self.feed.render_id, exc)
            self._finish("unreadable")
        for ahead in range(index + 1, min(index + 1 + PREFETCH, self.feed.frame_count)):
            if ahead in self.feed.stored and ahead not in self._loads:
                self._loads[ahead] = asyncio.create_task(self._read(self.feed.key(ahead)))
        return image

    async def _load(self, index: int, key: str) -> np.ndarray:
        task = self._loads.pop(index, None)
        return await task if task is not None else await self._read(key)

    async def _read(self, key: str) -> np.ndarray:
        data = await asyncio.to_thread(self.store.get_bytes, key)
        return await asyncio.to_thread(decode, data)

    async def _pace(self) -> None:
        """One frame period after the previous frame (or now, after a wait for frames)."""
        now = time.monotonic()
        if self._started is None:
            self._started = now
            self.first_sent_at = time.time()
            self._due = now
        else:
            self._due = max(self._due + self.period, now)
            if self._due > now:
                await asyncio.sleep(self._due - now)

    def _finish(self, reason: str) -> NoReturn:
        """End the track: aiortc's sender stops on the error, the session closes."""
        self.end_reason = self.end_reason or reason
        for task in self._loads.values():
            task.cancel()
        self._loads.clear()
        self.stop()
        raise MediaStreamError(reason)
