"""Crop geometry of LivePortrait's cropper: a square around the face, roll cancelled.

The square's axis runs from the eyes' centre to the mouth's centre, so a tilted head
comes out upright; its side is the landmarks' extent along that axis times ``scale``,
and ``vy_ratio`` moves it up (negative) to keep the forehead in the crop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

Points = NDArray[np.float64]
Affine = NDArray[np.float64]


@dataclass(frozen=True)
class CropSpec:
    scale: float
    vx_ratio: float
    vy_ratio: float
    size: int


SOURCE_CROP = CropSpec(scale=2.3, vx_ratio=0.0, vy_ratio=-0.125, size=512)
"""LivePortrait's source-image crop: 2.3 times the face, shifted up an eighth, 512 px."""

DRIVING_CROP = CropSpec(scale=2.2, vx_ratio=0.0, vy_ratio=-0.1, size=512)
"""LivePortrait's driving-video crop: 2.2 times the face, shifted up a tenth, 512 px."""


@dataclass(frozen=True)
class CropSquare:
    """A square in the original image: centre, side and rotation (radians)."""

    center: tuple[float, float]
    side: float
    angle: float


def square_around(points: Points, top: Points, bottom: Points, spec: CropSpec) -> CropSquare:
    """The crop square for ``points``, upright along the axis from ``top`` to ``bottom``."""
    down = np.asarray(bottom, dtype=np.float64) - np.asarray(top, dtype=np.float64)
    length = float(np.linalg.norm(down))
    uy = down / length if length > 1e-3 else np.array([0.0, 1.0])
    ux = np.array([uy[1], -uy[0]])
    mean = points.mean(axis=0)
    rotated = (points - mean) @ np.stack([ux, uy]).T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    middle = (low + high) / 2
    side = float((high - low).max()) * spec.scale
    center = mean + ux * middle[0] + uy * middle[1]
    center = center + ux * (spec.vx_ratio * side) + uy * (spec.vy_ratio * side)
    return CropSquare((float(center[0]), float(center[1])), side, math.atan2(ux[1], ux[0]))


def square_around_box(
    left: float, top: float, right: float, bottom: float, spec: CropSpec
) -> CropSquare:
    """A box has no landmarks: its corners stand for them and its vertical axis for the roll."""
    corners = np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
    middle = (left + right) / 2
    return square_around(corners, np.array([middle, top]), np.array([middle, bottom]), spec)


def original_to_crop(square: CropSquare, size: int) -> Affine:
    """2x3 similarity mapping the square onto a ``size`` x ``size`` crop."""
    s = size / square.side
    cos, sin = math.cos(square.angle), math.sin(square.angle)
    cx, cy = square.center
    half = size / 2
    return np.array(
        [
            [s * cos, s * sin, half - s * (cos * cx + sin * cy)],
            [-s * sin, s * cos, half - s * (-sin * cx + cos * cy)],
        ]
    )


def invert_affine(matrix: Affine) -> Affine:
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    inverse: Affine = np.linalg.inv(full)[:2]
    return inverse


def apply_affine(matrix: Affine, points: Points) -> Points:
    mapped: Points = points @ matrix[:, :2].T + matrix[:, 2]
    return mapped


def warp(rgb: NDArray[np.uint8], source_to_target: Affine, size: int) -> NDArray[np.uint8]:
    """Resample ``rgb`` into a ``size`` square (bilinear, black outside the image)."""
    target_to_source = invert_affine(source_to_target)
    image = Image.fromarray(rgb).transform(
        (size, size),
        Image.Transform.AFFINE,
        data=tuple(float(v) for v in target_to_source.ravel()),
        resample=Image.Resampling.BILINEAR,
    )
    return np.asarray(image)
