"""Our PNG writer: any RGB frame reads back exactly, the bytes are stable, bad frames fail."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from workers.png import SIGNATURE, encode_png, up_filtered


def _decoded(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    image.load()  # reads every chunk, checking each CRC
    assert image.mode == "RGB"
    return np.asarray(image)


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 13, 3), (64, 48, 3), (512, 512, 3)])
def test_a_frame_reads_back_exactly(shape: tuple[int, int, int]) -> None:
    frame = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    data = encode_png(frame)
    assert data.startswith(SIGNATURE)
    assert np.array_equal(_decoded(data), frame)


def test_a_view_that_is_not_contiguous_is_written_as_its_pixels() -> None:
    frame = np.random.default_rng(3).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    view = frame[::2, ::3]
    assert np.array_equal(_decoded(encode_png(view)), view)


def test_the_same_pixels_give_the_same_bytes_and_flat_frames_compress() -> None:
    frame = np.full((256, 256, 3), (10, 200, 30), dtype=np.uint8)
    assert encode_png(frame) == encode_png(frame.copy())
    assert len(encode_png(frame)) < 256 * 256 * 3 / 50


def test_the_up_filter_stores_each_row_as_its_difference_from_the_one_above() -> None:
    frame = np.array([[[5, 6, 7]], [[4, 6, 9]]], dtype=np.uint8)  # 2 rows of 1 pixel
    assert up_filtered(frame) == bytes([2, 5, 6, 7, 2, 255, 0, 2])


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((4, 4, 3), dtype=np.float32),
        np.zeros((4, 4), dtype=np.uint8),
        np.zeros((4, 4, 4), dtype=np.uint8),
        np.zeros((0, 4, 3), dtype=np.uint8),
    ],
    ids=["float", "grey", "rgba", "empty"],
)
def test_a_frame_that_is_not_rgb8_is_refused(frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match="PNG frame"):
        encode_png(frame)
