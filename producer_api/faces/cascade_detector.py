"""The detector that needs no downloaded model: scikit-image's bundled LBP face cascade.

OpenCV 5 moved its Haar cascades out of the main package (``cv2.data`` is empty and
``CascadeClassifier`` is gone), so the frontal-face LBP cascade that scikit-image ships
is the fallback. It finds upright frontal faces, gives no confidence and no landmarks.
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image
from skimage.data import lbp_frontal_face_cascade_filename
from skimage.feature import Cascade

from producer_api.faces.candidates import RGB, FaceCandidate
from render_core.face_region import FaceBox

DETECTION_SIDE = 640
"""Larger portraits are searched at this longer side: faces worth animating stay big enough."""
MIN_FACE_FRACTION = 1 / 10
SCALE_STEP = 1.2


class CascadeFaceDetector:
    name = "lbp-cascade"

    def __init__(self) -> None:
        self.cascade = Cascade(lbp_frontal_face_cascade_filename())  # type: ignore[no-untyped-call]
        self.lock = threading.Lock()  # the cascade keeps scratch state; API threads share it

    def detect(self, rgb: RGB) -> list[FaceCandidate]:
        height, width = rgb.shape[:2]
        shrink = min(1.0, DETECTION_SIDE / max(height, width))
        gray = Image.fromarray(rgb).convert("L")
        if shrink < 1.0:
            size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
            gray = gray.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(gray, dtype=np.float64) / 255.0
        smallest = max(24, round(min(pixels.shape) * MIN_FACE_FRACTION))
        with self.lock:
            found = self.cascade.detect_multi_scale(
                img=pixels,
                scale_factor=SCALE_STEP,
                step_ratio=1,
                min_size=(smallest, smallest),
                max_size=pixels.shape,
            )
        return [
            FaceCandidate(
                box=FaceBox(
                    left=f["c"] / shrink,
                    top=f["r"] / shrink,
                    right=(f["c"] + f["width"]) / shrink,
                    bottom=(f["r"] + f["height"]) / shrink,
                ),
                score=1.0,
            )
            for f in found
        ]
