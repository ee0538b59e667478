"""Decoded motion as plain numpy arrays and back: how caches store it (``.npz``, no pickles)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import torch
from numpy.typing import NDArray

from workers.renderers.liveportrait.keypoints import MotionState

MOTION_FIELDS = tuple(field.name for field in fields(MotionState))
Arrays = dict[str, NDArray[np.generic]]


def tensor_array(tensor: torch.Tensor) -> NDArray[np.generic]:
    array: NDArray[np.generic] = tensor.detach().cpu().numpy()
    return array


def motion_to_arrays(motion: MotionState, prefix: str = "motion_") -> Arrays:
    return {f"{prefix}{name}": tensor_array(getattr(motion, name)) for name in MOTION_FIELDS}


def motion_from_arrays(
    arrays: np.lib.npyio.NpzFile, device: torch.device, prefix: str = "motion_"
) -> MotionState:
    values = {
        name: torch.from_numpy(arrays[f"{prefix}{name}"]).to(device) for name in MOTION_FIELDS
    }
    return MotionState(**values)
