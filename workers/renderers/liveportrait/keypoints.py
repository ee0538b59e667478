"""Implicit-keypoint maths: head pose from the motion heads, and where the 21 keypoints go.

Everything is batched tensor arithmetic on whatever device the tensors live on, with no
host round trips, so a whole batch of frames is placed in a few kernels (and can sit inside
a CUDA graph). Keypoints are row vectors multiplied on the right by rotation matrices,
as upstream writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

POSE_BINS = 66
DEGREES_PER_BIN = 3.0
POSE_OFFSET_DEGREES = 97.5
NUM_KEYPOINTS = 21


@dataclass(frozen=True)
class MotionState:
    """A batch of decoded motion-extractor outputs: pose in degrees and the keypoint terms."""

    pitch: torch.Tensor  # (B,) degrees
    yaw: torch.Tensor  # (B,)
    roll: torch.Tensor  # (B,)
    rotation: torch.Tensor  # (B, 3, 3)
    kp: torch.Tensor  # (B, 21, 3) canonical keypoints
    exp: torch.Tensor  # (B, 21, 3) expression offsets
    t: torch.Tensor  # (B, 3) translation
    scale: torch.Tensor  # (B, 1)


@dataclass(frozen=True)
class PlacedKeypoints:
    """The terms a driven or edited frame was built from, and its keypoints ``x_d``."""

    rotation: torch.Tensor  # (B, 3, 3)
    delta: torch.Tensor  # (B, 21, 3)
    scale: torch.Tensor  # (B, 1)
    t: torch.Tensor  # (B, 3)
    keypoints: torch.Tensor  # (B, 21, 3)


def bins_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """(B, 66) angle-bin logits to (B,) degrees: the softmax expectation over 3-degree bins."""
    centres = torch.arange(POSE_BINS, device=logits.device, dtype=logits.dtype)
    expectation = (torch.softmax(logits, dim=-1) * centres).sum(dim=-1)
    return expectation * DEGREES_PER_BIN - POSE_OFFSET_DEGREES


def rotation_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Angles in degrees, any batch shape ``S``, to ``(Rz @ Ry @ Rx)^T`` of shape ``S + (3, 3)``."""
    x, y, z = torch.deg2rad(pitch), torch.deg2rad(yaw), torch.deg2rad(roll)
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    cx, sx, cy, sy, cz, sz = x.cos(), x.sin(), y.cos(), y.sin(), z.cos(), z.sin()

    def matrix(*rows: torch.Tensor) -> torch.Tensor:
        return torch.stack(rows, dim=-1).reshape(*x.shape, 3, 3)

    about_x = matrix(one, zero, zero, zero, cx, -sx, zero, sx, cx)
    about_y = matrix(cy, zero, sy, zero, one, zero, -sy, zero, cy)
    about_z = matrix(cz, -sz, zero, sz, cz, zero, zero, zero, one)
    return (about_z @ about_y @ about_x).transpose(-1, -2)


def decode_motion(heads: Mapping[str, torch.Tensor]) -> MotionState:
    """Raw motion-extractor heads (``pitch``/``yaw``/``roll`` logits, ``t``, ``exp``,
    ``scale``, ``kp``) to pose angles, rotation and (B, 21, 3) keypoint terms."""
    pitch, yaw, roll = (bins_to_degrees(heads[name]) for name in ("pitch", "yaw", "roll"))
    batch = heads["kp"].shape[0]
    return MotionState(
        pitch=pitch,
        yaw=yaw,
        roll=roll,
        rotation=rotation_matrix(pitch, yaw, roll),
        kp=heads["kp"].reshape(batch, NUM_KEYPOINTS, 3),
        exp=heads["exp"].reshape(batch, NUM_KEYPOINTS, 3),
        t=heads["t"],
        scale=heads["scale"],
    )


def place_keypoints(
    kp: torch.Tensor,
    rotation: torch.Tensor,
    delta: torch.Tensor,
    scale: torch.Tensor,
    t: torch.Tensor,
) -> torch.Tensor:
    """``scale * (kp @ R + delta) + t``: scale (B, 1), t (B, 3) added to every keypoint."""
    return scale[..., None] * (kp @ rotation + delta) + t[..., None, :]


def without_depth_shift(t: torch.Tensor) -> torch.Tensor:
    """Translation with t_z zeroed: the driving paths move keypoints in x and y only."""
    return torch.cat([t[..., :2], torch.zeros_like(t[..., 2:])], dim=-1)


def transform_keypoints(state: MotionState) -> torch.Tensor:
    """The keypoints of an image itself (``x_s`` for the source): (B, 21, 3)."""
    return place_keypoints(
        state.kp, state.rotation, state.exp, state.scale, without_depth_shift(state.t)
    )


def relative_motion(
    source: MotionState, reference: MotionState, driving: MotionState
) -> PlacedKeypoints:
    """Upstream's default for a driving video: the source moves by driving frame minus the
    reference (first) frame, in pose, expression, scale and x/y translation.

    ``driving`` may hold a batch of frames; ``source`` and ``reference`` broadcast to it.
    """
    rotation = (driving.rotation @ reference.rotation.transpose(-1, -2)) @ source.rotation
    delta = source.exp + (driving.exp - reference.exp)
    scale = source.scale * (driving.scale / reference.scale)
    t = without_depth_shift(source.t + (driving.t - reference.t))
    keypoints = place_keypoints(source.kp, rotation, delta, scale, t)
    return PlacedKeypoints(rotation, delta, scale, t, keypoints)
