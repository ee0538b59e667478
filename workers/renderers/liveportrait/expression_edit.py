"""Expression editing without a driving video: upstream's image-editor sliders, batched.

LivePortrait's 21 implicit keypoints behave like blendshapes: each slider adds a fixed
multiple of itself to a few coordinates of the source expression. Here every slider is a
column of one (columns, 21, 3) basis, so a batch of frames with different slider values is
edited in one matrix product on the device; emotion presets are points in this space.
Coordinates are ``[keypoint, axis]`` with axis 0 = x, 1 = y, 2 = z.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import torch

from workers.renderers.liveportrait.keypoints import (
    MotionState,
    PlacedKeypoints,
    place_keypoints,
    rotation_matrix,
)

Term = tuple[int, int, float]  # keypoint, axis, coefficient

# Terms per basis column, in upstream's order. A slider whose sign selects different terms
# (horizontal gaze, eyebrow) has one column for each sign.
_BASIS_TERMS: dict[str, tuple[Term, ...]] = {
    "eye_gaze_right": ((11, 0, 0.0007), (15, 0, 0.001)),
    "eye_gaze_left": ((11, 0, 0.001), (15, 0, 0.0007)),
    # Looking down (y < 0) also lowers the lids: upstream adds a blink of -y/2.
    "eye_gaze_y": (
        (11, 1, -0.001),
        (15, 1, -0.001),
        (11, 1, -0.001 * -0.5),
        (13, 1, 0.0003 * -0.5),
        (15, 1, -0.001 * -0.5),
        (16, 1, 0.0003 * -0.5),
    ),
    "smile": (
        (20, 1, -0.01),
        (14, 1, -0.02),
        (17, 1, 0.0065),
        (17, 2, 0.003),
        (13, 1, -0.00275),
        (16, 1, -0.00275),
        (3, 1, -0.0035),
        (7, 1, -0.0035),
    ),
    "wink": ((11, 1, 0.001), (13, 1, -0.0003), (17, 0, 0.0003), (17, 1, 0.0003), (3, 1, -0.0003)),
    "eyebrow_up": ((1, 1, 0.001), (2, 1, -0.001)),
    "eyebrow_down": ((1, 0, -0.001), (2, 0, 0.001), (1, 1, 0.0003), (2, 1, -0.0003)),
    "lip_pout": ((19, 0, 1.0),),
    "lip_purse": ((14, 1, 0.001), (3, 1, -0.0005), (7, 1, -0.0005), (17, 2, -0.0005)),
    "lip_grin": ((20, 2, -0.001), (20, 1, -0.001), (14, 1, -0.001)),
    "lip_open": ((19, 1, 0.001), (19, 2, 0.0001), (17, 1, -0.0001)),
    # Upstream's caller flips the sign of mov_x before adding it.
    "move_x": ((5, 0, -1.0),),
    "move_y": ((5, 1, 1.0),),
}

# Slider names with upstream's ranges (app.py), for callers that validate or map presets.
SLIDER_RANGES: dict[str, tuple[float, float]] = {
    "eye_gaze_x": (-30.0, 30.0),
    "eye_gaze_y": (-63.0, 63.0),
    "smile": (-0.3, 1.3),
    "wink": (0.0, 39.0),
    "eyebrow": (-30.0, 30.0),
    "lip_pout": (-0.09, 0.09),
    "lip_purse": (-20.0, 15.0),
    "lip_grin": (0.0, 15.0),
    "lip_open": (-90.0, 120.0),
    "move_x": (-0.19, 0.19),
    "move_y": (-0.19, 0.19),
}


@cache
def expression_basis(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(columns, 21, 3) offsets per unit of each basis column, built once per device."""
    basis = torch.zeros(len(_BASIS_TERMS), 21, 3, dtype=torch.float64)
    for column, terms in enumerate(_BASIS_TERMS.values()):
        for keypoint, axis, coefficient in terms:
            basis[column, keypoint, axis] += coefficient
    return basis.to(device=device, dtype=dtype)


def _columns(sliders: Mapping[str, torch.Tensor], batch: int, like: torch.Tensor) -> torch.Tensor:
    unknown = set(sliders) - set(SLIDER_RANGES)
    if unknown:
        raise ValueError(f"unknown expression sliders: {sorted(unknown)}")
    zero = torch.zeros(batch, device=like.device, dtype=like.dtype)

    def value(name: str) -> torch.Tensor:
        given = sliders.get(name)
        return zero if given is None else given.to(like).expand(batch)

    gaze_x, eyebrow = value("eye_gaze_x"), value("eyebrow")
    by_column = {
        "eye_gaze_right": gaze_x.clamp(min=0),
        "eye_gaze_left": gaze_x.clamp(max=0),
        "eyebrow_up": eyebrow.clamp(min=0),
        "eyebrow_down": eyebrow.clamp(max=0),
    }
    columns = [by_column[name] if name in by_column else value(name) for name in _BASIS_TERMS]
    return torch.stack(columns, dim=1)


def expression_offsets(sliders: Mapping[str, torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """(B, 21, 3) offsets for slider values of shape (B,) or (); ``like`` is the (B, 21, 3)
    expression they will be added to (its batch, device and dtype). Absent sliders are 0."""
    columns = _columns(sliders, like.shape[0], like)
    return torch.einsum("bc,ckd->bkd", columns, expression_basis(like.device, like.dtype))


def edit_keypoints(
    source: MotionState,
    expression_delta: torch.Tensor,
    pose_offsets_degrees: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    zoom: torch.Tensor,
) -> PlacedKeypoints:
    """Upstream's image-editing keypoints: the source turned by relative pitch/yaw/roll,
    its expression plus ``expression_delta``, zoomed (``mov_z``, shape (B,)) about the
    origin. Unlike ``x_s`` this path adds the full translation, t_z included."""
    pitch_offset, yaw_offset, roll_offset = pose_offsets_degrees
    user = rotation_matrix(
        source.pitch + pitch_offset, source.yaw + yaw_offset, source.roll + roll_offset
    )
    rotation = (user @ source.rotation.transpose(-1, -2)) @ source.rotation
    delta = source.exp + expression_delta
    scale = zoom.reshape(-1, 1) * source.scale
    keypoints = place_keypoints(source.kp, rotation, delta, scale, source.t)
    return PlacedKeypoints(rotation, delta, scale, source.t, keypoints)
