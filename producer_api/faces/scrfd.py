"""Post-processing of InsightFace's SCRFD detector (``det_10g.onnx``), in plain numpy.

The network sees the image letterboxed into a 512 square (top-left aligned) and, for
each of three feature strides, predicts per anchor a score, distances to the box's four
sides and five keypoints, all in units of the stride. Boxes are decoded from the anchor
centres, scaled back to the image and thinned by non-maximum suppression.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from producer_api.faces.candidates import FaceCandidate
from render_core.face_region import FaceBox

INPUT_SIZE = 512
STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2
NMS_IOU = 0.4
MIN_SCORE = 0.5
"""Upstream's cropper accepts 0.15 because it is told a face is there; registration must
refuse faceless portraits, so it keeps InsightFace's own default."""

Array = NDArray[np.float32]


def letterbox_size(height: int, width: int, size: int = INPUT_SIZE) -> tuple[int, int, float]:
    """Width and height of the image inside the square, and the scale image → square."""
    if height / width > 1:
        new_height, new_width = size, int(size * width / height)
    else:
        new_width, new_height = size, int(size * height / width)
    return new_width, new_height, new_height / height


def input_blob(letterboxed: NDArray[np.uint8]) -> Array:
    """(x - 127.5) / 128, RGB, NCHW."""
    blob = (letterboxed.astype(np.float32) - 127.5) / 128.0
    return np.ascontiguousarray(blob.transpose(2, 0, 1)[None])


def anchor_centres(rows: int, cols: int, stride: int) -> Array:
    """(x, y) of every anchor, row by row, each cell repeated once per anchor."""
    ys, xs = np.mgrid[:rows, :cols]
    centres = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centres, ANCHORS_PER_CELL, axis=0)


def non_max_suppression(boxes: Array, scores: Array, iou: float = NMS_IOU) -> list[int]:
    """Indices kept, best first; overlaps use InsightFace's inclusive (+1) pixel areas."""
    x0, y0, x1, y1 = boxes.T
    areas = (x1 - x0 + 1) * (y1 - y0 + 1)
    order = scores.argsort()[::-1]
    keep: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        width = np.maximum(0.0, np.minimum(x1[best], x1[rest]) - np.maximum(x0[best], x0[rest]) + 1)
        height = np.maximum(
            0.0, np.minimum(y1[best], y1[rest]) - np.maximum(y0[best], y0[rest]) + 1
        )
        overlap = width * height / (areas[best] + areas[rest] - width * height)
        order = rest[overlap <= iou]
    return keep


def decode(
    outputs: Sequence[NDArray[np.float32]],
    scale: float,
    threshold: float = MIN_SCORE,
    input_size: int = INPUT_SIZE,
) -> list[FaceCandidate]:
    """Faces from the nine outputs (scores, box distances, keypoints; per stride)."""
    if len(outputs) != 3 * len(STRIDES):
        raise ValueError(f"SCRFD with keypoints has 9 outputs, this model has {len(outputs)}")
    all_boxes, all_scores = [], []
    for level, stride in enumerate(STRIDES):
        side = input_size // stride
        centres = anchor_centres(side, side, stride)
        scores = np.asarray(outputs[level], dtype=np.float32).reshape(-1)
        distances = np.asarray(outputs[level + len(STRIDES)], dtype=np.float32).reshape(-1, 4)
        if scores.shape[0] != centres.shape[0] or distances.shape[0] != centres.shape[0]:
            raise ValueError(f"SCRFD stride {stride}: expected {centres.shape[0]} anchors")
        distances = distances * stride
        boxes = np.concatenate([centres - distances[:, :2], centres + distances[:, 2:]], axis=1)
        chosen = scores >= threshold
        all_boxes.append(boxes[chosen])
        all_scores.append(scores[chosen])
    boxes = (np.concatenate(all_boxes) / scale).astype(np.float32)
    scores = np.concatenate(all_scores)
    return [
        FaceCandidate(box=_face_box(boxes[i]), score=float(scores[i]))
        for i in non_max_suppression(boxes, scores)
    ]


def _face_box(row: Array) -> FaceBox:
    left, top, right, bottom = (float(v) for v in row)
    return FaceBox(left=left, top=top, right=right, bottom=bottom)
