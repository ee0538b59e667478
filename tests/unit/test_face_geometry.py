"""LivePortrait's crop geometry: squares, roll cancelled, transforms that round-trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from producer_api.faces.geometry import (
    SOURCE_CROP,
    CropSpec,
    apply_affine,
    invert_affine,
    original_to_crop,
    square_around,
    square_around_box,
    warp,
)

PLAIN = CropSpec(scale=1.0, vx_ratio=0.0, vy_ratio=0.0, size=512)


def test_a_box_gives_an_upright_square_scaled_and_shifted_up() -> None:
    square = square_around_box(100, 50, 200, 170, SOURCE_CROP)
    side = 120 * 2.3  # the longer side, times the source scale
    assert square.side == pytest.approx(side)
    assert square.angle == pytest.approx(0.0)
    assert square.center == pytest.approx((150.0, 110.0 - 0.125 * side))


def test_the_eye_to_mouth_axis_cancels_roll() -> None:
    roll = math.radians(20)
    down = np.array([-math.sin(roll), math.cos(roll)])  # the face's "down", tilted
    across = np.array([down[1], -down[0]])
    centre = np.array([300.0, 200.0])
    points = np.array([centre + across * x + down * y for x in (-40, 40) for y in (-50, 50)])
    square = square_around(points, centre - down * 30, centre + down * 30, PLAIN)
    assert square.side == pytest.approx(100.0)
    assert square.center == pytest.approx(tuple(centre))
    # In the crop the tilted face is upright: its "down" maps to the crop's +y.
    to_crop = original_to_crop(square, PLAIN.size)
    mapped = apply_affine(to_crop, np.array([centre, centre + down * 10]))
    step = mapped[1] - mapped[0]
    assert step[0] == pytest.approx(0.0, abs=1e-9) and step[1] > 0


@pytest.mark.parametrize("roll_degrees", [0.0, 12.5, -33.0])
def test_crop_transform_round_trips_points(roll_degrees: float) -> None:
    roll = math.radians(roll_degrees)
    down = np.array([-math.sin(roll), math.cos(roll)])
    points = np.random.default_rng(3).uniform(100, 300, size=(106, 2))
    square = square_around(points, points.mean(axis=0), points.mean(axis=0) + down, SOURCE_CROP)
    to_crop = original_to_crop(square, SOURCE_CROP.size)
    to_original = invert_affine(to_crop)
    in_crop = np.random.default_rng(4).uniform(0, 512, size=(50, 2))
    assert apply_affine(to_crop, apply_affine(to_original, in_crop)) == pytest.approx(in_crop)
    assert apply_affine(to_original, apply_affine(to_crop, points)) == pytest.approx(points)
    # The crop's corners are the square's: side in original pixels, centred on it.
    corners = apply_affine(to_original, np.array([[0.0, 0.0], [512.0, 0.0], [256.0, 256.0]]))
    assert np.linalg.norm(corners[1] - corners[0]) == pytest.approx(square.side)
    assert corners[2] == pytest.approx(np.array(square.center))


def test_warp_samples_the_square() -> None:
    image = np.zeros((100, 100, 3), dtype=np.uint8)
    image[40:60, 40:60] = 255
    square = square_around_box(30, 30, 70, 70, PLAIN)
    crop = warp(image, original_to_crop(square, 40), 40)
    assert crop.shape == (40, 40, 3)
    assert crop[20, 20].tolist() == [255, 255, 255] and crop[2, 2].tolist() == [0, 0, 0]
