"""A driving video's motion is read from the face crop stored at registration, if any."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch

from producer_api.faces.geometry import DRIVING_CROP
from producer_api.faces.loading import load_face_detector
from producer_api.faces.portrait import locate_face
from render_core import keys
from render_core.storage import LocalStore
from tests.videos import portrait_on_the_right, write_frames
from workers.renderers.liveportrait.driving_motion import DRIVING_SIDE, DrivingMotionCache
from workers.renderers.liveportrait.keypoints import MotionState
from workers.renderers.liveportrait.source_crop import centred_square_crop, face_crop


class SeenFrames:
    """An extractor that keeps the frames it is given and answers still motion."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def __call__(self, frames: torch.Tensor) -> MotionState:
        self.frames.extend(frames.numpy())
        count = frames.shape[0]
        zeros = torch.zeros(count, 21, 3)
        return MotionState(
            pitch=torch.zeros(count),
            yaw=torch.zeros(count),
            roll=torch.zeros(count),
            rotation=torch.eye(3).expand(count, 3, 3),
            kp=zeros,
            exp=zeros,
            t=torch.zeros(count, 3),
            scale=torch.ones(count, 1),
        )


def decoded_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_a_stored_face_crop_is_what_the_extractor_sees(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "storage")
    video = tmp_path / "wide.mp4"
    write_frames(video, portrait_on_the_right(range(0, 6, 2)))
    decoded = decoded_frames(video)
    face = locate_face(load_face_detector(tmp_path), decoded[0], DRIVING_CROP)
    store.put_file(keys.driving_video_key("wide", "mp4"), video, "video/mp4")
    store.put_bytes(
        keys.driving_face_key("wide"), face.model_dump_json().encode(), "application/json"
    )
    seen = SeenFrames()

    motion = DrivingMotionCache(store, "f", torch.device("cpu")).get("wide", seen)

    assert motion.frame_count == 3 and len(seen.frames) == 3
    for frame, shown in zip(decoded, seen.frames, strict=True):
        assert shown.shape == (DRIVING_SIDE, DRIVING_SIDE, 3)
        np.testing.assert_array_equal(shown, face_crop(frame, face, DRIVING_SIDE).image)
    # One fixed crop for the whole video (no tracking): not the video's centred square.
    centred = centred_square_crop(decoded[0], DRIVING_SIDE).image
    assert np.abs(seen.frames[0].astype(int) - centred).mean() > 10


def test_a_square_video_is_used_whole(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "storage")
    video = tmp_path / "square.mp4"
    square = [frame[:, 128:640] for frame in portrait_on_the_right(range(2))]
    write_frames(video, square)
    store.put_file(keys.driving_video_key("square", "mp4"), video, "video/mp4")
    seen = SeenFrames()

    DrivingMotionCache(store, "f", torch.device("cpu")).get("square", seen)

    expected = [centred_square_crop(f, DRIVING_SIDE).image for f in decoded_frames(video)]
    np.testing.assert_array_equal(np.stack(seen.frames), np.stack(expected))
