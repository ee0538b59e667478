"""The emotion catalogue: the names, defaults and ranges that both sides agree on.

How a renderer moves the face is its own business; this module only fixes what a
client may ask for.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Emotion(StrEnum):
    """The seven emotions a clip can show."""

    neutral = "neutral"
    happy = "happy"
    sad = "sad"
    angry = "angry"
    surprised = "surprised"
    fearful = "fearful"
    disgusted = "disgusted"


DEFAULT_INTENSITY = 0.8


class FineControls(BaseModel):
    """Optional refinements added on top of the emotion preset (or alone, with ``neutral``).

    Expression controls are unitless in -1..1 (``mouth_open`` 0..1) and scale the
    renderer's expression editor at its full range; head angles are in degrees.
    """

    model_config = ConfigDict(extra="forbid")

    smile: float | None = Field(None, ge=-1.0, le=1.0, description="Frown (-1) to smile (1).")
    eyebrow: float | None = Field(None, ge=-1.0, le=1.0, description="Lowered to raised.")
    eye_open: float | None = Field(None, ge=-1.0, le=1.0, description="Closed to wide open.")
    mouth_open: float | None = Field(None, ge=0.0, le=1.0, description="Closed to open.")
    head_pitch: float | None = Field(None, ge=-20.0, le=20.0, description="Degrees, nod.")
    head_yaw: float | None = Field(None, ge=-30.0, le=30.0, description="Degrees, turn.")
    head_roll: float | None = Field(None, ge=-20.0, le=20.0, description="Degrees, tilt.")

    def given(self) -> dict[str, float]:
        """Only the controls the client set."""
        return {name: value for name, value in self.model_dump().items() if value is not None}
