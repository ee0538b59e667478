"""Post-processing of the ONNX face models, on synthetic network outputs."""

from __future__ import annotations

import numpy as np
import pytest

from producer_api.faces import landmarks, scrfd
from producer_api.faces.geometry import apply_affine
from render_core.face_region import FaceBox


def _empty_outputs() -> list[np.ndarray]:
    """Nine outputs as det_10g answers them: scores, box distances, keypoints per stride."""
    counts = [(scrfd.INPUT_SIZE // s) ** 2 * scrfd.ANCHORS_PER_CELL for s in scrfd.STRIDES]
    return (
        [np.zeros((n, 1), np.float32) for n in counts]
        + [np.zeros((n, 4), np.float32) for n in counts]
        + [np.zeros((n, 10), np.float32) for n in counts]
    )


def _anchor_index(level: int, x_cell: int, y_cell: int, anchor: int = 0) -> int:
    cols = scrfd.INPUT_SIZE // scrfd.STRIDES[level]
    return (y_cell * cols + x_cell) * scrfd.ANCHORS_PER_CELL + anchor


def _place(outputs: list[np.ndarray], level: int, cell: tuple[int, int], score: float,
           distances: tuple[float, float, float, float], anchor: int = 0) -> None:  # fmt: skip
    index = _anchor_index(level, *cell, anchor)
    outputs[level][index] = score
    outputs[level + 3][index] = distances


def test_anchor_centres_run_row_by_row_with_two_anchors_per_cell() -> None:
    centres = scrfd.anchor_centres(2, 3, 8)
    assert centres.tolist() == [
        [0, 0], [0, 0], [8, 0], [8, 0], [16, 0], [16, 0],
        [0, 8], [0, 8], [8, 8], [8, 8], [16, 8], [16, 8],
    ]  # fmt: skip


def test_letterbox_keeps_the_aspect_and_aligns_top_left() -> None:
    assert scrfd.letterbox_size(1000, 500) == (256, 512, 0.512)
    assert scrfd.letterbox_size(300, 600) == (512, 256, 256 / 300)


def test_a_box_is_decoded_from_its_anchor_in_stride_units_and_scaled_back() -> None:
    outputs = _empty_outputs()
    # stride 16, cell (10, 6): anchor centre (160, 96); distances 2, 3, 4, 5 strides.
    _place(outputs, 1, (10, 6), 0.9, (2, 3, 4, 5), anchor=1)
    (face,) = scrfd.decode(outputs, scale=0.5)
    assert face.score == pytest.approx(0.9)
    assert face.box == FaceBox(left=256.0, top=96.0, right=448.0, bottom=352.0)
    assert face.landmarks is None


def test_scores_below_the_threshold_are_dropped() -> None:
    outputs = _empty_outputs()
    _place(outputs, 0, (5, 5), scrfd.MIN_SCORE - 0.01, (4, 4, 4, 4))
    assert scrfd.decode(outputs, scale=1.0) == []


def test_overlapping_boxes_keep_the_best_and_separate_faces_both_stay() -> None:
    outputs = _empty_outputs()
    _place(outputs, 2, (4, 4), 0.8, (1, 1, 1, 1))  # (96, 96)-(160, 160)
    _place(outputs, 2, (4, 4), 0.95, (1, 1, 1.1, 1.1), anchor=1)  # nearly the same box
    _place(outputs, 0, (50, 50), 0.7, (2, 2, 2, 2))  # (384, 384)-(416, 416)
    faces = scrfd.decode(outputs, scale=1.0)
    assert [round(f.score, 2) for f in faces] == [0.95, 0.7]


def test_a_model_with_other_outputs_is_refused() -> None:
    with pytest.raises(ValueError, match="9 outputs"):
        scrfd.decode(_empty_outputs()[:6], scale=1.0)


def test_input_blobs_are_nchw() -> None:
    image = np.full((512, 512, 3), 255, np.uint8)
    blob = scrfd.input_blob(image)
    assert blob.shape == (1, 3, 512, 512) and blob.max() == pytest.approx(127.5 / 128)
    assert landmarks.input_blob(image[:192, :192]).max() == 255.0


def test_landmarks_map_back_from_the_model_square() -> None:
    box = FaceBox(left=100, top=200, right=180, bottom=300)  # centre (140, 250), longer side 100
    transform = landmarks.original_to_input(box)
    assert apply_affine(transform, np.array([[140.0, 250.0]]))[0] == pytest.approx([96.0, 96.0])
    prediction = np.zeros((1, 212), np.float32)
    prediction[0, :2] = (-1.0, -1.0)  # the model square's top-left corner
    points = landmarks.decode(prediction, transform)
    assert points.shape == (106, 2)
    assert points[0] == pytest.approx([140 - 75, 250 - 75])  # 1.5 x 100 a side
    assert points[1] == pytest.approx([140, 250])  # 0 is the centre


def test_too_few_landmarks_are_refused() -> None:
    transform = landmarks.original_to_input(FaceBox(left=0, top=0, right=10, bottom=10))
    with pytest.raises(ValueError, match="106"):
        landmarks.decode(np.zeros((1, 10), np.float32), transform)
