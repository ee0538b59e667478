"""Heavy validation off the API's process: decoding a portrait or a driving video to its
end and finding the face run in a bounded pool of processes.

The event loop and the request threads only await the pool, so health checks and JSON
submissions stay quick while big uploads are checked, however much CPU and GIL those
take. The pool has ``RENDER_VALIDATION_PROCESSES`` processes, started by a fork server
(never forked from the API's threads), each with its own face detector; it is shared
by the apps of one process and rebuilt if a child dies.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from producer_api.driving_videos import DrivingVideoFacts
from producer_api.faces.candidates import FaceDetector
from producer_api.faces.geometry import DRIVING_CROP
from producer_api.faces.loading import load_face_detector
from producer_api.faces.portrait import decode_rgb, locate_face
from producer_api.portraits import Portrait, validate_portrait
from producer_api.videos import first_frame_rgb, validate_driving_video
from render_core.errors import NoFaceFound, TransientError
from render_core.face_region import FaceRegion

T = TypeVar("T")

_detector: FaceDetector | None = None  # the face detector of a pool process


def _start_child(models_dir: Path) -> None:
    global _detector
    _detector = load_face_detector(models_dir)


def _faces() -> FaceDetector:
    assert _detector is not None, "runs in a pool process, after its initializer"
    return _detector


@dataclass(frozen=True)
class CheckedPortrait:
    portrait: Portrait
    face: FaceRegion


def check_portrait(data: bytes) -> CheckedPortrait:
    """Decode completely, re-encode as RGB PNG and find the largest face (in a pool process)."""
    portrait = validate_portrait(data)
    return CheckedPortrait(portrait, locate_face(_faces(), decode_rgb(portrait.png)))


@dataclass(frozen=True)
class CheckedVideo:
    facts: DrivingVideoFacts
    face: FaceRegion | None


def check_driving_video(path: Path) -> CheckedVideo:
    """Decode to the end; a non-square video's first frame must show a face (pool process)."""
    facts = validate_driving_video(path)
    if facts.width == facts.height:
        return CheckedVideo(facts, None)  # taken as already cropped to the face
    try:
        face = locate_face(_faces(), first_frame_rgb(path), DRIVING_CROP)
    except NoFaceFound:
        raise NoFaceFound(
            "no face was found in the driving video's first frame; send a video of one face, "
            "or a square video already cropped to it"
        ) from None
    return CheckedVideo(facts, face)


_pools: dict[tuple[int, Path], ProcessPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(processes: int, models_dir: Path) -> ProcessPoolExecutor:
    with _pools_lock:
        pool = _pools.get((processes, models_dir))
        if pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            pool = ProcessPoolExecutor(
                processes, mp_context=context, initializer=_start_child, initargs=(models_dir,)
            )
            _pools[(processes, models_dir)] = pool
        return pool


def _drop(processes: int, models_dir: Path, broken: ProcessPoolExecutor) -> None:
    with _pools_lock:
        if _pools.get((processes, models_dir)) is broken:
            del _pools[(processes, models_dir)]
    broken.shutdown(wait=False, cancel_futures=True)


def shut_pools() -> None:
    """End the pool processes (the API's shutdown): a pool child blocked on its queue
    outlives its parent otherwise, and keeps the fork server alive with it."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


class HeavyWork:
    """Runs the checks above in the shared pool, for one app's settings."""

    def __init__(self, processes: int, models_dir: Path) -> None:
        self.processes = processes
        self.models_dir = models_dir

    async def run(self, check: Callable[..., T], *args: object) -> T:
        pool = _pool(self.processes, self.models_dir)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, check, *args)
        except BrokenProcessPool as exc:  # a child died (killed, out of memory): start anew
            _drop(self.processes, self.models_dir, pool)
            raise TransientError(
                "a validation process died; retry the upload", code="validation_unavailable"
            ) from exc
