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


def _homogeneous(linear: NDArray[np.float64], offset: tuple[float, float]) -> Affine:
    return np.array([[*linear[0], offset[0]], [*linear[1], offset[1]], [0.0, 0.0, 1.0]])


def rotation(angle: float) -> Affine:
    """Turn by ``angle`` radians about the origin (3x3, homogeneous)."""
    cos, sin = math.cos(angle), math.sin(angle)
    return _homogeneous(np.array([[cos, -sin], [sin, cos]]), (0.0, 0.0))


def scaling(factor: float) -> Affine:
    return _homogeneous(np.eye(2) * factor, (0.0, 0.0))


def translation(dx: float, dy: float) -> Affine:
    return _homogeneous(np.eye(2), (dx, dy))


def roll_of(top: Points, bottom: Points) -> float:
    """The face's roll: the angle that turns the image's +y onto the top-to-bottom axis
    (upright when the axis is too short to tell)."""
    down_x, down_y = np.asarray(bottom, dtype=np.float64) - np.asarray(top, dtype=np.float64)
    if math.hypot(down_x, down_y) <= 1e-3:
        return 0.0
    return math.atan2(-down_x, down_y)


def square_around(points: Points, top: Points, bottom: Points, spec: CropSpec) -> CropSquare:
    """The crop square for ``points``, upright along the axis from ``top`` to ``bottom``.

    In the face's own upright frame (the image turned back by the roll) the square is the
    points' bounding box, made square by its longer side times ``spec.scale`` and moved
    by the spec's ratios of that side; its centre is then turned back into the image.
    """
    roll = roll_of(top, bottom)
    upright = apply_affine(rotation(-roll)[:2], points)
    low, high = upright.min(axis=0), upright.max(axis=0)
    side = float((high - low).max()) * spec.scale
    shift = np.array([spec.vx_ratio, spec.vy_ratio]) * side
    centre = apply_affine(rotation(roll)[:2], ((low + high) / 2 + shift)[None, :])[0]
    return CropSquare((float(centre[0]), float(centre[1])), side, roll)


def square_around_box(
    left: float, top: float, right: float, bottom: float, spec: CropSpec
) -> CropSquare:
    """A box has no landmarks: its corners stand for them and its vertical axis for the roll."""
    corners = np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
    middle = (left + right) / 2
    return square_around(corners, np.array([middle, top]), np.array([middle, bottom]), spec)


def original_to_crop(square: CropSquare, size: int) -> Affine:
    """2x3 similarity mapping the square onto a ``size`` x ``size`` crop: its centre to the
    origin, its roll undone, its side scaled to ``size``, the origin to the crop's centre."""
    cx, cy = square.center
    half = size / 2
    composed = (
        translation(half, half)
        @ scaling(size / square.side)
        @ rotation(-square.angle)
        @ translation(-cx, -cy)
    )
    return composed[:2]


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
