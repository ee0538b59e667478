"""The emotion catalogue: the names, defaults and ranges that both sides agree on.

How a renderer moves the face is its own business; this module only fixes what a
client may ask for.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

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

# The one table of fine-control ranges: the request validation (``FineControls``) and the
# renderers' clamps both read it, so a value the API accepts is a value that is rendered.
# Expression controls are unitless; head angles are relative degrees.
CONTROL_RANGES: dict[str, tuple[float, float]] = {
    "smile": (-1.0, 1.0),
    "eyebrow": (-1.0, 1.0),
    "eye_open": (-1.0, 1.0),
    "mouth_open": (0.0, 1.0),
    "head_pitch": (-20.0, 20.0),
    "head_yaw": (-30.0, 30.0),
    "head_roll": (-20.0, 20.0),
}


def _control(name: str, description: str) -> Any:
    """An optional control field bounded by its row of ``CONTROL_RANGES``."""
    low, high = CONTROL_RANGES[name]
    return Field(None, ge=low, le=high, strict=True, allow_inf_nan=False, description=description)


class FineControls(BaseModel):
    """Optional refinements added on top of the emotion preset (or alone, with ``neutral``).

    Expression controls are unitless in -1..1 (``mouth_open`` 0..1) and scale the
    renderer's expression editor at its full range; head angles are in degrees.
    """

    model_config = ConfigDict(extra="forbid")

    smile: float | None = _control("smile", "Frown (-1) to smile (1).")
    eyebrow: float | None = _control("eyebrow", "Lowered to raised.")
    eye_open: float | None = _control("eye_open", "Closed to wide open.")
    mouth_open: float | None = _control("mouth_open", "Closed to open.")
    head_pitch: float | None = _control("head_pitch", "Degrees, nod.")
    head_yaw: float | None = _control("head_yaw", "Degrees, turn.")
    head_roll: float | None = _control("head_roll", "Degrees, tilt.")

    def given(self) -> dict[str, float]:
        """Only the controls the client set."""
        return {name: value for name, value in self.model_dump().items() if value is not None}
