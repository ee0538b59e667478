"""What registration stores about a portrait's face (pure data: no detector imports)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FaceBox(BaseModel):
    """An axis-aligned box in the portrait's pixels."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def area(self) -> float:
        return max(0.0, self.right - self.left) * max(0.0, self.bottom - self.top)


class DetectedFace(BaseModel):
    """The face a detector chose: what the API shows."""

    box: FaceBox
    score: float = Field(ge=0.0, le=1.0, description="Detector confidence (1 when it has none).")
    detector: str = Field(description="Which detector found it.")


class FaceRegion(DetectedFace):
    """The face plus the square crop a renderer animates, computed once per character.

    ``crop_to_original`` maps crop pixels (``crop_size`` a side) to portrait pixels; it is
    also all that paste-back needs: the mask template warped by it onto the portrait.
    """

    crop_size: int = Field(description="Side of the crop in crop pixels.")
    crop_side: float = Field(gt=0, description="Side of the crop in portrait pixels.")
    crop_to_original: list[list[float]] = Field(
        min_length=2, max_length=2, description="2x3 affine matrix, crop to portrait pixels."
    )
