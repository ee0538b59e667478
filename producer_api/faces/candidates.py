"""What every detector returns: candidate faces in the portrait's pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from producer_api.faces.geometry import Points
from render_core.face_region import FaceBox

RGB = NDArray[np.uint8]


@dataclass(frozen=True)
class FaceCandidate:
    """One face; ``landmarks`` (106 points) when the detector finds them, else None."""

    box: FaceBox
    score: float
    landmarks: Points | None = None


class FaceDetector(Protocol):
    name: str

    def detect(self, rgb: RGB) -> list[FaceCandidate]:
        """Every face in an RGB image (H x W x 3, uint8), in no particular order."""
        ...
