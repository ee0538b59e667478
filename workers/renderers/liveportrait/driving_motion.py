"""The motion of a driving video: the motion extractor on each of its frames, once per video.

Frames are decoded one at a time (PyAV) and go to the extractor in small batches, so a
long video never sits in memory (upstream decodes all frames up front, its most reported
memory problem). A non-square video is cropped around the face found in its first frame at
registration (one fixed crop, stored beside the video), a square one is taken whole, as
upstream does; either is area-averaged to 256 px. The motion of every frame is saved next
to the video in storage, so later renders of it, on any worker, skip decoding and
extraction.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import av
import numpy as np
import torch
from numpy.typing import NDArray

from render_core import keys
from render_core.errors import NotFound, PermanentRenderError
from render_core.face_region import FaceRegion
from render_core.storage import ObjectStore
from workers.renderers.liveportrait.keypoints import MotionState
from workers.renderers.liveportrait.motion_arrays import (
    MOTION_FIELDS,
    Arrays,
    motion_from_arrays,
    motion_to_arrays,
)
from workers.renderers.liveportrait.npz_cache import NpzCache
from workers.renderers.liveportrait.source_crop import centred_square_crop, face_crop

DRIVING_SIDE = 256
EXTRACT_BATCH = 16
CONTAINERS = ("mp4", "webm")
MEMORY_CAPACITY = 8

ExtractMotion = Callable[[torch.Tensor], MotionState]


@dataclass(frozen=True)
class DrivingMotion:
    """Per-frame motion of a whole video (batch = its frames) and its frame rate."""

    motion: MotionState
    fps: float

    @property
    def frame_count(self) -> int:
        return int(self.motion.kp.shape[0])

    @property
    def reference(self) -> MotionState:
        """The first frame: motion is taken relative to it."""
        return self._rows(torch.zeros(1, dtype=torch.long))

    def at(self, indices: range, clip_fps: int) -> MotionState:
        """The video frame shown at each clip frame's time, looping past the video's end."""
        times = np.arange(indices.start, indices.stop, dtype=np.float64) / clip_fps
        rows = np.floor(times * self.fps + 1e-6).astype(np.int64) % self.frame_count
        return self._rows(torch.from_numpy(rows))

    def _rows(self, rows: torch.Tensor) -> MotionState:
        picked = {
            name: getattr(self.motion, name)[rows.to(self.motion.kp.device)]
            for name in MOTION_FIELDS
        }
        return MotionState(**picked)


def cache_key(video_id: str, fingerprint: str) -> str:
    return f"{keys.driving_video_cache_prefix(video_id, 'liveportrait')}{fingerprint}.npz"


def _concatenate(parts: list[MotionState]) -> MotionState:
    return MotionState(
        **{name: torch.cat([getattr(p, name) for p in parts]) for name in MOTION_FIELDS}
    )


def extract_video_motion(
    path: Path, extract: ExtractMotion, face: FaceRegion | None = None
) -> DrivingMotion:
    """Decode ``path`` frame by frame, cropped to ``face`` (else its centred square);
    ``extract`` turns (B, 256, 256, 3) uint8 into motion."""
    parts: list[MotionState] = []
    batch: list[NDArray[np.uint8]] = []
    try:
        with av.open(str(path), mode="r") as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            for frame in container.decode(stream):
                rgb = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
                crop = (
                    face_crop(rgb, face, DRIVING_SIDE)
                    if face is not None
                    else centred_square_crop(rgb, DRIVING_SIDE)
                )
                batch.append(crop.image)
                if len(batch) == EXTRACT_BATCH:
                    parts.append(extract(torch.from_numpy(np.stack(batch))))
                    batch = []
    except av.error.FFmpegError as exc:
        raise PermanentRenderError(f"driving video {path.name} cannot be decoded: {exc}") from exc
    if batch:
        parts.append(extract(torch.from_numpy(np.stack(batch))))
    if not parts:
        raise PermanentRenderError(f"driving video {path.name} has no frames")
    return DrivingMotion(_concatenate(parts), float(rate) if rate else 25.0)


def _to_arrays(motion: DrivingMotion) -> Arrays:
    return {"fps": np.array(motion.fps), **motion_to_arrays(motion.motion)}


def _from_arrays(arrays: np.lib.npyio.NpzFile, device: torch.device) -> DrivingMotion:
    return DrivingMotion(motion_from_arrays(arrays, device), float(arrays["fps"]))


class DrivingMotionCache:
    """Recent videos' motion in device memory, all of it in storage beside each video (an
    ``NpzCache`` keyed by video id)."""

    def __init__(self, store: ObjectStore, fingerprint: str, device: torch.device) -> None:
        self.store = store
        self.fingerprint = fingerprint
        self._cache: NpzCache[str, DrivingMotion] = NpzCache(
            store,
            MEMORY_CAPACITY,
            storage_key=lambda video_id: cache_key(video_id, fingerprint),
            to_arrays=_to_arrays,
            from_arrays=partial(_from_arrays, device=device),
            what="driving motion",
        )

    def get(self, video_id: str, extract: ExtractMotion) -> DrivingMotion:
        """The video's motion, extracted (and cached) when no cache has it."""
        motion = self._cache.get(video_id)
        if motion is None:
            motion = self._extract(video_id, extract)
            self._cache.put(video_id, motion)
        return motion

    def _video_key(self, video_id: str) -> str:
        for container in CONTAINERS:
            key = keys.driving_video_key(video_id, container)
            if self.store.exists(key):
                return key
        raise PermanentRenderError(
            f"driving video {video_id} is not in storage", code="driving_video_not_found"
        )

    def _extract(self, video_id: str, extract: ExtractMotion) -> DrivingMotion:
        key = self._video_key(video_id)
        face = self._face(video_id)
        with tempfile.TemporaryDirectory(prefix="driving-") as tmp:
            path = Path(tmp) / key.rsplit("/", 1)[-1]
            with path.open("wb") as file:
                for chunk in self.store.iter_chunks(key):
                    file.write(chunk)
            return extract_video_motion(path, extract, face)

    def _face(self, video_id: str) -> FaceRegion | None:
        try:
            data = self.store.get_bytes(keys.driving_face_key(video_id))
        except NotFound:
            return None  # a square video, used whole
        return FaceRegion.model_validate_json(data)
