"""The square region of a portrait that the networks see, and where it sits in the portrait.

Registration stores the face's crop on the character (``Character.face``): the portrait is
warped into that crop and area-averaged down to the networks' side, as upstream does (its
crop is 512 px, then 256). Characters registered before face detection get the centred
square of the portrait. Either way the crop-to-original affine of the crop that the
networks see is kept with it, for paste-back and for cache checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from render_core.face_region import FaceRegion
from render_core.schema import Character

Affine = NDArray[np.float64]


@dataclass(frozen=True)
class SourceCrop:
    image: NDArray[np.uint8]  # (side, side, 3) RGB, the networks' input
    crop_to_original: Affine  # (3, 3) crop pixels to portrait pixels


def resized_pixels(scale: float) -> Affine:
    """Pixel centres of an image resized by ``1 / scale`` to those of the original."""
    shift = (scale - 1.0) / 2.0
    return np.array([[scale, 0.0, shift], [0.0, scale, shift], [0.0, 0.0, 1.0]])


def _area_resize(image: NDArray[np.uint8], side: int) -> NDArray[np.uint8]:
    return np.asarray(cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA), np.uint8)


def centred_square_crop(portrait: NDArray[np.uint8], side: int) -> SourceCrop:
    """The largest centred square, resized to ``side`` with area averaging."""
    height, width = portrait.shape[:2]
    extent = min(height, width)
    top, left = (height - extent) // 2, (width - extent) // 2
    square = np.ascontiguousarray(portrait[top : top + extent, left : left + extent])
    placed = np.array([[1.0, 0.0, left], [0.0, 1.0, top], [0.0, 0.0, 1.0]])
    return SourceCrop(_area_resize(square, side), placed @ resized_pixels(extent / side))


def face_crop(portrait: NDArray[np.uint8], face: FaceRegion, side: int) -> SourceCrop:
    """The registered face crop (bilinear warp, black outside), then area-averaged to ``side``."""
    to_original = np.vstack([np.asarray(face.crop_to_original, np.float64), [0.0, 0.0, 1.0]])
    crop = cv2.warpAffine(
        portrait,
        to_original[:2],
        (face.crop_size, face.crop_size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
    )
    image = _area_resize(np.asarray(crop, np.uint8), side)
    return SourceCrop(image, to_original @ resized_pixels(face.crop_size / side))


def source_crop(character: Character, portrait: NDArray[np.uint8], side: int) -> SourceCrop:
    if character.face is None:
        return centred_square_crop(portrait, side)
    return face_crop(portrait, character.face, side)
