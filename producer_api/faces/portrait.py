"""From a portrait to the face region stored with its character."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from producer_api.faces.candidates import RGB, FaceCandidate, FaceDetector
from producer_api.faces.geometry import (
    SOURCE_CROP,
    CropSpec,
    CropSquare,
    invert_affine,
    original_to_crop,
    square_around,
    square_around_box,
)
from producer_api.faces.landmarks import eye_and_mouth_centres
from render_core.errors import NoFaceFound
from render_core.face_region import FaceRegion


def decode_rgb(png: bytes) -> RGB:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def crop_square(face: FaceCandidate, spec: CropSpec = SOURCE_CROP) -> CropSquare:
    """From the landmarks when there are some (roll cancelled), else from the box (upright)."""
    if face.landmarks is not None:
        eyes, mouth = eye_and_mouth_centres(face.landmarks)
        return square_around(face.landmarks, eyes, mouth, spec)
    box = face.box
    return square_around_box(box.left, box.top, box.right, box.bottom, spec)


def locate_face(detector: FaceDetector, rgb: RGB, spec: CropSpec = SOURCE_CROP) -> FaceRegion:
    """The largest face (as LivePortrait picks it) and its crop; refuse a faceless portrait."""
    faces = detector.detect(rgb)
    if not faces:
        raise NoFaceFound(
            "no face was found in the portrait; send a photo showing one face clearly"
        )
    face = max(faces, key=lambda f: f.box.area)
    square = crop_square(face, spec)
    to_original = invert_affine(original_to_crop(square, spec.size))
    return FaceRegion(
        box=face.box,
        score=face.score,
        detector=detector.name,
        crop_size=spec.size,
        crop_side=square.side,
        crop_to_original=to_original.tolist(),
    )
