"""Which detector a process uses: LivePortrait's ONNX bundle when installed, else the cascade."""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

from producer_api.faces.candidates import FaceDetector
from producer_api.faces.cascade_detector import CascadeFaceDetector
from render_core.errors import ConfigurationError

DETECTOR_FILE = Path("insightface/models/buffalo_l/det_10g.onnx")
LANDMARK_FILE = Path("insightface/models/buffalo_l/2d106det.onnx")


@functools.cache
def load_face_detector(models_dir: Path) -> FaceDetector:
    """Once per process and directory. A half-installed bundle is an error, not a fallback."""
    detector, landmarker = models_dir / DETECTOR_FILE, models_dir / LANDMARK_FILE
    if not detector.exists() and not landmarker.exists():
        return CascadeFaceDetector()
    if not (detector.is_file() and landmarker.is_file()):
        raise ConfigurationError(
            f"the face model bundle in {models_dir} is incomplete: "
            f"need both {DETECTOR_FILE} and {LANDMARK_FILE}",
            code="face_models_invalid",
        )
    # Imported here so that processes without the bundle never load onnxruntime.
    onnx_detector = importlib.import_module("producer_api.faces.onnx_detector")
    onnx: FaceDetector = onnx_detector.OnnxFaceDetector(detector, landmarker)
    return onnx
