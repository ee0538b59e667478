"""The crop the networks see: the registered face crop, or the centred square without one."""

from __future__ import annotations

import numpy as np

from render_core.face_region import FaceBox, FaceRegion
from render_core.schema import Character
from workers.renderers.liveportrait.source_crop import centred_square_crop, source_crop


def portrait(height: int = 640, width: int = 512) -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return np.repeat(np.repeat(noise, 8, axis=0), 8, axis=1)


def character(face: FaceRegion | None) -> Character:
    return Character(
        id="c",
        tenant="t",
        name=None,
        width=512,
        height=640,
        portrait_key="k",
        portrait_sha256="0" * 64,
        face=face,
    )


def test_centred_square_maps_crop_pixels_to_the_portrait() -> None:
    crop = centred_square_crop(portrait(), 128)
    assert crop.image.shape == (128, 128, 3)
    # 512 px square starting at row 64, shrunk 4x: crop pixel centres sit on 4x4 blocks.
    corner = crop.crop_to_original @ np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(corner[:2], [1.5, 64 + 1.5])
    far = crop.crop_to_original @ np.array([127.0, 127.0, 1.0])
    np.testing.assert_allclose(far[:2], [509.5, 64 + 509.5])


def test_without_a_face_the_centred_square_is_used() -> None:
    image = portrait()
    plain = centred_square_crop(image, 128)
    chosen = source_crop(character(None), image, 128)
    np.testing.assert_array_equal(chosen.image, plain.image)


def test_the_registered_face_crop_is_warped_then_shrunk() -> None:
    image = portrait()
    # A face crop that is exactly the centred square: same pixels, same placement.
    face = FaceRegion(
        box=FaceBox(left=100, top=200, right=400, bottom=500),
        score=0.9,
        detector="test",
        crop_size=512,
        crop_side=512.0,
        crop_to_original=[[1.0, 0.0, 0.0], [0.0, 1.0, 64.0]],
    )
    warped = source_crop(character(face), image, 128)
    plain = centred_square_crop(image, 128)
    np.testing.assert_allclose(warped.crop_to_original, plain.crop_to_original)
    diff = np.abs(warped.image.astype(int) - plain.image.astype(int))
    assert diff.max() <= 1
