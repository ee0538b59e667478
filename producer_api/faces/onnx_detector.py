"""Faces from LivePortrait's ONNX bundle: SCRFD boxes refined by 106 landmarks.

Imported only when the bundle is installed, so a process without it never loads
onnxruntime. CUDA runs the models when onnxruntime offers it, else the CPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime

from producer_api.faces import landmarks, scrfd
from producer_api.faces.candidates import RGB, FaceCandidate
from producer_api.faces.geometry import warp
from render_core.errors import ConfigurationError

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def open_session(path: Path) -> onnxruntime.InferenceSession:
    """A session on the best provider; a missing or unreadable file names itself."""
    if not path.is_file():
        raise ConfigurationError(f"face model {path} is missing", code="face_models_invalid")
    available = onnxruntime.get_available_providers()
    providers = [p for p in PREFERRED_PROVIDERS if p in available]
    try:
        return onnxruntime.InferenceSession(str(path), providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ConfigurationError(
            f"face model {path} cannot be loaded (corrupt or not ONNX): {exc}",
            code="face_models_invalid",
        ) from exc


class OnnxFaceDetector:
    name = "insightface-scrfd-2d106"

    def __init__(self, detector_path: Path, landmark_path: Path) -> None:
        self.detector = open_session(detector_path)
        self.landmarker = open_session(landmark_path)

    def detect(self, rgb: RGB) -> list[FaceCandidate]:
        height, width = rgb.shape[:2]
        new_width, new_height, scale = scrfd.letterbox_size(height, width)
        resize = np.array([[new_width / width, 0.0, 0.0], [0.0, new_height / height, 0.0]])
        square = warp(rgb, resize, scrfd.INPUT_SIZE)  # top-left aligned, black beyond
        inputs = {self.detector.get_inputs()[0].name: scrfd.input_blob(square)}
        faces = scrfd.decode(self.detector.run(None, inputs), scale)
        return [self._with_landmarks(rgb, face) for face in faces]

    def _with_landmarks(self, rgb: RGB, face: FaceCandidate) -> FaceCandidate:
        transform = landmarks.original_to_input(face.box)
        crop = warp(rgb, transform, landmarks.INPUT_SIZE)
        inputs = {self.landmarker.get_inputs()[0].name: landmarks.input_blob(crop)}
        points = landmarks.decode(self.landmarker.run(None, inputs)[0], transform)
        return FaceCandidate(box=face.box, score=face.score, landmarks=points)
