"""Paste-back against ``pipeline.npz`` and against OpenCV for a general affine."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tests.liveportrait.conftest import (
    assert_close_to_golden,
    assert_image_matches_golden,
    golden,
)
from workers.renderers.liveportrait.pasteback import paste_back, prepare_paste_back


def test_pasteback_matches_golden() -> None:
    inputs, pipeline = golden("inputs"), golden("pipeline")
    plan = prepare_paste_back(
        torch.from_numpy(inputs["astronaut_full"]),
        torch.from_numpy(inputs["mask_crop_u8"]),
        torch.from_numpy(pipeline["pasteback_M_c2o"]),
    )
    assert_close_to_golden(plan.mask.expand(-1, -1, 3), "pipeline", "pasteback_mask_ori")
    pasted = paste_back(torch.from_numpy(pipeline["drive_out_u8"])[None], plan)
    assert_image_matches_golden(pasted[0].numpy(), "pipeline", "pasteback_out_u8")


def opencv_paste_back(
    frame: np.ndarray, original: np.ndarray, mask_crop: np.ndarray, crop_to_original: np.ndarray
) -> np.ndarray:
    """Upstream's CPU method, as the reference for an arbitrary affine."""
    size = (original.shape[1], original.shape[0])
    mask3 = np.repeat(mask_crop[:, :, None], 3, axis=2)
    mask = cv2.warpAffine(mask3, crop_to_original[:2], size, flags=cv2.INTER_LINEAR)
    mask = mask.astype(np.float32) / 255.0
    warped = cv2.warpAffine(frame, crop_to_original[:2], size, flags=cv2.INTER_LINEAR)
    blended: np.ndarray = np.clip(mask * warped + (1 - mask) * original, 0, 255)
    return blended.astype(np.uint8)


@pytest.mark.parametrize(
    ("angle", "scale", "shift"), [(17.0, 0.61, (40.3, 12.7)), (-5.0, 1.3, (-80.2, 3.1))]
)
def test_general_affine_matches_opencv(
    angle: float, scale: float, shift: tuple[float, float]
) -> None:
    inputs, pipeline = golden("inputs"), golden("pipeline")
    original = np.ascontiguousarray(inputs["astronaut_full"][:400, :448])
    frames = np.stack([pipeline["drive_out_u8"], pipeline["drive_out_u8"][::-1].copy()])
    rotation = cv2.getRotationMatrix2D((256.0, 256.0), angle, scale)
    crop_to_original = np.vstack([rotation, [0.0, 0.0, 1.0]]).astype(np.float32)
    crop_to_original[:2, 2] += shift
    plan = prepare_paste_back(
        torch.from_numpy(original),
        torch.from_numpy(inputs["mask_crop_u8"]),
        torch.from_numpy(crop_to_original),
    )
    pasted = paste_back(torch.from_numpy(frames), plan).numpy()
    assert pasted.shape == (2, 400, 448, 3)
    for index, frame in enumerate(frames):
        expected = opencv_paste_back(frame, original, inputs["mask_crop_u8"], crop_to_original)
        diff = np.abs(pasted[index].astype(np.int16) - expected.astype(np.int16))
        assert diff.max() <= 1, f"frame {index}: max diff {diff.max()}"
        assert (diff > 0).mean() <= 0.005, f"frame {index}: {(diff > 0).mean():.3%} differ"
    assert not np.array_equal(pasted[0], pasted[1])
    assert not np.array_equal(pasted[0], np.broadcast_to(original, pasted[0].shape))


def test_frames_of_another_size_are_rejected() -> None:
    inputs = golden("inputs")
    plan = prepare_paste_back(
        torch.from_numpy(inputs["astronaut_full"]),
        torch.from_numpy(inputs["mask_crop_u8"]),
        torch.eye(3),
    )
    with pytest.raises(ValueError, match="256"):
        paste_back(torch.zeros(1, 256, 256, 3, dtype=torch.uint8), plan)
