"""Keypoint maths against ``keypoints.npz``, from the stored heads of ``motion_extractor.npz``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.liveportrait.conftest import assert_close_to_golden, golden
from workers.renderers.liveportrait.keypoints import (
    MotionState,
    bins_to_degrees,
    decode_motion,
    relative_motion,
    rotation_matrix,
    transform_keypoints,
)

IMAGES = ("source", "driving0", "driving1")
HEADS = ("pitch", "yaw", "roll", "t", "exp", "scale", "kp")
SIZES = ("", "s128_")


def stored_motion(prefix: str, image: str) -> MotionState:
    stored = golden("motion_extractor")
    return decode_motion(
        {head: torch.from_numpy(stored[f"{prefix}{image}_{head}"]) for head in HEADS}
    )


@pytest.mark.parametrize("prefix", SIZES)
@pytest.mark.parametrize("image", IMAGES)
def test_decoded_pose_and_terms_match_golden(prefix: str, image: str) -> None:
    state = stored_motion(prefix, image)
    name = f"{prefix}{image}"
    for angle in ("pitch", "yaw", "roll"):
        assert_close_to_golden(getattr(state, angle), "keypoints", f"{name}_{angle}_deg")
    for term in ("kp", "exp", "t", "scale"):
        assert_close_to_golden(getattr(state, term), "keypoints", f"{name}_{term}")
    assert_close_to_golden(state.rotation, "keypoints", f"{name}_R")


@pytest.mark.parametrize("prefix", SIZES)
def test_own_keypoint_transforms_match_golden(prefix: str) -> None:
    assert_close_to_golden(
        transform_keypoints(stored_motion(prefix, "source")), "keypoints", f"{prefix}x_s"
    )
    assert_close_to_golden(
        transform_keypoints(stored_motion(prefix, "driving0")),
        "keypoints",
        f"{prefix}driving0_x_own",
    )


@pytest.mark.parametrize("prefix", SIZES)
def test_relative_motion_matches_golden(prefix: str) -> None:
    driven = relative_motion(
        stored_motion(prefix, "source"),
        stored_motion(prefix, "driving0"),
        stored_motion(prefix, "driving1"),
    )
    assert_close_to_golden(driven.rotation, "keypoints", f"{prefix}drive_R_new")
    assert_close_to_golden(driven.delta, "keypoints", f"{prefix}drive_delta_new")
    assert_close_to_golden(driven.scale, "keypoints", f"{prefix}drive_scale_new")
    assert_close_to_golden(driven.t, "keypoints", f"{prefix}drive_t_new")
    assert_close_to_golden(driven.keypoints, "keypoints", f"{prefix}drive_x_d")


def test_rotation_sweep_matches_golden() -> None:
    angles = torch.from_numpy(golden("keypoints")["rot_angles_deg"])
    rotations = rotation_matrix(angles[:, 0], angles[:, 1], angles[:, 2])
    assert_close_to_golden(rotations, "keypoints", "rot_R")


def test_rotations_are_orthonormal() -> None:
    angles = torch.from_numpy(golden("keypoints")["rot_angles_deg"])
    rotations = rotation_matrix(angles[:, 0], angles[:, 1], angles[:, 2])
    identity = torch.eye(3).expand_as(rotations)
    torch.testing.assert_close(rotations @ rotations.transpose(-1, -2), identity, atol=1e-6, rtol=0)


def test_fixed_bin_logits_decode_to_golden_degrees() -> None:
    logits = torch.from_numpy(golden("keypoints")["bins_logits"])
    assert_close_to_golden(bins_to_degrees(logits), "keypoints", "bins_deg")


def test_relative_motion_batches_frames_like_single_frames() -> None:
    """A batch of driving frames gives, frame by frame, what each frame gives alone."""
    source = stored_motion("", "source")
    reference = stored_motion("", "driving0")
    frames = [stored_motion("", "driving1"), stored_motion("", "driving0")]
    stored = golden("motion_extractor")
    batch = decode_motion(
        {
            head: torch.from_numpy(
                np.concatenate([stored[f"driving1_{head}"], stored[f"driving0_{head}"]])
            )
            for head in HEADS
        }
    )
    batched = relative_motion(source, reference, batch).keypoints
    assert batched.shape == (2, 21, 3)
    for index, frame in enumerate(frames):
        alone = relative_motion(source, reference, frame).keypoints
        torch.testing.assert_close(batched[index : index + 1], alone, atol=1e-6, rtol=0)
    # driving with the reference frame itself leaves the source pose and expression unchanged
    still = batched[1:2]
    source_in_plane = transform_keypoints(source)
    torch.testing.assert_close(still, source_in_plane, atol=1e-5, rtol=0)
