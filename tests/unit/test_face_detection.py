"""Finding the face at registration: the bundled cascade on real pictures, the ONNX bundle's
loading rules on files we make (the models themselves are not shipped here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from producer_api.faces.cascade_detector import CascadeFaceDetector
from producer_api.faces.geometry import apply_affine
from producer_api.faces.loading import DETECTOR_FILE, LANDMARK_FILE, load_face_detector
from producer_api.faces.portrait import decode_rgb, locate_face
from render_core.errors import ConfigurationError, NoFaceFound
from tests import faces


@pytest.fixture(scope="module")
def cascade() -> CascadeFaceDetector:
    return CascadeFaceDetector()


def test_the_astronaut_has_one_face_where_her_face_is(cascade: CascadeFaceDetector) -> None:
    region = locate_face(cascade, faces.rgb(faces.astronaut()))
    box = region.box
    assert len(cascade.detect(faces.rgb(faces.astronaut()))) == 1
    # Her face (brows to chin, cheek to cheek) is about x 180-270, y 80-185.
    assert 165 <= box.left <= 190 and 260 <= box.right <= 290
    assert 55 <= box.top <= 90 and 150 <= box.bottom <= 195
    assert region.detector == "lbp-cascade" and region.crop_size == 512
    # The crop is 2.3 times the box, centred on it and shifted up an eighth of its side.
    assert region.crop_side == pytest.approx(2.3 * (box.right - box.left))
    centre = apply_affine(np.array(region.crop_to_original), np.array([[256.0, 256.0]]))[0]
    assert centre[0] == pytest.approx((box.left + box.right) / 2)
    assert centre[1] == pytest.approx((box.top + box.bottom) / 2 - region.crop_side / 8)


def test_a_larger_portrait_is_searched_smaller_and_answered_in_its_own_pixels(
    cascade: CascadeFaceDetector,
) -> None:
    big = faces.astronaut().resize((1536, 1536), Image.Resampling.BICUBIC)
    box = locate_face(cascade, faces.rgb(big)).box
    assert 495 <= box.left <= 570 and 780 <= box.right <= 870


@pytest.mark.parametrize("picture", ["blank", "noise", "landscape"])
def test_no_face_is_refused(cascade: CascadeFaceDetector, picture: str) -> None:
    image = getattr(faces, picture)()
    with pytest.raises(NoFaceFound) as caught:
        locate_face(cascade, faces.rgb(image))
    assert caught.value.code == "no_face_found" and caught.value.http_status == 422


def test_of_two_faces_the_largest_is_taken(cascade: CascadeFaceDetector) -> None:
    canvas, big_left = faces.two_faces()
    assert len(cascade.detect(faces.rgb(canvas))) == 2
    box = locate_face(cascade, faces.rgb(canvas)).box
    assert box.left > big_left and box.right - box.left > 100


def test_portraits_decode_from_the_stored_png() -> None:
    pixels = decode_rgb(faces.png(faces.astronaut()))
    assert pixels.shape == (512, 512, 3) and pixels.dtype == np.uint8


def test_without_the_bundle_the_cascade_is_used(tmp_path: Path) -> None:
    assert load_face_detector(tmp_path).name == "lbp-cascade"


def _bundle(root: Path, detector: bytes | None, landmarker: bytes | None) -> Path:
    for relative, content in ((DETECTOR_FILE, detector), (LANDMARK_FILE, landmarker)):
        if content is not None:
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(content)
    return root


def test_a_corrupt_model_file_fails_clearly(tmp_path: Path) -> None:
    root = _bundle(tmp_path, b"\x08\x07not an onnx graph" * 50, b"garbage")
    with pytest.raises(ConfigurationError) as caught:
        load_face_detector(root)
    assert caught.value.code == "face_models_invalid"
    assert "det_10g.onnx" in caught.value.message and "cannot be loaded" in caught.value.message


def test_a_half_installed_bundle_fails_clearly(tmp_path: Path) -> None:
    root = _bundle(tmp_path, b"anything", None)
    with pytest.raises(ConfigurationError, match="incomplete"):
        load_face_detector(root)
