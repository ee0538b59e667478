"""Pre- and post-processing of InsightFace's 106-point landmark model (``2d106det.onnx``).

The model sees a 192 square centred on the detector's box, 1.5 times its longer side,
and answers points in [-1, 1] of that square; the crop geometry is computed from them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from producer_api.faces.geometry import Affine, Points, apply_affine, invert_affine
from render_core.face_region import FaceBox

INPUT_SIZE = 192
POINTS = 106
CONTEXT = 1.5


def original_to_input(box: FaceBox) -> Affine:
    """The scale-and-shift that puts the box's centre in the middle of the model's input."""
    scale = INPUT_SIZE / (max(box.right - box.left, box.bottom - box.top) * CONTEXT)
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    half = INPUT_SIZE / 2
    return np.array([[scale, 0.0, half - scale * cx], [0.0, scale, half - scale * cy]])


def input_blob(crop: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Raw 0-255 RGB, NCHW: the model normalises inside its graph."""
    return np.ascontiguousarray(crop.astype(np.float32).transpose(2, 0, 1)[None])


def decode(prediction: NDArray[np.float32], transform: Affine) -> Points:
    """The 106 points in the original image's pixels."""
    points = np.asarray(prediction, dtype=np.float64).reshape(-1, 2)
    if points.shape[0] < POINTS:
        raise ValueError(f"the landmark model answered {points.shape[0]} points, not {POINTS}")
    in_input = (points[-POINTS:] + 1.0) * (INPUT_SIZE // 2)
    return apply_affine(invert_affine(transform), in_input)


def eye_and_mouth_centres(points: Points) -> tuple[Points, Points]:
    """Centre of both eyes and centre of the lips, for the crop's upright axis."""
    left_eye = points[[33, 35, 40, 39]].mean(axis=0)
    right_eye = points[[87, 89, 94, 93]].mean(axis=0)
    lips = (points[52] + points[61]) / 2
    return (left_eye + right_eye) / 2, lips
