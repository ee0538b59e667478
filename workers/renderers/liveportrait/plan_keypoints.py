"""Driving keypoints for planned frames: the source's own keypoints moved by a motion plan.

Upstream's editor (``expression_edit.edit_keypoints``) adds the source translation with
t_z, so even with every slider at 0 its keypoints differ from ``x_s``. Here the
translation is taken without t_z, exactly as ``x_s`` is built, so a frame whose terms are
all 0 has the keypoints ``x_s`` itself: intensity 0 renders the neutral source.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np
import torch
from numpy.typing import NDArray

from workers.renderers.liveportrait.expression_edit import SLIDER_RANGES, expression_offsets
from workers.renderers.liveportrait.keypoints import (
    NUM_KEYPOINTS,
    MotionState,
    place_keypoints,
    rotation_matrix,
    without_depth_shift,
)

# Upstream's eyelid term (applied inside vertical gaze): per unit, both upper lids move.
EYELID_TERMS = ((11, 1, -0.001), (13, 1, 0.0003), (15, 1, -0.001), (16, 1, 0.0003))


@cache
def eyelid_offsets(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(21, 3) offsets per unit of the eyelid term."""
    offsets = torch.zeros(NUM_KEYPOINTS, 3, dtype=dtype)
    for keypoint, axis, coefficient in EYELID_TERMS:
        offsets[keypoint, axis] += coefficient
    return offsets.to(device)


def planned_keypoints(
    source: MotionState, terms: Mapping[str, NDArray[np.float64]]
) -> torch.Tensor:
    """(B, 21, 3) keypoints for a batch of plan terms (each (B,)), before stitching."""
    like = source.exp

    def series(name: str) -> torch.Tensor:
        return torch.as_tensor(terms[name], dtype=like.dtype, device=like.device)

    eyelid = series("eyelid")
    batch = eyelid.shape[0]
    sliders = {name: series(name) for name in SLIDER_RANGES}
    delta = expression_offsets(sliders, like.expand(batch, -1, -1))
    delta = delta + eyelid[:, None, None] * eyelid_offsets(like.device, like.dtype)
    rotation = rotation_matrix(
        source.pitch + series("head_pitch"),
        source.yaw + series("head_yaw"),
        source.roll + series("head_roll"),
    )
    return place_keypoints(
        source.kp, rotation, source.exp + delta, source.scale, without_depth_shift(source.t)
    )
